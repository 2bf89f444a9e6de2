package kern

import (
	"sync"
	"unsafe"
)

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

// MACs counts the convolution's multiply-accumulates:
//
//	N · M · OH · OW · (C/Group) · KH · KW
func (g *ConvGeom) MACs() int64 {
	return int64(g.N) * int64(g.M) * int64(g.OH) * int64(g.OW) * int64(g.C/g.Group) * int64(g.KH) * int64(g.KW)
}

// Tier is a kernel table: the hot primitives that operators call
// through Env.K. Each tier (reference, portable Go, and later assembly and
// CUDA) fills one; the runtime picks one per session.
type Tier struct {
	// Name identifies the tier ("ref", "generic", ...).
	Name string

	// Conv computes y = conv(x, w) + b for geometry g; b may be nil. With
	// a fusion f (nil for none) it computes
	//
	//	y = f.Act(conv(f.Pre(x), w) + b + f.Residual)
	//
	// applying the prologue to input values as it reads them (padding
	// stays 0) and the epilogue to outputs before it stores them.
	Conv func(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion)
	// ConvScratch is how many float32 scratch elements Conv needs per
	// worker for g.
	ConvScratch func(g *ConvGeom) int
	// ConvTranspose, when not nil, computes a transposed convolution of
	// geometry g, y = convtranspose(x, w) + b, b possibly nil (see
	// ConvTranspose); nil means the col2im path on the tier's Gemm
	// (convTransposeGemm). The reference sets it to its direct loop.
	ConvTranspose func(env *Env, g *ConvTransposeGeom, x, w, b, y []float32)
	// Conv3D and ConvTranspose3D, when not nil, compute the 3-D
	// convolution (with its fusion, as Conv) and transposed convolution of
	// geometry g (see Conv3D and ConvTranspose3D); nil means the paths on
	// the tier's Gemm (conv3DGemm, convTranspose3DGemm). The reference
	// sets them to its direct loops.
	Conv3D          func(env *Env, g *Conv3DGeom, x, w, b, y []float32, f *ConvFusion)
	ConvTranspose3D func(env *Env, g *ConvTranspose3DGeom, x, w, b, y []float32)
	// Affine, when not nil, computes dst[i] = scale*src[i] + bias (the
	// product and the sum each rounded), then max(0, ·) when relu is set,
	// for i < len(src); nil means the portable loop (see AffineRow).
	Affine func(dst, src []float32, scale, bias float32, relu bool)
	// Add, when not nil, computes dst[i] = a[i] + b[i], then max(0, ·)
	// when relu is set, for i < len(dst); nil means the portable loop
	// (see AddRow).
	Add func(dst, a, b []float32, relu bool)
	// Mul, when not nil, computes dst[i] = a[i·sa]·b[i·sb] for i <
	// len(dst), strides 0 or 1; nil means the portable loop (mulGo).
	Mul func(dst, a []float32, sa int, b []float32, sb int)
	// Max, when not nil, computes dst[i] = max(a[i], b[i]) as the
	// builtin max does (NaN wins, +0 above -0), for i < len(dst); nil
	// means the portable loop (see MaxRow). dst may be a or b.
	Max func(dst, a, b []float32)
	// Sum, when not nil, returns the sum of x accumulated in float32 in
	// the tier's fixed order; nil means the portable float64 sum (see
	// SumRow).
	Sum func(x []float32) float32
	// ColSum, when not nil, computes dst[j] = src[j] + src[ld+j] + ... +
	// src[(rows-1)·ld+j] for j < len(dst), rows at least 1, added in that
	// order in float32, as ColSumRow does without it (a global average
	// pool's sums over a pixel-major tensor).
	ColSum func(dst, src []float32, ld, rows int)
	// Dot, when not nil, returns sum x[i]·y[i] over the length of x (y at
	// least as long) in float32, in the tier's fixed order; nil means the
	// portable loop (see dot32).
	Dot func(x, y []float32) float32
	// Axpy, when not nil, computes dst[i] += a·x[i] (the product rounded
	// before the sum) for i < len(dst); nil means the portable loop (see
	// axpyRow).
	Axpy func(dst, x []float32, a float32)
	// DwTaps, when not nil, computes a depthwise window's sum for a run of
	// outputs, dst[j] = bias + Σ_t w[t]·base[off[t]+j] for j < len(dst),
	// each product fused with the sum (rounded once), taps in order (see
	// dwTapsGo); convDirect then takes it instead of one Axpy per tap.
	DwTaps func(dst, base []float32, off []int32, w []float32, bias float32)
	// ClipTile, when not nil, clips rows [0, rows) of the tile at c in
	// place, n values each, row r at c[r·ldc:], as Clip does.
	ClipTile func(c []float32, ldc, rows, n int, lo, hi float32)
	// MaxPool3s2 and AvgPool2s2, when not nil, compute a row of a 3×3 or
	// 2×2 stride-2 pooling's windows that lie inside the input, as
	// package ops' planeRows does (see its poolRowFast); MaxPool3s2Go is
	// the first's portable twin.
	MaxPool3s2 func(dst, r0, r1, r2 []float32)
	AvgPool2s2 func(dst, r0, r1 []float32, div float32)
	// AvgPool2s2Rows, when not nil, computes rows rows of n outputs of a
	// 2×2 stride-2 average pooling whose windows all lie inside the
	// input, output row r at dst[r·ldd:] from the input rows 2r and 2r+1
	// at src[2r·lds:] and src[(2r+1)·lds:], as AvgPool2s2RowsGo does
	// (whole planes, or runs of planes, in one call).
	AvgPool2s2Rows func(dst []float32, ldd int, src []float32, lds, rows, n int, div float32)
	// MaxPool3s2Rows, when not nil, computes rows rows of n windows of a
	// 3×3 stride-2 max pooling that lie inside the input, output row r at
	// dst[r·ldd:] from the input rows 2r, 2r+1 and 2r+2 at src[2r·lds:]
	// on, as MaxPool3s2RowsGo does (a plane's rows in one call, for any
	// n).
	MaxPool3s2Rows func(dst []float32, ldd int, src []float32, lds, rows, n int)
	// Clip, when not nil, computes dst[i] = min(max(src[i], lo), hi) as
	// the builtins do, for i < len(dst); nil means the portable loop (see
	// clipRow).
	Clip func(dst, src []float32, lo, hi float32)
	// Relu, when not nil, computes dst[i] = max(src[i], 0) as the builtin
	// does, for i < len(dst) (the Clip kernel with bounds 0 and +Inf);
	// nil means the portable loop (see reluRow).
	Relu func(dst, src []float32)
	// Sigmoid, when not nil, computes dst[i] = 1/(1 + exp(-src[i])) as
	// sigmoidFast does, for i < len(dst); nil means float64 arithmetic
	// rounded once (see sigmoidRow).
	Sigmoid func(dst, src []float32)
	// Silu, when not nil, computes dst[i] = src[i]·sigmoid(src[i]) as
	// siluFast does; nil means siluF32 (see siluRow).
	Silu func(dst, src []float32)
	// SigmoidTile, when not nil, applies Sigmoid (or, with silu, Silu) in
	// place to rows [0, rows) of the tile at c, n values each, row r at
	// c[r·ldc:], as Sigmoid and Silu do.
	SigmoidTile func(c []float32, ldc, rows, n int, silu bool)
	// Hard, when not nil, computes dst[i] = a(src[i]) for i < len(dst)
	// as Activation.Apply does, a being HardSigmoid or HardSwish; nil
	// means the portable loops (HardSigmoidF32, HardSwishF32). HardTile
	// is Hard in place on rows [0, rows) of the tile at c, n values each,
	// row r at c[r·ldc:].
	Hard     func(dst, src []float32, a Activation)
	HardTile func(c []float32, ldc, rows, n int, a Activation)
	// Pick2, when not nil, computes dst[i] = src[2i] for i < len(dst)
	// (src at least 2·len(dst)-1 long); nil means the portable loop (see
	// pick2Row).
	Pick2 func(dst, src []float32)
	// PadRows, when not nil, copies rows rows of n values, row r from
	// src[r·lds:], into rows ldd values apart at dst, each between padL
	// zeros and zeros to its end, as PadRowsGo does (the padded copy of a
	// plane, phaseRun's); nil means PadRowsGo.
	PadRows func(dst []float32, ldd int, src []float32, lds, rows, n, padL int)
	// PackConv, when not nil, rearranges constant weights w of geometry g
	// into the tier's own layout, once per plan; Conv then finds the
	// result in Env.PackedW. It returns nil when it has no use for it.
	// Given the pack, Conv reads nothing of w, which may then be nil: a
	// model may keep its weights only as packed. The pack depends on g
	// and w alone, where each value goes on g alone.
	PackConv func(g *ConvGeom, w []float32) []float32
	// PackConvKind, set with PackConv, says which of its layouts PackConv
	// uses for g: PackConv gives equal results for equal weights, kind,
	// M, C, KH, KW and Group, whatever the planes' sizes, so that the
	// plans of one node (one per batch size or image size) share one pack.
	PackConvKind func(g *ConvGeom) int
	// PackConvMoves, when not nil, reports whether PackConv's layout kind
	// only moves values: each element of the pack one of w's, unchanged,
	// or 0, and each of w's somewhere; the weights can then be got back
	// from the pack alone (Winograd's transformed weights cannot).
	PackConvMoves func(kind int) bool
	// PackGemm, when not nil, rearranges a constant B of a Gemm (k×n, or
	// n×k when transB, row stride ldb) into the tier's panels, once per
	// node: Gemm then finds the result in Env.PackedW and reads B from it
	// instead of packing it at every call. The pack depends on its
	// arguments alone, so the plans of every batch size share it. A
	// product of a few rows of A (GemmSmallOK) reads B as it lies and
	// takes no pack; any other reads nothing of b when given the pack, and
	// b may then be nil. The pack only moves values (see PackConvMoves).
	PackGemm func(transB bool, k, n int, b []float32, ldb int) []float32
	// ConvPath, when not nil, names the way Conv computes a convolution of
	// geometry g (pre: its fusion has a prologue), for profiles (see
	// KernelOf).
	ConvPath func(g *ConvGeom, pre bool) string
	// ConvResidualInPlace, when not nil, reports whether Conv computes a
	// convolution of geometry g with a residual (pre: its fusion has a
	// prologue; act: its activation; x, y and the residual in planes)
	// correctly where y is the residual's memory, element for element:
	// whether every value of the residual is read before the value of y in
	// its place is written, by the worker that writes it. A runtime may
	// then give y the residual's buffer where nothing reads the residual
	// after the convolution (see ResidualInPlace).
	ConvResidualInPlace func(g *ConvGeom, pre bool, act Activation) bool
	// ConvPixLayout, when not nil, reports whether Conv can read x (in)
	// and write y and the residual (out) pixel-major (ConvFusion.PixIn,
	// PixOut) for a convolution of geometry g (pre: its fusion has a
	// prologue). It does not depend on g.N.
	ConvPixLayout func(g *ConvGeom, pre bool) (in, out bool)
	// ConvDepthRuns, when not nil, returns into how many runs of input
	// channels Conv splits the sums of a convolution of geometry g (pre:
	// its fusion has a prologue) on workers workers: 1 where every output
	// is one sum over the whole depth, whatever the worker count. Where it
	// is more, the result depends on the worker count (the runs' sums are
	// added), and is the same run after run for a given count.
	ConvDepthRuns func(g *ConvGeom, pre bool, workers int) int
	// DwBlock, when not nil, runs a depthwise convolution with the 1×1
	// convolutions around it in one pass (see DwBlock), for the blocks
	// DwBlockOK accepts on an Env of that many workers, with weights as
	// PackDwBlock arranged them (it reads no others; PackDwBlock only
	// moves values, see PackConvMoves).
	DwBlock     func(env *Env, p *DwBlock, x, y []float32)
	DwBlockOK   func(p *DwBlock, workers int) bool
	PackDwBlock func(g *ConvGeom, w []float32) []float32
	// DwRows, when not nil, runs a depthwise convolution with the 1×1
	// convolutions around it layer by layer in bands of rows (see
	// conv_dwrows.go), for the blocks DwRowsOK accepts on an Env of that
	// many workers, with the weights Conv takes for each layer: WE, WD
	// and WP as they lie (or nil where the 1×1 layers' are packed), PE
	// and PP as PackConv packed the 1×1 layers' (or nil; PE as
	// PackDwBlock packs it where DwRowsPix says so). Its output is the
	// three Conv calls', bit for bit.
	DwRows   func(env *Env, p *DwBlock, x, y []float32)
	DwRowsOK func(p *DwBlock, workers int) bool
	// DwRowsPix, when not nil, reports for a block DwRowsOK accepts on
	// that many workers whether DwRows takes the expansion's weights PE as
	// PackDwBlock packs them (pixel-tile panels) instead of PackConv.
	DwRowsPix func(p *DwBlock, workers int) bool

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

	// spec is the description NewBlockedTier made the tier from, or nil.
	spec *BlockedSpec
	// accurate marks an accurate variant (see Accurate).
	accurate bool
}

