package kern

import "unsafe"

// The generic tier's convolution: for each image and group, the product of
// the group's weights, an Mg×K matrix with K = Cg·KH·KW, and the image's
// im2col matrix, K×(OH·OW), computed by the SGEMM of gemm_generic.go. The
// im2col matrix is never stored: convSource.pack gathers each panel of it
// from the image as the SGEMM needs it. A 1×1 stride-1 unpadded convolution
// is a plain product with the image itself. Convolutions whose groups have a
// single input channel (depthwise ones) run a direct loop instead.

// convSource is the input of one image and group as the K×(OH·OW) im2col
// matrix B[p][j], p = (c·KH + kh)·KW + kw, j = oh·OW + ow, where
//
//	B[p][j] = x[c][oh·SH - PadT + kh·DH][ow·SW - PadL + kw·DW]
//
// and 0 where that position is in the padding.
type convSource struct {
	x []float32 // the group's Cg input planes of H·W
	g *ConvGeom
	// f, when it has a prologue, transforms every value read: channel c of
	// this group is input channel c0 + c.
	f  *ConvFusion
	c0 int
}

// colRun is a run of consecutive im2col columns that lie in one output row.
type colRun struct {
	j0, j1 int // columns [j0, j1) of the panel
	ih0    int // oh·SH - PadT
	iw0    int // ow·SW - PadL of column j0
}

// pack fills dst (kl rows of kw) with -B[kb+r][j0+j] (+B when plain) for
// j < w and zeros for w <= j < kw.
func (s *convSource) pack(dst []float32, kb, kl, j0, w, kw int, plain bool) {
	g := s.g
	sg := packSign(plain)
	if isPointwise(g) {
		s.packPointwise(dst, kb, kl, j0, w, kw, sg)
		return
	}
	var runs [maxPanel]colRun
	nrun := 0
	for j := 0; j < w; {
		oh, ow := (j0+j)/g.OW, (j0+j)%g.OW
		n := min(w-j, g.OW-ow)
		runs[nrun] = colRun{j0: j, j1: j + n, ih0: oh*g.SH - g.PadT, iw0: ow*g.SW - g.PadL}
		nrun++
		j += n
	}
	khw := g.KH * g.KW
	c, kh, kx := kb/khw, kb%khw/g.KW, kb%g.KW
	hw := g.H * g.W
	for r := 0; r < kl; {
		// Rows r..r+nk-1 share the input channel c and the kernel row kh,
		// and so the input row of each run; only kx changes.
		nk := min(g.KW-kx, kl-r)
		plane := s.x[c*hw : c*hw+hw]
		for _, run := range runs[:nrun] {
			ih := run.ih0 + kh*g.DH
			if ih < 0 || ih >= g.H {
				for q := range nk {
					clear(dst[(r+q)*kw+run.j0 : (r+q)*kw+run.j1])
				}
				continue
			}
			row := plane[ih*g.W : ih*g.W+g.W]
			if s.f.hasPre() {
				s.packPre(dst, r, nk, kw, run, kx, c, row, sg)
				continue
			}
			for q := range nk {
				dr := dst[(r+q)*kw+run.j0 : (r+q)*kw+run.j1]
				iw := run.iw0 + (kx+q)*g.DW
				seg, start := inRow(dr, iw, g.SW, len(row))
				switch {
				case len(seg) == 0:
				case g.SW == 1 && plain:
					// dst[r][j] = x[c][ih][iw+j]
					copy(seg, row[start:])
				case g.SW == 1:
					// dst[r][j] = -x[c][ih][iw+j]
					negate(seg, row[start:start+len(seg)])
				default:
					src := row[start : start+(len(seg)-1)*g.SW+1]
					// dst[r][j] = ±x[c][ih][iw + j·SW]
					for j := range seg {
						seg[j] = sg * src[j*g.SW]
					}
				}
			}
		}
		if w < kw {
			for q := range nk {
				clear(dst[(r+q)*kw+w : (r+q+1)*kw])
			}
		}
		r += nk
		if kx += nk; kx == g.KW {
			kx = 0
			if kh++; kh == g.KH {
				kh = 0
				c++
			}
		}
	}
}

