//go:build amd64 && !purego

package kern

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// TestDwPlaneKernelsMatchTwin runs each AVX-512 DwPlane kernel against
// its Go twin, bit for bit, on planes whose rows end inside a vector (1,
// 7, 15, 17, 33 outputs), as short as one row and shorter than the
// window, with every padding the kernels take, several planes a call,
// with and without clip; the outputs sit between guard values that
// must stay as they are, and NaN and infinite inputs pass through.
func TestDwPlaneKernelsMatchTwin(t *testing.T) {
	if TierByName("avx512") == nil {
		t.Skip("avx512: not supported by this CPU")
	}
	const guard = 12345.5
	n := 0
	for _, k := range []int{3, 5} {
		for _, s := range []int{1} {
			kern := dwPlaneAVX512(k, k, s)
			twin := DwPlaneGo(k, k, s)
			for _, hw := range [][2]int{{1, 1}, {2, 3}, {7, 7}, {14, 14}, {9, 15}, {5, 17}, {11, 33}, {4, 40}} {
				for _, pad := range [][4]int{{0, 0, 0, 0}, {k / 2, k / 2, k / 2, k / 2}, {k - 1, 0, 1, k - 1}, {0, k - 1, k - 1, 0}} {
					h, w := hw[0], hw[1]
					g := &ConvGeom{N: 1, C: 3, H: h, W: w, M: 3, KH: k, KW: k, SH: s, SW: s, DH: 1, DW: 1,
						PadT: pad[0], PadL: pad[1], PadB: pad[2], PadR: pad[3], Group: 3}
					g.OH = WindowOut(h, k, g.PadT, g.PadB, s, 1, false)
					g.OW = WindowOut(w, k, g.PadL, g.PadR, s, 1, false)
					if g.OH <= 0 || g.OW <= 0 {
						continue
					}
					chunks := CeilDiv(g.OW, dwPlaneLanes)
					masks := make([]uint16, chunks*dwPlaneMaskCount(k, s))
					dwPlaneMasks(g, masks)
					planes := g.C
					x := kerntest.Rand(uint64(n), planes*h*w+32)[16:]
					x[0], x[len(x)/2] = float32(math.NaN()), float32(math.Inf(-1))
					wt := kerntest.Rand(uint64(n)+1, planes*k*k)
					bias := kerntest.Rand(uint64(n)+2, planes)
					for _, clip := range [][]float32{nil, {-0.25, 0.5}} {
						var cp *float32
						if clip != nil {
							cp = &clip[0]
						}
						no := planes * g.OH * g.OW
						got := make([]float32, no+32)
						want := make([]float32, no+32)
						for i := range got {
							got[i], want[i] = guard, guard
						}
						kern(&got[16], &x[0], &wt[0], &bias[0], cp, &masks[0], planes, h, w, g.OH, g.OW, g.PadT, g.PadL, chunks)
						twin(&want[16], &x[0], &wt[0], &bias[0], cp, &masks[0], planes, h, w, g.OH, g.OW, g.PadT, g.PadL, chunks)
						what := fmt.Sprintf("%dx%d s%d %dx%d pads %v clip %v", k, k, s, h, w, pad, clip != nil)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s: [%d] = %v, twin %v", what, i-16, got[i], want[i])
							}
						}
						for _, i := range []int{0, 15, 16 + no, len(got) - 1} {
							if got[i] != guard {
								t.Fatalf("%s: wrote outside its outputs at %d", what, i-16)
							}
						}
						n++
					}
				}
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d cases ran", n)
	}
}
