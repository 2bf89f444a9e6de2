package fold

import "github.com/bnrun/bnrun/ops"

// identityElim removes Identity nodes and Dropout nodes that are the
// identity at inference (no mask read, training_mode absent or a constant
// false): their readers read the input instead. A node whose output is a
// graph output stays, so the graph keeps its output names.
type identityElim struct{ rebuilds }

func (identityElim) name() string { return "IdentityElim" }

func (identityElim) match(w *work, n *ops.Node) (any, bool) {
	if !is(n, "Identity", "Dropout") || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) == 0 {
		return nil, false
	}
	if w.isOutput[n.Outputs[0]] || !w.onlyFirstOutputUsed(n) {
		return nil, false
	}
	if n.OpType == "Dropout" && len(n.Inputs) >= 3 && n.Inputs[2] != "" {
		tm := w.g.Initializers[n.Inputs[2]]
		if tm == nil || tm.Len() != 1 || (tm.DType == ops.Int64 && tm.I64[0] != 0) || (tm.DType == ops.Float32 && tm.F32[0] != 0) {
			return nil, false
		}
	}
	return n, true
}

func (identityElim) apply(w *work, m any) {
	n := m.(*ops.Node)
	w.rename(n.Outputs[0], n.Inputs[0])
	w.remove(n)
}
