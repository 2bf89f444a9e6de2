package ops

import (
	"math"
	"testing"
)

func TestCompareKnown(t *testing.T) {
	a := elF32([]int{2, 4}, 1, 2, 3, nan32, 0, negZ32, inf32, -inf32)
	b := elF32([]int{2, 4}, 2, 2, 2, nan32, negZ32, 0, inf32, 0)
	checkElem(t, elI64([]int{2, 4}, 0, 1, 0, 0, 1, 1, 1, 0), 0, elemNode("Equal", 13), a, b)
	checkElem(t, elI64([]int{2, 4}, 1, 0, 0, 0, 0, 0, 0, 1), 0, elemNode("Less", 13), a, b)
	checkElem(t, elI64([]int{2, 4}, 0, 0, 1, 0, 0, 0, 0, 0), 0, elemNode("Greater", 13), a, b)
	// NaN against anything is false.
	for _, op := range []string{"Equal", "Less", "Greater"} {
		checkElem(t, elI64([]int{3}, 0, 0, 0), 0, elemNode(op, 13), elF32([]int{}, nan32), elF32([]int{3}, 1, nan32, inf32))
	}
	// int64, Bool included.
	ai := elI64([]int{4}, math.MinInt64, -1, 0, math.MaxInt64)
	bi := elI64([]int{4}, math.MaxInt64, -1, 1, math.MinInt64)
	checkElem(t, elI64([]int{4}, 0, 1, 0, 0), 0, elemNode("Equal", 7), ai, bi)
	checkElem(t, elI64([]int{4}, 1, 0, 1, 0), 0, elemNode("Less", 9), ai, bi)
	checkElem(t, elI64([]int{4}, 0, 0, 0, 1), 0, elemNode("Greater", 13), ai, bi)
	// Broadcasting against the slow reference, both ways round.
	sets := [][2][]int{{{3, 4, 5}, {5}}, {{2, 1, 3}, {4, 1}}, {{}, {2, 2}}, {{3, 0}, {1}}, {{2, 3}, {2, 3}}}
	for _, sh := range sets {
		for _, sw := range [][2][]int{sh, {sh[1], sh[0]}} {
			x, y := elVals(1, sw[0]...), elVals(2, sw[1]...)
			xi, yi := elInts64(1, sw[0]...), elInts64(2, sw[1]...)
			for _, op := range []string{"Equal", "Less", "Greater"} {
				var want, wantI []int64
				shape := bcastEach([][]int{x.Shape, y.Shape}, func(i int, idx []int) {
					u, v := x.F32[idx[0]], y.F32[idx[1]]
					ui, vi := xi.I64[idx[0]], yi.I64[idx[1]]
					switch op {
					case "Equal":
						want, wantI = append(want, b2i(u == v)), append(wantI, b2i(ui == vi))
					case "Less":
						want, wantI = append(want, b2i(u < v)), append(wantI, b2i(ui < vi))
					default:
						want, wantI = append(want, b2i(u > v)), append(wantI, b2i(ui > vi))
					}
				})
				checkElem(t, NewI64(shape, append([]int64{}, want...)), 0, elemNode(op, 13), x, y)
				checkElem(t, NewI64(shape, append([]int64{}, wantI...)), 0, elemNode(op, 13), xi, yi)
			}
		}
	}
}

// TestCompareOpsets checks each version's type constraints and the
// legacy forms.
func TestCompareOpsets(t *testing.T) {
	f, i := elSeq(3), elI64([]int{3}, 0, 1, 5)
	// Equal: integers (and Bool) from opset 1, floats from 11.
	wantElemErr(t, "want int64", elemNode("Equal", 7), f, f)
	wantElemErr(t, "want int64", elemNode("Equal", 10), f, f)
	checkElem(t, elI64([]int{3}, 1, 1, 0), 0, elemNode("Equal", 11), f, elF32([]int{3}, 0, 1, 5))
	checkElem(t, elI64([]int{3}, 1, 0, 0), 0, elemNode("Equal", 1), i, elI64([]int{3}, 0, 2, 2))
	// Less and Greater: floats from opset 1, integers from 9.
	wantElemErr(t, "want float32", elemNode("Less", 7), i, i)
	wantElemErr(t, "want float32", elemNode("Greater", 8), i, i)
	checkElem(t, elI64([]int{3}, 0, 0, 1), 0, elemNode("Greater", 9), i, elI64([]int{}, 1))
	checkElem(t, elI64([]int{3}, 1, 0, 0), 0, elemNode("Less", 1), f, elF32([]int{3}, 1, 1, 1))
	// Before opset 7: one shape, and the broadcast attribute refused.
	wantElemErr(t, "no implicit broadcasting", elemNode("Less", 6), f, elF32([]int{1}, 1))
	wantElemErr(t, "legacy broadcast", elemNode("Greater", 1, elInt("broadcast", 1)), f, elF32([]int{1}, 1))
}

