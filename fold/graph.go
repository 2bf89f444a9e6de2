package fold

import (
	"context"
	"fmt"

	"github.com/bnrun/bnrun/ir"
)

// work is the graph being rewritten, with the indexes rules need. Rules
// change it only through its methods, which keep the indexes true: a rule
// detaches a node before it changes the node's inputs or outputs and
// attaches it after, and removes nodes with remove. Every index update
// costs time in proportion to the inputs and outputs of the nodes a
// rewrite touches, never to the size of the graph.
type work struct {
	g *ir.Graph
	// producer maps a tensor to the node that outputs it.
	producer map[string]*ir.Node
	// readers maps a tensor to the nodes that read it.
	readers map[string]*readers
	// isOutput marks graph outputs.
	isOutput map[string]bool
	// shapes holds tensor shapes proven by shape inference (see probe);
	// a tensor missing here has no proven shape.
	shapes []map[string][]int
	// fates records what became of each BatchNormalization, by node name;
	// affineInto lists the fates set to "affine", by their Into.
	fates      map[string]*BatchNormFate
	affineInto map[string][]*BatchNormFate
	// sharedFate marks the names of BNs that share one (see keep).
	sharedFate map[string]bool
	// names holds every name in use; freshFrom, per base name, the suffix
	// fresh tries first (every one below it is taken).
	names     map[string]bool
	freshFrom map[string]int
	// foldWork is the work constFold has done (maxFoldWork bounds it).
	foldWork int
	// bnMaps holds the maps of the BN parameters seen, by parameters.
	bnMaps map[bnKey]bnMap
	// newConsts counts the elements of the constants addConst made, which
	// newConstBudget bounds (see affords).
	newConsts, newConstBudget int

	// order holds the graph's nodes by position as of the last reindex;
	// removed nodes stay in it, marked dead, so positions never change
	// and the graph's node order is order without the dead.
	order []*ir.Node
	pos   map[*ir.Node]int
	dead  []bool
	// detached marks nodes a rewrite is changing (between detach and
	// attach); gen counts how often each node was detached, so that the
	// entries of readers made before are known to be stale.
	detached []bool
	gen      []uint32
	// alive counts the live nodes by position.
	alive fenwick

	// The state of the rule being run (see scan): dirty marks the nodes
	// the scan must look at, sticky those it must look at on every scan.
	dirty      fenwick
	isDirty    []bool
	sticky     []bool
	stickyList []int
	// What the rewrite being applied changed: the tensors whose producer
	// or readers changed, the nodes detached or removed, the tensors that
	// became initializers.
	changedTensors []string
	changedNodes   []*ir.Node
	newInits       []string
}

// readers lists the nodes that read a tensor: n counts the input slots
// that read it now (a node reading it twice counts twice); list holds one
// entry per such slot, and possibly stale entries (of removed nodes, or
// made before a node was detached), dropped as they are found.
type readers struct {
	n    int
	list []use
}

// use is one input slot of the node at pos, recorded when the node's
// detach count was gen.
type use struct {
	pos, slot int
	gen       uint32
}

// newWork indexes g, looking at ctx every checkEvery nodes.
func newWork(ctx context.Context, g *ir.Graph) (*work, error) {
	w := &work{g: g, isOutput: map[string]bool{}, fates: map[string]*BatchNormFate{},
		affineInto: map[string][]*BatchNormFate{}, sharedFate: map[string]bool{}, freshFrom: map[string]int{},
		bnMaps: map[bnKey]bnMap{}, newConstBudget: newConstSlack}
	for _, o := range g.Outputs {
		w.isOutput[o.Name] = true
	}
	outs := 0
	for _, n := range g.Nodes {
		outs += len(n.Outputs)
	}
	w.names = make(map[string]bool, len(g.Initializers)+len(g.Inputs)+len(g.Nodes)+outs)
	for name, t := range g.Initializers {
		w.names[name] = true
		w.newConstBudget += newConstTimes * t.Len()
	}
	for _, in := range g.Inputs {
		w.names[in.Name] = true
	}
	for i, n := range g.Nodes {
		if i%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		w.names[n.Name] = true
		for _, o := range n.Outputs {
			w.names[o] = true
		}
	}
	return w, w.reindex(ctx)
}

