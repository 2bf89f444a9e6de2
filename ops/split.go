package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Split", buildSplit)
}

// buildSplit binds Split, on float32 and int64 data, in every form of
// opsets 1 to 18: the input is cut along axis (default 0; negative counts
// back from the rank, as the spec defines from opset 11 and bnrun reads
// before) into one part per declared output, of the lengths split gives,
// or of equal lengths when it is absent (then the axis must divide
// evenly). split is an attribute before opset 13, or in opset 1 the
// optional input 1 (of the data's type there) instead; from opset 13 it
// is the optional input 1. An input split must be a constant known at
// plan time (it fixes the outputs' shapes). The lengths are at least 0
// and sum to the axis. From opset 18 the attribute num_outputs may take
// split's place (never with it): it must equal the number of outputs, and
// the axis of length d is cut into parts of c = ceil(d/num_outputs), the
// last one d - c·(num_outputs-1) (smaller, possibly 0; a d that leaves it
// negative is an error), as the spec's shape inference and reference
// compute them. With neither, opset 18 cuts equally by the outputs as
// before (the reference implementation does; the spec asks for one of
// them). With the input viewed as [outer, d, inner], part i starting at
// offset s_i along the axis:
//
//	out_i[o, k, q] = in[o, s_i + k, q]
//
// An output left unnamed is not computed.
func buildSplit(n *Node) (Kernel, error) {
	axis, err := n.Int("axis", 0)
	if err != nil {
		return nil, err
	}
	attrSplit, err := n.Ints("split", nil)
	if err != nil {
		return nil, err
	}
	if n.Opset >= 13 && n.Has("split") {
		return nil, n.Errorf("split is an input from opset 13, not an attribute")
	}
	nOut := len(n.Outputs)
	if nOut == 0 {
		return nil, n.Errorf("has no outputs")
	}
	numOutputs, err := n.Int("num_outputs", 0)
	if err != nil {
		return nil, err
	}
	hasNum := n.Has("num_outputs")
	switch {
	case hasNum && n.Opset < 18:
		return nil, n.Errorf("attribute num_outputs needs opset 18, the node has %d", n.Opset)
	case hasNum && numOutputs < 1:
		return nil, n.Errorf("num_outputs %d must be at least 1", numOutputs)
	case hasNum && numOutputs != int64(nOut):
		return nil, n.Errorf("num_outputs %d differs from the node's %d outputs", numOutputs, nOut)
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		splitIn := optValue(in, 1)
		switch {
		case len(in) > 2:
			return nil, Step{}, n.Errorf("got %d inputs, want at most 2", len(in))
		case splitIn != nil && n.Opset >= 2 && n.Opset < 13:
			return nil, Step{}, n.Errorf("got 2 inputs, want 1 at opset %d (split is an attribute)", n.Opset)
		case splitIn != nil && n.Has("split"):
			return nil, Step{}, n.Errorf("split is given both as an attribute and as input 1")
		case splitIn != nil && hasNum:
			return nil, Step{}, n.Errorf("split input and num_outputs attribute are both given; the spec allows one")
		}
		x := in[0]
		if err := needDType(n, x, "input", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		ax, err := axisIn(n, "axis", axis, len(x.Shape))
		if err != nil {
			return nil, Step{}, err
		}
		d := x.Shape[ax]
		split := attrSplit
		if splitIn != nil {
			if n.Opset < 13 {
				split, err = constIntsOfAnyType(n, splitIn, "split")
			} else {
				split, err = constInt64s(n, splitIn, "split")
			}
			if err != nil {
				return nil, Step{}, err
			}
		}
		sizes := make([]int, nOut)
		switch {
		case split == nil && hasNum && d%nOut != 0:
			// sizes[i] = ceil(d/num_outputs), the last d - ceil(d/num_outputs)·(num_outputs-1)
			c := d/nOut + 1
			last := d - c*(nOut-1)
			if last < 0 {
				return nil, Step{}, n.Errorf("axis %d of shape %s (size %d) does not split into %d parts of %d with a smaller last one",
					axis, ShapeString(x.Shape), d, nOut, c)
			}
			for i := range sizes {
				sizes[i] = c
			}
			sizes[nOut-1] = last
		case split == nil:
			if d%nOut != 0 {
				return nil, Step{}, n.Errorf("axis %d of shape %s (size %d) does not split into %d equal parts",
					axis, ShapeString(x.Shape), d, nOut)
			}
			for i := range sizes {
				sizes[i] = d / nOut
			}
		default:
			if len(split) != nOut {
				return nil, Step{}, n.Errorf("split has %d values for %d outputs", len(split), nOut)
			}
			sum := int64(0)
			for i, s := range split {
				if s < 0 || s > int64(d) {
					return nil, Step{}, n.Errorf("split[%d] = %d is out of range for axis %d of size %d", i, s, axis, d)
				}
				sum += s
				sizes[i] = int(s)
			}
			if sum != int64(d) {
				return nil, Step{}, n.Errorf("split %v sums to %d, axis %d of shape %s has %d", split, sum, axis, ShapeString(x.Shape), d)
			}
		}
		g := &splitGeom{outer: NumElems(x.Shape[:ax]), d: d, inner: NumElems(x.Shape[ax+1:]), sizes: sizes, offs: make([]int, nOut)}
		outs := make([]Value, nOut)
		for i, s := range sizes {
			if i > 0 {
				g.offs[i] = g.offs[i-1] + sizes[i-1]
			}
			shape := copyShape(x.Shape)
			shape[ax] = s
			outs[i] = Value{DType: x.DType, Shape: shape}
		}
		inLen := NumElems(x.Shape)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || ins[0].DType != x.DType || ins[0].Len() != inLen || len(out) != nOut {
				return fmt.Errorf("tensors do not match the plan")
			}
			for i, o := range out {
				if o != nil && (o.DType != x.DType || o.Len() != g.outer*sizes[i]*g.inner || !checkRunTensors(out[i:], 1)) {
					return fmt.Errorf("output %d does not match the plan", i)
				}
			}
			for i, o := range out {
				if o == nil {
					continue
				}
				if x.DType == Int64 {
					splitCopy(env, g, i, o.I64, ins[0].I64)
				} else {
					splitCopy(env, g, i, o.F32, ins[0].F32)
				}
			}
			return nil
		}
		var dev *SplitDev
		if x.DType == Float32 {
			dev = g.dev(inLen)
		}
		return outs, Step{Run: run, Dev: devOrNil(dev)}, nil
	}), nil
}

