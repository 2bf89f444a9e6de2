package cuda

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

// actParams returns the kernel parameters (act, act_p0, act_p1) of a: the
// kind's value is kernels.cu's ACT_* code (the codes follow kern.ActKind's
// order), p0 and p1 the parameters the kind reads.
func actParams(a kern.Activation) (int32, float32, float32) {
	switch a.Kind {
	case kern.ActLeakyRelu:
		return int32(a.Kind), a.Alpha, 0
	case kern.ActClip:
		return int32(a.Kind), a.Min, a.Max
	case kern.ActHardSigmoid:
		return int32(a.Kind), a.Alpha, a.Beta
	}
	return int32(a.Kind), 0, 0
}

// elementwiseThreads is the block size of the one-thread-per-element
// kernels, and reduceThreads that of global_pool and softmax (REDUCE_THREADS).
const (
	elementwiseThreads = 256
	reduceThreads      = 256
	tileM, tileN       = 64, 64 // TILE_M, TILE_N
	tileThreads        = 256    // TILE_THREADS
)

// grid1 returns a 1-D grid covering total elements.
func grid1(total int) Dim3 {
	return Dim3{X: (total + elementwiseThreads - 1) / elementwiseThreads}
}

// checkBuf checks that buffer b (named name) holds at least n float32s;
// a nil b passes when optional.
func checkBuf(name string, b Buffer, n int, optional bool) error {
	if b.IsNil() {
		if optional {
			return nil
		}
		return fmt.Errorf("cuda: %s is missing", name)
	}
	if 4*n > b.size {
		return fmt.Errorf("cuda: %s has %d bytes, needs %d float32s", name, b.size, n)
	}
	return nil
}

// checkCount checks that a tensor of n elements can be indexed by the
// kernels' 32-bit ints.
func checkCount(what string, n int) error {
	if n <= 0 || n > math.MaxInt32 {
		return fmt.Errorf("cuda: %s has %d elements, want 1 to 2^31-1", what, n)
	}
	return nil
}

