package ops

import "testing"

func TestConcatKnown(t *testing.T) {
	a := elF32([]int{2, 2}, 1, 2, 3, 4)
	b := elF32([]int{2, 1}, 5, 6)
	checkElem(t, elF32([]int{2, 3}, 1, 2, 5, 3, 4, 6), 0, elemNode("Concat", 13, elInt("axis", 1)), a, b)
	checkElem(t, elF32([]int{2, 3}, 1, 2, 5, 3, 4, 6), 0, elemNode("Concat", 13, elInt("axis", -1)), a, b)
	c := elF32([]int{1, 2}, 7, 8)
	checkElem(t, elF32([]int{3, 2}, 1, 2, 3, 4, 7, 8), 0, elemNode("Concat", 11, elInt("axis", 0)), a, c)
	// Zero-size inputs contribute nothing.
	checkElem(t, elF32([]int{2, 3}, 1, 2, 5, 3, 4, 6), 0, elemNode("Concat", 13, elInt("axis", 1)), elF32([]int{2, 0}), a, elF32([]int{2, 0}), b)
	checkElem(t, elF32([]int{0, 3}), 0, elemNode("Concat", 13, elInt("axis", 1)), elF32([]int{0, 1}), elF32([]int{0, 2}))
	// int64 shape vectors, the usual shape subgraph.
	checkElem(t, elI64([]int{4}, 1, 3, -1, 7), 0, elemNode("Concat", 13, elInt("axis", 0)),
		elI64([]int{1}, 1), elI64([]int{2}, 3, -1), elI64([]int{1}, 7))
	// A single input is copied.
	checkElem(t, a.Clone(), 0, elemNode("Concat", 13, elInt("axis", 0)), a)
	// 3-D, middle axis.
	x := elSeq(2, 1, 2)
	y := elSeq(2, 2, 2)
	checkElem(t, elF32([]int{2, 3, 2}, 0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 6, 7), 0, elemNode("Concat", 13, elInt("axis", 1)), x, y)
	// Default axis 1 before opset 4.
	checkElem(t, elF32([]int{2, 3}, 1, 2, 5, 3, 4, 6), 0, elemNode("Concat", 1), a, b)

	wantElemErr(t, "axis attribute is required", elemNode("Concat", 13), a, b)
	wantElemErr(t, "out of range", elemNode("Concat", 13, elInt("axis", 2)), a, b)
	wantElemErr(t, "incompatible", elemNode("Concat", 13, elInt("axis", 0)), a, b)
	wantElemErr(t, "rank", elemNode("Concat", 13, elInt("axis", 0)), a, elSeq(4))
	wantElemErr(t, "type", elemNode("Concat", 13, elInt("axis", 0)), a, elI64([]int{1, 2}, 1, 2))
	wantElemErr(t, "scalars", elemNode("Concat", 13, elInt("axis", 0)), elF32([]int{}, 1), elF32([]int{}, 2))
	wantElemErr(t, "at least one input", elemNode("Concat", 13, elInt("axis", 0)))
}

func TestGatherKnown(t *testing.T) {
	data := elSeq(3, 4)
	// axis 0, 1-D indices with a negative one.
	checkElem(t, elF32([]int{2, 4}, 8, 9, 10, 11, 0, 1, 2, 3), 0, elemNode("Gather", 13), data, elI64([]int{2}, -1, 0))
	// axis 1, 2-D indices.
	checkElem(t, elF32([]int{3, 2, 2}, 1, 3, 0, 0, 5, 7, 4, 4, 9, 11, 8, 8), 0,
		elemNode("Gather", 13, elInt("axis", 1)), data, elI64([]int{2, 2}, 1, 3, 0, -4))
	// Scalar index drops the axis: the shape-subgraph pattern Gather(Shape(x), 0).
	checkElem(t, elI64([]int{}, 224), 0, elemNode("Gather", 13), elI64([]int{4}, 1, 3, 224, 224), elI64([]int{}, 2))
	checkElem(t, elF32([]int{3}, 2, 6, 10), 0, elemNode("Gather", 11, elInt("axis", -1)), data, elI64([]int{}, 2))
	// Empty indices.
	checkElem(t, elF32([]int{3, 0}), 0, elemNode("Gather", 13, elInt("axis", 1)), data, elI64([]int{0}))
	// 3-D data, middle axis.
	d3 := elSeq(2, 3, 2)
	checkElem(t, elF32([]int{2, 1, 2}, 4, 5, 10, 11), 0, elemNode("Gather", 13, elInt("axis", 1)), d3, elI64([]int{1}, 2))

	wantElemErr(t, "out of range", elemNode("Gather", 13), data, elI64([]int{1}, 3))
	wantElemErr(t, "out of range", elemNode("Gather", 13), data, elI64([]int{1}, -4))
	wantElemErrMode(t, "out of range", elemNode("Gather", 13), []bool{false, true}, data, elI64([]int{2}, 0, 7))
	wantElemErr(t, "axis 2 out of range", elemNode("Gather", 13, elInt("axis", 2)), data, elI64([]int{1}, 0))
	wantElemErr(t, "want int64", elemNode("Gather", 13), data, elF32([]int{1}, 0))
	wantElemErr(t, "rank >= 1", elemNode("Gather", 13), elF32([]int{}, 1), elI64([]int{}, 0))
}
