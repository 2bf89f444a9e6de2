package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// isFusedConv reports whether n is a bnrun.FusedConv.
func isFusedConv(n *ir.Node) bool { return n != nil && n.Domain == Domain && n.OpType == "FusedConv" }

// toFusedConv turns a Conv into a bnrun.FusedConv in place (a FusedConv is
// returned as is). Its inputs become X, W, B, Z, pre_scale, pre_bias, with
// "" for the absent ones:
//
//	y = act(conv(pre_act(pre_scale*x + pre_bias), W) + B + Z)
func toFusedConv(n *ir.Node) *ir.Node {
	if isFusedConv(n) {
		return n
	}
	n.Domain, n.OpType, n.Opset = Domain, "FusedConv", 1
	for len(n.Inputs) < 6 {
		n.Inputs = append(n.Inputs, "")
	}
	return n
}

// convAdd fuses an Add that alone reads a Conv's output into the Conv, as a
// residual added in its epilogue: y = conv(x) + b + z. The other addend
// must provably have the Add's output shape, which must be the Conv's, so
// no broadcasting happens; the Conv must have no activation yet
// (act-then-add is not add-then-act).
type convAdd struct{}

func (convAdd) name() string { return "ConvAdd" }

type convAddMatch struct {
	conv, add *ir.Node
	z         string
}

func (convAdd) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "Conv") && !(isFusedConv(n) && n.Input(3) == "" && !hasActivation(n, "")) {
		return nil, false
	}
	out := n.Outputs[0]
	add := w.soleConsumer(out)
	if !is(add, "Add") || len(add.Inputs) != 2 {
		return nil, false
	}
	z := add.Inputs[0]
	if z == out {
		z = add.Inputs[1]
	}
	if z == out || z == "" || !w.sameShape(z, out) || !w.sameShape(add.Outputs[0], out) {
		return nil, false
	}
	return &convAddMatch{conv: n, add: add, z: z}, true
}

func (convAdd) apply(w *work, m any) {
	cm := m.(*convAddMatch)
	w.detach(cm.conv)
	conv := toFusedConv(cm.conv)
	conv.Inputs[3] = cm.z
	conv.Outputs[0] = cm.add.Outputs[0]
	w.remove(cm.add)
	w.attach(conv)
}
