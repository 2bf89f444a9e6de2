package ops

import "testing"

// viewShape runs an aliasing op and checks its output shape, its data (a
// copy of the input's) and that the step is marked View.
func viewShape(t *testing.T, n *Node, want []int, ins ...*Tensor) {
	t.Helper()
	r, err := runElemOp(t, n, ins...)
	if err != nil {
		t.Fatalf("%s: %v", n.OpType, err)
	}
	if !r.step.View {
		t.Fatalf("%s: step is not a View", n.OpType)
	}
	w := ins[0].Clone()
	w.Shape = want
	elemCheckTensor(t, n.OpType, w, r.out[0], 0)
}

func TestReshapeShapes(t *testing.T) {
	x := elSeq(2, 3, 4)
	shp := func(v ...int64) *Tensor { return elI64([]int{len(v)}, v...) }
	viewShape(t, elemNode("Reshape", 13), []int{6, 4}, x, shp(6, 4))
	viewShape(t, elemNode("Reshape", 13), []int{4, 6}, x, shp(4, -1))
	viewShape(t, elemNode("Reshape", 13), []int{2, 12}, x, shp(0, -1))
	viewShape(t, elemNode("Reshape", 13), []int{2, 3, 2, 2}, x, shp(0, 0, -1, 2))
	viewShape(t, elemNode("Reshape", 5), []int{24}, x, shp(-1))
	viewShape(t, elemNode("Reshape", 14), []int{1, 24, 1}, x, shp(1, -1, 1))
	viewShape(t, elemNode("Reshape", 13), []int{}, elF32([]int{1, 1}, 7), shp())
	// int64 data.
	viewShape(t, elemNode("Reshape", 13), []int{2, 2}, elI64([]int{4}, 1, 2, 3, 4), shp(2, 2))
	// allowzero: 0 is a real zero dimension.
	empty := elF32([]int{0, 3})
	viewShape(t, elemNode("Reshape", 14, elInt("allowzero", 1)), []int{3, 0}, empty, shp(3, 0))
	viewShape(t, elemNode("Reshape", 14), []int{0, 3}, empty, shp(0, 3))
	viewShape(t, elemNode("Reshape", 14), []int{0, 3, 1}, empty, shp(0, 3, 1))
	// Before opset 5 the shape is an attribute.
	viewShape(t, elemNode("Reshape", 4, elInts("shape", 3, 8)), []int{3, 8}, x)

	wantElemErr(t, "more than one -1", elemNode("Reshape", 13), x, shp(-1, -1))
	wantElemErr(t, "cannot reshape", elemNode("Reshape", 13), x, shp(5, -1))
	wantElemErr(t, "cannot reshape", elemNode("Reshape", 13), x, shp(5, 5))
	wantElemErr(t, "invalid dimension -2", elemNode("Reshape", 13), x, shp(-2, 12))
	wantElemErr(t, "lacks", elemNode("Reshape", 13), elSeq(6), shp(2, 0, 3))
	wantElemErr(t, "both 0 and -1", elemNode("Reshape", 14, elInt("allowzero", 1)), empty, shp(0, -1))
	wantElemErr(t, "cannot infer", elemNode("Reshape", 14), empty, shp(0, -1))
	wantElemErr(t, "cannot reshape", elemNode("Reshape", 14, elInt("allowzero", 1)), x, shp(0, 24))
	wantElemErr(t, "want int64", elemNode("Reshape", 13), x, elF32([]int{2}, 4, 6))
	wantElemErrMode(t, "constant known at plan time", elemNode("Reshape", 13), []bool{false, true}, x, shp(4, 6))
	wantElemErr(t, "allowzero must be 0 or 1", elemNode("Reshape", 14, elInt("allowzero", 2)), x, shp(4, 6))
}

