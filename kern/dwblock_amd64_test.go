//go:build amd64 && !purego

package kern

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// BenchmarkMobileNetBlocks runs MobileNetV2's inverted residual blocks
// (one image, ReLU6, the residual where the block has one) on the AVX2
// tier and one thread, layer by layer (conv) and in one pass (block, on
// every plane size, whatever DwBlockMinPixels says): the measurements
// behind the tier's DwBlockMinPixels. With weights warm in the cache, as
// here, the passes over memory that one pass saves cost less than in a
// whole network.
func BenchmarkMobileNetBlocks(b *testing.B) {
	if TierByName("avx2") == nil {
		b.Skip("no AVX2")
	}
	spec := avx2Spec
	spec.DwBlockMinPixels = 0
	k := NewBlockedTier(spec)
	act := Activation{Kind: ActClip, Min: 0, Max: 6}
	for i, bl := range []struct{ c0, c1, in, s, c2 int }{
		{0, 32, 112, 1, 16}, {16, 96, 112, 2, 24}, {24, 144, 56, 1, 24}, {24, 144, 56, 2, 32}, {24, 72, 56, 1, 24},
		{32, 192, 28, 1, 32}, {32, 192, 28, 2, 64}, {64, 384, 14, 1, 64}, {96, 576, 14, 2, 160}, {160, 960, 7, 1, 160},
	} {
		seed := uint64(10 * i)
		o := (bl.in-1)/bl.s + 1
		p := &DwBlock{Expand: bl.c0 > 0, Project: true, ActE: act, ActD: act}
		p.GD = ConvGeom{N: 1, C: bl.c1, H: bl.in, W: bl.in, M: bl.c1, KH: 3, KW: 3, OH: o, OW: o,
			PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: bl.s, SW: bl.s, DH: 1, DW: 1, Group: bl.c1}
		p.GP = ConvGeom{N: 1, C: bl.c1, H: o, W: o, M: bl.c2, KH: 1, KW: 1, OH: o, OW: o, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		cin := bl.c1
		var we []float32
		if p.Expand {
			cin = bl.c0
			p.GE = ConvGeom{N: 1, C: bl.c0, H: bl.in, W: bl.in, M: bl.c1, KH: 1, KW: 1, OH: bl.in, OW: bl.in, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
			we, p.BE = kerntest.Rand(seed, bl.c1*bl.c0), kerntest.Rand(seed+1, bl.c1)
		}
		x := kerntest.Rand(seed+2, cin*bl.in*bl.in)
		wd, wp := kerntest.Rand(seed+3, bl.c1*9), kerntest.Rand(seed+4, bl.c2*bl.c1)
		p.BD, p.BP = kerntest.Rand(seed+5, bl.c1), kerntest.Rand(seed+6, bl.c2)
		p.Fusion = &ConvFusion{}
		if bl.s == 1 && bl.c0 == bl.c2 {
			p.Fusion.Residual = kerntest.Rand(seed+7, bl.c2*o*o)
		}
		flops := 2 * float64(p.GE.M*p.GE.C*p.GE.OH*p.GE.OW+bl.c1*9*o*o+bl.c2*bl.c1*o*o)
		e := make([]float32, bl.c1*bl.in*bl.in)
		d := make([]float32, bl.c1*o*o)
		y := make([]float32, bl.c2*o*o)
		name := fmt.Sprintf("%d-%d-%dx%d²s%d", bl.c0, bl.c1, bl.c2, bl.in, bl.s)
		env := testEnv(k, 1)
		var pe []float32
		if p.Expand {
			pe = k.PackConv(&p.GE, we)
		}
		pd, pp := k.PackConv(&p.GD, wd), k.PackConv(&p.GP, wp)
		b.Run("conv/"+name, func(b *testing.B) {
			for range b.N {
				src := x
				if p.Expand {
					env.PackedW = pe
					k.Conv(env, &p.GE, x, we, p.BE, e, &ConvFusion{Act: act})
					src = e
				}
				env.PackedW = pd
				k.Conv(env, &p.GD, src, wd, p.BD, d, &ConvFusion{Act: act})
				env.PackedW = pp
				k.Conv(env, &p.GP, d, wp, p.BP, y, p.Fusion)
			}
			env.PackedW = nil
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		if p.Expand {
			p.WE = k.PackDwBlock(&p.GE, we)
		}
		p.WD, p.WP = k.PackDwBlock(&p.GD, wd), k.PackDwBlock(&p.GP, wp)
		b.Run("block/"+name, func(b *testing.B) {
			for range b.N {
				k.DwBlock(env, p, x, y)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
