package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// gemmAct fuses the activation that alone reads a Gemm's output into the
// Gemm, which becomes bnrun.FusedGemm (same inputs and attributes, plus
// the activation).
type gemmAct struct{}

func (gemmAct) name() string { return "GemmAct" }

func (gemmAct) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "Gemm") {
		return nil, false
	}
	return w.activationAfter(n)
}

func (gemmAct) apply(w *work, m any) {
	fm := m.(*fuseActMatch)
	w.detach(fm.n)
	fm.n.Domain, fm.n.OpType, fm.n.Opset = Domain, "FusedGemm", 1
	fuseActivation(w, fm)
}
