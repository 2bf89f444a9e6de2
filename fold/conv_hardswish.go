package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// convHardSwish fuses HardSwish written as two nodes after a Conv into
// the Conv's epilogue: a HardSigmoid of the Conv's output with alpha 1/6
// (rounded to float32) and beta 1/2, and the Mul of the two, as PyTorch
// exports MobileNetV3's hardswish below opset 14, become the HardSwish
// activation, which is x times that HardSigmoid, rounded as the two nodes
// round. The Conv's output must have no other reader.
type convHardSwish struct{}

func (convHardSwish) name() string { return "ConvHardSwish" }

func (convHardSwish) match(w *work, n *ir.Node) (any, bool) {
	return matchGate(w, n, func(g *ir.Node) bool {
		if !is(g, "HardSigmoid") {
			return false
		}
		a, ok := w.readActivation(g)
		return ok && a.alpha == float32(1.0/6) && a.beta == 0.5
	})
}

func (convHardSwish) apply(w *work, m any) {
	applyGate(w, m.(*gateMatch), activation{kind: "HardSwish"})
}