// Spec returns the description a tier made by NewBlockedTier was made
// from, so that a variant of it (other blocks, a path turned off) can be
// made for a measurement or a test; ok is false for other tiers.
func (k *Tier) Spec() (s BlockedSpec, ok bool) {
	if k.spec == nil {
		return BlockedSpec{}, false
	}
	return *k.spec, true
}

// WithoutWinograd returns the tier with its Winograd convolutions turned
// off, every 3×3 layer computed as a direct product: for models whose
// outputs keep Winograd's larger rounding error (F(4×4, 3×3) measured 8
// times the direct product's largest error on a 64-channel 56×56 layer
// and on a 256-channel 28×28 one, against float64 sums; see
// conv_winograd.go), such as a segmentation net's per-pixel scores. Tiers without Winograd return
// themselves; the variant is made once per tier and shares its name.
func (k *Tier) WithoutWinograd() *Tier {
	if k.spec == nil || k.spec.WinogradMinCols <= 0 {
		return k
	}
	directMu.Lock()
	defer directMu.Unlock()
	if d, ok := direct[k]; ok {
		return d
	}
	s := *k.spec
	s.WinogradMinCols = 0
	d := NewBlockedTier(s)
	direct[k] = d
	return d
}

var (
	directMu sync.Mutex
	direct   = map[*Tier]*Tier{} // WithoutWinograd's variants
	accurate = map[*Tier]*Tier{} // Accurate's variants
)

