package kern

import (
	"math"
	"unsafe"
)

// The blocked SGEMM driver of the assembly tiers. It is portable Go around
// a set of mr×w micro-kernels (MicroKernel), so that the same packing,
// blocking, threading and epilogue code serves AVX2, AVX-512 and the Go
// twin the tests compare them with.
//
// C is cut into tiles of rows × column panels as in the generic tier
// (tilingFor), the panels being as wide as the widest micro-kernel. A unit
// walks the depth in blocks of kc. For each block it takes the tile's rows
// of A packed in groups of mr, interleaved (packA; convolution weights are
// packed once per plan by packConv), and for each panel it packs the panel
// of B (kc×w, so that it stays in L1) with the generic tier's packers, then
// runs the micro-kernel down the tile, one group of rows at a time.
// Convolutions mostly skip B's packing: see conv_inplace.go and
// conv_winograd.go. A full mr×w tile with alpha = 1 is stored by the
// micro-kernel itself, with the bias, residual and Relu applied in
// registers on the last depth block; edge tiles go through a small buffer
// and gemmOp.store.

// maxPanel is the widest micro-kernel any tier may register.
const maxPanel = 64

// MicroKernel computes one mr×w tile of C from a packed panel a of k steps
// of mr values and a packed panel b of k steps of w values:
//
//	C[i][j] = act(sum_p a[p*mr+i]*b[p*w+j] [+ C[i][j] if flags&1]
//	          [+ bias[i]] [+ resid[i*ldc+j]])
//
// where act is max(0, ·) (-0 kept) when flags&2 is set, min(max(·,
// clip[0]), clip[1]) as Go computes it when clip is not nil (but a NaN
// kept as it is, where Go's max and min mix the bounds' bits into it),
// and the identity otherwise; bias, resid and clip may be nil. The clip
// bounds are numbers, clip[0] is not -0 and clip[1] not ±0 (clipBounds).
// Pointers are to the first element; k may be 0.
type MicroKernel func(k int, a, b, c *float32, ldc int, bias, resid *float32, flags int, clip *float32)

// Micro-kernel flags.
const (
	microAccumulate = 1 // add the old C
	microRelu       = 2 // apply max(0, ·) last
	microPrefetch   = 4 // offsets kernels: prefetch the next panel of B
)

