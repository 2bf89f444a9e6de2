package runtime

import (
	"container/heap"
	"context"
	"fmt"
	goruntime "runtime"
	"sort"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// cnode is a node bound to its kernel, with inputs and outputs as slots
// (-1 for an absent optional input or output).
type cnode struct {
	node   *ir.Node
	kernel ops.Kernel
	in     []int
	out    []int
}

// Compile binds every node of g to its operator, checks that the graph is
// well formed (supported ops, every input produced, no cycles, no name
// produced twice) and returns a Program ready to plan and run.
func Compile(g *ir.Graph, opts Options) (*Program, error) {
	return CompileContext(context.Background(), g, opts)
}

// compileCheckEvery is how many nodes Compile binds between two looks at
// its context.
const compileCheckEvery = 1024

// CompileContext is Compile stopping early when ctx is done, with an error
// that wraps ctx.Err(). It looks at ctx every thousand or so nodes.
func CompileContext(ctx context.Context, g *ir.Graph, opts Options) (*Program, error) {
	stopped := func(where string, i int) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("compile stopped "+where+": %w", i, len(g.Nodes), err)
		}
		return nil
	}
	if err := stopped("before node %d of %d", 1); err != nil {
		return nil, err
	}
	if err := checkOpsets(g); err != nil {
		return nil, err
	}
	if err := checkSupported(g); err != nil {
		return nil, err
	}
	p := &Program{
		graph:     g,
		opts:      opts,
		kernels:   opts.Kernels,
		slotIndex: map[string]int{},
		consts:    map[int]*ir.Tensor{},
	}
	if p.kernels == nil {
		p.kernels = kern.Best()
	}
	if p.opts.MaxPlans <= 0 {
		p.opts.MaxPlans = 16
	}
	if p.opts.MaxTensorBytes <= 0 {
		p.opts.MaxTensorBytes = DefaultMaxTensorBytes
	}
	if p.opts.MaxTotalBytes <= 0 {
		p.opts.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if p.opts.MaxConstBytes <= 0 || p.opts.MaxConstBytes > p.opts.MaxTotalBytes {
		p.opts.MaxConstBytes = p.opts.MaxTotalBytes
	}
	threads := opts.Threads
	if threads < 1 {
		threads = goruntime.NumCPU()
	}
	p.pool = NewPool(threads)

	slot := func(name string) int {
		if i, ok := p.slotIndex[name]; ok {
			return i
		}
		i := len(p.slotNames)
		p.slotNames = append(p.slotNames, name)
		p.slotIndex[name] = i
		return i
	}
	producer := map[string]string{} // tensor -> what defines it, for errors
	names := make([]string, 0, len(g.Initializers))
	for name := range g.Initializers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := checkConst(name, g.Initializers[name], opts.MaxTensorBytes); err != nil {
			return nil, err
		}
		p.consts[slot(name)] = g.Initializers[name]
		producer[name] = "initializer"
	}
	for _, in := range g.Inputs {
		if in.Name == "" {
			return nil, fmt.Errorf("graph input with an empty name")
		}
		if what, dup := producer[in.Name]; dup {
			return nil, fmt.Errorf("graph input %q is also defined as %s", in.Name, what)
		}
		producer[in.Name] = "graph input"
		p.inputSlot = append(p.inputSlot, slot(in.Name))
	}
	all := make([]*cnode, len(g.Nodes))
	for i, n := range g.Nodes {
		if i%compileCheckEvery == compileCheckEvery-1 {
			if err := stopped("binding node %d of %d", i+1); err != nil {
				return nil, err
			}
		}
		k, err := ops.LookupNode(n)(n)
		if err != nil {
			return nil, err
		}
		c := &cnode{node: n, kernel: k}
		for _, o := range n.Outputs {
			if o == "" {
				c.out = append(c.out, -1)
				continue
			}
			if what, dup := producer[o]; dup {
				return nil, n.Errorf("output %q is already defined as %s", o, what)
			}
			producer[o] = fmt.Sprintf("output of node %q (%s)", n.Name, n.OpType)
			c.out = append(c.out, slot(o))
		}
		all[i] = c
	}
	for i, c := range all {
		if i%compileCheckEvery == compileCheckEvery-1 {
			if err := stopped("linking node %d of %d", i+1); err != nil {
				return nil, err
			}
		}
		for _, in := range c.node.Inputs {
			if in == "" {
				c.in = append(c.in, -1)
				continue
			}
			if _, ok := producer[in]; !ok {
				return nil, c.node.Errorf("input %q is not produced by any node, initializer or graph input", in)
			}
			c.in = append(c.in, p.slotIndex[in])
		}
	}
	for _, out := range g.Outputs {
		i, ok := p.slotIndex[out.Name]
		if !ok || producer[out.Name] == "" {
			return nil, fmt.Errorf("graph output %q is not produced by any node, initializer or graph input", out.Name)
		}
		p.outSlot = append(p.outSlot, i)
	}
	if err := stopped("after node %d of %d", len(all)); err != nil {
		return nil, err
	}
	order, err := topoSort(all, len(p.slotNames))
	if err != nil {
		return nil, err
	}
	p.nodes = prune(order, p.outSlot, len(p.slotNames))
	p.sep, p.sepIO = p.separable(), p.batchIO()
	if opts.Device == DeviceCUDA || opts.Device == DeviceAuto {
		p.gpu, p.gpuErr = openGPU()
		if p.gpuErr != nil && opts.Device == DeviceCUDA {
			p.pool.Close()
			return nil, fmt.Errorf("the cuda backend needs a usable NVIDIA GPU: %w", p.gpuErr)
		}
		if p.gpu != nil {
			if err := p.settleDevice(ctx); err != nil {
				p.Close()
				return nil, err
			}
		}
	}
	if opts.HoldWeights && p.gpu == nil {
		p.takers = p.holdWeights()
		p.plainAtGC, _ = p.HeldWeightBytes()
		if len(p.takers) > 0 && p.kernels.PackConvMoves != nil {
			p.probeTakers(ctx, p.takers)
		}
	}
	return p, nil
}

