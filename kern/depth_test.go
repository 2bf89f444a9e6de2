package kern

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAccurateDepth(t *testing.T) {
	for _, c := range []struct{ k, kcMax, want int }{
		{16, 128, 16}, {32, 128, 32}, {39, 128, 39}, {40, 128, 20}, {64, 128, 22},
		{147, 128, 37}, {256, 128, 52}, {576, 128, 72}, {1024, 128, 94}, {1664, 128, 119},
		{1665, 128, 119}, {2048, 128, 128}, {18432, 128, 128},
		{2048, 256, 128}, {960, 64, 64}, {64, 37, 22}, {147, 19, 19}, {1, 128, 1},
	} {
		if got := accurateDepth(c.k, c.kcMax); got != c.want {
			t.Errorf("accurateDepth(%d, %d) = %d, want %d", c.k, c.kcMax, got, c.want)
		}
	}
	// every depth: blocks within the caps, as even as the default's, no
	// fewer than the default's, none shorter than 20 steps where cut
	for _, kcMax := range []int{19, 37, 64, 128, 256} {
		for k := 1; k <= 20000; k++ {
			kc := accurateDepth(k, kcMax)
			nb := CeilDiv(k, kc)
			dflt := CeilDiv(k, CeilDiv(k, kcMax))
			switch {
			case kc > min(kcMax, accurateKC):
				t.Fatalf("accurateDepth(%d, %d) = %d, longer than the cap", k, kcMax, kc)
			case kc > dflt:
				t.Fatalf("accurateDepth(%d, %d) = %d, longer than the default blocks of %d", k, kcMax, kc, dflt)
			case nb > 1 && kc < 20 && kc < CeilDiv(k, CeilDiv(k, min(kcMax, accurateKC))):
				t.Fatalf("accurateDepth(%d, %d) = %d: cut shorter than 20 steps", k, kcMax, kc)
			case kc*(nb-1) >= k:
				t.Fatalf("accurateDepth(%d, %d) = %d: an empty block", k, kcMax, kc)
			}
		}
	}
}

// depthCase is a convolution for TestAccurateConvError, and the largest
// rms error against float64 sums, relative to the sums' rms, that an
// accurate variant may make on it.
type depthCase struct {
	name  string
	g     ConvGeom
	bound float64
}

// depthCases are layers whose depth accurateDepth cuts differently from
// some tier's default: ResNet's stem (K = 147), a 1×1 layer on 64
// channels (K = 64, in place), a 3×3 on 64 (K = 576), a strided 3×3 on
// 128 channels (K = 1152, on the pixel-tile path of the tiers that have
// one) and a 1×1 on 1024 (K = 1024, blocks of 256 on avx2 and generic).
// The bounds lie between the errors of the accurate variants (stem
// 1.17e-7 to 1.22e-7, then 7.8e-8 to 8.4e-8, 1.22e-7 to 1.27e-7, 1.46e-7
// to 1.49e-7, 1.45e-7 to 1.5e-7 on avx512, avx2 and generic) and those of
// avx512's default blocks (1.55e-7, 1.07e-7, 1.42e-7, 1.98e-7, 1.67e-7;
// avx2's and generic's larger still).
var depthCases = []depthCase{
	{"stem 7×7/2 C=3", ConvGeom{N: 1, C: 3, H: 48, W: 48, M: 32, KH: 7, KW: 7, OH: 24, OW: 24,
		PadT: 3, PadL: 3, PadB: 3, PadR: 3, SH: 2, SW: 2, DH: 1, DW: 1, Group: 1}, 1.35e-7},
	{"1×1 C=64", ConvGeom{N: 1, C: 64, H: 24, W: 24, M: 48, KH: 1, KW: 1, OH: 24, OW: 24,
		SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}, 0.92e-7},
	{"3×3 C=64", ConvGeom{N: 1, C: 64, H: 24, W: 24, M: 48, KH: 3, KW: 3, OH: 24, OW: 24,
		PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}, 1.33e-7},
	{"3×3/2 C=128", ConvGeom{N: 1, C: 128, H: 32, W: 32, M: 32, KH: 3, KW: 3, OH: 16, OW: 16,
		PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 2, SW: 2, DH: 1, DW: 1, Group: 1}, 1.65e-7},
	{"1×1 C=1024", ConvGeom{N: 1, C: 1024, H: 16, W: 16, M: 32, KH: 1, KW: 1, OH: 16, OW: 16,
		SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}, 1.57e-7},
}

// depthInputs returns g's input (a Relu's output, or an image's
// normalised values for 3 channels), weights (He's initialisation) and
// bias, and the float64 sums of the products plus the bias.
func depthInputs(g *ConvGeom, seed uint64) (x, w, b []float32, want []float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	k := g.C * g.KH * g.KW
	x = make([]float32, g.N*g.C*g.H*g.W)
	for i := range x {
		v := rng.NormFloat64()
		if g.C > 3 {
			v = max(0, v)
		}
		x[i] = float32(v)
	}
	w = make([]float32, g.M*k)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * math.Sqrt(2/float64(k)))
	}
	b = make([]float32, g.M)
	for i := range b {
		b[i] = float32(rng.NormFloat64() * 0.1)
	}
	want = make([]float64, g.N*g.M*g.OH*g.OW)
	for m := range g.M {
		for oh := range g.OH {
			for ow := range g.OW {
				s := float64(b[m])
				for c := range g.C {
					for kh := range g.KH {
						for kw := range g.KW {
							ih, iw := oh*g.SH-g.PadT+kh*g.DH, ow*g.SW-g.PadL+kw*g.DW
							if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
								s += float64(w[((m*g.C+c)*g.KH+kh)*g.KW+kw]) * float64(x[(c*g.H+ih)*g.W+iw])
							}
						}
					}
				}
				want[(m*g.OH+oh)*g.OW+ow] = s
			}
		}
	}
	return x, w, b, want
}

