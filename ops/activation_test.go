package ops

import (
	"math"
	"testing"
)

func TestReluKnown(t *testing.T) {
	x := elF32([]int{2, 3}, -2, -0.5, 0, 0.5, 3, -1e-8)
	checkElem(t, elF32([]int{2, 3}, 0, 0, 0, 0.5, 3, 0), 0, elemNode("Relu", 13), x)
	checkElem(t, elI64([]int{4}, 0, 0, 5, 7), 0, elemNode("Relu", 14), elI64([]int{4}, -3, 0, 5, 7))
	// Scalars and empty tensors keep their shapes.
	checkElem(t, elF32([]int{}, 0), 0, elemNode("Relu", 6), elF32([]int{}, -4))
	checkElem(t, elF32([]int{0, 3}), 0, elemNode("Relu", 6), elF32([]int{0, 3}))
}

func TestSigmoidTanhKnown(t *testing.T) {
	xs := []float32{-100, -3, -0.5, 0, 0.5, 3, 100}
	x := elF32([]int{7}, xs...)
	sig := make([]float32, len(xs))
	th := make([]float32, len(xs))
	for i, v := range xs {
		sig[i] = float32(1 / (1 + math.Exp(-float64(v))))
		th[i] = float32(math.Tanh(float64(v)))
	}
	checkElem(t, elF32([]int{7}, sig...), 1e-6, elemNode("Sigmoid", 13), x)
	checkElem(t, elF32([]int{7}, th...), 1e-6, elemNode("Tanh", 13), x)
	// Known values.
	checkElem(t, elF32([]int{3}, 0.5, 0.7310586, 0.26894143), 1e-6, elemNode("Sigmoid", 6), elF32([]int{3}, 0, 1, -1))
	checkElem(t, elF32([]int{3}, 0, 0.7615942, -0.7615942), 1e-6, elemNode("Tanh", 6), elF32([]int{3}, 0, 1, -1))
	wantElemErr(t, "want float32", elemNode("Sigmoid", 13), elI64([]int{1}, 1))
	wantElemErr(t, "want float32", elemNode("Tanh", 13), elI64([]int{1}, 1))
}

func TestLeakyReluKnown(t *testing.T) {
	x := elF32([]int{4}, -10, -1, 0, 2)
	checkElem(t, elF32([]int{4}, -0.1, -0.01, 0, 2), 1e-7, elemNode("LeakyRelu", 6), x)
	checkElem(t, elF32([]int{4}, -2, -0.2, 0, 2), 1e-7, elemNode("LeakyRelu", 16, elFloat("alpha", 0.2)), x)
	wantElemErr(t, "has type INT", elemNode("LeakyRelu", 16, elInt("alpha", 1)), x)
}

// TestHardSigmoidSwishKnown checks HardSigmoid (default and given slope
// and offset) and HardSwish on values below, inside and above the linear
// part, the product and sum rounded as the spec writes them, NaN kept.
func TestHardSigmoidSwishKnown(t *testing.T) {
	nan := float32(math.NaN())
	x := elF32([]int{7}, -10, -3, -1, 0, 1, 3, 10)
	checkElem(t, elF32([]int{7}, 0, 0, 0.3, 0.5, 0.7, 1, 1), 1e-7, elemNode("HardSigmoid", 6), x)
	checkElem(t, elF32([]int{7}, 0, 0, float32(float32(1.0/6)*-1)+0.5, 0.5, float32(float32(1.0/6)*1)+0.5, 1, 1), 0,
		elemNode("HardSigmoid", 6, elFloat("alpha", float32(1.0/6)), elFloat("beta", 0.5)), x)
	checkElem(t, elF32([]int{7}, 0, 0, -1*(float32(float32(1.0/6)*-1)+0.5), 0, 1*(float32(float32(1.0/6)*1)+0.5), 3, 10), 0,
		elemNode("HardSwish", 14), x)
	for _, op := range []string{"HardSigmoid", "HardSwish"} {
		out := mustElem(t, elemNode(op, 14), elF32([]int{1}, nan))
		if v := out.F32[0]; v == v {
			t.Errorf("%s(NaN) = %v, want NaN", op, v)
		}
		wantElemErr(t, "want float32", elemNode(op, 14), elI64([]int{1}, 1))
	}
	wantElemErr(t, "has type INT", elemNode("HardSigmoid", 6, elInt("alpha", 1)), x)
}

func TestClipAttributeForm(t *testing.T) {
	x := elF32([]int{5}, -5, -1, 0, 1, 5)
	checkElem(t, elF32([]int{5}, -2, -1, 0, 1, 3), 0, elemNode("Clip", 6, elFloat("min", -2), elFloat("max", 3)), x)
	// Only min: no upper bound.
	checkElem(t, elF32([]int{5}, 0, 0, 0, 1, 5), 0, elemNode("Clip", 6, elFloat("min", 0)), x)
	// No bounds: unchanged, infinities included.
	inf := float32(math.Inf(1))
	checkElem(t, elF32([]int{2}, -inf, inf), 0, elemNode("Clip", 6), elF32([]int{2}, -inf, inf))
	// Inputs are rejected in the attribute form.
	wantElemErr(t, "one input", elemNode("Clip", 6), x, elF32([]int{}, 0))
}

func TestClipInputForm(t *testing.T) {
	x := elF32([]int{5}, -5, -1, 0, 1, 5)
	lo, hi := elF32([]int{}, -2), elF32([]int{}, 3)
	checkElem(t, elF32([]int{5}, -2, -1, 0, 1, 3), 0, elemNode("Clip", 11), x, lo, hi)
	// Absent min ("" / nil), present max.
	checkElem(t, elF32([]int{5}, -5, -1, 0, 1, 3), 0, elemNode("Clip", 13), x, nil, hi)
	// Min only.
	checkElem(t, elF32([]int{5}, -2, -1, 0, 1, 5), 0, elemNode("Clip", 13), x, lo)
	// Neither.
	checkElem(t, x.Clone(), 0, elemNode("Clip", 12), x)
	// min > max: everything becomes max.
	checkElem(t, elF32([]int{5}, 1, 1, 1, 1, 1), 0, elemNode("Clip", 13), x, elF32([]int{}, 4), elF32([]int{}, 1))
	// NaN passes through.
	nan := float32(math.NaN())
	checkElem(t, elF32([]int{1}, nan), 0, elemNode("Clip", 13), elF32([]int{1}, nan), lo, hi)
	// int64 (opset 12+).
	checkElem(t, elI64([]int{4}, 0, 0, 3, 6), 0, elemNode("Clip", 13), elI64([]int{4}, -9, 0, 3, 9), elI64([]int{}, 0), elI64([]int{}, 6))
	checkElem(t, elI64([]int{2}, -9, 9), 0, elemNode("Clip", 13), elI64([]int{2}, -9, 9))
	// Bounds that are not known at plan time are read at run time.
	r, err := runElemOpMode(t, elemNode("Clip", 13), []bool{true, true, true}, x, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	elemCheckTensor(t, "Clip varying", elF32([]int{5}, -2, -1, 0, 1, 3), r.out[0], 0)

	wantElemErr(t, "min has type int64", elemNode("Clip", 13), x, elI64([]int{}, 0))
	wantElemErr(t, "must be a scalar", elemNode("Clip", 13), x, elF32([]int{2}, 0, 1))
	wantElemErr(t, "not attributes", elemNode("Clip", 11, elFloat("min", 0)), x)
}