// Accurate returns the tier's variant for models whose outputs keep the
// convolutions' rounding errors, such as a segmentation net's per-pixel
// scores, or a deep classifier whose scores are checked against exact
// sums: every product's depth summed in blocks of about 3·√K steps
// (accurateDepth: for K = 64, three chains of 22 multiply-adds instead of
// one of 64; from K = 1665 on, blocks of 128 as on the AVX-512 tier)
// instead of up to 128 or 256, each block one more pass of the output
// tile through the registers, and Winograd only for convolutions on at
// least accurateWinoMinC input channels. The blocked tiers and the generic
// tier have one, made once per tier, of the same name; other tiers (the
// reference) and variants return themselves. Results stay the same for
// any number of workers.
func (k *Tier) Accurate() *Tier {
	if k.accurate || k.spec == nil && k != Generic {
		return k
	}
	directMu.Lock()
	defer directMu.Unlock()
	if a, ok := accurate[k]; ok {
		return a
	}
	var a *Tier
	if k.spec == nil {
		// the generic tier: its products ask isAccurate
		g := *k
		g.accurate = true
		a = &g
	} else {
		s := *k.spec
		s.WinogradMinC = accurateWinoMinC
		s.Accurate = true
		a = NewBlockedTier(s)
	}
	accurate[k] = a
	return a
}

