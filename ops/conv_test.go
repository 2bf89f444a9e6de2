package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// convCase is one convolution to run on both tiers.
type convCase struct {
	n, c, m       int
	in, k         []int // spatial input and kernel sizes (1 or 2 values)
	group         int
	strides, dils []int64
	pads          []int64
	autoPad       string
	bias          bool
}

func (cc convCase) String() string {
	return fmt.Sprintf("N%d C%d M%d in%v k%v g%d s%v d%v p%v %s bias=%v",
		cc.n, cc.c, cc.m, cc.in, cc.k, cc.group, cc.strides, cc.dils, cc.pads, cc.autoPad, cc.bias)
}

func (cc convCase) node() *Node {
	n := nnNode("Conv", 11, 1)
	if cc.group != 1 {
		n.Attrs["group"] = nnInt("group", int64(cc.group))
	}
	if cc.strides != nil {
		n.Attrs["strides"] = nnInts("strides", cc.strides...)
	}
	if cc.dils != nil {
		n.Attrs["dilations"] = nnInts("dilations", cc.dils...)
	}
	if cc.pads != nil {
		n.Attrs["pads"] = nnInts("pads", cc.pads...)
	}
	if cc.autoPad != "" {
		n.Attrs["auto_pad"] = nnStr("auto_pad", cc.autoPad)
	}
	return n
}

// geom is cc's geometry, for a 2-D case with explicit pads (or none).
func (cc convCase) geom() *kern.ConvGeom {
	at := func(v []int64, i int, def int) int {
		if v == nil {
			return def
		}
		return int(v[i])
	}
	g := &kern.ConvGeom{N: cc.n, C: cc.c, H: cc.in[0], W: cc.in[1], M: cc.m, KH: cc.k[0], KW: cc.k[1],
		SH: at(cc.strides, 0, 1), SW: at(cc.strides, 1, 1), DH: at(cc.dils, 0, 1), DW: at(cc.dils, 1, 1),
		PadT: at(cc.pads, 0, 0), PadL: at(cc.pads, 1, 0), PadB: at(cc.pads, 2, 0), PadR: at(cc.pads, 3, 0), Group: cc.group}
	g.OH = kern.WindowOut(g.H, g.KH, g.PadT, g.PadB, g.SH, g.DH, false)
	g.OW = kern.WindowOut(g.W, g.KW, g.PadL, g.PadR, g.SW, g.DW, false)
	return g
}

func (cc convCase) inputs(seed uint64) []*Tensor {
	xs := append([]int{cc.n, cc.c}, cc.in...)
	ws := append([]int{cc.m, cc.c / cc.group}, cc.k...)
	ins := []*Tensor{nnRand(seed, xs...), nnRand(seed+1, ws...)}
	if cc.bias {
		ins = append(ins, nnRand(seed+2, cc.m))
	}
	return ins
}

var convCases = []convCase{
	// ResNet-like layers, shrunk.
	{n: 1, c: 3, m: 8, in: []int{23, 19}, k: []int{7, 7}, group: 1, strides: []int64{2, 2}, pads: []int64{3, 3, 3, 3}, bias: true},
	{n: 1, c: 16, m: 16, in: []int{14, 14}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}},
	{n: 3, c: 17, m: 13, in: []int{9, 11}, k: []int{1, 1}, group: 1, bias: true},
	{n: 2, c: 13, m: 17, in: []int{9, 10}, k: []int{1, 1}, group: 1, strides: []int64{2, 2}},
	// Odd channel counts, kernel sizes 1–7, strides 1–3, tails of 12.
	{n: 1, c: 3, m: 17, in: []int{13, 13}, k: []int{5, 5}, group: 1, strides: []int64{3, 3}, pads: []int64{2, 2, 2, 2}, bias: true},
	{n: 3, c: 13, m: 3, in: []int{8, 17}, k: []int{3, 5}, group: 1, strides: []int64{1, 2}, pads: []int64{0, 2, 1, 1}},
	{n: 1, c: 5, m: 7, in: []int{7, 7}, k: []int{7, 7}, group: 1},
	{n: 1, c: 2, m: 9, in: []int{1, 1}, k: []int{1, 1}, group: 1, bias: true},
	{n: 2, c: 4, m: 33, in: []int{11, 5}, k: []int{3, 3}, group: 1, pads: []int64{1, 0, 2, 3}, bias: true},
	// Asymmetric pads and dilations.
	{n: 1, c: 6, m: 5, in: []int{12, 15}, k: []int{3, 3}, group: 1, dils: []int64{2, 3}, pads: []int64{2, 1, 0, 3}, bias: true},
	{n: 2, c: 3, m: 4, in: []int{10, 10}, k: []int{2, 4}, group: 1, dils: []int64{3, 1}, strides: []int64{2, 3}, pads: []int64{1, 0, 0, 2}},
	// Groups: 2, 3 and depthwise (with and without a channel multiplier).
	{n: 2, c: 6, m: 10, in: []int{9, 8}, k: []int{3, 3}, group: 2, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 9, m: 6, in: []int{7, 12}, k: []int{3, 1}, group: 3, strides: []int64{2, 1}},
	{n: 3, c: 8, m: 8, in: []int{9, 9}, k: []int{3, 3}, group: 8, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 5, m: 10, in: []int{11, 7}, k: []int{5, 3}, group: 5, strides: []int64{2, 2}, dils: []int64{1, 2}, pads: []int64{2, 1, 2, 1}},
	{n: 1, c: 4, m: 4, in: []int{8, 8}, k: []int{3, 3}, group: 4, strides: []int64{3, 2}, pads: []int64{0, 1, 2, 0}},
	// Depthwise on rows of whole vectors of 8 pixels, batch 2, strides.
	{n: 2, c: 16, m: 16, in: []int{11, 16}, k: []int{3, 3}, group: 16, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 8, m: 8, in: []int{12, 24}, k: []int{3, 3}, group: 8, strides: []int64{2, 2}, pads: []int64{1, 0, 1, 1}},
	// Depthwise with pads and strides so large that a phase copy would be
	// thousands of times the planes: the taps run row by row instead.
	{n: 1, c: 3, m: 3, in: []int{2, 3}, k: []int{3, 3}, group: 3, strides: []int64{100, 90}, pads: []int64{200, 150, 200, 150}, bias: true},
	// Depthwise, MobileNet's strided 3×3 on a plane wide enough for vectors.
	{n: 2, c: 24, m: 24, in: []int{30, 29}, k: []int{3, 3}, group: 24, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true},
	// Auto padding.
	{n: 1, c: 3, m: 5, in: []int{10, 9}, k: []int{3, 4}, group: 1, strides: []int64{2, 2}, autoPad: "SAME_UPPER"},
	{n: 1, c: 3, m: 5, in: []int{10, 9}, k: []int{3, 4}, group: 1, strides: []int64{2, 2}, autoPad: "SAME_LOWER", bias: true},
	{n: 2, c: 3, m: 5, in: []int{10, 9}, k: []int{3, 4}, group: 1, strides: []int64{2, 3}, autoPad: "VALID"},
	{n: 1, c: 4, m: 4, in: []int{6, 7}, k: []int{3, 3}, group: 4, dils: []int64{2, 2}, autoPad: "SAME_UPPER"},
	// Deep sums (several depth blocks) and wide rows.
	{n: 1, c: 40, m: 7, in: []int{6, 6}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 300, m: 5, in: []int{5, 3}, k: []int{1, 1}, group: 1},
	{n: 1, c: 2, m: 3, in: []int{3, 70}, k: []int{1, 3}, group: 1, pads: []int64{0, 1, 0, 1}},
	// 1-D.
	{n: 2, c: 5, m: 7, in: []int{29}, k: []int{3}, group: 1, pads: []int64{1, 2}, bias: true},
	{n: 1, c: 6, m: 4, in: []int{31}, k: []int{5}, group: 2, strides: []int64{3}, dils: []int64{2}, pads: []int64{4, 0}},
	{n: 1, c: 4, m: 4, in: []int{17}, k: []int{3}, group: 4, strides: []int64{2}, autoPad: "SAME_LOWER", bias: true},
	{n: 3, c: 13, m: 9, in: []int{20}, k: []int{1}, group: 1},
}

