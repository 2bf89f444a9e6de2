package ops

import (
	"fmt"
	"math"
)

// Activations: Relu, Sigmoid, Tanh, LeakyRelu and Clip.

func init() {
	Register("Relu", buildRelu)
	Register("Sigmoid", buildSigmoid)
	Register("Tanh", buildTanh)
	Register("LeakyRelu", buildLeakyRelu)
	Register("Clip", buildClip)
}

// unaryKernel is a shape-preserving element-wise op over one input. f32
// maps a float32 range; i64, when set, an int64 one (nil means int64
// inputs are rejected).
type unaryKernel struct {
	n   *Node
	f32 func(dst, src []float32)
	i64 func(dst, src []int64)
	act Activation // what f32 computes, for Step.Dev
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

func (k *unaryKernel) run(env *Env, in, out []*Tensor) error {
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
	if ks := kernelsOf(env); ks != nil {
		switch {
		case k.act.Kind == ActSigmoid && ks.Sigmoid != nil:
			f = ks.Sigmoid
		case k.act.Kind == ActRelu && ks.Relu != nil:
			f = ks.Relu
		}
	}
	forChunksOf(env, len(dst), elemGrain, mapArgs{f, dst, src})
	return nil
}

// Relu (opsets 6, 13, 14; int64 accepted at every version).
func buildRelu(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: reluF32, i64: reluI64, act: Activation{Kind: ActRelu}}, nil
}

func reluF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = max(x, 0); NaN stays NaN
	for i, v := range src {
		dst[i] = max(v, 0)
	}
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
	return &unaryKernel{n: n, f32: sigmoidF32, act: Activation{Kind: ActSigmoid}}, nil
}

func sigmoidF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = 1 / (1 + exp(-x)), evaluated in float64 and rounded once
	for i, v := range src {
		dst[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}

// The constants of sigmoidFast: log2(e), ln 2 in two parts (the first
// with 9 significant bits, so that m·ln2Hi is exact for |m| < 128) and
// the Taylor coefficients of exp.
const (
	sigLog2e float32 = 1.44269504
	sigLn2Hi float32 = 0.693359375
	sigLn2Lo float32 = -2.12194440e-4
)

// sigmoidFast computes 1/(1 + exp(-x)) for each value in float32
// arithmetic, the portable twin of the tiers' vector Sigmoid kernels
// (SigmoidAVX2 computes the same operations). With x clamped to [-88, 87]
// (a NaN kept):
//
//	exp(-x) = 2^-m · p(r),  m = round(x·log2e),  r = m·ln2 - x  (|r| ≤ 0.35)
//	p(r) = 1 + r + r²/2! + … + r⁷/7!   (Horner; truncation below 6e-9)
//
// r and each Horner step one fused multiply-add rounded once (fma32), the
// rest each operation rounded to float32, then 1/(1 + e). Its
// error against the correctly rounded sigmoid is a few units in the last
// place (TestSigmoidFastAccuracy); below sigmoid(-88) = 6e-39 it returns
// that value.
func sigmoidFast(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		if x != x {
			dst[i] = x
			continue
		}
		x = min(max(x, -88), 87)
		m := float32(math.RoundToEven(float64(float32(x * sigLog2e))))
		r := fma32(m, sigLn2Lo, fma32(m, sigLn2Hi, -x))
		p := float32(1) / 5040
		p = fma32(p, r, float32(1)/720)
		p = fma32(p, r, float32(1)/120)
		p = fma32(p, r, float32(1)/24)
		p = fma32(p, r, float32(1)/6)
		p = fma32(p, r, float32(1)/2)
		p = fma32(p, r, 1)
		p = fma32(p, r, 1)
		// 2^-m from the exponent bits: bits(1) - m<<23, m in [-126, 127]
		e := float32(p * math.Float32frombits(uint32(0x3f800000-int32(m)<<23)))
		dst[i] = 1 / (1 + e)
	}
}

// reluRow computes dst = max(src, 0) on k's vector kernel when it has
// one, else in a Go loop (reluF32); the two agree bit for bit.
func reluRow(k *Kernels, dst, src []float32) {
	if k != nil && k.Relu != nil {
		k.Relu(dst, src)
		return
	}
	reluF32(dst, src)
}

// siluF32 computes dst = src·sigmoid(src), the sigmoid as sigmoidF32
// rounds it, then the product rounded: what a graph's Sigmoid and Mul
// compute on the generic tier.
func siluF32(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v * float32(1/(1+math.Exp(-float64(v))))
	}
}

// siluFast is siluF32 with sigmoidFast's sigmoid: the portable twin of
// the tiers' vector Silu kernels.
func siluFast(dst, src []float32) {
	src = src[:len(dst)]
	var buf [64]float32
	for len(dst) > 0 {
		n := min(len(dst), len(buf))
		s := buf[:n]
		sigmoidFast(s, src[:n])
		// y = x·sigmoid(x)
		for i, v := range src[:n] {
			dst[i] = v * s[i]
		}
		dst, src = dst[n:], src[n:]
	}
}

// siluRow computes dst = src·sigmoid(src) on k's vector kernel when it
// has one, else in float64 (siluF32).
func siluRow(k *Kernels, dst, src []float32) {
	if k != nil && k.Silu != nil {
		k.Silu(dst, src)
		return
	}
	siluF32(dst, src)
}

// sigmoidRow computes dst = sigmoid(src) on k's vector kernel when it has
// one, else in float64 (sigmoidF32).
func sigmoidRow(k *Kernels, dst, src []float32) {
	if k != nil && k.Sigmoid != nil {
		k.Sigmoid(dst, src)
		return
	}
	sigmoidF32(dst, src)
}

// Tanh (opsets 6, 13), float32 only.
func buildTanh(n *Node) (Kernel, error) {
	return &unaryKernel{n: n, f32: tanhF32, act: Activation{Kind: ActTanh}}, nil
}

func tanhF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = tanh(x), evaluated in float64 and rounded once
	for i, v := range src {
		dst[i] = float32(math.Tanh(float64(v)))
	}
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
	return &unaryKernel{n: n, f32: f, act: Activation{Kind: ActLeakyRelu, Alpha: alpha}}, nil
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
	return &UnaryDev{N: NumElems(x.Shape), Act: Activation{Kind: ActClip, Min: lo, Max: hi}}
}

func (k *clipKernel) run(env *Env, in, out []*Tensor) error {
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
		clipRange(y.I64, x.I64, lo, hi)
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

// clipRange clamps src into [lo, hi]; when lo > hi every element becomes
// hi, as the spec's Min(max, Max(x, min)). NaN passes through.
func clipRange[T numeric](dst, src []T, lo, hi T) {
	src = src[:len(dst)]
	// y = min(hi, max(x, lo))
	for i, v := range src {
		dst[i] = min(max(v, lo), hi)
	}
}

// clipArgs are a float32 Clip step's operands.
type clipArgs struct {
	dst, src []float32
	lo, hi   float32
}

// Range clips the chunk [lo, hi).
func (c *clipArgs) Range(lo, hi int) { clipRange(c.dst[lo:hi], c.src[lo:hi], c.lo, c.hi) }