// one returns v, or 1 when v is 0 (an unset stride or dilation).
func one(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// ConvArgs are a convolution's buffers and fusions:
//
//	y = Act(conv(pre(x), w) + Bias + Residual)
//	pre(x)[n,c,h,w] = InRelu ? max(InScale[c]*x + InShift[c], 0) : InScale[c]*x + InShift[c]
//
// where pre applies to the input's values only (the zero padding stays
// zero). Bias [M], Residual (y's shape) and InScale/InShift [C] may be
// nil; InRelu without InScale applies max(x, 0).
type ConvArgs struct {
	X, W, Y          Buffer
	Bias, Residual   Buffer
	InScale, InShift Buffer
	InRelu           bool
	Act              kern.Activation
}

// Conv queues a convolution of geometry sh on s (2-D: a 1-D one has H =
// KH = 1; zero strides, dilations and groups count as 1; the trailing
// padding only shapes OH and OW): conv2d_depthwise when each group has one
// input channel, else conv2d_igemm.
func (k *Kernels) Conv(s *Stream, sh kern.ConvGeom, a ConvArgs) error {
	// the same geometry with a depth of 1, which the 2-D kernels leave out
	g := kern.Conv3DGeom{N: sh.N, C: sh.C, D: 1, H: sh.H, W: sh.W, M: sh.M, KD: 1, KH: sh.KH, KW: sh.KW,
		OD: 1, OH: sh.OH, OW: sh.OW, PadT: sh.PadT, PadL: sh.PadL, SD: 1, SH: sh.SH, SW: sh.SW,
		DD: 1, DH: sh.DH, DW: sh.DW, Group: sh.Group}
	return k.conv(s, &g, a, false)
}

// Conv3D queues a 3-D convolution of geometry sh on s (over NCDHW data;
// zero strides, dilations and groups count as 1), with the fusions of
// Conv: conv3d_depthwise when each group has one input channel, else
// conv3d_igemm.
func (k *Kernels) Conv3D(s *Stream, sh kern.Conv3DGeom, a ConvArgs) error {
	return k.conv(s, &sh, a, true)
}

// conv checks and queues a convolution of geometry sh: the 3-D kernels
// when vol, else the 2-D ones (sh's depth then 1).
func (k *Kernels) conv(s *Stream, sh *kern.Conv3DGeom, a ConvArgs, vol bool) error {
	g := one(sh.Group)
	sd, sth, stw := one(sh.SD), one(sh.SH), one(sh.SW)
	dd, dh, dw := one(sh.DD), one(sh.DH), one(sh.DW)
	if sh.C%g != 0 || sh.M%g != 0 {
		return fmt.Errorf("cuda: conv: %d input and %d output channels do not split into %d groups", sh.C, sh.M, g)
	}
	if sh.OD <= 0 || sh.OH <= 0 || sh.OW <= 0 || sh.KD <= 0 || sh.KH <= 0 || sh.KW <= 0 ||
		sh.PadF < 0 || sh.PadT < 0 || sh.PadL < 0 {
		return fmt.Errorf("cuda: conv: bad geometry %+v", *sh)
	}
	nx, nw := sh.N*sh.C*sh.D*sh.H*sh.W, sh.M*(sh.C/g)*sh.KD*sh.KH*sh.KW
	ny := sh.N * sh.M * sh.OD * sh.OH * sh.OW
	for _, c := range []struct {
		what string
		n    int
	}{{"conv input", nx}, {"conv weights", nw}, {"conv output", ny}} {
		if err := checkCount(c.what, c.n); err != nil {
			return err
		}
	}
	if (a.InScale.IsNil()) != (a.InShift.IsNil()) {
		return fmt.Errorf("cuda: conv: InScale and InShift must be given together")
	}
	for _, b := range []struct {
		name string
		buf  Buffer
		n    int
		opt  bool
	}{
		{"X", a.X, nx, false}, {"W", a.W, nw, false}, {"Y", a.Y, ny, false},
		{"Bias", a.Bias, sh.M, true}, {"Residual", a.Residual, ny, true},
		{"InScale", a.InScale, sh.C, true}, {"InShift", a.InShift, sh.C, true},
	} {
		if err := checkBuf("conv "+b.name, b.buf, b.n, b.opt); err != nil {
			return err
		}
	}
	act, p0, p1 := actParams(a.Act)
	bufs := []any{a.X, a.W, a.Bias, a.Residual, a.InScale, a.InShift, a.Y}
	tail := []any{a.InRelu, act, p0, p1}
	if sh.C/g == 1 {
		name, dims := "conv2d_depthwise", []any{sh.N, sh.C, sh.H, sh.W, sh.M, sh.KH, sh.KW, sh.OH, sh.OW,
			sh.PadT, sh.PadL, sth, stw, dh, dw}
		if vol {
			name, dims = "conv3d_depthwise", []any{sh.N, sh.C, sh.D, sh.H, sh.W, sh.M, sh.KD, sh.KH, sh.KW, sh.OD, sh.OH, sh.OW,
				sh.PadF, sh.PadT, sh.PadL, sd, sth, stw, dd, dh, dw}
		}
		return s.Launch(k.fn[name], grid1(ny), Dim3{X: elementwiseThreads}, 0, concatArgs(bufs, dims, tail)...)
	}
	grid := Dim3{X: kern.CeilDiv(sh.N*sh.OD*sh.OH*sh.OW, tileN), Y: kern.CeilDiv(sh.M/g, tileM), Z: g}
	if grid.Y > 65535 || grid.Z > 65535 {
		return fmt.Errorf("cuda: conv: grid %v too large", grid)
	}
	name, dims := "conv2d_igemm", []any{sh.N, sh.C, sh.H, sh.W, sh.M, sh.KH, sh.KW, sh.OH, sh.OW, g,
		sh.PadT, sh.PadL, sth, stw, dh, dw}
	if vol {
		name, dims = "conv3d_igemm", []any{sh.N, sh.C, sh.D, sh.H, sh.W, sh.M, sh.KD, sh.KH, sh.KW, sh.OD, sh.OH, sh.OW, g,
			sh.PadF, sh.PadT, sh.PadL, sd, sth, stw, dd, dh, dw}
	}
	return s.Launch(k.fn[name], grid, Dim3{X: tileThreads}, 0, concatArgs(bufs, dims, tail)...)
}

// concatArgs returns the launch arguments a, b and c one after the other.
func concatArgs(a, b, c []any) []any { return append(append(append([]any{}, a...), b...), c...) }

// GemmArgs are an ONNX Gemm's operands and fused activation:
//
//	Y = Act(Alpha * A' * B' + Beta * C)
//
// with A' = A ([M,K]) or its transpose (A stored [K,M]) when TransA, B' =
// B ([K,N]) or its transpose (B stored [N,K]) when TransB, Y [M,N]. C,
// which may be nil, has shape CShape, unidirectionally broadcastable to
// [M,N]: [], [N], [1,N], [M,1], [M,N] and the like.
type GemmArgs struct {
	A, B, C, Y     Buffer
	CShape         []int
	M, N, K        int
	TransA, TransB bool
	Alpha, Beta    float32
	Act            kern.Activation
}

// gemmCStrides returns the row and column strides that broadcast C of
// shape cs to [m, n].
func gemmCStrides(cs []int, m, n int) (rs, cols int, err error) {
	if len(cs) > 2 {
		return 0, 0, fmt.Errorf("cuda: gemm: C has rank %d", len(cs))
	}
	full := []int{1, 1}
	copy(full[2-len(cs):], cs)
	if (full[0] != 1 && full[0] != m) || (full[1] != 1 && full[1] != n) {
		return 0, 0, fmt.Errorf("cuda: gemm: C of shape %v does not broadcast to [%d %d]", cs, m, n)
	}
	if full[1] == n && n > 1 {
		cols = 1
	}
	if full[0] == m && m > 1 {
		rs = full[1]
	}
	return rs, cols, nil
}

// Gemm queues an ONNX Gemm on s.
func (k *Kernels) Gemm(s *Stream, a GemmArgs) error {
	for _, c := range []struct {
		what string
		n    int
	}{{"gemm A", a.M * a.K}, {"gemm B", a.K * a.N}, {"gemm Y", a.M * a.N}} {
		if err := checkCount(c.what, c.n); err != nil {
			return err
		}
	}
	rs, cs, nc := 0, 0, 0
	if !a.C.IsNil() {
		var err error
		if rs, cs, err = gemmCStrides(a.CShape, a.M, a.N); err != nil {
			return err
		}
		nc = 1
		for _, d := range a.CShape {
			nc *= d
		}
	}
	for _, b := range []struct {
		name string
		buf  Buffer
		n    int
		opt  bool
	}{{"A", a.A, a.M * a.K, false}, {"B", a.B, a.K * a.N, false}, {"C", a.C, nc, true}, {"Y", a.Y, a.M * a.N, false}} {
		if err := checkBuf("gemm "+b.name, b.buf, b.n, b.opt); err != nil {
			return err
		}
	}
	grid := Dim3{X: kern.CeilDiv(a.N, tileN), Y: kern.CeilDiv(a.M, tileM)}
	if grid.Y > 65535 {
		return fmt.Errorf("cuda: gemm: grid %v too large", grid)
	}
	act, p0, p1 := actParams(a.Act)
	return s.Launch(k.fn["gemm"], grid, Dim3{X: tileThreads}, 0,
		a.A, a.B, a.C, a.Y, a.M, a.N, a.K, a.TransA, a.TransB, a.Alpha, a.Beta, rs, cs, act, p0, p1)
}

// checkPool validates a pool's geometry and buffers, and returns its
// output's length and the geometry as kernels.cu's struct PoolGeom:
// planes, then in, out, k, s, dil, pad0 and pad1 of the depth, height and
// width axes.
func checkPool(g *kern.PoolGeom, x, y Buffer) (int, []int32, error) {
	p := []int32{int32(g.Planes)}
	for _, a := range []kern.PoolAxis{g.D, g.H, g.W} {
		if a.In <= 0 || a.Out <= 0 || a.K <= 0 || a.S <= 0 || a.Dil <= 0 || a.Pad0 < 0 || a.Pad1 < 0 ||
			max(a.In, a.Out, a.K*a.Dil, a.Out*a.S, a.Pad0, a.Pad1) > math.MaxInt32/4 {
			return 0, nil, fmt.Errorf("cuda: pool: bad geometry %+v", *g)
		}
		p = append(p, int32(a.In), int32(a.Out), int32(a.K), int32(a.S), int32(a.Dil), int32(a.Pad0), int32(a.Pad1))
	}
	nx := g.Planes * g.D.In * g.H.In * g.W.In
	ny := g.Planes * g.D.Out * g.H.Out * g.W.Out
	if err := checkCount("pool input", nx); err != nil {
		return 0, nil, err
	}
	if err := checkCount("pool output", ny); err != nil {
		return 0, nil, err
	}
	if err := checkBuf("pool X", x, nx, false); err != nil {
		return 0, nil, err
	}
	return ny, p, checkBuf("pool Y", y, ny, false)
}

// MaxPool queues a max pool of geometry g (1-D, 2-D or 3-D) on s, without
// Indices.
func (k *Kernels) MaxPool(s *Stream, g kern.PoolGeom, x, y Buffer) error {
	ny, p, err := checkPool(&g, x, y)
	if err != nil {
		return err
	}
	return s.Launch(k.fn["maxpool3d"], grid1(ny), Dim3{X: elementwiseThreads}, 0, x, y, ny, p)
}

// AvgPool queues an average pool of geometry g (1-D, 2-D or 3-D) on s;
// countIncludePad is ONNX's count_include_pad.
func (k *Kernels) AvgPool(s *Stream, g kern.PoolGeom, countIncludePad bool, x, y Buffer) error {
	ny, p, err := checkPool(&g, x, y)
	if err != nil {
		return err
	}
	return s.Launch(k.fn["avgpool3d"], grid1(ny), Dim3{X: elementwiseThreads}, 0, x, y, ny, p, countIncludePad)
}

// GlobalPool queues a global average (isMax false) or max pool on s: y[p]
// is the mean or maximum of the hw elements of plane p of x, p < planes.
func (k *Kernels) GlobalPool(s *Stream, planes, hw int, isMax bool, x, y Buffer) error {
	if err := checkCount("global pool input", planes*hw); err != nil {
		return err
	}
	if err := checkBuf("global pool X", x, planes*hw, false); err != nil {
		return err
	}
	if err := checkBuf("global pool Y", y, planes, false); err != nil {
		return err
	}
	return s.Launch(k.fn["global_pool"], Dim3{X: planes}, Dim3{X: reduceThreads}, 0, x, y, hw, isMax)
}

// Affine queues y[n,c,i] = act(a[c]*x[n,c,i] + b[c]) on s over x of shape
// [n, c, hw]; y may be x.
func (k *Kernels) Affine(s *Stream, n, c, hw int, x, a, b, y Buffer, act kern.Activation) error {
	total := n * c * hw
	if err := checkCount("affine tensor", total); err != nil {
		return err
	}
	for _, e := range []struct {
		name string
		buf  Buffer
		n    int
	}{{"X", x, total}, {"A", a, c}, {"B", b, c}, {"Y", y, total}} {
		if err := checkBuf("affine "+e.name, e.buf, e.n, false); err != nil {
			return err
		}
	}
	ak, p0, p1 := actParams(act)
	return s.Launch(k.fn["affine_act"], grid1(total), Dim3{X: elementwiseThreads}, 0,
		x, a, b, y, total, c, hw, ak, p0, p1)
}

// Unary queues y[i] = act(x[i]) on s for n elements; y may be x.
func (k *Kernels) Unary(s *Stream, n int, x, y Buffer, act kern.Activation) error {
	if err := checkCount("unary tensor", n); err != nil {
		return err
	}
	if err := checkBuf("unary X", x, n, false); err != nil {
		return err
	}
	if err := checkBuf("unary Y", y, n, false); err != nil {
		return err
	}
	ak, p0, p1 := actParams(act)
	return s.Launch(k.fn["unary_act"], grid1(n), Dim3{X: elementwiseThreads}, 0, x, y, n, ak, p0, p1)
}

// maxDims is the most dimensions binary_bcast handles (MAX_DIMS), after
// merging.
const maxDims = 6

// broadcast is binary_bcast's plan: the output's dimensions and each
// input's strides in them (0 along a broadcast dimension), with adjacent
// dimensions merged where both inputs allow it (kern.PlanBroadcast's loop
// nest, the one the CPU's element-wise operators walk).
type broadcast struct {
	out    []int // the output shape, unmerged
	dims   []int
	sa, sb []int
}

// planBroadcast broadcasts shapes a and b (numpy rules, right-aligned).
func planBroadcast(a, b []int) (*broadcast, error) {
	out, ok := kern.BroadcastShape(a, b)
	if !ok {
		return nil, fmt.Errorf("cuda: shapes %v and %v do not broadcast", a, b)
	}
	l := kern.PlanBroadcast(out, a, b)
	if len(l.Dims) > maxDims {
		return nil, fmt.Errorf("cuda: broadcasting %v and %v needs %d dimensions, more than %d", a, b, len(l.Dims), maxDims)
	}
	return &broadcast{out: out, dims: l.Dims, sa: l.Strides[0], sb: l.Strides[1]}, nil
}

// param returns the plan as kernels.cu's struct Broadcast.
func (pl *broadcast) param() []int32 {
	p := make([]int32, 1+3*maxDims)
	p[0] = int32(len(pl.dims))
	for i := range pl.dims {
		p[1+i] = int32(pl.dims[i])
		p[1+maxDims+i] = int32(pl.sa[i])
		p[1+2*maxDims+i] = int32(pl.sb[i])
	}
	return p
}

// Binary queues y = a op b on s, a of shape aShape and b of shape bShape
// broadcast to their common shape (numpy's rules), which y has.
func (k *Kernels) Binary(s *Stream, op kern.BinaryOp, aShape, bShape []int, a, b, y Buffer) error {
	if !op.Valid() {
		return fmt.Errorf("cuda: unknown binary op %d", op)
	}
	pl, err := planBroadcast(aShape, bShape)
	if err != nil {
		return err
	}
	prod := func(s []int) int {
		n := 1
		for _, d := range s {
			n *= d
		}
		return n
	}
	total := prod(pl.out)
	if err := checkCount("binary output", total); err != nil {
		return err
	}
	for _, e := range []struct {
		name string
		buf  Buffer
		n    int
	}{{"A", a, prod(aShape)}, {"B", b, prod(bShape)}, {"Y", y, total}} {
		if err := checkBuf("binary "+e.name, e.buf, e.n, false); err != nil {
			return err
		}
	}
	return s.Launch(k.fn["binary_bcast"], grid1(total), Dim3{X: elementwiseThreads}, 0,
		a, b, y, total, int32(op), pl.param())
}

// Concat queues the copy of x, of shape [outer, cIn, inner], into channels
// cOff to cOff+cIn-1 of y, of shape [outer, cOut, inner]: a concat along
// an axis is one Concat per input, with outer and inner the products of
// the dimensions before and after that axis.
func (k *Kernels) Concat(s *Stream, outer, inner int, x Buffer, cIn int, y Buffer, cOut, cOff int) error {
	if cOff < 0 || cOff+cIn > cOut {
		return fmt.Errorf("cuda: concat: channels %d..%d do not fit in %d", cOff, cOff+cIn-1, cOut)
	}
	if err := checkCount("concat output", outer*cOut*inner); err != nil {
		return err
	}
	if err := checkBuf("concat X", x, outer*cIn*inner, false); err != nil {
		return err
	}
	if err := checkBuf("concat Y", y, outer*cOut*inner, false); err != nil {
		return err
	}
	n := outer * cIn * inner
	return s.Launch(k.fn["concat_copy"], grid1(n), Dim3{X: elementwiseThreads}, 0,
		x, y, outer, cIn*inner, cOut*inner, cOff*inner)
}

// Softmax queues a softmax of x, of shape [outer, dim, inner], along its
// middle axis into y (inner = 1 for the last axis; opsets before 13
// flatten to [outer, dim] with inner = 1), or with log its logarithm
// (LogSoftmax).
func (k *Kernels) Softmax(s *Stream, outer, dim, inner int, log bool, x, y Buffer) error {
	n := outer * dim * inner
	if err := checkCount("softmax tensor", n); err != nil {
		return err
	}
	if err := checkBuf("softmax X", x, n, false); err != nil {
		return err
	}
	if err := checkBuf("softmax Y", y, n, false); err != nil {
		return err
	}
	return s.Launch(k.fn["softmax"], Dim3{X: outer * inner}, Dim3{X: reduceThreads}, 0, x, y, dim, inner, log)
}

// Pad queues y = x padded on s: x of shape in, y of shape out, begin[d]
// the leading pad of dimension d (negative crops), the rest at the end;
// mode says what fills positions outside x (value for kern.PadConstant).
func (k *Kernels) Pad(s *Stream, in, out, begin []int, mode kern.PadMode, value float32, x, y Buffer) error {
	if len(in) != len(out) || len(begin) != len(in) || len(in) > maxDims {
		return fmt.Errorf("cuda: pad: shapes %v, %v and begin %v (at most %d dimensions)", in, out, begin, maxDims)
	}
	if !mode.Valid() {
		return fmt.Errorf("cuda: pad: unknown mode %d", mode)
	}
	nIn, nOut := 1, 1
	// g is kernels.cu's PadGeom: ndim, out_dims, in_dims, begin.
	g := make([]int32, 1+3*maxDims)
	g[0] = int32(len(in))
	for d := range in {
		if in[d] < 0 || out[d] < 0 {
			return fmt.Errorf("cuda: pad: negative dimension in %v or %v", in, out)
		}
		if out[d] > 0 && in[d] == 0 && mode != kern.PadConstant {
			return fmt.Errorf("cuda: pad: edge or reflect padding of empty dimension %d", d)
		}
		nIn *= in[d]
		nOut *= out[d]
		if begin[d] < math.MinInt32 || begin[d] > math.MaxInt32 {
			return fmt.Errorf("cuda: pad: begin %v out of range", begin)
		}
		g[1+d], g[1+maxDims+d], g[1+2*maxDims+d] = int32(out[d]), int32(in[d]), int32(begin[d])
	}
	if err := checkCount("pad input", nIn); err != nil {
		return err
	}
	if err := checkCount("pad output", nOut); err != nil {
		return err
	}
	if nOut == 0 {
		return nil
	}
	if err := checkBuf("pad X", x, nIn, nIn == 0); err != nil {
		return err
	}
	if err := checkBuf("pad Y", y, nOut, false); err != nil {
		return err
	}
	return s.Launch(k.fn["pad_nd"], grid1(nOut), Dim3{X: elementwiseThreads}, 0, x, y, nOut, g, int32(mode), value)
}

// ConvTranspose queues y = convtranspose(x, w) + bias on s for the
// geometry sh (kern.ConvTransposeGeom's: a 1-D one has H = KH = OH = 1;
// PadT and PadL may be negative; zero strides, dilations and groups count
// as 1); bias ([M]) may be nil.
func (k *Kernels) ConvTranspose(s *Stream, sh kern.ConvTransposeGeom, x, w, bias, y Buffer) error {
	// the same geometry with a depth of 1, which conv_transpose2d leaves out
	g := kern.ConvTranspose3DGeom{N: sh.N, C: sh.C, D: 1, H: sh.H, W: sh.W, M: sh.M, KD: 1, KH: sh.KH, KW: sh.KW,
		OD: 1, OH: sh.OH, OW: sh.OW, PadT: sh.PadT, PadL: sh.PadL, SD: 1, SH: sh.SH, SW: sh.SW,
		DD: 1, DH: sh.DH, DW: sh.DW, Group: sh.Group}
	return k.convTranspose(s, &g, x, w, bias, y, false)
}

// ConvTranspose3D queues a 3-D transposed convolution of geometry sh on s
// (kern.ConvTranspose3DGeom's, over NCDHW data; the pads may be negative;
// zero strides, dilations and groups count as 1); bias ([M]) may be nil.
func (k *Kernels) ConvTranspose3D(s *Stream, sh kern.ConvTranspose3DGeom, x, w, bias, y Buffer) error {
	return k.convTranspose(s, &sh, x, w, bias, y, true)
}

// convTranspose checks and queues a transposed convolution of geometry
// sh: conv_transpose3d when vol, else conv_transpose2d (sh's depth then
// 1).
func (k *Kernels) convTranspose(s *Stream, sh *kern.ConvTranspose3DGeom, x, w, bias, y Buffer, vol bool) error {
	g := one(sh.Group)
	if sh.C%g != 0 || sh.M%g != 0 {
		return fmt.Errorf("cuda: conv transpose: %d input and %d output channels do not split into %d groups", sh.C, sh.M, g)
	}
	if sh.N <= 0 || sh.C <= 0 || sh.D <= 0 || sh.H <= 0 || sh.W <= 0 || sh.M <= 0 || sh.KD <= 0 || sh.KH <= 0 || sh.KW <= 0 ||
		sh.OD <= 0 || sh.OH <= 0 || sh.OW <= 0 || sh.SD < 0 || sh.SH < 0 || sh.SW < 0 || sh.DD < 0 || sh.DH < 0 || sh.DW < 0 {
		return fmt.Errorf("cuda: conv transpose: bad geometry %+v", *sh)
	}
	sd, sth, stw, dd, dh, dw := one(sh.SD), one(sh.SH), one(sh.SW), one(sh.DD), one(sh.DH), one(sh.DW)
	// The kernel computes oh + PadT - kh·DilH and the like in 32 bits.
	if max(abs(sh.PadF)+sh.OD+sh.KD*dd, abs(sh.PadT)+sh.OH+sh.KH*dh, abs(sh.PadL)+sh.OW+sh.KW*dw) > math.MaxInt32/2 {
		return fmt.Errorf("cuda: conv transpose: geometry %+v out of range", *sh)
	}
	nx, nw := sh.N*sh.C*sh.D*sh.H*sh.W, sh.C*(sh.M/g)*sh.KD*sh.KH*sh.KW
	ny := sh.N * sh.M * sh.OD * sh.OH * sh.OW
	for _, c := range []struct {
		what string
		n    int
	}{{"conv transpose input", nx}, {"conv transpose weights", nw}, {"conv transpose output", ny}} {
		if err := checkCount(c.what, c.n); err != nil {
			return err
		}
	}
	for _, b := range []struct {
		name string
		buf  Buffer
		n    int
		opt  bool
	}{{"X", x, nx, false}, {"W", w, nw, false}, {"Bias", bias, sh.M, true}, {"Y", y, ny, false}} {
		if err := checkBuf("conv transpose "+b.name, b.buf, b.n, b.opt); err != nil {
			return err
		}
	}
	if vol {
		return s.Launch(k.fn["conv_transpose3d"], grid1(ny), Dim3{X: elementwiseThreads}, 0,
			x, w, bias, y, sh.N, sh.C, sh.D, sh.H, sh.W, sh.M, sh.KD, sh.KH, sh.KW, sh.OD, sh.OH, sh.OW, g,
			sh.PadF, sh.PadT, sh.PadL, sd, sth, stw, dd, dh, dw)
	}
	return s.Launch(k.fn["conv_transpose2d"], grid1(ny), Dim3{X: elementwiseThreads}, 0,
		x, w, bias, y, sh.N, sh.C, sh.H, sh.W, sh.M, sh.KH, sh.KW, sh.OH, sh.OW, g,
		sh.PadT, sh.PadL, sth, stw, dh, dw)
}

// abs returns |v|.
func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// ResizeTaps are the taps of one axis of a Resize, In values resized to
// Out: output i reads the K input indexes Tap[i·K : (i+1)·K] (int32s, each
// in [0, In)) with the weights W[i·K : (i+1)·K] (float32s), or is the
// extrapolation value when Tap[i·K] is -1. An axis a Resize leaves as it
// is has K = 1, Tap[i] = i and weight 1.
type ResizeTaps struct {
	In, Out, K int
	Tap, W     Buffer
}

// check validates the taps' sizes.
func (t *ResizeTaps) check(what string) error {
	if t.In <= 0 || t.Out <= 0 || t.K <= 0 {
		return fmt.Errorf("cuda: resize: %s taps: %d to %d values, %d taps each", what, t.In, t.Out, t.K)
	}
	if err := checkCount("resize "+what+" taps", t.Out*t.K); err != nil {
		return err
	}
	if err := checkBuf("resize "+what+" Tap", t.Tap, t.Out*t.K, false); err != nil {
		return err
	}
	return checkBuf("resize "+what+" W", t.W, t.Out*t.K, false)
}

// ResizeAxis queues one axis of a Resize on s: x, seen as [outer, t.In,
// inner], resampled along its middle axis into y, [outer, t.Out, inner];
// ext is the extrapolation value.
func (k *Kernels) ResizeAxis(s *Stream, outer, inner int, t ResizeTaps, ext float32, x, y Buffer) error {
	if err := t.check("axis"); err != nil {
		return err
	}
	nx, ny := outer*t.In*inner, outer*t.Out*inner
	if err := checkResizeIO(nx, ny, x, y); err != nil {
		return err
	}
	return s.Launch(k.fn["resize_axis"], grid1(ny), Dim3{X: elementwiseThreads}, 0,
		x, y, t.Tap, t.W, outer, t.In, t.Out, inner, t.K, ext)
}

// checkResizeIO checks a Resize's element counts, nx in and ny out, and
// that x and y hold them.
func checkResizeIO(nx, ny int, x, y Buffer) error {
	if err := checkCount("resize input", nx); err != nil {
		return err
	}
	if err := checkCount("resize output", ny); err != nil {
		return err
	}
	if err := checkBuf("resize X", x, nx, false); err != nil {
		return err
	}
	return checkBuf("resize Y", y, ny, false)
}

// ResizeHW queues a Resize of the last two axes on s in one pass: x, seen
// as [planes, rows.In, cols.In], resampled into y, [planes, rows.Out,
// cols.Out]; ext is the extrapolation value.
func (k *Kernels) ResizeHW(s *Stream, planes int, rows, cols ResizeTaps, ext float32, x, y Buffer) error {
	if err := rows.check("row"); err != nil {
		return err
	}
	if err := cols.check("column"); err != nil {
		return err
	}
	nx, ny := planes*rows.In*cols.In, planes*rows.Out*cols.Out
	if err := checkResizeIO(nx, ny, x, y); err != nil {
		return err
	}
	return s.Launch(k.fn["resize_hw"], grid1(ny), Dim3{X: elementwiseThreads}, 0,
		x, y, rows.Tap, rows.W, cols.Tap, cols.W, planes, rows.In, cols.In, rows.Out, cols.Out, rows.K, cols.K, ext)
}

// StridedCopy queues y[i] = x[offset + Σ_d c_d·strides[d]] on s, c the
// coordinates of output index i in dims (row-major): a Slice, a Transpose
// or a part of a Split. x holds nx float32s; every index the copy reads
// must lie in [0, nx). Strides may be negative or zero. Adjacent
// dimensions that step through x as one are merged; at most 6 may remain.
func (k *Kernels) StridedCopy(s *Stream, dims, strides []int, offset int, x Buffer, nx int, y Buffer) error {
	if len(dims) != len(strides) {
		return fmt.Errorf("cuda: strided copy: %d dims and %d strides", len(dims), len(strides))
	}
	total, lo, hi := 1, offset, offset
	var md, ms []int // merged dims and strides
	for i, d := range dims {
		if d < 0 {
			return fmt.Errorf("cuda: strided copy: negative dimension in %v", dims)
		}
		total *= d
		if total > math.MaxInt32 {
			return fmt.Errorf("cuda: strided copy: output %v too large", dims)
		}
		if d == 1 {
			continue
		}
		if st := strides[i]; st < 0 {
			lo += (d - 1) * st
		} else {
			hi += (d - 1) * st
		}
		if j := len(md) - 1; j >= 0 && ms[j] == strides[i]*d {
			md[j] *= d
			ms[j] = strides[i]
			continue
		}
		md, ms = append(md, d), append(ms, strides[i])
	}
	if total == 0 {
		return nil
	}
	if lo < 0 || hi >= nx {
		return fmt.Errorf("cuda: strided copy of %v by strides %v from %d reads outside the %d values of x", dims, strides, offset, nx)
	}
	if len(md) == 0 {
		md, ms = []int{1}, []int{0}
	}
	if len(md) > maxDims {
		return fmt.Errorf("cuda: strided copy of %v by strides %v needs %d dimensions, more than %d", dims, strides, len(md), maxDims)
	}
	if err := checkCount("strided copy input", nx); err != nil {
		return err
	}
	if err := checkBuf("strided copy X", x, nx, false); err != nil {
		return err
	}
	if err := checkBuf("strided copy Y", y, total, false); err != nil {
		return err
	}
	// g is kernels.cu's struct Strided: ndim, dims, stride.
	g := make([]int32, 1+2*maxDims)
	g[0] = int32(len(md))
	for i := range md {
		g[1+i], g[1+maxDims+i] = int32(md[i]), int32(ms[i])
	}
	return s.Launch(k.fn["strided_copy"], grid1(total), Dim3{X: elementwiseThreads}, 0, x, y, total, offset, g)
}

// reduceBlockMin is the fewest values per output that reduce_block, one
// block per output, reduces; fewer are reduce_thread's, one thread each.
const reduceBlockMin = 128

// Reduce queues a reduction on s: output element o of y, whose coordinates
// in kept (row-major) are c, is the rule op over the values of x at
// Σ_d c[d]·keptStride[d] + Σ_e r[e]·redStride[e] for every coordinate r
// of red. x holds nx float32s, and every offset must lie in [0, nx). At
// most 6 kept and 6 reduced dimensions (none kept: one output); red may
// not be empty.
func (k *Kernels) Reduce(s *Stream, op kern.ReduceOp, kept, keptStride, red, redStride []int, x Buffer, nx int, y Buffer) error {
	if !op.Valid() {
		return fmt.Errorf("cuda: unknown reduction %d", op)
	}
	if len(kept) != len(keptStride) || len(red) != len(redStride) || len(red) == 0 || len(kept) > maxDims || len(red) > maxDims {
		return fmt.Errorf("cuda: reduce: kept %v by %v, reduced %v by %v (at most %d each, some reduced)",
			kept, keptStride, red, redStride, maxDims)
	}
	// g is kernels.cu's struct Reduce: nkept, kept, kept_stride, nred,
	// red, red_stride.
	g := make([]int32, 2+4*maxDims)
	g[0], g[1+2*maxDims] = int32(len(kept)), int32(len(red))
	total, count, hi := 1, 1, 0
	for i, d := range kept {
		if d <= 0 || keptStride[i] < 0 {
			return fmt.Errorf("cuda: reduce: kept %v by strides %v", kept, keptStride)
		}
		total *= d
		hi += (d - 1) * keptStride[i]
		g[1+i], g[1+maxDims+i] = int32(d), int32(keptStride[i])
	}
	for i, d := range red {
		if d <= 0 || redStride[i] < 0 {
			return fmt.Errorf("cuda: reduce: reduced %v by strides %v", red, redStride)
		}
		count *= d
		hi += (d - 1) * redStride[i]
		g[2+2*maxDims+i], g[2+3*maxDims+i] = int32(d), int32(redStride[i])
	}
	if err := checkCount("reduce input", nx); err != nil {
		return err
	}
	if err := checkCount("reduce output", total); err != nil {
		return err
	}
	if err := checkCount("reduced values", count); err != nil {
		return err
	}
	if hi >= nx {
		return fmt.Errorf("cuda: reduce of %v by %v over %v by %v reads outside the %d values of x", kept, keptStride, red, redStride, nx)
	}
	if err := checkBuf("reduce X", x, nx, false); err != nil {
		return err
	}
	if err := checkBuf("reduce Y", y, total, false); err != nil {
		return err
	}
	if count >= reduceBlockMin {
		return s.Launch(k.fn["reduce_block"], Dim3{X: total}, Dim3{X: reduceThreads}, 0, x, y, count, int32(op), g)
	}
	return s.Launch(k.fn["reduce_thread"], grid1(total), Dim3{X: elementwiseThreads}, 0, x, y, total, count, int32(op), g)
}
