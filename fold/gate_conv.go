package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// gateConv hands a squeeze-and-excitation block's gate to the convolution
// after it: a Mul of a tensor X [N, C, H, W] and a computed gate [N, C, 1,
// 1] (each image's channel scales: global pool, two small layers, a
// sigmoid), read only by an ungrouped 1×1 Conv as its input, becomes that
// Conv's gate input (bnrun.FusedConv's input 6), which the Conv applies as
// it reads X: the pass over memory the Mul made is gone where the Conv
// copies its input anyway (its pixel-major and padded copies), and the
// product is the Mul's bit for bit. RegNet-Y's, EfficientNet's and
// MobileNetV3's blocks end so. It runs last, after DwBlock, which must
// not take a gated Conv for the projection of a block.
type gateConv struct{}

func (gateConv) name() string { return "GateConv" }

// gateConvMatch is the Mul, its input X and gate, and the Conv.
type gateConvMatch struct {
	mul, conv *ir.Node
	x, gate   string
}

func (gateConv) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "Mul") || len(n.Inputs) != 2 || len(n.Outputs) != 1 {
		return nil, false
	}
	conv := w.soleConsumer(n.Outputs[0])
	if conv == nil || conv.Input(0) != n.Outputs[0] || !w.gateConvOK(conv) {
		return nil, false
	}
	for _, order := range [][2]int{{0, 1}, {1, 0}} {
		x, g := n.Input(order[0]), n.Input(order[1])
		if w.g.Initializers[g] == nil && w.isGate(x, g) && w.sameShape(x, n.Outputs[0]) {
			return &gateConvMatch{mul: n, conv: conv, x: x, gate: g}, true
		}
	}
	return nil, false
}

// gateConvOK reports whether conv can take a gate: a Conv, or a
// FusedConv without a prologue or gate, of one group and constant 1×1
// weights (a 2-D window wider than that may sum in another order with a
// prologue, and the fold keeps the Mul's results bit for bit).
func (w *work) gateConvOK(conv *ir.Node) bool {
	if !is(conv, "Conv") && !(isFusedConv(conv) && conv.Input(4) == "" && conv.Input(6) == "" && !hasActivation(conv, "pre_")) {
		return false
	}
	group, err := conv.Int("group", 1)
	wt := w.g.Initializers[conv.Input(1)]
	return err == nil && group == 1 && wt != nil && len(wt.Shape) == 4 && wt.Shape[2] == 1 && wt.Shape[3] == 1
}

// isGate reports whether tensors x and g provably have shapes [N, C, H, W]
// and [N, C, 1, 1] at every probe.
func (w *work) isGate(x, g string) bool {
	if len(w.shapes) == 0 {
		return false
	}
	for _, m := range w.shapes {
		sx, okx := m[x]
		sg, okg := m[g]
		if !okx || !okg || len(sx) != 4 || len(sg) != 4 || sg[0] != sx[0] || sg[1] != sx[1] || sg[2] != 1 || sg[3] != 1 {
			return false
		}
	}
	return true
}

func (gateConv) apply(w *work, m any) {
	gm := m.(*gateConvMatch)
	w.detach(gm.conv)
	conv := toFusedConv(gm.conv)
	for len(conv.Inputs) < 7 {
		conv.Inputs = append(conv.Inputs, "")
	}
	conv.Inputs[0], conv.Inputs[6] = gm.x, gm.gate
	w.remove(gm.mul)
	w.attach(conv)
}
