package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// bnAffine turns every BatchNormalization that no folding rule could
// remove (DenseNet's BN after Concat, a BN before a padded Conv) into one
// per-channel affine step, bnrun.Affine(X, a, b): y = a[c]*x + b[c], with a
// and b computed once instead of at every run.
type bnAffine struct{}

func (bnAffine) name() string { return "BNAffine" }

func (bnAffine) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "BatchNormalization") {
		return nil, false
	}
	bn, reason := w.matchBN(n)
	if bn == nil {
		w.keep(n, reason)
		return nil, false
	}
	if bn.channels() == 1 && w.rank(n.Inputs[0]) < 2 {
		// BN takes a 1-D X as one channel; Affine needs rank >= 2.
		w.keep(n, "input not proven to have rank 2 or more")
		return nil, false
	}
	if !w.affords(2 * bn.channels()) {
		w.keep(n, "the optimisation pass has made as many new constants as it may")
		return nil, false
	}
	return bn, true
}

func (bnAffine) apply(w *work, m any) {
	bn := m.(*bnParams)
	n := bn.n
	w.detach(n)
	// AffineAct renames the output that an unnamed node's label is made
	// of; a name keeps the fate's Into true.
	ensureName(n)
	base := label(n)
	a := w.addConst(base+"_a", ir.NewF32([]int{bn.channels()}, f32(bn.s)))
	b := w.addConst(base+"_b", ir.NewF32([]int{bn.channels()}, f32(bn.t)))
	n.Domain, n.OpType, n.Opset = Domain, "Affine", 1
	n.Inputs = []string{n.Inputs[0], a, b}
	n.Outputs = n.Outputs[:1]
	n.Attrs = map[string]*ir.Attr{}
	w.setFate(n, "affine", label(n), "")
	w.attach(n)
}

// keep records why the BatchNormalization n stays. Its fate is shared
// with the other BNs of its name, if any, and so depends on the order in
// which the scan looks at them: such a BN is looked at on every scan.
func (w *work) keep(n *ir.Node, reason string) {
	w.setFate(n, "kept", "", reason)
	if w.sharedFate[label(n)] {
		w.stick(n, true)
	}
}

// isAffine reports whether n is a bnrun.Affine.
func isAffine(n *ir.Node) bool { return n != nil && n.Domain == Domain && n.OpType == "Affine" }