// BlockedSpec describes a tier built on the blocked driver.
type BlockedSpec struct {
	// Name is the tier's name ("avx2", "avx512").
	Name string
	// MR is the rows every micro-kernel computes.
	MR int
	// Widths are the micro-kernels' column counts, widest first, each at
	// most 64; Kerns[i] computes MR×Widths[i] tiles.
	Widths []int
	Kerns  []MicroKernel
	// KC is the depth of a packed panel of B.
	KC int
	// Accurate makes every product sum its depth in the shorter blocks
	// of accurateDepth, at most 128 steps, instead of blocks of up to
	// KC (PixKC on the pixel-tile paths, 256 on their pixel-major and
	// channel-blocked variants): the tier's variant for models whose
	// outputs keep the rounding errors (see Tier.Accurate).
	Accurate bool
	// Lanes is the vector kernels' width: Affine, Add, Max and Sum take
	// lengths that are multiples of it.
	Lanes int
	// Affine, when not nil, is the vector affine step (see
	// Tier.Affine).
	Affine AffineKernel
	// Add, when not nil, is the vector addition (see Tier.Add).
	Add AddKernel
	// Mul, when not nil, computes dst[i] = a[i·sa]·b[i·sb] for i < n, n
	// a multiple of Lanes, strides 0 or 1 (see Tier.Mul).
	Mul func(dst, a, b *float32, n int, sa, sb int)
	// Max, when not nil, is the vector maximum (see Tier.Max).
	Max MaxKernel
	// Sum, when not nil, is the vector sum (see Tier.Sum).
	Sum SumKernel
	// ColSum, when not nil, is the column sums of rows rows ld apart of
	// n values, n a multiple of Lanes, rows at least 1 (see Tier.ColSum
	// and ColSumGo).
	ColSum func(dst, src *float32, ld, rows, n int)
	// Dot, when not nil, is the vector dot product (see Tier.Dot).
	Dot DotKernel
	// Axpy, when not nil, is the vector dst += a·x (see Tier.Axpy).
	Axpy AxpyKernel
	// DwTaps, when not nil, is the depthwise window sum on vectors (see
	// Tier.DwTaps and DwTapsKernel).
	DwTaps DwTapsKernel
	// Clip, when not nil, is the vector Clip (see Tier.Clip).
	Clip ClipKernel
	// Sigmoid and Silu, when not nil, are the vector sigmoidFast and
	// siluFast on rows rows ld apart of n values, n a multiple of Lanes
	// (see Tier.Sigmoid and Tier.SigmoidTile).
	Sigmoid, Silu func(dst, src *float32, ld, rows, n int)
	// Hard, when not nil, is the vector HardSigmoidF32 (or, with swish
	// not 0, HardSwishF32) on rows rows ld apart of n values, n a multiple
	// of Lanes, for beta not -0 (see Tier.Hard and Tier.HardTile).
	Hard func(dst, src *float32, ld, rows, n int, alpha, beta float32, swish int)
	// ClipTile, when not nil, is Clip on a tile of rows ldc apart, n
	// values each, n a multiple of Lanes (see Tier.ClipTile).
	ClipTile func(c *float32, ldc, rows, n int, lo, hi float32)
	// Pick2, when not nil, is the stride-2 pick dst[i] = src[2i] for i <
	// n, n a multiple of 8 (it reads src[0:2n]; see Tier.Pick2).
	Pick2 func(dst, src *float32, n int)
	// PadRows, when not nil, is Tier.PadRows on pointers (padL+n at most
	// ldd; see PadRowsGo).
	PadRows func(dst *float32, ldd int, src *float32, lds, rows, n, padL int)
	// WinogradMinCols, when above 0, turns on Winograd F(4×4, 3×3) for
	// 3×3 stride-1 convolutions with at least this many tile columns
	// (TH·TW 4×4 tiles per image; see conv_winograd.go). It needs Offs.
	WinogradMinCols int
	// WinogradMinC, when above 0, leaves convolutions on fewer input
	// channels than this to the direct products: the accurate variant's
	// (see Tier.Accurate).
	WinogradMinC int
	// WinoIn and WinoStore, when not nil, are Winograd's input and output
	// transforms on vectors of at most 16 lanes; nil ones run the Go
	// twins, winoInGo and winoStoreGo.
	WinoIn    WinoInKernel
	WinoStore WinoStoreKernel
	// WinoStoreMask is WinoStore through masks, with which outputs whose
	// sides are not multiples of 4 are stored in place; a tier that has
	// WinoStore must have it too.
	WinoStoreMask WinoStoreMaskKernel
	// WinoInNT, when not nil, is WinoIn writing V past the caches, which
	// stage 1 takes on two or more workers (see winoTask.Range) where
	// StoreFence, the fence a worker runs after its last call, is set too.
	WinoInNT   WinoInNTKernel
	StoreFence func()
	// Pix, when not empty, are the pixel-tile kernels of the path for
	// small output planes (see conv_pix.go): Pix[r-1] computes r output
	// pixels × PixWidth output channels, in depth blocks of at most PixKC
	// steps. Convolutions with at most PixMaxPixels output pixels per
	// channel take that path.
	Pix          []PixKernel
	PixWidth     int
	PixKC        int
	PixMaxPixels int
	// PixHalf, when not empty, are pixel-tile kernels of PixWidth/2
	// channels on the same panels (reading the first half of each step),
	// PixHalf[r-1] for r pixels: a last block of at most that many
	// channels takes them.
	PixHalf []PixKernel
	// PixRow, when not empty, are row kernels of PixWidth/2 channels on
	// the same panels for windows 3 wide, PixRow[sw-1][r-1] for r pixels
	// at column stride sw: blocks of at most that many channels on the
	// blocked copy take them (see pixRows).
	PixRow [2][]PixRowKernel
	// PixMajor makes 1×1 convolutions on that path for planes of at most
	// PixMaxPixels read a pixel-major copy of their input (see pixMajor).
	PixMajor bool
	// PixNarrowMaxPixels, when above 0, sends convolutions wider than
	// 1×1 with at most PixWidth output channels a group and at most this
	// many output pixels to the pixel-tile path, before Winograd (see
	// pixNarrow).
	PixNarrowMaxPixels int
	// PixGrouped sends grouped convolutions with at least PixWidth input
	// and output channels a group to the pixel-tile path whatever their
	// planes' size.
	PixGrouped bool
	// PixStrided sends strided convolutions with windows wider than 1×1
	// (and at least 8 input channels a group) to the pixel-tile path
	// whatever their planes' size.
	PixStrided bool
	// Dw8, when not nil, runs depthwise convolutions with at most
	// Dw8MaxPixels output pixels a plane (any number when 0) eight
	// channels at a time (see conv_dw8.go).
	Dw8          Dw8Kernel
	Dw8MaxPixels int
	// Dw16, when not nil, runs the depthwise layer of the one-pass
	// depthwise blocks with an expansion 16 channels at a time, when
	// PixWidth is a multiple of 16 (see conv_dwblock.go).
	Dw16 Dw16Kernel
	// DwPlane, when not nil, returns the kernel that runs depthwise
	// convolutions with a kh×kw window at stride s on their planes as
	// they lie (see conv_dwplane.go), or nil when the tier has none; it
	// takes planes of more than DwPlaneMinPixels outputs, before Dw8.
	DwPlane          func(kh, kw, s int) DwPlaneKernel
	DwPlaneMinPixels int
	// Dw8Band is how many bytes of padded input one band of output rows
	// of that path reads at most (see dw8BandRows); 0 means 32 KiB.
	Dw8Band int
	// DwBlockBand is how many bytes of a depthwise block's expanded input
	// and output one band keeps (see dwBlockLayout); 0 means 192 KiB, -1
	// turns the one-pass depthwise blocks off. DwBlockMinPixels is the
	// smallest plane of the depthwise layer's input they take.
	DwBlockBand      int
	DwBlockMinPixels int
	// DwBlockL2 is the bytes of one core's level-2 cache, or 0. On one
	// worker, a block whose depthwise layer's input (the expansion's
	// output) would fit in it runs conv by conv instead of in one pass,
	// and so does a block without an expansion (see dwBlockOK).
	DwBlockL2 int
	// DwRowsBand is how many bytes of a depthwise block's expanded input
	// and depthwise output one band of DwRows keeps; 0 means 3/4 of
	// DwBlockL2 (see dwRowsBand).
	DwRowsBand int
	// GroupRowsPix runs the expansion of a grouped block in bands of rows
	// on the pixel tiles, straight into the grouped layer's blocked copy,
	// where groupRowsPix takes it.
	GroupRowsPix bool
	// MaxPool3s2 and AvgPool2s2, when not nil, are the pooling row
	// kernels (see Tier.MaxPool3s2): dst[j] for j < n, n a multiple of
	// 8, reading the rows [0:2n+1] or [0:2n].
	MaxPool3s2 func(dst, r0, r1, r2 *float32, n int)
	AvgPool2s2 func(dst, r0, r1 *float32, n int, div float32)
	// AvgPool2s2Rows, when not nil, is Tier.AvgPool2s2Rows on pointers,
	// any n.
	AvgPool2s2Rows func(dst *float32, ldd int, src *float32, lds, rows, n int, div float32)
	// MaxPool3s2Rows, when not nil, is Tier.MaxPool3s2Rows on pointers.
	MaxPool3s2Rows func(dst *float32, ldd int, src *float32, lds, rows, n int)
	// Gather8 and Scatter8, when not nil, move 8 rows to and from pixels
	// of 8 values (see gather8 and scatter8); nil ones run Go loops.
	Gather8  func(dst, src *float32, lds, n int)
	Scatter8 func(dst *float32, ldd int, src *float32, lds, n int)
	// Gather8Rows, when not nil, is Gather8 into rows of w pixels ldd
	// values apart (see gather8Rows).
	Gather8Rows func(dst, src *float32, lds, n, w, ldd int)
	// Block8Rows, when not nil, writes whole padded rows from 8 planes,
	// any row count and width (see block8Rows).
	Block8Rows func(dst, src *float32, lds, rows, w, padl, padr int)
	// Gather8RowsAffine, when not nil, is Gather8Rows with w = 1 and the
	// affine step of a prologue (see gather8RowsAffine).
	Gather8RowsAffine func(dst, src *float32, lds, n, ldd int, scale, bias *float32, relu int)
	// Gather16Rows and Gather16RowsAffine, when not nil, are Gather8Rows
	// with w = 1 and Gather8RowsAffine for 16 rows, n a multiple of 16
	// (see gather16Rows); Scatter16Epi, when not nil, moves 16 channels
	// of pixels back into planes with an epilogue (see scatter16Epi).
	Gather16Rows       func(dst, src *float32, lds, n, ldd int)
	Gather16RowsAffine func(dst, src *float32, lds, n, ldd int, scale, bias *float32, relu int)
	Scatter16Epi       func(dst *float32, ldd int, src *float32, lds, n int, bias, resid *float32, relu int)
	// Offs, when not nil, is an MR×Widths[0] micro-kernel that reads B
	// in place through per-step offsets (see MicroKernelOffs), used for
	// convolutions (conv_inplace.go) and Winograd.
	Offs MicroKernelOffs
	// PackPanel, when not nil, copies a panel of B that Offs would read
	// in place into a packed one, k rows of Widths[0] values, and fetches
	// each row's next Widths[0] values (the next panel's) into the cache:
	//
	//	dst[p·Widths[0] + j] = src[boff[p] + j]
	//
	// (see packConflicts).
	PackPanel func(dst, src *float32, boff *int32, k int)
	// PackPanelAffine, when not nil, is PackPanel with a per-row affine
	// step and an optional Relu (relu ≠ 0) applied on the way, the
	// prologue of a 1×1 convolution (see prologueInPack):
	//
	//	dst[p·Widths[0] + j] = [max(0,] scale[p]·src[boff[p] + j] + bias[p][)]
	PackPanelAffine func(dst, src *float32, boff *int32, k int, scale, bias *float32, relu int)
	// OffsRows, when not empty, are Offs for the last rows of a product
	// whose row count is not a multiple of MR: OffsRows[r-1] computes the
	// first r rows of a group of MR packed rows of A. Without them those
	// rows are computed as a whole group into scratch and copied.
	OffsRows []MicroKernelOffs
	// OffsNarrow, when not empty, holds Offs's narrower twins:
	// OffsNarrow[i] an MR×Widths[len(Widths)-1-i] kernel (the widths below
	// Widths[0], narrowest first), for a row's last panel of an in-place
	// product whose rows are not a multiple of Widths[0] wide, read in
	// place like the others.
	OffsNarrow []MicroKernelOffs
	// OffsCols, when not nil, computes such a last panel narrower than
	// Widths' narrowest (see MicroKernelOffsCols).
	OffsCols MicroKernelOffsCols
	// OffsFew, when its entry g-1 is not nil, computes g groups of MR
	// packed rows of A (k·MR values apart) times the first cols (at most
	// 4) of 4 columns of B read through offsets, as OffsFewGo does: the
	// last columns of a product, with the rows in the vectors (see
	// offsNarrowRun). It applies no bias, residual or clip; flags&1 adds
	// the old C, as the micro-kernels do.
	OffsFew [4]func(k int, a, b *float32, boff *int32, c *float32, ldc int, flags, cols int)
}

