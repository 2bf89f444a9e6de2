package kern

// 3-D transposed convolutions (ONNX's ConvTranspose over 5-D tensors,
// PyTorch's ConvTranspose3d), the 3-D twin of convtranspose.go: the
// reference's direct scatter, and on every other tier the col2im path on
// the tier's Gemm.

// ConvTranspose3DGeom is the geometry of a 3-D transposed convolution over
// NCDHW data. Input x is [N, C, D, H, W], weights w are [C, M/Group, KD,
// KH, KW], output y is [N, M, OD, OH, OW]. Input position (id, ih, iw) and
// kernel tap (kd, kh, kw) land on output position
//
//	od = id·SD - PadF + kd·DD,  oh = ih·SH - PadT + kh·DH,  ow = iw·SW - PadL + kw·DW
//
// when it lies in the output; contributions outside are dropped. The
// output sizes are given, not derived (ONNX's output_padding and
// output_shape choose them); the pads may be negative, as in
// ConvTransposeGeom.
type ConvTranspose3DGeom struct {
	N, C, D, H, W    int
	M, KD, KH, KW    int
	OD, OH, OW       int
	PadF, PadT, PadL int // leading padding along D, H and W
	SD, SH, SW       int // strides
	DD, DH, DW       int // dilations
	Group            int
}

// ConvTranspose3D computes y = convtranspose(x, w) + b for the 3-D
// geometry g on env's tier (Generic without one): the tier's own
// ConvTranspose3D when it has one (the reference's direct loop), else the
// col2im path on its Gemm (convTranspose3DGemm). b may be nil. The col2im
// path takes its Cols matrix from env.Scratch[:ConvTranspose3DScratch(g)]
// when env has that much (else from a pool); it leaves env.PackedW nil.
func ConvTranspose3D(env *Env, g *ConvTranspose3DGeom, x, w, b, y []float32) {
	if k := TierOf(env); k != nil && k.ConvTranspose3D != nil {
		k.ConvTranspose3D(env, g, x, w, b, y)
		return
	}
	convTranspose3DGemm(env, g, x, w, b, y)
}

