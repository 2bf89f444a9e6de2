package ops

import (
	"math"
	"testing"
)

// variadicRef computes Max, Min, Sum or Mean of float32 tensors with
// broadcasting the slow way, folding left to right as the spec's
// reference does.
func variadicRef(op string, ins ...*Tensor) *Tensor {
	shapes := make([][]int, len(ins))
	for i, x := range ins {
		shapes[i] = x.Shape
	}
	var vals []float32
	out := bcastEach(shapes, func(i int, idx []int) {
		v := ins[0].F32[idx[0]]
		for j := 1; j < len(ins); j++ {
			w := ins[j].F32[idx[j]]
			switch op {
			case "Max":
				if v != v || w != w {
					v = float32(math.NaN())
				} else if w > v {
					v = w
				}
			case "Min":
				if v != v || w != w {
					v = float32(math.NaN())
				} else if w < v {
					v = w
				}
			default:
				v += w
			}
		}
		if op == "Mean" && len(ins) > 1 {
			v /= float32(len(ins))
		}
		vals = append(vals, v)
	})
	return NewF32(out, append([]float32{}, vals...))
}

func TestVariadicKnown(t *testing.T) {
	a := elF32([]int{3}, 3, 2, 1)
	b := elF32([]int{3}, 1, 4, 4)
	c := elF32([]int{3}, 2, 5, 3)
	checkElem(t, elF32([]int{3}, 3, 5, 4), 0, elemNode("Max", 13), a, b, c)
	checkElem(t, elF32([]int{3}, 1, 2, 1), 0, elemNode("Min", 13), a, b, c)
	checkElem(t, elF32([]int{3}, 6, 11, 8), 0, elemNode("Sum", 13), a, b, c)
	checkElem(t, elF32([]int{3}, 2, 11.0/3, 8.0/3), 0, elemNode("Mean", 13), a, b, c)
	// One input is a copy.
	for _, op := range []string{"Max", "Min", "Sum", "Mean"} {
		checkElem(t, a, 0, elemNode(op, 13), a)
		checkElem(t, elF32([]int{}, 7), 0, elemNode(op, 8), elF32([]int{}, 7))
	}
	// Broadcasting of several inputs against the slow reference.
	sets := [][][]int{
		{{2, 3, 4}, {4}, {3, 1}},
		{{1}, {2, 1, 3}, {5, 1, 1, 1}, {}},
		{{3, 1}, {1, 4}},
		{{2, 3, 1, 5}, {2, 1, 4, 5}, {5}, {2, 3, 4, 5}},
		{{3, 0, 2}, {1, 2}},
		{{4, 1}, {4, 1}, {4, 1}},
	}
	for _, shapes := range sets {
		ins := make([]*Tensor, len(shapes))
		for i, s := range shapes {
			ins[i] = elVals(i, s...)
		}
		for _, op := range []string{"Max", "Min", "Sum", "Mean"} {
			checkElem(t, variadicRef(op, ins...), 0, elemNode(op, 13), ins...)
		}
	}
}

// TestVariadicNaN: Max and Min propagate NaN from any input, wherever it
// stands, as numpy's maximum and minimum do; Sum and Mean by arithmetic.
func TestVariadicNaN(t *testing.T) {
	a := elF32([]int{4}, 1, nan32, 3, -inf32)
	b := elF32([]int{4}, nan32, 2, 1, inf32)
	c := elF32([]int{4}, 0, 0, nan32, 0)
	elBits(t, "Max", []float32{nan32, nan32, 3, inf32}, mustElem(t, elemNode("Max", 13), a, b).F32)
	elBits(t, "Min", []float32{nan32, nan32, 1, -inf32}, mustElem(t, elemNode("Min", 13), a, b).F32)
	elBits(t, "Max3", []float32{nan32, nan32, nan32, inf32}, mustElem(t, elemNode("Max", 13), a, b, c).F32)
	elBits(t, "Min3", []float32{nan32, nan32, nan32, -inf32}, mustElem(t, elemNode("Min", 8), c, a, b).F32)
	elBits(t, "Sum", []float32{nan32, nan32, nan32, nan32}, mustElem(t, elemNode("Sum", 13), a, b, c).F32)
	// A broadcast NaN reaches every element.
	elBits(t, "Max scalar NaN", []float32{nan32, nan32, nan32, nan32}, mustElem(t, elemNode("Max", 13), elF32([]int{}, nan32), b).F32)
	// Signed zeros: Max prefers +0, Min -0.
	elBits(t, "Max zeros", []float32{0, 0}, mustElem(t, elemNode("Max", 13), elF32([]int{2}, negZ32, 0), elF32([]int{2}, 0, negZ32)).F32)
	elBits(t, "Min zeros", []float32{negZ32, negZ32}, mustElem(t, elemNode("Min", 13), elF32([]int{2}, negZ32, 0), elF32([]int{2}, 0, negZ32)).F32)
}

func TestVariadicInt64(t *testing.T) {
	a := elI64([]int{2, 3}, 5, -7, 0, math.MaxInt64, math.MinInt64, -1)
	b := elI64([]int{3}, 1, -8, 2)
	checkElem(t, elI64([]int{2, 3}, 5, -7, 2, math.MaxInt64, -8, 2), 0, elemNode("Max", 12), a, b)
	checkElem(t, elI64([]int{2, 3}, 1, -8, 0, 1, math.MinInt64, -1), 0, elemNode("Min", 13), a, b)
	checkElem(t, a, 0, elemNode("Max", 13), a)
	// Before opset 12 Max and Min are float only; Sum and Mean always.
	wantElemErr(t, "want float32", elemNode("Max", 11), a, b)
	wantElemErr(t, "want float32", elemNode("Min", 8), a)
	wantElemErr(t, "want float32", elemNode("Sum", 13), a, b)
	wantElemErr(t, "want float32", elemNode("Mean", 13), a)
}

func TestVariadicErrors(t *testing.T) {
	x := elSeq(2, 3)
	for _, op := range []string{"Max", "Min", "Sum", "Mean"} {
		wantElemErr(t, "at least 1 input", elemNode(op, 13))
		wantElemErr(t, "input 1 is required", elemNode(op, 13), x, nil, x)
		wantElemErr(t, "do not broadcast", elemNode(op, 13), x, elSeq(3), elSeq(2))
		wantElemErr(t, "input 2 has int64", elemNode(op, 13), x, x, elI64([]int{1}, 1))
		// Before opset 8 the inputs have one shape.
		wantElemErr(t, "no implicit broadcasting", elemNode(op, 6), x, elSeq(3))
		wantElemErr(t, "no implicit broadcasting", elemNode(op, 1, elInts("consumed_inputs", 0, 1)), x, elSeq(1, 2, 3))
		checkElem(t, variadicRef(op, x, x), 0, elemNode(op, 6), x, x)
		checkElem(t, variadicRef(op, x, elSeq(3)), 0, elemNode(op, 8), x, elSeq(3))
	}
}
