package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Slice", planWiseOp(buildSlice, sliceKeeps0))
}

// buildSlice binds Slice, on float32 and int64 data: opset 1 with the
// attributes starts, ends and axes, opsets 10 to 13 with the inputs
// starts, ends and the optional axes and steps, which must be constants
// known at plan time (they fix the output's shape; shapes computed from
// the input's shape are). For each named axis of size d and its step
// s ≠ 0 (1 when absent):
//
//	start += d if start < 0, and likewise end
//	s > 0: start and end clamped to [0, d]
//	s < 0: start clamped to [0, d-1], end to [-1, d-1]
//	size = max(0, ceil((end - start) / s))
//
// and output index i along the axis reads input index start + i·s. Axes
// not named are taken whole; huge starts and ends (INT64_MAX for "to the
// end", as exporters write) clamp as any other value.
func buildSlice(n *Node) (Kernel, error) {
	attrs, err := sliceAttrs(n)
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		want := 1
		if n.Opset >= 10 {
			want = 3
		}
		if err := needInputs(n, in, want); err != nil {
			return nil, Step{}, err
		}
		if n.Opset < 10 && len(in) > 1 {
			return nil, Step{}, n.Errorf("got %d inputs, want 1 before opset 10 (starts, ends and axes are attributes)", len(in))
		}
		if len(in) > 5 {
			return nil, Step{}, n.Errorf("got %d inputs, want at most 5", len(in))
		}
		data := in[0]
		if err := needDType(n, data, "data", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		a, err := sliceArgs(n, attrs, in)
		if err != nil {
			return nil, Step{}, err
		}
		g, err := planSlice(n, data.Shape, a[0], a[1], a[2], a[3])
		if err != nil {
			return nil, Step{}, err
		}
		inLen, outLen := NumElems(data.Shape), NumElems(g.out)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins[:1], 1) || !checkRunTensors(out, 1) ||
				ins[0].Len() != inLen || out[0].Len() != outLen || ins[0].DType != out[0].DType {
				return fmt.Errorf("tensors do not match the plan")
			}
			if out[0].DType == Int64 {
				sliceCopy(g, out[0].I64, ins[0].I64)
			} else {
				sliceCopy(g, out[0].F32, ins[0].F32)
			}
			return nil
		}
		var dev *StridedDev
		if data.DType == Float32 {
			dev = g.dev()
		}
		return []Value{{DType: data.DType, Shape: g.out}}, Step{Run: run, Dev: devOrNil(dev)}, nil
	}), nil
}

// sliceGeom is a Slice bound to an input shape: the output's shape, each
// axis's first index and step, and the copy's structure (see planSlice).
type sliceGeom struct {
	in, out     []int
	start, step []int
	stride      []int // the input's strides
	// The copy iterates over the output indices of axes [0, iter) and
	// copies run contiguous values for each, from base plus the iterated
	// axes' offsets.
	iter, run, base int
}

// dev describes the slice as a strided copy: each axis steps through the
// input by its stride times its step, from the first indexes' offset.
func (g *sliceGeom) dev() *StridedDev {
	d := &StridedDev{Dims: g.out, Strides: make([]int, len(g.in)), InLen: NumElems(g.in)}
	for a := range g.in {
		d.Strides[a] = g.step[a] * g.stride[a]
		d.Offset += g.start[a] * g.stride[a]
	}
	return d
}

// planSlice checks a Slice's parameters against the input shape and
// computes its geometry.
func planSlice(n *Node, shape []int, starts, ends, axesArg, steps []int64) (*sliceGeom, error) {
	r := len(shape)
	if len(starts) != len(ends) {
		return nil, n.Errorf("starts has %d values and ends %d", len(starts), len(ends))
	}
	axes := make([]int, len(starts))
	if axesArg != nil {
		if len(axesArg) != len(starts) {
			return nil, n.Errorf("axes has %d values, starts %d", len(axesArg), len(starts))
		}
		var err error
		if axes, err = axesIn(n, "axes", axesArg, r); err != nil {
			return nil, err
		}
	} else {
		if len(starts) > r {
			return nil, n.Errorf("%d starts for data of rank %d", len(starts), r)
		}
		for i := range axes {
			axes[i] = i
		}
	}
	if steps != nil && len(steps) != len(starts) {
		return nil, n.Errorf("steps has %d values, starts %d", len(steps), len(starts))
	}
	g := &sliceGeom{in: copyShape(shape), out: copyShape(shape), start: make([]int, r), step: make([]int, r),
		stride: stridesOf(shape)}
	for a := range r {
		g.step[a] = 1
	}
	for i, a := range axes {
		d := int64(shape[a])
		s := int64(1)
		if steps != nil {
			s = steps[i]
		}
		if s == 0 || s == math.MinInt64 {
			return nil, n.Errorf("steps[%d] is %d", i, s)
		}
		// clamp(v, lo, hi) after adding d to a negative v; the sum cannot
		// overflow, as v < 0 and d ≥ 0.
		clamp := func(v, lo, hi int64) int64 {
			if v < 0 {
				v += d
			}
			return min(max(v, lo), hi)
		}
		var b, e, size int64
		if s > 0 {
			b, e = clamp(starts[i], 0, d), clamp(ends[i], 0, d)
			if e > b {
				size = (e-b-1)/s + 1
			}
		} else {
			b, e = clamp(starts[i], 0, d-1), clamp(ends[i], -1, d-1)
			if b > e {
				size = (b-e-1)/-s + 1
			}
		}
		g.start[a], g.step[a], g.out[a] = int(b), int(s), int(size)
	}
	// Axes [k, r) taken whole are copied with the axis before them.
	k := r
	for k > 0 && g.start[k-1] == 0 && g.step[k-1] == 1 && g.out[k-1] == g.in[k-1] {
		k--
	}
	switch {
	case k == 0:
		g.iter, g.run = 0, NumElems(shape)
	case g.step[k-1] == 1:
		g.iter, g.run, g.base = k-1, g.out[k-1]*g.stride[k-1], g.start[k-1]*g.stride[k-1]
	default:
		g.iter, g.run = k, g.stride[k-1]
	}
	return g, nil
}

