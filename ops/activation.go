package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

// Activations: Relu, Sigmoid, Tanh, LeakyRelu and Clip.

func init() {
	Register("Relu", buildRelu)
	Register("Sigmoid", buildSigmoid)
	Register("Tanh", buildTanh)
	Register("LeakyRelu", buildLeakyRelu)
	Register("HardSigmoid", buildHardSigmoid)
	Register("HardSwish", buildHardSwish)
	Register("Clip", buildClip)
}

// unaryKernel is a shape-preserving element-wise op over one input. f32
// maps a float32 range; i64, when set, an int64 one (nil means int64
// inputs are rejected).
type unaryKernel struct {
	n   *Node
	f32 func(dst, src []float32)
	i64 func(dst, src []int64)
	act kern.Activation // what f32 computes, for Step.Dev
}

// Prepare checks the input type and returns an output of the same type
// and shape.
func (k *unaryKernel) Prepare(in []*Value) ([]Value, Step, error) {
	if err := needInputs(k.n, in, 1); err != nil {
		return nil, Step{}, err
	}
	x := in[0]
	if k.i64 != nil {
		if err := needDType(k.n, x, "input", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
	} else if err := needDType(k.n, x, "input", Float32); err != nil {
		return nil, Step{}, err
	}
	out := []Value{{DType: x.DType, Shape: copyShape(x.Shape)}}
	var dev *UnaryDev
	if x.DType == Float32 {
		dev = &UnaryDev{N: NumElems(x.Shape), Act: k.act}
	}
	return out, Step{Run: k.run, Dev: devOrNil(dev)}, nil
}

func (k *unaryKernel) run(env *kern.Env, in, out []*Tensor) error {
	if !checkRunTensors(in, 1) || !checkRunTensors(out, 1) || in[0].Len() != out[0].Len() {
		return fmt.Errorf("tensors do not match the plan")
	}
	x, y := in[0], out[0]
	if x.DType == Int64 {
		k.i64(y.I64, x.I64)
		return nil
	}
	src, dst := x.F32, y.F32
	f := k.f32
	if ks := kern.TierOf(env); ks != nil {
		switch {
		case k.act.Kind == kern.ActSigmoid && ks.Sigmoid != nil:
			f = ks.Sigmoid
		case k.act.Kind == kern.ActRelu && ks.Relu != nil:
			f = ks.Relu
		}
	}
	if ks := kern.TierOf(env); ks != nil && ks.Hard != nil &&
		(k.act.Kind == kern.ActHardSigmoid || k.act.Kind == kern.ActHardSwish) {
		forChunksOf(env, len(dst), elemGrain, hardArgs{ks, k.act, dst, src})
		return nil
	}
	forChunksOf(env, len(dst), elemGrain, mapArgs{f, dst, src})
	return nil
}

// hardArgs are the operands of HardSigmoid or HardSwish on a tier's
// vector kernel, chunk by chunk.
type hardArgs struct {
	k        *kern.Tier
	a        kern.Activation
	dst, src []float32
}

// Range computes the chunk [lo, hi).
func (a *hardArgs) Range(lo, hi int) { a.k.Hard(a.dst[lo:hi], a.src[lo:hi], a.a) }

// Relu (opsets 6, 13, 14; int64 accepted at every version).
func buildRelu(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: kern.ReluF32, i64: reluI64, act: kern.Activation{Kind: kern.ActRelu}}, nil
}

func reluI64(dst, src []int64) {
	src = src[:len(dst)]
	// y = max(x, 0)
	for i, v := range src {
		if v < 0 {
			v = 0
		}
		dst[i] = v
	}
}

// Sigmoid (opsets 6, 13), float32 only.
func buildSigmoid(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: kern.SigmoidF32, act: kern.Activation{Kind: kern.ActSigmoid}}, nil
}

// Tanh (opsets 6, 13), float32 only.
func buildTanh(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: kern.TanhF32, act: kern.Activation{Kind: kern.ActTanh}}, nil
}

// LeakyRelu (opsets 6, 16): attribute alpha, default 0.01.
func buildLeakyRelu(n *Node) (Kernel, error) {
	alpha, err := n.Float("alpha", 0.01)
	if err != nil {
		return nil, err
	}
	f := func(dst, src []float32) {
		src = src[:len(dst)]
		// y = x if x >= 0 else alpha * x
		for i, v := range src {
			if v < 0 {
				v *= alpha
			}
			dst[i] = v
		}
	}
	return &unaryKernel{n: n, f32: f, act: kern.Activation{Kind: kern.ActLeakyRelu, Alpha: alpha}}, nil
}

// HardSigmoid (opsets 6 and 22; opset 1's consumed_inputs is ignored):
//
//	y = max(0, min(1, alpha·x + beta))
//
// attributes alpha (default 0.2) and beta (0.5), float32 only.
func buildHardSigmoid(n *Node) (Kernel, error) {
	alpha, err := n.Float("alpha", 0.2)
	if err != nil {
		return nil, err
	}
	beta, err := n.Float("beta", 0.5)
	if err != nil {
		return nil, err
	}
	f := func(dst, src []float32) { kern.HardSigmoidF32(dst, src, alpha, beta) }
	return &unaryKernel{n: n, f32: f, act: kern.Activation{Kind: kern.ActHardSigmoid, Alpha: alpha, Beta: beta}}, nil
}