// bigConvCases are large enough for full micro-tiles of every tier, over
// several depth blocks, with tails on both sides.
var bigConvCases = []convCase{
	{n: 2, c: 37, m: 19, in: []int{13, 11}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 64, m: 24, in: []int{14, 14}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}},
	{n: 2, c: 150, m: 16, in: []int{7, 7}, k: []int{1, 1}, group: 1, bias: true},
	{n: 1, c: 32, m: 40, in: []int{15, 17}, k: []int{3, 3}, group: 2, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 3, m: 16, in: []int{30, 30}, k: []int{7, 7}, group: 1, strides: []int64{2, 2}, pads: []int64{3, 3, 3, 3}, bias: true},
	// A stem whose output width, 48, is a multiple of every panel width
	// (16, 24, 48): the in-place product's panels stay within output
	// rows and write the output directly; batch 2.
	{n: 2, c: 3, m: 10, in: []int{20, 96}, k: []int{7, 7}, group: 1, strides: []int64{2, 2}, pads: []int64{3, 3, 3, 3}, bias: true},
	// Small planes with many output channels (ResNet's last stage, shrunk):
	// panels with tails, several depth blocks, asymmetric pads, strides,
	// dilations and batch 2.
	{n: 1, c: 70, m: 130, in: []int{7, 7}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 2, c: 33, m: 64, in: []int{5, 4}, k: []int{3, 3}, group: 1, pads: []int64{1, 0, 2, 1}},
	{n: 1, c: 40, m: 100, in: []int{14, 13}, k: []int{3, 3}, group: 1, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 600, m: 65, in: []int{3, 3}, k: []int{1, 1}, group: 1, bias: true},
	{n: 1, c: 16, m: 96, in: []int{7, 7}, k: []int{3, 3}, group: 1, dils: []int64{2, 2}, pads: []int64{2, 2, 2, 2}},
	// Strided 1×1 (ResNet's downsampling), whose copy is the one phase the
	// window reads: small output planes (the pixel tiles), a large one,
	// padding, unequal strides, batch 2.
	{n: 2, c: 70, m: 40, in: []int{13, 14}, k: []int{1, 1}, group: 1, strides: []int64{2, 2}, bias: true},
	{n: 2, c: 24, m: 20, in: []int{31, 27}, k: []int{1, 1}, group: 1, strides: []int64{2, 3}, pads: []int64{1, 0, 0, 1}},
	// The pixel tiles reading a strided 1×1 window's planes in place
	// (pixStridedPoint): two groups, unequal strides, output planes of
	// 6×5 (the twin's pixel path too), several depth blocks, batch 2.
	{n: 2, c: 46, m: 34, in: []int{11, 13}, k: []int{1, 1}, group: 2, strides: []int64{2, 3}, bias: true},
	// The pixel path's input in padded blocks of 8 channels: groups of
	// one and three blocks, a 5×3 window with unequal strides and a
	// dilation, a last block of 5 channels, batch 3.
	{n: 2, c: 24, m: 48, in: []int{6, 5}, k: []int{3, 3}, group: 3, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 48, m: 32, in: []int{12, 11}, k: []int{5, 3}, group: 2, strides: []int64{2, 1}, dils: []int64{1, 2}, pads: []int64{2, 2, 1, 2}, bias: true},
	{n: 3, c: 13, m: 20, in: []int{7, 7}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	// Bands of output rows, each unit copying the rows it reads (pixBands):
	// an ungrouped input many times its weights with a last block of 5
	// channels, and three groups on up to four bands of 3 or 4 rows
	// (8 workers), unequal strides, batch 2.
	{n: 2, c: 13, m: 8, in: []int{30, 27}, k: []int{3, 3}, group: 1, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 2, c: 48, m: 48, in: []int{13, 10}, k: []int{3, 3}, group: 3, strides: []int64{1, 2}, pads: []int64{1, 1, 1, 1}, bias: true},
	// Groups of 16 output channels on the row kernels (pixRows): RegNet's
	// stride-2 layer with four groups, rows of 11 and 10 pixels, batch 2;
	// five groups of 24 input channels at stride 1, rows of 14; a 3×5
	// window (not 3 wide: the pixel tiles) beside them.
	{n: 2, c: 64, m: 64, in: []int{23, 21}, k: []int{3, 3}, group: 4, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 120, m: 80, in: []int{9, 14}, k: []int{3, 3}, group: 5, pads: []int64{1, 1, 1, 1}},
	{n: 1, c: 32, m: 32, in: []int{9, 14}, k: []int{3, 5}, group: 2, pads: []int64{1, 2, 1, 2}, bias: true},
	// Planes 256 values apart: the in-place products pack each panel of B
	// (packConflicts); a last narrower panel, batch 2.
	{n: 2, c: 20, m: 13, in: []int{16, 16}, k: []int{1, 1}, group: 1, bias: true},
	{n: 1, c: 70, m: 40, in: []int{8, 36}, k: []int{1, 1}, group: 1},
}

