package kern

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// TestDwRowsMatchesLayers checks that DwRows computes what the three Conv
// calls compute one after the other, bit for bit, on every tier that has
// it, on 1 to 3 workers, with bands of one row up to the whole plane (the
// buffer sliding in between): channel counts that fill no vector, planes
// whose rows end in a partial vector, 3×3 and 5×5 windows, batches of 2,
// a residual, Relu6 in the kernels and HardSwish after them.
func TestDwRowsMatchesLayers(t *testing.T) {
	relu6 := Activation{Kind: ActClip, Min: 0, Max: 6}
	hswish := Activation{Kind: ActHardSwish, Alpha: 1.0 / 6, Beta: 0.5}
	cases := []struct {
		n, c0, c1, c2, h, w, k, s int
		resid                     bool
		actE, actD, act           Activation
	}{
		{1, 24, 72, 24, 56, 56, 3, 1, true, relu6, relu6, Activation{}},
		{2, 13, 100, 20, 30, 29, 3, 1, false, relu6, relu6, Activation{}},
		{1, 40, 120, 40, 28, 31, 5, 1, true, hswish, hswish, Activation{Kind: ActRelu}},
		{3, 16, 37, 16, 17, 40, 5, 1, true, Activation{}, Activation{Kind: ActRelu}, hswish},
		// without an expansion (the depthwise layer reads x)
		{1, 0, 32, 16, 56, 57, 3, 1, false, Activation{}, relu6, Activation{}},
		{2, 0, 20, 20, 31, 30, 5, 1, true, Activation{}, hswish, Activation{Kind: ActRelu}},
		// stride 2, which only the twin tiers' planes take
		{1, 16, 48, 24, 57, 60, 3, 2, false, relu6, relu6, Activation{}},
		{2, 8, 24, 8, 30, 27, 5, 2, false, Activation{Kind: ActRelu}, relu6, Activation{}},
	}
	for i, c := range cases {
		ran := 0
		pd := c.k / 2
		o := (c.h+2*pd-c.k)/c.s + 1
		ow := (c.w+2*pd-c.k)/c.s + 1
		p := &DwBlock{Expand: c.c0 > 0, Project: true, ActE: c.actE, ActD: c.actD}
		cin := c.c0
		if !p.Expand {
			cin = c.c1
		}
		if p.Expand {
			p.GE = ConvGeom{N: c.n, C: c.c0, H: c.h, W: c.w, M: c.c1, KH: 1, KW: 1, OH: c.h, OW: c.w, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		}
		p.GD = ConvGeom{N: c.n, C: c.c1, H: c.h, W: c.w, M: c.c1, KH: c.k, KW: c.k, OH: o, OW: ow,
			PadT: pd, PadL: pd, PadB: pd, PadR: pd, SH: c.s, SW: c.s, DH: 1, DW: 1, Group: c.c1}
		p.GP = ConvGeom{N: c.n, C: c.c1, H: o, W: ow, M: c.c2, KH: 1, KW: 1, OH: o, OW: ow, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		seed := uint64(100 * i)
		x := kerntest.Rand(seed, c.n*cin*c.h*c.w)
		we, wd, wp := kerntest.Rand(seed+1, c.c1*c.c0), kerntest.Rand(seed+2, c.c1*c.k*c.k), kerntest.Rand(seed+3, c.c2*c.c1)
		p.BE, p.BD, p.BP = kerntest.Rand(seed+4, c.c1), kerntest.Rand(seed+5, c.c1), kerntest.Rand(seed+6, c.c2)
		p.Fusion = &ConvFusion{Act: c.act}
		if c.resid {
			p.Fusion.Residual = kerntest.Rand(seed+7, c.n*c.c2*o*ow)
		}
		for _, tier := range testTiers() {
			spec, ok := tier.Spec()
			if !ok {
				continue
			}
			for _, band := range []int{1, 8 << 10, 64 << 10, 0} {
				spec.DwBlockL2, spec.DwRowsBand = 0, band // rows on one worker too
				k := NewBlockedTier(spec)
				if k.DwRows == nil || spec.DwPlane == nil {
					continue // (the depthwise layer runs on the planes kernels)
				}
				name := fmt.Sprintf("%s/%dx%d-%d-%d-%dx%dk%ds%d/band=%d", tier.Name, c.n, c.c0, c.c1, c.c2, c.h, c.w, c.k, c.s, band)
				if !k.DwRowsOK(p, 1) {
					if c.s == 1 || tier == Twin {
						t.Fatalf("%s: DwRowsOK false", name)
					}
					continue
				}
				// the layers, image by image
				want := make([]float32, c.n*c.c2*o*ow)
				eb, d := make([]float32, c.c1*c.h*c.w), make([]float32, c.c1*o*ow)
				ge, gd, gp := p.GE, p.GD, p.GP
				ge.N, gd.N, gp.N = 1, 1, 1
				var pe []float32
				if p.Expand {
					pe = k.PackConv(&ge, we)
				}
				pdw, pp := k.PackConv(&gd, wd), k.PackConv(&gp, wp)
				env := testEnv(k, 1)
				in, out := cin*c.h*c.w, c.c2*o*ow
				for n := range c.n {
					e := x[n*in : (n+1)*in]
					if p.Expand {
						e = eb
						env.PackedW = pe
						k.Conv(env, &ge, x[n*in:(n+1)*in], we, p.BE, e, &ConvFusion{Act: c.actE})
					}
					env.PackedW = pdw
					k.Conv(env, &gd, e, wd, p.BD, d, &ConvFusion{Act: c.actD})
					f := &ConvFusion{Act: c.act}
					if c.resid {
						f.Residual = p.Fusion.Residual[n*out : (n+1)*out]
					}
					env.PackedW = pp
					k.Conv(env, &gp, d, wp, p.BP, want[n*out:(n+1)*out], f)
				}
				if pdw != nil {
					t.Fatalf("%s: the depthwise layer's weights are packed", name)
				}
				for _, packed := range []bool{false, true} {
					pr := *p
					pr.WE, pr.WD, pr.WP = we, wd, wp
					if packed {
						pr.WE, pr.PE, pr.WP, pr.PP = nil, pe, nil, pp
					}
					ran += rowsMatch(t, k, &pr, x, want, fmt.Sprintf("%s packed=%v", name, packed))
				}
			}
		}
		if ran == 0 {
			t.Fatalf("case %d: no tier ran DwRows", i)
		}
	}
}

// TestGroupRowsMatchesLayers checks that DwRows computes a block with a
// grouped middle layer (an expansion into a grouped convolution, no
// projection: RegNet's) as the two Conv calls compute it one after the
// other, bit for bit, on every tier that takes it, on 1 to 3 workers,
// with bands of one row up to the whole plane: groups of 8, 16 and 24
// channels, as many or more output channels a group (one or two blocks of
// the pixel tiles), strides 1 and 2, planes whose rows end in a partial
// vector, batches of 2, with and without biases and activations; the
// expansion in place and, where the tier runs it so (DwRowsPix), on
// pixel tiles into the blocked copy.
func TestGroupRowsMatchesLayers(t *testing.T) {
	relu := Activation{Kind: ActRelu}
	cases := []struct {
		n, c0, c1, m, groups, h, w, s int
		bias                          bool
		actE, actD                    Activation
	}{
		{1, 12, 32, 32, 2, 31, 29, 2, true, relu, relu},
		{2, 8, 48, 48, 3, 20, 17, 1, true, Activation{}, relu},
		{1, 16, 32, 32, 4, 23, 22, 2, false, relu, Activation{}},
		{1, 20, 48, 48, 2, 16, 15, 1, true, relu, relu},
		{2, 5, 32, 64, 2, 13, 19, 2, true, relu, Activation{Kind: ActClip, Min: 0, Max: 6}},
	}
	pixRan := 0
	for i, c := range cases {
		ran := 0
		o, ow := (c.h+2-3)/c.s+1, (c.w+2-3)/c.s+1
		p := &DwBlock{Expand: true, ActE: c.actE, ActD: c.actD, Fusion: &ConvFusion{}}
		p.GE = ConvGeom{N: c.n, C: c.c0, H: c.h, W: c.w, M: c.c1, KH: 1, KW: 1, OH: c.h, OW: c.w, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		p.GD = ConvGeom{N: c.n, C: c.c1, H: c.h, W: c.w, M: c.m, KH: 3, KW: 3, OH: o, OW: ow,
			PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: c.s, SW: c.s, DH: 1, DW: 1, Group: c.groups}
		seed := uint64(200 * (i + 1))
		x := kerntest.Rand(seed, c.n*c.c0*c.h*c.w)
		we, wd := kerntest.Rand(seed+1, c.c1*c.c0), kerntest.Rand(seed+2, c.m*c.c1/c.groups*9)
		if c.bias {
			p.BE, p.BD = kerntest.Rand(seed+4, c.c1), kerntest.Rand(seed+5, c.m)
		}
		for _, tier := range testTiers() {
			spec, ok := tier.Spec()
			if !ok {
				continue
			}
			for _, band := range []int{1, 8 << 10, 64 << 10, 64 << 20} {
				spec.DwBlockL2, spec.DwRowsBand = 1, band // rows for any expansion
				spec.GroupRowsPix = true                  // and its pixel tiles, where they fit
				k := NewBlockedTier(spec)
				if k.DwRows == nil {
					continue
				}
				name := fmt.Sprintf("%s/%dx%d-%d-%d/g%d/%dx%ds%d/band=%d", tier.Name, c.n, c.c0, c.c1, c.m, c.groups, c.h, c.w, c.s, band)
				if !k.DwRowsOK(p, 1) {
					t.Fatalf("%s: DwRowsOK false", name)
				}
				// the layers, image by image
				want := make([]float32, c.n*c.m*o*ow)
				eb := make([]float32, c.c1*c.h*c.w)
				ge, gd := p.GE, p.GD
				ge.N, gd.N = 1, 1
				pe, pd := k.PackConv(&ge, we), k.PackConv(&gd, wd)
				env := testEnv(k, 1)
				in, out := c.c0*c.h*c.w, c.m*o*ow
				for n := range c.n {
					env.PackedW = pe
					k.Conv(env, &ge, x[n*in:(n+1)*in], we, p.BE, eb, &ConvFusion{Act: c.actE})
					env.PackedW = pd
					k.Conv(env, &gd, eb, wd, p.BD, want[n*out:(n+1)*out], &ConvFusion{Act: c.actD})
				}
				if pd == nil {
					t.Fatalf("%s: the grouped layer's weights are not packed", name)
				}
				for _, packed := range []bool{false, true} {
					pr := *p
					pr.WE, pr.WD, pr.PD = we, wd, pd
					if packed {
						pr.WE, pr.PE = nil, pe
						if k.DwRowsPix != nil && k.DwRowsPix(p, 1) {
							// the expansion on pixel tiles, straight into
							// the grouped layer's blocked copy
							pr.PE = k.PackDwBlock(&ge, we)
							pixRan++
						}
					}
					ran += rowsMatch(t, k, &pr, x, want, fmt.Sprintf("%s packed=%v", name, packed))
				}
			}
		}
		if ran == 0 {
			t.Fatalf("case %d: no tier ran the grouped rows", i)
		}
	}
	if pixRan == 0 && TierByName("avx2") != nil { // (the Go twins' tiles are too narrow)
		t.Fatal("no case ran the expansion on pixel tiles (DwRowsPix)")
	}
}

// rowsMatch runs k's DwRows on block p and input x on 1 to 3 workers and
// fails unless each output is want bit for bit (what names the case); it
// returns how many runs it made.
func rowsMatch(t *testing.T, k *Tier, p *DwBlock, x, want []float32, what string) int {
	t.Helper()
	for workers := 1; workers <= 3; workers++ {
		got := make([]float32, len(want))
		for j := range got {
			got[j] = float32(math.NaN())
		}
		k.DwRows(testEnv(k, workers), p, x, got)
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("%s workers=%d: y[%d] = %v, layers %v", what, workers, j, got[j], want[j])
			}
		}
	}
	return 3
}
