package kern

// The generic tier's SGEMM, shared by Gemm, MatMul and Conv.
//
// C is cut into tiles of at most mcMax rows by a few column panels of nr
// columns; the tiles (times batch and group for a convolution) are the
// units that env.Par.For spreads over workers. A unit walks the depth in
// blocks of at most kcMax. For each block and each of its panels it packs
// the panel of B (kl rows of nr columns, negated, zero-padded on the right)
// into an array on its own goroutine stack, so that the panel stays in L1,
// and then runs the 1×nr micro-kernel for every row of the tile, reading
// that row of A in place. A convolution packs its panels straight from the
// input image (an implicit im2col), so no im2col buffer and no Env.Scratch
// is needed, and a 1×1, stride-1, unpadded convolution packs from the input
// exactly as a plain matrix.
//
// Every element of C is computed by the same sequence of operations whatever
// the tiling and the number of workers, so results do not depend on
// scheduling.

const (
	nr    = 12  // columns of the widest micro-tile
	kcMax = 256 // most rows of B in one packed panel
	mcMax = 256 // most rows of C in one tile

	// parMinFlops is the smallest problem worth handing to workers.
	parMinFlops = 1 << 16
)

// CeilDiv returns a/b rounded up, for a ≥ 0 and b > 0.
func CeilDiv(a, b int) int { return (a + b - 1) / b }

// TierOf returns env's kernel tier, or nil when env is nil.
func TierOf(env *Env) *Tier {
	if env == nil {
		return nil
	}
	return env.K
}

// ParOf returns env's worker pool, or Serial when there is none.
func ParOf(env *Env) Parallel {
	if env == nil || env.Par == nil {
		return Serial{}
	}
	return env.Par
}

// panelWidth is the micro-kernel width used for a panel with w live columns.
func panelWidth(w int) int {
	switch {
	case w > 8:
		return 12
	case w > 4:
		return 8
	}
	return 4
}

// kBlock is the depth of the packed panels for a sum over k terms: k split
// into blocks of at most kcMax, as evenly as possible. It depends on k only.
func kBlock(k int) int {
	nb := CeilDiv(k, kcMax)
	return CeilDiv(k, nb)
}

// tiling cuts an outer×m×(panels·nr) problem into units for Par.For.
type tiling struct {
	outer          int // independent problems (batch × group)
	mt, nt         int // tiles along the rows and along the panels
	mc, np         int // rows and panels per tile
	m, panels, all int
}

// newTiling chooses the generic tier's tiles: see tilingFor.
func newTiling(outer, m, panels, k, workers int) tiling {
	return tilingFor(outer, m, panels, k, workers, nr, 1, mcMax)
}

// tilingFor chooses the tiles for panels of pw columns: rows are cut at
// mcmax, then the panels are cut until there are about eight units per
// worker, and only then the rows further (packing is repeated per row tile,
// so panel cuts are cheaper). Row tiles are multiples of mr rows.
func tilingFor(outer, m, panels, k, workers, pw, mr, mcmax int) tiling {
	if outer < 1 || m < 1 || panels < 1 {
		return tiling{}
	}
	mt, nt := CeilDiv(m, mcmax), 1
	if workers > 1 && 2*outer*m*panels*pw*k >= parMinFlops {
		target := 8 * workers
		nt = min(panels, max(1, CeilDiv(target, outer*mt)))
		if outer*mt*nt < target {
			mt = max(mt, min(CeilDiv(m, 16), CeilDiv(target, outer*nt)))
		}
	}
	t := tiling{outer: outer, m: m, panels: panels}
	t.mc = CeilDiv(CeilDiv(m, mt), mr) * mr
	t.np = CeilDiv(panels, nt)
	t.mt = CeilDiv(m, t.mc)
	t.nt = CeilDiv(panels, t.np)
	t.all = outer * t.mt * t.nt
	return t
}

// unit returns the outer index, the row range and the panel range of unit u.
func (t *tiling) unit(u int) (o, i0, i1, p0, p1 int) {
	per := t.mt * t.nt
	o, u = u/per, u%per
	im, in := u/t.nt, u%t.nt
	i0 = im * t.mc
	i1 = min(t.m, i0+t.mc)
	p0 = in * t.np
	p1 = min(t.panels, p0+t.np)
	return
}

