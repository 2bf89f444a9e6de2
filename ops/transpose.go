package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Transpose.

func init() {
	Register("Transpose", imageWiseOp(buildTranspose, firstOutput, permKeeps0))
}

// Transpose permutes the dimensions: output dimension i is input
// dimension perm[i]. perm defaults to the reversed order and must be a
// permutation of [0, rank).
func buildTranspose(n *Node) (Kernel, error) {
	perm, err := n.Ints("perm", nil)
	if err != nil {
		return nil, err
	}
	hasPerm := n.Has("perm")
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		x := in[0]
		if err := needDType(n, x, "data", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		r := len(x.Shape)
		p := make([]int, r)
		if hasPerm {
			if len(perm) != r {
				return nil, Step{}, n.Errorf("perm %v has %d entries for rank %d", perm, len(perm), r)
			}
			seen := make([]bool, r)
			for i, v := range perm {
				if v < 0 || v >= int64(r) || seen[v] {
					return nil, Step{}, n.Errorf("perm %v is not a permutation of [0, %d)", perm, r)
				}
				seen[v] = true
				p[i] = int(v)
			}
		} else {
			for i := range p {
				p[i] = r - 1 - i
			}
		}
		shape := make([]int, r)
		for i, a := range p {
			shape[i] = x.Shape[a]
		}
		dims, src := transposePlan(x.Shape, p)
		total := NumElems(shape)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || !checkRunTensors(out, 1) ||
				ins[0].DType != out[0].DType || ins[0].Len() != total || out[0].Len() != total {
				return fmt.Errorf("tensors do not match the plan")
			}
			if out[0].DType == Int64 {
				permuteCopy(env, out[0].I64, ins[0].I64, dims, src)
			} else {
				permuteCopy(env, out[0].F32, ins[0].F32, dims, src)
			}
			return nil
		}
		var dev *StridedDev
		if x.DType == Float32 {
			dev = &StridedDev{Dims: dims, Strides: src, InLen: total}
		}
		return []Value{{DType: x.DType, Shape: shape}}, Step{Run: run, Dev: devOrNil(dev)}, nil
	}), nil
}

// transposePlan reduces a transpose to a loop nest over the output: dims
// are the output dimensions, outermost first, with size-1 dimensions
// dropped and runs of output dimensions that are also adjacent and in
// order in the input merged; src are the input strides along them.
func transposePlan(in []int, perm []int) (dims, src []int) {
	st := stridesOf(in)
	for _, a := range perm {
		d := in[a]
		if d == 1 {
			continue
		}
		if k := len(dims) - 1; k >= 0 && src[k] == st[a]*d {
			// The previous output dim steps over whole runs of this one
			// in the input: merge.
			dims[k] *= d
			src[k] = st[a]
			continue
		}
		dims = append(dims, d)
		src = append(src, st[a])
	}
	if len(dims) == 0 {
		dims, src = []int{1}, []int{1}
	}
	return dims, src
}

// permuteCopy computes dst[i0,...,ik] = src[sum ij*stride[j]] over the
// loop nest dims (row-major in dst).
func permuteCopy[T kern.Numeric](env *kern.Env, dst, src []T, dims, stride []int) {
	forChunksOf(env, len(dst), copyGrain, permuteArgs[T]{dst, src, dims, stride})
}

// permuteArgs are permuteCopy's operands, a task over the flat output
// range (a struct, not a closure: the copy allocates nothing).
type permuteArgs[T kern.Numeric] struct {
	dst, src     []T
	dims, stride []int
}

// Range copies dst[lo:hi].
func (a *permuteArgs[T]) Range(lo, hi int) {
	dst, src, dims, stride := a.dst, a.src, a.dims, a.stride
	k := len(dims)
	inner, is := dims[k-1], stride[k-1]
	outer := dims[:k-1]
	var cb [maxRank]int
	coord := coordBuf(cb[:], len(outer))
	unravel(lo/inner, outer, coord)
	so := 0
	for d, c := range coord {
		so += c * stride[d]
	}
	col := lo % inner
	// dst[pos] = src[so + col*is], row by row over the loop nest
	for pos := lo; pos < hi; {
		cnt := min(inner-col, hi-pos)
		row := dst[pos : pos+cnt]
		base := so + col*is
		if is == 1 {
			copy(row, src[base:base+cnt])
		} else {
			for i := range row {
				row[i] = src[base+i*is]
			}
		}
		pos += cnt
		col = 0
		nextCoord(coord, outer, stride, &so)
	}
}
