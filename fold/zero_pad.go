package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// zeroPadElim removes a Pad whose pads are all zero (DenseNet's exports put
// one before each transition's AveragePool): it copies its input
// unchanged, whatever its mode and value. Its readers read the input
// instead. It runs after ConstFold, so that pads read from a Constant node
// are an initializer, and only where the probed shapes prove the output
// shaped like the input (a malformed Pad keeps its error for planning).
type zeroPadElim struct{}

func (zeroPadElim) name() string { return "ZeroPadElim" }

func (zeroPadElim) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "Pad") || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) != 1 {
		return nil, false
	}
	out := n.Outputs[0]
	if w.isOutput[out] || !w.sameShape(n.Inputs[0], out) {
		return nil, false
	}
	var pads []int64
	if n.Opset < 11 {
		name := "pads"
		if !n.Has(name) {
			name = "paddings" // opset 1
		}
		p, err := n.Ints(name, nil)
		if err != nil {
			return nil, false
		}
		pads = p
	} else {
		if len(n.Inputs) < 2 || n.Inputs[1] == "" {
			return nil, false
		}
		c := w.g.Initializers[n.Inputs[1]]
		if c == nil || c.DType != ir.Int64 {
			return nil, false
		}
		pads = c.I64
	}
	if len(pads) == 0 {
		return nil, false
	}
	for _, p := range pads {
		if p != 0 {
			return nil, false
		}
	}
	return n, true
}

func (zeroPadElim) apply(w *work, m any) {
	n := m.(*ir.Node)
	in, out := n.Inputs[0], n.Outputs[0]
	seen := map[*ir.Node]bool{}
	for _, r := range w.readersOf(out) {
		if seen[r] {
			continue // a node reading out twice is listed twice
		}
		seen[r] = true
		w.detach(r)
		for i, t := range r.Inputs {
			if t == out {
				r.Inputs[i] = in
			}
		}
		w.attach(r)
	}
	w.remove(n)
}
