package ops

import (
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("BatchNormalization", buildBatchNorm)
}

// buildBatchNorm binds BatchNormalization (opsets 6–15 and later) in
// inference mode:
//
//	Y = scale * (X - mean) / sqrt(var + epsilon) + B
//
// X is N×C×D1×...×Dn (any rank from 2; a 1-D X is N values of one channel)
// and the parameters have shape [C], or, with spatial = 0 (opsets 6–8),
// C×D1×...×Dn: one set per element of an image. momentum is ignored;
// training_mode = 1 (opset 14 on) is rejected. Before opset 14 the optional
// outputs mean and var are the running statistics after the operator, which
// in inference are the inputs' mean and var, copied; saved_mean and
// saved_var exist only in training and are rejected, as are running_mean and
// running_var from opset 14 on (the spec makes them invalid outside
// training).
//
// The arithmetic is that of PyTorch's CPU inference kernel (as built with
// fused multiply-adds), which it matches bit for bit:
//
//	a = (1 / sqrt(var + epsilon)) * scale,  b = B - mean*a,  Y = X*a + b
//
// with a in float32 and b and Y each rounded once from the exact value, as
// a fused multiply-add does: the product of two float32 values is exact in
// float64, so summing there and rounding to float32 gives the fused result.
func buildBatchNorm(n *Node) (Kernel, error) {
	eps, err := n.Float("epsilon", 1e-5)
	if err != nil {
		return nil, err
	}
	if _, err := n.Float("momentum", 0.9); err != nil {
		return nil, err
	}
	training, err := n.Int("training_mode", 0)
	if err != nil {
		return nil, err
	}
	if training != 0 {
		return nil, n.Errorf("training_mode=%d not supported (inference only)", training)
	}
	spatial, err := n.Int("spatial", 1)
	if err != nil {
		return nil, err
	}
	if spatial != 0 && spatial != 1 {
		return nil, n.Errorf("spatial %d is not 0 or 1", spatial)
	}
	for i, name := range n.Outputs {
		if i == 0 || name == "" {
			continue
		}
		switch {
		case n.Opset >= 14:
			return nil, n.Errorf("output %d (%s) is only computed with training_mode=1, which is not supported", i, name)
		case i > 4:
			return nil, n.Errorf("got %d outputs, want at most 5", len(n.Outputs))
		case i >= 3:
			return nil, n.Errorf("output %d (%s): saved_mean and saved_var exist only in training, which is not supported", i, name)
		}
	}
	perElem := spatial == 0 && n.Opset < 9
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		return prepareBatchNorm(n, eps, perElem, in)
	}), nil
}

func prepareBatchNorm(n *Node, eps float32, perElem bool, in []*Value) ([]Value, Step, error) {
	if len(in) != 5 {
		return nil, Step{}, n.Errorf("got %d inputs, want 5 (X, scale, B, mean, var)", len(in))
	}
	x := in[0]
	if x == nil || x.DType != Float32 || len(x.Shape) < 1 {
		return nil, Step{}, n.Errorf("input X must be a float32 tensor of rank at least 1")
	}
	xs := x.Shape
	batch, c, inner := xs[0], 1, 1
	if len(xs) >= 2 {
		c, inner = xs[1], NumElems(xs[2:])
	}
	// Parameters are per channel, or (spatial = 0) per element of an image.
	params := c
	want := []int{c}
	if perElem && len(xs) > 2 {
		params = c * inner
		want = xs[1:]
	}
	for i, name := range []string{"scale", "B", "mean", "var"} {
		v := in[i+1]
		if v == nil || v.DType != Float32 {
			return nil, Step{}, n.Errorf("input %s must be a float32 tensor", name)
		}
		if !SameShape(v.Shape, want) {
			return nil, Step{}, n.Errorf("input %s has shape %s, want %s for X %s", name, ShapeString(v.Shape), ShapeString(want), ShapeString(xs))
		}
	}
	nx := NumElems(xs)
	units := c // per image: channel planes, or one image
	if perElem {
		units = 1
	}
	run := func(env *kern.Env, in, out []*Tensor) error {
		if err := checkLen(in[0], "X", nx); err != nil {
			return n.Errorf("%v", err)
		}
		for i, name := range []string{"scale", "B", "mean", "var"} {
			if err := checkLen(in[i+1], name, params); err != nil {
				return n.Errorf("%v", err)
			}
		}
		if err := checkLen(out[0], "Y", nx); err != nil {
			return n.Errorf("%v", err)
		}
		xd, y := in[0].F32, out[0].F32
		scale, bias, mean, vr := in[1].F32, in[2].F32, in[3].F32, in[4].F32
		forChunksOf(env, batch*units, 1, bnArgs{xd, y, scale, bias, mean, vr, eps, c, inner, params, perElem})
		// Running statistics after the operator: unchanged in inference.
		for i := 1; i <= 2 && i < len(out); i++ {
			if out[i] != nil {
				copy(out[i].F32, in[i+2].F32)
			}
		}
		return nil
	}
	outs := make([]Value, outputCount(n))
	outs[0] = Value{DType: Float32, Shape: append([]int(nil), xs...)}
	for i := 1; i < len(outs); i++ {
		outs[i] = Value{DType: Float32, Shape: append([]int(nil), want...)}
	}
	return outs, Step{Run: run, Dev: batchNormDev(in, eps, batch, c, inner, perElem, len(outs))}, nil
}