// winoConvCases take the blocked tiers' Winograd path (3×3, stride 1,
// enough 4×4 tiles), whose transforms round differently from a direct sum:
// wherever a tier runs a case with Winograd, its error is checked against
// the layer's scale (checkWino) instead of each element's, and
// TestWinogradError measures it.
var winoConvCases = []convCase{
	{n: 2, c: 20, m: 18, in: []int{30, 29}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 1, c: 9, m: 13, in: []int{27, 33}, k: []int{3, 3}, group: 1, pads: []int64{0, 2, 1, 1}},
	{n: 1, c: 150, m: 40, in: []int{28, 28}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 2, c: 8, m: 9, in: []int{56, 53}, k: []int{3, 3}, group: 1, pads: []int64{1, 0, 2, 1}, bias: true},
	// Sides multiples of 4 (the output stored tile by tile with its
	// epilogue), batch 2, 88 tiles; then with twice as many input
	// channels as outputs, the tiles cut into a part per worker
	// (convWinogradParts): 6 vectors of tiles, parts ending inside rows.
	{n: 2, c: 13, m: 21, in: []int{44, 32}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 2, c: 40, m: 17, in: []int{44, 32}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	// tile rows of 6 tiles, so that the parts of 2 and 3 workers share a
	// tile row each, which neither clears before storing (claimRows)
	{n: 2, c: 36, m: 16, in: []int{44, 24}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}},
	// parts over tiles that overhang the output's right and bottom edges
	// (stored through masks where a tier has WinoStoreMask)
	{n: 2, c: 40, m: 17, in: []int{30, 29}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	// batches of 3: 49 tiles an image, one image at a time; 16 tiles,
	// where a tier takes 14×14, in groups of 2 and 1 (winoGroup: U of
	// 1.4 MB)
	{n: 3, c: 12, m: 20, in: []int{28, 28}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
	{n: 3, c: 96, m: 100, in: []int{14, 14}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}},
}

// takesWinograd reports whether tier k runs cc with Winograd (its
// PackConv layout 1).
func takesWinograd(t testing.TB, k *kern.Tier, cc convCase) bool {
	_, step, err := prepareOpConst(cc.node(), 1, cc.inputs(0)...)
	if err != nil {
		t.Fatalf("%v: %v", cc, err)
	}
	return k.PackConvKind != nil && k.PackConvKind(&step.Dev.(*ConvDev).G) == 1
}

// checkWino fails the test when an element of a Winograd convolution's
// result differs from the reference by more than 5e-6 of the largest
// |ref| (TestWinogradError's bound: the transforms' rounding scales with
// the layer's values, not each output's) plus 1e-5·(1 + |ref|).
func checkWino(t *testing.T, what string, got, want []float32) {
	t.Helper()
	var maxRef float64
	for _, w := range want {
		maxRef = max(maxRef, math.Abs(float64(w)))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > 5e-6*maxRef+1e-5*(1+math.Abs(w)) {
			t.Fatalf("%s: [%d] = %v, want %v (max |ref| %.3g)", what, i, got[i], want[i], maxRef)
		}
	}
}

func TestConvTiersMatchReference(t *testing.T) {
	cases := append(append(convCases, bigConvCases...), winoConvCases...)
	nplain := len(cases) - len(winoConvCases)
	for i, cc := range cases {
		tol := 1e-5
		if i >= nplain {
			// Deep sums on a direct path: 1e-4, growing past 512 terms.
			tol = 1e-4 * max(1, float64(cc.c*9)/512)
		}
		ins := cc.inputs(uint64(100 * i))
		want, err := runOpEnv(nnEnv(kern.Reference, 1), cc.node(), ins...)
		if err != nil {
			t.Fatalf("%v: reference: %v", cc, err)
		}
		for _, k := range testTiers() {
			wino := takesWinograd(t, k, cc)
			for _, workers := range []int{1, 2, 3, 8} {
				// W as a run-time input, and as a constant that tiers may
				// pack once (workers 2 and 8).
				constW := -1
				if workers%2 == 0 {
					constW = 1
				}
				got, err := runOpEnvConst(nnEnv(k, workers), cc.node(), constW, ins...)
				if err != nil {
					t.Fatalf("%v: %s: %v", cc, k.Name, err)
				}
				if !SameShape(got[0].Shape, want[0].Shape) {
					t.Fatalf("%v: shape %v, want %v", cc, got[0].Shape, want[0].Shape)
				}
				what := fmt.Sprintf("%v %s workers=%d constW=%v", cc, k.Name, workers, constW == 1)
				if wino {
					checkWino(t, what, got[0].F32, want[0].F32)
				} else {
					kerntest.Check(t, what, got[0].F32, want[0].F32, tol)
				}
			}
		}
	}
}

// TestWinogradError measures the Winograd path's error against the
// reference on ResNet-like layers with inputs in [-1, 1): the largest
// |y - ref| relative to the largest |ref|, which must stay below 5e-6
// (the direct product: 1.3e-6 to 2e-6; Winograd with the points 0, ±3/2,
// ±2/3: 0.8e-6 to 2.9e-6 here, with Lavin and Gray's 3e-6 to 1e-5).
// Tiers without Winograd for this shape pass trivially.
func TestWinogradError(t *testing.T) {
	for _, c := range []int{16, 64, 256} {
		cc := convCase{n: 1, c: c, m: 32, in: []int{56, 56}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true}
		ins := cc.inputs(uint64(c))
		want, err := runOpEnv(nnEnv(kern.Reference, 1), cc.node(), ins...)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range testTiers() {
			got, err := runOpEnvConst(nnEnv(k, 2), cc.node(), 1, ins...)
			if err != nil {
				t.Fatal(err)
			}
			var maxErr, maxRef float64
			for i, w := range want[0].F32 {
				maxErr = max(maxErr, math.Abs(float64(got[0].F32[i])-float64(w)))
				maxRef = max(maxRef, math.Abs(float64(w)))
			}
			t.Logf("%s C=%d: max |y-ref| = %.3g, max |ref| = %.3g, ratio %.3g", k.Name, c, maxErr, maxRef, maxErr/maxRef)
			if maxErr > 5e-6*maxRef {
				t.Errorf("%s C=%d: error %.3g of max |ref| %.3g exceeds 5e-6", k.Name, c, maxErr, maxRef)
			}
		}
	}
}

func TestConvDeterministic(t *testing.T) {
	// Every tier computes each output with the same operations whatever
	// the worker count, so results are bit-identical, but where it splits
	// the depth among workers (ConvDepthRuns: the sums of each run are
	// then added); there results are the same run after run for a given
	// worker count, and within the tolerance of the reference.
	// Pixel tiles with a block of output channels cut into runs of pixels
	// on several workers (DenseNet's 3×3 layers at 14×14 and 7×7, a
	// residual-free bias, batch 2).
	pix := []convCase{
		{n: 1, c: 40, m: 32, in: []int{14, 14}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
		{n: 2, c: 24, m: 20, in: []int{7, 7}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
		// Inputs each worker copies for itself (pixPrivate): padded 8-channel
		// blocks for a strided 3×3 with a last block of 6 channels, and
		// pixel-major copies 160 and 272 values a pixel for 1×1 windows
		// (the second only up to 2 workers), batch 2.
		{n: 2, c: 24, m: 70, in: []int{17, 15}, k: []int{3, 3}, group: 1, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, bias: true},
		{n: 2, c: 150, m: 200, in: []int{7, 7}, k: []int{1, 1}, group: 1, bias: true},
		{n: 1, c: 256, m: 160, in: []int{5, 5}, k: []int{1, 1}, group: 1},
		// 1×1 windows on planes up to 14×14 with 256 or more channels go
		// pixel-major too (pixMajorWide): a plane of 182, batch 2, a stride
		{n: 2, c: 260, m: 24, in: []int{13, 14}, k: []int{1, 1}, group: 1, bias: true},
		{n: 1, c: 40, m: 300, in: []int{27, 25}, k: []int{1, 1}, group: 1, strides: []int64{2, 2}},
		// 1×1 windows with at least twice as many input channels as
		// outputs, split by input channels among workers (pixSplitK): a
		// last run of 5 channels, batch 2, a stride.
		{n: 1, c: 165, m: 40, in: []int{7, 7}, k: []int{1, 1}, group: 1, bias: true},
		{n: 2, c: 96, m: 20, in: []int{9, 11}, k: []int{1, 1}, group: 1},
		{n: 1, c: 480, m: 80, in: []int{27, 27}, k: []int{1, 1}, group: 1, strides: []int64{2, 2}, bias: true},
	}
	splits := 0
	for _, cc := range append([]convCase{convCases[1], bigConvCases[0], winoConvCases[0], winoConvCases[4], winoConvCases[5]}, pix...) {
		ins := cc.inputs(7)
		for _, k := range testTiers() {
			first, err := runOpEnv(nnEnv(k, 1), cc.node(), ins...)
			if err != nil {
				t.Fatal(err)
			}
			for _, workers := range []int{2, 3, 5} {
				got, err := runOpEnv(nnEnv(k, workers), cc.node(), ins...)
				if err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("%v %s workers=%d", cc, k.Name, workers)
				if k.ConvDepthRuns == nil || k.ConvDepthRuns(cc.geom(), false, workers) == 1 {
					kerntest.Check(t, what, got[0].F32, first[0].F32, 0)
					continue
				}
				splits++
				again, err := runOpEnv(nnEnv(k, workers), cc.node(), ins...)
				if err != nil {
					t.Fatal(err)
				}
				kerntest.Check(t, what+" again", again[0].F32, got[0].F32, 0)
				kerntest.Check(t, what, got[0].F32, first[0].F32, 1e-4)
			}
		}
	}
	if splits == 0 {
		t.Error("no case split its depth among workers")
	}
}

func TestConvKnownAnswers(t *testing.T) {
	x := NewF32([]int{1, 1, 3, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	tests := []struct {
		name  string
		attrs []*Attr
		w, b  *Tensor
		shape []int
		want  []float32
	}{
		{
			// [1 0; 0 -1] over each 2×2 window: x[i][j] - x[i+1][j+1].
			name: "2x2", w: NewF32([]int{1, 1, 2, 2}, []float32{1, 0, 0, -1}),
			shape: []int{1, 1, 2, 2}, want: []float32{-4, -4, -4, -4},
		},
		{
			// Sum of the 3×3 neighbourhood with zero padding, plus 1.
			name: "3x3 pad 1", w: NewF32([]int{1, 1, 3, 3}, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}),
			b:     NewF32([]int{1}, []float32{1}),
			attrs: []*Attr{nnInts("pads", 1, 1, 1, 1)},
			shape: []int{1, 1, 3, 3}, want: []float32{13, 22, 17, 28, 46, 34, 25, 40, 29},
		},
		{
			// Strided 1×1 picks the corners.
			name: "1x1 stride 2", w: NewF32([]int{1, 1, 1, 1}, []float32{2}),
			attrs: []*Attr{nnInts("strides", 2, 2)},
			shape: []int{1, 1, 2, 2}, want: []float32{2, 6, 14, 18},
		},
		{
			// Dilation 2 with a 2×2 kernel touches only the corners.
			name: "dilated", w: NewF32([]int{1, 1, 2, 2}, []float32{1, 10, 100, 1000}),
			attrs: []*Attr{nnInts("dilations", 2, 2)},
			shape: []int{1, 1, 1, 1}, want: []float32{1 + 30 + 700 + 9000},
		},
		{
			// SAME_UPPER with a 2×2 kernel pads one at the bottom and right.
			name: "same upper", w: NewF32([]int{1, 1, 2, 2}, []float32{1, 1, 1, 1}),
			attrs: []*Attr{nnStr("auto_pad", "SAME_UPPER")},
			shape: []int{1, 1, 3, 3}, want: []float32{12, 16, 9, 24, 28, 15, 15, 17, 9},
		},
		{
			// SAME_LOWER pads at the top and left instead.
			name: "same lower", w: NewF32([]int{1, 1, 2, 2}, []float32{1, 1, 1, 1}),
			attrs: []*Attr{nnStr("auto_pad", "SAME_LOWER")},
			shape: []int{1, 1, 3, 3}, want: []float32{1, 3, 5, 5, 12, 16, 11, 24, 28},
		},
	}
	for _, tt := range tests {
		for _, k := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
			n := nnNode("Conv", 11, 1, tt.attrs...)
			ins := []*Tensor{x, tt.w}
			if tt.b != nil {
				ins = append(ins, tt.b)
			}
			out, err := runOpEnv(nnEnv(k, 2), n, ins...)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.name, k.Name, err)
			}
			if !SameShape(out[0].Shape, tt.shape) {
				t.Fatalf("%s %s: shape %v, want %v", tt.name, k.Name, out[0].Shape, tt.shape)
			}
			kerntest.Check(t, tt.name+" "+k.Name, out[0].F32, tt.want, 0)
		}
	}
}

func TestConv1DKnownAnswer(t *testing.T) {
	// y[i] = x[i-1] - x[i+1] with one zero on each side, two channels summed.
	x := NewF32([]int{1, 2, 4}, []float32{1, 2, 3, 4, 10, 20, 30, 40})
	w := NewF32([]int{1, 2, 3}, []float32{1, 0, -1, 1, 0, -1})
	out := mustRun(t, nnNode("Conv", 11, 1, nnInts("pads", 1, 1)), x, w)
	kerntest.Check(t, "conv1d", out[0].F32, []float32{-22, -22, -22, 33}, 0)
	if !SameShape(out[0].Shape, []int{1, 1, 4}) {
		t.Fatalf("shape %v", out[0].Shape)
	}
}

func TestConvErrors(t *testing.T) {
	x := NewF32([]int{1, 4, 5, 5}, nil)
	w := NewF32([]int{6, 2, 3, 3}, nil)
	tests := []struct {
		sub   string
		attrs []*Attr
		ins   []*Tensor
	}{
		{"not a multiple of group 3", []*Attr{nnInt("group", 3)}, []*Tensor{x, NewF32([]int{6, 1, 3, 3}, nil)}},
		{"channels per group", []*Attr{nnInt("group", 2)}, []*Tensor{x, NewF32([]int{6, 4, 3, 3}, nil)}},
		{"channels per group", nil, []*Tensor{x, w}},
		{"output channels", []*Attr{nnInt("group", 4)}, []*Tensor{x, NewF32([]int{6, 1, 3, 3}, nil)}},
		{"group 0", []*Attr{nnInt("group", 0)}, []*Tensor{x, w}},
		{"kernel_shape", []*Attr{nnInt("group", 2), nnInts("kernel_shape", 3, 2)}, []*Tensor{x, w}},
		{"want rank 4", []*Attr{nnInt("group", 2)}, []*Tensor{x, NewF32([]int{6, 2, 3}, nil)}},
		{"or 5 (3-D)", nil, []*Tensor{NewF32([]int{1, 4, 5, 5, 5, 5}, nil), NewF32([]int{6, 4, 3, 3, 3, 3}, nil)}},
		{"pads has 4 values, want 6", []*Attr{nnInts("pads", 1, 1, 1, 1)}, []*Tensor{NewF32([]int{1, 4, 5, 5, 5}, nil), NewF32([]int{6, 4, 3, 3, 3}, nil)}},
		{"kernel_shape [3 3] has 2 values, want 3", []*Attr{nnInts("kernel_shape", 3, 3)}, []*Tensor{NewF32([]int{1, 4, 5, 5, 5}, nil), NewF32([]int{6, 4, 3, 3, 3}, nil)}},
		{"larger than the padded input 2 on spatial axis 0", nil, []*Tensor{NewF32([]int{1, 4, 2, 5, 5}, nil), NewF32([]int{6, 4, 3, 3, 3}, nil)}},
		{"want rank 3", nil, []*Tensor{NewF32([]int{4, 5}, nil), NewF32([]int{6, 4}, nil)}},
		{"B has", []*Attr{nnInt("group", 2)}, []*Tensor{x, w, NewF32([]int{5}, nil)}},
		{"larger than the padded input", []*Attr{nnInt("group", 2)}, []*Tensor{NewF32([]int{1, 4, 2, 5}, nil), w}},
		{"strides has 1 values", []*Attr{nnInt("group", 2), nnInts("strides", 2)}, []*Tensor{x, w}},
		{"pads has 2 values", []*Attr{nnInt("group", 2), nnInts("pads", 1, 1)}, []*Tensor{x, w}},
		{"each value must be", []*Attr{nnInt("group", 2), nnInts("strides", 0, 1)}, []*Tensor{x, w}},
		{"each value must be", []*Attr{nnInt("group", 2), nnInts("pads", -1, 0, 0, 0)}, []*Tensor{x, w}},
		{"auto_pad", []*Attr{nnInt("group", 2), nnStr("auto_pad", "SAME")}, []*Tensor{x, w}},
		{"cannot be used with auto_pad", []*Attr{nnInt("group", 2), nnStr("auto_pad", "VALID"), nnInts("pads", 1, 1, 1, 1)}, []*Tensor{x, w}},
		{"want float32", []*Attr{nnInt("group", 2)}, []*Tensor{NewI64([]int{1, 4, 5, 5}, nil), w}},
		{"has type INTS", []*Attr{{Name: "group", Type: AttrInts, Ints: []int64{2}}}, []*Tensor{x, w}},
	}
	for _, tt := range tests {
		n := nnNode("Conv", 11, 1, tt.attrs...)
		wantErr(t, tt.sub, n, tt.ins...)
	}
}

// BenchmarkConv runs a ResNet-50 layer-1 convolution: 3×3, 64 to 64
// channels, 56×56, padding 1, on every fast tier, on one thread and on two.
func BenchmarkConv(b *testing.B) {
	cc := convCase{n: 1, c: 64, m: 64, in: []int{56, 56}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true}
	for _, bw := range benchTiers() {
		k, workers := bw.k, bw.workers
		b.Run(fmt.Sprintf("%s/3x3x64x56x56/workers=%d", k.Name, workers), func(b *testing.B) {
			ins := cc.inputs(1)
			vals, step, err := prepareOpConst(cc.node(), 1, ins...)
			if err != nil {
				b.Fatal(err)
			}
			out := []*Tensor{NewF32(vals[0].Shape, nil)}
			env := nnEnv(k, workers)
			b.ResetTimer()
			for range b.N {
				if err := step.Run(env, ins, out); err != nil {
					b.Fatal(err)
				}
			}
			flops := 2.0 * 64 * 64 * 9 * 56 * 56
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// resnet50Convs lists the convolutions of ResNet-50 v1.5 for a 224×224
// image: input channels, output channels, input size, kernel, stride, pad
// and how many times the layer occurs.
var resnet50Convs = []struct{ c, m, in, k, s, p, times int }{
	{3, 64, 224, 7, 2, 3, 1},
	// layer1, 56×56
	{64, 64, 56, 1, 1, 0, 1}, {256, 64, 56, 1, 1, 0, 2}, {64, 64, 56, 3, 1, 1, 3},
	{64, 256, 56, 1, 1, 0, 4},
	// layer2, 28×28
	{256, 128, 56, 1, 1, 0, 1}, {128, 128, 56, 3, 2, 1, 1}, {256, 512, 56, 1, 2, 0, 1},
	{512, 128, 28, 1, 1, 0, 3}, {128, 128, 28, 3, 1, 1, 3}, {128, 512, 28, 1, 1, 0, 4},
	// layer3, 14×14
	{512, 256, 28, 1, 1, 0, 1}, {256, 256, 28, 3, 2, 1, 1}, {512, 1024, 28, 1, 2, 0, 1},
	{1024, 256, 14, 1, 1, 0, 5}, {256, 256, 14, 3, 1, 1, 5}, {256, 1024, 14, 1, 1, 0, 6},
	// layer4, 7×7
	{1024, 512, 14, 1, 1, 0, 1}, {512, 512, 14, 3, 2, 1, 1}, {1024, 2048, 14, 1, 2, 0, 1},
	{2048, 512, 7, 1, 1, 0, 2}, {512, 512, 7, 3, 1, 1, 2}, {512, 2048, 7, 1, 1, 0, 3},
}

// resnet50Layer prepares convolution i of resnet50Convs for one image
// (random weights and input, bias), and returns its step, inputs, an output
// tensor and its FLOPs.
func resnet50Layer(b *testing.B, i int) (Step, []*Tensor, *Tensor, float64) {
	l := resnet50Convs[i]
	cc := convCase{n: 1, c: l.c, m: l.m, in: []int{l.in, l.in}, k: []int{l.k, l.k}, group: 1,
		strides: []int64{int64(l.s), int64(l.s)}, pads: []int64{int64(l.p), int64(l.p), int64(l.p), int64(l.p)}, bias: true}
	ins := cc.inputs(uint64(i))
	vals, step, err := prepareOpConst(cc.node(), 1, ins...)
	if err != nil {
		b.Fatal(err)
	}
	o := vals[0].Shape
	return step, ins, NewF32(o, nil), 2 * float64(l.c*l.m*l.k*l.k*o[2]*o[3])
}

// BenchmarkResNet50Convs runs every convolution of ResNet-50 once per
// iteration (one image), on every fast tier, on one thread and on two, and reports the time
// per image and the rate over its 8.2 GFLOP.
func BenchmarkResNet50Convs(b *testing.B) {
	type layer struct {
		step  Step
		ins   []*Tensor
		out   []*Tensor
		times int
	}
	var layers []layer
	var total float64
	for i, l := range resnet50Convs {
		step, ins, out, flops := resnet50Layer(b, i)
		total += flops * float64(l.times)
		layers = append(layers, layer{step, ins, []*Tensor{out}, l.times})
	}
	for _, bw := range benchTiers() {
		b.Run(fmt.Sprintf("%s/workers=%d", bw.k.Name, bw.workers), func(b *testing.B) {
			env := nnEnv(bw.k, bw.workers)
			for range b.N {
				for _, l := range layers {
					for range l.times {
						if err := l.step.Run(env, l.ins, l.out); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec*1e3, "ms/image")
			b.ReportMetric(total/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkConvLayers runs each distinct convolution of ResNet-50 on its
// own (weights warm in cache), on every fast tier and one thread, and
// reports its rate: the layer classes a tier's choices are tuned on.
func BenchmarkConvLayers(b *testing.B) {
	for i, l := range resnet50Convs {
		step, ins, o, flops := resnet50Layer(b, i)
		benchLayer(b, fmt.Sprintf("%dx%dx%d²/k%ds%d", l.c, l.m, l.in, l.k, l.s), step, ins, o, flops)
	}
}

// benchLayer runs a prepared convolution as sub-benchmark TIER/name on
// every fast tier and one thread, and reports its rate.
func benchLayer(b *testing.B, name string, step Step, ins []*Tensor, o *Tensor, flops float64) {
	out := []*Tensor{o}
	for _, k := range fastTiers() {
		b.Run(k.Name+"/"+name, func(b *testing.B) {
			env := nnEnv(k, 1)
			for range b.N {
				if err := step.Run(env, ins, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkDepthwise runs MobileNetV2's 3×3 depthwise convolutions and
// EfficientNet-B0's 5×5 ones (one image, bias) on every fast tier and one
// thread: the layers the planes path, the channel-blocked path and the
// window kernel of convDirect are chosen on.
func BenchmarkDepthwise(b *testing.B) {
	for i, l := range []struct{ c, in, k, s int }{{32, 112, 3, 1}, {96, 112, 3, 2}, {144, 56, 3, 1}, {144, 56, 3, 2},
		{192, 28, 3, 1}, {192, 28, 3, 2}, {384, 14, 3, 1}, {576, 14, 3, 2}, {960, 7, 3, 1},
		{144, 56, 5, 2}, {240, 28, 5, 1}, {672, 14, 5, 1}, {672, 14, 5, 2}, {1152, 7, 5, 1}} {
		p := int64(l.k / 2)
		cc := convCase{n: 1, c: l.c, m: l.c, in: []int{l.in, l.in}, k: []int{l.k, l.k}, group: l.c,
			strides: []int64{int64(l.s), int64(l.s)}, pads: []int64{p, p, p, p}, bias: true}
		ins := cc.inputs(uint64(i))
		vals, step, err := prepareOpConst(cc.node(), 1, ins...)
		if err != nil {
			b.Fatal(err)
		}
		out := []*Tensor{NewF32(vals[0].Shape, nil)}
		for _, k := range fastTiers() {
			b.Run(fmt.Sprintf("%s/%dx%d²/k%ds%d", k.Name, l.c, l.in, l.k, l.s), func(b *testing.B) {
				env := nnEnv(k, 1)
				for range b.N {
					if err := step.Run(env, ins, out); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGroupedConvs runs RegNet-Y 800MF's grouped 3×3 convolutions
// (groups of 16 channels: the row kernels, pixRows) and ResNeXt-50's of
// its third stage (16 a group at 14×14) on every fast tier and one
// thread, with bias, in GFLOP/s.
func BenchmarkGroupedConvs(b *testing.B) {
	for i, l := range []struct{ c, in, s int }{{64, 112, 2}, {144, 56, 2}, {144, 28, 1}, {320, 28, 2},
		{320, 14, 1}, {784, 14, 2}, {784, 7, 1}, {512, 14, 1}} {
		cc := convCase{n: 1, c: l.c, m: l.c, in: []int{l.in, l.in}, k: []int{3, 3}, group: l.c / 16,
			strides: []int64{int64(l.s), int64(l.s)}, pads: []int64{1, 1, 1, 1}, bias: true}
		if l.c == 512 {
			cc.group = 32 // ResNeXt's
		}
		ins := cc.inputs(uint64(i))
		vals, step, err := prepareOpConst(cc.node(), 1, ins...)
		if err != nil {
			b.Fatal(err)
		}
		out := NewF32(vals[0].Shape, nil)
		benchLayer(b, fmt.Sprintf("%dx%d²/s%d/g%d", l.c, l.in, l.s, cc.group), step, ins, out, 2*float64(cc.geom().MACs()))
	}
}

// BenchmarkStems runs the stems of the family (3 → 32 channels, 3×3 at
// stride 2 from 224×224: RegNet, MobileNet, EfficientNet, MnasNet; 3 → 64,
// 7×7 at stride 2: ResNet) on every fast tier and one thread, with bias,
// in GFLOP/s: hot, the input and output left in the caches by the
// iteration before, as a benchmark of one layer leaves them, and cold,
// with 32 MB written between iterations (the timer stopped), as a Run of
// a network leaves its first layer's buffers. In a network a stem runs
// cold, and its phase copy (the input deinterleaved, see phaseRows) is
// what the cold caches slow: on a 2-core Zen 5 the 3×3 stem took 168 µs
// hot and 250-280 cold, 213 once the copy read the input's rows in order;
// ResNet's 7×7, with 11 times the multiply-adds, 5 % more cold.
func BenchmarkStems(b *testing.B) {
	junk := make([]float32, 8<<20)
	for i, l := range []struct{ m, k int }{{32, 3}, {64, 7}} {
		p := int64(l.k / 2)
		cc := convCase{n: 1, c: 3, m: l.m, in: []int{224, 224}, k: []int{l.k, l.k}, group: 1,
			strides: []int64{2, 2}, pads: []int64{p, p, p, p}, bias: true}
		ins := cc.inputs(uint64(i))
		vals, step, err := prepareOpConst(cc.node(), 1, ins...)
		if err != nil {
			b.Fatal(err)
		}
		out := []*Tensor{NewF32(vals[0].Shape, nil)}
		flops := 2 * float64(cc.geom().MACs())
		for _, k := range fastTiers() {
			for _, cold := range []bool{false, true} {
				name := fmt.Sprintf("%s/3x%d/k%d/hot", k.Name, l.m, l.k)
				if cold {
					name = name[:len(name)-3] + "cold"
				}
				b.Run(name, func(b *testing.B) {
					env := nnEnv(k, 1)
					for range b.N {
						if cold {
							b.StopTimer()
							for j := range junk {
								junk[j]++
							}
							b.StartTimer()
						}
						if err := step.Run(env, ins, out); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// TestConvPacksShared checks that the plans of one conv node for several
// batch sizes share one pack of the weights per tier: PackConv runs once
// per layout (the Winograd geometry packs once too), and every plan's
// result still matches the reference.
func TestConvPacksShared(t *testing.T) {
	for _, cc := range []convCase{
		{c: 24, m: 20, in: []int{9, 7}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true},
		{c: 9, m: 13, in: []int{27, 33}, k: []int{3, 3}, group: 1, pads: []int64{0, 2, 1, 1}}, // Winograd on the blocked tiers
	} {
		for _, base := range testTiers() {
			if base.PackConv == nil {
				continue
			}
			k := *base
			packs := 0
			k.PackConv = func(g *kern.ConvGeom, w []float32) []float32 {
				packs++
				return base.PackConv(g, w)
			}
			node := cc.node()
			op, err := LookupNode(node)(node)
			if err != nil {
				t.Fatal(err)
			}
			w := nnRand(7, cc.m, cc.c, cc.k[0], cc.k[1])
			b := nnRand(8, cc.m)
			for _, batch := range []int{1, 2, 4, 1} {
				cc.n = batch
				x := cc.inputs(uint64(batch))[0]
				vals, step, err := op.Prepare([]*Value{{DType: Float32, Shape: x.Shape}, {DType: Float32, Shape: w.Shape, Const: w}, {DType: Float32, Shape: b.Shape, Const: b}})
				if err != nil {
					t.Fatal(err)
				}
				got := NewF32(vals[0].Shape, nil)
				if err := step.Run(nnEnv(&k, 2), []*Tensor{x, w, b}, []*Tensor{got}); err != nil {
					t.Fatal(err)
				}
				want, err := runOpEnv(nnEnv(kern.Reference, 1), cc.node(), x, w, b)
				if err != nil {
					t.Fatal(err)
				}
				kerntest.Check(t, fmt.Sprintf("%v %s", cc, k.Name), got.F32, want[0].F32, 1e-4)
			}
			if packs != 1 {
				t.Errorf("%v %s: weights packed %d times for 4 plans, want once", cc, k.Name, packs)
			}
		}
	}
}

// BenchmarkMobileNetConvs runs MobileNetV2's dense convolutions with few
// input channels (the stem, and the 1×1 expansions and projections of its
// large planes) on every fast tier and one thread: products of depth 3
// to 32, where a tile's loads and stores weigh as much as its FMAs.
func BenchmarkMobileNetConvs(b *testing.B) {
	for i, l := range []struct{ c, m, in, k, s int }{{3, 32, 224, 3, 2}, {32, 16, 112, 1, 1},
		{16, 96, 112, 1, 1}, {24, 144, 56, 1, 1}, {144, 24, 56, 1, 1}, {32, 192, 28, 1, 1},
		{64, 384, 14, 1, 1}, {384, 64, 14, 1, 1}, {96, 576, 14, 1, 1}, {576, 96, 14, 1, 1}} {
		p := int64(l.k / 2)
		cc := convCase{n: 1, c: l.c, m: l.m, in: []int{l.in, l.in}, k: []int{l.k, l.k}, group: 1,
			strides: []int64{int64(l.s), int64(l.s)}, pads: []int64{p, p, p, p}, bias: true}
		ins := cc.inputs(uint64(i))
		vals, step, err := prepareOpConst(cc.node(), 1, ins...)
		if err != nil {
			b.Fatal(err)
		}
		o := vals[0].Shape
		flops := 2 * float64(l.c*l.m*l.k*l.k*o[2]*o[3])
		benchLayer(b, fmt.Sprintf("%dx%dx%d²/k%ds%d", l.c, l.m, l.in, l.k, l.s), step, ins, NewF32(o, nil), flops)
	}
}

// TestConvPathNames checks the names ConvPath gives (what profiles print)
// on the twin tier, whose pathOf is the one conv follows: a Winograd
// layer, small planes through pixel-major tiles, grouped windows through
// 8-channel blocks, depthwise layers, packed and unpacked in-place
// products, and KernelOf on a conv step.
func TestConvPathNames(t *testing.T) {
	geom := func(c, m, h, k, s, group int) *kern.ConvGeom {
		p := k / 2
		o := (h+2*p-k)/s + 1
		return &kern.ConvGeom{N: 1, C: c, H: h, W: h, M: m, KH: k, KW: k, OH: o, OW: o,
			PadT: p, PadL: p, PadB: p, PadR: p, SH: s, SW: s, DH: 1, DW: 1, Group: group}
	}
	for _, c := range []struct {
		g    *kern.ConvGeom
		pre  bool
		want string
	}{
		{geom(32, 32, 56, 3, 1, 1), false, "winograd"},
		{geom(64, 96, 6, 1, 1, 1), false, "pixel tiles, pixel-major"},
		{geom(64, 96, 6, 1, 1, 1), true, "pixel tiles, pixel-major"},
		{geom(64, 64, 28, 3, 2, 4), false, "pixel tiles, 8-channel blocks"},
		{geom(64, 64, 28, 3, 2, 4), true, "pixel tiles"},
		{geom(16, 16, 5, 3, 1, 16), false, "depthwise 8-channel"},
		{geom(16, 16, 40, 3, 1, 16), false, "depthwise planes"},
		{geom(16, 16, 40, 3, 1, 16), true, "depthwise window"},
		{geom(16, 16, 40, 7, 1, 16), false, "depthwise window"},
		{geom(20, 30, 16, 1, 1, 1), false, "in place, packed panels"},
		{geom(20, 30, 14, 1, 1, 1), false, "in place"},
		{geom(256, 64, 14, 1, 1, 1), false, "pixel tiles, pixel-major"},
		{geom(128, 128, 14, 1, 1, 1), false, "in place"},
		{geom(240, 960, 1, 1, 1, 1), false, "matrix-vector"},
		{geom(240, 960, 1, 1, 1, 1), true, "pixel tiles, pixel-major"},
	} {
		if got := kern.Twin.ConvPath(c.g, c.pre); got != c.want {
			t.Errorf("%d→%d %d² k%d s%d g%d pre %v: %q, want %q", c.g.C, c.g.M, c.g.H, c.g.KH, c.g.SH, c.g.Group, c.pre, got, c.want)
		}
	}
	if got, want := KernelOf(kern.Twin, Step{Dev: &ConvDev{G: *geom(32, 32, 56, 3, 1, 1)}}, 1), kern.Twin.Name+" winograd"; got != want {
		t.Errorf("KernelOf: %q, want %q", got, want)
	}
}

// TestDw8BandsMatchReference runs the depthwise convolutions of convCases
// and fusedCases on each tier with 8-channel depthwise kernels, with bands
// of a few rows (the tiers' own bands hold these planes whole), weights
// packed or not, against the reference.
func TestDw8BandsMatchReference(t *testing.T) {
	for _, k := range fastTiers() {
		spec, ok := k.Spec()
		if !ok || spec.Dw8 == nil {
			continue
		}
		spec.Name += "-bands"
		spec.Dw8Band = 2000
		tier := kern.NewBlockedTier(spec)
		for i, cc := range convCases {
			if cc.group != cc.c || cc.m != cc.c {
				continue
			}
			ins := cc.inputs(uint64(i))
			want, err := runOpEnv(nnEnv(kern.Reference, 1), cc.node(), ins...)
			if err != nil {
				t.Fatal(err)
			}
			for _, workers := range []int{1, 3} {
				// with 3 workers W is a constant, packed once (packDw8)
				constW := -1
				if workers == 3 {
					constW = 1
				}
				got, err := runOpEnvConst(nnEnv(tier, workers), cc.node(), constW, ins...)
				if err != nil {
					t.Fatal(err)
				}
				kerntest.Check(t, fmt.Sprintf("%v %s workers=%d", cc, spec.Name, workers), got[0].F32, want[0].F32, 1e-5)
			}
		}
		for i, fc := range fusedCases {
			if fc.group != fc.c || fc.m != fc.c {
				continue
			}
			seed := uint64(100 * i)
			oh := (fc.h+2*fc.pad-fc.k)/fc.stride + 1
			ow := (fc.w+2*fc.pad-fc.k)/fc.stride + 1
			ins := []*Tensor{nnRand(seed+1, fc.n, fc.c, fc.h, fc.w), nnRand(seed+2, fc.m, 1, fc.k, fc.k), nnRand(seed+3, fc.m), nil, nil, nil}
			if fc.resid {
				ins[3] = nnRand(seed+4, fc.n, fc.m, oh, ow)
			}
			if fc.pre {
				ins[4], ins[5] = nnRand(seed+5, fc.c), nnRand(seed+6, fc.c)
			}
			want, err := runOpEnv(nnEnv(kern.Reference, 1), fusedConvNode(fc), ins...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runOpEnv(nnEnv(tier, 2), fusedConvNode(fc), ins...)
			if err != nil {
				t.Fatal(err)
			}
			kerntest.Check(t, fmt.Sprintf("%v %s", fc, spec.Name), got[0].F32, want[0].F32, 1e-5)
		}
	}
}
