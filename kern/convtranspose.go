package kern

// Transposed convolutions (ONNX's ConvTranspose): every input pixel
// scatters its channels' values, weighted by the kernel, into a window of
// the output. The fast path is the standard col2im formulation: for each
// image and group, a product of the transposed weights with the input,
//
//	Cols[(m·KH + kh)·KW + kw][p] = Σ_c w[c][m][kh][kw] · x[c][p]
//
// on the tier's Gemm, then a scatter-add of each row of Cols into the
// output window it belongs to (col2im), then the bias.

// ConvTransposeGeom is the geometry of a 2-D transposed convolution over
// NCHW data (a 1-D one is the case H = KH = OH = 1). Input x is [N, C, H,
// W], weights w are [C, M/Group, KH, KW], output y is [N, M, OH, OW]. Input
// pixel (ih, iw) and kernel tap (kh, kw) land on output pixel
//
//	oh = ih·SH - PadT + kh·DH,  ow = iw·SW - PadL + kw·DW
//
// when it lies in [0, OH) × [0, OW); contributions outside are dropped.
// OH and OW are given, not derived (ONNX's output_padding and output_shape
// choose them); PadT and PadL may be negative, which moves the input's
// footprint down and right and leaves the outputs before it at the bias.
type ConvTransposeGeom struct {
	N, C, H, W     int
	M, KH, KW      int
	OH, OW         int
	PadT, PadL     int
	SH, SW, DH, DW int
	Group          int
}

// ConvTranspose computes y = convtranspose(x, w) + b for geometry g on
// env's tier (Generic without one): the tier's own ConvTranspose when it
// has one (the reference's direct loop), else the col2im path on its Gemm.
// b may be nil. The col2im path takes its Cols matrix from
// env.Scratch[:ConvTransposeScratch(g)] when env has that much (else from a
// pool, so that callers without scratch allocate nothing in steady state);
// it leaves env.PackedW nil, which its Gemm must not read.
func ConvTranspose(env *Env, g *ConvTransposeGeom, x, w, b, y []float32) {
	if k := TierOf(env); k != nil && k.ConvTranspose != nil {
		k.ConvTranspose(env, g, x, w, b, y)
		return
	}
	convTransposeGemm(env, g, x, w, b, y)
}

// convTransposeRef is Reference.ConvTranspose: the direct definition, a
// scatter-add of every input value times every kernel tap, summed in
// float32 in order of c, ih, iw, kh, kw, the bias added last. It is the
// oracle the col2im path is tested against: keep it plain.
func convTransposeRef(_ *Env, g *ConvTransposeGeom, x, w, b, y []float32) {
	cg, mg := g.C/g.Group, g.M/g.Group
	ohw := g.OH * g.OW
	clear(y[:g.N*g.M*ohw])
	// y[n][m][oh][ow] = b[m] + Σ over c < Cg, ih, iw, kh, kw with
	//     oh = ih·SH - PadT + kh·DH,  ow = iw·SW - PadL + kw·DW
	//   of x[n][grp·Cg + c][ih][iw] · w[grp·Cg + c][m - grp·Mg][kh][kw]
	// where grp = m / Mg is the group of output channel m.
	for n := 0; n < g.N; n++ {
		for ic := 0; ic < g.C; ic++ {
			grp := ic / cg
			for ih := 0; ih < g.H; ih++ {
				for iw := 0; iw < g.W; iw++ {
					v := x[((n*g.C+ic)*g.H+ih)*g.W+iw]
					for mm := 0; mm < mg; mm++ {
						m := grp*mg + mm
						for kh := 0; kh < g.KH; kh++ {
							oh := ih*g.SH - g.PadT + kh*g.DH
							if oh < 0 || oh >= g.OH {
								continue
							}
							for kw := 0; kw < g.KW; kw++ {
								ow := iw*g.SW - g.PadL + kw*g.DW
								if ow < 0 || ow >= g.OW {
									continue
								}
								y[((n*g.M+m)*g.OH+oh)*g.OW+ow] += v * w[((ic*mg+mm)*g.KH+kh)*g.KW+kw]
							}
						}
					}
				}
			}
		}
	}
	if b == nil {
		return
	}
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.M; m++ {
			yp := y[(n*g.M+m)*ohw : (n*g.M+m+1)*ohw]
			for i := range yp {
				yp[i] += b[m]
			}
		}
	}
}

