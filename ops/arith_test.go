package ops

import (
	"math"
	"testing"
)

// arithRef computes a op b with broadcasting the slow way: for every
// output index, the operands' indices by right-aligned coordinates.
func arithRef(op string, a, b *Tensor) *Tensor {
	shape, ok := bcastShape(a.Shape, b.Shape)
	if !ok {
		panic("arithRef: shapes do not broadcast")
	}
	r := len(shape)
	idx := func(s []int, c []int) int {
		off := 0
		for i, d := range s {
			ci := c[i+r-len(s)]
			if d == 1 {
				ci = 0
			}
			off = off*d + ci
		}
		return off
	}
	c := make([]int, r)
	if a.DType == Int64 {
		out := NewI64(shape, nil)
		for i := range out.I64 {
			unravel(i, shape, c)
			x, y := a.I64[idx(a.Shape, c)], b.I64[idx(b.Shape, c)]
			switch op {
			case "Add":
				out.I64[i] = x + y
			case "Sub":
				out.I64[i] = x - y
			case "Mul":
				out.I64[i] = x * y
			case "Div":
				out.I64[i] = x / y
			}
		}
		return out
	}
	out := NewF32(shape, nil)
	for i := range out.F32 {
		unravel(i, shape, c)
		x, y := a.F32[idx(a.Shape, c)], b.F32[idx(b.Shape, c)]
		switch op {
		case "Add":
			out.F32[i] = x + y
		case "Sub":
			out.F32[i] = x - y
		case "Mul":
			out.F32[i] = x * y
		case "Div":
			out.F32[i] = x / y
		}
	}
	return out
}

func TestArithKnown(t *testing.T) {
	a := elF32([]int{2, 2}, 1, 2, 3, 4)
	b := elF32([]int{2, 2}, 10, 20, 30, 40)
	checkElem(t, elF32([]int{2, 2}, 11, 22, 33, 44), 0, elemNode("Add", 14), a, b)
	checkElem(t, elF32([]int{2, 2}, -9, -18, -27, -36), 0, elemNode("Sub", 14), a, b)
	checkElem(t, elF32([]int{2, 2}, 10, 40, 90, 160), 0, elemNode("Mul", 14), a, b)
	checkElem(t, elF32([]int{2, 2}, 0.1, 0.1, 0.1, 0.1), 1e-7, elemNode("Div", 14), a, b)
	// Scalar on either side.
	s := elF32([]int{}, 2)
	checkElem(t, elF32([]int{2, 2}, -1, 0, 1, 2), 0, elemNode("Sub", 7), a, s)
	checkElem(t, elF32([]int{2, 2}, 1, 0, -1, -2), 0, elemNode("Sub", 7), s, a)
	checkElem(t, elF32([]int{2, 2}, 2, 1, 2.0/3, 0.5), 1e-7, elemNode("Div", 7), s, a)
	// Both scalars.
	checkElem(t, elF32([]int{}, 6), 0, elemNode("Mul", 13), elF32([]int{}, 3), s)
	// Float division by zero follows IEEE.
	got := mustElem(t, elemNode("Div", 13), elF32([]int{3}, 1, -1, 0), elF32([]int{}, 0))
	if !math.IsInf(float64(got.F32[0]), 1) || !math.IsInf(float64(got.F32[1]), -1) || !math.IsNaN(float64(got.F32[2])) {
		t.Fatalf("float div by zero: %v", got.F32)
	}
}