// packPre is the inner loop of pack for a conv with a prologue: it fills
// nk rows of one run with sg·x'[c][ih][iw + j·SW], where x' = PreAct(s·x +
// t) and sg is ±1, and 0 outside the row.
func (s *convSource) packPre(dst []float32, r, nk, kw int, run colRun, kx, c int, row []float32, sg float32) {
	g, f, ic := s.g, s.f, s.c0+c
	for q := range nk {
		dr := dst[(r+q)*kw+run.j0 : (r+q)*kw+run.j1]
		iw := run.iw0 + (kx+q)*g.DW
		seg, start := inRow(dr, iw, g.SW, len(row))
		if len(seg) == 0 {
			continue
		}
		src := row[start : start+(len(seg)-1)*g.SW+1]
		sc, bi := f.PreScale[ic], f.PreBias[ic]
		switch {
		case f.PreAct.Kind == ActRelu && g.SW == 1:
			src = src[:len(seg)]
			// dst[r][j] = sg·max(0, PreScale[ic]·x[c][ih][iw+j] + PreBias[ic])
			for j, v := range src {
				seg[j] = sg * max(0, sc*v+bi)
			}
		case f.PreAct.Kind == ActNone && g.SW == 1:
			src = src[:len(seg)]
			// dst[r][j] = sg·(PreScale[ic]·x[c][ih][iw+j] + PreBias[ic])
			for j, v := range src {
				seg[j] = sg * (sc*v + bi)
			}
		default:
			// dst[r][j] = sg·PreAct(PreScale[ic]·x[c][ih][iw + j·SW] + PreBias[ic])
			for j := range seg {
				seg[j] = sg * f.PreAct.One(sc*src[j*g.SW]+bi)
			}
		}
	}
}

// packPointwise is pack for a 1×1, stride-1, unpadded convolution (with a
// prologue; without one the image is packed as a plain matrix): row p of
// the im2col matrix is input plane p.
func (s *convSource) packPointwise(dst []float32, kb, kl, j0, w, kw int, sg float32) {
	hw := s.g.H * s.g.W
	f := s.f
	for r := range kl {
		c := kb + r
		src := s.x[c*hw+j0 : c*hw+j0+w]
		d := dst[r*kw : r*kw+kw]
		switch {
		case !f.hasPre():
			// d[j] = ±x[c][j0+j]
			for j, v := range src {
				d[j] = sg * v
			}
		case f.PreAct.Kind == ActRelu:
			sc, bi := f.PreScale[s.c0+c], f.PreBias[s.c0+c]
			// d[j] = ±max(0, PreScale[c]·x[c][j0+j] + PreBias[c])
			for j, v := range src {
				d[j] = sg * max(0, sc*v+bi)
			}
		default:
			// d[j] = ±PreAct(PreScale[c]·x[c][j0+j] + PreBias[c])
			for j, v := range src {
				d[j] = sg * f.pre(s.c0+c, v)
			}
		}
		clear(d[w:])
	}
}

// inRow splits a run dr of im2col columns that read a row of size
// elements at iw + j·sw: it zeroes the columns that fall in the padding
// and returns the others, seg, and the row index the first of them reads.
func inRow(dr []float32, iw, sw, size int) (seg []float32, start int) {
	if iw >= 0 && iw+(len(dr)-1)*sw < size {
		return dr, iw // the whole run is inside the row
	}
	lo, hi := validRange(iw, sw, size, len(dr))
	if lo >= hi {
		clear(dr)
		return nil, 0
	}
	clear(dr[:lo])
	clear(dr[hi:])
	return dr[lo:hi], iw + lo*sw
}

// isPointwise reports whether g is a 1×1, stride-1, unpadded convolution,
// whose im2col matrix is the input itself.
func isPointwise(g *ConvGeom) bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 &&
		g.PadT == 0 && g.PadL == 0 && g.PadB == 0 && g.PadR == 0
}

// convGeneric is Generic.Conv; see Tier.Conv.
func convGeneric(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	if g.N == 0 || g.M == 0 || g.OH*g.OW == 0 {
		return
	}
	if g.C/g.Group == 1 {
		convDirect(env, g, x, w, b, y, f)
		return
	}
	mg, k := g.M/g.Group, g.C/g.Group*g.KH*g.KW
	par := ParOf(env)
	t := newTiling(g.N*g.Group, mg, CeilDiv(g.OH*g.OW, nr), k, par.Workers())
	ct := TaskOf[convTilesTask](env)
	*ct = convTilesTask{env: env, g: g, x: x, w: w, b: b, y: y, f: f, t: t, pointwise: isPointwise(g) && !f.hasPre()}
	runTask(env, t.all, ct)
}

