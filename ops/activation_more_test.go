package ops

import (
	"math"
	"testing"
)

// TestEluSeluKnown checks Elu and Selu with their default and given
// attributes on both sides of 0, signed zeros, infinities and NaN.
func TestEluSeluKnown(t *testing.T) {
	xs := []float32{-100, -2, -0.5, negZ32, 0, 0.5, 3, -inf32, inf32, nan32}
	x := elF32([]int{2, 5}, xs...)
	elu := func(alpha float64) []float32 {
		out := make([]float32, len(xs))
		for i, v := range xs {
			out[i] = v
			if v < 0 {
				out[i] = float32(alpha * (math.Exp(float64(v)) - 1))
			}
		}
		return out
	}
	elBits(t, "Elu default", elu(1), mustElem(t, elemNode("Elu", 6), x).F32)
	elBits(t, "Elu alpha 2", elu(2), mustElem(t, elemNode("Elu", 1, elFloat("alpha", 2), elInts("consumed_inputs", 0)), x).F32)
	checkElem(t, elF32([]int{3}, -1.2642411, -0.78693867, 1), 1e-6, elemNode("Elu", 6, elFloat("alpha", 2)), elF32([]int{3}, -1, -0.5, 1))

	const alpha, gamma = 1.67326319217681884765625, 1.05070102214813232421875
	selu := func(a, g float64) []float32 {
		out := make([]float32, len(xs))
		for i, v := range xs {
			x := float64(v)
			if x > 0 {
				out[i] = float32(g * x)
			} else {
				out[i] = float32(g * a * (math.Exp(x) - 1))
			}
		}
		return out
	}
	elBits(t, "Selu default", selu(alpha, gamma), mustElem(t, elemNode("Selu", 6), x).F32)
	elBits(t, "Selu given", selu(2, 3), mustElem(t, elemNode("Selu", 6, elFloat("alpha", 2), elFloat("gamma", 3)), x).F32)
	// Opset 1's defaults are shorter.
	elBits(t, "Selu-1 default", selu(float64(float32(1.6732)), float64(float32(1.0507))), mustElem(t, elemNode("Selu", 1), x).F32)
	checkElem(t, elF32([]int{3}, -3.7927232, 0, 3), 1e-6, elemNode("Selu", 6, elFloat("alpha", 2), elFloat("gamma", 3)), elF32([]int{3}, -1, 0, 1))

	for _, op := range []string{"Elu", "Selu", "Softplus", "Softsign"} {
		wantElemErr(t, "want float32", elemNode(op, 6), elI64([]int{1}, 1))
	}
	wantElemErr(t, "has type INT", elemNode("Elu", 6, elInt("alpha", 1)), x)
	wantElemErr(t, "has type INT", elemNode("Selu", 6, elInt("gamma", 1)), x)
}

func TestSoftplusSoftsignKnown(t *testing.T) {
	x := elF32([]int{8}, -100, -1, negZ32, 0, 1, 100, inf32, -inf32)
	checkElem(t, elF32([]int{8}, float32(math.Exp(-100)), 0.31326169, float32(math.Ln2), float32(math.Ln2), 1.3132616, 100, inf32, 0), 1e-6,
		elemNode("Softplus", 1), x)
	// Very negative values keep their tiny results.
	if got := mustElem(t, elemNode("Softplus", 1), elF32([]int{1}, -100)).F32[0]; got != float32(math.Exp(-100)) {
		t.Errorf("Softplus(-100) = %g, want %g", got, float32(math.Exp(-100)))
	}
	elBits(t, "Softsign", []float32{-100.0 / 101, -0.5, negZ32, 0, 0.5, 100.0 / 101, nan32, nan32},
		mustElem(t, elemNode("Softsign", 1), x).F32)
	for _, op := range []string{"Softplus", "Softsign"} {
		if v := mustElem(t, elemNode(op, 1), elF32([]int{1}, nan32)).F32[0]; v == v {
			t.Errorf("%s(NaN) = %v", op, v)
		}
	}
}

