//go:build amd64 && !purego

package kern

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// TestOffsPiecesMatchPackedPanels runs in-place convolutions whose panels
// end narrower than every kernel that fits them (a last panel of 17, 25,
// 28, 40 or 47 columns of the widest 48: pieces of the narrower offsets
// kernels and OffsCols' masked tail, offsNarrowRun) on each assembly tier
// the CPU has, against the same tier with those kernels taken away (the
// panel copied into a wider one for the packed kernels, as before), bit
// for bit: with bias, residual and Relu, depths of one and of several
// blocks, output rows of 28 (a strided 1×1, its rows panels of their
// own), batch 2, one worker and two.
func TestOffsPiecesMatchPackedPanels(t *testing.T) {
	ran := 0
	for _, at := range asmTiers {
		if TierByName(at.Name) == nil {
			t.Logf("%s: not supported by this CPU, skipped", at.Name)
			continue
		}
		spec := *at.spec
		pieces := NewBlockedTier(spec)
		spec.OffsNarrow, spec.OffsCols = nil, nil
		packed := NewBlockedTier(spec)
		w0 := spec.Widths[0]
		type conv struct{ c, m, h, w, s int }
		cases := []conv{
			{64, 24, 56, 56, 2},  // rows of 28, panels of their own
			{300, 40, 28, 28, 2}, // rows of 14, depth in several blocks
		}
		// row-major planes of 4·w0 + r pixels: a last panel of r columns
		for _, r := range []int{1, w0/3 + 1, w0/2 + 1, w0/2 + 4, w0 - 8, w0 - 1} {
			cases = append(cases, conv{64, 72, 1, 4*w0 + r, 1}, conv{200, 40, 2, (4*w0 + r + 1) / 2, 1})
		}
		for _, c := range cases {
			oh, ow := (c.h-1)/c.s+1, (c.w-1)/c.s+1
			g := ConvGeom{N: 2, C: c.c, H: c.h, W: c.w, M: c.m, KH: 1, KW: 1, OH: oh, OW: ow,
				SH: c.s, SW: c.s, DH: 1, DW: 1, Group: 1}
			if path := pieces.ConvPath(&g, false); path != "in place" {
				t.Logf("%s %+v: path %q, not in place", at.Name, c, path)
				continue
			}
			ran++
			x := kerntest.Rand(1, g.N*g.C*g.H*g.W)
			w := kerntest.Rand(2, g.M*g.C)
			b := kerntest.Rand(3, g.M)
			z := kerntest.Rand(4, g.N*g.M*oh*ow)
			for _, workers := range []int{1, 2} {
				f := &ConvFusion{Residual: z, Act: Activation{Kind: ActRelu}}
				want := make([]float32, len(z))
				packed.Conv(testEnv(packed, workers), &g, x, w, b, want, f)
				got := make([]float32, len(z))
				pieces.Conv(testEnv(pieces, workers), &g, x, w, b, got, f)
				what := fmt.Sprintf("%s %dx%dx%dx%d s%d workers=%d", at.Name, c.c, c.m, c.h, c.w, c.s, workers)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
					}
				}
			}
		}
	}
	if ran == 0 && AVX2 != nil {
		t.Fatal("no case took the in-place path")
	}
}

// BenchmarkOffsPieces times, on the best tier, a 1×1 convolution whose
// output is one row of 4·48 + 17 pixels (DenseNet-121's 17-tile Winograd
// part at 28×28 has the same last panel: 128 input and 32 output
// channels) with its last panel in pieces (offsNarrowRun) and copied into
// a wider packed panel, the same tier with the narrow offsets kernels
// taken away. Compare the two in one run.
func BenchmarkOffsPieces(b *testing.B) {
	at := asmTiers[0]
	if TierByName(at.Name) == nil {
		b.Skip(at.Name + " not supported by this CPU")
	}
	spec := *at.spec
	pieces := NewBlockedTier(spec)
	spec.OffsNarrow, spec.OffsCols = nil, nil
	packed := NewBlockedTier(spec)
	ow := 4*spec.Widths[0] + 17
	g := ConvGeom{N: 1, C: 128, H: 1, W: ow, M: 32, KH: 1, KW: 1, OH: 1, OW: ow, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
	x, w := kerntest.Rand(1, g.C*ow), kerntest.Rand(2, g.M*g.C)
	y := make([]float32, g.M*ow)
	for _, c := range []struct {
		name string
		k    *Tier
	}{{"pieces", pieces}, {"packed", packed}} {
		b.Run(c.name, func(b *testing.B) {
			if path := c.k.ConvPath(&g, false); path != "in place" {
				b.Skipf("path %q, not in place", path)
			}
			env := testEnv(c.k, 1)
			env.PackedW = c.k.PackConv(&g, w)
			for b.Loop() {
				c.k.Conv(env, &g, x, nil, nil, y, nil)
			}
			b.ReportMetric(2*float64(g.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
