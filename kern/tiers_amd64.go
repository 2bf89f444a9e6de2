//go:build amd64 && !purego

package kern

import (
	"github.com/bnrun/bnrun/kern/amd64"
	"github.com/klauspost/cpuid/v2"
)

// This file is the one place that plugs package amd64's assembly into the
// kernel table. The CPU is inspected once, here: a tier is registered only
// when the CPU can run it, so TierByName("avx512") is nil on a machine
// without AVX-512 and Best never picks a tier the CPU lacks.

// AVX512 is the AVX-512F tier: 8×48, 8×32 and 8×16 micro-kernels, 8×48
// ones (and their last rows) reading convolution inputs in place, and
// pixel-tile kernels of up to 8 pixels × 32 channels. It needs AVX-512 F,
// BW, DQ and VL.
var AVX512 = NewBlockedTier(avx512Spec)

// AVX2 is the AVX2+FMA tier: 6×16 and 6×8 micro-kernels, and a 6×16 one
// reading convolution inputs in place.
var AVX2 = NewBlockedTier(avx2Spec)

var avx512Spec = withWidthFree(BlockedSpec{
	Name:   "avx512",
	MR:     8,
	Widths: []int{48, 32, 16},
	Kerns:  []MicroKernel{amd64.KernAVX512x8x48, amd64.KernAVX512x8x32, amd64.KernAVX512x8x16},
	KC:     128,
	Offs:   amd64.KernAVX512x8x48Offs,
	OffsRows: []MicroKernelOffs{amd64.KernAVX512x1x48OffsOf8, amd64.KernAVX512x2x48OffsOf8,
		amd64.KernAVX512x3x48OffsOf8, amd64.KernAVX512x4x48OffsOf8, amd64.KernAVX512x5x48OffsOf8,
		amd64.KernAVX512x6x48OffsOf8, amd64.KernAVX512x7x48OffsOf8},
	OffsNarrow:      []MicroKernelOffs{amd64.KernAVX512x8x16Offs, amd64.KernAVX512x8x32Offs},
	OffsCols:        amd64.KernAVX512x8x16OffsMask,
	PackPanel:       amd64.PackRows48AVX512,
	PackPanelAffine: amd64.PackRowsAffine48AVX512,

	Pix: []PixKernel{amd64.KernPixAVX512x1x32, amd64.KernPixAVX512x2x32, amd64.KernPixAVX512x3x32,
		amd64.KernPixAVX512x4x32, amd64.KernPixAVX512x5x32, amd64.KernPixAVX512x6x32,
		amd64.KernPixAVX512x7x32, amd64.KernPixAVX512x8x32},
	PixWidth: 32,
	PixKC:    64,
	PixHalf: []PixKernel{amd64.KernPixAVX512x1x16Of32, amd64.KernPixAVX512x2x16Of32, amd64.KernPixAVX512x3x16Of32,
		amd64.KernPixAVX512x4x16Of32, amd64.KernPixAVX512x5x16Of32, amd64.KernPixAVX512x6x16Of32,
		amd64.KernPixAVX512x7x16Of32, amd64.KernPixAVX512x8x16Of32},
	// A block of 16 channels on the blocked copy with a 3-wide window
	// (RegNet's groups): rows of up to 16 pixels at stride 1 and 2.
	PixRow: [2][]PixRowKernel{{
		amd64.KernPixRowAVX512x1S1, amd64.KernPixRowAVX512x2S1, amd64.KernPixRowAVX512x3S1, amd64.KernPixRowAVX512x4S1,
		amd64.KernPixRowAVX512x5S1, amd64.KernPixRowAVX512x6S1, amd64.KernPixRowAVX512x7S1, amd64.KernPixRowAVX512x8S1,
		amd64.KernPixRowAVX512x9S1, amd64.KernPixRowAVX512x10S1, amd64.KernPixRowAVX512x11S1, amd64.KernPixRowAVX512x12S1,
		amd64.KernPixRowAVX512x13S1, amd64.KernPixRowAVX512x14S1, amd64.KernPixRowAVX512x15S1, amd64.KernPixRowAVX512x16S1,
	}, {
		amd64.KernPixRowAVX512x1S2, amd64.KernPixRowAVX512x2S2, amd64.KernPixRowAVX512x3S2, amd64.KernPixRowAVX512x4S2,
		amd64.KernPixRowAVX512x5S2, amd64.KernPixRowAVX512x6S2, amd64.KernPixRowAVX512x7S2, amd64.KernPixRowAVX512x8S2,
		amd64.KernPixRowAVX512x9S2, amd64.KernPixRowAVX512x10S2, amd64.KernPixRowAVX512x11S2, amd64.KernPixRowAVX512x12S2,
		amd64.KernPixRowAVX512x13S2, amd64.KernPixRowAVX512x14S2, amd64.KernPixRowAVX512x15S2, amd64.KernPixRowAVX512x16S2,
	}},
	// The pixel-tile path and what rides on it (grouped, strided, small
	// planes, the one-pass depthwise blocks), the last-rows kernels and
	// the panel copy, as on AVX2; on a Zen 5, one thread, batch 1,
	// alternating with ONNX Runtime: ResNet-18 18.6 → 15.6 ms, ResNet-50
	// 47.2 → 43.0, DenseNet-121 28.5 → 26.9, MobileNetV2 5.4 → 4.9.
	PixMaxPixels: 64,
	// DenseNet's 128 → 32 3×3 layers at 14×14: 106 → 78 µs (pixNarrow).
	PixNarrowMaxPixels: 196,
	PixMajor:           true,
	PixStrided:         true,
	PixGrouped:         true,
	DwBlockMinPixels:   56 * 56,
	DwBlockL2:          coreL2(),
	// RegNet's first grouped block expands into 8-channel blocks on the
	// pixel tiles (groupRowsPix): 1139-1147 → 1052-1058 µs alone, hot.
	GroupRowsPix: true,

	Lanes:  16,
	Affine: amd64.AffineAVX512,
	Add:    amd64.AddAVX512,
	Mul:    amd64.MulAVX512,
	Max:    amd64.MaxAVX512,
	Sum:    amd64.SumAVX512,
	ColSum: amd64.ColSumAVX512,
	Dot:    amd64.DotAVX512,
	Axpy:   amd64.AxpyAVX512,
	Clip:   amd64.ClipAVX512,
	Pick2:  amd64.Pick2AVX2,

	// Depthwise rows sixteen pixels a step at stride 1, two a vector
	// (BenchmarkDepthwise, one thread: MobileNetV2's stride-1 layers 1.2
	// to 1.3 times faster than eight a step).
	Dw8: amd64.DwRow8AVX512,
	// The one-pass blocks' depthwise layer 16 channels a vector: e's
	// pixels of 32 channels are steps of 32 or 64 values, which DwRow8
	// ran four pixels a step at half the width (one thread, hot: the
	// 24 → 144 → 24 block at 56×56 479 → 387 µs; in the network, one and
	// two threads, MnasNet 0.95-0.98 of its time, EfficientNet-B0
	// 0.96-0.98, MobileNetV2 0.96-0.98).
	Dw16:    amd64.DwRow16AVX512,
	DwPlane: dwPlaneAVX512,
	// 2×2 stride-2 average pooling of whole planes, 16 outputs a step
	// and a masked last step per row (DenseNet-121's transitions, 7 to 28
	// outputs a row; one thread, Zen 5: BenchmarkPool's 128×56² 82 → 22
	// µs, the three in the network 562 → 140 µs, DenseNet-121 0.93).
	AvgPool2s2Rows: amd64.AvgPool2s2RowsAVX512,
	// 3×3 stride-2 max pooling rows sixteen windows a step (BenchmarkPool,
	// ResNet's stem pool, one thread).
	MaxPool3s2:         amd64.MaxPool3s2AVX512,
	MaxPool3s2Rows:     amd64.MaxPool3s2RowsAVX512,
	PadRows:            amd64.PadRowsAVX512,
	OffsFew:            [4]func(k int, a, b *float32, boff *int32, c *float32, ldc int, flags, cols int){amd64.OffsFew1AVX512, amd64.OffsFew2AVX512, amd64.OffsFew3AVX512, amd64.OffsFew4AVX512},
	Gather16Rows:       amd64.Gather16RowsAVX512,
	Gather16RowsAffine: amd64.Gather16RowsAffineAVX512,
	Scatter16Epi:       amd64.Scatter16EpiAVX512,
	// Sigmoid and SiLU 16 lanes a vector (Zen 5, one thread:
	// EfficientNet-B0 0.90 of the time with AVX2's); HardSigmoid,
	// HardSwish and the Clip tile too (no change measured).
	Sigmoid:  amd64.SigmoidAVX512,
	Silu:     amd64.SiluAVX512,
	Hard:     amd64.HardAVX512,
	ClipTile: amd64.ClipTileAVX512,

	WinoIn:     amd64.WinoInAVX512,
	WinoInNT:   amd64.WinoInNTAVX512,
	StoreFence: amd64.StoreFence,
	WinoStore:  amd64.WinoStoreAVX512,
	// 14×14 outputs' edge tiles (see convWinograd)
	WinoStoreMask: amd64.WinoStoreMaskAVX512,
	// Winograd from 14×14 outputs up (16 tiles): BenchmarkWinograd on a
	// Zen 5, one worker, ResNet's 64×56², 128×28², 256×14² layers 2.4,
	// 2.3 and 1.65 times faster than the direct product; 512×7² 4 times
	// slower.
	WinogradMinCols: 16,
})

