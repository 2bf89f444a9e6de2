package fold

import (
	"context"
	"fmt"

	"github.com/bnrun/bnrun/ir"
)

// identityElim removes Identity nodes and Dropout nodes that are the
// identity at inference (no mask read, training_mode absent or a constant
// false): their readers read the input instead. A node whose output is a
// graph output stays, so the graph keeps its output names.
//
// Removing one such node never stops another from being removable, and
// what the graph becomes depends only on which nodes go, so the rule runs
// as a pass with a work list rather than a scan. Readers are not renamed
// node by node (in a chain listed last link first, the readers of the
// last link would move once per link): the pass records each removed
// node's output as an alias of its input, in a union-find forest, and
// renames every input once at the end.
type identityElim struct{}

func (identityElim) name() string { return "IdentityElim" }

// aliases is the state of the identityElim pass.
type aliases struct {
	w *work
	// parent maps the output of a removed node to what it reads (a root
	// maps to nothing); find follows it.
	parent map[string]string
	// reads counts the input slots of live nodes that read each root.
	reads map[string]int
	// modes lists, per root, the Dropouts whose training_mode reads it.
	modes map[string][]*ir.Node
	// queue holds the nodes to look at; queued marks them by position.
	queue  []*ir.Node
	queued []bool
}

// find returns the root of tensor t, compressing the path to it.
func (a *aliases) find(t string) string {
	r := t
	for {
		p, ok := a.parent[r]
		if !ok {
			break
		}
		r = p
	}
	for t != r {
		p := a.parent[t]
		a.parent[t] = r
		t = p
	}
	return r
}

// push queues n when it is a live Identity or Dropout not queued yet.
func (a *aliases) push(n *ir.Node) {
	if !is(n, "Identity", "Dropout") {
		return
	}
	if p := a.w.pos[n]; !a.w.dead[p] && !a.queued[p] {
		a.queued[p] = true
		a.queue = append(a.queue, n)
	}
}

func (identityElim) pass(ctx context.Context, w *work) (int, error) {
	a := &aliases{w: w, parent: map[string]string{}, reads: make(map[string]int, len(w.readers)),
		modes: map[string][]*ir.Node{}, queued: make([]bool, len(w.order))}
	for t, r := range w.readers {
		a.reads[t] = r.n
	}
	for _, n := range w.order {
		if is(n, "Dropout") && len(n.Inputs) >= 3 && n.Inputs[2] != "" {
			a.modes[n.Inputs[2]] = append(a.modes[n.Inputs[2]], n)
		}
		a.push(n)
	}
	removed := 0
	for step := 0; step < len(a.queue); step++ {
		if step%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return removed, fmt.Errorf("rule IdentityElim: %w", err)
			}
		}
		n := a.queue[step]
		a.queue[step] = nil
		a.queued[w.pos[n]] = false
		if a.removable(n) {
			a.remove(n)
			removed++
		}
	}
	if removed == 0 {
		return 0, nil
	}
	for p, n := range w.order {
		if w.dead[p] {
			continue
		}
		for i, in := range n.Inputs {
			if in != "" {
				n.Inputs[i] = a.find(in)
			}
		}
	}
	if err := w.reindex(ctx); err != nil {
		return removed, fmt.Errorf("rule IdentityElim: %w", err)
	}
	return removed, nil
}

// removable reports whether n is an Identity, or a Dropout that is the
// identity at inference, and may go.
func (a *aliases) removable(n *ir.Node) bool {
	w := a.w
	if !is(n, "Identity", "Dropout") || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) == 0 {
		return false
	}
	if w.isOutput[n.Outputs[0]] {
		return false
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && (a.reads[o] > 0 || w.isOutput[o]) {
			return false
		}
	}
	if n.OpType == "Dropout" && len(n.Inputs) >= 3 && n.Inputs[2] != "" {
		tm := w.g.Initializers[a.find(n.Inputs[2])]
		if tm == nil || tm.Len() != 1 || (tm.DType == ir.Int64 && tm.I64[0] != 0) || (tm.DType == ir.Float32 && tm.F32[0] != 0) {
			return false
		}
	}
	return true
}

// remove removes n: what read its output reads its input, and the nodes
// that may have become removable are queued (the producer of a tensor n
// was the last reader of, and the Dropouts whose training_mode now reads
// an initializer).
func (a *aliases) remove(n *ir.Node) {
	w := a.w
	p := w.pos[n]
	w.dead[p] = true
	w.alive.add(p, -1)
	for _, in := range n.Inputs {
		if in == "" {
			continue
		}
		r := a.find(in)
		if a.reads[r]--; a.reads[r] == 0 {
			a.push(w.producer[r])
		}
	}
	from, to := n.Outputs[0], a.find(n.Inputs[0])
	if from == to || a.find(from) != from {
		// An output n shares with another node, already renamed away.
		return
	}
	a.parent[from] = to
	a.reads[to] += a.reads[from]
	delete(a.reads, from)
	moved := a.modes[from]
	delete(a.modes, from)
	if w.g.Initializers[to] != nil {
		for _, d := range moved {
			a.push(d)
		}
	}
	if len(moved) > 0 {
		// The longer list takes the shorter, so that no Dropout is
		// copied more than log(n) times.
		kept := a.modes[to]
		if len(kept) < len(moved) {
			kept, moved = moved, kept
		}
		a.modes[to] = append(kept, moved...)
	}
}