// accurateWinoMinC is the fewest input channels a convolution on an
// accurate variant takes Winograd for. A 3×3 layer's Winograd error (about
// twice a direct product's against float64 sums) grows through every
// layer after it, so the first stages of a network, on the fewest
// channels, are where it costs most: rms error of the scores against the
// graph in float64, as a multiple of ONNX Runtime 1.30's (random weights,
// calibrated BatchNorm, 224×224), ResNet-50 with Winograd on every 3×3
// layer 1.54, on every one with the accurate depth blocks 1.12, on those
// of 128 channels or more 0.77, of 256 or more 0.74, on none 0.73. At
// 64×64 the Wide ResNets' first stage (128 channels at 16×16) took 1.27
// to 1.36 on 128 or more, 0.72 to 0.83 on 256 or more; ResNet-101/152,
// ResNeXt-101, Inception-v3 and ResNet-50 0.58 to 0.78 on 256 or more
// (1.08 to 2.07 by default). fcn_resnet50's class map (224×224): 1.45e-5
// on 256 or more against 1.44e-5 on none (ONNX Runtime's 1.91e-5), its
// 3×3 head on 2048 channels at 28×28 then a Winograd layer: 0.82-0.87 of
// its time on one thread.
const accurateWinoMinC = 256

// IsAccurate reports whether k is an accurate variant (see Accurate).
func (k *Tier) IsAccurate() bool { return k.accurate }

