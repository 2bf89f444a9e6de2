package kern

// A Gemm of a few rows (a classifier's Linear layer at batch 1 to 4) is a
// matrix-vector product: every element of B is used m times at most, so
// its time is the time to read B once. The blocked driver packs B into
// panels first, transposing it when transB is set (PyTorch's Linear
// layout, B = W of N×K), which reads B twice and writes it once, with
// strided reads. gemmSmall reads B once, in the order it lies.

// gemmSmallRows is the most rows of A gemmSmall takes.
const gemmSmallRows = 4

// GemmSmallOK reports whether gemmSmall handles a problem.
func GemmSmallOK(transA bool, m int) bool { return !transA && m <= gemmSmallRows }

// gemmSmall computes C = alpha·A·op(B) + beta·C for A of m <= gemmSmallRows
// rows (not transposed), splitting the columns of C across env's workers.
// Each element of C is summed by one worker in a fixed order, so results
// do not depend on the worker count. As in every Gemm here, beta = 0
// ignores C's old values (NaN included).
func gemmSmall(env *Env, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	st := TaskOf[gemmSmallTask](env)
	*st = gemmSmallTask{m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transB: transB,
		alpha: alpha, beta: beta, c: c, ldc: ldc, dot: dot32}
	if kern := TierOf(env); kern != nil && kern.Dot != nil {
		st.dot = kern.Dot
	}
	units := n
	if !transB {
		units = CeilDiv(n, gemmSmallCols)
	}
	if 2*m*n*k < parMinFlops {
		st.Range(0, units)
		*st = gemmSmallTask{}
		return
	}
	runTask(env, units, st)
}

// gemmSmallCols is the width of the column blocks of C that gemmSmall
// sums at once when B is not transposed.
const gemmSmallCols = 64

// gemmSmallTask is gemmSmall's loop: over columns j of C when transB,
// else over blocks of gemmSmallCols columns.
type gemmSmallTask struct {
	m, n, k  int
	a, b, c  []float32
	lda, ldb int
	ldc      int
	transB   bool
	alpha    float32
	beta     float32
	dot      func(x, y []float32) float32 // the tier's, or dot32
}

// Range computes columns (or column blocks) [lo, hi) of C.
func (t *gemmSmallTask) Range(lo, hi int) {
	if t.transB {
		// C[i][j] = alpha·dot(A[i], B[j]) + beta·C[i][j], B[j] a row of B
		for j := lo; j < hi; j++ {
			brow := t.b[j*t.ldb : j*t.ldb+t.k]
			for i := range t.m {
				s := t.dot(t.a[i*t.lda:i*t.lda+t.k], brow)
				t.set(i, j, s)
			}
		}
		return
	}
	var acc [gemmSmallCols]float32
	for blk := lo; blk < hi; blk++ {
		j0 := blk * gemmSmallCols
		w := min(gemmSmallCols, t.n-j0)
		for i := range t.m {
			// acc[j] = sum_p A[i][p]·B[p][j0+j], p in order
			s := acc[:w]
			clear(s)
			arow := t.a[i*t.lda : i*t.lda+t.k]
			for p, av := range arow {
				brow := t.b[p*t.ldb+j0 : p*t.ldb+j0+w]
				for j, bv := range brow {
					s[j] += av * bv
				}
			}
			for j, v := range s {
				t.set(i, j0+j, v)
			}
		}
	}
}

// set stores C[i][j] = alpha·s + beta·C[i][j] (alpha·s alone when beta = 0).
func (t *gemmSmallTask) set(i, j int, s float32) {
	p := &t.c[i*t.ldc+j]
	if t.beta == 0 {
		*p = t.alpha * s
	} else {
		*p = t.alpha*s + t.beta**p
	}
}

// dot32 returns sum_p x[p]·y[p] over len(x) terms, summed in eight
// interleaved partial sums (term p into sum p mod 8) combined pairwise at
// the end, then the tail in order.
func dot32(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	p := 0
	for ; p+8 <= len(x); p += 8 {
		xx := (*[8]float32)(x[p : p+8])
		yy := (*[8]float32)(y[p : p+8])
		s0 += xx[0] * yy[0]
		s1 += xx[1] * yy[1]
		s2 += xx[2] * yy[2]
		s3 += xx[3] * yy[3]
		s4 += xx[4] * yy[4]
		s5 += xx[5] * yy[5]
		s6 += xx[6] * yy[6]
		s7 += xx[7] * yy[7]
	}
	s := ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
	for ; p < len(x); p++ {
		s += x[p] * y[p]
	}
	return s
}

// gemvOK reports whether a convolution of geometry g is a matrix-vector
// product that convGemv computes: a 1×1 window over planes of one pixel,
// unpadded (a squeeze-excitation block's convolutions, a classifier
// written as a convolution), one group, at most gemmSmallRows images, and
// at least gemvMinDepth input channels. Its weights are then read once,
// in the order they lie, and not packed.
func gemvOK(g *ConvGeom) bool {
	return g.Group == 1 && g.KH*g.KW == 1 && g.H*g.W == 1 && g.OH*g.OW == 1 &&
		g.PadT+g.PadL+g.PadB+g.PadR == 0 && GemmSmallOK(false, g.N) && g.C >= gemvMinDepth
}

// gemvMinDepth is the fewest input channels convGemv takes: it makes one
// dot product (a call of the tier's Dot) per output channel, which on
// AVX2, one thread, beat the pixel tiles from EfficientNet-B0's 480 → 20
// (7 → 4 µs) to MobileNetV3's 960 → 240 (105 → 80 µs) and 240 → 960
// (110 → 90), and lost on EfficientNet's 20 → 480 and 28 → 672 (7 → 8,
// 11 → 14 µs), where a call's overhead weighs more than its 20 steps.
const gemvMinDepth = 64

// convGemv computes a convolution gemvOK accepts, without a prologue:
//
//	y[n][m] = Act(sum_c w[m][c]·x[n][c] + b[m] + Z[n][m])
//
// the sum by gemmSmall (the tier's Dot kernel, columns of y split across
// workers), then the bias, the residual and the activation row by row.
func convGemv(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	gemmSmall(env, true, g.N, g.M, g.C, 1, x, g.C, w, g.C, 0, y, g.M)
	k := TierOf(env)
	for n := range g.N {
		row := y[n*g.M : (n+1)*g.M]
		if b != nil {
			AddRow(k, row, row, b, false)
		}
		if f.hasPost() {
			var z []float32
			if f.Residual != nil {
				z = f.Residual[n*g.M : (n+1)*g.M]
			}
			residualAct(k, row, z, f.Act)
		}
	}
}
