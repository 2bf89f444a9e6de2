package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Softmax", buildSoftmax)
}

// Softmax normalises exponentials. Before opset 13 the input is coerced
// to 2-D at axis (default 1): each row is the flattened block
// d[axis:] and is normalised as a whole. From opset 13 it normalises along
// the single dimension axis (default -1). Both are computed stably by
// subtracting the slice maximum before exponentiating.
func buildSoftmax(n *Node) (Kernel, error) {
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
			softmaxRun(env, out[0].F32, ins[0].F32, outer, dim, inner)
			return nil
		}
		dev := &SoftmaxDev{Outer: outer, Dim: dim, Inner: inner}
		return []Value{{DType: Float32, Shape: copyShape(x.Shape)}}, Step{Run: run, Dev: dev}, nil
	}), nil
}

// softmaxRun normalises src viewed as [outer, dim, inner] along dim.
func softmaxRun(env *kern.Env, dst, src []float32, outer, dim, inner int) {
	if dim == 0 || inner == 0 {
		return
	}
	lanes := outer * inner
	forChunks(env, lanes, max(1, elemGrain/dim), func(lo, hi int) {
		for l := lo; l < hi; l++ {
			o, i := l/inner, l%inner
			base := o*dim*inner + i
			softmaxLane(dst, src, base, dim, inner)
		}
	})
}

// softmaxLane normalises the dim elements src[base + j*step]:
//
//	y_j = exp(x_j - m) / sum_k exp(x_k - m),  m = max_k x_k
//
// with the sum accumulated in float64.
func softmaxLane(dst, src []float32, base, dim, step int) {
	m := float32(math.Inf(-1))
	// m = max_j x_j
	for j := 0; j < dim; j++ {
		if v := src[base+j*step]; v > m {
			m = v
		}
	}
	// e_j = exp(x_j - m); sum = sum_j e_j
	var sum float64
	for j := 0; j < dim; j++ {
		p := base + j*step
		e := math.Exp(float64(src[p] - m))
		dst[p] = float32(e)
		sum += e
	}
	inv := 1 / sum
	// y_j = e_j / sum
	for j := 0; j < dim; j++ {
		p := base + j*step
		dst[p] = float32(float64(dst[p]) * inv)
	}
}