// isAccurate reports whether env's tier is an accurate variant.
func isAccurate(env *Env) bool {
	k := TierOf(env)
	return k != nil && k.accurate
}

// ConvFusion is the work the fold pass fuses into a convolution: a
// per-input-channel affine step with an optional activation applied to the
// input (a BatchNormalization and Relu before the conv), and a residual
// addition and activation applied to the output.
type ConvFusion struct {
	// PreScale and PreBias, of length C, when not nil make the conv read
	//
	//	x'[n][c][h][w] = PreAct(PreScale[c]*x[n][c][h][w] + PreBias[c])
	//
	// instead of x. Padding positions are 0 in x', as in the unfused graph
	// where the conv pads the affine step's output.
	PreScale, PreBias []float32
	PreAct            Activation
	// Residual, when not nil, has y's layout and is added after the bias.
	Residual []float32
	// Act is applied last.
	Act Activation
	// PixIn and PixOut say that x, and y with Residual, lie pixel-major
	// instead of in planes, each pixel's channels side by side:
	//
	//	x[(n·H·W + q)·C + c],  y[(n·OH·OW + q)·M + m]
	//
	// for image n, pixel q and channel c or m. Conv takes them only for
	// geometries its tier's ConvPixLayout accepts.
	PixIn, PixOut bool
}

// pre applies the prologue to value v of input channel c.
func (f *ConvFusion) pre(c int, v float32) float32 {
	return f.PreAct.One(f.PreScale[c]*v + f.PreBias[c])
}

// hasPre reports whether f transforms the conv's input.
func (f *ConvFusion) hasPre() bool { return f != nil && f.PreScale != nil }

// actOnly returns the activation f applies after the conv when that is
// all it does after it (no residual); otherwise none.
func (f *ConvFusion) actOnly() Activation {
	if f == nil || f.Residual != nil {
		return Activation{}
	}
	return f.Act
}