// reindex drops the removed nodes from the graph and rebuilds every index
// from it, numbering the nodes afresh; it looks at ctx every checkEvery
// nodes.
func (w *work) reindex(ctx context.Context) error {
	w.compact()
	nodes := w.g.Nodes
	ins, outs := 0, 0
	for _, n := range nodes {
		ins += len(n.Inputs)
		outs += len(n.Outputs)
	}
	w.order = append(w.order[:0], nodes...)
	w.pos = make(map[*ir.Node]int, len(nodes))
	w.dead = make([]bool, len(nodes))
	w.detached = make([]bool, len(nodes))
	w.gen = make([]uint32, len(nodes))
	w.producer = make(map[string]*ir.Node, outs)
	// Sized for a graph whose tensors are mostly read once; the readers
	// records come from one slab.
	w.readers = make(map[string]*readers, ins)
	slab := make([]readers, 0, ins)
	for i, n := range nodes {
		if i%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		w.pos[n] = i
		for j, in := range n.Inputs {
			if in == "" {
				continue
			}
			r := w.readers[in]
			if r == nil {
				slab = append(slab, readers{})
				r = &slab[len(slab)-1]
				w.readers[in] = r
			}
			r.n++
			r.list = append(r.list, use{pos: i, slot: j})
		}
		for _, o := range n.Outputs {
			if o != "" {
				w.producer[o] = n
			}
		}
	}
	w.alive = newFenwick(len(nodes), func(int) bool { return true })
	w.changes()
	return nil
}

// compact drops the removed nodes from the graph's node list.
func (w *work) compact() {
	if w.order == nil {
		return
	}
	kept := w.g.Nodes[:0]
	for i, n := range w.order {
		if !w.dead[i] {
			kept = append(kept, n)
		}
	}
	clear(w.g.Nodes[len(kept):])
	w.g.Nodes = kept
}

// attach records n's inputs and outputs in the indexes again, after
// detach.
func (w *work) attach(n *ir.Node) {
	p := w.pos[n]
	w.detached[p] = false
	for i, in := range n.Inputs {
		if in == "" {
			continue
		}
		r := w.readers[in]
		if r == nil {
			r = &readers{}
			w.readers[in] = r
		}
		r.n++
		r.list = append(r.list, use{pos: p, slot: i, gen: w.gen[p]})
		w.changedTensors = append(w.changedTensors, in)
	}
	for _, o := range n.Outputs {
		if o != "" {
			w.producer[o] = n
			w.changedTensors = append(w.changedTensors, o)
		}
	}
	w.changedNodes = append(w.changedNodes, n)
}

// detach takes n's inputs and outputs out of the indexes, before a rewrite
// changes them; attach puts them back. Detaching a detached node does
// nothing.
func (w *work) detach(n *ir.Node) {
	p := w.pos[n]
	if w.detached[p] || w.dead[p] {
		return
	}
	w.detached[p] = true
	w.gen[p]++
	for _, in := range n.Inputs {
		if in != "" {
			w.readers[in].n--
			w.changedTensors = append(w.changedTensors, in)
		}
	}
	for _, o := range n.Outputs {
		if o != "" {
			if w.producer[o] == n {
				delete(w.producer, o)
			}
			w.changedTensors = append(w.changedTensors, o)
		}
	}
	w.changedNodes = append(w.changedNodes, n)
}

// remove deletes nodes from the graph and from the indexes (the producers
// of their outputs, the readers of their inputs).
func (w *work) remove(dead ...*ir.Node) {
	for _, n := range dead {
		w.detach(n)
		p := w.pos[n]
		w.dead[p] = true
		w.alive.add(p, -1)
		if w.isDirty != nil {
			w.setClean(p)
		}
	}
}

// valid reports whether u is a current input slot reading tensor t.
func (w *work) valid(u use, t string) bool {
	if w.dead[u.pos] || w.detached[u.pos] || w.gen[u.pos] != u.gen {
		return false
	}
	ins := w.order[u.pos].Inputs
	return u.slot < len(ins) && ins[u.slot] == t
}

