package kern

// 3-D convolutions (ONNX's Conv over 5-D tensors, PyTorch's Conv3d): the
// 1-D and 2-D paths of the tiers stay as they are; a 3-D convolution runs
// the reference's direct loop on the reference tier and, on every other
// tier, a product of each group's weights with the volume's im2col matrix
// on the tier's Gemm, the matrix built a chunk of output positions at a
// time in a bounded buffer (conv3DGemm). Convolutions whose groups have one
// input channel (depthwise ones) run a direct loop over rows instead
// (conv3DDirect).

// Conv3DGeom is the geometry of a 3-D convolution over NCDHW data. Input x
// is [N, C, D, H, W], weights w are [M, C/Group, KD, KH, KW], output y is
// [N, M, OD, OH, OW], where
//
//	OD = (D + PadF + pad_back - DD·(KD-1) - 1)/SD + 1
//
// and likewise for OH (PadT, DH, SH) and OW (PadL, DW, SW). Only the
// leading pads enter the arithmetic: the trailing ones are in the output
// sizes.
type Conv3DGeom struct {
	N, C, D, H, W    int
	M, KD, KH, KW    int
	OD, OH, OW       int
	PadF, PadT, PadL int // leading padding along D, H and W
	SD, SH, SW       int // strides
	DD, DH, DW       int // dilations
	Group            int
}

// Conv3D computes a 3-D convolution of geometry g, with the fusion f (nil
// for none) as Tier.Conv describes it,
//
//	y = f.Act(conv(f.Pre(x), w) + b + f.Residual)
//
// on env's tier (Generic without one): the tier's own Conv3D when it has
// one (the reference's direct loop), else conv3DGemm on its Gemm. b may be
// nil. The im2col matrix comes from env.Scratch[:Conv3DScratch(g)] when
// env has that much (else from a pool); Conv3D leaves env.PackedW nil.
func Conv3D(env *Env, g *Conv3DGeom, x, w, b, y []float32, f *ConvFusion) {
	if k := TierOf(env); k != nil && k.Conv3D != nil {
		k.Conv3D(env, g, x, w, b, y, f)
		return
	}
	conv3DGemm(env, g, x, w, b, y, f)
}

// conv3DRef is Reference.Conv3D: the direct definition, one output at a
// time, summed in float32 in order of c, kd, kh, kw. It is the oracle the
// other paths are tested against: keep it plain.
func conv3DRef(_ *Env, g *Conv3DGeom, x, w, b, y []float32, f *ConvFusion) {
	cg, mg := g.C/g.Group, g.M/g.Group
	// y[n][m][od][oh][ow] = sum over c < Cg, kd < KD, kh < KH, kw < KW of
	//     x'[n][grp·Cg + c][od·SD - PadF + kd·DD][oh·SH - PadT + kh·DH][ow·SW - PadL + kw·DW]
	//       · w[m][c][kd][kh][kw]
	//   + b[m] (+ Residual[n][m][od][oh][ow]), then Act
	// where x' is x read through the fusion's prologue when there is one,
	// grp = m / (M/Group) is the group of output channel m and positions in
	// the padding contribute nothing.
	for n := 0; n < g.N; n++ {
		for m := 0; m < g.M; m++ {
			grp := m / mg
			for od := 0; od < g.OD; od++ {
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						var s float32
						for c := 0; c < cg; c++ {
							ic := grp*cg + c
							for kd := 0; kd < g.KD; kd++ {
								id := od*g.SD - g.PadF + kd*g.DD
								if id < 0 || id >= g.D {
									continue
								}
								for kh := 0; kh < g.KH; kh++ {
									ih := oh*g.SH - g.PadT + kh*g.DH
									if ih < 0 || ih >= g.H {
										continue
									}
									for kw := 0; kw < g.KW; kw++ {
										iw := ow*g.SW - g.PadL + kw*g.DW
										if iw < 0 || iw >= g.W {
											continue
										}
										v := x[(((n*g.C+ic)*g.D+id)*g.H+ih)*g.W+iw]
										if f.hasPre() {
											v = f.pre(ic, v)
										}
										s += v * w[(((m*cg+c)*g.KD+kd)*g.KH+kh)*g.KW+kw]
									}
								}
							}
						}
						if b != nil {
							s += b[m]
						}
						o := (((n*g.M+m)*g.OD+od)*g.OH+oh)*g.OW + ow
						if f != nil {
							if f.Residual != nil {
								s += f.Residual[o]
							}
							s = f.Act.One(s)
						}
						y[o] = s
					}
				}
			}
		}
	}
}

