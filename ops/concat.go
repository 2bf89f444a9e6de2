package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Concat and Gather.

func init() {
	Register("Concat", imageWiseOp(buildConcat, firstOutput, axisFrom1))
	Register("Gather", buildGather)
}

// Concat joins its inputs along axis (required from opset 4, default 1
// before; negative counts back from the rank). All inputs share type,
// rank and every other dimension; inputs of size 0 along the axis are
// allowed.
func buildConcat(n *Node) (Kernel, error) {
	if !n.Has("axis") && n.Opset >= 4 {
		return nil, n.Errorf("axis attribute is required")
	}
	axis, err := n.Int("axis", 1)
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) == 0 {
			return nil, Step{}, n.Errorf("needs at least one input")
		}
		if err := needInputs(n, in, len(in)); err != nil {
			return nil, Step{}, err
		}
		first := in[0]
		if err := needDType(n, first, "input 0", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		r := len(first.Shape)
		if r == 0 {
			return nil, Step{}, n.Errorf("cannot concatenate scalars")
		}
		ax, err := axisIn(n, "axis", axis, r)
		if err != nil {
			return nil, Step{}, err
		}
		shape := copyShape(first.Shape)
		shape[ax] = 0
		for i, v := range in {
			if v.DType != first.DType {
				return nil, Step{}, n.Errorf("input %d has type %s, input 0 has %s", i, v.DType, first.DType)
			}
			if len(v.Shape) != r {
				return nil, Step{}, n.Errorf("input %d has rank %d, input 0 has %d", i, len(v.Shape), r)
			}
			for d := range r {
				if d != ax && v.Shape[d] != first.Shape[d] {
					return nil, Step{}, n.Errorf("input %d has shape %s, incompatible with input 0's %s on axis %d",
						i, ShapeString(v.Shape), ShapeString(first.Shape), ax)
				}
			}
			shape[ax] += v.Shape[ax]
		}
		// Each input contributes a block of shape[ax]*inner elements to
		// every one of the outer slices.
		outer := NumElems(shape[:ax])
		inner := NumElems(shape[ax+1:])
		blocks := make([]int, len(in))
		for i, v := range in {
			blocks[i] = v.Shape[ax] * inner
		}
		total := NumElems(shape)
		// One outer slice: input i is the block at the sum of the blocks
		// before it; with several, no input is one block of the output.
		parts := make([]int, len(in))
		for i := range parts {
			switch {
			case outer != 1:
				parts[i] = -1
			case i > 0:
				parts[i] = parts[i-1] + blocks[i-1]
			}
		}
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, len(blocks)) || !checkRunTensors(out, 1) || out[0].Len() != total {
				return fmt.Errorf("tensors do not match the plan")
			}
			for i, t := range ins {
				if t.DType != out[0].DType || t.Len() != outer*blocks[i] {
					return fmt.Errorf("input %d does not match the plan", i)
				}
			}
			// The inputs' data go in lists kept in env, cleared after use.
			lists := kern.TaskOf[concatLists](env)
			if out[0].DType == Int64 {
				for _, t := range ins {
					lists.i64 = append(lists.i64, t.I64)
				}
				concatCopy(env, out[0].I64, lists.i64, blocks, outer)
			} else {
				for _, t := range ins {
					lists.f32 = append(lists.f32, t.F32)
				}
				concatCopy(env, out[0].F32, lists.f32, blocks, outer)
			}
			clear(lists.f32)
			clear(lists.i64)
			lists.f32, lists.i64 = lists.f32[:0], lists.i64[:0]
			return nil
		}
		var dev *ConcatDev
		if first.DType == Float32 {
			dev = &ConcatDev{Outer: outer, Inner: inner, Sizes: make([]int, len(in))}
			for i, v := range in {
				dev.Sizes[i] = v.Shape[ax]
			}
		}
		return []Value{{DType: first.DType, Shape: shape}}, Step{Run: run, Parts: parts, Dev: devOrNil(dev)}, nil
	}), nil
}

// concatCopy interleaves the inputs' blocks: for each outer slice o, the
// output holds src[0][o*block0 : (o+1)*block0], then src[1]'s block, ...
func concatCopy[T kern.Numeric](env *kern.Env, dst []T, srcs [][]T, blocks []int, outer int) {
	row := 0
	for _, b := range blocks {
		row += b
	}
	if row == 0 {
		return
	}
	forChunksOf(env, outer, max(1, copyGrain/row), concatArgs[T]{dst, srcs, blocks, row})
}

// concatLists holds a Concat step's input slices; kept in the Run's Env,
// its capacity is reused by every Concat of the Run.
type concatLists struct {
	f32 [][]float32
	i64 [][]int64
}

