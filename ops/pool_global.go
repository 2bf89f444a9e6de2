package ops

import (
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("GlobalAveragePool", imageWiseOp(func(n *Node) (Kernel, error) { return buildGlobalPool(n, false) }, firstOutput))
	Register("GlobalMaxPool", imageWiseOp(func(n *Node) (Kernel, error) { return buildGlobalPool(n, true) }, firstOutput))
}

// buildGlobalPool binds GlobalAveragePool or GlobalMaxPool (opset 1 on):
// X is N×C×D1×...×Dn (n >= 1) and Y is N×C×1×...×1, the mean or the
// maximum of each channel's plane. Means are summed in float64; a NaN in a
// plane is its maximum.
func buildGlobalPool(n *Node, isMax bool) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) != 1 {
			return nil, Step{}, n.Errorf("got %d inputs, want 1", len(in))
		}
		x := in[0]
		if x == nil || x.DType != Float32 || len(x.Shape) < 3 {
			return nil, Step{}, n.Errorf("input X must be a float32 tensor of rank at least 3 (N×C×D1...)")
		}
		xs := x.Shape
		planes, size := xs[0]*xs[1], NumElems(xs[2:])
		outShape := []int{xs[0], xs[1]}
		for range xs[2:] {
			outShape = append(outShape, 1)
		}
		run := func(env *kern.Env, in, out []*Tensor) error {
			if err := checkLen(in[0], "X", planes*size); err != nil {
				return n.Errorf("%v", err)
			}
			if err := checkLen(out[0], "Y", planes); err != nil {
				return n.Errorf("%v", err)
			}
			xd, y := in[0].F32, out[0].F32
			forChunksOf(env, planes, 1, globalPoolArgs{kern.TierOf(env), xd, y, size, isMax})
			return nil
		}
		outs, err := oneOutput(n, Value{DType: Float32, Shape: outShape})
		if err != nil {
			return nil, Step{}, err
		}
		return outs, Step{Run: run, Dev: &GlobalPoolDev{Max: isMax, Planes: planes, HW: size}}, nil
	}), nil
}

// globalPoolArgs are a global pooling step's operands.
type globalPoolArgs struct {
	k     *kern.Tier
	x, y  []float32
	size  int
	isMax bool
}

// Range pools planes [lo, hi) of size values each.
func (a *globalPoolArgs) Range(lo, hi int) {
	size := a.size
	for p := lo; p < hi; p++ {
		plane := a.x[p*size : (p+1)*size]
		if a.isMax {
			// y = max over the plane (NaN wins)
			best := float32(math.Inf(-1))
			for i, v := range plane {
				if i == 0 || v > best || v != v {
					best = v
				}
			}
			a.y[p] = best
			continue
		}
		// y = (sum over the plane) / size
		a.y[p] = float32(kern.SumRow(a.k, plane) / float64(size))
	}
}