// AffineKernel computes dst[i] = scale*src[i] + bias, then max(0, ·) when
// relu is not 0, for i < n, n a multiple of the kernel's lane count.
type AffineKernel func(dst, src *float32, n int, scale, bias float32, relu int)

// AddKernel computes dst[i] = a[i] + b[i], then max(0, ·) (NaN and -0
// kept) when relu is not 0, for i < n, n a multiple of the lane count.
type AddKernel func(dst, a, b *float32, n int, relu int)

// MaxKernel computes dst[i] = max(a[i], b[i]) as Go's builtin max does
// on the machine, bit for bit, for i < n, n a multiple of the lane count.
type MaxKernel func(dst, a, b *float32, n int)

// SumKernel returns the sum of x[0:n], n a multiple of the lane count, in
// the kernel's fixed order of float32 additions.
type SumKernel func(x *float32, n int) float32

// ClipKernel computes dst[i] = min(max(src[i], lo), hi) as Go's builtins
// do, bit for bit, for i < n, n a multiple of the lane count.
type ClipKernel func(dst, src *float32, n int, lo, hi float32)

// AxpyKernel computes dst[i] += a·x[i], the product rounded before the
// sum, for i < n, n a multiple of the lane count.
type AxpyKernel func(dst, x *float32, n int, a float32)

// DwTapsKernel computes dst[j] = bias + Σ_{t<taps} w[t]·base[off[t]+j],
// the taps in order, each product fused with the sum, for j < n, n a
// multiple of the lane count.
type DwTapsKernel func(dst, base *float32, off *int32, w *float32, taps, n int, bias float32)

// DotKernel returns sum x[i]·y[i] over i < n, n a multiple of the lane
// count, in the kernel's fixed order of float32 operations.
type DotKernel func(x, y *float32, n int) float32

// MicroKernelOffs is a MicroKernel that reads step p of B as the w values
// at b[boff[p]:] instead of from a packed panel:
//
//	C[i][j] = act(sum_p a[p*mr+i]*b[boff[p]+j] [+ C[i][j] if flags&1] ...)
//
// for groups groups of rows in one call, group g on A's panel k·ga·g
// values on (ga the packed group's rows) and on C's, bias's and resid's
// rows mr·g on, the same panel of B; flags&microPrefetch on the first
// group only. A call from Go costs about as much as a few dozen steps.
type MicroKernelOffs func(k int, a, b *float32, boff *int32, c *float32, ldc int, bias, resid *float32, flags int, clip *float32, groups int)

// MicroKernelOffsCols is a MicroKernelOffs of Widths' narrowest width that
// computes only C's first cols columns (0 < cols < that width), reading
// and writing nothing past them in b, C and resid, and ignoring
// microPrefetch: the last panel of an in-place product narrower than
// every kernel, read in place instead of gathered into a panel.
type MicroKernelOffsCols func(k int, a, b *float32, boff *int32, c *float32, ldc int, bias, resid *float32, flags int, clip *float32, groups, cols int)

// blocked is a tier's driver state.
type blocked struct {
	BlockedSpec
	mc      int                 // most rows of a tile, a multiple of MR
	kern    *Tier               // the tier this drives
	bufs    FreeList[blockBufs] // per worker of a loop
	scratch FreeList[bigBufs]   // per call
	tables  offsetTables        // the offset tables of the geometries run
	images  FreeList[imageCall] // perImage's
}

// blockBufs is one worker's scratch: the packed rows of A of a tile, a
// packed panel of B and an edge tile.
type blockBufs struct {
	b, tmp, a []float32
	seq       []int32          // seq[p] = p·Widths[0]: the offsets of a packed panel
	src       convSource       // the im2col source of the worker's current product
	clip      [2]float32       // the Clip bounds of the current tile (clipFor)
	phase     GrowBuf          // one channel's padded copy (convWinograd's stage 1), or 8 planes (pixMajorTask)
	band      GrowBuf          // a band of a group's padded blocks (pixBandTask)
	wt        [36 * 16]float32 // WinoInNT's rows (36 vectors of at most 16 lanes)
}

