package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// convBN folds a BatchNormalization into the Conv that feeds it, when the
// BN is the Conv output's only reader, the Conv's weights (and bias, if
// any) are constants and the BN has one channel per output channel.
// Grouped and depthwise convs fold the same way: weights are scaled per
// output channel.
type convBN struct{}

func (convBN) name() string { return "ConvBN" }

type convBNMatch struct {
	conv *ir.Node
	bn   *bnParams
}

func (convBN) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "BatchNormalization") {
		return nil, false
	}
	conv := w.producer[n.Inputs[0]]
	if !is(conv, "Conv") || w.soleConsumer(conv.Outputs[0]) != n {
		return nil, false
	}
	bn, _ := w.matchBN(n)
	if bn == nil {
		return nil, false
	}
	wt := w.constF32(conv.Input(1))
	if wt == nil || len(wt.Shape) < 3 || wt.Shape[0] != bn.channels() {
		return nil, false
	}
	if b := conv.Input(2); b != "" {
		bt := w.constF32(b)
		if bt == nil || len(bt.F32) != bn.channels() {
			return nil, false
		}
	}
	if !w.affords(len(wt.F32) + bn.channels()) {
		return nil, false
	}
	return &convBNMatch{conv: conv, bn: bn}, true
}

func (convBN) apply(w *work, m any) {
	cm := m.(*convBNMatch)
	conv, bn := cm.conv, cm.bn
	wt := w.constF32(conv.Input(1))
	per := len(wt.F32) / bn.channels()
	nw := make([]float32, len(wt.F32))
	nb := make([]float32, bn.channels())
	var b []float32
	if name := conv.Input(2); name != "" {
		b = w.constF32(name).F32
	}
	for m := range bn.channels() {
		// W'[m] = W[m] * s[m]
		for i := m * per; i < (m+1)*per; i++ {
			nw[i] = float32(float64(wt.F32[i]) * bn.s[m])
		}
		// b'[m] = b[m]*s[m] + t[m]  (= (b - mean)*s + bias)
		bm := 0.0
		if b != nil {
			bm = float64(b[m])
		}
		nb[m] = float32(bm*bn.s[m] + bn.t[m])
	}
	w.detach(conv)
	ensureName(conv)
	base := label(conv)
	wName := w.addConst(base+"_W_bn", ir.NewF32(wt.Shape, nw))
	bName := w.addConst(base+"_B_bn", ir.NewF32([]int{bn.channels()}, nb))
	conv.Inputs = []string{conv.Inputs[0], wName, bName}
	conv.Outputs[0] = bn.n.Outputs[0]
	w.setFate(bn.n, "folded", label(conv), "")
	w.remove(bn.n)
	w.attach(conv)
}