// convTranspose3DRef is Reference.ConvTranspose3D: the direct definition,
// a scatter-add of every input value times every kernel tap, summed in
// float32 in order of c, id, ih, iw, kd, kh, kw, the bias added last. It is
// the oracle the col2im path is tested against: keep it plain.
func convTranspose3DRef(_ *Env, g *ConvTranspose3DGeom, x, w, b, y []float32) {
	cg, mg := g.C/g.Group, g.M/g.Group
	odhw := g.OD * g.OH * g.OW
	clear(y[:g.N*g.M*odhw])
	// y[n][m][od][oh][ow] = b[m] + Σ over c < Cg, id, ih, iw, kd, kh, kw with
	//     od = id·SD - PadF + kd·DD,  oh = ih·SH - PadT + kh·DH,  ow = iw·SW - PadL + kw·DW
	//   of x[n][grp·Cg + c][id][ih][iw] · w[grp·Cg + c][m - grp·Mg][kd][kh][kw]
	// where grp = m / Mg is the group of output channel m.
	for n := 0; n < g.N; n++ {
		for ic := 0; ic < g.C; ic++ {
			grp := ic / cg
			for id := 0; id < g.D; id++ {
				for ih := 0; ih < g.H; ih++ {
					for iw := 0; iw < g.W; iw++ {
						v := x[(((n*g.C+ic)*g.D+id)*g.H+ih)*g.W+iw]
						for mm := 0; mm < mg; mm++ {
							m := grp*mg + mm
							for kd := 0; kd < g.KD; kd++ {
								od := id*g.SD - g.PadF + kd*g.DD
								if od < 0 || od >= g.OD {
									continue
								}
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
										y[(((n*g.M+m)*g.OD+od)*g.OH+oh)*g.OW+ow] +=
											v * w[(((ic*mg+mm)*g.KD+kd)*g.KH+kh)*g.KW+kw]
									}
								}
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
			yp := y[(n*g.M+m)*odhw : (n*g.M+m+1)*odhw]
			for i := range yp {
				yp[i] += b[m]
			}
		}
	}
}

// ct3Rows is the number of rows of the 3-D col2im path's Cols matrix:
// Mg·KD·KH·KW.
func ct3Rows(g *ConvTranspose3DGeom) int {
	return max(1, g.M/max(1, g.Group)*g.KD*g.KH*g.KW)
}

// ct3Chunk is how many input positions one product of the 3-D col2im path
// covers: as many as fit in ctScratchTarget values, at least ctMinChunk,
// at most the input volume. It depends on g alone, so that results do not
// depend on the worker count.
func ct3Chunk(g *ConvTranspose3DGeom) int {
	p := max(ctMinChunk, ctScratchTarget/ct3Rows(g))
	return max(1, min(p, g.D*g.H*g.W))
}

// ConvTranspose3DScratch is how many float32 values of scratch
// ConvTranspose3D uses for g: the Cols matrix of one chunk of input
// positions, one buffer for the whole call.
func ConvTranspose3DScratch(g *ConvTranspose3DGeom) int { return ct3Rows(g) * ct3Chunk(g) }

// convTranspose3DGemm is the col2im path of ConvTranspose3D, on the Gemm
// of env's tier (Generic without one). For each image n and group grp, the
// input positions p = (id·H + ih)·W + iw are taken in chunks of
// ct3Chunk(g); for a chunk [p0, p0+P) the tier's Gemm computes
//
//	Cols[((m·KD + kd)·KH + kh)·KW + kw][p] = Σ_c w[grp·Cg + c][m][kd][kh][kw] · x[n][grp·Cg + c][p0 + p]
//
// (Wᵀ of the group, Mg·KD·KH·KW × Cg, times the chunk, Cg × P), and
// ct3Col2im adds it into the group's output volumes; the bias comes after
// the last chunk.
func convTranspose3DGemm(env *Env, g *ConvTranspose3DGeom, x, w, b, y []float32) {
	odhw := g.OD * g.OH * g.OW
	if g.N == 0 || g.M == 0 || odhw == 0 {
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
	rows, chunk := ct3Rows(g), ct3Chunk(g)
	dhw := g.D * g.H * g.W
	need := rows * chunk
	var cols []float32
	if env != nil && len(env.Scratch) >= need {
		cols = env.Scratch[:need]
	} else {
		buf := ctBufs.Get(hintOf(env))
		defer ctBufs.Put(hintOf(env), buf)
		cols = buf.Grow(need)
	}
	for n := 0; n < g.N; n++ {
		for grp := 0; grp < g.Group; grp++ {
			xg := x[(n*g.C+grp*cg)*dhw : (n*g.C+grp*cg+cg)*dhw]
			wg := w[grp*cg*rows : (grp+1)*cg*rows]
			yg := y[(n*g.M+grp*mg)*odhw : (n*g.M+grp*mg+mg)*odhw]
			var bg []float32
			if b != nil {
				bg = b[grp*mg : grp*mg+mg]
			}
			if dhw == 0 {
				// No input positions: the volumes hold the bias alone.
				ct := TaskOf[ct3Col2im](env)
				*ct = ct3Col2im{k: k, g: g, y: yg, b: bg, first: true, last: true}
				runTask(env, mg*g.OD, ct)
				continue
			}
			for p0 := 0; p0 < dhw; p0 += chunk {
				np := min(chunk, dhw-p0)
				c := cols[:rows*np]
				// Cols = Wgᵀ · X[:, p0:p0+np]
				k.Gemm(env, true, false, rows, np, cg, 1, wg, rows, xg[p0:], dhw, 0, c, np)
				ct := TaskOf[ct3Col2im](env)
				*ct = ct3Col2im{k: k, g: g, cols: c, y: yg, b: bg, p0: p0, np: np,
					first: p0 == 0, last: p0+np == dhw}
				runTask(env, mg*g.OD, ct)
			}
		}
	}
}

// ct3Col2im adds one chunk's Cols into a group's output volumes: unit u is
// depth slice od = u mod OD of volume m = u / OD. It gathers by output
// row, so that each unit writes its own rows:
//
//	y[m][od][oh][ow] += Cols[((m·KD + kd)·KH + kh)·KW + kw][(id·H + ih)·W + iw - p0]
//
// for every kd with od + PadF - kd·DD = id·SD, id an input slice, every kh
// with oh + PadT - kh·DH = ih·SH, ih an input row, and every kw and iw with
// ow = iw·SW - PadL + kw·DW, the position in the chunk [p0, p0+np); taps
// in order of kd, kh, kw. The first chunk starts from zeros; after the
// last one, y[m] += b[m].
type ct3Col2im struct {
	k           *Tier
	g           *ConvTranspose3DGeom
	cols, y, b  []float32
	p0, np      int
	first, last bool
}

// Range computes units [lo, hi).
func (t *ct3Col2im) Range(lo, hi int) {
	g := t.g
	ohw := g.OH * g.OW
	for u := lo; u < hi; u++ {
		m, od := u/g.OD, u%g.OD
		slice := t.y[(m*g.OD+od)*ohw : (m*g.OD+od+1)*ohw]
		for oh := range g.OH {
			yr := slice[oh*g.OW : (oh+1)*g.OW]
			if t.first {
				clear(yr)
			}
			if t.np > 0 {
				t.row(yr, m, od, oh)
			}
			if t.last && t.b != nil {
				// y[m][od][oh][ow] += b[m] (1·v is exact)
				AffineRow(t.k, yr, yr, 1, t.b[m], false)
			}
		}
	}
}

// row adds the chunk's contributions to output row (od, oh) of volume m.
func (t *ct3Col2im) row(yr []float32, m, od, oh int) {
	g := t.g
	for kd := 0; kd < g.KD; kd++ {
		sd := od + g.PadF - kd*g.DD
		if sd < 0 || sd%g.SD != 0 || sd/g.SD >= g.D {
			continue
		}
		id := sd / g.SD
		for kh := 0; kh < g.KH; kh++ {
			sh := oh + g.PadT - kh*g.DH
			if sh < 0 || sh%g.SH != 0 || sh/g.SH >= g.H {
				continue
			}
			ih := sh / g.SH
			// The chunk's positions of input row (id, ih): iw in [a, e).
			q := (id*g.H + ih) * g.W
			a := max(t.p0, q) - q
			e := min(t.p0+t.np, q+g.W) - q
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
				r := ((m*g.KD+kd)*g.KH+kh)*g.KW + kw
				base := r*t.np + q - t.p0
				src := t.cols[base+lo : base+hi]
				if g.SW == 1 {
					// y[m][od][oh][iw + off] += Cols[r][(id·H + ih)·W + iw - p0]
					dst := yr[lo+off : hi+off]
					AddRow(t.k, dst, dst, src, false)
					continue
				}
				// y[m][od][oh][iw·SW + off] += Cols[r][(id·H + ih)·W + iw - p0]
				for i, v := range src {
					yr[(lo+i)*g.SW+off] += v
				}
			}
		}
	}
}
