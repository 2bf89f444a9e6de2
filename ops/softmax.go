package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

// Softmax and ReduceMean.

func init() {
	Register("Softmax", buildSoftmax)
	Register("ReduceMean", buildReduceMean)
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

// ReduceMean averages over axes (the attribute through opset 17, the
// optional constant input 1 from opset 18; negative axes count back; no
// axes means all). keepdims (default 1) keeps reduced dimensions as 1.
// From opset 18, noop_with_empty_axes=1 with no axes returns the input.
// float32 only; the sums are accumulated in float64, but for the means of
// trailing runs (over H and W), which are GlobalAveragePool's.
func buildReduceMean(n *Node) (Kernel, error) {
	keep, err := n.Int("keepdims", 1)
	if err != nil {
		return nil, err
	}
	attrAxes, err := n.Ints("axes", nil)
	if err != nil {
		return nil, err
	}
	noop, err := n.Int("noop_with_empty_axes", 0)
	if err != nil {
		return nil, err
	}
	if n.Opset >= 18 && n.Has("axes") {
		return nil, n.Errorf("axes is an input from opset 18, not an attribute")
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		x := in[0]
		if err := needDType(n, x, "data", Float32); err != nil {
			return nil, Step{}, err
		}
		axes := attrAxes
		if n.Opset >= 18 {
			axes = nil
			if a := optValue(in, 1); a != nil {
				if axes, err = constInt64s(n, a, "axes"); err != nil {
					return nil, Step{}, err
				}
			}
		}
		r := len(x.Shape)
		red := make([]bool, r)
		if len(axes) == 0 {
			if n.Opset >= 18 && noop != 0 {
				return []Value{{DType: Float32, Shape: copyShape(x.Shape)}}, viewStep(), nil
			}
			for i := range red {
				red[i] = true
			}
		} else {
			norm, err := axesIn(n, "axis", axes, r)
			if err != nil {
				return nil, Step{}, err
			}
			for _, a := range norm {
				red[a] = true
			}
		}
		var shape, kept, reduced, keptStride, redStride []int
		st := stridesOf(x.Shape)
		shape = []int{}
		for i, d := range x.Shape {
			if red[i] {
				if keep != 0 {
					shape = append(shape, 1)
				}
				if d != 1 {
					reduced = append(reduced, d)
					redStride = append(redStride, st[i])
				}
				continue
			}
			shape = append(shape, d)
			kept = append(kept, d)
			keptStride = append(keptStride, st[i])
		}
		count := 1
		for i, d := range x.Shape {
			if red[i] {
				count *= d
			}
		}
		reduced, redStride = mergeRuns(reduced, redStride)
		kd, ks := mergeRuns(kept, keptStride)
		inLen, total := NumElems(x.Shape), NumElems(shape)
		// The mean of each run of trailing values (a network's mean over
		// its planes, as exporters write a global pool) is a global
		// average pool's: the tier's vector sums, bit for bit the same.
		trailing := count > 0 && len(reduced) == 1 && redStride[0] == 1 &&
			(len(kd) == 0 || len(kd) == 1 && ks[0] == reduced[0])
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || !checkRunTensors(out, 1) ||
				ins[0].DType != Float32 || out[0].DType != Float32 ||
				ins[0].Len() != inLen || out[0].Len() != total {
				return fmt.Errorf("tensors do not match the plan")
			}
			if trailing {
				forChunksOf(env, total, 1, globalPoolArgs{kern.TierOf(env), ins[0].F32, out[0].F32, count, false})
				return nil
			}
			meanRun(env, out[0].F32, ins[0].F32, kept, keptStride, reduced, redStride, count)
			return nil
		}
		return []Value{{DType: Float32, Shape: shape}}, Step{Run: run}, nil
	}), nil
}

// mergeRuns merges adjacent loop dimensions (outermost first) where the
// outer one's stride equals the inner one's stride times its size.
func mergeRuns(dims, strides []int) ([]int, []int) {
	var d, s []int
	for i := range dims {
		if k := len(d) - 1; k >= 0 && s[k] == strides[i]*dims[i] {
			d[k] *= dims[i]
			s[k] = strides[i]
			continue
		}
		d = append(d, dims[i])
		s = append(s, strides[i])
	}
	return d, s
}

// meanRun computes, for each output element (the kept coordinates c),
//
//	y[c] = (1/count) * sum over reduced coordinates r of x[c, r]
//
// walking the reduced dims (with their strides) by odometer.
func meanRun(env *kern.Env, dst, src []float32, kept, keptStride, red, redStride []int, count int) {
	nRed := NumElems(red)
	var inv float64
	if count > 0 {
		inv = 1 / float64(count)
	}
	forChunks(env, len(dst), max(1, elemGrain/max(nRed, 1)), func(lo, hi int) {
		kc := make([]int, len(kept))
		rc := make([]int, len(red))
		for o := lo; o < hi; o++ {
			unravel(o, kept, kc)
			base := 0
			for a, c := range kc {
				base += c * keptStride[a]
			}
			if count == 0 {
				dst[o] = float32(math.NaN())
				continue
			}
			var sum float64
			if len(red) == 0 {
				sum = float64(src[base])
			} else {
				k := len(red) - 1
				in, is := red[k], redStride[k]
				for i := range rc {
					rc[i] = 0
				}
				off := base
				for {
					// sum += x[off + j*is] over the innermost reduced run
					for j := 0; j < in; j++ {
						sum += float64(src[off+j*is])
					}
					d := k - 1
					for ; d >= 0; d-- {
						rc[d]++
						off += redStride[d]
						if rc[d] < red[d] {
							break
						}
						off -= rc[d] * redStride[d]
						rc[d] = 0
					}
					if d < 0 {
						break
					}
				}
			}
			dst[o] = float32(sum * inv)
		}
	})
}