var avx2Spec = withWidthFree(BlockedSpec{
	Name:   "avx2",
	MR:     6,
	Widths: []int{16, 8},
	Kerns:  []MicroKernel{amd64.KernAVX2x6x16, amd64.KernAVX2x6x8},
	KC:     256,
	Offs:   amd64.KernAVX2x6x16Offs,
	OffsRows: []MicroKernelOffs{amd64.KernAVX2x1x16OffsOf6, amd64.KernAVX2x2x16OffsOf6,
		amd64.KernAVX2x3x16OffsOf6, amd64.KernAVX2x4x16OffsOf6, amd64.KernAVX2x5x16OffsOf6},
	OffsNarrow:      []MicroKernelOffs{amd64.KernAVX2x6x8Offs},
	PackPanel:       amd64.PackRows16AVX2,
	PackPanelAffine: amd64.PackRowsAffine16AVX2,

	Pix: []PixKernel{amd64.KernPixAVX2x1x16, amd64.KernPixAVX2x2x16, amd64.KernPixAVX2x3x16,
		amd64.KernPixAVX2x4x16, amd64.KernPixAVX2x5x16, amd64.KernPixAVX2x6x16},
	PixWidth: 16,
	PixKC:    64,
	PixHalf: []PixKernel{amd64.KernPixAVX2x1x8Of16, amd64.KernPixAVX2x2x8Of16, amd64.KernPixAVX2x3x8Of16,
		amd64.KernPixAVX2x4x8Of16, amd64.KernPixAVX2x5x8Of16, amd64.KernPixAVX2x6x8Of16,
		amd64.KernPixAVX2x7x8Of16, amd64.KernPixAVX2x8x8Of16},
	// ResNet's 7×7 layers (BenchmarkConvLayers, one thread): 1×1 62-67
	// → 77-80 GFLOP/s, 3×3 59 → 85, stride-2 3×3 and 1×1 into 7×7 52-60
	// → 73-76; at 14×14 neither path is clearly faster.
	PixMaxPixels: 64,
	PixMajor:     true,
	// Strided 3×3: ResNet-50's 128×128 56²→28² 63-66 → 72-77 GFLOP/s
	// (alternating, one thread); 28²→14² and 14²→7² about even.
	PixStrided: true,
	// Grouped 3×3 with 16 and 32 channels a group (RegNet, ResNeXt), one
	// thread: 56×56 74 → 74-77 GFLOP/s, 28×28 71 → 82, 14×14 54-63 → 62-75.
	PixGrouped: true,
	// Inverted residual blocks in one pass where the depthwise layer reads
	// a 56×56 plane or larger (MobileNetV2 one thread 10.7 → 9.8 ms); on
	// 28×28 and smaller planes, where the layers' tensors stay in the cache
	// anyway, the blocks' extra pixels (padding columns, the halo of a
	// second worker's rows, 16-channel blocks of 72 or 120) cost more than
	// the passes over memory they save (MnasNet +2 % at 28×28).
	DwBlockMinPixels: 56 * 56,
	DwBlockL2:        coreL2(),

	Lanes:  8,
	Affine: amd64.AffineAVX2,
	Add:    amd64.AddAVX2,
	Mul:    amd64.MulAVX2,
	Max:    amd64.MaxAVX2,
	Sum:    amd64.SumAVX2,
	ColSum: amd64.ColSumAVX2,
	Dot:    amd64.DotAVX2,
	Axpy:   amd64.AxpyAVX2,
	Clip:   amd64.ClipAVX2,
	Pick2:  amd64.Pick2AVX2,

	WinoIn:     amd64.WinoInAVX2,
	WinoInNT:   amd64.WinoInNTAVX2,
	StoreFence: amd64.StoreFence,
	WinoStore:  amd64.WinoStoreAVX2,
	// 14×14 outputs' edge tiles (see convWinograd)
	WinoStoreMask: amd64.WinoStoreMaskAVX2,
	// Winograd from 14×14 outputs up (16 tiles), where BenchmarkWinograd
	// measured it faster than the direct product on one and two threads:
	// ResNet's 64×56², 128×28², 256×14² layers 2.0, 1.7 and 1.25 times
	// faster on one thread; 512×7² 1.5 times slower.
	WinogradMinCols: 16,
})

