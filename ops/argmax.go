package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("ArgMax", func(n *Node) (Kernel, error) { return buildArg(n, true) })
	Register("ArgMin", func(n *Node) (Kernel, error) { return buildArg(n, false) })
}

// buildArg binds ArgMax (isMax) or ArgMin, opsets 1 to 13, on float32 or
// int64 data: the int64 index along axis (default 0; negative counts back
// from the rank, as the spec defines from opset 11 and bnrun reads before)
// of the largest or smallest value, the first one where it repeats, or
// the last with select_last_index=1 (opset 12 on). keepdims (default 1)
// keeps the axis as size 1. A NaN is both the largest and the smallest
// value, as numpy's argmax and argmin have it. An axis of size 0 has no
// index to give and is refused, unless the output is empty.
func buildArg(n *Node, isMax bool) (Kernel, error) {
	axis, err := n.Int("axis", 0)
	if err != nil {
		return nil, err
	}
	keep, err := n.Int("keepdims", 1)
	if err != nil {
		return nil, err
	}
	lastIdx, err := n.Int("select_last_index", 0)
	if err != nil {
		return nil, err
	}
	if lastIdx != 0 && n.Opset < 12 {
		return nil, n.Errorf("select_last_index needs opset 12, the node has %d", n.Opset)
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		if len(in) != 1 {
			return nil, Step{}, n.Errorf("got %d inputs, want 1", len(in))
		}
		x := in[0]
		if err := needDType(n, x, "data", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		ax, err := axisIn(n, "axis", axis, len(x.Shape))
		if err != nil {
			return nil, Step{}, err
		}
		g := argGeom{outer: NumElems(x.Shape[:ax]), d: x.Shape[ax], inner: NumElems(x.Shape[ax+1:]),
			isMax: isMax, last: lastIdx != 0}
		shape := copyShape(x.Shape)
		if keep != 0 {
			shape[ax] = 1
		} else {
			shape = append(shape[:ax], shape[ax+1:]...)
		}
		total := NumElems(shape)
		if g.d == 0 && total > 0 {
			return nil, Step{}, n.Errorf("axis %d of shape %s has size 0: no index to give", axis, ShapeString(x.Shape))
		}
		inLen := NumElems(x.Shape)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || !checkRunTensors(out, 1) || ins[0].DType != x.DType ||
				out[0].DType != Int64 || ins[0].Len() != inLen || out[0].Len() != total {
				return fmt.Errorf("tensors do not match the plan")
			}
			if total == 0 {
				return nil
			}
			if x.DType == Int64 {
				argRun(env, &g, out[0].I64, ins[0].I64)
			} else {
				argRun(env, &g, out[0].I64, ins[0].F32)
			}
			return nil
		}
		return []Value{{DType: Int64, Shape: shape}}, Step{Run: run}, nil
	}), nil
}

// argGeom is an ArgMax or ArgMin on data viewed as [outer, d, inner],
// along d.
type argGeom struct {
	outer, d, inner int
	isMax, last     bool
}

// argRun writes into dst, viewed as [outer, inner], the index along d of
// each lane's largest or smallest value. Units of work are blocks of up
// to redBlock lanes of one outer index.
func argRun[T redElem](env *kern.Env, g *argGeom, dst []int64, src []T) {
	blocks := (g.inner + redBlock - 1) / redBlock
	forChunksOf(env, g.outer*blocks, max(1, elemGrain/(g.d*min(g.inner, redBlock))), argArgs[T]{g, dst, src, blocks})
}

// argArgs are argRun's operands.
type argArgs[T redElem] struct {
	g      *argGeom
	dst    []int64
	src    []T
	blocks int
}

// Range computes units [lo, hi): for the lanes j of the unit's block,
// row k of the outer index (src[(o·d + k)·inner + j]) replaces the best
// so far where argBeats says, k from 0 up.
func (a *argArgs[T]) Range(lo, hi int) {
	g := a.g
	var bestBuf [redBlock]T
	for u := lo; u < hi; u++ {
		o, b := u/a.blocks, u%a.blocks
		j0 := b * redBlock
		w := min(redBlock, g.inner-j0)
		idx := a.dst[o*g.inner+j0:][:w]
		best := bestBuf[:w]
		base := o*g.d*g.inner + j0
		if w == 1 {
			// one lane: a contiguous scan when inner is 1
			bi, bv := 0, a.src[base]
			for k := 1; k < g.d; k++ {
				if v := a.src[base+k*g.inner]; argBeats(v, bv, g.isMax, g.last) {
					bi, bv = k, v
				}
			}
			idx[0] = int64(bi)
			continue
		}
		copy(best, a.src[base:base+w])
		clear(idx)
		for k := 1; k < g.d; k++ {
			row := a.src[base+k*g.inner:][:w]
			for j, v := range row {
				if argBeats(v, best[j], g.isMax, g.last) {
					best[j], idx[j] = v, int64(k)
				}
			}
		}
	}
}

// argBeats reports whether v replaces best: v > best for ArgMax (v < best
// for ArgMin), or equal with last; a NaN v beats any number, and another
// NaN only with last.
func argBeats[T redElem](v, best T, isMax, last bool) bool {
	switch {
	case v != v:
		return last || best == best
	case best != best:
		return false
	case v == best:
		return last
	case isMax:
		return v > best
	}
	return v < best
}