func TestArithBroadcast(t *testing.T) {
	// [2,3,4] + [3,1]
	a := elSeq(2, 3, 4)
	b := elF32([]int{3, 1}, 100, 200, 300)
	want := NewF32([]int{2, 3, 4}, nil)
	for i := range want.F32 {
		want.F32[i] = float32(i) + float32(100*((i/4)%3+1))
	}
	checkElem(t, want, 0, elemNode("Add", 14), a, b)
	checkElem(t, want, 0, elemNode("Add", 14), b, a)

	// Per-channel [N,C,H,W] * [C,1,1] and [1,C,1,1].
	x := elSeq(2, 3, 2, 2)
	ch := elF32([]int{3, 1, 1}, 1, 10, 100)
	chw := elF32([]int{1, 3, 1, 1}, 1, 10, 100)
	wantC := NewF32([]int{2, 3, 2, 2}, nil)
	for i := range wantC.F32 {
		wantC.F32[i] = float32(i) * []float32{1, 10, 100}[(i/4)%3]
	}
	checkElem(t, wantC, 0, elemNode("Mul", 7), x, ch)
	checkElem(t, wantC, 0, elemNode("Mul", 7), chw, x)

	// Outer product shapes [3,1] - [1,4] -> [3,4].
	col := elF32([]int{3, 1}, 1, 2, 3)
	row := elF32([]int{1, 4}, 10, 20, 30, 40)
	checkElem(t, elF32([]int{3, 4}, -9, -19, -29, -39, -8, -18, -28, -38, -7, -17, -27, -37), 0, elemNode("Sub", 13), col, row)

	// Many patterns against the slow reference.
	shapes := [][2][]int{
		{{2, 3, 4}, {4}},
		{{2, 3, 4}, {3, 1}},
		{{2, 1, 4}, {1, 3, 1}},
		{{5, 1, 3, 1}, {2, 1, 7}},
		{{1}, {2, 3}},
		{{2, 3, 1, 5}, {2, 1, 4, 5}},
		{{3, 0, 2}, {1, 2}},
		{{4, 1}, {4, 1}},
		{{2, 2, 3}, {2, 1, 3}},
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		for _, sh := range shapes {
			a := elSeq(sh[0]...)
			b := elSeq(sh[1]...)
			for i := range b.F32 {
				b.F32[i] += 1
			}
			want := arithRef(op, a, b)
			checkElem(t, want, 1e-6, elemNode(op, 14), a, b)
			checkElem(t, arithRef(op, b, a), 1e-6, elemNode(op, 14), b, a)
		}
	}
}

func TestArithInt64(t *testing.T) {
	a := elI64([]int{2, 3}, 7, -7, 7, -7, 0, 9)
	b := elI64([]int{3}, 2, 2, -2)
	checkElem(t, elI64([]int{2, 3}, 9, -5, 5, -5, 2, 7), 0, elemNode("Add", 14), a, b)
	checkElem(t, elI64([]int{2, 3}, 14, -14, -14, -14, 0, -18), 0, elemNode("Mul", 14), a, b)
	checkElem(t, elI64([]int{2, 3}, 5, -9, 9, -9, -2, 11), 0, elemNode("Sub", 14), a, b)
	// Division truncates toward zero.
	checkElem(t, elI64([]int{2, 3}, 3, -3, -3, -3, 0, -4), 0, elemNode("Div", 14), a, b)
	// Shape arithmetic: a [4] shape times a scalar.
	checkElem(t, elI64([]int{4}, 2, 6, 448, 448), 0, elemNode("Mul", 13), elI64([]int{4}, 1, 3, 224, 224), elI64([]int{}, 2))
	// Division by zero: at plan time when the divisor is constant...
	wantElemErr(t, "division by zero", elemNode("Div", 14), a, elI64([]int{3}, 1, 0, 1))
	// ... at run time otherwise.
	wantElemErrMode(t, "division by zero", elemNode("Div", 14), []bool{true, true}, a, elI64([]int{3}, 1, 0, 1))
	// Division by zero producing nothing is fine.
	checkElem(t, elI64([]int{0, 3}), 0, elemNode("Div", 14), elI64([]int{0, 3}), elI64([]int{}, 0))
}

func TestArithErrors(t *testing.T) {
	wantElemErr(t, "do not broadcast", elemNode("Add", 14), elSeq(2, 3), elSeq(2))
	wantElemErr(t, "do not broadcast", elemNode("Add", 14), elSeq(0), elSeq(2))
	wantElemErr(t, "but B has", elemNode("Mul", 14), elSeq(2), elI64([]int{2}, 1, 2))
	wantElemErr(t, "legacy broadcast", elemNode("Add", 6, elInt("broadcast", 1)), elSeq(2, 3), elSeq(3))
	wantElemErr(t, "no implicit broadcasting", elemNode("Add", 6), elSeq(2, 3), elSeq(3))
	checkElem(t, elF32([]int{2}, 0, 2), 0, elemNode("Add", 6), elSeq(2), elSeq(2))
	wantElemErr(t, "at least 2 inputs", elemNode("Add", 14), elSeq(2))
}