// sliceCopy copies the slice g describes from src to dst: for each output
// index (i_0, ..., i_{iter-1}) of the iterated axes, in order,
//
//	dst[next run values] = src[o : o+run],  o = base + Σ_a (start_a + i_a·step_a)·stride_a
func sliceCopy[T kern.Numeric](g *sliceGeom, dst, src []T) {
	if NumElems(g.out) == 0 {
		return
	}
	var buf [maxRank]int
	idx := coordBuf(buf[:], g.iter)
	for d := 0; d < len(dst); d += g.run {
		o := g.base
		for a, i := range idx {
			o += (g.start[a] + i*g.step[a]) * g.stride[a]
		}
		copy(dst[d:d+g.run], src[o:o+g.run])
		// the next index, the last axis fastest
		for a := g.iter - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < g.out[a] {
				break
			}
			idx[a] = 0
		}
	}
}

// sliceKeeps0 holds for a Slice that takes the whole of axis 0 (its
// starts, ends, axes and steps constants of the plan) and the same of the
// other axes in the plan of a batch and in that of one image.
func sliceKeeps0(n *Node, in []*Value, _ []int, one []*Value, _ []int) bool {
	g, ok := sliceAt(n, in)
	g1, ok1 := sliceAt(n, one)
	return ok && ok1 && len(g.in) > 0 && len(g1.in) == len(g.in) &&
		g.start[0] == 0 && g.step[0] == 1 && g.out[0] == g.in[0] && g1.out[0] == g1.in[0] &&
		slices.Equal(g.in[1:], g1.in[1:]) && slices.Equal(g.out[1:], g1.out[1:]) &&
		slices.Equal(g.start[1:], g1.start[1:]) && slices.Equal(g.step[1:], g1.step[1:])
}

// sliceAttrs returns a Slice's starts, ends and axes attributes, which
// opsets before 10 take instead of inputs (nil from opset 10 on).
func sliceAttrs(n *Node) ([3][]int64, error) {
	var a [3][]int64
	if n.Opset >= 10 {
		return a, nil
	}
	for i, name := range []string{"starts", "ends", "axes"} {
		v, err := n.Ints(name, nil)
		if err != nil {
			return a, err
		}
		a[i] = v
	}
	if a[0] == nil || a[1] == nil {
		return a, n.Errorf("attributes starts and ends are required")
	}
	return a, nil
}

// sliceArgs returns a Slice's starts, ends, axes and steps: attrs (see
// sliceAttrs) before opset 10, else its inputs 1 to 4, which must be
// constants (axes and steps may be absent: nil).
func sliceArgs(n *Node, attrs [3][]int64, in []*Value) ([4][]int64, error) {
	a := [4][]int64{attrs[0], attrs[1], attrs[2], nil}
	if n.Opset < 10 {
		return a, nil
	}
	for i, name := range []string{"starts", "ends", "axes", "steps"} {
		v := optValue(in, 1+i)
		if v == nil {
			if i >= 2 {
				continue
			}
			return a, n.Errorf("input %s is required", name)
		}
		var err error
		if a[i], err = constInt64s(n, v, name); err != nil {
			return a, err
		}
	}
	return a, nil
}

// sliceAt returns a Slice's geometry for its inputs in as a plan has them
// (its starts, ends, axes and steps constants of the plan, or attributes),
// and whether they make one.
func sliceAt(n *Node, in []*Value) (*sliceGeom, bool) {
	attrs, err := sliceAttrs(n)
	if err != nil {
		return nil, false
	}
	a, err := sliceArgs(n, attrs, in)
	if err != nil {
		return nil, false
	}
	g, err := planSlice(n, in[0].Shape, a[0], a[1], a[2], a[3])
	return g, err == nil
}