// readCount returns how many input slots read tensor t.
func (w *work) readCount(t string) int {
	if r := w.readers[t]; r != nil {
		return r.n
	}
	return 0
}

// readersOf returns the nodes that read tensor t, a node once per slot,
// dropping the stale entries it finds.
func (w *work) readersOf(t string) []*ir.Node {
	r := w.readers[t]
	if r == nil {
		return nil
	}
	var out []*ir.Node
	kept := r.list[:0]
	for _, u := range r.list {
		if w.valid(u, t) {
			kept = append(kept, u)
			out = append(out, w.order[u.pos])
		}
	}
	clear(r.list[len(kept):])
	r.list = kept
	return out
}

// soleConsumer returns the one node reading tensor t, when exactly one
// node reads it exactly once and t is not a graph output.
func (w *work) soleConsumer(t string) *ir.Node {
	r := w.readers[t]
	if r == nil || r.n != 1 || w.isOutput[t] {
		return nil
	}
	// Drop the stale entries before the live one, so that the next call
	// finds it first.
	for i, u := range r.list {
		if w.valid(u, t) {
			if i > 0 {
				n := copy(r.list, r.list[i:])
				clear(r.list[n:])
				r.list = r.list[:n]
			}
			return w.order[u.pos]
		}
	}
	return nil
}

// onlyFirstOutputUsed reports whether n's outputs other than the first are
// absent or unused.
func (w *work) onlyFirstOutputUsed(n *ir.Node) bool {
	for _, o := range n.Outputs[1:] {
		if o != "" && (w.readCount(o) > 0 || w.isOutput[o]) {
			return false
		}
	}
	return true
}

// constF32 returns the float32 initializer named t, or nil.
func (w *work) constF32(t string) *ir.Tensor {
	c := w.g.Initializers[t]
	if c == nil || c.DType != ir.Float32 {
		return nil
	}
	return c
}

// fresh returns a tensor or node name based on base that is not in use:
// base, or else base_1, base_2, ..., the first that is free. Names are
// never given back, so the suffixes tried before for base stay taken and
// the next call starts after them.
func (w *work) fresh(base string) string {
	for i := w.freshFrom[base]; ; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		if !w.names[name] {
			w.names[name] = true
			w.freshFrom[base] = i + 1
			return name
		}
	}
}

// addConst adds an initializer under a fresh name and returns the name.
func (w *work) addConst(base string, t *ir.Tensor) string {
	name := w.fresh(base)
	w.g.Initializers[name] = t
	w.newConsts += t.Len()
	return name
}

// Folding a layer makes new weights the size of its old ones, which go
// when no other layer reads them; but a file can make many layers read
// one large weight, and then each fold would make a copy of it (50 000
// Convs sharing a 36 MiB weight would make 1.8 TB). So the constants the
// rules make (constFold's have their own bound) have at most
// newConstTimes times the elements of the graph's initializers, plus
// newConstSlack: twice what folding every layer of a model once makes,
// with room for the bias vectors and for a layer folded from both sides.
const (
	newConstTimes = 2
	newConstSlack = 16 << 20 // 64 MiB of float32
)

// affords reports whether the rules may still make constants of n
// elements in all; a rule whose rewrite would pass the bound does not
// fire.
func (w *work) affords(n int) bool { return n <= w.newConstBudget-w.newConsts }

// setInit makes tensor name, which a removed node produced, the
// initializer t.
func (w *work) setInit(name string, t *ir.Tensor) {
	w.g.Initializers[name] = t
	w.newInits = append(w.newInits, name)
}

// pruneInitializers drops initializers that no node reads and that are not
// graph outputs.
func (w *work) pruneInitializers() {
	for name := range w.g.Initializers {
		if w.readCount(name) == 0 && !w.isOutput[name] {
			delete(w.g.Initializers, name)
		}
	}
}

// checkEvery is how many steps of a loop over the graph pass between two
// looks at the context.
const checkEvery = 1024