// ctScratchTarget is about how many float32 values the col2im path's Cols
// matrix takes (512 KiB), and ctMinChunk the fewest input pixels a chunk
// of it covers, so that its products stay wide enough for the Gemm's
// panels.
const (
	ctScratchTarget = 1 << 17
	ctMinChunk      = 32
)

// ctRows is the number of rows of the Cols matrix: Mg·KH·KW.
func ctRows(g *ConvTransposeGeom) int { return max(1, g.M/max(1, g.Group)*g.KH*g.KW) }

// ctChunk is how many input pixels one product of the col2im path covers:
// as many as fit in ctScratchTarget values, at least ctMinChunk, at most
// the plane. It depends on g alone, so that results do not depend on the
// worker count.
func ctChunk(g *ConvTransposeGeom) int {
	p := max(ctMinChunk, ctScratchTarget/ctRows(g))
	return max(1, min(p, g.H*g.W))
}

// ConvTransposeScratch is how many float32 values of scratch ConvTranspose
// uses for g: the Cols matrix of one chunk of pixels. It is one buffer for
// the whole call, not one per worker (the workers share each product).
func ConvTransposeScratch(g *ConvTransposeGeom) int { return ctRows(g) * ctChunk(g) }

// ctBufs keeps Cols matrices for callers without scratch.
var ctBufs = FreeList[GrowBuf]{New: func() *GrowBuf { return new(GrowBuf) }}

// convTransposeGemm is the col2im path of ConvTranspose, on the Gemm of
// env's tier (Generic without one), whatever tier that is. For each image
// n and group grp, the input pixels are taken in chunks of ctChunk(g); for
// a chunk [p0, p0+P) the tier's Gemm computes
//
//	Cols[(m·KH + kh)·KW + kw][p] = Σ_c w[grp·Cg + c][m][kh][kw] · x[n][grp·Cg + c][p0 + p]
//
// (Wᵀ of the group, Mg·KH·KW × Cg, times the chunk, Cg × P), and col2im
// adds it into the group's output planes (see ctCol2im); the bias comes
// after the last chunk.
func convTransposeGemm(env *Env, g *ConvTransposeGeom, x, w, b, y []float32) {
	if g.N == 0 || g.M == 0 || g.OH*g.OW == 0 {
		return
	}
	k := TierOf(env)
	if k == nil {
		k = Generic
	}
	if env != nil {
		env.PackedW = nil
	}
	cg, mg := g.C/g.Group, g.M/g.Group
	rows, chunk := ctRows(g), ctChunk(g)
	hw, ohw := g.H*g.W, g.OH*g.OW
	need := rows * chunk
	var cols []float32
	if env != nil && len(env.Scratch) >= need {
		cols = env.Scratch[:need]
	} else {
		buf := ctBufs.Get(hintOf(env))
		defer ctBufs.Put(hintOf(env), buf)
		cols = buf.Grow(need)
	}
	workers := ParOf(env).Workers()
	// Output rows in bands, so that a group of few channels still gives
	// every worker a share of the scatter.
	bands := 1
	if mg < 4*workers {
		bands = min(g.OH, CeilDiv(4*workers, mg))
	}
	for n := 0; n < g.N; n++ {
		for grp := 0; grp < g.Group; grp++ {
			xg := x[(n*g.C+grp*cg)*hw : (n*g.C+grp*cg+cg)*hw]
			wg := w[grp*cg*rows : (grp+1)*cg*rows]
			yg := y[(n*g.M+grp*mg)*ohw : (n*g.M+grp*mg+mg)*ohw]
			var bg []float32
			if b != nil {
				bg = b[grp*mg : grp*mg+mg]
			}
			if hw == 0 {
				// No input pixels: the planes hold the bias alone.
				ct := TaskOf[ctCol2im](env)
				*ct = ctCol2im{k: k, g: g, y: yg, b: bg, bands: bands, first: true, last: true}
				runTask(env, mg*bands, ct)
				continue
			}
			for p0 := 0; p0 < hw; p0 += chunk {
				np := min(chunk, hw-p0)
				c := cols[:rows*np]
				// Cols = Wgᵀ · X[:, p0:p0+np]
				k.Gemm(env, true, false, rows, np, cg, 1, wg, rows, xg[p0:], hw, 0, c, np)
				ct := TaskOf[ctCol2im](env)
				*ct = ctCol2im{k: k, g: g, cols: c, y: yg, b: bg, p0: p0, np: np, bands: bands,
					first: p0 == 0, last: p0+np == hw}
				runTask(env, mg*bands, ct)
			}
		}
	}
}

