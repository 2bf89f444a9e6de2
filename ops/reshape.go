package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Ops whose output is input 0's data under another shape: Reshape,
// Flatten, Squeeze, Unsqueeze, Identity and Dropout (at inference). Their
// steps set View so the runtime may alias the buffer; Run still copies.

func init() {
	Register("Reshape", planWiseOp(buildReshape, keepsAxis0))
	Register("Flatten", imageWiseOp(buildFlatten, firstOutput, axisIs1))
	Register("Squeeze", buildSqueeze)
	Register("Unsqueeze", buildUnsqueeze)
	Register("Identity", imageWiseOp(buildIdentity, firstOutput))
	Register("Dropout", imageWiseOp(buildDropout))
}

// viewStep returns the step of an aliasing op: Run copies input 0 into
// output 0, which has the same element count.
func viewStep() Step {
	return Step{View: true, Run: func(env *kern.Env, in, out []*Tensor) error {
		if !checkRunTensors(in, 1) || !checkRunTensors(out, 1) ||
			in[0].DType != out[0].DType || in[0].Len() != out[0].Len() {
			return fmt.Errorf("tensors do not match the plan")
		}
		copyData(env, out[0], in[0])
		return nil
	}, Dev: &CopyDev{}}
}

// viewData checks the data input of an aliasing op.
func viewData(n *Node, in []*Value) (*Value, error) {
	if err := needInputs(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := needDType(n, x, "data", Float32, Int64); err != nil {
		return nil, err
	}
	return x, nil
}

// Reshape: opset 5+ takes the target shape as input 1, which must be
// constant at plan time; before opset 5 it is the shape attribute. A 0
// copies the input's dimension at the same index (unless allowzero=1,
// opset 14, where 0 is a real zero) and one -1 is inferred.
func buildReshape(n *Node) (Kernel, error) {
	allowZero, err := n.Int("allowzero", 0)
	if err != nil {
		return nil, err
	}
	if allowZero != 0 && allowZero != 1 {
		return nil, n.Errorf("allowzero must be 0 or 1, got %d", allowZero)
	}
	var attrShape []int64
	if n.Opset < 5 {
		if attrShape, err = n.Ints("shape", nil); err != nil {
			return nil, err
		}
		if !n.Has("shape") {
			return nil, n.Errorf("shape attribute is required before opset 5")
		}
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		x, err := viewData(n, in)
		if err != nil {
			return nil, Step{}, err
		}
		spec := attrShape
		if n.Opset >= 5 {
			if err := needInputs(n, in, 2); err != nil {
				return nil, Step{}, err
			}
			if spec, err = constInt64s(n, in[1], "shape"); err != nil {
				return nil, Step{}, err
			}
		}
		shape, err := reshapeTarget(n, x.Shape, spec, allowZero == 1)
		if err != nil {
			return nil, Step{}, err
		}
		return []Value{{DType: x.DType, Shape: shape}}, viewStep(), nil
	}), nil
}

// reshapeTarget resolves a Reshape shape specification against the input
// shape.
func reshapeTarget(n *Node, in []int, spec []int64, allowZero bool) ([]int, error) {
	total := NumElems(in)
	out := make([]int, len(spec))
	infer := -1
	known := 1
	hasZero := false
	for i, s := range spec {
		switch {
		case s == -1:
			if infer >= 0 {
				return nil, n.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case s == 0 && !allowZero:
			if i >= len(in) {
				return nil, n.Errorf("shape %v: 0 at index %d copies a dimension the input (rank %d) lacks", spec, i, len(in))
			}
			out[i] = in[i]
		case s < 0:
			return nil, n.Errorf("shape %v has invalid dimension %d", spec, s)
		default:
			if s == 0 {
				hasZero = true
			}
			if s > int64(total) && total > 0 {
				return nil, n.Errorf("cannot reshape %s (%d elements) to %v", ShapeString(in), total, spec)
			}
			out[i] = int(s)
		}
		known *= out[i]
	}
	if infer >= 0 {
		if hasZero {
			return nil, n.Errorf("shape %v has both 0 and -1 with allowzero=1", spec)
		}
		if known == 0 {
			return nil, n.Errorf("cannot infer the -1 in %v: the other dimensions have no elements", spec)
		}
		if total%known != 0 {
			return nil, n.Errorf("cannot reshape %s (%d elements) to %v", ShapeString(in), total, spec)
		}
		out[infer] = total / known
		known *= out[infer]
	}
	if known != total {
		return nil, n.Errorf("cannot reshape %s (%d elements) to %v (%s, %d elements)",
			ShapeString(in), total, spec, ShapeString(out), known)
	}
	return out, nil
}

// Flatten: output [prod(d[:axis]), prod(d[axis:])]; axis defaults to 1,
// lies in [0, r], and may be negative (counting back from r) from opset 11.
func buildFlatten(n *Node) (Kernel, error) {
	axis, err := n.Int("axis", 1)
	if err != nil {
		return nil, err
	}
	if axis < 0 && n.Opset < 11 {
		return nil, n.Errorf("negative axis %d needs opset 11", axis)
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		x, err := viewData(n, in)
		if err != nil {
			return nil, Step{}, err
		}
		r := len(x.Shape)
		a := axis
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || a > int64(r) {
			return nil, Step{}, n.Errorf("axis %d out of range for rank %d", axis, r)
		}
		shape := []int{NumElems(x.Shape[:a]), NumElems(x.Shape[a:])}
		return []Value{{DType: x.DType, Shape: shape}}, viewStep(), nil
	}), nil
}

