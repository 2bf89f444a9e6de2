package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

// Activations: Relu, Sigmoid, Tanh, LeakyRelu, HardSigmoid, HardSwish,
// Clip, Elu, Selu, Softplus, Softsign, Gelu and PRelu.

func init() {
	Register("Relu", imageWiseOp(buildRelu, firstOutput))
	Register("Sigmoid", imageWiseOp(buildSigmoid, firstOutput))
	Register("Tanh", imageWiseOp(buildTanh, firstOutput))
	Register("LeakyRelu", imageWiseOp(buildLeakyRelu, firstOutput))
	Register("HardSigmoid", imageWiseOp(buildHardSigmoid, firstOutput))
	Register("HardSwish", imageWiseOp(buildHardSwish, firstOutput))
	Register("Clip", imageWiseOp(buildClip, firstOutput))
	Register("Elu", buildElu)
	Register("Selu", buildSelu)
	Register("Softplus", buildSoftplus)
	Register("Softsign", buildSoftsign)
	Register("Gelu", buildGelu)
	Register("PRelu", buildPRelu)
}

// unaryKernel is a shape-preserving element-wise op over one input. f32
// maps a float32 range; i64, when set, an int64 one (nil means int64
// inputs are rejected).
type unaryKernel struct {
	n   *Node
	f32 func(dst, src []float32)
	i64 func(dst, src []int64)
	act kern.Activation // what f32 computes, for Step.Dev (ActNone: no device description)
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
	if x.DType == Float32 && k.act.Kind != kern.ActNone {
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

// Elu (opsets 1 and 6; opset 1's consumed_inputs is ignored), float32
// only: attribute alpha, default 1,
//
//	y = x                 for x ≥ 0
//	y = alpha·(eˣ - 1)    for x < 0
//
// the negative side computed in float64 (expm1) and rounded once. NaN and
// -0 pass through.
func buildElu(n *Node) (Kernel, error) {
	alpha, err := n.Float("alpha", 1)
	if err != nil {
		return nil, err
	}
	a := float64(alpha)
	f := func(dst, src []float32) {
		src = src[:len(dst)]
		// y = x if x >= 0 else alpha·(exp(x) - 1)
		for i, v := range src {
			if v < 0 {
				v = float32(a * math.Expm1(float64(v)))
			}
			dst[i] = v
		}
	}
	return &unaryKernel{n: n, f32: f}, nil
}

// Selu (opsets 1 and 6; opset 1's consumed_inputs is ignored), float32
// only: attributes alpha (default 1.67326319217681884765625, 1.6732 at
// opset 1) and gamma (1.05070102214813232421875, 1.0507 at opset 1),
//
//	y = gamma·x                 for x > 0
//	y = gamma·alpha·(eˣ - 1)    for x ≤ 0
//
// each computed in float64 (expm1) and rounded once; -0 gives +0, as the
// spec's gamma·(alpha·eˣ - alpha) does.
func buildSelu(n *Node) (Kernel, error) {
	defAlpha, defGamma := float32(1.67326319217681884765625), float32(1.05070102214813232421875)
	if n.Opset < 6 {
		defAlpha, defGamma = 1.6732, 1.0507
	}
	alpha, err := n.Float("alpha", defAlpha)
	if err != nil {
		return nil, err
	}
	gamma, err := n.Float("gamma", defGamma)
	if err != nil {
		return nil, err
	}
	g, ga := float64(gamma), float64(gamma)*float64(alpha)
	f := func(dst, src []float32) {
		src = src[:len(dst)]
		// y = gamma·x if x > 0 else gamma·alpha·(exp(x) - 1)
		for i, v := range src {
			x := float64(v)
			switch {
			case v > 0:
				dst[i] = float32(g * x)
			case v == 0:
				dst[i] = 0 // gamma·(alpha·e⁰ - alpha) is +0 for either zero
			default:
				dst[i] = float32(ga * math.Expm1(x))
			}
		}
	}
	return &unaryKernel{n: n, f32: f}, nil
}

// Softplus (opset 1), float32 only: y = ln(eˣ + 1), computed in float64
// as max(x, 0) + ln(1 + e^-|x|), which neither overflows for large x nor
// loses the small values of very negative ones.
func buildSoftplus(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: softplusF32}, nil
}

// softplusF32 computes ln(eˣ + 1) of each value.
func softplusF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = ln(exp(x) + 1) = max(x, 0) + log1p(exp(-|x|))
	for i, v := range src {
		x := float64(v)
		dst[i] = float32(max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))))
	}
}

