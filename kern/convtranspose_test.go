package kern

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// ctCase is a transposed convolution: the geometry's fields, with the
// output size derived from the pads at the end (pb, pr) and the output
// padding (oph, opw) as ONNX derives it:
//
//	OH = SH·(H-1) + oph + DH·(KH-1) + 1 - PadT - pb
type ctCase struct {
	n, c, m, h, w, kh, kw    int
	sh, sw, dh, dw           int
	pt, pl, pb, pr, oph, opw int
	group                    int
	bias                     bool
}

func (tc ctCase) geom() *ConvTransposeGeom {
	return &ConvTransposeGeom{N: tc.n, C: tc.c, H: tc.h, W: tc.w, M: tc.m, KH: tc.kh, KW: tc.kw,
		OH:   tc.sh*(tc.h-1) + tc.oph + tc.dh*(tc.kh-1) + 1 - tc.pt - tc.pb,
		OW:   tc.sw*(tc.w-1) + tc.opw + tc.dw*(tc.kw-1) + 1 - tc.pl - tc.pr,
		PadT: tc.pt, PadL: tc.pl, SH: tc.sh, SW: tc.sw, DH: tc.dh, DW: tc.dw, Group: tc.group}
}

func (tc ctCase) String() string {
	return fmt.Sprintf("N%d C%d M%d in%dx%d k%dx%d s%dx%d d%dx%d pads %d,%d,%d,%d outpad %d,%d g%d bias=%v",
		tc.n, tc.c, tc.m, tc.h, tc.w, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.pt, tc.pl, tc.pb, tc.pr, tc.oph, tc.opw, tc.group, tc.bias)
}

var ctCases = []ctCase{
	// The usual 2× upsampling of FPN and U-Net heads.
	{n: 1, c: 8, m: 4, h: 5, w: 6, kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1, group: 1, bias: true},
	{n: 2, c: 5, m: 3, h: 7, w: 4, kh: 4, kw: 4, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, group: 1},
	// Odd channel counts, stride 3, pads, output padding.
	{n: 1, c: 7, m: 5, h: 3, w: 3, kh: 3, kw: 3, sh: 3, sw: 2, dh: 1, dw: 1, pt: 1, pl: 2, pb: 1, pr: 2, group: 1, bias: true},
	{n: 3, c: 3, m: 13, h: 4, w: 5, kh: 3, kw: 5, sh: 3, sw: 3, dh: 1, dw: 1, oph: 2, opw: 1, group: 1, bias: true},
	{n: 1, c: 1, m: 2, h: 3, w: 3, kh: 3, kw: 3, sh: 3, sw: 2, dh: 1, dw: 1, oph: 1, opw: 1, group: 1},
	// Dilations, asymmetric pads, stride 1.
	{n: 2, c: 6, m: 7, h: 6, w: 5, kh: 3, kw: 2, sh: 1, sw: 1, dh: 2, dw: 3, pt: 2, pl: 0, pb: 1, pr: 3, group: 1, bias: true},
	{n: 1, c: 4, m: 3, h: 5, w: 9, kh: 2, kw: 3, sh: 2, sw: 3, dh: 3, dw: 2, pt: 0, pl: 1, pb: 2, pr: 0, oph: 1, opw: 2, group: 1},
	// Groups: 2, 3 and depthwise.
	{n: 2, c: 6, m: 10, h: 5, w: 6, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, oph: 1, opw: 1, group: 2, bias: true},
	{n: 1, c: 9, m: 6, h: 4, w: 7, kh: 3, kw: 1, sh: 2, sw: 1, dh: 1, dw: 1, group: 3},
	{n: 3, c: 5, m: 5, h: 6, w: 6, kh: 4, kw: 4, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, group: 5, bias: true},
	// Negative pads (an output_shape past the full output): rows and
	// columns the input never reaches hold the bias alone.
	{n: 1, c: 3, m: 4, h: 3, w: 3, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: -2, pl: -1, pb: -1, pr: -3, group: 1, bias: true},
	// Pads larger than the kernel's reach on one side.
	{n: 1, c: 2, m: 3, h: 6, w: 6, kh: 2, kw: 2, sh: 1, sw: 1, dh: 1, dw: 1, pt: 3, pl: 2, pb: 0, pr: 1, group: 1},
	// 1-D, and a plane wider than a chunk of the Cols matrix, with a
	// partial chunk at the end.
	{n: 2, c: 5, m: 7, h: 1, w: 29, kh: 1, kw: 3, sh: 1, sw: 2, dh: 1, dw: 1, pl: 1, pr: 2, opw: 1, group: 1, bias: true},
	{n: 1, c: 3, m: 300, h: 1, w: 700, kh: 1, kw: 4, sh: 1, sw: 2, dh: 1, dw: 1, pl: 1, pr: 1, group: 1, bias: true},
	{n: 2, c: 20, m: 70, h: 23, w: 17, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 0, pr: 0, group: 1, bias: true},
	// Deep sums and many output channels: several depth blocks and row
	// blocks of the Gemm.
	{n: 1, c: 300, m: 33, h: 6, w: 5, kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1, group: 1, bias: true},
	{n: 1, c: 37, m: 130, h: 9, w: 8, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, group: 1},
}

