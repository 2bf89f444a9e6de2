package ir

import (
	"errors"
	"io"
	"testing"
)

// TestNodeAttrs: each accessor returns its attribute, the default when it
// is absent, and an error naming the node, the attribute and both types
// when the attribute has another type.
func TestNodeAttrs(t *testing.T) {
	w := NewF32([]int{2}, []float32{1, 2})
	n := &Node{Name: "c", OpType: "Conv", Outputs: []string{"y"}, Inputs: []string{"x", ""}, Attrs: map[string]*Attr{
		"group":   {Name: "group", Type: AttrInt, I: 2},
		"alpha":   {Name: "alpha", Type: AttrFloat, F: 0.5},
		"mode":    {Name: "mode", Type: AttrString, S: "SAME_UPPER"},
		"pads":    {Name: "pads", Type: AttrInts, Ints: []int64{1, 1}},
		"scales":  {Name: "scales", Type: AttrFloats, Floats: []float32{2}},
		"value":   {Name: "value", Type: AttrTensor, T: w},
		"strides": {Name: "strides", Type: AttrFloats, Floats: []float32{1}},
	}}
	if g, err := n.Int("group", 1); g != 2 || err != nil {
		t.Errorf("Int(group) = %d, %v", g, err)
	}
	if g, err := n.Int("missing", 7); g != 7 || err != nil {
		t.Errorf("Int(missing) = %d, %v", g, err)
	}
	if f, err := n.Float("alpha", 1); f != 0.5 || err != nil {
		t.Errorf("Float(alpha) = %v, %v", f, err)
	}
	if s, err := n.String("mode", ""); s != "SAME_UPPER" || err != nil {
		t.Errorf("String(mode) = %q, %v", s, err)
	}
	if p, err := n.Ints("pads", nil); len(p) != 2 || err != nil {
		t.Errorf("Ints(pads) = %v, %v", p, err)
	}
	if s, err := n.Floats("scales", nil); len(s) != 1 || err != nil {
		t.Errorf("Floats(scales) = %v, %v", s, err)
	}
	if v, err := n.TensorAttr("value"); v != w || err != nil {
		t.Errorf("TensorAttr(value) = %v, %v", v, err)
	}
	if !n.Has("pads") || n.Has("missing") {
		t.Error("Has is wrong")
	}
	if n.Input(0) != "x" || n.Input(1) != "" || n.Input(5) != "" {
		t.Error("Input is wrong")
	}
	_, err := n.Ints("strides", []int64{1})
	if want := `node "c" (Conv): attribute "strides" has type FLOATS, want INTS`; err == nil || err.Error() != want {
		t.Errorf("Ints(strides) error = %v, want %s", err, want)
	}
}

// TestNodeErrorf: a node without a name is named by its first output, and
// %w keeps the wrapped error matchable.
func TestNodeErrorf(t *testing.T) {
	n := &Node{OpType: "Relu", Outputs: []string{"y"}}
	err := n.Errorf("reading: %w", io.EOF)
	if want := `node "->y" (Relu): reading: EOF`; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if !errors.Is(err, io.EOF) {
		t.Error("Errorf does not wrap its %w argument")
	}
	if q := (&Node{OpType: "FusedConv", Domain: "bnrun"}).QualifiedType(); q != "bnrun.FusedConv" {
		t.Errorf("QualifiedType = %q", q)
	}
	if q := (&Node{OpType: "Conv", Domain: "ai.onnx"}).QualifiedType(); q != "Conv" {
		t.Errorf("QualifiedType = %q", q)
	}
}

// TestTensor: constructors copy the shape and size the data, Clone is
// deep, Ints rejects float tensors, and the names print as ONNX's.
func TestTensor(t *testing.T) {
	shape := []int{2, 3}
	x := NewF32(shape, nil)
	shape[0] = 9
	if !SameShape(x.Shape, []int{2, 3}) || x.Len() != 6 || NumElems(nil) != 1 {
		t.Fatalf("NewF32: shape %v len %d", x.Shape, x.Len())
	}
	c := x.Clone()
	c.F32[0], c.Shape[0] = 1, 4
	if x.F32[0] != 0 || x.Shape[0] != 2 {
		t.Error("Clone shares memory")
	}
	if _, err := x.Ints(); err == nil {
		t.Error("Ints of a float32 tensor: no error")
	}
	if v, err := NewI64([]int{2}, []int64{3, -1}).Ints(); err != nil || len(v) != 2 || v[1] != -1 {
		t.Errorf("Ints = %v, %v", v, err)
	}
	if s := ShapeString([]int{1, 3, 224}); s != "[1,3,224]" {
		t.Errorf("ShapeString = %s", s)
	}
	for d, want := range map[DType]string{Float32: "float32", Int64: "int64", Undefined: "undefined", 8: "string", 99: "dtype(99)"} {
		if d.String() != want {
			t.Errorf("DType(%d) = %s, want %s", uint8(d), d, want)
		}
	}
	if AttrInts.String() != "INTS" || AttrType(42).String() != "attrtype(42)" {
		t.Error("AttrType.String is wrong")
	}
}

// TestLimitErrorf: the message is the formatted text alone, and the
// error matches ErrMemoryLimit, also when wrapped.
func TestLimitErrorf(t *testing.T) {
	err := LimitErrorf("tensor %q: %d bytes", "w", 12)
	if err.Error() != `tensor "w": 12 bytes` {
		t.Errorf("message %q", err)
	}
	if !errors.Is(err, ErrMemoryLimit) || !errors.Is((&Node{OpType: "Conv"}).Errorf("%w", err), ErrMemoryLimit) {
		t.Error("does not match ErrMemoryLimit")
	}
	if errors.Is(errors.New("memory limit exceeded"), ErrMemoryLimit) {
		t.Error("another error with the same text matches ErrMemoryLimit")
	}
}