// HeldWeightBytes returns the bytes of the float32 weights the program's
// kernels hold (see Options.HoldWeights): as the graph has them, and
// packed.
func (p *Program) HeldWeightBytes() (plain, packed int64) {
	for _, c := range p.takers {
		a, b := c.kernel.(ops.ConstTaker).HeldBytes()
		plain += a
		packed += b
	}
	return plain, packed
}

// holdWeights offers each float32 initializer that one input of one live
// node reads, and no graph output is, to that node's kernel when it can
// hold it (ops.ConstTaker), and puts a tensor of its type and shape
// without data in its place wherever the program keeps it. Plans made
// before (settleDevice's) are dropped: they were made with the weights.
// It returns the nodes whose kernels took weights.
func (p *Program) holdWeights() (takers []*cnode) {
	uses := make([]int, len(p.slotNames))
	for _, c := range p.nodes {
		for _, s := range c.in {
			if s >= 0 {
				uses[s]++
			}
		}
	}
	for _, s := range p.outSlot {
		uses[s] += 2
	}
	for _, c := range p.nodes {
		tk, ok := c.kernel.(ops.ConstTaker)
		if !ok {
			continue
		}
		for i, s := range c.in {
			if s < 0 || uses[s] != 1 {
				continue
			}
			t := p.consts[s]
			if t == nil || t.DType != ir.Float32 {
				continue
			}
			stub := &ir.Tensor{DType: t.DType, Shape: t.Shape}
			if tk.TakeConst(i, t, stub) {
				p.consts[s] = stub
				if name := p.slotNames[s]; p.graph.Initializers[name] == t {
					p.graph.Initializers[name] = stub
				}
				if len(takers) == 0 || takers[len(takers)-1] != c {
					takers = append(takers, c)
				}
			}
		}
	}
	p.mu.Lock()
	p.plans = nil
	p.mu.Unlock()
	return takers
}