// gemmOp is one C = alpha·op(A)·op(B) + beta·C (+ bias per row) problem.
type gemmOp struct {
	m, n, k int

	a      []float32
	lda    int
	transA bool

	// B is either a matrix (b, ldb, transB) or, when conv is set, the
	// implicit im2col matrix of the image conv.x.
	b      []float32
	ldb    int
	transB bool
	conv   *convSource

	// apack, when not nil, is A already packed by a blocked tier's
	// packConv (one group's part).
	apack []float32
	// bpack, when not nil, is op(B) already packed by a blocked tier's
	// packGemm.
	bpack []float32

	// plain makes pack store op(B) as it is rather than negated, for the
	// blocked tiers' micro-kernels, which add products.
	plain bool

	c           []float32
	ldc         int
	alpha, beta float32
	bias        []float32 // added to row i after the sum, or nil
	// resid (laid out like c) is added after the bias, then act applied:
	// a fused convolution's epilogue.
	resid []float32
	act   Activation

	// kern, when not nil, is the tier whose vector kernels the epilogue
	// may use.
	kern *Tier
	// accurate makes the generic tier's tile sum the depth in
	// accurateDepth's blocks (the generic tier's accurate variant).
	accurate bool

	// bw and bq, when bw > 0, map the in-place path's product column j
	// to column (j/bw)·bq + j%bw of its source (see tileOffs).
	bw, bq int

	// preScale and preBias, when not nil, are a 1×1 convolution's
	// prologue, applied to row p of B as tileOffs packs it:
	// B'[p][j] = [max(0,] preScale[p]·B[p][j] + preBias[p][)], with the
	// Relu when preRelu is set (see prologueInPack).
	preScale, preBias []float32
	preRelu           bool
}

// aRow returns row i of op(A) from column kb on, and its element stride.
func (op *gemmOp) aRow(i, kb, kl int) ([]float32, int) {
	if !op.transA {
		o := i*op.lda + kb
		return op.a[o : o+kl], 1
	}
	o := kb*op.lda + i
	return op.a[o : o+(kl-1)*op.lda+1], op.lda
}

// pack fills dst (kl rows of kw) with -op(B)[kb+r][j0+j] (+op(B) when
// op.plain is set) for j < w and with zeros for w <= j < kw.
func (op *gemmOp) pack(dst []float32, kb, kl, j0, w, kw int) {
	switch {
	case op.conv != nil:
		op.conv.pack(dst, kb, kl, j0, w, kw, op.plain)
	case !op.transB:
		for r := range kl {
			o := (kb+r)*op.ldb + j0
			src := op.b[o : o+w]
			d := dst[r*kw : r*kw+kw]
			if op.plain {
				copy(d, src)
			} else {
				negate(d, src)
			}
			if w < kw {
				clear(d[w:])
			}
		}
	default:
		sg := packSign(op.plain)
		for j := range w {
			o := (j0+j)*op.ldb + kb
			src := op.b[o : o+kl]
			// dst[r][j] = ±B^T[kb+r][j0+j] = ±b[(j0+j)*ldb + kb+r]
			for r, v := range src {
				dst[r*kw+j] = sg * v
			}
		}
		if w < kw {
			for r := range kl {
				clear(dst[r*kw+w : r*kw+kw])
			}
		}
	}
}

// packSign is the factor packers apply: -1, or 1 for plain panels.
// Multiplying by ±1 is exact.
func packSign(plain bool) float32 {
	if plain {
		return 1
	}
	return -1
}

// negate sets d[j] = -s[j] for j < len(s).
func negate(d, s []float32) {
	d = d[:len(s)]
	for j, v := range s {
		d[j] = -v
	}
}