// scan runs one rule over the graph as a scan in graph order that, after
// each rewrite, carries on from the node before the rewritten one (which
// may be gone), repeated until a whole scan rewrites nothing.
//
// It skips the nodes whose match cannot have changed since it last looked
// at them, which makes it do exactly the rewrites such scans do, in the
// same order, in time close to linear in the graph: a node is looked at
// when the rule starts, when a rewrite changes something its match reads
// (markChanges), when the scan steps back over it after a rewrite, and,
// if the rule marked it sticky (its match has effects of its own), on
// every scan. Nodes are found by position with two Fenwick trees, one of
// the live nodes, one of those still to look at.
func (w *work) scan(ctx context.Context, r rule, rep *Report) error {
	w.isDirty = make([]bool, len(w.order))
	w.sticky = make([]bool, len(w.order))
	w.stickyList = w.stickyList[:0]
	for i, d := range w.dead {
		w.isDirty[i] = !d
	}
	w.dirty = newFenwick(len(w.order), func(i int) bool { return w.isDirty[i] })
	w.changes()
	steps := 0
	for {
		applied := false
		for p := 0; ; {
			q := w.dirty.next(p)
			if q < 0 {
				break
			}
			if steps++; steps%checkEvery == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("rule %s: %w", r.name(), err)
				}
			}
			w.setClean(q)
			m, ok := r.match(w, w.order[q])
			if !ok {
				p = q + 1
				continue
			}
			i := w.alive.prefix(q) // q's index in the graph's node list
			r.apply(w, m)
			rep.Rules[r.name()]++
			applied = true
			w.markChanges()
			// Carry on at index i-1 of the list as it is now, and look
			// again at the nodes from there to q, which this scan saw.
			j := max(i-1, 0)
			if j >= w.alive.total {
				break
			}
			p = w.alive.kth(j)
			for k := p; k >= 0 && k <= q; k = w.alive.next(k + 1) {
				w.setDirty(k)
			}
		}
		if !applied {
			break
		}
		kept := w.stickyList[:0]
		for _, p := range w.stickyList {
			if w.sticky[p] && !w.dead[p] {
				kept = append(kept, p)
				w.setDirty(p)
			}
		}
		w.stickyList = kept
	}
	w.isDirty, w.sticky = nil, nil
	w.compact()
	return nil
}

// setDirty marks the node at position p for the scan to look at.
func (w *work) setDirty(p int) {
	if !w.isDirty[p] && !w.dead[p] {
		w.isDirty[p] = true
		w.dirty.add(p, 1)
	}
}

// setClean unmarks the node at position p.
func (w *work) setClean(p int) {
	if w.isDirty[p] {
		w.isDirty[p] = false
		w.dirty.add(p, -1)
	}
}

// stick makes the scan look at n on every scan (or no longer), for a
// match whose outcome has effects even when it fails: looked at as often
// as a full scan would, it has them as often.
func (w *work) stick(n *ir.Node, on bool) {
	p := w.pos[n]
	if on && !w.sticky[p] {
		w.stickyList = append(w.stickyList, p)
	}
	w.sticky[p] = on
}

// mark marks n, when it is live and not sticky, for the scan to look at.
func (w *work) mark(n *ir.Node) {
	if n == nil {
		return
	}
	if p := w.pos[n]; !w.sticky[p] {
		w.setDirty(p)
	}
}

// markChanges marks the nodes whose match may have changed with the
// rewrite just applied, and forgets the changes. A rule's match reads
// the node itself; the producer of its inputs and, for GemmBN, of that
// node's inputs, each through a sole-reader link; the sole reader of its
// first output; the readers and producers of those nodes' tensors; and
// initializers. So every node within two sole-reader links of a changed
// tensor or node is marked, and every reader of a new initializer.
func (w *work) markChanges() {
	for _, t := range w.newInits {
		for _, c := range w.readersOf(t) {
			w.mark(c)
			if len(c.Inputs) > 0 {
				w.mark(w.producer[c.Inputs[0]])
			}
		}
		w.changedTensors = append(w.changedTensors, t)
	}
	for _, n := range w.changedNodes {
		if !w.dead[w.pos[n]] {
			w.mark(n)
		}
	}
	for _, t := range w.changedTensors {
		p := w.producer[t]
		w.mark(p)
		w.markDown(w.soleConsumer(t))
		if p != nil && len(p.Outputs) > 0 {
			w.markDown(w.soleConsumer(p.Outputs[0]))
		}
	}
	w.changes()
}