// c3ScratchTarget is about how many float32 values conv3DGemm's im2col
// matrix takes (1 MiB), and c3MinChunk the fewest output positions a chunk
// of it covers, so that the products stay wide enough for the Gemm's
// panels.
const (
	c3ScratchTarget = 1 << 18
	c3MinChunk      = 64
)

// c3Depth is the depth of conv3DGemm's products: Cg·KD·KH·KW.
func c3Depth(g *Conv3DGeom) int { return max(1, g.C/max(1, g.Group)*g.KD*g.KH*g.KW) }

// c3Chunk is how many output positions one product of conv3DGemm covers:
// as many as fit in c3ScratchTarget values, at least c3MinChunk, at most
// the output volume. It depends on g alone, so that results do not depend
// on the worker count.
func c3Chunk(g *Conv3DGeom) int {
	p := max(c3MinChunk, c3ScratchTarget/c3Depth(g))
	return max(1, min(p, g.OD*g.OH*g.OW))
}

// c3Pointwise reports whether g is a 1×1×1, stride-1, unpadded
// convolution, whose im2col matrix is the input itself.
func c3Pointwise(g *Conv3DGeom) bool {
	return g.KD == 1 && g.KH == 1 && g.KW == 1 && g.SD == 1 && g.SH == 1 && g.SW == 1 &&
		g.PadF == 0 && g.PadT == 0 && g.PadL == 0 && g.OD == g.D && g.OH == g.H && g.OW == g.W
}

// Conv3DScratch is how many float32 values of scratch Conv3D uses for g:
// the im2col matrix of one chunk of output positions, counted whenever the
// product path may build one (a step does not know the tier it will run
// on, and a pointwise convolution builds it when it has a prologue); none
// for the direct path of depthwise convolutions. It is one buffer for the
// whole call, not one per worker (the workers share each product).
func Conv3DScratch(g *Conv3DGeom) int {
	if g.C/max(1, g.Group) == 1 {
		return 0
	}
	return c3Depth(g) * c3Chunk(g)
}

// c3Bufs keeps im2col matrices for callers without scratch.
var c3Bufs = FreeList[GrowBuf]{New: func() *GrowBuf { return new(GrowBuf) }}

// conv3DGemm is the 3-D convolution of every tier but the reference, on
// the Gemm of env's tier (Generic without one). For each image n and group
// grp, the output positions p = (od·OH + oh)·OW + ow are taken in chunks
// of c3Chunk(g); for a chunk [p0, p0+P) the im2col matrix
//
//	B[r][j] = x'[n][grp·Cg + c][od·SD - PadF + kd·DD][oh·SH - PadT + kh·DH][ow·SW - PadL + kw·DW]
//
// with r = ((c·KD + kd)·KH + kh)·KW + kw, (od, oh, ow) the position p0 + j
// and 0 in the padding, is built in parallel over its rows (c3Cols), and
// the tier's Gemm computes
//
//	y[n][grp·Mg + m][p0 + j] = Σ_r w[grp·Mg + m][r] · B[r][j]
//
// into the output, whose rows the epilogue then finishes in parallel:
// + b[m], + Residual, Act (c3Finish). A pointwise convolution (1×1×1,
// stride 1, no padding, no prologue) takes the input planes as B itself;
// one with a single input channel per group takes conv3DDirect.
func conv3DGemm(env *Env, g *Conv3DGeom, x, w, b, y []float32, f *ConvFusion) {
	odhw := g.OD * g.OH * g.OW
	if g.N == 0 || g.M == 0 || odhw == 0 {
		return
	}
	if env != nil {
		env.PackedW = nil
	}
	cg, mg := g.C/g.Group, g.M/g.Group
	if cg == 1 {
		conv3DDirect(env, g, x, w, b, y, f)
		return
	}
	k := TierOf(env)
	if k == nil {
		k = Generic
	}
	kk, chunk := c3Depth(g), c3Chunk(g)
	dhw := g.D * g.H * g.W
	pointwise := c3Pointwise(g) && !f.hasPre()
	var cols []float32
	if !pointwise {
		need := kk * chunk
		if env != nil && len(env.Scratch) >= need {
			cols = env.Scratch[:need]
		} else {
			buf := c3Bufs.Get(hintOf(env))
			defer c3Bufs.Put(hintOf(env), buf)
			cols = buf.Grow(need)
		}
	}
	for n := 0; n < g.N; n++ {
		for grp := 0; grp < g.Group; grp++ {
			xg := x[(n*g.C+grp*cg)*dhw : (n*g.C+grp*cg+cg)*dhw]
			wg := w[grp*mg*kk : (grp+1)*mg*kk]
			o := (n*g.M + grp*mg) * odhw // the group's first output plane
			yg := y[o : o+mg*odhw]
			for p0 := 0; p0 < odhw; p0 += chunk {
				np := min(chunk, odhw-p0)
				if pointwise {
					// y[m][p0 + j] = Σ_c w[m][c] · x[c][p0 + j]
					k.Gemm(env, false, false, mg, np, kk, 1, wg, kk, xg[p0:], dhw, 0, yg[p0:], odhw)
				} else {
					bm := cols[:kk*np]
					ct := TaskOf[c3Cols](env)
					*ct = c3Cols{g: g, x: xg, f: f, c0: grp * cg, dst: bm, p0: p0, np: np}
					runTask(env, kk, ct)
					// Y[:, p0:p0+np] = Wg · B
					k.Gemm(env, false, false, mg, np, kk, 1, wg, kk, bm, np, 0, yg[p0:], odhw)
				}
				if b == nil && !f.hasPost() {
					continue
				}
				ft := TaskOf[c3Finish](env)
				*ft = c3Finish{k: k, y: yg, o: o, m0: grp * mg, odhw: odhw, p0: p0, np: np, b: b, f: f}
				runTask(env, mg, ft)
			}
		}
	}
}