// rmsError returns the rms of y - want over the rms of want.
func rmsError(y []float32, want []float64) float64 {
	var e, r float64
	for i, v := range want {
		d := float64(y[i]) - v
		e += d * d
		r += v * v
	}
	return math.Sqrt(e / r)
}

// TestAccurateConvError computes depthCases on every tier's accurate
// variant and on the tier without Winograd, against float64 sums: the
// accurate variant's error must be within the case's bound and no larger
// than the default's, and its results the same for 1, 2 and 3 workers.
func TestAccurateConvError(t *testing.T) {
	for ci, c := range depthCases {
		g := c.g
		x, w, b, want := depthInputs(&g, uint64(ci+1))
		for _, k := range testTiers() {
			acc := k.Accurate()
			y := depthConv(acc, &g, x, w, b, 1)
			e, e0 := rmsError(y, want), rmsError(depthConv(k.WithoutWinograd(), &g, x, w, b, 2), want)
			t.Logf("%s, %s: rms error %.3g in the default blocks, %.3g accurate (%.2f)", c.name, k.Name, e0, e, e/e0)
			if e > c.bound {
				t.Errorf("%s, %s accurate: rms error %.3g of the sums' rms, above %.3g", c.name, k.Name, e, c.bound)
			}
			if e > e0*1.0001 {
				t.Errorf("%s, %s accurate: rms error %.3g above the default blocks' %.3g", c.name, k.Name, e, e0)
			}
			for _, workers := range []int{2, 3} {
				if got := depthConv(acc, &g, x, w, b, workers); !sameBits(got, y) {
					t.Errorf("%s, %s accurate: %d workers differ from one", c.name, k.Name, workers)
				}
			}
		}
	}
}

// depthConv computes convolution g on tier k with workers workers, its
// weights packed as Open packs them where the tier packs any.
func depthConv(k *Tier, g *ConvGeom, x, w, b []float32, workers int) []float32 {
	y := make([]float32, g.N*g.M*g.OH*g.OW)
	env := testEnv(k, workers)
	if k.PackConv != nil {
		env.PackedW = k.PackConv(g, w)
	}
	k.Conv(env, g, x, w, b, y, nil)
	return y
}

// sameBits reports whether a and b hold the same float32 bits.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestAccurateWinograd checks that an accurate variant takes Winograd for
// 3×3 layers on at least accurateWinoMinC input channels only, where its
// tier takes it for narrower ones too, and that on such a layer its
// shorter depth blocks keep the error within Winograd's (no larger than
// the tier's own Winograd sums) with the same results for 1, 2 and 3
// workers.
func TestAccurateWinograd(t *testing.T) {
	geom := func(c, hw int) ConvGeom {
		return ConvGeom{N: 1, C: c, H: hw, W: hw, M: 40, KH: 3, KW: 3, OH: hw, OW: hw,
			PadT: 1, PadL: 1, PadB: 1, PadR: 1, SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
	}
	const winograd = 1 // PackConvKind's layout for Winograd's U
	tested := 0
	for _, k := range testTiers() {
		if k.PackConvKind == nil || k.WithoutWinograd() == k {
			continue
		}
		acc := k.Accurate()
		for _, c := range []struct {
			c, hw int
			acc   bool // the accurate variant takes Winograd
		}{
			{64, 28, false},
			{accurateWinoMinC - 1, 28, false},
			{accurateWinoMinC, 28, true},
			{accurateWinoMinC + 72, 29, true},
		} {
			g := geom(c.c, c.hw)
			if k.PackConvKind(&g) != winograd {
				t.Fatalf("%s: C=%d at %d×%d does not take Winograd on the tier", k.Name, c.c, c.hw, c.hw)
			}
			if got := acc.PackConvKind(&g) == winograd; got != c.acc {
				t.Errorf("%s accurate: C=%d at %d×%d takes Winograd %v, want %v", k.Name, c.c, c.hw, c.hw, got, c.acc)
			}
			if !c.acc {
				continue
			}
			tested++
			x, w, b, want := depthInputs(&g, uint64(c.c))
			y := depthConv(acc, &g, x, w, b, 1)
			e, e0 := rmsError(y, want), rmsError(depthConv(k, &g, x, w, b, 1), want)
			t.Logf("C=%d, %s: Winograd's rms error %.3g in the default blocks, %.3g accurate (%.2f)", c.c, k.Name, e0, e, e/e0)
			if e > e0*1.0001 {
				t.Errorf("C=%d, %s accurate: rms error %.3g above the default blocks' %.3g", c.c, k.Name, e, e0)
			}
			for _, workers := range []int{2, 3} {
				if got := depthConv(acc, &g, x, w, b, workers); !sameBits(got, y) {
					t.Errorf("C=%d, %s accurate: %d workers differ from one", c.c, k.Name, workers)
				}
			}
		}
	}
	if tested == 0 {
		t.Skip("no tier here has Winograd")
	}
}
