package ops

// ConvGeom is the geometry of a 2-D convolution over NCHW data (a 1-D
// convolution is the case H = KH = 1). Input x is [N, C, H, W], weights w
// are [M, C/Group, KH, KW], output y is [N, M, OH, OW], where
//
//	OH = (H + PadT + PadB - DH*(KH-1) - 1)/SH + 1
//
// and likewise for OW.
type ConvGeom struct {
	N, C, H, W             int
	M, KH, KW              int
	OH, OW                 int
	PadT, PadL, PadB, PadR int
	SH, SW                 int
	DH, DW                 int
	Group                  int
}

// Kernels is the kernel table: the hot primitives that operators call
// through Env.K. Each tier (reference, portable Go, and later assembly and
// CUDA) fills one; the runtime picks one per session.
type Kernels struct {
	// Name identifies the tier ("ref", "generic", ...).
	Name string

	// Conv computes y = conv(x, w) + b for geometry g; b may be nil.
	Conv func(env *Env, g *ConvGeom, x, w, b, y []float32)
	// ConvScratch is how many float32 scratch elements Conv needs for g.
	ConvScratch func(g *ConvGeom) int

	// Gemm computes, in row-major storage,
	//
	//	C[i][j] = alpha * sum_k op(A)[i][k]*op(B)[k][j] + beta*C[i][j]
	//
	// for i < m, j < n, where op(A) is A or its transpose as transA says
	// (A is m×k, or k×m when transposed, with row stride lda) and likewise
	// for B (k×n or n×k, stride ldb); C is m×n with stride ldc. When beta
	// is 0, C is not read.
	Gemm func(env *Env, transA, transB bool, m, n, k int, alpha float32,
		a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}