// withWidthFree sets in s the kernels that do not depend on a tier's
// vector width, AVX2 code that both tiers run: the depthwise window, the
// channel-blocked depthwise path and the pooling rows, and the Clip tile,
// sigmoid and hard activations where s has none of its own.
func withWidthFree(s BlockedSpec) BlockedSpec {
	s.DwTaps = amd64.DwTapsAVX2
	if s.ClipTile == nil {
		s.ClipTile = amd64.ClipTileAVX2
	}
	if s.Sigmoid == nil {
		s.Sigmoid, s.Silu = amd64.SigmoidAVX2, amd64.SiluAVX2
	}
	if s.Hard == nil {
		s.Hard = amd64.HardAVX2
	}
	// Depthwise 3×3 layers of MobileNetV2 on AVX2, one thread, against
	// convDirect: 7×7 352 → 120 µs, 14×14 stride 2 725 → 104, 28×28 205
	// → 115; in bands of rows with rows of whole vectors transposed in
	// place: 56×56 476 → 250, 112×112 → 56×56 993 → 275, 112×112 stride 1
	// 314 → 218. So every plane size takes it.
	if s.Dw8 == nil {
		s.Dw8 = amd64.DwRow8AVX2
	}
	s.Dw8MaxPixels = 0
	s.Gather8, s.Scatter8, s.Gather8Rows = amd64.Gather8AVX2, amd64.Scatter8AVX2, amd64.Gather8RowsAVX2
	s.Gather8RowsAffine = amd64.Gather8RowsAffineAVX2
	s.Block8Rows = amd64.Block8RowsAVX2
	if s.MaxPool3s2 == nil {
		s.MaxPool3s2 = amd64.MaxPool3s2AVX2
	}
	s.AvgPool2s2 = amd64.AvgPool2s2AVX2
	return s
}

func init() {
	LastLevelCache = max(0, cpuid.CPU.Cache.L3)
	if cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3) {
		RegisterTier(AVX2)
	}
	if cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL) {
		RegisterTier(AVX512)
	}
}

// coreL2 is the bytes of a core's level-2 cache as CPUID reports it, or 0
// where it does not.
func coreL2() int { return max(0, cpuid.CPU.Cache.L2) }

// dwPlaneAVX512 returns the AVX-512 DwPlane kernel for a kh×kw window at
// stride s: 3×3 and 5×5 (MobileNet's, MnasNet's and EfficientNet's) at
// stride 1. One thread, against the 8-channel path: MobileNetV2's
// 32-channel 112×112 layer 0.49 of its time, 144 at 56×56 0.58, 192 at
// 28×28 0.53, 384 at 14×14 0.63, 960 at 7×7 0.95.
func dwPlaneAVX512(kh, kw, s int) DwPlaneKernel {
	switch [3]int{kh, kw, s} {
	case [3]int{3, 3, 1}:
		return amd64.DwPlane3x3S1AVX512
	case [3]int{5, 5, 1}:
		return amd64.DwPlane5x5S1AVX512
	}
	return nil
}