// c3Cols builds rows of a chunk of conv3DGemm's im2col matrix: dst holds
// np columns per row, column j the output position p0 + j; x is the
// group's Cg input volumes, whose channel c is input channel c0 + c.
type c3Cols struct {
	g      *Conv3DGeom
	x      []float32
	f      *ConvFusion
	c0     int
	dst    []float32
	p0, np int
}

// Range builds rows [lo, hi).
func (t *c3Cols) Range(lo, hi int) {
	g := t.g
	khw := g.KH * g.KW
	kdhw := g.KD * khw
	hw, dhw := g.H*g.W, g.D*g.H*g.W
	for r := lo; r < hi; r++ {
		c, kd, kh, kw := r/kdhw, r%kdhw/khw, r%khw/g.KW, r%g.KW
		vol := t.x[c*dhw : (c+1)*dhw]
		dr := t.dst[r*t.np : (r+1)*t.np]
		// Walk the chunk's columns by output rows (od, oh): each run of
		// them reads one input row, at iw = ow·SW - PadL + kw·DW.
		p := t.p0
		for j := 0; j < t.np; {
			ow := p % g.OW
			oh := p / g.OW % g.OH
			od := p / (g.OW * g.OH)
			run := min(t.np-j, g.OW-ow)
			seg := dr[j : j+run]
			id := od*g.SD - g.PadF + kd*g.DD
			ih := oh*g.SH - g.PadT + kh*g.DH
			if id < 0 || id >= g.D || ih < 0 || ih >= g.H {
				clear(seg)
			} else {
				row := vol[id*hw+ih*g.W : id*hw+ih*g.W+g.W]
				t.row(seg, row, ow*g.SW-g.PadL+kw*g.DW, c)
			}
			j += run
			p += run
		}
	}
}

// row fills seg[j] = x'[iw + j·SW] from the input row, 0 where iw + j·SW
// is in the padding.
func (t *c3Cols) row(seg, row []float32, iw, c int) {
	sw := t.g.SW
	in, start := inRow(seg, iw, sw, len(row))
	if len(in) == 0 {
		return
	}
	src := row[start : start+(len(in)-1)*sw+1]
	f := t.f
	switch {
	case f.hasPre():
		ic := t.c0 + c
		// seg[j] = PreAct(PreScale[ic]·x[iw + j·SW] + PreBias[ic])
		for j := range in {
			in[j] = f.pre(ic, src[j*sw])
		}
	case sw == 1:
		// seg[j] = x[iw + j]
		copy(in, src)
	default:
		// seg[j] = x[iw + j·SW]
		for j := range in {
			in[j] = src[j*sw]
		}
	}
}

// c3Finish applies the epilogue to a chunk of a group's output rows: unit
// m is output channel m0 + m, whose plane starts at y[m·odhw] (the group's
// planes starting at o in the whole output), columns [p0, p0+np):
//
//	y = Act(y + b[m0 + m] + Residual)
type c3Finish struct {
	k           *Tier
	y, b        []float32
	f           *ConvFusion
	o, m0, odhw int
	p0, np      int
}