// NewBlockedTier returns a kernel tier whose Gemm and Conv run on the
// micro-kernels of s. Depthwise convolutions use the generic tier's direct
// loops.
func NewBlockedTier(s BlockedSpec) *Tier {
	if len(s.Widths) == 0 || len(s.Widths) != len(s.Kerns) || s.Widths[0] > maxPanel || s.MR < 1 || s.KC < 1 ||
		len(s.Pix) > 0 && (s.PixWidth < 1 || s.PixKC < 1) || len(s.OffsRows) > 0 && (len(s.OffsRows) != s.MR-1 || s.Offs == nil) ||
		(s.WinoStore == nil) != (s.WinoStoreMask == nil) {
		panic("kern: bad BlockedSpec " + s.Name)
	}
	bl := &blocked{BlockedSpec: s, mc: max(s.MR, mcMax/s.MR*s.MR)}
	w := s.Widths[0]
	bl.scratch.New = func() *bigBufs { return new(bigBufs) }
	bl.images.New = func() *imageCall { return new(imageCall) }
	bl.bufs.New = func() *blockBufs {
		return &blockBufs{
			b:   make([]float32, s.KC*w),
			seq: seqOffsets(s.KC, w),
			tmp: make([]float32, s.MR*w),
			a:   make([]float32, bl.mc*s.KC),
		}
	}
	k := &Tier{
		spec:                &bl.BlockedSpec,
		accurate:            s.Accurate,
		Name:                s.Name,
		Conv:                bl.conv,
		ConvPath:            bl.convPathName,
		ConvResidualInPlace: bl.residualInPlace,
		ConvDepthRuns:       bl.convDepthRuns,
		ConvPixLayout:       bl.convPixLayout,
		ConvScratch:         noConvScratch,
		Gemm:                bl.gemm,
		PackConv:            bl.packConv,
		PackConvKind:        bl.packConvKind,
		PackGemm:            bl.packGemm,
	}
	k.PackConvMoves = packConvMoves
	bl.kern = k
	if s.Dw8 != nil && len(s.Pix) > 0 && s.DwBlockBand >= 0 {
		k.DwBlock, k.DwBlockOK, k.PackDwBlock = bl.convDwBlock, bl.dwBlockOK, bl.packDwBlock
	}
	if (s.DwPlane != nil || len(s.Pix) > 0) && s.Offs != nil {
		k.DwRows, k.DwRowsOK, k.DwRowsPix = bl.convDwRows, bl.dwRowsOK, bl.dwRowsPix
	}
	if s.Lanes <= 0 {
		return k
	}
	// The kernels take the longest prefix that is a multiple of Lanes;
	// the portable loops finish the rest.
	if s.Affine != nil {
		k.Affine = func(dst, src []float32, scale, bias float32, relu bool) {
			dst = dst[:len(src)]
			n := len(src) - len(src)%s.Lanes
			if n > 0 {
				s.Affine(&dst[0], &src[0], n, scale, bias, flag(relu))
			}
			affineGo(dst[n:], src[n:], scale, bias, relu)
		}
	}
	if s.Add != nil {
		k.Add = func(dst, a, b []float32, relu bool) {
			a, b = a[:len(dst)], b[:len(dst)]
			n := len(dst) - len(dst)%s.Lanes
			if n > 0 {
				s.Add(&dst[0], &a[0], &b[0], n, flag(relu))
			}
			addGo(dst[n:], a[n:], b[n:], relu)
		}
	}
	if s.Mul != nil {
		k.Mul = func(dst, a []float32, sa int, b []float32, sb int) {
			n := len(dst)
			if n == 0 {
				return
			}
			_, _ = a[(n-1)*sa], b[(n-1)*sb] // the last values read
			nv := n - n%s.Lanes
			if nv > 0 {
				s.Mul(&dst[0], &a[0], &b[0], nv, sa, sb)
			}
			mulGo(dst[nv:], a[nv*sa:], sa, b[nv*sb:], sb)
		}
	}
	if s.DwTaps != nil {
		k.DwTaps = func(dst, base []float32, off []int32, w []float32, bias float32) {
			w = w[:len(off)]
			n := len(dst) - len(dst)%s.Lanes
			if n > 0 && len(off) > 0 {
				_ = base[maxOffset(off)+n-1] // the kernel's last read
				s.DwTaps(&dst[0], &base[0], &off[0], &w[0], len(off), n, bias)
			} else {
				n = 0
			}
			dwTapsGo(dst[n:], base[n:], off, w, bias)
		}
	}
	if s.Axpy != nil {
		k.Axpy = func(dst, x []float32, a float32) {
			x = x[:len(dst)]
			n := len(dst) - len(dst)%s.Lanes
			if n > 0 {
				s.Axpy(&dst[0], &x[0], n, a)
			}
			axpyGo(dst[n:], x[n:], a)
		}
	}
	if s.Clip != nil {
		k.Clip = func(dst, src []float32, lo, hi float32) {
			src = src[:len(dst)]
			n := len(dst) - len(dst)%s.Lanes
			if n > 0 {
				s.Clip(&dst[0], &src[0], n, lo, hi)
			}
			ClipRange(dst[n:], src[n:], lo, hi)
		}
		// max(v, 0) = min(max(v, 0), +Inf), bit for bit, NaNs included
		inf := float32(math.Inf(1))
		k.Relu = func(dst, src []float32) { k.Clip(dst, src, 0, inf) }
	}
	if s.Sigmoid != nil && s.Silu != nil {
		// row is one of the pair on a row, the Go twin on its tail.
		// sig computes rows rows ld apart of n values of dst from src
		// (with silu, SiLU): the whole vectors on the kernel, the row
		// tails on its Go twin. The callers check the bounds.
		sig := func(dst, src []float32, ld, rows, n int, silu bool) {
			kern, twin := s.Sigmoid, sigmoidFast
			if silu {
				kern, twin = s.Silu, siluFast
			}
			nv := n - n%s.Lanes
			if nv > 0 {
				kern(&dst[0], &src[0], ld, rows, nv)
			}
			for r := range rows {
				if nv < n {
					twin(dst[r*ld+nv:r*ld+n], src[r*ld+nv:r*ld+n])
				}
			}
		}
		k.Sigmoid = func(dst, src []float32) { sig(dst, src[:len(dst)], 0, 1, len(dst), false) }
		k.Silu = func(dst, src []float32) { sig(dst, src[:len(dst)], 0, 1, len(dst), true) }
		k.SigmoidTile = func(c []float32, ldc, rows, n int, silu bool) {
			if rows <= 0 || n <= 0 {
				return
			}
			_ = c[(rows-1)*ldc+n-1] // the last value
			sig(c, c, ldc, rows, n, silu)
		}
	}
	if s.Hard != nil {
		// hard computes rows rows ld apart of n values of dst from src:
		// the whole vectors on the kernel, the row tails (and a beta of
		// -0, for which the kernel's max differs) on the Go twins. The
		// callers check the bounds.
		hard := func(dst, src []float32, ld, rows, n int, alpha, beta float32, swish bool) {
			nv := n - n%s.Lanes
			if math.Signbit(float64(beta)) && beta == 0 {
				nv = 0
			}
			if nv > 0 {
				s.Hard(&dst[0], &src[0], ld, rows, nv, alpha, beta, flag(swish))
			}
			if nv == n {
				return
			}
			for r := range rows {
				d, x := dst[r*ld+nv:r*ld+n], src[r*ld+nv:r*ld+n]
				if swish {
					HardSwishF32(d, x)
				} else {
					HardSigmoidF32(d, x, alpha, beta)
				}
			}
		}
		k.Hard = func(dst, src []float32, a Activation) {
			alpha, beta, swish := a.hardParams()
			hard(dst, src[:len(dst)], 0, 1, len(dst), alpha, beta, swish)
		}
		k.HardTile = func(c []float32, ldc, rows, n int, a Activation) {
			if rows <= 0 || n <= 0 {
				return
			}
			_ = c[(rows-1)*ldc+n-1] // the last value
			alpha, beta, swish := a.hardParams()
			hard(c, c, ldc, rows, n, alpha, beta, swish)
		}
	}
	if s.MaxPool3s2 != nil {
		k.MaxPool3s2 = func(dst, r0, r1, r2 []float32) {
			n := len(dst)
			if n%8 != 0 {
				panic("kern: MaxPool3s2 of a row not a multiple of 8")
			}
			if n > 0 {
				_, _, _ = r0[2*n], r1[2*n], r2[2*n] // the last values read
				s.MaxPool3s2(&dst[0], &r0[0], &r1[0], &r2[0], n)
			}
		}
	}
	if s.AvgPool2s2 != nil {
		k.AvgPool2s2 = func(dst, r0, r1 []float32, div float32) {
			n := len(dst)
			if n%8 != 0 {
				panic("kern: AvgPool2s2 of a row not a multiple of 8")
			}
			if n > 0 {
				_, _ = r0[2*n-1], r1[2*n-1] // the last values read
				s.AvgPool2s2(&dst[0], &r0[0], &r1[0], n, div)
			}
		}
	}
	if s.AvgPool2s2Rows != nil {
		k.AvgPool2s2Rows = func(dst []float32, ldd int, src []float32, lds, rows, n int, div float32) {
			if rows <= 0 || n <= 0 {
				return
			}
			_, _ = dst[(rows-1)*ldd+n-1], src[(2*rows-1)*lds+2*n-1] // the last values written and read
			s.AvgPool2s2Rows(&dst[0], ldd, &src[0], lds, rows, n, div)
		}
	}
	if s.MaxPool3s2Rows != nil {
		k.MaxPool3s2Rows = func(dst []float32, ldd int, src []float32, lds, rows, n int) {
			if rows <= 0 || n <= 0 {
				return
			}
			_, _ = dst[(rows-1)*ldd+n-1], src[2*rows*lds+2*n] // the last values written and read
			s.MaxPool3s2Rows(&dst[0], ldd, &src[0], lds, rows, n)
		}
	}
	if s.ClipTile != nil {
		k.ClipTile = func(c []float32, ldc, rows, n int, lo, hi float32) {
			if rows <= 0 || n <= 0 {
				return
			}
			_ = c[(rows-1)*ldc+n-1] // the last value clipped
			nv := n - n%s.Lanes
			if nv > 0 {
				s.ClipTile(&c[0], ldc, rows, nv, lo, hi)
			}
			if nv < n {
				for r := range rows {
					t := c[r*ldc+nv : r*ldc+n]
					ClipRange(t, t, lo, hi)
				}
			}
		}
	}
	if s.PadRows != nil {
		k.PadRows = func(dst []float32, ldd int, src []float32, lds, rows, n, padL int) {
			if rows <= 0 || ldd <= 0 {
				return
			}
			if padL < 0 || n < 0 || padL+n > ldd {
				panic("kern: PadRows: a row's values past its end")
			}
			if n == 0 {
				clear(dst[:rows*ldd])
				return
			}
			_, _ = dst[rows*ldd-1], src[(rows-1)*lds+n-1] // the last values written and read
			s.PadRows(&dst[0], ldd, &src[0], lds, rows, n, padL)
		}
	}
	if s.Pick2 != nil {
		k.Pick2 = func(dst, src []float32) {
			// The kernel reads src[0:2n]: one past the last value picked.
			n := min(len(dst), len(src)/2) &^ 7
			if n > 0 {
				s.Pick2(&dst[0], &src[0], n)
			}
			pick2Go(dst[n:], src[2*n:])
		}
	}
	if s.Max != nil {
		k.Max = func(dst, a, b []float32) {
			a, b = a[:len(dst)], b[:len(dst)]
			n := len(dst) - len(dst)%s.Lanes
			if n > 0 {
				s.Max(&dst[0], &a[0], &b[0], n)
			}
			maxGo(dst[n:], a[n:], b[n:])
		}
	}
	if s.Sum != nil {
		k.Sum = func(x []float32) float32 {
			n := len(x) - len(x)%s.Lanes
			var sum float32
			if n > 0 {
				sum = s.Sum(&x[0], n)
			}
			for _, v := range x[n:] {
				sum += v
			}
			return sum
		}
	}
	if s.ColSum != nil {
		k.ColSum = func(dst, src []float32, ld, rows int) {
			if len(dst) == 0 {
				return
			}
			_ = src[(rows-1)*ld+len(dst)-1]
			n := len(dst) - len(dst)%s.Lanes
			if n > 0 {
				s.ColSum(&dst[0], &src[0], ld, rows, n)
			}
			if n < len(dst) {
				colSumGo(dst[n:], src[n:], ld, rows)
			}
		}
	}
	if s.Dot != nil {
		k.Dot = func(x, y []float32) float32 {
			y = y[:len(x)]
			n := len(x) - len(x)%s.Lanes
			var sum float32
			if n > 0 {
				sum = s.Dot(&x[0], &y[0], n)
			}
			// the tail in order, each product rounded
			for i := n; i < len(x); i++ {
				sum += float32(x[i] * y[i])
			}
			return sum
		}
	}
	return k
}

