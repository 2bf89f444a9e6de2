package ops

import "testing"

// constOut prepares a node without inputs and returns its Const output,
// checking that Run reproduces it.
func constOut(t *testing.T, n *Node) *Tensor {
	t.Helper()
	r, err := runElemOp(t, n)
	if err != nil {
		t.Fatalf("%s: %v", n.OpType, err)
	}
	if r.vals[0].Const == nil {
		t.Fatalf("%s: output is not Const", n.OpType)
	}
	return r.vals[0].Const
}

func TestConstantForms(t *testing.T) {
	v := elF32([]int{2, 2}, 1, 2, 3, 4)
	elemCheckTensor(t, "value", v, constOut(t, elemNode("Constant", 9, elTensor("value", v))), 0)
	iv := elI64([]int{}, 42)
	elemCheckTensor(t, "value int", iv, constOut(t, elemNode("Constant", 13, elTensor("value", iv))), 0)
	elemCheckTensor(t, "value_float", elF32([]int{}, 1.5), constOut(t, elemNode("Constant", 12, elFloat("value_float", 1.5))), 0)
	elemCheckTensor(t, "value_floats", elF32([]int{3}, 1, 2, 3), constOut(t, elemNode("Constant", 12, elFloats("value_floats", 1, 2, 3))), 0)
	elemCheckTensor(t, "value_int", elI64([]int{}, -3), constOut(t, elemNode("Constant", 13, elInt("value_int", -3))), 0)
	elemCheckTensor(t, "value_ints", elI64([]int{2}, 5, 6), constOut(t, elemNode("Constant", 13, elInts("value_ints", 5, 6))), 0)
	// The output must not alias the attribute.
	c := constOut(t, elemNode("Constant", 13, elTensor("value", v)))
	c.F32[0] = 99
	if v.F32[0] != 1 {
		t.Fatal("Constant output aliases its attribute")
	}

	wantElemErr(t, "not supported", elemNode("Constant", 13, &Attr{Name: "value_string", Type: AttrString, S: "x"}))
	wantElemErr(t, "not supported", elemNode("Constant", 13, &Attr{Name: "value_strings", Type: AttrStrings, Strings: []string{"x"}}))
	wantElemErr(t, "not supported", elemNode("Constant", 13, elTensor("sparse_value", v)))
	wantElemErr(t, "exactly one", elemNode("Constant", 13))
	wantElemErr(t, "exactly one", elemNode("Constant", 13, elTensor("value", v), elInt("value_int", 1)))
	wantElemErr(t, "needs opset 12", elemNode("Constant", 11, elInt("value_int", 1)))
	wantElemErr(t, "holds 3 elements", elemNode("Constant", 13, elTensor("value", elF32([]int{2, 2}, 1, 2, 3))))
	wantElemErr(t, "unsupported type", elemNode("Constant", 13, elTensor("value", &Tensor{DType: 9, Shape: []int{}})))
	wantElemErr(t, "holds no tensor", elemNode("Constant", 13, elTensor("value", nil)))
}

func TestConstantOfShape(t *testing.T) {
	checkElem(t, elF32([]int{2, 3}, 0, 0, 0, 0, 0, 0), 0, elemNode("ConstantOfShape", 9), elI64([]int{2}, 2, 3))
	checkElem(t, elI64([]int{3}, 7, 7, 7), 0,
		elemNode("ConstantOfShape", 9, elTensor("value", elI64([]int{1}, 7))), elI64([]int{1}, 3))
	checkElem(t, elF32([]int{1, 2}, 2.5, 2.5), 0,
		elemNode("ConstantOfShape", 9, elTensor("value", elF32([]int{1}, 2.5))), elI64([]int{2}, 1, 2))
	// An empty shape gives a scalar; a zero dimension an empty tensor.
	checkElem(t, elF32([]int{}, 0), 0, elemNode("ConstantOfShape", 9), elI64([]int{0}))
	checkElem(t, elF32([]int{2, 0}), 0, elemNode("ConstantOfShape", 9), elI64([]int{2}, 2, 0))

	wantElemErr(t, "negative dimension", elemNode("ConstantOfShape", 9), elI64([]int{2}, 2, -1))
	wantElemErr(t, "one element", elemNode("ConstantOfShape", 9, elTensor("value", elF32([]int{2}, 1, 2))), elI64([]int{1}, 3))
	wantElemErr(t, "want int64", elemNode("ConstantOfShape", 9), elF32([]int{1}, 3))
	wantElemErrMode(t, "constant known at plan time", elemNode("ConstantOfShape", 9), []bool{true}, elI64([]int{1}, 3))
}

func TestShapeOp(t *testing.T) {
	x := elSeq(2, 3, 4)
	shapeOf := func(n *Node, in *Tensor) *Tensor {
		t.Helper()
		r, err := runElemOpMode(t, n, []bool{true}, in)
		if err != nil {
			t.Fatalf("Shape: %v", err)
		}
		if r.vals[0].Const == nil {
			t.Fatal("Shape output is not Const")
		}
		return r.vals[0].Const
	}
	v := func(d ...int64) *Tensor { return elI64([]int{len(d)}, d...) }
	elemCheckTensor(t, "Shape", v(2, 3, 4), shapeOf(elemNode("Shape", 13), x), 0)
	elemCheckTensor(t, "Shape scalar", v(), shapeOf(elemNode("Shape", 13), elF32([]int{}, 1)), 0)
	elemCheckTensor(t, "Shape int64", v(2), shapeOf(elemNode("Shape", 13), elI64([]int{2}, 1, 2)), 0)
	elemCheckTensor(t, "Shape start=-1", v(4), shapeOf(elemNode("Shape", 15, elInt("start", -1)), x), 0)
	elemCheckTensor(t, "Shape end=-1", v(2, 3), shapeOf(elemNode("Shape", 15, elInt("end", -1)), x), 0)
	elemCheckTensor(t, "Shape 1:2", v(3), shapeOf(elemNode("Shape", 15, elInt("start", 1), elInt("end", 2)), x), 0)
	elemCheckTensor(t, "Shape clamp", v(2, 3, 4), shapeOf(elemNode("Shape", 15, elInt("start", -10), elInt("end", 10)), x), 0)
	elemCheckTensor(t, "Shape empty", v(), shapeOf(elemNode("Shape", 15, elInt("start", 2), elInt("end", 1)), x), 0)
	wantElemErr(t, "need opset 15", elemNode("Shape", 13, elInt("start", 1)), x)
}