// hasPost reports whether f changes the conv's output.
func (f *ConvFusion) hasPost() bool {
	return f != nil && (f.Residual != nil || f.Act.Kind != ActNone)
}

// AffineRow computes dst[i] = scale*src[i] + bias, then max(0, ·) when relu
// is set, for i < len(src), on k's Affine kernel when it has one.
func AffineRow(k *Tier, dst, src []float32, scale, bias float32, relu bool) {
	if k != nil && k.Affine != nil {
		k.Affine(dst, src, scale, bias, relu)
		return
	}
	affineGo(dst, src, scale, bias, relu)
}

// affineGo is the portable AffineRow.
func affineGo(dst, src []float32, scale, bias float32, relu bool) {
	dst = dst[:len(src)]
	if relu {
		// y = max(0, scale*x + bias); NaN stays. The builtin max is
		// branch-free (a compare and branch per value mispredicts on
		// mixed signs); it turns -0 into +0 where the vector kernels keep
		// -0, a difference no later step can see but a division.
		for i, v := range src {
			dst[i] = max(0, scale*v+bias)
		}
		return
	}
	// y = scale*x + bias
	for i, v := range src {
		dst[i] = scale*v + bias
	}
}

// AddRow computes dst[i] = a[i] + b[i], then max(0, ·) when relu is set
// (NaN and -0 kept), for i < len(dst), on k's Add kernel when it has one.
// dst may be a or b.
func AddRow(k *Tier, dst, a, b []float32, relu bool) {
	if k != nil && k.Add != nil {
		k.Add(dst, a, b, relu)
		return
	}
	addGo(dst, a, b, relu)
}

// mulRow computes dst[i] = a[i]·b[i] for i < len(dst), on k's Mul
// kernel when it has one.
func mulRow(k *Tier, dst, a, b []float32) {
	if k != nil && k.Mul != nil {
		k.Mul(dst, a, 1, b, 1)
		return
	}
	mulGo(dst, a, 1, b, 1)
}

// mulGo is the portable Tier.Mul: dst[i] = a[i·sa]·b[i·sb].
func mulGo(dst, a []float32, sa int, b []float32, sb int) {
	for i := range dst {
		dst[i] = a[i*sa] * b[i*sb]
	}
}

// pick2Row computes dst[i] = src[2i] for i < len(dst), on k's Pick2
// kernel when it has one.
func pick2Row(k *Tier, dst, src []float32) {
	if k != nil && k.Pick2 != nil {
		k.Pick2(dst, src)
		return
	}
	pick2Go(dst, src)
}

// PadRowsGo is the portable twin of Tier.PadRows:
//
//	dst[r·ldd + j] = src[r·lds + j - padL] for padL ≤ j < padL+n, else 0
//
// for r < rows and j < ldd (padL+n at most ldd).
func PadRowsGo(dst []float32, ldd int, src []float32, lds, rows, n, padL int) {
	for r := range rows {
		row := dst[r*ldd : (r+1)*ldd]
		clear(row[:padL])
		copy(row[padL:padL+n], src[r*lds:r*lds+n])
		clear(row[padL+n:])
	}
}

// padRows is Tier.PadRows on k's kernel, or PadRowsGo.
func padRows(k *Tier, dst []float32, ldd int, src []float32, lds, rows, n, padL int) {
	if k != nil && k.PadRows != nil {
		k.PadRows(dst, ldd, src, lds, rows, n, padL)
		return
	}
	PadRowsGo(dst, ldd, src, lds, rows, n, padL)
}

// pick2Go is the portable pick2Row.
func pick2Go(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:2*len(dst)-1]
	for i := range dst {
		dst[i] = src[2*i]
	}
}

// clipRow computes dst[i] = min(max(src[i], lo), hi) for i < len(dst), on
// k's Clip kernel when it has one.
func clipRow(k *Tier, dst, src []float32, lo, hi float32) {
	if k != nil && k.Clip != nil {
		k.Clip(dst, src, lo, hi)
		return
	}
	ClipRange(dst, src, lo, hi)
}