// Squeeze removes dimensions of size 1: those listed in axes (the
// attribute before opset 13, the optional constant input 1 from 13), or
// all of them when no axes are given. Squeezing a dimension that is not 1
// is an error.
func buildSqueeze(n *Node) (Kernel, error) {
	attrAxes, err := n.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	if n.Opset >= 13 && n.Has("axes") {
		return nil, n.Errorf("axes is an input from opset 13, not an attribute")
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		x, err := viewData(n, in)
		if err != nil {
			return nil, Step{}, err
		}
		axes := attrAxes
		given := n.Has("axes")
		if n.Opset >= 13 {
			if a := optValue(in, 1); a != nil {
				if axes, err = constInt64s(n, a, "axes"); err != nil {
					return nil, Step{}, err
				}
				given = true
			}
		}
		r := len(x.Shape)
		drop := make([]bool, r)
		if given {
			for _, a := range axes {
				ax, err := axisIn(n, "axis", a, r)
				if err != nil {
					return nil, Step{}, err
				}
				if x.Shape[ax] != 1 {
					return nil, Step{}, n.Errorf("cannot squeeze axis %d of shape %s: size is not 1", a, ShapeString(x.Shape))
				}
				drop[ax] = true
			}
		} else {
			for i, d := range x.Shape {
				drop[i] = d == 1
			}
		}
		shape := make([]int, 0, r)
		for i, d := range x.Shape {
			if !drop[i] {
				shape = append(shape, d)
			}
		}
		return []Value{{DType: x.DType, Shape: shape}}, viewStep(), nil
	}), nil
}

// Unsqueeze inserts dimensions of size 1 at axes (the attribute before
// opset 13, the required constant input 1 from 13), which index the
// output, may be negative and may not repeat.
func buildUnsqueeze(n *Node) (Kernel, error) {
	attrAxes, err := n.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	if n.Opset < 13 && !n.Has("axes") {
		return nil, n.Errorf("axes attribute is required before opset 13")
	}
	if n.Opset >= 13 && n.Has("axes") {
		return nil, n.Errorf("axes is an input from opset 13, not an attribute")
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		x, err := viewData(n, in)
		if err != nil {
			return nil, Step{}, err
		}
		axes := attrAxes
		if n.Opset >= 13 {
			if err := needInputs(n, in, 2); err != nil {
				return nil, Step{}, err
			}
			if axes, err = constInt64s(n, in[1], "axes"); err != nil {
				return nil, Step{}, err
			}
		}
		r := len(x.Shape) + len(axes)
		norm, err := axesIn(n, "axis", axes, r)
		if err != nil {
			return nil, Step{}, err
		}
		ones := make([]bool, r)
		for _, a := range norm {
			ones[a] = true
		}
		shape := make([]int, r)
		j := 0
		for i := range shape {
			if ones[i] {
				shape[i] = 1
				continue
			}
			shape[i] = x.Shape[j]
			j++
		}
		return []Value{{DType: x.DType, Shape: shape}}, viewStep(), nil
	}), nil
}