// flag is 1 for true and 0 for false.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// kBlock splits a depth of k into blocks of at most KC, as evenly as
// possible (an Accurate tier into accurateDepth's); it depends on k only.
func (bl *blocked) kBlock(k int) int { return bl.depthBlock(k, bl.KC) }

// depthBlock is the depth block of a product of k terms on a path whose
// blocks hold at most kcMax steps: k cut into ⌈k/kcMax⌉ blocks as evenly
// as possible, or, on an Accurate tier, accurateDepth's blocks.
func (bl *blocked) depthBlock(k, kcMax int) int {
	if bl.Accurate {
		return accurateDepth(k, kcMax)
	}
	return CeilDiv(k, CeilDiv(k, kcMax))
}

// kernFor returns the narrowest micro-kernel at least w wide, and its width.
func (bl *blocked) kernFor(w int) (MicroKernel, int) {
	i := 0
	for i+1 < len(bl.Widths) && bl.Widths[i+1] >= w {
		i++
	}
	return bl.Kerns[i], bl.Widths[i]
}

// tile computes rows [i0, i1) of C for the column panels [p0, p1).
//
// op.kern must be bl.kern (set by the caller: op may be shared by the
// workers of a loop, which must not write it).
func (bl *blocked) tile(op *gemmOp, i0, i1, p0, p1 int, buf *blockBufs) {
	mr, pw := bl.MR, bl.Widths[0]
	kc := bl.kBlock(op.k)
	// C[i][j] = alpha * sum_p op(A)[i][p]*op(B)[p][j] (+ beta*C[i][j]) (+ bias[i]) (+ Z[i][j]),
	// the sum over p taken block by block of kc, each block by a
	// micro-kernel for mr rows i and one panel of columns j.
	for kb := 0; kb < op.k; kb += kc {
		kl := min(kc, op.k-kb)
		first, last := kb == 0, kb+kl == op.k
		direct := op.alpha == 1 && (op.beta == 0 || !first)
		ablk := bl.aBlock(op, buf, i0, i1, kb, kl)
		for p := p0; p < p1; p++ {
			j0 := p * pw
			w := min(pw, op.n-j0)
			kern, kw := bl.kernFor(w)
			var pan []float32
			if op.bpack != nil {
				// packed once (packGemm)
				o := kb*CeilDiv(op.n, pw)*pw + p*kl*pw
				pan = op.bpack[o : o+kl*kw]
			} else {
				pan = buf.b[:kl*kw]
				op.pack(pan, kb, kl, j0, w, kw)
			}
			for i := i0; i < i1; i += mr {
				rows := min(mr, i1-i)
				a := &ablk[(i-i0)*kl]
				if direct && rows == mr && w == kw {
					c, bias, resid, flags := op.direct(i, mr, j0, kw, first, last)
					kern(kl, a, &pan[0], c, op.ldc, bias, resid, flags, op.clipFor(buf, last))
					op.directAct(i, mr, j0, kw, last)
					continue
				}
				kern(kl, a, &pan[0], &buf.tmp[0], kw, nil, nil, 0, nil)
				for r := range rows {
					op.store(i+r, j0, w, buf.tmp[r*kw:], first, last)
				}
			}
		}
	}
}

