package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

// Expand and Tile: copies of the input repeated into a larger output,
// through one broadcast copy (expandCopy).

func init() {
	Register("Expand", buildExpand)
	Register("Tile", buildTile)
}

// maxCopyElems bounds the outputs of Expand and Tile, whose shapes come
// from constants: 2^31 - 1 elements, as Resize's.
const maxCopyElems = math.MaxInt32

// buildExpand binds Expand (opsets 8 and 13), on float32 and int64 data:
// the input broadcast with the 1-D int64 shape input, which must be a
// constant known at plan time, by numpy's rule in both directions (the
// shorter shape padded with leading 1s; per axis equal sizes, or one of
// them 1 and the other taken), so that the output may keep an input size
// where shape says 1 and may have the input's rank when shape is
// shorter:
//
//	out[i_0, ..., i_{r-1}] = in[j_0, ...],  j_a = 0 where the input's size is 1, else i_a
func buildExpand(n *Node) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 2); err != nil {
			return nil, Step{}, err
		}
		if len(in) != 2 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2", len(in))
		}
		x := in[0]
		if err := needDType(n, x, "input", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		spec, err := constInt64s(n, in[1], "shape")
		if err != nil {
			return nil, Step{}, err
		}
		want := make([]int, len(spec))
		for i, s := range spec {
			if s < 0 || s > maxCopyElems {
				return nil, Step{}, n.Errorf("shape %v: dimension %d is out of range", spec, s)
			}
			want[i] = int(s)
		}
		out, ok := bcastShape(x.Shape, want)
		if !ok {
			return nil, Step{}, n.Errorf("cannot expand shape %s to %v: sizes must match or one be 1", ShapeString(x.Shape), spec)
		}
		return expandPlan(n, x, out, x.Shape, out)
	}), nil
}

// buildTile binds Tile, on float32 and int64 data: from opset 6 the 1-D
// int64 input repeats (one count per axis, at least 0), in opset 1 the
// scalar inputs tiles and axis (of the data's type there, or int64),
// which repeat the input along that one axis. They must be constants known
// at plan time. The output's size on axis a is d_a·r_a and
//
//	out[i_0, ..., i_{r-1}] = in[i_0 mod d_0, ..., i_{r-1} mod d_{r-1}]
//
// computed as the input, viewed as [1, d_0, 1, d_1, ...], expanded to
// [r_0, d_0, r_1, d_1, ...].
func buildTile(n *Node) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		want := 2
		if n.Opset < 6 {
			want = 3
		}
		if err := needInputs(n, in, want); err != nil {
			return nil, Step{}, err
		}
		if len(in) != want {
			return nil, Step{}, n.Errorf("got %d inputs, want %d at opset %d", len(in), want, n.Opset)
		}
		x := in[0]
		if err := needDType(n, x, "input", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		r := len(x.Shape)
		var reps []int64
		if n.Opset < 6 {
			tiles, err := constScalarInt(n, in[1], "tiles")
			if err != nil {
				return nil, Step{}, err
			}
			axis, err := constScalarInt(n, in[2], "axis")
			if err != nil {
				return nil, Step{}, err
			}
			ax, err := axisIn(n, "axis", axis, r)
			if err != nil {
				return nil, Step{}, err
			}
			reps = make([]int64, r)
			for a := range reps {
				reps[a] = 1
			}
			reps[ax] = tiles
		} else {
			var err error
			if reps, err = constInt64s(n, in[1], "repeats"); err != nil {
				return nil, Step{}, err
			}
			if len(reps) != r {
				return nil, Step{}, n.Errorf("repeats has %d values for input of rank %d", len(reps), r)
			}
		}
		out := make([]int, r)
		view, viewIn := make([]int, 2*r), make([]int, 2*r)
		for a, rep := range reps {
			if rep < 0 || rep > maxCopyElems {
				return nil, Step{}, n.Errorf("repeats %v: count %d is out of range", reps, rep)
			}
			d := x.Shape[a]
			if d > 0 && int(rep) > maxCopyElems/d {
				return nil, Step{}, n.Errorf("the output of repeating %s %v times is too large", ShapeString(x.Shape), reps)
			}
			out[a] = d * int(rep)
			view[2*a], view[2*a+1] = int(rep), d
			viewIn[2*a], viewIn[2*a+1] = 1, d
		}
		return expandPlan(n, x, out, viewIn, view)
	}), nil
}