// convTilesTask computes units of t, each a range of row blocks and column
// panels of one image and group of a convolution (see convProduct), on the
// generic tier's kernels or, with bl set, on a blocked tier's.
type convTilesTask struct {
	bl         *blocked
	env        *Env
	g          *ConvGeom
	x, w, b, y []float32
	f          *ConvFusion
	t          tiling
	pointwise  bool
}

// Range computes units [lo, hi).
func (ct *convTilesTask) Range(lo, hi int) {
	var buf *blockBufs
	if ct.bl != nil {
		buf = ct.bl.bufs.Get(hintOf(ct.env))
		defer ct.bl.bufs.Put(hintOf(ct.env), buf)
	}
	for u := lo; u < hi; u++ {
		o, i0, i1, p0, p1 := ct.t.unit(u)
		if ct.bl == nil {
			var src convSource
			op := convProduct(ct.g, ct.x, ct.w, ct.b, ct.y, ct.f, o, ct.pointwise, &src)
			op.accurate = isAccurate(ct.env)
			op.tile(i0, i1, p0, p1)
			continue
		}
		op := convProduct(ct.g, ct.x, ct.w, ct.b, ct.y, ct.f, o, ct.pointwise, &buf.src)
		op.plain, op.kern = true, ct.bl.kern
		op.apack = ct.bl.packedGroup(ct.env, ct.g, o%ct.g.Group)
		ct.bl.tile(&op, i0, i1, p0, p1, buf)
	}
}

// convProduct returns the product that computes image and group o (o =
// n·Group + group) of a convolution: the group's weights times its im2col
// matrix, which src describes unless the convolution is pointwise and the
// matrix is the image itself.
func convProduct(g *ConvGeom, x, w, b, y []float32, f *ConvFusion, o int, pointwise bool, src *convSource) gemmOp {
	cg, mg := g.C/g.Group, g.M/g.Group
	k := cg * g.KH * g.KW
	hw, ohw := g.H*g.W, g.OH*g.OW
	n, grp := o/g.Group, o%g.Group
	xg := x[(n*g.C+grp*cg)*hw : (n*g.C+grp*cg+cg)*hw]
	op := gemmOp{m: mg, n: ohw, k: k,
		a: groupRows(w, grp, mg*k), lda: k,
		c: y[(n*g.M+grp*mg)*ohw : (n*g.M+grp*mg+mg)*ohw], ldc: ohw, alpha: 1}
	if b != nil {
		op.bias = b[grp*mg : grp*mg+mg]
	}
	if f.hasPost() {
		op.act = f.Act
		if f.Residual != nil {
			op.resid = f.Residual[(n*g.M+grp*mg)*ohw : (n*g.M+grp*mg+mg)*ohw]
		}
	}
	if pointwise {
		op.b, op.ldb = xg, hw
	} else {
		*src = convSource{x: xg, g: g, f: f, c0: grp * cg}
		op.conv = src
	}
	return op
}

// convDirect computes a convolution whose groups have one input channel
// each (Cg = 1, as in depthwise convolutions) plane by plane, without the
// SGEMM (its depth KH·KW is too small to pay for packing), as whole-plane
// vector steps. The input plane is copied into its stride phases with the
// prologue applied (phasePlanes; Hq×Wq each, see convInPlace), so that
// tap (kh, kw) reads, for every output column j' = oh·Wq + ow of a plane
// laid out Wq wide, one contiguous run of a phase:
//
//	yq[j'] = Σ_{kh,kw} w[kh][kw]·xq[phase(kh·DH, kw·DW)][(oh + kh·DH/SH)·Wq + ow + kw·DW/SW]
//
// one axpyRow per tap over the OH·Wq values, in the order of the taps
// (padding adds w·0), or, on a tier with DwTaps, one call for all taps
// with the bias, the products fused with the sums. Then y[oh][ow] =
// act(yq[oh·Wq + ow] + b + Z), the columns past OW dropped. Where padding would make the phase copy much
// larger than the input and output planes (a hostile model's huge pads),
// the taps run row by row on x itself instead (directRows).
func convDirect(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	dt := TaskOf[convDirectTask](env)
	ph := phasesOf(g)
	planes := int64(ph.plane) <= 4*(int64(g.H)*int64(g.W)+int64(g.OH)*int64(g.OW))+4096
	*dt = convDirectTask{k: TierOf(env), g: g, x: x, w: w, b: b, y: y, f: f, ph: ph, planes: planes, hint: hintOf(env)}
	if planes {
		// taps[kh·KW + kw] = where tap (kh, kw) reads in the phase copy (the
		// in-place products' offsets of a one-channel group)
		sc := directScratch.Get(dt.hint)
		defer directScratch.Put(dt.hint, sc)
		dt.taps = sc.taps(g.KH * g.KW)
		inPlaceOffsets(g, ph, dt.taps)
		dt.dwTaps = dt.k != nil && dt.k.DwTaps != nil
	}
	runTask(env, g.N*g.M, dt)
}

