package kern

import "unsafe"

// Twin is the blocked driver on the Go twins of the assembly kernels, with
// an awkward row count, widths and depth blocks so that every edge path of
// the driver runs: an oracle for tests of any package, on any
// architecture. It is not registered (TierByName does not find it) and is
// not meant to be fast.
var Twin = NewBlockedTier(BlockedSpec{
	Name:   "twin",
	MR:     5,
	Widths: []int{24, 16, 8},
	Kerns:  []MicroKernel{MicroGo(5, 24), MicroGo(5, 16), MicroGo(5, 8)},
	KC:     37,
	Offs:   MicroGoOffs(5, 24),
	OffsRows: []MicroKernelOffs{MicroGoOffsOf(5, 1, 24), MicroGoOffsOf(5, 2, 24),
		MicroGoOffsOf(5, 3, 24), MicroGoOffsOf(5, 4, 24)},
	OffsNarrow: []MicroKernelOffs{MicroGoOffs(5, 8), MicroGoOffs(5, 16)},
	OffsCols:   MicroGoOffsCols(5, 8),
	OffsFew:    [4]func(k int, a, b *float32, boff *int32, c *float32, ldc int, flags, cols int){OffsFewGo(1, 5), OffsFewGo(2, 5), OffsFewGo(3, 5), OffsFewGo(4, 5)},
	PackPanel:  PackPanelGo(24),

	Lanes:  8,
	DwTaps: DwTapsGo,
	ColSum: ColSumGo,
	PadRows: func(dst *float32, ldd int, src *float32, lds, rows, n, padL int) {
		PadRowsGo(unsafe.Slice(dst, rows*ldd), ldd, unsafe.Slice(src, (rows-1)*lds+n), lds, rows, n, padL)
	},
	Sigmoid: func(dst, src *float32, ld, rows, n int) {
		for r := range rows {
			sigmoidFast(unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(dst), 4*r*ld)), n),
				unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(src), 4*r*ld)), n))
		}
	},
	Silu: func(dst, src *float32, ld, rows, n int) {
		for r := range rows {
			siluFast(unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(dst), 4*r*ld)), n),
				unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(src), 4*r*ld)), n))
		}
	},

	Hard: func(dst, src *float32, ld, rows, n int, alpha, beta float32, swish int) {
		for r := range rows {
			d := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(dst), 4*r*ld)), n)
			x := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(src), 4*r*ld)), n)
			if swish != 0 {
				HardSwishF32(d, x)
			} else {
				HardSigmoidF32(d, x, alpha, beta)
			}
		}
	},

	// planes of at most 30 outputs go to Dw8, larger ones to DwPlane
	DwPlane: func(kh, kw, s int) DwPlaneKernel {
		if kh > 7 || kw > 5 || s > 2 {
			return nil
		}
		return DwPlaneGo(kh, kw, s)
	},
	DwPlaneMinPixels: 30,
	Dw8:              Dw8Go,
	Dw8MaxPixels:     30,
	Dw8Band:          1500, // bands of a few rows, a shorter last one

	Pix:          []PixKernel{PixGo(1, 8), PixGo(2, 8), PixGo(3, 8)},
	PixHalf:      []PixKernel{PixGoOf(1, 4, 8), PixGoOf(2, 4, 8)},
	PixWidth:     8,
	PixKC:        19,
	PixMaxPixels: 40,
	PixMajor:     true,
	PixStrided:   true,
	PixGrouped:   true,

	WinogradMinCols: 48,
})

// TwinPacked is Twin without the kernels that read convolution inputs in
// place, so that every convolution goes through the packed (im2col) path.
var TwinPacked = NewBlockedTier(BlockedSpec{
	Name:   "twin-packed",
	MR:     3,
	Widths: []int{16, 8},
	Kerns:  []MicroKernel{MicroGo(3, 16), MicroGo(3, 8)},
	KC:     50,
})
