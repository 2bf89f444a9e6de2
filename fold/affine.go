package fold

import "github.com/bnrun/bnrun/ops"

// bnAffine turns every BatchNormalization that no folding rule could
// remove (DenseNet's BN after Concat, a BN before a padded Conv) into one
// per-channel affine step, bnrun.Affine(X, a, b): y = a[c]*x + b[c], with a
// and b computed once instead of at every run.
type bnAffine struct{ rebuilds }

func (bnAffine) name() string { return "BNAffine" }

func (bnAffine) match(w *work, n *ops.Node) (any, bool) {
	if !is(n, "BatchNormalization") {
		return nil, false
	}
	bn, reason := w.matchBN(n)
	if bn == nil {
		w.setFate(n, "kept", "", reason)
		return nil, false
	}
	if bn.channels() == 1 && w.rank(n.Inputs[0]) < 2 {
		// BN takes a 1-D X as one channel; Affine needs rank >= 2.
		w.setFate(n, "kept", "", "input not proven to have rank 2 or more")
		return nil, false
	}
	return bn, true
}

func (bnAffine) apply(w *work, m any) {
	bn := m.(*bnParams)
	n := bn.n
	// AffineAct renames the output that an unnamed node's label is made
	// of; a name keeps the fate's Into true.
	ensureName(n)
	base := label(n)
	a := w.addConst(base+"_a", ops.NewF32([]int{bn.channels()}, f32(bn.s)))
	b := w.addConst(base+"_b", ops.NewF32([]int{bn.channels()}, f32(bn.t)))
	n.Domain, n.OpType, n.Opset = Domain, "Affine", 1
	n.Inputs = []string{n.Inputs[0], a, b}
	n.Outputs = n.Outputs[:1]
	n.Attrs = map[string]*ops.Attr{}
	w.setFate(n, "affine", label(n), "")
}

// isAffine reports whether n is a bnrun.Affine.
func isAffine(n *ops.Node) bool { return n != nil && n.Domain == Domain && n.OpType == "Affine" }

// affineAct fuses the activation that alone reads an Affine's output into
// the Affine, so the data is read and written once.
type affineAct struct{ rebuilds }

func (affineAct) name() string { return "AffineAct" }

func (affineAct) match(w *work, n *ops.Node) (any, bool) {
	if !isAffine(n) || hasActivation(n, "") {
		return nil, false
	}
	return w.activationAfter(n)
}

func (affineAct) apply(w *work, m any) { fuseActivation(w, m.(*fuseActMatch)) }

// affineConv hands an Affine (with no activation, or Relu) that only a
// Conv reads to that Conv, which applies it as it reads its input: the
// Conv becomes bnrun.FusedConv with inputs pre_scale and pre_bias and
// attribute pre_activation. Padding stays zero after the affine step, as
// in the unfused graph, because the Conv pads the affine step's output.
type affineConv struct{ rebuilds }

func (affineConv) name() string { return "AffineConv" }

type affineConvMatch struct {
	aff, conv *ops.Node
}

func (affineConv) match(w *work, n *ops.Node) (any, bool) {
	if !isAffine(n) {
		return nil, false
	}
	if act, _ := n.String("activation", ""); act != "" && act != "Relu" {
		return nil, false
	}
	conv := w.soleConsumer(n.Outputs[0])
	if conv == nil || conv.Input(0) != n.Outputs[0] {
		return nil, false
	}
	if !is(conv, "Conv") && !(isFusedConv(conv) && conv.Input(4) == "") {
		return nil, false
	}
	return &affineConvMatch{aff: n, conv: conv}, true
}

func (affineConv) apply(w *work, m any) {
	am := m.(*affineConvMatch)
	conv := toFusedConv(am.conv)
	conv.Inputs[0] = am.aff.Inputs[0]
	conv.Inputs[4], conv.Inputs[5] = am.aff.Inputs[1], am.aff.Inputs[2]
	if act, _ := am.aff.String("activation", ""); act == "Relu" {
		setStringAttr(conv, "pre_activation", "Relu")
	}
	for name, f := range w.fates {
		if f.Fate == "affine" && f.Into == label(am.aff) {
			w.fates[name].Fate, w.fates[name].Into = "fused-input", label(conv)
		}
	}
	w.remove(am.aff)
}