// HardSwish (opsets 14 and 22), float32 only:
//
//	y = x·max(0, min(1, x/6 + 1/2))
func buildHardSwish(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: kern.HardSwishF32, act: kern.Activation{Kind: kern.ActHardSwish}}, nil
}

// clipKernel is Clip. Before opset 11 the bounds are the min and max
// attributes; from opset 11 they are optional scalar inputs 1 and 2, read
// at run time. A missing bound is unbounded (±Inf for float32, the int64
// limits for int64), as PyTorch's clamp; the spec's lowest()/max() only
// differ from that for infinite inputs.
type clipKernel struct {
	n        *Node
	attrMode bool
	lo, hi   float32
}

// Clip (opsets 6, 11, 12, 13): float32 at every version, int64 from the
// input form on.
func buildClip(n *Node) (Kernel, error) {
	k := &clipKernel{n: n, attrMode: n.Opset < 11,
		lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
	if k.attrMode {
		var err error
		if k.lo, err = n.Float("min", k.lo); err != nil {
			return nil, err
		}
		if k.hi, err = n.Float("max", k.hi); err != nil {
			return nil, err
		}
	} else if n.Has("min") || n.Has("max") {
		return nil, n.Errorf("min/max are inputs from opset 11, not attributes")
	}
	return k, nil
}

// Prepare checks the input and the optional bounds.
func (k *clipKernel) Prepare(in []*Value) ([]Value, Step, error) {
	if err := needInputs(k.n, in, 1); err != nil {
		return nil, Step{}, err
	}
	x := in[0]
	if k.attrMode {
		if err := needDType(k.n, x, "input", Float32); err != nil {
			return nil, Step{}, err
		}
		if len(in) > 1 {
			return nil, Step{}, k.n.Errorf("takes one input before opset 11, got %d", len(in))
		}
	} else {
		if err := needDType(k.n, x, "input", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		if len(in) > 3 {
			return nil, Step{}, k.n.Errorf("takes at most 3 inputs, got %d", len(in))
		}
		for i, name := range []string{"", "min", "max"} {
			b := optValue(in, i)
			if i == 0 || b == nil {
				continue
			}
			if b.DType != x.DType {
				return nil, Step{}, k.n.Errorf("%s has type %s, input has %s", name, b.DType, x.DType)
			}
			if NumElems(b.Shape) != 1 {
				return nil, Step{}, k.n.Errorf("%s must be a scalar, got shape %s", name, ShapeString(b.Shape))
			}
		}
	}
	out := []Value{{DType: x.DType, Shape: copyShape(x.Shape)}}
	return out, Step{Run: k.run, Dev: devOrNil(k.dev(in))}, nil
}

// dev describes the Clip as an activation when its input is float32 and
// its bounds are known at plan time, else it returns nil.
func (k *clipKernel) dev(in []*Value) *UnaryDev {
	x := in[0]
	if x.DType != Float32 {
		return nil
	}
	lo, hi := k.lo, k.hi
	if !k.attrMode {
		for i, b := range []*float32{&lo, &hi} {
			v := optValue(in, i+1)
			if v == nil {
				continue
			}
			if v.Const == nil {
				return nil
			}
			*b = v.Const.F32[0]
		}
	}
	return &UnaryDev{N: NumElems(x.Shape), Act: kern.Activation{Kind: kern.ActClip, Min: lo, Max: hi}}
}

func (k *clipKernel) run(env *kern.Env, in, out []*Tensor) error {
	if !checkRunTensors(in, 1) || !checkRunTensors(out, 1) || in[0].Len() != out[0].Len() {
		return fmt.Errorf("tensors do not match the plan")
	}
	x, y := in[0], out[0]
	minT, maxT := optTensor(in, 1), optTensor(in, 2)
	if k.attrMode {
		minT, maxT = nil, nil
	}
	for _, b := range []*Tensor{minT, maxT} {
		if b != nil && (b.DType != x.DType || b.Len() != 1) {
			return fmt.Errorf("min/max must be scalars of the input's type")
		}
	}
	if x.DType == Int64 {
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if minT != nil {
			lo = minT.I64[0]
		}
		if maxT != nil {
			hi = maxT.I64[0]
		}
		kern.ClipRange(y.I64, x.I64, lo, hi)
		return nil
	}
	lo, hi := k.lo, k.hi
	if minT != nil {
		lo = minT.F32[0]
	}
	if maxT != nil {
		hi = maxT.F32[0]
	}
	src, dst := x.F32, y.F32
	forChunksOf(env, len(dst), elemGrain, clipArgs{dst, src, lo, hi})
	return nil
}

// clipArgs are a float32 Clip step's operands.
type clipArgs struct {
	dst, src []float32
	lo, hi   float32
}

// Range clips the chunk [lo, hi).
func (c *clipArgs) Range(lo, hi int) { kern.ClipRange(c.dst[lo:hi], c.src[lo:hi], c.lo, c.hi) }
