package ops

import (
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

var (
	inf32  = float32(math.Inf(1))
	nan32  = float32(math.NaN())
	negZ32 = float32(math.Copysign(0, -1))
)

// TestUnaryMathKnown checks each op on ordinary values and IEEE's edge
// cases, bit for bit (signed zeros included).
func TestUnaryMathKnown(t *testing.T) {
	in := []float32{4, 2, 0.5, 0, negZ32, -1, -2.5, inf32, -inf32, nan32}
	f := func(g func(float64) float64) []float32 {
		out := make([]float32, len(in))
		for i, v := range in {
			out[i] = float32(g(float64(v)))
		}
		return out
	}
	cases := []struct {
		op   string
		want []float32
	}{
		{"Sqrt", []float32{2, float32(math.Sqrt2), float32(math.Sqrt(0.5)), 0, negZ32, nan32, nan32, inf32, nan32, nan32}},
		{"Exp", f(math.Exp)},
		{"Log", []float32{float32(math.Ln2 * 2), float32(math.Ln2), float32(-math.Ln2), -inf32, -inf32, nan32, nan32, inf32, nan32, nan32}},
		{"Neg", []float32{-4, -2, -0.5, negZ32, 0, 1, 2.5, -inf32, inf32, nan32}},
		{"Abs", []float32{4, 2, 0.5, 0, 0, 1, 2.5, inf32, inf32, nan32}},
		{"Erf", f(math.Erf)},
		{"Reciprocal", []float32{0.25, 0.5, 2, inf32, -inf32, -1, -0.4, 0, negZ32, nan32}},
		{"Floor", []float32{4, 2, 0, 0, negZ32, -1, -3, inf32, -inf32, nan32}},
		{"Ceil", []float32{4, 2, 1, 0, negZ32, -1, -2, inf32, -inf32, nan32}},
	}
	for _, c := range cases {
		for _, opset := range []int{6, 13} {
			if c.op == "Erf" {
				opset += 3 // 9 and 16
			}
			got := mustElem(t, elemNode(c.op, opset), elF32([]int{2, 5}, in...))
			elBits(t, c.op, c.want, got.F32)
		}
	}
	// Exp and Erf's known values.
	checkElem(t, elF32([]int{3}, 1, float32(math.E), 0), 0, elemNode("Exp", 13), elF32([]int{3}, 0, 1, -inf32))
	checkElem(t, elF32([]int{3}, 0, 0.8427007929497149, -1), 0, elemNode("Erf", 13), elF32([]int{3}, 0, 1, -10))
	// Scalars and empty tensors.
	checkElem(t, elF32([]int{}, 3), 0, elemNode("Sqrt", 13), elF32([]int{}, 9))
	checkElem(t, elF32([]int{0, 3}), 0, elemNode("Log", 13), elF32([]int{0, 3}))
}

func TestUnaryMathInt64(t *testing.T) {
	x := elI64([]int{2, 3}, 5, -7, 0, math.MaxInt64, math.MinInt64, -1)
	checkElem(t, elI64([]int{2, 3}, -5, 7, 0, -math.MaxInt64, math.MinInt64, 1), 0, elemNode("Neg", 13), x)
	checkElem(t, elI64([]int{2, 3}, 5, 7, 0, math.MaxInt64, math.MinInt64, 1), 0, elemNode("Abs", 6), x)
	// Opset 1 defines them for floating types only.
	wantElemErr(t, "want float32", elemNode("Neg", 1), x)
	checkElem(t, elF32([]int{1}, 2), 0, elemNode("Abs", 1, elInts("consumed_inputs", 0)), elF32([]int{1}, -2))
	// The others never take integers.
	for _, op := range []string{"Sqrt", "Exp", "Log", "Erf", "Reciprocal", "Floor", "Ceil"} {
		wantElemErr(t, "want float32", elemNode(op, 13), x)
	}
}

func TestUnaryMathErrors(t *testing.T) {
	wantElemErr(t, "at least 1 inputs", elemNode("Sqrt", 13))
	wantElemErr(t, "input 0 is required", elemNode("Exp", 13), nil)
}

// TestUnaryMathInPlace runs each op with its output in its input's
// buffer, as a runtime reusing the buffer would.
func TestUnaryMathInPlace(t *testing.T) {
	for _, op := range []string{"Sqrt", "Exp", "Log", "Neg", "Abs", "Erf", "Reciprocal", "Floor", "Ceil", "Elu", "Selu", "Softplus", "Softsign"} {
		opset := 13
		if op == "Elu" || op == "Selu" || op == "Softplus" || op == "Softsign" {
			opset = 6
		}
		x := elVals(1, 3, 50)
		for i := range x.F32 {
			x.F32[i] *= 0.7
		}
		want := mustElem(t, elemNode(op, opset), x)
		k, err := Lookup(op)(elemNode(op, opset))
		if err != nil {
			t.Fatal(err)
		}
		_, step, err := k.Prepare([]*Value{{DType: Float32, Shape: x.Shape}})
		if err != nil {
			t.Fatal(err)
		}
		buf := x.Clone()
		if err := step.Run(&kern.Env{Par: elemChunkPar{3}}, []*Tensor{buf}, []*Tensor{buf}); err != nil {
			t.Fatal(err)
		}
		elBits(t, op+" in place", want.F32, buf.F32)
		if step.Dev != nil {
			t.Errorf("%s: has a device description %v", op, step.Dev)
		}
	}
}