// convDirectTask computes planes [lo, hi) (u = n·M + m) of convDirect.
type convDirectTask struct {
	k          *Tier
	g          *ConvGeom
	x, w, b, y []float32
	f          *ConvFusion
	ph         phaseGeom // the phase copy's layout
	planes     bool      // whole-plane steps on the phase copy, else directRows
	taps       []int32   // planes: each tap's offset in the phase copy
	dwTaps     bool      // planes on k.DwTaps, else one axpyRow per tap
	hint       int       // the scratch lists' (Env.Hint)
}

// directBufs is one worker's scratch for convDirect: the phase copy of an
// input plane and a Wq-wide output plane (or, for a call, the taps'
// offsets).
type directBufs struct {
	xq, yq GrowBuf
	off    []int32
}

// taps returns a table of n offsets.
func (b *directBufs) taps(n int) []int32 {
	if cap(b.off) < n {
		b.off = make([]int32, n)
	}
	return b.off[:n]
}

// directScratch keeps directBufs for reuse, so that steady-state runs
// allocate nothing.
var directScratch = FreeList[directBufs]{New: func() *directBufs { return new(directBufs) }}

// Range computes output planes [lo, hi).
func (t *convDirectTask) Range(lo, hi int) {
	if !t.planes {
		for u := lo; u < hi; u++ {
			t.directRows(u)
			t.finish(u)
		}
		return
	}
	g, x, w, b, y := t.g, t.x, t.w, t.b, t.y
	mg := g.M / g.Group
	hw, ohw, khw := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	ph := t.ph
	ncol := g.OH * ph.wq
	buf := directScratch.Get(t.hint)
	defer directScratch.Put(t.hint, buf)
	// The garbage columns of the last output row read up to
	// (KW-1)·DW/SW past the last phase.
	// With DwTaps, whole vectors: up to maxPanel more columns, computed and
	// dropped.
	nq := ncol
	if t.dwTaps {
		nq = CeilDiv(ncol, maxPanel) * maxPanel
	}
	xq := buf.xq.Grow(ph.plane + g.KW*g.DW + 1 + nq - ncol)
	clear(xq[ph.plane:])
	yq := buf.yq.Grow(nq)
	lastIn := -1
	for u := lo; u < hi; u++ {
		n, m := u/g.M, u%g.M
		ic := m / mg
		if in := n*g.C + ic; in != lastIn {
			phasePlanes(t.k, xq[:ph.plane], x[in*hw:(in+1)*hw], g, ph, t.f, ic)
			lastIn = in
		}
		wp := w[m*khw : (m+1)*khw]
		var bv float32
		if b != nil {
			bv = b[m]
		}
		yp := y[(n*g.M+m)*ohw : (n*g.M+m+1)*ohw]
		if t.dwTaps {
			// yq[j'] = b[m] + Σ_t w[t]·xq[taps[t] + j'], then the valid columns
			t.k.DwTaps(yq, xq, t.taps, wp, bv)
			for oh := range g.OH {
				copy(yp[oh*g.OW:(oh+1)*g.OW], yq[oh*ph.wq:oh*ph.wq+g.OW])
			}
			t.finish(u)
			continue
		}
		clear(yq)
		for tp, o := range t.taps {
			// yq[j'] += w[kh][kw]·xq[phase][j' + (kh·DH/SH)·Wq + kw·DW/SW], tp = kh·KW + kw
			axpyRow(t.k, yq, xq[int(o):int(o)+ncol], wp[tp])
		}
		for oh := range g.OH {
			// y[m][oh][ow] = yq[oh·Wq + ow] + b[m]
			yr, src := yp[oh*g.OW:(oh+1)*g.OW], yq[oh*ph.wq:oh*ph.wq+g.OW]
			if b == nil {
				copy(yr, src)
				continue
			}
			// 1·v is exact: this is v + b[m]
			AffineRow(t.k, yr, src, 1, bv, false)
		}
		t.finish(u)
	}
}

