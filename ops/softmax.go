package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Softmax", func(n *Node) (Kernel, error) { return buildSoftmax(n, false) })
	Register("LogSoftmax", func(n *Node) (Kernel, error) { return buildSoftmax(n, true) })
}

// Softmax normalises exponentials, and LogSoftmax (log) is its logarithm
// (opsets 1, 11 and 13 each). Before opset 13 the input is coerced to 2-D
// at axis (default 1): each row is the flattened block d[axis:] and is
// normalised as a whole. From opset 13 it normalises along the single
// dimension axis (default -1). Both are computed stably by subtracting the
// slice maximum before exponentiating (kern.SoftmaxLane).
func buildSoftmax(n *Node, log bool) (Kernel, error) {
	legacy := n.Opset < 13
	def := int64(-1)
	if legacy {
		def = 1
	}
	axis, err := n.Int("axis", def)
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		x := in[0]
		if err := needDType(n, x, "input", Float32); err != nil {
			return nil, Step{}, err
		}
		r := len(x.Shape)
		var outer, dim, inner int
		if legacy {
			// axis lies in [-r, r]; axis == r gives rows of one element.
			a := axis
			if a < 0 {
				a += int64(r)
			}
			if a < 0 || a > int64(r) {
				return nil, Step{}, n.Errorf("axis %d out of range for rank %d", axis, r)
			}
			outer, dim, inner = NumElems(x.Shape[:a]), NumElems(x.Shape[a:]), 1
		} else {
			if r == 0 {
				outer, dim, inner = 1, 1, 1
			} else {
				a, err := axisIn(n, "axis", axis, r)
				if err != nil {
					return nil, Step{}, err
				}
				outer, dim, inner = NumElems(x.Shape[:a]), x.Shape[a], NumElems(x.Shape[a+1:])
			}
		}
		total := NumElems(x.Shape)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || !checkRunTensors(out, 1) ||
				ins[0].DType != Float32 || out[0].DType != Float32 ||
				ins[0].Len() != total || out[0].Len() != total {
				return fmt.Errorf("tensors do not match the plan")
			}
			softmaxRun(env, out[0].F32, ins[0].F32, outer, dim, inner, log)
			return nil
		}
		dev := &SoftmaxDev{Outer: outer, Dim: dim, Inner: inner, Log: log}
		return []Value{{DType: Float32, Shape: copyShape(x.Shape)}}, Step{Run: run, Dev: dev}, nil
	}), nil
}

// softmaxRun normalises src viewed as [outer, dim, inner] along dim (its
// logarithm with log).
func softmaxRun(env *kern.Env, dst, src []float32, outer, dim, inner int, log bool) {
	if dim == 0 || inner == 0 {
		return
	}
	lanes := outer * inner
	forChunks(env, lanes, max(1, elemGrain/dim), func(lo, hi int) {
		for l := lo; l < hi; l++ {
			o, i := l/inner, l%inner
			base := o*dim*inner + i
			kern.SoftmaxLane(dst, src, base, dim, inner, log)
		}
	})
}