// batchNormDev describes a BatchNormalization as an affine step when its
// parameters are plan-time constants, per channel, and it has one output:
// scale'[c] = scale[c]/sqrt(var[c] + eps) and bias'[c] = B[c] -
// mean[c]·scale'[c], each computed in float64 and rounded once. Otherwise
// it returns nil.
func batchNormDev(in []*Value, eps float32, batch, c, inner int, perElem bool, outs int) *AffineDev {
	if perElem || outs != 1 {
		return nil
	}
	for _, v := range in[1:5] {
		if v.Const == nil {
			return nil
		}
	}
	d := &AffineDev{N: batch, C: c, HW: inner, Scale: make([]float32, c), Bias: make([]float32, c)}
	scale, b, mean, vr := in[1].Const.F32, in[2].Const.F32, in[3].Const.F32, in[4].Const.F32
	for i := range c {
		s := float64(scale[i]) / math.Sqrt(float64(vr[i])+float64(eps))
		d.Scale[i] = float32(s)
		d.Bias[i] = float32(float64(b[i]) - float64(mean[i])*s)
	}
	return d
}

// bnCoef returns the affine coefficients of one channel in the order of
// PyTorch's CPU kernel:
//
//	invstd = 1 / sqrt(var + eps),  a = invstd * scale,  b = B - mean*a
//
// all in float32, b rounded once (a fused multiply-add).
func bnCoef(scale, bias, mean, vr, eps float32) (a, b float32) {
	invstd := 1 / float32(math.Sqrt(float64(vr+eps)))
	a = invstd * scale
	b = float32(float64(bias) - float64(mean)*float64(a))
	return a, b
}

// bnArgs are a BatchNormalization step's operands.
type bnArgs struct {
	x, y, scale, bias, mean, vr []float32
	eps                         float32
	c, inner, params            int
	perElem                     bool
}

// Range normalises units [lo, hi): images (C·D1·...·Dn values, one
// parameter set per element) when perElem is set, else channel planes
// (D1·...·Dn values, u = n·C + c).
func (a *bnArgs) Range(lo, hi int) {
	if a.perElem {
		for u := lo; u < hi; u++ {
			xi, yi := a.x[u*a.params:(u+1)*a.params], a.y[u*a.params:(u+1)*a.params]
			// y = x*a + b, a = scale/sqrt(var+eps), b = B - mean*a
			for e, v := range xi {
				s, b := bnCoef(a.scale[e], a.bias[e], a.mean[e], a.vr[e], a.eps)
				yi[e] = float32(float64(v)*float64(s) + float64(b))
			}
		}
		return
	}
	for u := lo; u < hi; u++ {
		ch := u % a.c
		s, b := bnCoef(a.scale[ch], a.bias[ch], a.mean[ch], a.vr[ch], a.eps)
		s64, b64 := float64(s), float64(b)
		xp, yp := a.x[u*a.inner:(u+1)*a.inner], a.y[u*a.inner:(u+1)*a.inner]
		yp = yp[:len(xp)]
		// y = x*a + b, rounded once (a fused multiply-add)
		for i, v := range xp {
			yp[i] = float32(float64(v)*s64 + b64)
		}
	}
}