// directRows computes output plane u without its bias, tap by tap over
// the rows of x, the taps that fall in the padding skipped.
func (t *convDirectTask) directRows(u int) {
	g, x, w, y, f := t.g, t.x, t.w, t.y, t.f
	mg := g.M / g.Group
	hw, ohw, khw := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	n, m := u/g.M, u%g.M
	ic := m / mg
	xp := x[(n*g.C+ic)*hw : (n*g.C+ic+1)*hw]
	wp := w[m*khw : (m+1)*khw]
	yp := y[(n*g.M+m)*ohw : (n*g.M+m+1)*ohw]
	clear(yp)
	for oh := range g.OH {
		yr := yp[oh*g.OW : (oh+1)*g.OW]
		for kh := range g.KH {
			ih := oh*g.SH - g.PadT + kh*g.DH
			if ih < 0 || ih >= g.H {
				continue
			}
			xr := xp[ih*g.W : (ih+1)*g.W]
			for kx := range g.KW {
				wv := wp[kh*g.KW+kx]
				off := kx*g.DW - g.PadL
				lo, hi := validRange(off, g.SW, g.W, g.OW)
				if lo >= hi {
					continue
				}
				ys := yr[lo:hi]
				switch {
				case f.hasPre():
					// y[oh][ow] += w[kh][kw] * x'[ih][ow·SW + off]
					for i := range ys {
						ys[i] += float32(wv * f.pre(ic, xr[(lo+i)*g.SW+off]))
					}
				case g.SW == 1:
					// y[oh][ow] += w[kh][kw] * x[ih][ow + off]
					axpyRow(t.k, ys, xr[lo+off:hi+off], wv)
				default:
					// y[oh][ow] += w[kh][kw] * x[ih][ow·SW + off]
					for i := range ys {
						ys[i] += float32(wv * xr[(lo+i)*g.SW+off])
					}
				}
			}
		}
	}
	if t.b != nil {
		// y[m][oh][ow] += b[m] (1·v is exact)
		AffineRow(t.k, yp, yp, 1, t.b[m], false)
	}
}

// finish applies the epilogue to output plane u: y = act(y + z).
func (t *convDirectTask) finish(u int) {
	g, f := t.g, t.f
	if !f.hasPost() {
		return
	}
	ohw := g.OH * g.OW
	yp := t.y[u*ohw : (u+1)*ohw]
	var zp []float32
	if f.Residual != nil {
		zp = f.Residual[u*ohw : (u+1)*ohw]
	}
	// y[m][oh][ow] = act(y[m][oh][ow] + z[m][oh][ow])
	residualAct(t.k, yp, zp, f.Act)
}

// validRange returns the outputs [lo, hi) of a row of out positions whose
// input index o·s + off lies in [0, size).
func validRange(off, s, size, out int) (lo, hi int) {
	if off < 0 {
		lo = CeilDiv(-off, s)
	}
	if size-1-off < 0 {
		return lo, lo
	}
	hi = min(out, (size-1-off)/s+1)
	return lo, hi
}

// dwTapsGo is the portable Tier.DwTaps, the twin of the vector kernels:
//
//	dst[j] = fma(w[T-1], base[off[T-1]+j], ... fma(w[0], base[off[0]+j], bias))
func dwTapsGo(dst, base []float32, off []int32, w []float32, bias float32) {
	w = w[:len(off)]
	for j := range dst {
		s := bias
		for t, o := range off {
			s = fma32(w[t], base[int(o)+j], s)
		}
		dst[j] = s
	}
}

// DwTapsGo is the portable twin of the DwTapsKernel vector kernels, for
// any n: dwTapsGo on the n outputs, reading base up to the largest offset
// plus n.
func DwTapsGo(dst, base *float32, off *int32, w *float32, taps, n int, bias float32) {
	if n <= 0 {
		return
	}
	offs := unsafe.Slice(off, taps)
	dwTapsGo(unsafe.Slice(dst, n), unsafe.Slice(base, maxOffset(offs)+n), offs, unsafe.Slice(w, taps), bias)
}
