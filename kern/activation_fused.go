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
)

// Activation is an elementwise activation fused into another kernel. It
// computes exactly what the standalone operator of the same name computes.
type Activation struct {
	Kind     ActKind
	Alpha    float32 // LeakyRelu's slope
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
	}
}

// applyK is Apply on k's vector kernels where it has them (Relu, Clip,
// Sigmoid, Silu).
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
	default:
		a.Apply(x)
	}
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
	}
	return v
}