// probeBatches are the sizes ProbeShapes gives dynamic input dims.
var probeBatches = []int{1, 3}

// ProbeShapes returns, for each probe, the input shapes at which shape
// facts are proven: the declared dims, and each dynamic dim at a probe
// size (1, then 3) plus 2k, k the index of its name (or of the unnamed
// dim) among the inputs' dynamic dims, so that dims of one name share a
// size and no two independent dims have one size in a probe. A fact used
// for every shape must hold at every probe. It returns nil when an input
// has no declared shape. The optimisation pass (package fold) and the
// weights' takers (probeTakers) prove their facts at the same shapes.
func ProbeShapes(inputs []ir.ValueInfo) [][][]int {
	vars := map[string]int{}
	var probes [][][]int
	for _, b := range probeBatches {
		shapes := make([][]int, len(inputs))
		for i, in := range inputs {
			if in.Dims == nil {
				return nil
			}
			shapes[i] = make([]int, len(in.Dims))
			for j, d := range in.Dims {
				shapes[i][j] = d.Value
				if d.Param != "" || d.Value < 0 {
					key := "=" + d.Param
					if d.Param == "" {
						key = fmt.Sprintf("%d.%d", i, j)
					}
					k, ok := vars[key]
					if !ok {
						k = len(vars)
						vars[key] = k
					}
					shapes[i][j] = b + 2*k
				}
			}
		}
		probes = append(probes, shapes)
	}
	return probes
}

// probeTakers plans the program at each of ProbeShapes' input shapes, and
// tells each of takers' kernels its inputs' shapes in these plans
// (ops.ConstTaker.Probed), which are then dropped. It does nothing for a graph with an input that is not
// float32 or has no declared shape (int64 inputs may carry shapes), or
// when a probe does not plan.
func (p *Program) probeTakers(ctx context.Context, takers []*cnode) {
	for _, in := range p.graph.Inputs {
		if in.DType != ir.Float32 {
			return
		}
	}
	probes := ProbeShapes(p.graph.Inputs)
	if probes == nil {
		return
	}
	var plans []*Plan
	for _, shapes := range probes {
		pl, err := p.makePlan(ctx, shapes, make([]*ir.Tensor, len(shapes)))
		if err != nil {
			return
		}
		plans = append(plans, pl)
	}
	for _, c := range takers {
		shapes := make([][][]int, len(plans))
		for i, pl := range plans {
			shapes[i] = make([][]int, len(c.in))
			for j, s := range c.in {
				if s >= 0 {
					shapes[i][j] = pl.slots[s].shape
				}
			}
		}
		c.kernel.(ops.ConstTaker).Probed(shapes)
	}
}

// settleDevice decides, once and here, whether a program that opened a
// GPU runs on it: the GPU takes a model only if every op of it runs
// there, which the plan for the declared input shapes (dynamic dims set
// to 1) shows. With DeviceCUDA a model that cannot run there fails to
// compile; with DeviceAuto the program gives the GPU up and runs on the
// CPU tier, and Device says why. A model without declared input shapes
// keeps the GPU, each plan falling back on its own (planFor).
func (p *Program) settleDevice(ctx context.Context) error {
	shapes, err := p.ShapesFor(1)
	if err != nil {
		return nil
	}
	pl, why := p.PlanForContext(ctx, shapes)
	if why == nil {
		_, why = pl.OnGPU()
	}
	if why == nil {
		return nil
	}
	if p.opts.Device == DeviceCUDA {
		return why
	}
	// The plans made so far hold no device part (the probe's failed),
	// so they stay as CPU plans.
	p.gpu.close()
	p.gpu, p.gpuErr = nil, why
	return nil
}

