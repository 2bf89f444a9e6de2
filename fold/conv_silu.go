package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// convSilu fuses SiLU after a Conv into the Conv's epilogue: a Sigmoid of
// the Conv's output and the Mul of the two (x·sigmoid(x), as exporters
// write SiLU and Swish; EfficientNet's and RegNet's activation) become
// the Silu activation, which rounds as the two nodes do. The Conv's output
// must have no other reader.
type convSilu struct{}

func (convSilu) name() string { return "ConvSilu" }

// gateMatch is a Conv with a gate node of its output after it and the Mul
// of the output and the gate (x·gate(x)).
type gateMatch struct{ n, gate, mul *ir.Node }

func (convSilu) match(w *work, n *ir.Node) (any, bool) {
	return matchGate(w, n, func(g *ir.Node) bool { return is(g, "Sigmoid") })
}

// matchGate matches a Conv, or a FusedConv without an activation, whose
// output x has exactly two readers: a node for which gate reports true,
// reading x as its first input, and a Mul of x and the gate's output, its
// sole reader, in either order.
func matchGate(w *work, n *ir.Node, gate func(*ir.Node) bool) (*gateMatch, bool) {
	if !is(n, "Conv") && !(isFusedConv(n) && !hasActivation(n, "")) {
		return nil, false
	}
	x := n.Outputs[0]
	if w.isOutput[x] || w.readCount(x) != 2 {
		return nil, false
	}
	var g, mul *ir.Node
	for _, r := range w.readersOf(x) {
		switch {
		case gate(r) && r.Input(0) == x && len(r.Outputs) == 1:
			g = r
		case is(r, "Mul"):
			mul = r
		}
	}
	if g == nil || mul == nil || len(mul.Inputs) != 2 || len(mul.Outputs) != 1 {
		return nil, false
	}
	s := g.Outputs[0]
	if w.soleConsumer(s) != mul || !(mul.Input(0) == x && mul.Input(1) == s || mul.Input(0) == s && mul.Input(1) == x) {
		return nil, false
	}
	return &gateMatch{n: n, gate: g, mul: mul}, true
}

func (convSilu) apply(w *work, m any) { applyGate(w, m.(*gateMatch), activation{kind: "Silu"}) }

// applyGate makes the Conv of gm a FusedConv with activation a, writing
// the Mul's output, and removes the gate and the Mul.
func applyGate(w *work, gm *gateMatch, a activation) {
	w.detach(gm.n)
	toFusedConv(gm.n)
	setActivation(gm.n, "", a)
	gm.n.Outputs[0] = gm.mul.Outputs[0]
	w.remove(gm.gate, gm.mul)
	w.attach(gm.n)
}