// runCT runs f on tc's random operands with workers workers and, when
// scratch is set, the scratch ConvTransposeScratch asks, and returns y with
// kerntest.Guard values around it; y starts as NaN.
func runCT(f func(*Env, *ConvTransposeGeom, []float32, []float32, []float32, []float32), k *Tier, workers int, scratch bool, tc ctCase, seed uint64) []float32 {
	g := tc.geom()
	x := kerntest.Rand(seed, g.N*g.C*g.H*g.W)
	w := kerntest.Rand(seed+1, g.C*(g.M/g.Group)*g.KH*g.KW)
	var b []float32
	if tc.bias {
		b = kerntest.Rand(seed+2, g.M)
	}
	const pad = 7
	ny := g.N * g.M * g.OH * g.OW
	buf := make([]float32, ny+2*pad)
	for i := range buf {
		buf[i] = kerntest.Guard
	}
	for i := pad; i < pad+ny; i++ {
		buf[i] = float32(math.NaN())
	}
	env := testEnv(k, workers)
	if scratch {
		env.Scratch = make([]float32, ConvTransposeScratch(g))
	}
	f(env, g, x, w, b, buf[pad:pad+ny:pad+ny])
	return buf
}

// TestConvTransposeTiersMatchReference runs the col2im path on the Gemm of
// every tier, the reference's included, against the direct loop, with
// and without scratch and with several worker counts, guards included.
func TestConvTransposeTiersMatchReference(t *testing.T) {
	for i, tc := range ctCases {
		seed := uint64(10 * i)
		want := runCT(convTransposeRef, Reference, 1, false, tc, seed)
		for _, k := range append([]*Tier{Reference}, testTiers()...) {
			for _, workers := range []int{1, 2, 3, 8} {
				got := runCT(convTransposeGemm, k, workers, workers%2 == 0, tc, seed)
				kerntest.Check(t, fmt.Sprintf("%v %s workers=%d", tc, k.Name, workers), got, want, 1e-5)
			}
		}
	}
}

// TestConvTransposeDeterministic checks that each tier's result does not
// depend on the worker count, bit for bit.
func TestConvTransposeDeterministic(t *testing.T) {
	for _, tc := range []ctCase{ctCases[7], ctCases[13], ctCases[14]} {
		for _, k := range append([]*Tier{Reference}, testTiers()...) {
			first := runCT(ConvTranspose, k, 1, true, tc, 3)
			for _, workers := range []int{2, 5} {
				got := runCT(ConvTranspose, k, workers, workers == 2, tc, 3)
				kerntest.SameBits(t, fmt.Sprintf("%v %s workers=%d", tc, k.Name, workers), got, first)
			}
		}
	}
}

// TestConvTransposeKnownAnswer checks the direct loop and every tier on a
// case small enough to work out by hand: a 2×2 input, stride 2, a 2×2
// kernel of ones, so that each input value fills its own 2×2 block, plus a
// bias of 10.
func TestConvTransposeKnownAnswer(t *testing.T) {
	g := &ConvTransposeGeom{N: 1, C: 1, H: 2, W: 2, M: 1, KH: 2, KW: 2, OH: 4, OW: 4, SH: 2, SW: 2, DH: 1, DW: 1, Group: 1}
	x := []float32{1, 2, 3, 4}
	w := []float32{1, 1, 1, 1}
	b := []float32{10}
	want := []float32{
		11, 11, 12, 12,
		11, 11, 12, 12,
		13, 13, 14, 14,
		13, 13, 14, 14,
	}
	for _, k := range append([]*Tier{Reference}, testTiers()...) {
		y := make([]float32, 16)
		ConvTranspose(testEnv(k, 2), g, x, w, b, y)
		kerntest.SameBits(t, k.Name, y, want)
		convTransposeGemm(testEnv(k, 1), g, x, w, b, y)
		kerntest.SameBits(t, k.Name+" col2im", y, want)
	}
	// Overlapping windows (stride 1): y = [1, 3, 5, 3] for x = [1, 2, 3]
	// and w = [1, 1] in 1-D, less a start pad of 1 and with no end pad.
	g1 := &ConvTransposeGeom{N: 1, C: 1, H: 1, W: 3, M: 1, KH: 1, KW: 2, OH: 1, OW: 3, PadL: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
	for _, k := range append([]*Tier{Reference}, testTiers()...) {
		y := make([]float32, 3)
		ConvTranspose(testEnv(k, 1), g1, []float32{1, 2, 3}, []float32{1, 1}, nil, y)
		kerntest.SameBits(t, k.Name+" 1-D", y, []float32{3, 5, 3})
	}
}
