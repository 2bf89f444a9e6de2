package bnrun_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// TestWithoutWinograd runs a 3×3 convolution that the fast tiers compute
// with Winograd (64 channels, 56×56) with WithWinograd and with
// WithoutWinograd, and checks that the options turn Winograd on and off
// (the profile's kernels, Model.Winograd), that the direct product is
// closer to float64 sums than Winograd, and that without either option
// this model, whose output is per-pixel, is computed directly.
func TestWithoutWinograd(t *testing.T) {
	winoErr, winoKernel, directErr, directKernel, autoKernel := winogradErrors(t, 64, 56)
	if strings.Contains(directKernel, "winograd") {
		t.Errorf("WithoutWinograd: the conv ran as %q", directKernel)
	}
	if autoKernel != directKernel {
		t.Errorf("no option, a per-pixel output: the conv ran as %q, want %q", autoKernel, directKernel)
	}
	if !strings.Contains(winoKernel, "winograd") {
		t.Skipf("the default tier (%s) does not use Winograd here", winoKernel)
	}
	if directErr >= winoErr {
		t.Errorf("direct error %.3g is not below Winograd's %.3g", directErr, winoErr)
	}
	checkWinogradRatio(t, winoErr, directErr)
}

// TestWinogradRatio bounds Winograd's largest error on a 256-channel
// 28×28 layer, as TestWithoutWinograd does on a 64-channel 56×56 one.
func TestWinogradRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("float64 sums of a 256-channel layer")
	}
	winoErr, winoKernel, directErr, _, _ := winogradErrors(t, 256, 28)
	if !strings.Contains(winoKernel, "winograd") {
		t.Skipf("the default tier (%s) does not use Winograd here", winoKernel)
	}
	checkWinogradRatio(t, winoErr, directErr)
}

// winogradMaxRatio bounds Winograd's largest error against float64 sums
// over the direct product's (in the short depth blocks of a per-pixel
// output) on the layers of TestWithoutWinograd and TestWinogradRatio:
// with the points 0, ±3/2, ±2/3 they measured 8.2 and 8.3 times (Zen 5,
// AVX-512), with Lavin and Gray's 0, ±1, ±2 30 and 45 times.
const winogradMaxRatio = 12

// checkWinogradRatio fails t when winoErr is more than winogradMaxRatio
// times directErr.
func checkWinogradRatio(t *testing.T, winoErr, directErr float64) {
	t.Helper()
	if winoErr > winogradMaxRatio*directErr {
		t.Errorf("Winograd's largest error %.3g is %.1f times the direct product's %.3g, want at most %d",
			winoErr, winoErr/directErr, directErr, winogradMaxRatio)
	}
}

// winogradErrors runs a 3×3 convolution of c channels on an hw×hw plane
// (padding 1, He-scaled weights, ReLU'd normal inputs) with WithWinograd,
// with WithoutWinograd and with neither, on the fastest CPU tier, one
// thread, and returns the largest errors of the first two against float64
// sums of the products and the kernel each ran (the last's too).
func winogradErrors(t *testing.T, c, hw int) (winoErr float64, winoKernel string, directErr float64, directKernel, autoKernel string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, c*c*9)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * math.Sqrt(2.0/float64(c*9)))
	}
	x := bnrun.NewTensor([]int{1, c, hw, hw}, nil)
	for i := range x.F32 {
		x.F32[i] = float32(max(0, rng.NormFloat64()))
	}
	g := hOne([]int64{1, int64(c), int64(hw), int64(hw)}, hNode("conv", "Conv", []string{"x", "w"}, []string{"y"},
		hInts("kernel_shape", 3, 3), hInts("pads", 1, 1, 1, 1)), hTensor("w", []int64{int64(c), int64(c), 3, 3}, w))
	g.outs = []hpb{hValue("y", 1, int64(c), int64(hw), int64(hw))} // declared per-pixel
	model := g.bytes()
	// want: float64 sums of the products
	want := make([]float64, c*hw*hw)
	for m := range c {
		for oh := range hw {
			for ow := range hw {
				var s float64
				for ci := range c {
					for kh := range 3 {
						for kw := range 3 {
							ih, iw := oh+kh-1, ow+kw-1
							if ih >= 0 && ih < hw && iw >= 0 && iw < hw {
								s += float64(w[((m*c+ci)*3+kh)*3+kw]) * float64(x.F32[(ci*hw+ih)*hw+iw])
							}
						}
					}
				}
				want[(m*hw+oh)*hw+ow] = s
			}
		}
	}
	maxErr := func(opts ...bnrun.Option) (float64, string) {
		m, err := bnrun.OpenBytes(model, append(opts, bnrun.WithThreads(1), bnrun.WithBackend(cpuBest()))...)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		t.Logf("%s: Winograd() = %v", m.Backend(), m.Winograd())
		p, err := m.Profile(context.Background(), []*bnrun.Tensor{x}, 1)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Run(context.Background(), map[string]*bnrun.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		var e float64
		for i, v := range out["y"].F32 {
			e = max(e, math.Abs(float64(v)-want[i]))
		}
		return e, p.Nodes[0].Kernel
	}
	winoErr, winoKernel = maxErr(bnrun.WithWinograd())
	directErr, directKernel = maxErr(bnrun.WithoutWinograd())
	_, autoKernel = maxErr()
	t.Logf("%d channels, %d×%d: largest error against float64 sums: %s %.3g, %s %.3g (%.1f times)",
		c, hw, hw, winoKernel, winoErr, directKernel, directErr, winoErr/directErr)
	return winoErr, winoKernel, directErr, directKernel, autoKernel
}

