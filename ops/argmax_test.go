package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// argRef is ArgMax (isMax) or ArgMin of x along axis, naively: the first
// index of the best value (the last with last), a NaN best of all.
func argRef(x *Tensor, axis int, keep, isMax, last bool) *Tensor {
	outer, d, inner := NumElems(x.Shape[:axis]), x.Shape[axis], NumElems(x.Shape[axis+1:])
	shape := copyShape(x.Shape)
	if keep {
		shape[axis] = 1
	} else {
		shape = append(shape[:axis], shape[axis+1:]...)
	}
	out := NewI64(shape, nil)
	val := func(i int) float64 {
		if x.DType == Int64 {
			return float64(x.I64[i])
		}
		return float64(x.F32[i])
	}
	for o := range outer {
		for q := range inner {
			best := -1
			for k := range d {
				v := val((o*d+k)*inner + q)
				if best < 0 {
					best = k
					continue
				}
				b := val((o*d+best)*inner + q)
				switch {
				case math.IsNaN(b) && !math.IsNaN(v):
				case math.IsNaN(v) && !math.IsNaN(b):
					best = k
				case v == b || math.IsNaN(v):
					if last {
						best = k
					}
				case isMax && v > b, !isMax && v < b:
					best = k
				}
			}
			out.I64[o*inner+q] = int64(best)
		}
	}
	return out
}

// TestArgKnown checks ArgMax and ArgMin against worked answers: ties
// (first and last index), NaN, keepdims, negative axes, int64 data.
func TestArgKnown(t *testing.T) {
	x := elF32([]int{2, 3}, 1, 5, 5, 7, -1, 7)
	checkElem(t, elI64([]int{2, 1}, 1, 0), 0, elemNode("ArgMax", 13, elInt("axis", 1)), x)
	checkElem(t, elI64([]int{2}, 2, 2), 0, elemNode("ArgMax", 12, elInt("axis", -1), elInt("keepdims", 0), elInt("select_last_index", 1)), x)
	checkElem(t, elI64([]int{1, 3}, 1, 0, 1), 0, elemNode("ArgMax", 13), x)
	checkElem(t, elI64([]int{3}, 0, 1, 0), 0, elemNode("ArgMin", 11, elInt("keepdims", 0)), x)
	checkElem(t, elI64([]int{2}, 0, 1), 0, elemNode("ArgMin", 1, elInt("axis", 1), elInt("keepdims", 0)), x)
	// NaN: the first (or last) NaN, for both
	nan := float32(math.NaN())
	y := elF32([]int{5}, 1, nan, 9, nan, -3)
	checkElem(t, elI64([]int{1}, 1), 0, elemNode("ArgMax", 13), y)
	checkElem(t, elI64([]int{1}, 1), 0, elemNode("ArgMin", 13), y)
	checkElem(t, elI64([]int{1}, 3), 0, elemNode("ArgMax", 13, elInt("select_last_index", 1)), y)
	checkElem(t, elI64([]int{}, 3), 0, elemNode("ArgMin", 13, elInt("select_last_index", 1), elInt("keepdims", 0)), y)
	// int64 data
	xi := elI64([]int{2, 3}, 4, math.MinInt64, 4, math.MaxInt64, 0, math.MaxInt64)
	checkElem(t, elI64([]int{2}, 0, 0), 0, elemNode("ArgMax", 13, elInt("axis", 1), elInt("keepdims", 0)), xi)
	checkElem(t, elI64([]int{2}, 2, 2), 0, elemNode("ArgMax", 13, elInt("axis", 1), elInt("keepdims", 0), elInt("select_last_index", 1)), xi)
	checkElem(t, elI64([]int{2}, 1, 1), 0, elemNode("ArgMin", 13, elInt("axis", 1), elInt("keepdims", 0)), xi)
	// an axis of size 1, and an empty output
	checkElem(t, elI64([]int{3}, 0, 0, 0), 0, elemNode("ArgMax", 13, elInt("keepdims", 0)), elF32([]int{1, 3}, 1, 2, 3))
	checkElem(t, elI64([]int{0, 1}), 0, elemNode("ArgMax", 13, elInt("axis", 1)), elF32([]int{0, 0}))

	wantElemErr(t, "axis 2 out of range for rank 2", elemNode("ArgMax", 13, elInt("axis", 2)), x)
	wantElemErr(t, "axis -3 out of range", elemNode("ArgMin", 13, elInt("axis", -3)), x)
	wantElemErr(t, "out of range for rank 0", elemNode("ArgMin", 13), elF32([]int{}, 1))
	wantElemErr(t, "select_last_index needs opset 12", elemNode("ArgMax", 11, elInt("select_last_index", 1)), x)
	wantElemErr(t, "has size 0", elemNode("ArgMax", 13, elInt("axis", 1)), elF32([]int{2, 0}))
	wantElemErr(t, "got 2 inputs", elemNode("ArgMax", 13), x, x)
}

// TestArgMatchesReference runs ArgMax and ArgMin against argRef over
// awkward shapes (batch > 1, odd sizes, lanes longer than a block and one
// past it) with many ties, every axis, both index rules and keepdims.
func TestArgMatchesReference(t *testing.T) {
	for si, shape := range [][]int{{2, 3, 4, 5}, {3, 1, 7}, {2, 3, 300}, {2, 5, 257}, {9}} {
		xf := nnRand(uint64(si+20), shape...)
		xi := NewI64(shape, nil)
		for i := range xf.F32 {
			xf.F32[i] = float32(math.Round(float64(xf.F32[i]) * 3)) // ties
			xi.I64[i] = int64(i*5%7) - 3
		}
		for axis := -len(shape); axis < len(shape); axis++ {
			for _, op := range []string{"ArgMax", "ArgMin"} {
				for _, last := range []int64{0, 1} {
					for _, keep := range []int64{0, 1} {
						for _, x := range []*Tensor{xf, xi} {
							n := elemNode(op, 13, elInt("axis", int64(axis)), elInt("keepdims", keep), elInt("select_last_index", last))
							a := (axis + len(shape)) % len(shape)
							want := argRef(x, a, keep == 1, op == "ArgMax", last == 1)
							elemCheckTensor(t, fmt.Sprintf("%s %s %v axis %d last %d", op, x.DType, shape, axis, last), want, mustElem(t, n, x), 0)
							got := runElemWith(t, &kern.Env{Par: elemChunkPar{5}}, n, x)
							elemCheckTensor(t, fmt.Sprintf("%s parallel %v axis %d", op, shape, axis), want, got, 0)
						}
					}
				}
			}
		}
	}
}
