package kern

import (
	"fmt"
	"math"
)

// ActKind names an activation that kernels can apply in place.
type ActKind uint8

// The fusable activations.
const (
	ActNone ActKind = iota
	ActRelu
	ActLeakyRelu
	ActClip
	ActSigmoid
	ActTanh
	// ActSilu is x·sigmoid(x) (SiLU, Swish), the Sigmoid and Mul of an
	// ONNX graph: the sigmoid rounded to float32, then the product.
	ActSilu
	// ActHardSigmoid is max(0, min(1, Alpha·x + Beta)), the product and
	// the sum each rounded.
	ActHardSigmoid
	// ActHardSwish is x·max(0, min(1, x/6 + 1/2)): x times HardSigmoid
	// with Alpha = float32(1/6), Beta = 1/2 (ONNX's HardSwish, MobileNetV3's
	// activation), each operation rounded.
	ActHardSwish
	// ActGelu is ONNX's Gelu, x/2·(1 + erf(x/√2)) (see GeluF32), and
	// ActGeluTanh its tanh approximation (GeluTanhF32). No fold rule fuses
	// them into a convolution: they describe a standalone Gelu.
	ActGelu
	ActGeluTanh
)

// hardSwishAlpha is HardSwish's slope, 1/6 rounded to float32.
const hardSwishAlpha = float32(1.0 / 6)

// Activation is an elementwise activation fused into another kernel. It
// computes exactly what the standalone operator of the same name computes.
type Activation struct {
	Kind     ActKind
	Alpha    float32 // LeakyRelu's and HardSigmoid's slope
	Beta     float32 // HardSigmoid's offset
	Min, Max float32 // Clip's bounds
}

// String names the activation as its op type ("" for none).
func (a Activation) String() string {
	switch a.Kind {
	case ActRelu:
		return "Relu"
	case ActLeakyRelu:
		return fmt.Sprintf("LeakyRelu(%g)", a.Alpha)
	case ActClip:
		return fmt.Sprintf("Clip(%g,%g)", a.Min, a.Max)
	case ActSigmoid:
		return "Sigmoid"
	case ActTanh:
		return "Tanh"
	case ActSilu:
		return "Silu"
	case ActHardSigmoid:
		return fmt.Sprintf("HardSigmoid(%g,%g)", a.Alpha, a.Beta)
	case ActHardSwish:
		return "HardSwish"
	case ActGelu:
		return "Gelu"
	case ActGeluTanh:
		return "Gelu(tanh)"
	}
	return ""
}

// Apply applies the activation to x in place.
func (a Activation) Apply(x []float32) {
	switch a.Kind {
	case ActRelu:
		ReluF32(x, x)
	case ActLeakyRelu:
		// y = x if x >= 0 else alpha*x
		for i, v := range x {
			if v < 0 {
				x[i] = a.Alpha * v
			}
		}
	case ActClip:
		ClipRange(x, x, a.Min, a.Max)
	case ActSigmoid:
		SigmoidF32(x, x)
	case ActTanh:
		TanhF32(x, x)
	case ActSilu:
		siluF32(x, x)
	case ActHardSigmoid:
		HardSigmoidF32(x, x, a.Alpha, a.Beta)
	case ActHardSwish:
		HardSwishF32(x, x)
	case ActGelu:
		GeluF32(x, x)
	case ActGeluTanh:
		GeluTanhF32(x, x)
	}
}

// applyK is Apply on k's vector kernels where it has them (Relu, Clip,
// Sigmoid, Silu, HardSigmoid, HardSwish).
func (a Activation) applyK(k *Tier, x []float32) {
	switch a.Kind {
	case ActRelu:
		reluRow(k, x, x)
	case ActClip:
		clipRow(k, x, x, a.Min, a.Max)
	case ActSigmoid:
		sigmoidRow(k, x, x)
	case ActSilu:
		siluRow(k, x, x)
	case ActHardSigmoid, ActHardSwish:
		if k != nil && k.Hard != nil {
			k.Hard(x, x, a)
			return
		}
		a.Apply(x)
	default:
		a.Apply(x)
	}
}

// hard reports whether a is HardSigmoid or HardSwish.
func (a Activation) hard() bool { return a.Kind == ActHardSigmoid || a.Kind == ActHardSwish }

// hardParams returns HardSigmoid's slope and offset for a, and whether it
// is HardSwish (slope 1/6, offset 1/2, times x).
func (a Activation) hardParams() (alpha, beta float32, swish bool) {
	if a.Kind == ActHardSwish {
		return hardSwishAlpha, 0.5, true
	}
	return a.Alpha, a.Beta, false
}

// One applies the activation to one value.
func (a Activation) One(v float32) float32 {
	switch a.Kind {
	case ActRelu:
		return max(v, 0)
	case ActLeakyRelu:
		if v < 0 {
			return a.Alpha * v
		}
	case ActClip:
		return min(max(v, a.Min), a.Max)
	case ActSigmoid:
		return float32(1 / (1 + math.Exp(-float64(v))))
	case ActTanh:
		return float32(math.Tanh(float64(v)))
	case ActSilu:
		return v * float32(1/(1+math.Exp(-float64(v))))
	case ActHardSigmoid:
		return hardSigmoid(v, a.Alpha, a.Beta)
	case ActHardSwish:
		return v * hardSigmoid(v, hardSwishAlpha, 0.5)
	case ActGelu, ActGeluTanh:
		y := [1]float32{v}
		a.Apply(y[:])
		return y[0]
	}
	return v
}

// hardSigmoid returns max(0, min(1, alpha·v + beta)), the product rounded
// before the sum (the conversion keeps the compiler from fusing them); a
// NaN stays NaN.
func hardSigmoid(v, alpha, beta float32) float32 {
	return max(0, min(1, float32(alpha*v)+beta))
}

// HardSigmoidF32 computes dst = max(0, min(1, alpha·src + beta)) for each
// value, the product and the sum each rounded, as HardSigmoid does.
func HardSigmoidF32(dst, src []float32, alpha, beta float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = hardSigmoid(v, alpha, beta)
	}
}

// HardSwishF32 computes dst = src·max(0, min(1, src/6 + 1/2)) for each
// value (the slope 1/6 rounded to float32, each operation rounded), as
// HardSwish does.
func HardSwishF32(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v * hardSigmoid(v, hardSwishAlpha, 0.5)
	}
}
