package ops

import (
	"math"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// Test helpers for the element-wise and tensor-manipulation operators.

// elemNode builds a node of the default domain with the given attributes.
// Inputs are named in0, in1, ...; a nil input in a run becomes "".
func elemNode(op string, opset int, attrs ...*Attr) *Node {
	n := &Node{Name: "t_" + op, OpType: op, Opset: opset, Attrs: map[string]*Attr{}, Outputs: []string{"y"}}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

func elInt(name string, v int64) *Attr { return &Attr{Name: name, Type: AttrInt, I: v} }
func elInts(name string, v ...int64) *Attr {
	return &Attr{Name: name, Type: AttrInts, Ints: v}
}
func elFloat(name string, v float32) *Attr { return &Attr{Name: name, Type: AttrFloat, F: v} }
func elFloats(name string, v ...float32) *Attr {
	return &Attr{Name: name, Type: AttrFloats, Floats: v}
}
func elStr(name, v string) *Attr { return &Attr{Name: name, Type: AttrString, S: v} }
func elTensor(name string, t *Tensor) *Attr {
	return &Attr{Name: name, Type: AttrTensor, T: t}
}

// elF32 and elI64 build test tensors.
func elF32(shape []int, v ...float32) *Tensor { return NewF32(shape, v) }
func elI64(shape []int, v ...int64) *Tensor   { return NewI64(shape, v) }

// elSeq returns a float32 tensor holding 0, 1, 2, ... in row-major order.
func elSeq(shape ...int) *Tensor {
	t := NewF32(shape, nil)
	for i := range t.F32 {
		t.F32[i] = float32(i)
	}
	return t
}

// elemRun is the result of preparing and running a node.
type elemRun struct {
	vals []Value
	step Step
	out  []*Tensor
}

// runElemOpMode builds n, prepares it on the inputs (a nil tensor is an
// absent input; input i is marked Const unless varying[i]), allocates the
// outputs from the returned Values and runs the step serially. Outputs
// whose Value carries Const are also checked against the Run result.
func runElemOpMode(t *testing.T, n *Node, varying []bool, ins ...*Tensor) (*elemRun, error) {
	t.Helper()
	n.Inputs = make([]string, len(ins))
	vals := make([]*Value, len(ins))
	for i, x := range ins {
		if x == nil {
			continue
		}
		n.Inputs[i] = "in" + string(rune('0'+i))
		v := &Value{DType: x.DType, Shape: append([]int(nil), x.Shape...)}
		if i >= len(varying) || !varying[i] {
			v.Const = x
		}
		vals[i] = v
	}
	b := Lookup(n.OpType)
	if b == nil {
		t.Fatalf("%s not registered", n.OpType)
	}
	k, err := b(n)
	if err != nil {
		return nil, err
	}
	outV, step, err := k.Prepare(vals)
	if err != nil {
		return nil, err
	}
	if step.Run == nil {
		t.Fatalf("%s: Prepare returned no Run", n.OpType)
	}
	out := make([]*Tensor, len(outV))
	for i, v := range outV {
		o := &Tensor{DType: v.DType, Shape: append([]int(nil), v.Shape...)}
		// Fill with garbage so that missed elements show.
		if v.DType == Int64 {
			o.I64 = make([]int64, NumElems(v.Shape))
			for j := range o.I64 {
				o.I64[j] = -777
			}
		} else {
			o.F32 = make([]float32, NumElems(v.Shape))
			for j := range o.F32 {
				o.F32[j] = float32(math.NaN())
			}
		}
		out[i] = o
	}
	if err := step.Run(&kern.Env{Par: kern.Serial{}}, ins, out); err != nil {
		return &elemRun{vals: outV, step: step}, err
	}
	for i, v := range outV {
		if v.Const != nil {
			elemCheckTensor(t, n.OpType+" Const", v.Const, out[i], 0)
		}
	}
	return &elemRun{vals: outV, step: step, out: out}, nil
}

// runElemOp is runElemOpMode with every input constant.
func runElemOp(t *testing.T, n *Node, ins ...*Tensor) (*elemRun, error) {
	t.Helper()
	return runElemOpMode(t, n, nil, ins...)
}

// mustElem runs n and fails the test on error, returning output 0.
func mustElem(t *testing.T, n *Node, ins ...*Tensor) *Tensor {
	t.Helper()
	r, err := runElemOp(t, n, ins...)
	if err != nil {
		t.Fatalf("%s: %v", n.OpType, err)
	}
	return r.out[0]
}

// wantElemErr runs n and fails unless some stage reports an error
// containing sub.
func wantElemErr(t *testing.T, sub string, n *Node, ins ...*Tensor) {
	t.Helper()
	wantElemErrMode(t, sub, n, nil, ins...)
}

// wantElemErrMode is wantElemErr with some inputs not constant.
func wantElemErrMode(t *testing.T, sub string, n *Node, varying []bool, ins ...*Tensor) {
	t.Helper()
	_, err := runElemOpMode(t, n, varying, ins...)
	if err == nil {
		t.Fatalf("%s: want error containing %q, got none", n.OpType, sub)
	}
	if !strings.Contains(err.Error(), sub) {
		t.Fatalf("%s: error %q does not contain %q", n.OpType, err, sub)
	}
}

// elemCheckTensor compares got with want: type, shape, and values within
// tol (exact for int64; NaN matches NaN).
func elemCheckTensor(t *testing.T, what string, want, got *Tensor, tol float64) {
	t.Helper()
	if got.DType != want.DType {
		t.Fatalf("%s: dtype %s, want %s", what, got.DType, want.DType)
	}
	if !SameShape(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %s, want %s", what, ShapeString(got.Shape), ShapeString(want.Shape))
	}
	if got.Len() != want.Len() {
		t.Fatalf("%s: %d elements, want %d", what, got.Len(), want.Len())
	}
	if want.DType == Int64 {
		for i := range want.I64 {
			if got.I64[i] != want.I64[i] {
				t.Fatalf("%s: [%d] = %d, want %d (got %v)", what, i, got.I64[i], want.I64[i], got.I64)
			}
		}
		return
	}
	for i := range want.F32 {
		g, w := float64(got.F32[i]), float64(want.F32[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.IsInf(w, 0) && g == w {
			continue
		}
		if !(math.Abs(g-w) <= tol) {
			t.Fatalf("%s: [%d] = %v, want %v (got %v)", what, i, g, w, got.F32)
		}
	}
}

// checkElem runs n on the inputs and compares output 0 with want.
func checkElem(t *testing.T, want *Tensor, tol float64, n *Node, ins ...*Tensor) {
	t.Helper()
	got := mustElem(t, n, ins...)
	elemCheckTensor(t, n.OpType, want, got, tol)
}