// padRows is m rounded up to a multiple of MR: the rows of a packed A.
func (bl *blocked) padRows(m int) int { return CeilDiv(m, bl.MR) * bl.MR }

// packedGroup returns group grp's part of the weights that packConv packed
// for g and the conv step passed in env.PackedW, or nil when there are none.
func (bl *blocked) packedGroup(env *Env, g *ConvGeom, grp int) []float32 {
	if env == nil || env.PackedW == nil {
		return nil
	}
	n := bl.padRows(g.M/g.Group) * (g.C / g.Group * g.KH * g.KW)
	return env.PackedW[grp*n : (grp+1)*n]
}

// aBlock returns rows [i0, i1) of A for the depth block at kb, packed in
// groups of MR: from the weights packed once (op.apack, see packConv), or
// packed now into buf.
func (bl *blocked) aBlock(op *gemmOp, buf *blockBufs, i0, i1, kb, kl int) []float32 {
	if op.apack != nil {
		mp := bl.padRows(op.m)
		return op.apack[kb*mp+i0*kl : kb*mp+mp*kl]
	}
	bl.packA(op, buf.a, i0, i1, kb, kl)
	return buf.a
}

// direct returns the arguments of a micro-kernel that stores the tile of
// rows [i, i+mr) and columns [j0, j0+w) of C itself: C's address, and for
// the last depth block the bias and residual addresses and the Relu flag;
// the accumulate flag for blocks after the first. It checks the bounds the
// kernel does not.
func (op *gemmOp) direct(i, mr, j0, w int, first, last bool) (c, bias, resid *float32, flags int) {
	if !first {
		flags |= microAccumulate
	}
	if last {
		if op.bias != nil {
			_ = op.bias[i+mr-1]
			bias = &op.bias[i]
		}
		if op.resid != nil {
			_ = op.resid[(i+mr-1)*op.ldc+j0+w-1]
			resid = &op.resid[i*op.ldc+j0]
		}
		if op.act.Kind == ActRelu {
			flags |= microRelu
		}
	}
	_ = op.c[(i+mr-1)*op.ldc+j0+w-1]
	return &op.c[i*op.ldc+j0], bias, resid, flags
}

// clipBounds reports whether the micro-kernels apply a Clip with act's
// bounds themselves: bounds that are numbers, the lower not -0 and the
// upper not ±0, where a vector max and min order as Go's do.
func clipBounds(act Activation) bool {
	lo, hi := act.Min, act.Max
	return act.Kind == ActClip && lo == lo && hi == hi && hi != 0 && !(lo == 0 && math.Signbit(float64(lo)))
}

// kernelClip returns the bounds with which a kernel's clip argument
// computes act (a Relu is a Clip to [0, +Inf]), and whether it can: a
// Relu, or a Clip with clipBounds.
func kernelClip(act Activation) ([2]float32, bool) {
	switch {
	case act.Kind == ActRelu:
		return [2]float32{0, float32(math.Inf(1))}, true
	case clipBounds(act):
		return [2]float32{act.Min, act.Max}, true
	}
	return [2]float32{}, false
}

// clipFor returns the clip argument of a micro-kernel that stores a tile
// of op's last depth block (direct): the bounds, kept in buf so that the
// pointer outlives no stack frame, when the kernel clips; otherwise nil.
func (op *gemmOp) clipFor(buf *blockBufs, last bool) *float32 {
	if !last || !clipBounds(op.act) {
		return nil
	}
	buf.clip = [2]float32{op.act.Min, op.act.Max}
	return &buf.clip[0]
}

// directAct applies, after the last depth block, an activation that the
// micro-kernels do not (any but Relu and a Clip with clipBounds) to a tile
// stored by direct.
func (op *gemmOp) directAct(i, mr, j0, w int, last bool) {
	if !last || op.act.Kind == ActNone || op.act.Kind == ActRelu || clipBounds(op.act) {
		return
	}
	if k := op.kern; (op.act.Kind == ActSigmoid || op.act.Kind == ActSilu) && k != nil && k.SigmoidTile != nil {
		// c[i+r][j0+j] = [c·]sigmoid(c), the tile at once
		k.SigmoidTile(op.c[i*op.ldc+j0:], op.ldc, mr, w, op.act.Kind == ActSilu)
		return
	}
	if k := op.kern; op.act.hard() && k != nil && k.HardTile != nil {
		// c[i+r][j0+j] = HardSigmoid(c) or HardSwish(c), the tile at once
		k.HardTile(op.c[i*op.ldc+j0:], op.ldc, mr, w, op.act)
		return
	}
	if k := op.kern; op.act.Kind == ActClip && k != nil && k.ClipTile != nil {
		// c[i+r][j0+j] = min(max(c[i+r][j0+j], Min), Max), the tile at once
		k.ClipTile(op.c[i*op.ldc+j0:], op.ldc, mr, w, op.act.Min, op.act.Max)
		return
	}
	for r := range mr {
		o := (i+r)*op.ldc + j0
		op.act.applyK(op.kern, op.c[o:o+w])
	}
}

// packA fills dst with rows [i0, i1) of op(A), columns kb..kb+kl, in
// groups of mr rows: group q holds dst[q·mr·kl + p·mr + r] = op(A)[i0 +
// q·mr + r][kb+p], with zeros for rows past i1.
func (bl *blocked) packA(op *gemmOp, dst []float32, i0, i1, kb, kl int) {
	mr := bl.MR
	for i := i0; i < i1; i += mr {
		grp := dst[(i-i0)*kl : (i-i0+mr)*kl]
		for r := range mr {
			if i+r >= i1 {
				// zero rows below the last
				for p := range kl {
					grp[p*mr+r] = 0
				}
				continue
			}
			src, s := op.aRow(i+r, kb, kl)
			// grp[p·mr + r] = op(A)[i+r][kb+p]
			for p := range kl {
				grp[p*mr+r] = src[p*s]
			}
		}
	}
}

// packConvKind is the tier's Tier.PackConvKind: 0 for direct loops
// (no pack), 1 for Winograd's transformed weights, 2 for the rows of the
// product, 3 for the pixel-tile path's channel panels, 4 for the
// channel-blocked depthwise path's blocks (packDw8).
func (bl *blocked) packConvKind(g *ConvGeom) int {
	switch {
	case g.C/g.Group == 1 && bl.dw8OK(g) && !bl.dwPlaneOK(g, false):
		return 4
	case g.C/g.Group == 1 || gemvOK(g):
		return 0
	case bl.winogradOK(g):
		return 1
	case bl.pixOK(g):
		return 3
	}
	return 2
}

