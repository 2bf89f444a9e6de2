package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// affineAct fuses the activation that alone reads an Affine's output into
// the Affine, so the data is read and written once.
type affineAct struct{}

func (affineAct) name() string { return "AffineAct" }

func (affineAct) match(w *work, n *ir.Node) (any, bool) {
	if !isAffine(n) || hasActivation(n, "") {
		return nil, false
	}
	return w.activationAfter(n)
}

func (affineAct) apply(w *work, m any) { fuseActivation(w, m.(*fuseActMatch)) }