// axpyRow computes dst[i] += a·x[i], the product rounded before the sum,
// for i < len(dst), on k's Axpy kernel when it has one.
func axpyRow(k *Tier, dst, x []float32, a float32) {
	if k != nil && k.Axpy != nil {
		k.Axpy(dst, x, a)
		return
	}
	axpyGo(dst, x, a)
}

// axpyGo is the portable axpyRow.
func axpyGo(dst, x []float32, a float32) {
	x = x[:len(dst)]
	// dst += a·x, the conversion rounding the product (no fused
	// multiply-add on any architecture)
	for i, v := range x {
		dst[i] += float32(a * v)
	}
}

// residualAct computes y = act(y + z) in place, z nil meaning no
// residual: the epilogue that conv paths apply outside the micro-kernels.
// A Relu after a residual rides on the Add kernel.
func residualAct(k *Tier, y, z []float32, act Activation) {
	relu := act.Kind == ActRelu
	if z != nil {
		AddRow(k, y, y, z, relu)
		if relu {
			return
		}
	}
	act.applyK(k, y)
}

// addGo is the portable AddRow.
func addGo(dst, a, b []float32, relu bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	// y = a + b
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
	if relu {
		// y = max(0, y); NaN stays (-0 becomes +0, as in affineGo)
		for i, v := range dst {
			dst[i] = max(0, v)
		}
	}
}

// MaxRow computes dst[i] = max(a[i], b[i]) for i < len(dst), on k's Max
// kernel when it has one; the result is the same either way. dst may be a
// or b.
func MaxRow(k *Tier, dst, a, b []float32) {
	if k != nil && k.Max != nil {
		k.Max(dst, a, b)
		return
	}
	maxGo(dst, a, b)
}

// maxGo is the portable MaxRow.
func maxGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	// y = max(a, b), NaN winning
	for i := range dst {
		dst[i] = max(a[i], b[i])
	}
}

// SumRow returns the sum of x: on k's Sum kernel when it has one, else
// accumulated in float64 and rounded once.
func SumRow(k *Tier, x []float32) float64 {
	if k != nil && k.Sum != nil {
		return float64(k.Sum(x))
	}
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// ColSumRow computes dst[j] = src[j] + src[ld+j] + ... + src[(rows-1)·ld+j]
// for j < len(dst), rows at least 1, added in that order in float32: on
// k's ColSum kernel when it has one (the same values bit for bit).
func ColSumRow(k *Tier, dst, src []float32, ld, rows int) {
	if k != nil && k.ColSum != nil {
		k.ColSum(dst, src, ld, rows)
		return
	}
	colSumGo(dst, src, ld, rows)
}

// colSumGo is the portable Tier.ColSum.
func colSumGo(dst, src []float32, ld, rows int) {
	if len(dst) == 0 {
		return
	}
	_ = src[(rows-1)*ld+len(dst)-1]
	for j := range dst {
		s := src[j]
		for q := 1; q < rows; q++ {
			s += src[q*ld+j]
		}
		dst[j] = s
	}
}

// ColSumGo is the portable Go twin of the ColSum kernels (BlockedSpec.ColSum):
// n columns of rows rows ld apart.
func ColSumGo(dst, src *float32, ld, rows, n int) {
	if n <= 0 {
		return
	}
	colSumGo(unsafe.Slice(dst, n), unsafe.Slice(src, (rows-1)*ld+n), ld, rows)
}

// ResidualInPlace reports whether k's Conv may write y over its residual
// for a convolution of geometry g (see Tier.ConvResidualInPlace): false
// for a nil tier or one that does not say.
func ResidualInPlace(k *Tier, g *ConvGeom, pre bool, act Activation) bool {
	return k != nil && k.ConvResidualInPlace != nil && k.ConvResidualInPlace(g, pre, act)
}
