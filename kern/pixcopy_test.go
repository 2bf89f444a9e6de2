package kern

import (
	"math"
	"slices"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// scatterPar is a Parallel of workers workers that runs a loop's units one
// at a time, last to first, unit u as taker (5u + 3) mod workers: each
// taker's units lie all over the loop and its first is seldom the first of
// a run, as where workers take over each other's units. It records
// whether a loop's task was a TakerTask.
type scatterPar struct {
	workers int
	takers  *int // loops of TakerTasks
}

func (p scatterPar) Do(n int, t Task) {
	if _, ok := t.(TakerTask); ok {
		*p.takers++
	}
	for u := n - 1; u >= 0; u-- {
		RunChunk(t, u, u+1, (5*u+3)%p.workers)
	}
}

func (p scatterPar) Workers() int { return p.workers }

// TestPixCopyAnyTaker runs the convolutions whose workers each copy the
// input for themselves (pixPrivate: a padded 8-channel copy for 3×3
// windows, ResNet's 7×7 layers among them, and a pixel-major one for 1×1
// windows), with every unit on a taker other than the one whose run it is
// in, twice on different inputs, against the same tier on one worker, bit
// for bit: a taker that computed a unit from a copy it had not made in
// this call (another's, or its own of the call before) would show.
func TestPixCopyAnyTaker(t *testing.T) {
	cases := []ConvGeom{
		{N: 1, C: 64, H: 7, W: 7, M: 96, KH: 3, KW: 3, OH: 7, OW: 7, PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1},
		{N: 2, C: 30, H: 15, W: 13, M: 200, KH: 3, KW: 3, OH: 8, OW: 7, PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 2, SW: 2, DH: 1, DW: 1, Group: 1},
		{N: 2, C: 150, H: 7, W: 7, M: 256, KH: 1, KW: 1, OH: 7, OW: 7, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1},
	}
	for ci, g := range cases {
		w := kerntest.Rand(uint64(ci), g.M*g.C/g.Group*g.KH*g.KW)
		b := kerntest.Rand(uint64(ci)+1, g.M)
		f := ConvFusion{Act: Activation{Kind: ActRelu}}
		for _, k := range testTiers() {
			if k.ConvPath == nil || k.ConvPath(&g, false) != "pixel tiles, 8-channel blocks" && k.ConvPath(&g, false) != "pixel tiles, pixel-major" {
				continue
			}
			for _, workers := range []int{2, 3} {
				takers := 0
				env := &Env{K: k, Par: scatterPar{workers: workers, takers: &takers}}
				for call := range 2 {
					x := kerntest.Rand(uint64(10*ci+call), g.N*g.C*g.H*g.W)
					want := make([]float32, g.N*g.M*g.OH*g.OW)
					k.Conv(testEnv(k, 1), &g, x, w, b, want, &f)
					got := make([]float32, len(want))
					k.Conv(env, &g, x, w, b, got, &f)
					if !slices.Equal(got, want) {
						t.Errorf("%s, case %d, %d workers, call %d: not bit for bit the result on one worker (first difference at %d)",
							k.Name, ci, workers, call, firstDiff(got, want))
					}
				}
				if takers == 0 {
					t.Errorf("%s, case %d, %d workers: no loop of private copies (path %s)", k.Name, ci, workers, k.ConvPath(&g, false))
				}
			}
		}
	}
}

// firstDiff returns the first index where a and b differ (bits), or -1.
func firstDiff(a, b []float32) int {
	for i := range a {
		if i >= len(b) || math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}