// constScalarInt returns the value of a one-element integer constant
// (int64, or float32 holding a whole number).
func constScalarInt(n *Node, v *Value, what string) (int64, error) {
	if NumElems(v.Shape) != 1 || len(v.Shape) > 1 {
		return 0, n.Errorf("%s must be a scalar, got shape %s", what, ShapeString(v.Shape))
	}
	vals, err := constIntsOfAnyType(n, &Value{DType: v.DType, Shape: []int{1}, Const: v.Const}, what)
	if err != nil {
		return 0, err
	}
	return vals[0], nil
}

// expandPlan returns the output and the step of a copy of x (viewed as
// viewIn) broadcast to view, which is laid out as the output shape out.
func expandPlan(n *Node, x *Value, out, viewIn, view []int) ([]Value, Step, error) {
	total := 1
	for _, d := range out {
		if d > 0 && total > maxCopyElems/d {
			return nil, Step{}, n.Errorf("the output %s is too large", ShapeString(out))
		}
		total *= d
	}
	p := planBcast(view, viewIn, view)
	inLen := NumElems(x.Shape)
	run := func(env *kern.Env, ins, outs []*Tensor) error {
		if !checkRunTensors(ins, 1) || !checkRunTensors(outs, 1) || ins[0].DType != x.DType ||
			outs[0].DType != x.DType || ins[0].Len() != inLen || outs[0].Len() != total {
			return fmt.Errorf("tensors do not match the plan")
		}
		if x.DType == Int64 {
			expandCopy(env, &p, outs[0].I64, ins[0].I64)
		} else {
			expandCopy(env, &p, outs[0].F32, ins[0].F32)
		}
		return nil
	}
	return []Value{{DType: x.DType, Shape: out}}, Step{Run: run}, nil
}

// expandCopy fills dst from src over the loop nest p (src's strides in
// p.st[0], 0 where it is broadcast; p.st[1] unused), splitting the flat output
// range across workers.
func expandCopy[T kern.Numeric](env *kern.Env, p *bcastPlan, dst, src []T) {
	forChunksOf(env, len(dst), elemGrain, expandArgs[T]{p, dst, src})
}

// expandArgs are expandCopy's operands.
type expandArgs[T kern.Numeric] struct {
	p        *bcastPlan
	dst, src []T
}

// Range fills the flat output range [lo, hi): row by row of the innermost
// dimension, a copy where the source steps through it, else the one
// source value repeated:
//
//	dst[row, j] = src[o + j·s],  o = Σ_a coord_a·st[0]_a over the outer dimensions, s = 0 or 1
func (a *expandArgs[T]) Range(lo, hi int) {
	p, dst, src := a.p, a.dst, a.src
	k := len(p.dims)
	inner, s := p.dims[k-1], p.st[0][k-1]
	outer := p.dims[:k-1]
	var cb [maxRank]int
	coord := coordBuf(cb[:], len(outer))
	unravel(lo/inner, outer, coord)
	o := 0
	for d, c := range coord {
		o += c * p.st[0][d]
	}
	col := lo % inner
	for pos := lo; pos < hi; {
		cnt := min(inner-col, hi-pos)
		row := dst[pos : pos+cnt]
		if s == 1 {
			copy(row, src[o+col:o+col+cnt])
		} else {
			v := src[o]
			for j := range row {
				row[j] = v
			}
		}
		pos += cnt
		col = 0
		nextCoord(coord, outer, p.st[0], &o) // the next row
	}
}