// The opset versions of the default ONNX domain that bnrun implements.
// What opsets 18 to 21 changed in bnrun's operators, and what bnrun does
// (docs/opsets.md has the full table):
//
//	18  Reduce* (all but ReduceSum): axes an input, noop_with_empty_axes
//	    (over no axis ReduceL1 is |x|, ReduceSumSquare x², ...); Split:
//	    num_outputs (the last part smaller); Pad: the axes input;
//	    Resize: antialias, axes, keep_aspect_ratio_policy
//	19  AveragePool: dilations; Pad: wrap mode; Resize:
//	    half_pixel_symmetric; Cast: saturate (8-bit floats only, refused);
//	    Equal, Identity, Reshape, Shape, Constant: new types only
//	20  Gelu (new: none and tanh); ReduceMax, ReduceMin: Bool;
//	    ConstantOfShape: new types only
//	21  Cast, Constant, ConstantOfShape, Flatten, Identity, Pad, Reshape,
//	    Shape, Squeeze, Transpose, Unsqueeze: INT4 and UINT4 only
//
// The types these opsets add (FLOAT8*, INT4, UINT4, later ones) are
// refused, naming the type. Opset 22 and later are refused.
const (
	MinOpset = 7
	MaxOpset = 21
)

// oldOpsetOps lists ops whose definition has not changed since opset 1 in
// any way bnrun depends on, or whose operator implements the forms of
// opsets 1 to 6 too, so that models importing an opset below MinOpset may
// use them.
var oldOpsetOps = map[string]bool{
	"GlobalAveragePool": true, "GlobalMaxPool": true, "Identity": true, "Transpose": true, "Shape": true,
	// opset 1 only adds consumed_inputs, which bnrun ignores
	"HardSigmoid": true, "Elu": true, "Selu": true, "Softplus": true, "Softsign": true,
	"Sqrt": true, "Exp": true, "Log": true, "Neg": true, "Abs": true, "Reciprocal": true, "Floor": true, "Ceil": true,
	// the ops check their opset 1 and 6 forms: one shape where these
	// have no broadcasting, the legacy broadcast attribute refused,
	// their type constraints
	"PRelu": true, "Max": true, "Min": true, "Sum": true, "Mean": true,
	"Pow": true, "Equal": true, "Less": true, "Greater": true,
	// the reductions (the axes attribute), ArgMax and ArgMin from opset 1;
	// Split's input split (opset 1) and attribute (2); Tile's tiles and
	// axis (1) and repeats (6)
	"ReduceSum": true, "ReduceMean": true, "ReduceMax": true, "ReduceMin": true, "ReduceProd": true,
	"ReduceL1": true, "ReduceL2": true, "ReduceSumSquare": true, "ReduceLogSum": true, "ReduceLogSumExp": true,
	"ArgMax": true, "ArgMin": true, "Split": true, "Tile": true,
	// InstanceNormalization's forms of opsets 1 (consumed_inputs, ignored)
	// and 6; ConvTranspose's of opset 1, which opset 11 only redocuments
	"InstanceNormalization": true, "ConvTranspose": true,
}

// checkOpsets fails when a node of the default domain is read at an opset
// version outside [MinOpset, MaxOpset] (below it, only the ops of
// oldOpsetOps are accepted), naming the node and the version.
func checkOpsets(g *ir.Graph) error {
	for _, n := range g.Nodes {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			continue
		}
		if n.Opset > MaxOpset || n.Opset < 1 || (n.Opset < MinOpset && !oldOpsetOps[n.OpType]) {
			return n.Errorf("opset %d of the default domain is outside the supported range %d to %d: %w", n.Opset, MinOpset, MaxOpset, ErrUnsupported)
		}
	}
	return nil
}

