package ops

import (
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// TestDeviceCodes checks that the operator code a step's device
// description carries (kern.BinaryOp, PadMode, ReduceOp) is the operator
// the step computes, by the code's ONNX name, and that the rules and
// modes without a device kernel (PRelu, Mean, wrap, int64 reductions)
// describe no device step.
func TestDeviceCodes(t *testing.T) {
	f32 := func(s ...int) *Value { return &Value{DType: Float32, Shape: s} }
	i64 := func(v ...int64) *Value {
		return &Value{DType: Int64, Shape: []int{len(v)}, Const: NewI64([]int{len(v)}, v)}
	}
	prepare := func(n *Node, in ...*Value) any {
		t.Helper()
		for range in {
			n.Inputs = append(n.Inputs, "x")
		}
		k, err := LookupNode(n)(n)
		if err != nil {
			t.Fatal(err)
		}
		_, st, err := k.Prepare(in)
		if err != nil {
			t.Fatalf("%s: %v", n.OpType, err)
		}
		return st.Dev
	}
	// binary: the code's name is the operator's (Sum of two is an Add)
	for _, c := range []struct{ op, want string }{
		{"Add", "Add"}, {"Sub", "Sub"}, {"Mul", "Mul"}, {"Div", "Div"}, {"Pow", "Pow"},
		{"Max", "Max"}, {"Min", "Min"}, {"Sum", "Add"},
	} {
		d, ok := prepare(elemNode(c.op, 13), f32(2, 3), f32(3)).(*BinaryDev)
		if !ok || d.Op.String() != c.want || !d.Op.Valid() {
			t.Errorf("%s: device description %+v, want a BinaryDev of %s", c.op, d, c.want)
		}
	}
	for _, op := range []string{"PRelu", "Mean"} {
		if d := prepare(elemNode(op, 13), f32(2, 3), f32(3)); d != nil {
			t.Errorf("%s: device description %+v, want none", op, d)
		}
	}
	if d := prepare(elemNode("Max", 13), f32(2, 3), f32(3), f32(1)); d != nil {
		t.Errorf("Max of three: device description %+v, want none", d)
	}
	// reductions over a middle axis (not a global pool)
	for _, op := range []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"} {
		d, ok := prepare(elemNode(op, 18), f32(2, 5, 3), i64(1)).(*ReduceDev)
		if !ok || d.Op.String() != op || !d.Op.Valid() {
			t.Errorf("%s: device description %+v, want a ReduceDev of %s", op, d, op)
		}
		if op == "ReduceMean" {
			continue // float32 only
		}
		xi := &Value{DType: Int64, Shape: []int{2, 5, 3}}
		if d := prepare(elemNode(op, 18), xi, i64(1)); d != nil {
			t.Errorf("%s of int64: device description %+v, want none", op, d)
		}
	}
	// pad modes
	for _, mode := range []string{"constant", "reflect", "edge"} {
		d, ok := prepare(elemNode("Pad", 2, elStr("mode", mode), elInts("pads", 0, 1, 0, 2)), f32(3, 4)).(*PadDev)
		if !ok || d.Mode.String() != mode || !d.Mode.Valid() {
			t.Errorf("Pad %s: device description %+v, want a PadDev of that mode", mode, d)
		}
	}
	if d := prepare(elemNode("Pad", 19, elStr("mode", "wrap")), f32(3, 4), i64(0, 1, 0, 2)); d != nil {
		t.Errorf("Pad wrap: device description %+v, want none", d)
	}
	// the codes without a kernel name themselves as unknown
	for _, c := range []struct {
		code interface {
			Valid() bool
			String() string
		}
		want string
	}{{kern.BinaryPow + 1, "BinaryOp(7)"}, {kern.PadMode(-1), "PadMode(-1)"}, {kern.ReduceLogSumExp + 1, "ReduceOp(10)"}} {
		if c.code.Valid() || c.code.String() != c.want {
			t.Errorf("%s: Valid %v, String %q", c.want, c.code.Valid(), c.code.String())
		}
	}
}