// Identity passes its input through.
func buildIdentity(n *Node) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		x, err := viewData(n, in)
		if err != nil {
			return nil, Step{}, err
		}
		return []Value{{DType: x.DType, Shape: copyShape(x.Shape)}}, viewStep(), nil
	}), nil
}

// Dropout at inference is the identity: Y = X. From opset 12 the ratio and
// training_mode are inputs 1 and 2; a training_mode that is true is an
// error (at plan time when constant, else at run time) unless the ratio is
// 0, which makes training dropout the identity too. Earlier versions'
// ratio and is_test attributes are ignored. The optional mask output is all
// ones: bool (stored as int64) from opset 10, the input's type before.
// Prepare returns one Value per declared output (a declared but unnamed
// mask still gets one). With a named mask, or a training_mode not known at
// plan time, the step is not a view, since Run must fill the mask or
// check the mode.
func buildDropout(n *Node) (Kernel, error) {
	if len(n.Outputs) > 2 {
		return nil, n.Errorf("has %d outputs, at most 2 allowed", len(n.Outputs))
	}
	nOut := max(1, len(n.Outputs))
	withMask := nOut == 2 && n.Outputs[1] != ""
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		x, err := viewData(n, in)
		if err != nil {
			return nil, Step{}, err
		}
		if n.Opset < 12 && len(in) > 1 {
			return nil, Step{}, n.Errorf("takes one input before opset 12, got %d", len(in))
		}
		if len(in) > 3 {
			return nil, Step{}, n.Errorf("takes at most 3 inputs, got %d", len(in))
		}
		if r := optValue(in, 1); r != nil && (r.DType != Float32 || NumElems(r.Shape) != 1) {
			return nil, Step{}, n.Errorf("ratio must be a float32 scalar")
		}
		ratio, tm := optValue(in, 1), optValue(in, 2)
		// Training is only deterministic, and so only supported, with a
		// ratio of 0; decided now when both are constant, else in Run.
		decided := true
		if tm != nil {
			if NumElems(tm.Shape) != 1 {
				return nil, Step{}, n.Errorf("training_mode must be a scalar")
			}
			switch {
			case tm.Const == nil:
				decided = false
			case !dropoutTraining(tm.Const):
			case ratio == nil:
				return nil, Step{}, n.Errorf("training_mode is true with the default ratio 0.5; only inference is supported")
			case ratio.Const == nil:
				decided = false
			case ratio.Const.DType != Float32 || len(ratio.Const.F32) != 1 || ratio.Const.F32[0] != 0:
				return nil, Step{}, n.Errorf("training_mode is true with a non-zero ratio; only inference is supported")
			}
		}
		outs := []Value{{DType: x.DType, Shape: copyShape(x.Shape)}}
		if nOut == 2 {
			maskType := Int64
			if n.Opset < 10 {
				maskType = x.DType
			}
			outs = append(outs, Value{DType: maskType, Shape: copyShape(x.Shape)})
		}
		if !withMask && decided {
			return outs, viewStep(), nil
		}
		run := func(env *kern.Env, in, out []*Tensor) error {
			if !checkRunTensors(in, 1) || !checkRunTensors(out, 1) ||
				in[0].DType != out[0].DType || in[0].Len() != out[0].Len() {
				return fmt.Errorf("tensors do not match the plan")
			}
			if t := optTensor(in, 2); t != nil && dropoutTraining(t) {
				r := optTensor(in, 1)
				if r == nil || r.DType != Float32 || len(r.F32) != 1 || r.F32[0] != 0 {
					return fmt.Errorf("training_mode is true with a non-zero ratio; only inference is supported")
				}
			}
			copyData(env, out[0], in[0])
			if m := optTensor(out, 1); m != nil {
				// mask[i] = 1 (nothing is dropped)
				for i := range m.I64 {
					m.I64[i] = 1
				}
				for i := range m.F32 {
					m.F32[i] = 1
				}
			}
			return nil
		}
		return outs, Step{Run: run}, nil
	}), nil
}

// dropoutTraining reports whether a training_mode tensor holds true.
func dropoutTraining(t *Tensor) bool {
	switch t.DType {
	case Int64:
		return len(t.I64) > 0 && t.I64[0] != 0
	case Float32:
		return len(t.F32) > 0 && t.F32[0] != 0
	}
	return false
}