// ctCol2im adds one chunk's Cols into a group's output planes: unit u is
// band u mod bands of the rows of plane u / bands. It gathers by output
// row, so that each unit writes its own rows:
//
//	y[m][oh][ow] += Cols[(m·KH + kh)·KW + kw][ih·W + iw - p0]
//
// for every kh with oh + PadT - kh·DH = ih·SH, ih an input row, and every kw
// and iw with ow = iw·SW - PadL + kw·DW, pixel ih·W + iw in the chunk
// [p0, p0+np); taps in order of kh, kw. The first chunk starts from
// zeros; after the last one, y[m] += b[m].
type ctCol2im struct {
	k           *Tier
	g           *ConvTransposeGeom
	cols, y, b  []float32
	p0, np      int
	bands       int
	first, last bool
}

// Range computes units [lo, hi).
func (t *ctCol2im) Range(lo, hi int) {
	g := t.g
	ohw := g.OH * g.OW
	bh := CeilDiv(g.OH, t.bands)
	for u := lo; u < hi; u++ {
		m, band := u/t.bands, u%t.bands
		yp := t.y[m*ohw : (m+1)*ohw]
		for oh := band * bh; oh < min(g.OH, (band+1)*bh); oh++ {
			yr := yp[oh*g.OW : (oh+1)*g.OW]
			if t.first {
				clear(yr)
			}
			if t.np > 0 {
				t.row(yr, m, oh)
			}
			if t.last && t.b != nil {
				// y[m][oh][ow] += b[m] (1·v is exact)
				AffineRow(t.k, yr, yr, 1, t.b[m], false)
			}
		}
	}
}

// row adds the chunk's contributions to output row oh of plane m.
func (t *ctCol2im) row(yr []float32, m, oh int) {
	g := t.g
	for kh := 0; kh < g.KH; kh++ {
		s := oh + g.PadT - kh*g.DH
		if s < 0 || s%g.SH != 0 || s/g.SH >= g.H {
			continue
		}
		ih := s / g.SH
		// The chunk's pixels of input row ih: iw in [a, e).
		a := max(t.p0, ih*g.W) - ih*g.W
		e := min(t.p0+t.np, (ih+1)*g.W) - ih*g.W
		if a >= e {
			continue
		}
		for kw := 0; kw < g.KW; kw++ {
			off := kw*g.DW - g.PadL // ow = iw·SW + off
			lo, hi := validRange(off, g.SW, g.OW, g.W)
			lo, hi = max(lo, a), min(hi, e)
			if lo >= hi {
				continue
			}
			r := (m*g.KH+kh)*g.KW + kw
			base := r*t.np + ih*g.W - t.p0
			src := t.cols[base+lo : base+hi]
			if g.SW == 1 {
				// y[m][oh][iw + off] += Cols[r][ih·W + iw - p0]
				dst := yr[lo+off : hi+off]
				AddRow(t.k, dst, dst, src, false)
				continue
			}
			// y[m][oh][iw·SW + off] += Cols[r][ih·W + iw - p0]
			for i, v := range src {
				yr[(lo+i)*g.SW+off] += v
			}
		}
	}
}