// Range finishes rows [lo, hi).
func (t *c3Finish) Range(lo, hi int) {
	for m := lo; m < hi; m++ {
		at := m*t.odhw + t.p0
		yr := t.y[at : at+t.np]
		if t.b != nil {
			// y += b[m] (1·v is exact)
			AffineRow(t.k, yr, yr, 1, t.b[t.m0+m], false)
		}
		if t.f.hasPost() {
			var z []float32
			if t.f.Residual != nil {
				z = t.f.Residual[t.o+at : t.o+at+t.np]
			}
			// y = Act(y + z)
			residualAct(t.k, yr, z, t.f.Act)
		}
	}
}

// conv3DDirect computes a 3-D convolution whose groups have one input
// channel each (Cg = 1: depthwise convolutions, with or without a channel
// multiplier) output volume by output volume, tap by tap over rows of the
// input, without the Gemm (its depth KD·KH·KW is too small to pay for
// the im2col matrix):
//
//	y[m][od][oh][ow] = Σ_{kd, kh, kw} w[m][kd][kh][kw] · x'[ic][od·SD - PadF + kd·DD][oh·SH - PadT + kh·DH][ow·SW - PadL + kw·DW]
//
// the taps in the padding skipped, ic = m / (M/Group), then + b[m], +
// Residual, Act.
func conv3DDirect(env *Env, g *Conv3DGeom, x, w, b, y []float32, f *ConvFusion) {
	dt := TaskOf[c3Direct](env)
	*dt = c3Direct{k: TierOf(env), g: g, x: x, w: w, b: b, y: y, f: f}
	runTask(env, g.N*g.M, dt)
}

// c3Direct computes output volumes [lo, hi) (u = n·M + m) of conv3DDirect.
type c3Direct struct {
	k          *Tier
	g          *Conv3DGeom
	x, w, b, y []float32
	f          *ConvFusion
}

// Range computes output volumes [lo, hi).
func (t *c3Direct) Range(lo, hi int) {
	g, f := t.g, t.f
	mg := g.M / g.Group
	dhw, odhw, kvol := g.D*g.H*g.W, g.OD*g.OH*g.OW, g.KD*g.KH*g.KW
	for u := lo; u < hi; u++ {
		n, m := u/g.M, u%g.M
		ic := m / mg
		xv := t.x[(n*g.C+ic)*dhw : (n*g.C+ic+1)*dhw]
		wv := t.w[m*kvol : (m+1)*kvol]
		yv := t.y[u*odhw : (u+1)*odhw]
		clear(yv)
		for od := range g.OD {
			for oh := range g.OH {
				yr := yv[(od*g.OH+oh)*g.OW : (od*g.OH+oh+1)*g.OW]
				for kd := range g.KD {
					id := od*g.SD - g.PadF + kd*g.DD
					if id < 0 || id >= g.D {
						continue
					}
					for kh := range g.KH {
						ih := oh*g.SH - g.PadT + kh*g.DH
						if ih < 0 || ih >= g.H {
							continue
						}
						xr := xv[(id*g.H+ih)*g.W : (id*g.H+ih+1)*g.W]
						for kw := range g.KW {
							wt := wv[(kd*g.KH+kh)*g.KW+kw]
							off := kw*g.DW - g.PadL
							lo, hi := validRange(off, g.SW, g.W, g.OW)
							if lo >= hi {
								continue
							}
							ys := yr[lo:hi]
							switch {
							case f.hasPre():
								// y[ow] += w · x'[ow·SW + off]
								for i := range ys {
									ys[i] += float32(wt * f.pre(ic, xr[(lo+i)*g.SW+off]))
								}
							case g.SW == 1:
								// y[ow] += w · x[ow + off]
								axpyRow(t.k, ys, xr[lo+off:hi+off], wt)
							default:
								// y[ow] += w · x[ow·SW + off]
								for i := range ys {
									ys[i] += float32(wt * xr[(lo+i)*g.SW+off])
								}
							}
						}
					}
				}
			}
		}
		if t.b != nil {
			// y += b[m] (1·v is exact)
			AffineRow(t.k, yv, yv, 1, t.b[m], false)
		}
		if f.hasPost() {
			var z []float32
			if f.Residual != nil {
				z = f.Residual[u*odhw : (u+1)*odhw]
			}
			// y = Act(y + z)
			residualAct(t.k, yv, z, f.Act)
		}
	}
}