func TestCompareErrors(t *testing.T) {
	for _, op := range []string{"Equal", "Less", "Greater"} {
		wantElemErr(t, "do not broadcast", elemNode(op, 13), elSeq(2, 3), elSeq(2))
		wantElemErr(t, "but B has", elemNode(op, 13), elSeq(2), elI64([]int{2}, 1, 2))
		wantElemErr(t, "at least 2 inputs", elemNode(op, 13), elSeq(2))
		wantElemErr(t, "want 2", elemNode(op, 13), elSeq(2), elSeq(2), elSeq(2))
	}
}

func TestWhereKnown(t *testing.T) {
	cond := elI64([]int{2, 2}, 1, 0, 1, 1)
	checkElem(t, elF32([]int{2, 2}, 1, 8, 3, 4), 0, elemNode("Where", 16),
		cond, elF32([]int{2, 2}, 1, 2, 3, 4), elF32([]int{2, 2}, 9, 8, 7, 6))
	checkElem(t, elI64([]int{2, 2}, 1, 8, 3, 4), 0, elemNode("Where", 9),
		cond, elI64([]int{2, 2}, 1, 2, 3, 4), elI64([]int{2, 2}, 9, 8, 7, 6))
	// Any non-zero condition is true; NaN and signed zeros are selected
	// as they are.
	elBits(t, "Where", []float32{nan32, 0, negZ32}, mustElem(t, elemNode("Where", 16),
		elI64([]int{3}, 7, 0, -1), elF32([]int{3}, nan32, negZ32, negZ32), elF32([]int{}, 0)).F32)
	// All three broadcast together, against the slow reference.
	sets := [][3][]int{
		{{2, 1, 3}, {4, 1}, {3}},
		{{}, {2, 3}, {3}},
		{{5}, {}, {2, 1}},
		{{3, 1, 1}, {2, 3, 4, 5}, {1}},
		{{2, 3}, {2, 3}, {2, 3}},
		{{0, 1}, {3}, {1, 3}},
	}
	for _, sh := range sets {
		c := elInts64(0, sh[0]...)
		for k := range c.I64 {
			c.I64[k] = c.I64[k] & 1
		}
		x, y := elVals(1, sh[1]...), elVals(2, sh[2]...)
		var want []float32
		shape := bcastEach([][]int{sh[0], sh[1], sh[2]}, func(i int, idx []int) {
			if c.I64[idx[0]] != 0 {
				want = append(want, x.F32[idx[1]])
			} else {
				want = append(want, y.F32[idx[2]])
			}
		})
		checkElem(t, NewF32(shape, append([]float32{}, want...)), 0, elemNode("Where", 16), c, x, y)
	}
}

func TestWhereErrors(t *testing.T) {
	c, x := elI64([]int{3}, 1, 0, 1), elSeq(3)
	wantElemErr(t, "condition has type float32", elemNode("Where", 16), x, x, x)
	wantElemErr(t, "but Y has", elemNode("Where", 16), c, x, elI64([]int{3}, 1, 2, 3))
	wantElemErr(t, "do not broadcast", elemNode("Where", 16), c, elSeq(2, 3), elSeq(2))
	wantElemErr(t, "do not broadcast", elemNode("Where", 16), elI64([]int{2}, 1, 0), x, x)
	wantElemErr(t, "at least 3 inputs", elemNode("Where", 16), c, x)
	wantElemErr(t, "want 3", elemNode("Where", 16), c, x, x, x)
	wantElemErr(t, "input 1 is required", elemNode("Where", 16), c, nil, x)
}
