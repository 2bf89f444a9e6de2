package kern

import (
	"math"
	"testing"
)

// TestActivationOneIsApply checks that Activation.One and Apply agree bit
// for bit for every kind (the CUDA kernels' tests take One as their
// reference), and Gelu's two forms against their formulas in float64.
func TestActivationOneIsApply(t *testing.T) {
	xs := []float32{-40, -6, -2.5, -1, -0.3, -1e-20, 0, 1e-20, 0.3, 1, 2.5, 6, 40, float32(math.Inf(1)), float32(math.NaN())}
	for k := ActNone; k <= ActGeluTanh; k++ {
		a := Activation{Kind: k, Alpha: 0.2, Beta: 0.4, Min: -1, Max: 2}
		y := append([]float32(nil), xs...)
		a.Apply(y)
		for i, x := range xs {
			if got := a.One(x); math.Float32bits(got) != math.Float32bits(y[i]) && !(got != got && y[i] != y[i]) {
				t.Errorf("%v: One(%v) = %v, Apply gives %v", a, x, got, y[i])
			}
		}
	}
	for _, x := range []float64{-3, -0.5, 0.5, 3} {
		exact := x / 2 * (1 + math.Erf(x/math.Sqrt2))
		tanhForm := x / 2 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		if got := (Activation{Kind: ActGelu}).One(float32(x)); math.Abs(float64(got)-exact) > 1e-6 {
			t.Errorf("Gelu(%v) = %v, want %v", x, got, exact)
		}
		if got := (Activation{Kind: ActGeluTanh}).One(float32(x)); math.Abs(float64(got)-tanhForm) > 1e-6 {
			t.Errorf("Gelu tanh(%v) = %v, want %v", x, got, tanhForm)
		}
	}
}
