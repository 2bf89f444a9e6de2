//go:build amd64 && !purego

package kern

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// BenchmarkMobileNetBlocks runs MobileNetV2's inverted residual blocks
// and MnasNet's 14×14 and 7×7 ones (3×3 and 5×5; one image, ReLU6, the
// residual where the block has one) on each fast tier the CPU has, on one
// and two workers, layer by layer (conv), in one pass (block, on every
// plane size, whatever DwBlockMinPixels says) and, where the tier takes
// them, the layers in bands of rows (rows, DwRows): the measurements
// behind the tiers' DwBlockMinPixels, dwBlockSmall and dwRowsPays. With weights warm in the
// cache, as here, the passes over memory that one pass saves cost less
// than in a whole network (a Zen 4, AVX-512: MnasNet's 192 → 1152 → 192
// 5×5 block at 7×7 449 µs here, 526 in the network).
func BenchmarkMobileNetBlocks(b *testing.B) {
	for _, spec := range []BlockedSpec{avx2Spec, avx512Spec} {
		if TierByName(spec.Name) == nil {
			continue
		}
		b.Run(spec.Name, func(b *testing.B) { benchDwBlocks(b, spec) })
	}
}

// benchDwBlocks is BenchmarkMobileNetBlocks on the tier of spec.
func benchDwBlocks(b *testing.B, spec BlockedSpec) {
	spec.DwBlockMinPixels = 0
	k := NewBlockedTier(spec)
	act := Activation{Kind: ActClip, Min: 0, Max: 6}
	for i, bl := range []struct{ c0, c1, in, s, c2, kw int }{
		{0, 32, 112, 1, 16, 3}, {16, 96, 112, 2, 24, 3}, {24, 144, 56, 1, 24, 3}, {24, 144, 56, 2, 32, 3}, {24, 72, 56, 1, 24, 3},
		{32, 192, 28, 1, 32, 3}, {32, 192, 28, 2, 64, 3}, {64, 384, 14, 1, 64, 3}, {96, 576, 14, 2, 160, 3}, {160, 960, 7, 1, 160, 3},
		// MnasNet's 14×14 and 7×7 blocks, 3×3 and 5×5
		{80, 480, 14, 1, 80, 3}, {96, 576, 14, 1, 96, 5}, {192, 1152, 7, 1, 192, 5}, {192, 1152, 7, 1, 320, 3},
	} {
		seed := uint64(10 * i)
		o := (bl.in-1)/bl.s + 1
		p := &DwBlock{Expand: bl.c0 > 0, Project: true, ActE: act, ActD: act}
		pd := bl.kw / 2
		p.GD = ConvGeom{N: 1, C: bl.c1, H: bl.in, W: bl.in, M: bl.c1, KH: bl.kw, KW: bl.kw, OH: o, OW: o,
			PadT: pd, PadL: pd, PadB: pd, PadR: pd, SH: bl.s, SW: bl.s, DH: 1, DW: 1, Group: bl.c1}
		p.GP = ConvGeom{N: 1, C: bl.c1, H: o, W: o, M: bl.c2, KH: 1, KW: 1, OH: o, OW: o, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		cin := bl.c1
		var we []float32
		if p.Expand {
			cin = bl.c0
			p.GE = ConvGeom{N: 1, C: bl.c0, H: bl.in, W: bl.in, M: bl.c1, KH: 1, KW: 1, OH: bl.in, OW: bl.in, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
			we, p.BE = kerntest.Rand(seed, bl.c1*bl.c0), kerntest.Rand(seed+1, bl.c1)
		}
		x := kerntest.Rand(seed+2, cin*bl.in*bl.in)
		wd, wp := kerntest.Rand(seed+3, bl.c1*bl.kw*bl.kw), kerntest.Rand(seed+4, bl.c2*bl.c1)
		p.BD, p.BP = kerntest.Rand(seed+5, bl.c1), kerntest.Rand(seed+6, bl.c2)
		p.Fusion = &ConvFusion{}
		if bl.s == 1 && bl.c0 == bl.c2 {
			p.Fusion.Residual = kerntest.Rand(seed+7, bl.c2*o*o)
		}
		flops := 2 * float64(p.GE.M*p.GE.C*p.GE.OH*p.GE.OW+bl.c1*bl.kw*bl.kw*o*o+bl.c2*bl.c1*o*o)
		e := make([]float32, bl.c1*bl.in*bl.in)
		d := make([]float32, bl.c1*o*o)
		y := make([]float32, bl.c2*o*o)
		name := fmt.Sprintf("%d-%d-%dx%d²k%ds%d", bl.c0, bl.c1, bl.c2, bl.in, bl.kw, bl.s)
		var pe []float32
		if p.Expand {
			pe = k.PackConv(&p.GE, we)
		}
		pkd, pp := k.PackConv(&p.GD, wd), k.PackConv(&p.GP, wp)
		pb := *p
		if p.Expand {
			pb.WE = k.PackDwBlock(&p.GE, we)
		}
		pb.WD, pb.WP = k.PackDwBlock(&p.GD, wd), k.PackDwBlock(&p.GP, wp)
		pr := *p
		pr.WE, pr.PE, pr.WD, pr.WP, pr.PP = we, pe, wd, wp, pp
		for _, workers := range []int{1, 2} {
			env := testEnv(k, workers)
			sfx := fmt.Sprintf("/w%d", workers)
			b.Run("conv/"+name+sfx, func(b *testing.B) {
				for range b.N {
					src := x
					if p.Expand {
						env.PackedW = pe
						k.Conv(env, &p.GE, x, we, p.BE, e, &ConvFusion{Act: act})
						src = e
					}
					env.PackedW = pkd
					k.Conv(env, &p.GD, src, wd, p.BD, d, &ConvFusion{Act: act})
					env.PackedW = pp
					k.Conv(env, &p.GP, d, wp, p.BP, y, p.Fusion)
				}
				env.PackedW = nil
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run("block/"+name+sfx, func(b *testing.B) {
				for range b.N {
					k.DwBlock(env, &pb, x, y)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			if k.DwRowsOK(&pr, workers) {
				b.Run("rows/"+name+sfx, func(b *testing.B) {
					for range b.N {
						k.DwRows(env, &pr, x, y)
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkRegNetBlocks runs the expansion and grouped 3×3 convolution
// that open RegNet-Y 800MF's first two blocks (32 → 64 channels at
// 112×112, groups of 16, stride 2; 64 → 144 at 56×56) and ResNeXt-50's
// second stage (256 → 256 at 56×56, groups of 8, stride 2), one image, on
// the AVX-512 tier on one and two workers: layer by layer (conv/) and in
// bands of rows (rows/), hot (the tensors left in the caches by the
// iteration before) and cold (32 MB written between iterations, the timer
// stopped, as a Run of the network leaves them).
func BenchmarkRegNetBlocks(b *testing.B) {
	if TierByName("avx512") == nil {
		b.Skip("no AVX-512 on this CPU")
	}
	k := NewBlockedTier(avx512Spec)
	relu := Activation{Kind: ActRelu}
	junk := make([]float32, 8<<20)
	for i, bl := range []struct{ c0, c1, in, s, groups int }{{32, 64, 112, 2, 4}, {64, 144, 56, 2, 9}, {256, 256, 56, 2, 32}} {
		seed := uint64(10 * i)
		o := (bl.in-1)/bl.s + 1
		p := &DwBlock{Expand: true, ActE: relu, ActD: relu, Fusion: &ConvFusion{}}
		p.GE = ConvGeom{N: 1, C: bl.c0, H: bl.in, W: bl.in, M: bl.c1, KH: 1, KW: 1, OH: bl.in, OW: bl.in, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		p.GD = ConvGeom{N: 1, C: bl.c1, H: bl.in, W: bl.in, M: bl.c1, KH: 3, KW: 3, OH: o, OW: o,
			PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: bl.s, SW: bl.s, DH: 1, DW: 1, Group: bl.groups}
		x := kerntest.Rand(seed, bl.c0*bl.in*bl.in)
		we, wd := kerntest.Rand(seed+1, bl.c1*bl.c0), kerntest.Rand(seed+2, bl.c1*bl.c1/bl.groups*9)
		p.BE, p.BD = kerntest.Rand(seed+3, bl.c1), kerntest.Rand(seed+4, bl.c1)
		e := make([]float32, bl.c1*bl.in*bl.in)
		y := make([]float32, bl.c1*o*o)
		pe, pd := k.PackConv(&p.GE, we), k.PackConv(&p.GD, wd)
		pr := *p
		pr.WE, pr.PE, pr.WD, pr.PD = we, pe, wd, pd
		if k.DwRowsPix(&pr, 1) {
			pr.PE = k.PackDwBlock(&p.GE, we) // the expansion on pixel tiles
		}
		flops := 2 * float64(p.GE.MACs()+p.GD.MACs())
		name := fmt.Sprintf("%d-%dx%d²g%ds%d", bl.c0, bl.c1, bl.in, bl.groups, bl.s)
		for _, workers := range []int{1, 2} {
			env := testEnv(k, workers)
			for _, cold := range []bool{false, true} {
				sfx := fmt.Sprintf("/w%d/hot", workers)
				if cold {
					sfx = fmt.Sprintf("/w%d/cold", workers)
				}
				run := func(b *testing.B, f func()) {
					for range b.N {
						if cold {
							b.StopTimer()
							for j := range junk {
								junk[j]++
							}
							b.StartTimer()
						}
						f()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				}
				b.Run("conv/"+name+sfx, func(b *testing.B) {
					run(b, func() {
						env.PackedW = pe
						k.Conv(env, &p.GE, x, we, p.BE, e, &ConvFusion{Act: relu})
						env.PackedW = pd
						k.Conv(env, &p.GD, e, wd, p.BD, y, &ConvFusion{Act: relu})
						env.PackedW = nil
					})
				})
				if k.DwRowsOK(&pr, workers) {
					b.Run("rows/"+name+sfx, func(b *testing.B) { run(b, func() { k.DwRows(env, &pr, x, y) }) })
				}
			}
		}
	}
}