func TestPReluKnown(t *testing.T) {
	x := elF32([]int{2, 3}, -2, -1, 0, 1, negZ32, -4)
	// One slope per element, per column (unidirectional), and a scalar.
	checkElem(t, elF32([]int{2, 3}, -0.2, -2, 0, 1, 0, -12), 0, elemNode("PRelu", 16), x, elF32([]int{2, 3}, 0.1, 2, 5, 5, 5, 3))
	checkElem(t, elF32([]int{2, 3}, -0.2, -2, 0, 1, 0, -16), 0, elemNode("PRelu", 9), x, elF32([]int{3}, 0.1, 2, 4))
	checkElem(t, elF32([]int{2, 3}, -1, -0.5, 0, 1, 0, -2), 0, elemNode("PRelu", 7), x, elF32([]int{}, 0.5))
	got := mustElem(t, elemNode("PRelu", 16), elF32([]int{3}, negZ32, nan32, -inf32), elF32([]int{1}, 2))
	elBits(t, "PRelu edges", []float32{negZ32, nan32, -inf32}, got.F32)
	// Per-channel slopes [C,1,1] against [N,C,H,W], against the slow
	// reference.
	xs := elVals(1, 2, 3, 4, 5)
	for _, ss := range [][]int{{3, 1, 1}, {1, 3, 1, 1}, {5}, {4, 1}, {2, 3, 4, 5}, {1}} {
		s := elVals(2, ss...)
		want := NewF32(xs.Shape, nil)
		bcastEach([][]int{xs.Shape, ss}, func(i int, idx []int) {
			v := xs.F32[idx[0]]
			if v < 0 {
				v *= s.F32[idx[1]]
			}
			want.F32[i] = v
		})
		checkElem(t, want, 0, elemNode("PRelu", 16), xs, s)
	}
	// int64 from opset 9.
	xi := elI64([]int{4}, -3, 0, 2, -1)
	checkElem(t, elI64([]int{4}, -6, 0, 2, -2), 0, elemNode("PRelu", 9), xi, elI64([]int{1}, 2))
	wantElemErr(t, "want float32", elemNode("PRelu", 8), xi, elI64([]int{1}, 2))
	// Opsets 1 and 6: a single slope of any shape, or slopes broadcasting
	// to X.
	checkElem(t, elF32([]int{2, 3}, -6, -3, 0, 1, 0, -12), 0, elemNode("PRelu", 6), x, elF32([]int{1, 1, 1}, 3))
	checkElem(t, elF32([]int{2, 3}, -6, -3, 0, 1, 0, -12), 0, elemNode("PRelu", 1, elInts("consumed_inputs", 0)), x, elF32([]int{1}, 3))
	checkElem(t, elF32([]int{2, 3}, -0.2, -2, 0, 1, 0, -16), 0, elemNode("PRelu", 6), x, elF32([]int{3}, 0.1, 2, 4))
	wantElemErr(t, "does not broadcast to X", elemNode("PRelu", 7), x, elF32([]int{1, 1, 1}, 3))

	// Errors: slopes that broadcast only both ways, mismatched types,
	// input counts.
	wantElemErr(t, "does not broadcast to X", elemNode("PRelu", 16), elSeq(3), elSeq(2, 3))
	wantElemErr(t, "does not broadcast to X", elemNode("PRelu", 16), elSeq(2, 1), elSeq(3))
	wantElemErr(t, "does not broadcast to X", elemNode("PRelu", 16), elSeq(2, 3), elSeq(2))
	wantElemErr(t, "but slope has", elemNode("PRelu", 16), x, elI64([]int{1}, 2))
	wantElemErr(t, "at least 2 inputs", elemNode("PRelu", 16), x)
	wantElemErr(t, "want 2", elemNode("PRelu", 16), x, x, x)
}
