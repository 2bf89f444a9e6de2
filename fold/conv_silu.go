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

// siluMatch is a Conv with the Sigmoid and Mul after it.
type siluMatch struct{ n, sig, mul *ir.Node }

func (convSilu) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "Conv") && !(isFusedConv(n) && !hasActivation(n, "")) {
		return nil, false
	}
	x := n.Outputs[0]
	if w.isOutput[x] || w.readCount(x) != 2 {
		return nil, false
	}
	var sig, mul *ir.Node
	for _, r := range w.readersOf(x) {
		switch {
		case is(r, "Sigmoid") && r.Input(0) == x:
			sig = r
		case is(r, "Mul"):
			mul = r
		}
	}
	if sig == nil || mul == nil || len(mul.Inputs) != 2 || len(mul.Outputs) != 1 {
		return nil, false
	}
	s := sig.Outputs[0]
	if w.soleConsumer(s) != mul || !(mul.Input(0) == x && mul.Input(1) == s || mul.Input(0) == s && mul.Input(1) == x) {
		return nil, false
	}
	return &siluMatch{n: n, sig: sig, mul: mul}, true
}

func (convSilu) apply(w *work, m any) {
	sm := m.(*siluMatch)
	w.detach(sm.n)
	toFusedConv(sm.n)
	setActivation(sm.n, "", activation{kind: "Silu"})
	sm.n.Outputs[0] = sm.mul.Outputs[0]
	w.remove(sm.sig, sm.mul)
	w.attach(sm.n)
}
