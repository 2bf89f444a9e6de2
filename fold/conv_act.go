package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// convAct fuses the activation that alone reads a Conv's output into the
// Conv's epilogue (after the bias and any residual).
type convAct struct{}

func (convAct) name() string { return "ConvAct" }

func (convAct) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "Conv") && !(isFusedConv(n) && !hasActivation(n, "")) {
		return nil, false
	}
	return w.activationAfter(n)
}

func (convAct) apply(w *work, m any) {
	fm := m.(*fuseActMatch)
	w.detach(fm.n)
	toFusedConv(fm.n)
	fuseActivation(w, fm)
}
