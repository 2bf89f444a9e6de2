package ops

import (
	"math"

	"github.com/bnrun/bnrun/kern"
)

// ParseActivation reads a fused activation from a node's attributes
// prefix+"activation" (an op type: Relu, LeakyRelu, Clip, Sigmoid, Tanh,
// HardSigmoid, HardSwish, Silu for a Sigmoid and a Mul, or absent),
// prefix+"activation_alpha", prefix+"activation_beta", prefix+"clip_min"
// and prefix+"clip_max".
func ParseActivation(n *Node, prefix string) (kern.Activation, error) {
	a := kern.Activation{Min: float32(math.Inf(-1)), Max: float32(math.Inf(1))}
	kind, err := n.String(prefix+"activation", "")
	if err != nil {
		return a, err
	}
	switch kind {
	case "":
	case "Relu":
		a.Kind = kern.ActRelu
	case "Sigmoid":
		a.Kind = kern.ActSigmoid
	case "Tanh":
		a.Kind = kern.ActTanh
	case "Silu":
		a.Kind = kern.ActSilu
	case "LeakyRelu":
		a.Kind = kern.ActLeakyRelu
		a.Alpha, err = n.Float(prefix+"activation_alpha", 0.01)
	case "HardSigmoid":
		a.Kind = kern.ActHardSigmoid
		if a.Alpha, err = n.Float(prefix+"activation_alpha", 0.2); err == nil {
			a.Beta, err = n.Float(prefix+"activation_beta", 0.5)
		}
	case "HardSwish":
		a.Kind = kern.ActHardSwish
	case "Clip":
		a.Kind = kern.ActClip
		if a.Min, err = n.Float(prefix+"clip_min", a.Min); err == nil {
			a.Max, err = n.Float(prefix+"clip_max", a.Max)
		}
	default:
		return a, n.Errorf("unknown fused activation %q", kind)
	}
	return a, err
}