// packConv is the tier's Tier.PackConv: for each group, the group's
// weights (an Mg×K matrix) packed as packA packs them, depth block after
// depth block, rows padded to a multiple of MR (mp rows): block kb of
// group grp starts at grp·mp·K + kb·mp and is mp·kl values long.
func (bl *blocked) packConv(g *ConvGeom, w []float32) []float32 {
	if g.C/g.Group == 1 && bl.dw8OK(g) && !bl.dwPlaneOK(g, false) {
		return packDw8(g, w)
	}
	if g.C/g.Group == 1 || gemvOK(g) {
		return nil // direct loops, or a matrix-vector product of w as it lies
	}
	if bl.winogradOK(g) {
		return bl.winoWeightsInto(keptFloats(bl.winoPackLen(g)), g, w)
	}
	if bl.pixOK(g) {
		return bl.packPix(g, w)
	}
	mg, k := g.M/g.Group, g.C/g.Group*g.KH*g.KW
	n := bl.padRows(mg) * k
	out := keptFloats(g.Group * n)
	for grp := range g.Group {
		bl.packMatrixInto(out[grp*n:(grp+1)*n], w[grp*mg*k:(grp+1)*mg*k], mg, k)
	}
	return out
}

// packMatrix packs an m×k row-major matrix a as packConv packs a group's
// weights: depth block after depth block, each padRows(m)·kl values as
// packA packs them.
func (bl *blocked) packMatrix(a []float32, m, k int) []float32 {
	out := make([]float32, bl.padRows(m)*k)
	bl.packMatrixInto(out, a, m, k)
	return out
}

// packMatrixInto is packMatrix into dst, of padRows(m)·k values.
func (bl *blocked) packMatrixInto(dst, a []float32, m, k int) {
	mp, kc := bl.padRows(m), bl.kBlock(k)
	op := gemmOp{m: m, k: k, a: a, lda: k}
	for kb := 0; kb < k; kb += kc {
		kl := min(kc, k-kb)
		bl.packA(&op, dst[kb*mp:kb*mp+mp*kl], 0, m, kb, kl)
	}
}

// gemm is the tier's Tier.Gemm.
func (bl *blocked) gemm(env *Env, transA, transB bool, m, n, k int, alpha float32,
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
	par := ParOf(env)
	pw := bl.Widths[0]
	gt := TaskOf[gemmTask](env)
	*gt = gemmTask{bl: bl, hint: hintOf(env), t: tilingFor(1, m, CeilDiv(n, pw), k, par.Workers(), pw, bl.MR, bl.mc),
		op: gemmOp{m: m, n: n, k: k, a: a, lda: lda, transA: transA,
			b: b, ldb: ldb, transB: transB, c: c, ldc: ldc, alpha: alpha, beta: beta, plain: true, kern: bl.kern}}
	if env != nil && len(env.PackedW) == bl.gemmPackLen(k, n) {
		gt.op.bpack = env.PackedW
	}
	runTask(env, gt.t.all, gt)
}

// gemmPackLen is the length of packGemm's result for a k×n B: every panel
// PackGemm makes takes the room of a full one.
func (bl *blocked) gemmPackLen(k, n int) int {
	pw := bl.Widths[0]
	return k * CeilDiv(n, pw) * pw
}

// packGemm is the tier's Tier.PackGemm: B' = op(B) (k×n) in the panels
// tile packs at each call, depth block after depth block (kBlock), each
// block's panels of Widths[0] columns in order, the last as wide as the
// kernel that takes it (kernFor) and zero past column n:
//
//	out[kb·P·pw + p·kl·pw + r·kw + j] = B'[kb + r][p·pw + j]
//
// for P = ceil(n/pw) panels, a block of kl rows at kb and the panel's
// kernel width kw.
func (bl *blocked) packGemm(transB bool, k, n int, b []float32, ldb int) []float32 {
	if k <= 0 || n <= 0 {
		return nil
	}
	pw := bl.Widths[0]
	panels := CeilDiv(n, pw)
	out := keptFloats(bl.gemmPackLen(k, n))
	op := gemmOp{k: k, n: n, b: b, ldb: ldb, transB: transB, plain: true}
	kc := bl.kBlock(k)
	for kb := 0; kb < k; kb += kc {
		kl := min(kc, k-kb)
		for p := range panels {
			j0 := p * pw
			w := min(pw, n-j0)
			_, kw := bl.kernFor(w)
			o := kb*panels*pw + p*kl*pw
			op.pack(out[o:o+kl*kw], kb, kl, j0, w, kw)
		}
	}
	return out
}

// convPath is the way blocked.conv computes a convolution.
type convPath int

const (
	pathNone     convPath = iota // nothing to compute
	pathDwPlane                  // depthwise, on the planes as they lie (convDwPlane)
	pathDw8                      // depthwise, 8 channels a vector (convDw8)
	pathDirect                   // depthwise, the window kernel (convDirect)
	pathWinograd                 // Winograd F(4×4, 3×3) (convWinograd)
	pathPix                      // pixel tiles, channels in the vectors (convPix)
	pathInPlace                  // the product reading its input in place (convInPlace)
	pathTiles                    // im2col tiles packed per panel (convTilesTask)
	pathGemv                     // a matrix-vector product (convGemv)
)

// pathOf returns the path conv takes for g; pre says whether the fusion
// has a prologue.
func (bl *blocked) pathOf(g *ConvGeom, pre bool) convPath {
	switch {
	case g.N == 0 || g.M == 0 || g.OH*g.OW == 0:
		return pathNone
	case bl.dwPlaneOK(g, pre):
		return pathDwPlane
	case bl.dw8OK(g):
		return pathDw8
	case g.C/g.Group == 1:
		return pathDirect
	case gemvOK(g) && !pre:
		return pathGemv
	case bl.winogradOK(g):
		return pathWinograd
	case bl.pixOK(g):
		return pathPix
	}
	// A pointwise convolution on a small plane (ResNet's 7×7) reads its
	// input rows in place for each block of output channels, a few panels
	// each, the last mostly empty; packed once, B is reused by every block.
	smallPointwise := isPointwise(g) && !pre && g.OH*g.OW < 4*bl.Widths[0]
	if bl.inPlaceOK(g) && !smallPointwise {
		return pathInPlace
	}
	return pathTiles
}

// convPathName is the tier's Tier.ConvPath: pathOf in words, with the
// variant of the path the geometry takes.
func (bl *blocked) convPathName(g *ConvGeom, pre bool) string {
	switch bl.pathOf(g, pre) {
	case pathDwPlane:
		return "depthwise planes"
	case pathDw8:
		return "depthwise 8-channel"
	case pathDirect:
		return "depthwise window"
	case pathWinograd:
		return "winograd"
	case pathPix:
		switch {
		case bl.pixBlocked(g, pre):
			return "pixel tiles, 8-channel blocks"
		case bl.pixStridedPoint(g, pre):
			return "pixel tiles, strided planes"
		case bl.pixMajor(g):
			return "pixel tiles, pixel-major"
		}
		return "pixel tiles"
	case pathInPlace:
		if bl.inPlacePack(g) {
			return "in place, packed panels"
		}
		return "in place"
	case pathTiles:
		return "im2col tiles"
	case pathGemv:
		return "matrix-vector"
	}
	return ""
}