func TestFlattenShapes(t *testing.T) {
	x := elSeq(2, 3, 4)
	viewShape(t, elemNode("Flatten", 13), []int{2, 12}, x)
	viewShape(t, elemNode("Flatten", 13, elInt("axis", 0)), []int{1, 24}, x)
	viewShape(t, elemNode("Flatten", 13, elInt("axis", 2)), []int{6, 4}, x)
	viewShape(t, elemNode("Flatten", 13, elInt("axis", 3)), []int{24, 1}, x)
	viewShape(t, elemNode("Flatten", 11, elInt("axis", -1)), []int{6, 4}, x)
	viewShape(t, elemNode("Flatten", 11, elInt("axis", -3)), []int{1, 24}, x)
	viewShape(t, elemNode("Flatten", 9), []int{1, 1}, elF32([]int{1}, 5))
	viewShape(t, elemNode("Flatten", 13, elInt("axis", 0)), []int{1, 1}, elF32([]int{}, 5))
	viewShape(t, elemNode("Flatten", 13), []int{2, 0}, elF32([]int{2, 0, 3}))
	wantElemErr(t, "out of range", elemNode("Flatten", 13, elInt("axis", 4)), x)
	wantElemErr(t, "out of range", elemNode("Flatten", 13, elInt("axis", -4)), x)
	wantElemErr(t, "needs opset 11", elemNode("Flatten", 9, elInt("axis", -1)), x)
}

func TestSqueezeForms(t *testing.T) {
	x := elSeq(1, 3, 1, 2)
	// Attribute form (opset < 13).
	viewShape(t, elemNode("Squeeze", 11, elInts("axes", 0)), []int{3, 1, 2}, x)
	viewShape(t, elemNode("Squeeze", 11, elInts("axes", -2, 0)), []int{3, 2}, x)
	viewShape(t, elemNode("Squeeze", 1), []int{3, 2}, x)
	// Input form (opset 13).
	axes := func(v ...int64) *Tensor { return elI64([]int{len(v)}, v...) }
	viewShape(t, elemNode("Squeeze", 13), []int{1, 3, 2}, x, axes(2))
	viewShape(t, elemNode("Squeeze", 13), []int{3, 2}, x, axes(0, -2))
	viewShape(t, elemNode("Squeeze", 13), []int{3, 2}, x)
	viewShape(t, elemNode("Squeeze", 13), []int{3, 2}, x, nil)
	viewShape(t, elemNode("Squeeze", 13), []int{}, elF32([]int{1, 1}, 4))
	viewShape(t, elemNode("Squeeze", 13), []int{2}, elI64([]int{1, 2}, 4, 5), axes(0))

	wantElemErr(t, "size is not 1", elemNode("Squeeze", 13), x, axes(1))
	wantElemErr(t, "size is not 1", elemNode("Squeeze", 11, elInts("axes", 3)), x)
	wantElemErr(t, "out of range", elemNode("Squeeze", 13), x, axes(4))
	wantElemErr(t, "out of range", elemNode("Squeeze", 13), x, axes(-5))
	wantElemErr(t, "not an attribute", elemNode("Squeeze", 13, elInts("axes", 0)), x)
	wantElemErrMode(t, "constant known at plan time", elemNode("Squeeze", 13), []bool{false, true}, x, axes(0))
}

func TestUnsqueezeForms(t *testing.T) {
	x := elSeq(3, 4)
	axes := func(v ...int64) *Tensor { return elI64([]int{len(v)}, v...) }
	viewShape(t, elemNode("Unsqueeze", 11, elInts("axes", 0)), []int{1, 3, 4}, x)
	viewShape(t, elemNode("Unsqueeze", 11, elInts("axes", 0, 3)), []int{1, 3, 4, 1}, x)
	viewShape(t, elemNode("Unsqueeze", 11, elInts("axes", -1)), []int{3, 4, 1}, x)
	viewShape(t, elemNode("Unsqueeze", 13), []int{3, 1, 4}, x, axes(1))
	viewShape(t, elemNode("Unsqueeze", 13), []int{1, 3, 1, 4}, x, axes(2, 0))
	viewShape(t, elemNode("Unsqueeze", 13), []int{3, 4, 1, 1}, x, axes(-1, -2))
	viewShape(t, elemNode("Unsqueeze", 13), []int{1}, elI64([]int{}, 9), axes(0))

	wantElemErr(t, "repeated", elemNode("Unsqueeze", 13), x, axes(1, 1))
	wantElemErr(t, "repeated", elemNode("Unsqueeze", 13), x, axes(0, -4))
	wantElemErr(t, "out of range", elemNode("Unsqueeze", 13), x, axes(3))
	wantElemErr(t, "out of range", elemNode("Unsqueeze", 13), x, axes(-4))
	wantElemErr(t, "required before opset 13", elemNode("Unsqueeze", 11), x)
	wantElemErr(t, "at least 2 inputs", elemNode("Unsqueeze", 13), x)
	wantElemErrMode(t, "constant known at plan time", elemNode("Unsqueeze", 13), []bool{false, true}, x, axes(0))
}