// store writes the sums acc[:w] of row i, columns j0..j0+w, into C. first
// and last tell whether this depth block is the first or the last one.
func (op *gemmOp) store(i, j0, w int, acc []float32, first, last bool) {
	o := i*op.ldc + j0
	row := op.c[o : o+w]
	src := acc[:len(row)]
	alpha, beta := op.alpha, op.beta
	switch {
	case first && last && alpha == 1 && beta == 0:
		// The whole sum at once, as in a convolution: C[i][j] = sum + bias[i]
		if op.bias == nil {
			copy(row, src)
			break
		}
		bv := op.bias[i]
		for j, v := range src {
			row[j] = v + bv
		}
	case first && beta == 0:
		// C[i][j] = alpha*sum
		for j, v := range src {
			row[j] = alpha * v
		}
	case first:
		// C[i][j] = alpha*sum + beta*C[i][j]
		for j, v := range src {
			row[j] = alpha*v + beta*row[j]
		}
	default:
		// C[i][j] += alpha*sum over this depth block
		for j, v := range src {
			row[j] += alpha * v
		}
	}
	if last && op.bias != nil && !(first && alpha == 1 && beta == 0) {
		bv := op.bias[i]
		// C[i][j] += bias[i]
		for j := range row {
			row[j] += bv
		}
	}
	if last && op.resid != nil {
		z := op.resid[o : o+w]
		// C[i][j] += Z[i][j]
		for j := range row {
			row[j] += z[j]
		}
	}
	if last && op.act.Kind != ActNone {
		op.act.Apply(row)
	}
}

// tile computes rows [i0, i1) of C for the column panels [p0, p1).
func (op *gemmOp) tile(i0, i1, p0, p1 int) {
	var panel [kcMax * nr]float32
	var acc [nr]float32
	kc := kBlock(op.k)
	if op.accurate {
		kc = accurateDepth(op.k, kcMax)
	}
	// C[i][j] = alpha * sum_p op(A)[i][p]*op(B)[p][j] (+ beta*C[i][j]) (+ bias[i]),
	// the sum over p taken block by block of kc, each block by the
	// micro-kernel for one row i and one panel of columns j.
	for kb := 0; kb < op.k; kb += kc {
		kl := min(kc, op.k-kb)
		first, last := kb == 0, kb+kl == op.k
		for p := p0; p < p1; p++ {
			j0 := p * nr
			w := min(nr, op.n-j0)
			kw := panelWidth(w)
			pan := panel[:kl*kw]
			op.pack(pan, kb, kl, j0, w, kw)
			for i := i0; i < i1; i++ {
				ar, as := op.aRow(i, kb, kl)
				switch kw {
				case 12:
					kern12(kl, ar, as, pan, &acc)
				case 8:
					kern8(kl, ar, as, pan, &acc)
				default:
					kern4(kl, ar, as, pan, &acc)
				}
				op.store(i, j0, w, acc[:], first, last)
			}
		}
	}
}

// scaleRows sets C = beta*C (C = 0 when beta is 0) for an m×n C.
func scaleRows(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		// C[i][j] = beta*C[i][j]
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemmGeneric is Generic.Gemm; see Tier.Gemm.
func gemmGeneric(env *Env, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	if GemmSmallOK(transA, m) {
		gemmSmall(env, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	op := &gemmOp{m: m, n: n, k: k, a: a, lda: lda, transA: transA,
		b: b, ldb: ldb, transB: transB, c: c, ldc: ldc, alpha: alpha, beta: beta, accurate: isAccurate(env)}
	par := ParOf(env)
	t := newTiling(1, m, CeilDiv(n, nr), k, par.Workers())
	if t.all == 1 {
		op.tile(0, m, 0, t.panels)
		return
	}
	gt := TaskOf[gemmTask](env)
	*gt = gemmTask{op: *op, t: t}
	runTask(env, t.all, gt)
}

// gemmTask computes units of t, each a range of row blocks and column
// panels of op, on the generic tier's kernels or, with bl set, on a
// blocked tier's.
type gemmTask struct {
	bl   *blocked
	op   gemmOp
	t    tiling
	hint int // the scratch lists' (Env.Hint)
}

// Range computes units [lo, hi).
func (gt *gemmTask) Range(lo, hi int) {
	var buf *blockBufs
	if gt.bl != nil {
		buf = gt.bl.bufs.Get(gt.hint)
		defer gt.bl.bufs.Put(gt.hint, buf)
	}
	for u := lo; u < hi; u++ {
		_, i0, i1, p0, p1 := gt.t.unit(u)
		if gt.bl == nil {
			gt.op.tile(i0, i1, p0, p1)
		} else {
			gt.bl.tile(&gt.op, i0, i1, p0, p1, buf)
		}
	}
}
