package ops

import "testing"

// padGrid is [[1..4],[5..8],[9..12]].
func padGrid() *Tensor {
	return elF32([]int{3, 4}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
}

func TestPadModes(t *testing.T) {
	x := padGrid()
	pads := elI64([]int{4}, 0, 1, 2, 3) // begin [0,1], end [2,3]
	mode := func(m string) *Node { return elemNode("Pad", 13, elStr("mode", m)) }
	checkElem(t, elF32([]int{5, 8},
		0, 1, 2, 3, 4, 0, 0, 0,
		0, 5, 6, 7, 8, 0, 0, 0,
		0, 9, 10, 11, 12, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0), 0, elemNode("Pad", 13), x, pads)
	checkElem(t, elF32([]int{5, 8},
		1, 1, 2, 3, 4, 4, 4, 4,
		5, 5, 6, 7, 8, 8, 8, 8,
		9, 9, 10, 11, 12, 12, 12, 12,
		9, 9, 10, 11, 12, 12, 12, 12,
		9, 9, 10, 11, 12, 12, 12, 12), 0, mode("edge"), x, pads)
	checkElem(t, elF32([]int{5, 8},
		2, 1, 2, 3, 4, 3, 2, 1,
		6, 5, 6, 7, 8, 7, 6, 5,
		10, 9, 10, 11, 12, 11, 10, 9,
		6, 5, 6, 7, 8, 7, 6, 5,
		2, 1, 2, 3, 4, 3, 2, 1), 0, mode("reflect"), x, pads)
	// constant_value input.
	checkElem(t, elF32([]int{3, 5},
		-1, 1, 2, 3, 4,
		-1, 5, 6, 7, 8,
		-1, 9, 10, 11, 12), 0, elemNode("Pad", 11), x, elI64([]int{4}, 0, 1, 0, 0), elF32([]int{}, -1))
	// Absent constant_value ("" / nil) is 0.
	checkElem(t, elF32([]int{1, 3}, 0, 7, 0), 0, elemNode("Pad", 11), elF32([]int{1, 1}, 7), elI64([]int{4}, 0, 1, 0, 1), nil)
	// int64 data.
	checkElem(t, elI64([]int{4}, 9, 1, 2, 9), 0, elemNode("Pad", 13), elI64([]int{2}, 1, 2), elI64([]int{2}, 1, 1), elI64([]int{}, 9))
}

func TestPadNegative(t *testing.T) {
	x := padGrid()
	// Crop the last row and the first column, pad one column at the end.
	pads := elI64([]int{4}, 0, -1, -1, 1)
	mode := func(m string) *Node { return elemNode("Pad", 13, elStr("mode", m)) }
	checkElem(t, elF32([]int{2, 4}, 2, 3, 4, 0, 6, 7, 8, 0), 0, elemNode("Pad", 13), x, pads)
	checkElem(t, elF32([]int{2, 4}, 2, 3, 4, 4, 6, 7, 8, 8), 0, mode("edge"), x, pads)
	checkElem(t, elF32([]int{2, 4}, 2, 3, 4, 3, 6, 7, 8, 7), 0, mode("reflect"), x, pads)
	// Pure crop.
	checkElem(t, elF32([]int{1, 2}, 6, 7), 0, elemNode("Pad", 13), x, elI64([]int{4}, -1, -1, -1, -1))
	// Crop to nothing.
	checkElem(t, elF32([]int{0, 4}), 0, elemNode("Pad", 13), x, elI64([]int{4}, -3, 0, 0, 0))
	wantElemErr(t, "negative", elemNode("Pad", 13), x, elI64([]int{4}, -3, 0, -1, 0))
}

func TestPadAttributeForm(t *testing.T) {
	x := padGrid()
	checkElem(t, elF32([]int{3, 6},
		5, 1, 2, 3, 4, 5,
		5, 5, 6, 7, 8, 5,
		5, 9, 10, 11, 12, 5), 0, elemNode("Pad", 2, elInts("pads", 0, 1, 0, 1), elFloat("value", 5)), x)
	checkElem(t, elF32([]int{4, 4},
		5, 6, 7, 8,
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12), 0, elemNode("Pad", 10, elInts("pads", 1, 0, 0, 0), elStr("mode", "reflect")), x)
	checkElem(t, elF32([]int{3, 5},
		1, 2, 3, 4, 4,
		5, 6, 7, 8, 8,
		9, 10, 11, 12, 12), 0, elemNode("Pad", 10, elInts("pads", 0, 0, 0, 1), elStr("mode", "edge")), x)
	wantElemErr(t, "required before opset 11", elemNode("Pad", 10), x)
	wantElemErr(t, "not attributes", elemNode("Pad", 11, elInts("pads", 0, 0, 0, 0)), x, elI64([]int{4}, 0, 0, 0, 0))
	wantElemErr(t, "want float32", elemNode("Pad", 10, elInts("pads", 0, 0)), elI64([]int{2}, 1, 2))
}

func TestPadAxesAndScalars(t *testing.T) {
	x := padGrid()
	// Opset 18 axes input: pads only the last axis.
	checkElem(t, elF32([]int{3, 5},
		0, 1, 2, 3, 4,
		0, 5, 6, 7, 8,
		0, 9, 10, 11, 12), 0, elemNode("Pad", 18), x, elI64([]int{2}, 1, 0), nil, elI64([]int{1}, -1))
	// 3-D, middle axis, reflect.
	y := elSeq(2, 3, 1)
	checkElem(t, elF32([]int{2, 5, 1}, 1, 0, 1, 2, 1, 4, 3, 4, 5, 4), 0,
		elemNode("Pad", 13, elStr("mode", "reflect")), y, elI64([]int{6}, 0, 1, 0, 0, 1, 0))
	// A scalar pads to itself.
	checkElem(t, elF32([]int{}, 3), 0, elemNode("Pad", 13), elF32([]int{}, 3), elI64([]int{0}))
}

func TestPadErrors(t *testing.T) {
	x := padGrid()
	mode := func(m string) *Node { return elemNode("Pad", 13, elStr("mode", m)) }
	wantElemErr(t, "smaller than axis", mode("reflect"), x, elI64([]int{4}, 3, 0, 0, 0))
	wantElemErr(t, "smaller than axis", mode("reflect"), x, elI64([]int{4}, 0, 0, 0, 4))
	wantElemErr(t, "smaller than axis", mode("reflect"), elF32([]int{1}, 1), elI64([]int{2}, 1, 0))
	wantElemErr(t, "edge padding of empty", mode("edge"), elF32([]int{0}), elI64([]int{2}, 1, 0))
	wantElemErr(t, "unsupported mode", mode("circular"), x, elI64([]int{4}, 0, 0, 0, 0))
	wantElemErr(t, "mode wrap needs opset 19", mode("wrap"), x, elI64([]int{4}, 0, 0, 0, 0))
	wantElemErr(t, "entries for rank", elemNode("Pad", 13), x, elI64([]int{2}, 1, 1))
	wantElemErr(t, "constant_value must be a scalar", elemNode("Pad", 13), x, elI64([]int{4}, 0, 0, 0, 0), elI64([]int{}, 1))
	wantElemErrMode(t, "constant known at plan time", elemNode("Pad", 13), []bool{false, true}, x, elI64([]int{4}, 0, 0, 0, 0))
	// Empty axis padded with a constant is fine.
	checkElem(t, elF32([]int{2}, 0, 0), 0, elemNode("Pad", 13), elF32([]int{0}), elI64([]int{2}, 1, 1))
	// A constant_value not known at plan time is read at run time.
	r, err := runElemOpMode(t, elemNode("Pad", 13), []bool{false, false, true}, elF32([]int{1}, 1), elI64([]int{2}, 1, 0), elF32([]int{}, 8))
	if err != nil {
		t.Fatal(err)
	}
	elemCheckTensor(t, "Pad varying value", elF32([]int{2}, 8, 1), r.out[0], 0)
}

// padRef pads x the slow way, one output element at a time.
func padRef(x *Tensor, pads []int64, mode string, fill float32) *Tensor {
	r := len(x.Shape)
	shape := make([]int, r)
	for i, d := range x.Shape {
		shape[i] = d + int(pads[i]+pads[i+r])
	}
	out := NewF32(shape, nil)
	st := stridesOf(x.Shape)
	c := make([]int, r)
	for k := range out.F32 {
		unravel(k, shape, c)
		off, ok := 0, true
		for a := range c {
			i, d := c[a]-int(pads[a]), x.Shape[a]
			switch {
			case i >= 0 && i < d:
			case mode == "constant":
				ok = false
			case mode == "edge":
				i = min(max(i, 0), d-1)
			case i < 0: // reflect
				i = -i
			default:
				i = 2*(d-1) - i
			}
			off += i * st[a]
		}
		if ok {
			out.F32[k] = x.F32[off]
		} else {
			out.F32[k] = fill
		}
	}
	return out
}

func TestPadAgainstReference(t *testing.T) {
	x := elSeq(2, 3, 4)
	padSets := [][]int64{
		{0, 0, 0, 0, 0, 0},
		{1, 2, 3, 1, 2, 3},
		{0, -1, 2, 1, 2, -3},
		{-1, 0, -2, 0, 1, 1},
		{1, 0, 0, 1, 0, 0},
		{0, 2, -4, 0, 0, 3},
	}
	for _, mode := range []string{"constant", "reflect", "edge"} {
		for _, p := range padSets {
			want := padRef(x, p, mode, 9)
			n := elemNode("Pad", 13, elStr("mode", mode))
			checkElem(t, want, 0, n, x, elI64([]int{6}, p...), elF32([]int{}, 9))
		}
	}
}