// checkSupported fails with one error listing every op type that has no
// operator, with the nodes that use it.
func checkSupported(g *ir.Graph) error {
	missing := map[string][]string{}
	for i, n := range g.Nodes {
		if ops.LookupNode(n) != nil {
			continue
		}
		op := n.QualifiedType()
		name := n.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		missing[op] = append(missing[op], name)
	}
	if len(missing) == 0 {
		return nil
	}
	e := &UnsupportedError{}
	for op, nodes := range missing {
		e.Ops = append(e.Ops, UnsupportedOp{OpType: op, Nodes: nodes})
	}
	sort.Slice(e.Ops, func(i, j int) bool { return e.Ops[i].OpType < e.Ops[j].OpType })
	return e
}

// topoSort orders nodes so that every node follows the producers of its
// inputs, keeping file order where the graph allows; a cycle is an error.
func topoSort(nodes []*cnode, nslots int) ([]*cnode, error) {
	prod := make([]int, nslots)
	for i := range prod {
		prod[i] = -1
	}
	for i, c := range nodes {
		for _, o := range c.out {
			if o >= 0 {
				prod[o] = i
			}
		}
	}
	indeg := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, c := range nodes {
		for _, s := range c.in {
			if s >= 0 && prod[s] >= 0 {
				indeg[i]++
				users[prod[s]] = append(users[prod[s]], i)
			}
		}
	}
	// The ready node that comes first in the file runs next: a min-heap
	// keeps that O(n log n) even when most nodes are ready at once (a
	// file of many Constant nodes).
	order := make([]*cnode, 0, len(nodes))
	ready := &intHeap{}
	for i := range nodes {
		if indeg[i] == 0 {
			heap.Push(ready, i)
		}
	}
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, nodes[i])
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) != len(nodes) {
		for i, d := range indeg {
			if d > 0 {
				return nil, nodes[i].node.Errorf("graph has a cycle through this node")
			}
		}
	}
	return order, nil
}

// intHeap is a min-heap of node indices (container/heap).
type intHeap []int

func (h intHeap) Len() int { return len(h) }

func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }

func (h intHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push appends x, for container/heap.
func (h *intHeap) Push(x any) { *h = append(*h, x.(int)) }

// Pop removes the last element, for container/heap.
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// prune keeps the nodes that the graph outputs depend on.
func prune(order []*cnode, outs []int, nslots int) []*cnode {
	need := make([]bool, nslots)
	for _, o := range outs {
		need[o] = true
	}
	keep := make([]bool, len(order))
	for i := len(order) - 1; i >= 0; i-- {
		c := order[i]
		for _, o := range c.out {
			if o >= 0 && need[o] {
				keep[i] = true
			}
		}
		if keep[i] {
			for _, s := range c.in {
				if s >= 0 {
					need[s] = true
				}
			}
		}
	}
	live := make([]*cnode, 0, len(order))
	for i, c := range order {
		if keep[i] {
			live = append(live, c)
		}
	}
	return live
}

// checkConst rejects an initializer that is nil, of a type bnrun does not
// compute with, or whose data does not match its shape (the loader never
// makes one; a Graph built by hand may), or that is larger than limit
// bytes when limit > 0.
func checkConst(name string, t *ir.Tensor, limit int64) error {
	if t == nil {
		return fmt.Errorf("initializer %q is nil", name)
	}
	if t.DType != ir.Float32 && t.DType != ir.Int64 {
		return fmt.Errorf("initializer %q has type %s, want float32 or int64", name, t.DType)
	}
	n, err := elemCount(t.Shape)
	if err != nil {
		return fmt.Errorf("initializer %q: %v", name, err)
	}
	if t.Len() != n {
		return fmt.Errorf("initializer %q: shape %s needs %d elements, data has %d", name, ir.ShapeString(t.Shape), n, t.Len())
	}
	size := int64(4)
	if t.DType == ir.Int64 {
		size = 8
	}
	if limit > 0 && int64(n) > limit/size {
		return ir.LimitErrorf("initializer %q of shape %s exceeds the limit of %d bytes per tensor", name, ir.ShapeString(t.Shape), limit)
	}
	return nil
}
