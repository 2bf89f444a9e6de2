package kern

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/bnrun/bnrun/kern/kerntest"
)

func TestZZStem(t *testing.T) {
	base := TierByName("avx2")
	for _, l := range []struct{ c, m, hw, k, s, p int }{{3, 16, 224, 3, 2, 1}, {3, 32, 224, 3, 2, 1}, {16, 64, 112, 1, 1, 0}} {
		o := (l.hw+2*l.p-l.k)/l.s + 1
		g := &ConvGeom{N: 1, C: l.c, H: l.hw, W: l.hw, M: l.m, KH: l.k, KW: l.k, OH: o, OW: o, PadT: l.p, PadL: l.p, PadB: l.p, PadR: l.p, SH: l.s, SW: l.s, DH: 1, DW: 1, Group: 1}
		x, w, b := kerntest.Rand(1, l.c*l.hw*l.hw), kerntest.Rand(2, l.m*l.c*l.k*l.k), kerntest.Rand(3, l.m)
		y := make([]float32, l.m*o*o)
		env := &Env{K: base, Par: Serial{}, Scratch: make([]float32, base.ConvScratch(g))}
		env.PackedW = base.PackConv(g, w)
		fs := []*ConvFusion{{Act: Activation{Kind: ActRelu}}, {Act: Activation{Kind: ActHardSwish}}, nil}
		tss := make([][]float64, 3)
		for range 30 {
			for i, f := range fs {
				t0 := time.Now()
				for range 5 {
					base.Conv(env, g, x, w, b, y, f)
				}
				tss[i] = append(tss[i], time.Since(t0).Seconds()/5)
			}
		}
		for i := range tss {
			sort.Float64s(tss[i])
			fmt.Printf("fusion %d: %.0f us\n", i, tss[i][15]*1e6)
		}
		ts := tss[0]
		fl := 2 * float64(l.c*l.m*l.k*l.k*o*o)
		fmt.Printf("%v: %.1f GFLOP/s %.0f us [%s]\n", l, fl/ts[7]/1e9, ts[7]*1e6, base.ConvPath(g, false))
	}
}