// cpuBest is the fastest CPU tier here (auto would take a GPU).
func cpuBest() string { return kern.Best().Name }

// TestWinogradChoice checks which CPU tier variant Open takes for a
// model without WithWinograd, WithoutWinograd or WithAccurate: for a
// classifier (scores [N, K]) the tier itself, Winograd on where the tier
// has it; for a segmentation net (a [N, K, H, W] class map) and a 1-D
// net's per-step outputs the accurate variant (shorter depth blocks,
// Winograd on layers of 256 channels or more); and what each option
// makes of both, with what Model.Winograd and Model.Accurate say, on
// every tier but the reference. WithAccurate and WithWinograd together
// are refused.
func TestWinogradChoice(t *testing.T) {
	for _, tier := range []*kern.Tier{kern.Best(), kern.Generic} {
		has := tier.WithoutWinograd() != tier
		for _, c := range []struct {
			model    string
			perPixel bool
		}{
			{"testdata/models/lenet_bn_op13/model.onnx", false},
			{"testdata/family/mobilenet_v3/fused/model.onnx", false},
			{"testdata/tiny_seg/model.onnx", true},
			{"testdata/family/lraspp/fused/model.onnx", true},
		} {
			for _, o := range []struct {
				name           string
				opts           []bnrun.Option
				wino, accurate bool
			}{
				{"default", nil, has, c.perPixel},
				{"WithWinograd", []bnrun.Option{bnrun.WithWinograd()}, has, false},
				{"WithoutWinograd", []bnrun.Option{bnrun.WithoutWinograd()}, false, c.perPixel},
				{"WithAccurate", []bnrun.Option{bnrun.WithAccurate()}, has, true},
				{"WithAccurate, WithoutWinograd", []bnrun.Option{bnrun.WithAccurate(), bnrun.WithoutWinograd()}, false, true},
			} {
				m, err := bnrun.Open(c.model, append(o.opts, bnrun.WithBackend(tier.Name))...)
				if err != nil {
					t.Fatal(err)
				}
				if got := m.Winograd(); got != o.wino {
					t.Errorf("%s, %s, %s tier: Winograd() = %v, want %v", c.model, o.name, tier.Name, got, o.wino)
				}
				if got := m.Accurate(); got != o.accurate {
					t.Errorf("%s, %s, %s tier: Accurate() = %v, want %v", c.model, o.name, tier.Name, got, o.accurate)
				}
				m.Close()
			}
		}
	}
	_, err := bnrun.Open("testdata/models/lenet_bn_op13/model.onnx", bnrun.WithAccurate(), bnrun.WithWinograd())
	if err == nil || !strings.Contains(err.Error(), "contradict") {
		t.Errorf("WithAccurate and WithWinograd: err = %v, want one saying they contradict each other", err)
	}
}