// markDown marks n and the sole reader of its first output.
func (w *work) markDown(n *ir.Node) {
	if n == nil {
		return
	}
	w.mark(n)
	if len(n.Outputs) > 0 {
		w.mark(w.soleConsumer(n.Outputs[0]))
	}
}

// changes forgets the changes recorded so far.
func (w *work) changes() {
	w.changedTensors = w.changedTensors[:0]
	w.changedNodes = w.changedNodes[:0]
	w.newInits = w.newInits[:0]
}

// fenwick is a Fenwick (binary indexed) tree over positions 0..n-1 holding
// 0 or 1 each: it counts the ones before a position and finds the k-th one
// in O(log n).
type fenwick struct {
	t     []int32 // 1-based partial sums
	total int
}

// newFenwick returns a tree over n positions, one where one(i) holds.
func newFenwick(n int, one func(i int) bool) fenwick {
	f := fenwick{t: make([]int32, n+1)}
	for i := 1; i <= n; i++ {
		if one(i - 1) {
			f.t[i]++
			f.total++
		}
		if j := i + i&-i; j <= n {
			f.t[j] += f.t[i]
		}
	}
	return f
}

// add adds d at position i.
func (f *fenwick) add(i int, d int32) {
	f.total += int(d)
	for i++; i < len(f.t); i += i & -i {
		f.t[i] += d
	}
}

// prefix counts the ones at positions below i.
func (f *fenwick) prefix(i int) int {
	s := 0
	for ; i > 0; i -= i & -i {
		s += int(f.t[i])
	}
	return s
}

// kth returns the position of the one with k ones before it, or -1.
func (f *fenwick) kth(k int) int {
	if k < 0 || k >= f.total {
		return -1
	}
	p, rem := 0, int32(k+1)
	step := 1
	for step*2 < len(f.t) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if p+step < len(f.t) && f.t[p+step] < rem {
			p += step
			rem -= f.t[p]
		}
	}
	return p
}

// next returns the first position at or after i holding a one, or -1.
func (f *fenwick) next(i int) int { return f.kth(f.prefix(i)) }

// label names a node for reports: its name, or its first output.
func label(n *ir.Node) string {
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
func ensureName(n *ir.Node) {
	if n.Name == "" {
		n.Name = label(n)
	}
}

// isDefault reports whether a node belongs to the default ONNX domain.
func isDefault(n *ir.Node) bool { return n.Domain == "" || n.Domain == "ai.onnx" }

// is reports whether n is a default-domain node of one of the op types.
func is(n *ir.Node, types ...string) bool {
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
// tensors are shared (rules never modify a tensor, they add new ones). It
// looks at ctx every checkEvery nodes.
func cloneGraph(ctx context.Context, g *ir.Graph) (*ir.Graph, error) {
	c := *g
	c.Nodes = make([]*ir.Node, len(g.Nodes))
	for i, n := range g.Nodes {
		if i%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		nn := *n
		nn.Inputs = append([]string(nil), n.Inputs...)
		nn.Outputs = append([]string(nil), n.Outputs...)
		nn.Attrs = make(map[string]*ir.Attr, len(n.Attrs))
		for k, a := range n.Attrs {
			nn.Attrs[k] = a
		}
		c.Nodes[i] = &nn
	}
	c.Initializers = make(map[string]*ir.Tensor, len(g.Initializers))
	for k, t := range g.Initializers {
		c.Initializers[k] = t
	}
	c.Opsets = make(map[string]int, len(g.Opsets))
	for k, v := range g.Opsets {
		c.Opsets[k] = v
	}
	return &c, nil
}
