package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Constant, ConstantOfShape and Shape: ops whose outputs are known at plan
// time.

func init() {
	Register("Constant", buildConstant)
	Register("ConstantOfShape", buildConstantOfShape)
	Register("Shape", buildShape)
}

// constStep returns a step whose Run copies t into output 0.
func constStep(t *Tensor) Step {
	return Step{Run: func(env *kern.Env, _, out []*Tensor) error {
		if !checkRunTensors(out, 1) || out[0].DType != t.DType || out[0].Len() != t.Len() {
			return fmt.Errorf("output does not match the plan")
		}
		copyData(env, out[0], t)
		return nil
	}}
}

// Constant produces the tensor held in exactly one of its attributes:
// value (a tensor), or from opset 12 value_float, value_floats, value_int
// or value_ints. String and sparse values are not supported.
func buildConstant(n *Node) (Kernel, error) {
	for _, name := range []string{"value_string", "value_strings", "sparse_value"} {
		if n.Has(name) {
			return nil, n.Errorf("attribute %s is not supported (only float32 and int64 constants)", name)
		}
	}
	var set []string
	for _, name := range []string{"value", "value_float", "value_floats", "value_int", "value_ints"} {
		if n.Has(name) {
			set = append(set, name)
		}
	}
	if len(set) != 1 {
		return nil, n.Errorf("needs exactly one value attribute, got %d %v", len(set), set)
	}
	if set[0] != "value" && n.Opset < 12 {
		return nil, n.Errorf("attribute %s needs opset 12", set[0])
	}
	var t *Tensor
	switch set[0] {
	case "value":
		v, err := n.TensorAttr("value")
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, n.Errorf("value attribute holds no tensor")
		}
		if err := checkTensor(n, v, "value"); err != nil {
			return nil, err
		}
		t = v.Clone()
	case "value_float":
		f, err := n.Float("value_float", 0)
		if err != nil {
			return nil, err
		}
		t = NewF32([]int{}, []float32{f})
	case "value_floats":
		fs, err := n.Floats("value_floats", nil)
		if err != nil {
			return nil, err
		}
		t = NewF32([]int{len(fs)}, append([]float32{}, fs...))
	case "value_int":
		i, err := n.Int("value_int", 0)
		if err != nil {
			return nil, err
		}
		t = NewI64([]int{}, []int64{i})
	case "value_ints":
		is, err := n.Ints("value_ints", nil)
		if err != nil {
			return nil, err
		}
		t = NewI64([]int{len(is)}, append([]int64{}, is...))
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) != 0 {
			return nil, Step{}, n.Errorf("takes no inputs, got %d", len(in))
		}
		return []Value{{DType: t.DType, Shape: copyShape(t.Shape), Const: t}}, constStep(t), nil
	}), nil
}

// checkTensor checks that an attribute tensor has a supported type, a
// valid shape and as many elements as its shape says.
func checkTensor(n *Node, t *Tensor, what string) error {
	if t.DType != Float32 && t.DType != Int64 {
		return n.Errorf("%s tensor has unsupported type %s", what, t.DType)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return n.Errorf("%s tensor has negative dimension in %s", what, ShapeString(t.Shape))
		}
	}
	if t.Len() != NumElems(t.Shape) {
		return n.Errorf("%s tensor holds %d elements, shape %s wants %d", what, t.Len(), ShapeString(t.Shape), NumElems(t.Shape))
	}
	return nil
}

// ConstantOfShape (opset 9+) produces a tensor of the shape given by its
// constant int64 input, every element the single value of the value
// attribute (default float32 0); the output has that value's type.
func buildConstantOfShape(n *Node) (Kernel, error) {
	fill := NewF32([]int{1}, []float32{0})
	v, err := n.TensorAttr("value")
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := checkTensor(n, v, "value"); err != nil {
			return nil, err
		}
		if v.Len() != 1 {
			return nil, n.Errorf("value must hold one element, got %d", v.Len())
		}
		fill = v
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		dims, err := constInt64s(n, in[0], "input shape")
		if err != nil {
			return nil, Step{}, err
		}
		shape := make([]int, len(dims))
		for i, d := range dims {
			if d < 0 {
				return nil, Step{}, n.Errorf("shape %v has a negative dimension", dims)
			}
			shape[i] = int(d)
		}
		run := func(env *kern.Env, _, out []*Tensor) error {
			if !checkRunTensors(out, 1) || out[0].DType != fill.DType || out[0].Len() != NumElems(shape) {
				return fmt.Errorf("output does not match the plan")
			}
			y := out[0]
			if y.DType == Int64 {
				c := fill.I64[0]
				// y[i] = value
				for i := range y.I64 {
					y.I64[i] = c
				}
				return nil
			}
			c := fill.F32[0]
			// y[i] = value
			for i := range y.F32 {
				y.F32[i] = c
			}
			return nil
		}
		return []Value{{DType: fill.DType, Shape: shape}}, Step{Run: run}, nil
	}), nil
}

// Shape returns the input's dimensions as a 1-D int64 tensor, known at
// plan time. From opset 15 the start and end attributes select a slice of
// them: negative values count back from the rank, and both are clamped to
// [0, rank]; start >= end gives an empty result.
func buildShape(n *Node) (Kernel, error) {
	start, err := n.Int("start", 0)
	if err != nil {
		return nil, err
	}
	end, err := n.Int("end", 0)
	if err != nil {
		return nil, err
	}
	hasEnd := n.Has("end")
	if n.Opset < 15 && (n.Has("start") || hasEnd) {
		return nil, n.Errorf("start and end attributes need opset 15")
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		r := int64(len(in[0].Shape))
		clamp := func(a int64) int64 {
			if a < 0 {
				a += r
			}
			return min(max(a, 0), r)
		}
		lo, hi := clamp(start), r
		if hasEnd {
			hi = clamp(end)
		}
		dims := []int64{}
		for i := lo; i < hi; i++ {
			dims = append(dims, int64(in[0].Shape[i]))
		}
		t := NewI64([]int{len(dims)}, dims)
		return []Value{{DType: Int64, Shape: []int{len(dims)}, Const: t}}, constStep(t), nil
	}), nil
}