// conv is the tier's Tier.Conv: the generic tier's implicit-im2col
// product (see convGeneric) on the micro-kernels, by the path pathOf picks.
func (bl *blocked) conv(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	switch bl.pathOf(g, f.hasPre()) {
	case pathNone:
	case pathDwPlane:
		bl.convDwPlane(env, g, x, w, b, y, f)
	case pathDw8:
		bl.convDw8(env, g, x, w, b, y, f)
	case pathDirect:
		convDirect(env, g, x, w, b, y, f)
	case pathWinograd:
		// (image by image measured no faster: ResNet-50, DenseNet-121 at
		// batch 8)
		bl.convWinograd(env, g, x, w, b, y, f)
	case pathPix:
		if g.N > 1 && pixImagesAsPixels(g, f) {
			bl.imagesAsPixels(env, g, x, w, b, y, f)
			return
		}
		if g.N > 1 {
			bl.perImage(env, g, x, w, b, y, f, (*blocked).convPix)
			return
		}
		bl.convPix(env, g, x, w, b, y, f)
	case pathInPlace:
		if g.N > 1 {
			bl.perImage(env, g, x, w, b, y, f, (*blocked).convInPlace)
			return
		}
		bl.convInPlace(env, g, x, w, b, y, f)
	case pathGemv:
		convGemv(env, g, x, w, b, y, f)
	default:
		mg, k := g.M/g.Group, g.C/g.Group*g.KH*g.KW
		par := ParOf(env)
		pw := bl.Widths[0]
		ct := TaskOf[convTilesTask](env)
		*ct = convTilesTask{bl: bl, env: env, g: g, x: x, w: w, b: b, y: y, f: f,
			t:         tilingFor(g.N*g.Group, mg, CeilDiv(g.OH*g.OW, pw), k, par.Workers(), pw, bl.MR, bl.mc),
			pointwise: isPointwise(g) && !f.hasPre()}
		runTask(env, ct.t.all, ct)
	}
}

// imageCall is perImage's one-image geometry and fusion.
type imageCall struct {
	g ConvGeom
	f ConvFusion
}

// perImage runs path on each image of g in turn, as a batch of one: a
// path that copies its input (the phase planes, the pixel path's blocked
// or pixel-major copy) then makes one image's copy at a time, which stays
// in the cache while the product reads it; the whole batch's copy did not.
// The tiles were image by image already, so the weights are read as
// often as before. At batch 8 (alternating, one and two threads):
// RegNet-Y 800MF -12 % and -8 %, MobileNetV2 -3 % and -2 %, ResNet-50
// -3 % and +1.5 %, ResNet-18 and ResNeXt-50 unchanged.
func (bl *blocked) perImage(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion,
	path func(bl *blocked, env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion)) {
	ic := bl.images.Get(hintOf(env))
	defer func() {
		*ic = imageCall{} // no tensors kept between calls
		bl.images.Put(hintOf(env), ic)
	}()
	ic.g = *g
	ic.g.N = 1
	var f1 *ConvFusion
	if f != nil {
		ic.f = *f
		f1 = &ic.f
	}
	in, out := g.C*g.H*g.W, g.M*g.OH*g.OW
	for n := range g.N {
		if f != nil && f.Residual != nil {
			ic.f.Residual = f.Residual[n*out : (n+1)*out]
		}
		path(bl, env, &ic.g, x[n*in:(n+1)*in], w, b, y[n*out:(n+1)*out], f1)
	}
}

// pixImagesAsPixels reports whether the pixel tiles compute g's images
// as one image of all their pixels (imagesAsPixels): an ungrouped 1×1
// window at stride 1, unpadded, without a prologue, x and y pixel-major
// (f.PixIn and f.PixOut) or planes of one pixel, which are the same, and
// the batch's offsets within int32 (the kernels' pixel offsets). A
// pixel's output is then the same sum whichever image it is counted in,
// and y's and Z's rows lie as they would.
func pixImagesAsPixels(g *ConvGeom, f *ConvFusion) bool {
	pixels := f != nil && f.PixIn && f.PixOut || g.H*g.W == 1 && g.OH*g.OW == 1
	return pixels && !f.hasPre() && g.Group == 1 && g.KH*g.KW == 1 && g.SH*g.SW == 1 &&
		g.PadT+g.PadB+g.PadL+g.PadR == 0 &&
		int64(g.N)*int64(g.H)*int64(g.W)*int64(max(g.C, g.M)) < math.MaxInt32
}

// imagesAsPixels runs convPix on g's N images as one image of N·H rows
// (pixImagesAsPixels), pixel-major: the tiles run on across images, so a
// block of weights in L1 serves every image's pixels, where image by
// image (perImage) each image read it again, and a plane of 49 pixels was
// 7 tiles of 7. A batched tail's squeeze-excitation layers ([N, C, 1, 1])
// were N tiles of one pixel, each reading all the weights: at batch 8,
// one thread, in the network, RegNet-Y 800MF's four 445 → 163 µs,
// MobileNetV3-Large's 166-261 → 56-106 µs each, EfficientNet-B0's 77-98
// → 26-29.
func (bl *blocked) imagesAsPixels(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	ic := bl.images.Get(hintOf(env))
	defer func() {
		*ic = imageCall{} // no tensors kept between calls
		bl.images.Put(hintOf(env), ic)
	}()
	ic.g = *g
	ic.g.N, ic.g.H, ic.g.OH = 1, g.N*g.H, g.N*g.OH
	if f != nil {
		ic.f = *f
	}
	ic.f.PixIn, ic.f.PixOut = true, true
	bl.convPix(env, &ic.g, x, w, b, y, &ic.f)
}

// seqOffsets returns the offsets of the steps of a packed panel k steps of
// w values: seq[p] = p·w.
func seqOffsets(k, w int) []int32 {
	seq := make([]int32, k)
	for p := range seq {
		seq[p] = int32(p * w)
	}
	return seq
}

// PackPanelAffineGo returns the portable twin of a PackPanelAffine of w
// values a row.
func PackPanelAffineGo(w int) func(dst, src *float32, boff *int32, k int, scale, bias *float32, relu int) {
	return func(dst, src *float32, boff *int32, k int, scale, bias *float32, relu int) {
		if k <= 0 {
			return
		}
		offs := unsafe.Slice(boff, k)
		d, s := unsafe.Slice(dst, k*w), unsafe.Slice(src, maxOffset(offs)+w)
		sc, bi := unsafe.Slice(scale, k), unsafe.Slice(bias, k)
		for p, o := range offs {
			affineGo(d[p*w:(p+1)*w], s[o:int(o)+w], sc[p], bi[p], relu != 0)
		}
	}
}

// PackPanelGo returns the portable twin of a PackPanel of w values a row.
func PackPanelGo(w int) func(dst, src *float32, boff *int32, k int) {
	return func(dst, src *float32, boff *int32, k int) {
		if k <= 0 {
			return
		}
		offs := unsafe.Slice(boff, k)
		d, s := unsafe.Slice(dst, k*w), unsafe.Slice(src, maxOffset(offs)+w)
		for p, o := range offs {
			copy(d[p*w:(p+1)*w], s[o:int(o)+w])
		}
	}
}
