package fold

import (
	"fmt"

	"github.com/bnrun/bnrun/ops"
	"github.com/bnrun/bnrun/runtime"
)

// work is the graph being rewritten, with the indexes rules need. Rules
// change it only through its methods, which keep the indexes true.
type work struct {
	g *runtime.Graph
	// producer maps a tensor to the node that outputs it.
	producer map[string]*ops.Node
	// consumers maps a tensor to the nodes that read it (a node reading a
	// tensor twice is listed twice).
	consumers map[string][]*ops.Node
	// isOutput marks graph outputs.
	isOutput map[string]bool
	// shapes holds tensor shapes proven by shape inference (see probe);
	// a tensor missing here has no proven shape.
	shapes []map[string][]int
	// fates records what became of each BatchNormalization, by node name.
	fates map[string]*BatchNormFate
	names map[string]bool
	// foldWork is the work constFold has done (maxFoldWork bounds it).
	foldWork int
}

func newWork(g *runtime.Graph) *work {
	w := &work{g: g, isOutput: map[string]bool{}, fates: map[string]*BatchNormFate{}, names: map[string]bool{}}
	for _, o := range g.Outputs {
		w.isOutput[o.Name] = true
	}
	w.reindex()
	return w
}

// reindex rebuilds producer and consumer maps after a rewrite, reusing
// their storage.
func (w *work) reindex() {
	if w.producer == nil {
		w.producer = make(map[string]*ops.Node, len(w.g.Nodes))
		w.consumers = make(map[string][]*ops.Node, len(w.g.Nodes))
		for name := range w.g.Initializers {
			w.names[name] = true
		}
		for _, n := range w.g.Nodes {
			w.names[n.Name] = true
			for _, o := range n.Outputs {
				w.names[o] = true
			}
		}
	}
	clear(w.producer)
	clear(w.consumers)
	for _, n := range w.g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				w.producer[o] = n
			}
		}
		for _, in := range n.Inputs {
			if in != "" {
				w.consumers[in] = append(w.consumers[in], n)
			}
		}
	}
}

// soleConsumer returns the one node reading tensor t, when exactly one
// node reads it exactly once and t is not a graph output.
func (w *work) soleConsumer(t string) *ops.Node {
	cs := w.consumers[t]
	if len(cs) != 1 || w.isOutput[t] {
		return nil
	}
	return cs[0]
}

// onlyFirstOutputUsed reports whether n's outputs other than the first are
// absent or unused.
func (w *work) onlyFirstOutputUsed(n *ops.Node) bool {
	for _, o := range n.Outputs[1:] {
		if o != "" && (len(w.consumers[o]) > 0 || w.isOutput[o]) {
			return false
		}
	}
	return true
}

// constF32 returns the float32 initializer named t, or nil.
func (w *work) constF32(t string) *ops.Tensor {
	c := w.g.Initializers[t]
	if c == nil || c.DType != ops.Float32 {
		return nil
	}
	return c
}

// fresh returns a tensor or node name based on base that is not in use.
func (w *work) fresh(base string) string {
	name := base
	for i := 1; w.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	w.names[name] = true
	return name
}

// addConst adds an initializer under a fresh name and returns the name.
func (w *work) addConst(base string, t *ops.Tensor) string {
	name := w.fresh(base)
	w.g.Initializers[name] = t
	return name
}

// remove deletes nodes from the graph and from the indexes (the producers
// of their outputs, the consumer lists of their inputs).
func (w *work) remove(dead ...*ops.Node) {
	drop := map[*ops.Node]bool{}
	for _, n := range dead {
		drop[n] = true
		for _, o := range n.Outputs {
			if w.producer[o] == n {
				delete(w.producer, o)
			}
		}
		for _, in := range n.Inputs {
			cs := w.consumers[in][:0]
			for _, c := range w.consumers[in] {
				if c != n {
					cs = append(cs, c)
				}
			}
			w.consumers[in] = cs
		}
	}
	kept := w.g.Nodes[:0]
	for _, n := range w.g.Nodes {
		if !drop[n] {
			kept = append(kept, n)
		}
	}
	clear(w.g.Nodes[len(kept):])
	w.g.Nodes = kept
}

// rename makes every reader of tensor from read tensor to instead.
func (w *work) rename(from, to string) {
	for _, n := range w.g.Nodes {
		for i, in := range n.Inputs {
			if in == from {
				n.Inputs[i] = to
			}
		}
	}
}

// pruneInitializers drops initializers that no node reads and that are not
// graph outputs.
func (w *work) pruneInitializers() {
	for name := range w.g.Initializers {
		if len(w.consumers[name]) == 0 && !w.isOutput[name] {
			delete(w.g.Initializers, name)
		}
	}
}

// label names a node for reports: its name, or its first output.
func label(n *ops.Node) string {
	if n.Name != "" {
		return n.Name
	}
	if len(n.Outputs) > 0 {
		return "->" + n.Outputs[0]
	}
	return n.OpType
}

// ensureName gives an unnamed node its label as its name, so that reports
// that name it stay true when later rewrites rename its outputs.
func ensureName(n *ops.Node) {
	if n.Name == "" {
		n.Name = label(n)
	}
}

// isDefault reports whether a node belongs to the default ONNX domain.
func isDefault(n *ops.Node) bool { return n.Domain == "" || n.Domain == "ai.onnx" }

// is reports whether n is a default-domain node of one of the op types.
func is(n *ops.Node, types ...string) bool {
	if n == nil || !isDefault(n) {
		return false
	}
	for _, t := range types {
		if n.OpType == t {
			return true
		}
	}
	return false
}

// cloneGraph copies g deeply enough that rewriting the copy leaves g as it
// was: nodes, their input and output lists and attribute maps are copied;
// tensors are shared (rules never modify a tensor, they add new ones).
func cloneGraph(g *runtime.Graph) *runtime.Graph {
	c := *g
	c.Nodes = make([]*ops.Node, len(g.Nodes))
	for i, n := range g.Nodes {
		nn := *n
		nn.Inputs = append([]string(nil), n.Inputs...)
		nn.Outputs = append([]string(nil), n.Outputs...)
		nn.Attrs = make(map[string]*ops.Attr, len(n.Attrs))
		for k, a := range n.Attrs {
			nn.Attrs[k] = a
		}
		c.Nodes[i] = &nn
	}
	c.Initializers = make(map[string]*ops.Tensor, len(g.Initializers))
	for k, t := range g.Initializers {
		c.Initializers[k] = t
	}
	c.Opsets = make(map[string]int, len(g.Opsets))
	for k, v := range g.Opsets {
		c.Opsets[k] = v
	}
	return &c
}