// dev describes each part as a strided copy: outer blocks of its length
// times inner, a row of the input apart, from its offset.
func (g *splitGeom) dev(inLen int) *SplitDev {
	d := &SplitDev{Parts: make([]StridedDev, len(g.sizes))}
	for i, s := range g.sizes {
		d.Parts[i] = StridedDev{Dims: []int{g.outer, s * g.inner}, Strides: []int{g.d * g.inner, 1},
			Offset: g.offs[i] * g.inner, InLen: inLen}
	}
	return d
}

// constIntsOfAnyType returns the contents of a 1-D constant of integers
// given as int64 or, as opset 1 types some of them, as float32 holding
// whole numbers.
func constIntsOfAnyType(n *Node, v *Value, what string) ([]int64, error) {
	if v.DType != Float32 {
		return constInt64s(n, v, what)
	}
	c := v.Const
	if c == nil {
		return nil, n.Errorf("%s must be a constant known at plan time (it determines the output shape)", what)
	}
	if len(c.Shape) > 1 || len(c.F32) != NumElems(c.Shape) {
		return nil, n.Errorf("%s must be a 1-D tensor, got shape %s", what, ShapeString(c.Shape))
	}
	out := make([]int64, len(c.F32))
	for i, f := range c.F32 {
		if f != float32(math.Trunc(float64(f))) || math.Abs(float64(f)) > 1<<53 {
			return nil, n.Errorf("%s[%d] = %v is not a whole number", what, i, f)
		}
		out[i] = int64(f)
	}
	return out, nil
}

// splitGeom is a Split bound to an input shape: the input viewed as
// [outer, d, inner], and each part's length and offset along d.
type splitGeom struct {
	outer, d, inner int
	sizes, offs     []int
}

// splitCopy copies part i of src into dst.
func splitCopy[T kern.Numeric](env *kern.Env, g *splitGeom, i int, dst, src []T) {
	blk := g.sizes[i] * g.inner
	if blk == 0 || g.outer == 0 {
		return
	}
	forChunksOf(env, g.outer, max(1, elemGrain/blk), splitArgs[T]{dst, src, blk, g.d * g.inner, g.offs[i] * g.inner})
}

// splitArgs are splitCopy's operands: blocks of blk values, one per outer
// index, at off in rows of row values.
type splitArgs[T kern.Numeric] struct {
	dst, src      []T
	blk, row, off int
}

// Range copies the blocks of outer indices [lo, hi):
// dst[o·blk : (o+1)·blk] = src[o·row + off : o·row + off + blk]
func (a *splitArgs[T]) Range(lo, hi int) {
	for o := lo; o < hi; o++ {
		s := o*a.row + a.off
		copy(a.dst[o*a.blk:(o+1)*a.blk], a.src[s:s+a.blk])
	}
}