func TestIdentityDropout(t *testing.T) {
	x := elSeq(2, 3)
	viewShape(t, elemNode("Identity", 13), []int{2, 3}, x)
	viewShape(t, elemNode("Identity", 16), []int{2}, elI64([]int{2}, 4, 5))
	viewShape(t, elemNode("Dropout", 7, elFloat("ratio", 0.3)), []int{2, 3}, x)
	viewShape(t, elemNode("Dropout", 13), []int{2, 3}, x, elF32([]int{}, 0.5))
	viewShape(t, elemNode("Dropout", 13), []int{2, 3}, x, elF32([]int{}, 0.5), elI64([]int{}, 0))
	viewShape(t, elemNode("Dropout", 12), []int{2, 3}, x, nil, elI64([]int{}, 0))

	// With a mask output: bool (as int64) ones from opset 10.
	n := elemNode("Dropout", 13)
	n.Outputs = []string{"y", "mask"}
	r, err := runElemOp(t, n, x)
	if err != nil {
		t.Fatal(err)
	}
	if r.step.View {
		t.Fatal("Dropout with a mask must not be a View")
	}
	elemCheckTensor(t, "Dropout y", x, r.out[0], 0)
	elemCheckTensor(t, "Dropout mask", elI64([]int{2, 3}, 1, 1, 1, 1, 1, 1), r.out[1], 0)
	// Before opset 10 the mask has the input's type.
	n = elemNode("Dropout", 7)
	n.Outputs = []string{"y", "mask"}
	r, err = runElemOp(t, n, x)
	if err != nil {
		t.Fatal(err)
	}
	elemCheckTensor(t, "Dropout-7 mask", elF32([]int{2, 3}, 1, 1, 1, 1, 1, 1), r.out[1], 0)

	wantElemErr(t, "training_mode is true", elemNode("Dropout", 13), x, elF32([]int{}, 0.5), elI64([]int{}, 1))
	// A training_mode not known at plan time is checked when run.
	wantElemErrMode(t, "training_mode is true", elemNode("Dropout", 13), []bool{false, false, true}, x, nil, elI64([]int{}, 1))
	r, err = runElemOpMode(t, elemNode("Dropout", 13), []bool{false, false, true}, x, nil, elI64([]int{}, 0))
	if err != nil {
		t.Fatal(err)
	}
	elemCheckTensor(t, "Dropout varying mode", x, r.out[0], 0)
	wantElemErr(t, "one input before opset 12", elemNode("Dropout", 10), x, elF32([]int{}, 0.5))
	wantElemErr(t, "training_mode is true", elemNode("Dropout", 13), x, nil, elI64([]int{}, 1))
	wantElemErrMode(t, "training_mode is true", elemNode("Dropout", 13), []bool{false, true, false}, x, elF32([]int{}, 0.1), elI64([]int{}, 1))

	// Training with ratio 0 is deterministic: the identity, mask all ones.
	viewShape(t, elemNode("Dropout", 13), []int{2, 3}, x, elF32([]int{}, 0), elI64([]int{}, 1))
	r, err = runElemOpMode(t, elemNode("Dropout", 13), []bool{false, true, true}, x, elF32([]int{}, 0), elI64([]int{}, 1))
	if err != nil {
		t.Fatal(err)
	}
	elemCheckTensor(t, "Dropout training ratio 0", x, r.out[0], 0)

	// A declared but unnamed mask still gets a Value; the step stays a view.
	n = elemNode("Dropout", 13)
	n.Outputs = []string{"y", ""}
	r, err = runElemOp(t, n, x)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.vals) != 2 || !r.step.View {
		t.Fatalf("Dropout with an unnamed mask: %d values, view %v", len(r.vals), r.step.View)
	}
}
