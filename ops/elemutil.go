package ops

import "github.com/bnrun/bnrun/kern"

// Shared helpers of the element-wise and tensor-manipulation operators
// (activations, arithmetic, shape ops, Concat, Gather, Pad, Softmax,
// Transpose, the reductions, Split, Expand, Tile).

// elemGrain is the element count below which a step runs on the calling
// goroutine: splitting smaller loops costs more than it saves.
const elemGrain = 1 << 14

// copyGrain is elemGrain for the steps that only move values (Transpose,
// Concat): below it they run on the calling goroutine. Split between two
// workers on two dies, ShuffleNetV2's channel shuffles (a Concat and a
// Transpose of 0.2-0.7 M values each, batch 8) took 1.5-2.5 times their
// one-thread time, where arithmetic on as many values halves; on one
// worker, alternating runs, two threads: ShuffleNetV2 0.95 of its time at
// batch 1, 0.975 at batch 8, DenseNet-121 (whose Concats mostly write in
// place) 0.99-1.00.
const copyGrain = 1 << 20

// forChunks runs fn over [0, n), split across env's workers when n counts
// at least grain units of work and a pool with more than one worker is
// available; otherwise it calls fn(0, n) directly. n <= 0 does nothing.
func forChunks(env *kern.Env, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if env == nil || env.Par == nil || env.Par.Workers() <= 1 || n < grain {
		fn(0, n)
		return
	}
	env.Par.Do(n, RangeFunc(fn))
}

// forChunksOf is forChunks for a loop body given as a Task value (a
// struct of its operands, whose Range method is the body): the loop then
// allocates nothing, the task being copied into env's (see TaskOf).
func forChunksOf[T any, P interface {
	*T
	kern.Task
}](env *kern.Env, n, grain int, task T) {
	if n <= 0 {
		return
	}
	t := P(kern.TaskOf[T](env))
	*t = task
	if env == nil || env.Par == nil || env.Par.Workers() <= 1 || n < grain {
		t.Range(0, n)
	} else {
		env.Par.Do(n, t)
	}
	var zero T
	*t = zero
}

// mapArgs are the operands of a row function applied chunk by chunk:
// f(dst[lo:hi], src[lo:hi]).
type mapArgs struct {
	f        func(dst, src []float32)
	dst, src []float32
}

// Range applies a.f to the chunk [lo, hi).
func (a *mapArgs) Range(lo, hi int) { a.f(a.dst[lo:hi], a.src[lo:hi]) }

// maxRank is the rank up to which loop nests keep their coordinates on
// the stack (see coordBuf).
const maxRank = 8

// coordBuf returns buf[:n] when it is long enough, else a new slice.
func coordBuf(buf []int, n int) []int {
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]int, n)
}

// copyF32 copies src into dst.
func copyF32(dst, src []float32) { copy(dst, src) }

// optValue returns in[i], or nil when the input is absent or beyond the
// list.
func optValue(in []*Value, i int) *Value {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// optTensor returns in[i], or nil when the input is absent or beyond the
// list.
func optTensor(in []*Tensor, i int) *Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// needInputs checks that the first k inputs are present.
func needInputs(n *Node, in []*Value, k int) error {
	if len(in) < k {
		return n.Errorf("want at least %d inputs, got %d", k, len(in))
	}
	for i := 0; i < k; i++ {
		if in[i] == nil {
			return n.Errorf("input %d is required", i)
		}
	}
	return nil
}

// needDType checks that v has one of the allowed element types.
func needDType(n *Node, v *Value, what string, allowed ...DType) error {
	for _, d := range allowed {
		if v.DType == d {
			return nil
		}
	}
	if len(allowed) == 1 {
		return n.Errorf("%s has type %s, want %s", what, v.DType, allowed[0])
	}
	return n.Errorf("%s has type %s, want float32 or int64", what, v.DType)
}

// axisIn maps an axis given in [-rank, rank) to [0, rank), or returns an
// error naming what the axis is for.
func axisIn(n *Node, what string, axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, n.Errorf("%s %d out of range for rank %d", what, axis, rank)
	}
	return int(a), nil
}

// axesIn normalises a list of axes against rank and rejects duplicates.
func axesIn(n *Node, what string, axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		ax, err := axisIn(n, what, a, rank)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, n.Errorf("%s %d repeated", what, a)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}

// constInt64s returns the contents of a shape-like input, which must be an
// int64 tensor known at plan time.
func constInt64s(n *Node, v *Value, what string) ([]int64, error) {
	if v.DType != Int64 {
		return nil, n.Errorf("%s has type %s, want int64", what, v.DType)
	}
	if v.Const == nil {
		return nil, n.Errorf("%s must be a constant known at plan time (it determines the output shape)", what)
	}
	if v.Const.DType != Int64 || len(v.Const.I64) != NumElems(v.Const.Shape) {
		return nil, n.Errorf("%s constant is malformed", what)
	}
	if len(v.Const.Shape) > 1 {
		return nil, n.Errorf("%s must be a 1-D tensor, got shape %s", what, ShapeString(v.Const.Shape))
	}
	return v.Const.I64, nil
}

// copyShape returns a fresh copy of a shape (never nil, so a scalar's
// shape stays distinguishable from an unset one in tests).
func copyShape(s []int) []int {
	return append(make([]int, 0, len(s)), s...)
}

// copyData copies src's elements into dst; both have the same type and
// element count.
func copyData(env *kern.Env, dst, src *Tensor) {
	if dst.DType == Int64 {
		copy(dst.I64, src.I64)
		return
	}
	forChunksOf(env, dst.Len(), 4*elemGrain, mapArgs{copyF32, dst.F32, src.F32})
}

// checkRunTensors verifies that the tensors handed to Run are present and
// hold as many elements as their shapes say, so that a runtime bug shows
// as an error rather than an index panic.
func checkRunTensors(ts []*Tensor, k int) bool {
	if len(ts) < k {
		return false
	}
	for i := 0; i < k; i++ {
		t := ts[i]
		if t == nil || t.Len() != NumElems(t.Shape) {
			return false
		}
	}
	return true
}

// nextCoord steps the coordinates c through the loop nest dims in
// row-major order (the last fastest) and keeps off the offset they point
// at, off = base + Σ_d c[d]·stride[d]. After the last coordinates it
// resets c to zeros, off to base, and returns false.
func nextCoord(c, dims, stride []int, off *int) bool {
	for d := len(dims) - 1; d >= 0; d-- {
		c[d]++
		*off += stride[d]
		if c[d] < dims[d] {
			return true
		}
		*off -= c[d] * stride[d]
		c[d] = 0
	}
	return false
}

// unravel writes into c the coordinates of the flat row-major index i in
// a tensor of the given dims.
func unravel(i int, dims, c []int) {
	for d := len(dims) - 1; d >= 0; d-- {
		if dims[d] == 0 {
			c[d] = 0
			continue
		}
		c[d] = i % dims[d]
		i /= dims[d]
	}
}

// stridesOf returns the row-major element strides of a shape.
func stridesOf(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// claimOutputs reports whether a step clears its output's chunks before it
// writes them (kern.ClaimLines): on two or more workers.
func claimOutputs(env *kern.Env) bool {
	return env != nil && env.Par != nil && env.Par.Workers() > 1
}