// Softsign (opset 1), float32 only: y = x / (1 + |x|), computed in
// float64 and rounded once. As the formula, and the reference
// implementations, say: ±Inf gives NaN.
func buildSoftsign(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: softsignF32}, nil
}

// softsignF32 computes x / (1 + |x|) of each value.
func softsignF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = x / (1 + |x|)
	for i, v := range src {
		x := float64(v)
		dst[i] = float32(x / (1 + math.Abs(x)))
	}
}

// Gelu (opset 20, the first that defines it), float32 only: attribute
// approximate "none" (default) or "tanh",
//
//	none  y = x/2·(1 + erf(x/√2))
//	tanh  y = x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
//
// computed in float64 in forms equal to these that lose nothing where the
// parenthesis nears 0 (kern.GeluF32 and GeluTanhF32), and rounded once.
// As the formulas say, -Inf gives NaN.
func buildGelu(n *Node) (Kernel, error) {
	if n.Opset < 20 {
		return nil, n.Errorf("Gelu is an operator of opset 20 and later, the node's opset is %d", n.Opset)
	}
	approx, err := n.String("approximate", "none")
	if err != nil {
		return nil, err
	}
	switch approx {
	case "none":
		return &unaryKernel{n: n, f32: kern.GeluF32, act: kern.Activation{Kind: kern.ActGelu}}, nil
	case "tanh":
		return &unaryKernel{n: n, f32: kern.GeluTanhF32, act: kern.Activation{Kind: kern.ActGeluTanh}}, nil
	}
	return nil, n.Errorf("approximate %q is not none or tanh", approx)
}

// PRelu (opsets 1, 6, 7, 9 and 16; opset 1's consumed_inputs is
// ignored):
//
//	y = slope·x    for x < 0
//	y = x          for x ≥ 0 (and NaN)
//
// on float32 and, from opset 9, int64. slope broadcasts to X one way
// (numpy rules; the output has X's shape), which opset 7 made explicit:
// ONNX's version converter takes opset 6's PRelu to 7 unchanged. Opsets
// 1 and 6 also share a single-element slope of any shape across X.
func buildPRelu(n *Node) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 2); err != nil {
			return nil, Step{}, err
		}
		if len(in) != 2 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2", len(in))
		}
		x, slope := in[0], in[1]
		types := []DType{Float32}
		if n.Opset >= 9 {
			types = append(types, Int64)
		}
		if err := needDType(n, x, "X", types...); err != nil {
			return nil, Step{}, err
		}
		if slope.DType != x.DType {
			return nil, Step{}, n.Errorf("X has type %s but slope has %s", x.DType, slope.DType)
		}
		sShape := slope.Shape
		if n.Opset < 7 && NumElems(sShape) == 1 {
			sShape = nil
		}
		if out, ok := bcastShape(x.Shape, sShape); !ok || !SameShape(out, x.Shape) {
			return nil, Step{}, n.Errorf("slope's shape %s does not broadcast to X's %s",
				ShapeString(slope.Shape), ShapeString(x.Shape))
		}
		plan := planBcast(x.Shape, x.Shape, sShape)
		xLen, sLen := NumElems(x.Shape), NumElems(slope.Shape)
		run := func(env *kern.Env, in, out []*Tensor) error {
			if !checkRunTensors(in, 2) || !checkRunTensors(out, 1) ||
				in[0].Len() != xLen || in[1].Len() != sLen || out[0].Len() != xLen ||
				in[0].DType != in[1].DType || in[0].DType != out[0].DType {
				return fmt.Errorf("tensors do not match the plan")
			}
			if out[0].DType == Int64 {
				runBcast(env, opPRelu, &plan, out[0].I64, in[0].I64, in[1].I64)
			} else {
				runBcast(env, opPRelu, &plan, out[0].F32, in[0].F32, in[1].F32)
			}
			return nil
		}
		return []Value{{DType: x.DType, Shape: copyShape(x.Shape)}}, Step{Run: run}, nil
	}), nil
}
