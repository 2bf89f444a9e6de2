package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// affineConv hands an Affine (with no activation, or Relu) that only a
// Conv reads to that Conv, which applies it as it reads its input: the
// Conv becomes bnrun.FusedConv with inputs pre_scale and pre_bias and
// attribute pre_activation. Padding stays zero after the affine step, as
// in the unfused graph, because the Conv pads the affine step's output.
type affineConv struct{}

func (affineConv) name() string { return "AffineConv" }

type affineConvMatch struct {
	aff, conv *ir.Node
}

func (affineConv) match(w *work, n *ir.Node) (any, bool) {
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
	w.detach(am.conv)
	conv := toFusedConv(am.conv)
	conv.Inputs[0] = am.aff.Inputs[0]
	conv.Inputs[4], conv.Inputs[5] = am.aff.Inputs[1], am.aff.Inputs[2]
	if act, _ := am.aff.String("activation", ""); act == "Relu" {
		setStringAttr(conv, "pre_activation", "Relu")
	}
	w.affineFusedInto(am.aff, conv)
	w.remove(am.aff)
	w.attach(conv)
}