// concatArgs are concatCopy's operands.
type concatArgs[T kern.Numeric] struct {
	dst    []T
	srcs   [][]T
	blocks []int
	row    int
}

// Range copies outer slices [lo, hi):
// dst[o*row + sum_{k<i} b_k : ... + b_i] = srcs[i][o*b_i : (o+1)*b_i]
func (a *concatArgs[T]) Range(lo, hi int) {
	for o := lo; o < hi; o++ {
		pos := o * a.row
		for i, s := range a.srcs {
			b := a.blocks[i]
			if d := a.dst[pos : pos+b]; b > 0 && &d[0] != &s[o*b] {
				// not already in place (see Step.Parts)
				copy(d, s[o*b:(o+1)*b])
			}
			pos += b
		}
	}
}

// Gather picks slices of data along axis (default 0; negative counts back)
// at the int64 indices, which may have any rank (a scalar index drops the
// axis) and may be negative (counting back from the axis size). Output
// shape: data.shape[:axis] + indices.shape + data.shape[axis+1:]. Indices
// out of range are an error: at plan time when constant, else at run time.
func buildGather(n *Node) (Kernel, error) {
	axis, err := n.Int("axis", 0)
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 2); err != nil {
			return nil, Step{}, err
		}
		data, idx := in[0], in[1]
		if err := needDType(n, data, "data", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		if err := needDType(n, idx, "indices", Int64); err != nil {
			return nil, Step{}, err
		}
		r := len(data.Shape)
		if r == 0 {
			return nil, Step{}, n.Errorf("data must have rank >= 1")
		}
		ax, err := axisIn(n, "axis", axis, r)
		if err != nil {
			return nil, Step{}, err
		}
		size := data.Shape[ax]
		if idx.Const != nil {
			if err := gatherCheck(idx.Const.I64, size); err != nil {
				return nil, Step{}, n.Errorf("%v", err)
			}
		}
		shape := make([]int, 0, r-1+len(idx.Shape))
		shape = append(shape, data.Shape[:ax]...)
		shape = append(shape, idx.Shape...)
		shape = append(shape, data.Shape[ax+1:]...)
		outer := NumElems(data.Shape[:ax])
		inner := NumElems(data.Shape[ax+1:])
		nIdx := NumElems(idx.Shape)
		dataLen, total := NumElems(data.Shape), NumElems(shape)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 2) || !checkRunTensors(out, 1) ||
				ins[0].Len() != dataLen || ins[1].Len() != nIdx || out[0].Len() != total ||
				ins[0].DType != out[0].DType || ins[1].DType != Int64 {
				return fmt.Errorf("tensors do not match the plan")
			}
			if err := gatherCheck(ins[1].I64, size); err != nil {
				return err
			}
			if out[0].DType == Int64 {
				gatherCopy(env, out[0].I64, ins[0].I64, ins[1].I64, outer, size, inner)
			} else {
				gatherCopy(env, out[0].F32, ins[0].F32, ins[1].I64, outer, size, inner)
			}
			return nil
		}
		return []Value{{DType: data.DType, Shape: shape}}, Step{Run: run}, nil
	}), nil
}

// gatherCheck verifies that every index lies in [-size, size).
func gatherCheck(idx []int64, size int) error {
	for _, v := range idx {
		if v < -int64(size) || v >= int64(size) {
			return fmt.Errorf("index %d out of range for axis of size %d", v, size)
		}
	}
	return nil
}

// gatherCopy computes, for each outer slice o and index position j,
//
//	dst[o][j][:] = src[o][idx[j] (+size if negative)][:]
//
// where slices are inner elements long; indices were checked in range.
func gatherCopy[T kern.Numeric](env *kern.Env, dst, src []T, idx []int64, outer, size, inner int) {
	nIdx := len(idx)
	rows := outer * nIdx
	forChunks(env, rows*inner, elemGrain, func(lo, hi int) {
		// [lo, hi) is a flat output range (inner >= 1 here); walk the rows
		// it touches, copying only their part inside it.
		// row r = o*nIdx + j: dst[r*inner:][:inner] = src[(o*size + idx[j])*inner:][:inner]
		for r := lo / inner; r*inner < hi; r++ {
			o, j := r/nIdx, r%nIdx
			k := int(idx[j])
			if k < 0 {
				k += size
			}
			s := (o*size + k) * inner
			d := r * inner
			a, b := max(d, lo), min(d+inner, hi)
			copy(dst[a:b], src[s+(a-d):s+(b-d)])
		}
	})
}
