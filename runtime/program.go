package runtime

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// Options configure Compile.
type Options struct {
	// Kernels is the kernel tier; nil means kern.Best(), the fastest this
	// CPU runs.
	Kernels *kern.Tier
	// Threads is the number of worker goroutines; < 1 means one per CPU.
	// It is clamped to MaxThreads() (max(64, 4·NumCPU)); Program.Threads
	// says what the program got.
	Threads int
	// MaxPlans bounds how many distinct input-shape plans are cached;
	// 0 means 16. When full, a new plan replaces the least recently used.
	MaxPlans int
	// MaxTensorBytes caps the size of any one tensor the runtime
	// allocates; 0 means DefaultMaxTensorBytes. Planning fails with an
	// error naming the tensor when a shape exceeds it. When set, it caps
	// the initializers too (the loader applies the same limit to the
	// file's; this catches tensors made after loading, such as folded
	// constants).
	MaxTensorBytes int64
	// MaxTotalBytes caps the memory one Run's arena and scratch take; 0
	// means DefaultMaxTotalBytes. Planning fails before allocating when a
	// plan needs more. The constants a plan folds (computes while
	// planning, and keeps) count too.
	MaxTotalBytes int64
	// MaxConstBytes, when set below MaxTotalBytes, caps the constants one
	// plan folds more tightly (for plans made only to learn shapes).
	MaxConstBytes int64
	// Device says where plans run: on the CPU with Kernels (DeviceCPU,
	// the zero value), on an NVIDIA GPU (DeviceCUDA: Compile fails when
	// none is usable, planning when a node has no CUDA kernel), or on the
	// GPU when one is usable and every step of the plan has a CUDA
	// kernel, else on the CPU (DeviceAuto).
	Device DeviceMode
}

// DeviceMode is where a program's plans run (see Options.Device).
type DeviceMode int

// The device modes.
const (
	DeviceCPU DeviceMode = iota
	DeviceCUDA
	DeviceAuto
)

// Default memory limits (see Options).
const (
	DefaultMaxTensorBytes = 2 << 30
	DefaultMaxTotalBytes  = 8 << 30
)

// Program is a compiled graph: every node bound to its operator, ordered
// topologically, and pruned to what the outputs need. It is safe for
// concurrent use, Close included; plans for each distinct set of input
// shapes are made on first use and cached.
type Program struct {
	graph   *Graph
	opts    Options
	kernels *kern.Tier
	pool    *Pool

	gate      gate      // the Runs in flight, for Close
	closeOnce sync.Once // Close's work

	slotNames []string
	slotIndex map[string]int
	inputSlot []int // per graph input
	outSlot   []int // per graph output
	consts    map[int]*ops.Tensor
	nodes     []*cnode // live nodes, topological order

	mu    sync.Mutex
	plans []*Plan
	slabs slabPool // the float32 memory of Runs, shared by the plans

	gpu    *gpu  // the CUDA device, when Options.Device asked for one and it opened
	gpuErr error // why Options.Device's CUDA device did not open, for DeviceAuto

	sep bool // the graph computes each image on its own (see separable)
}

// cnode is a node bound to its kernel, with inputs and outputs as slots
// (-1 for an absent optional input or output).
type cnode struct {
	node   *ops.Node
	kernel ops.Kernel
	in     []int
	out    []int
}

// Compile binds every node of g to its operator, checks that the graph is
// well formed (supported ops, every input produced, no cycles, no name
// produced twice) and returns a Program ready to plan and run.
func Compile(g *Graph, opts Options) (*Program, error) {
	return CompileContext(context.Background(), g, opts)
}

// compileCheckEvery is how many nodes Compile binds between two looks at
// its context.
const compileCheckEvery = 1024

// CompileContext is Compile stopping early when ctx is done, with an error
// that wraps ctx.Err(). It looks at ctx every thousand or so nodes.
func CompileContext(ctx context.Context, g *Graph, opts Options) (*Program, error) {
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
		consts:    map[int]*ops.Tensor{},
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
	p.sep = p.separable()
	if opts.Device == DeviceCUDA || opts.Device == DeviceAuto {
		p.gpu, p.gpuErr = openGPU()
		if p.gpuErr != nil && opts.Device == DeviceCUDA {
			p.pool.Close()
			return nil, fmt.Errorf("the cuda backend needs a usable NVIDIA GPU: %w", p.gpuErr)
		}
	}
	return p, nil
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
func checkOpsets(g *Graph) error {
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
func checkSupported(g *Graph) error {
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

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }

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

// Inputs returns the graph's inputs.
func (p *Program) Inputs() []ValueInfo { return p.graph.Inputs }

// Outputs returns the graph's outputs.
func (p *Program) Outputs() []ValueInfo { return p.graph.Outputs }

// Graph returns the graph the program was compiled from.
func (p *Program) Graph() *Graph { return p.graph }

// Kernels returns the kernel tier the program runs with.
func (p *Program) Kernels() *kern.Tier { return p.kernels }

// Threads returns the number of worker goroutines.
func (p *Program) Threads() int { return p.pool.Workers() }

// Close releases the worker goroutines and the device's memory. Runs in
// flight when Close is called finish normally (with their results) and
// Close waits for them, so that no memory a Run may still use is freed or
// handed on (cancel their contexts to make them stop sooner); a Run,
// RunInto or PlanFor that begins once Close has begun fails with
// ErrClosed at once, without touching the program's memory.
// Close may be called more than once and from several goroutines: each
// call returns when the program is released.
func (p *Program) Close() {
	p.closeOnce.Do(func() {
		p.gate.close()
		p.pool.Close()
		p.mu.Lock()
		plans := p.plans
		p.plans = nil
		p.mu.Unlock()
		for _, pl := range plans {
			if pl.gpu != nil {
				pl.gpu.release()
			}
		}
		if p.gpu != nil {
			p.gpu.close()
		}
	})
}

// gate counts a program's Runs in flight, so that Close can refuse new
// ones and wait for the others. Entering and leaving are one atomic add
// each and allocate nothing.
type gate struct {
	// n is the number of Runs in flight, plus gateClosed once Close has
	// begun. A Run that finds gateClosed set takes its count back.
	n        atomic.Int64
	signaled atomic.Bool // drained has been closed
	// drained is made by close before it sets gateClosed (so every Run
	// that sees gateClosed sees it too), and closed once no Run is in.
	drained chan struct{}
}

// gateClosed marks a gate closed; far above any number of Runs.
const gateClosed = 1 << 62

// enter counts a Run in, or returns false when the gate is closed.
func (g *gate) enter() bool {
	if g.n.Add(1) >= gateClosed {
		g.leave()
		return false
	}
	return true
}

// leave counts a Run out; the last one out of a closed gate wakes Close.
func (g *gate) leave() {
	if g.n.Add(-1) == gateClosed {
		g.signal()
	}
}

// signal closes drained, once.
func (g *gate) signal() {
	if g.signaled.CompareAndSwap(false, true) {
		close(g.drained)
	}
}

// close closes the gate and waits until no Run is in; it is called once.
func (g *gate) close() {
	g.drained = make(chan struct{})
	if g.n.Add(gateClosed) == gateClosed {
		g.signal()
	}
	<-g.drained
}

// Device describes the GPU the program's plans may run on (name and
// compute capability), or returns "" when they run on the CPU; err says
// why no GPU was taken when Options.Device asked for one.
func (p *Program) Device() (desc string, err error) {
	if p.gpu == nil {
		return "", p.gpuErr
	}
	return p.gpu.String(), nil
}

// Run checks the inputs (one per graph input, in order) against the
// declared types and shapes, runs the plan for their shapes and returns
// one new tensor per graph output. It is safe for concurrent use. ctx is
// checked between nodes. On a closed program (see Close) it returns
// ErrClosed.
func (p *Program) Run(ctx context.Context, inputs []*ops.Tensor) ([]*ops.Tensor, error) {
	outs := make([]*ops.Tensor, len(p.outSlot))
	if err := p.RunInto(ctx, inputs, outs); err != nil {
		return nil, err
	}
	return outs, nil
}

// RunInto is Run writing into outs: an entry that is nil or whose buffer
// is too small is replaced by a new tensor; otherwise its buffer is reused
// and its shape updated, so a caller that keeps outs allocates nothing.
// On a closed program (see Close) it returns ErrClosed.
func (p *Program) RunInto(ctx context.Context, inputs []*ops.Tensor, outs []*ops.Tensor) error {
	if !p.gate.enter() {
		return ErrClosed
	}
	defer p.gate.leave()
	if len(outs) != len(p.outSlot) {
		return fmt.Errorf("got %d output places, the model has %d outputs", len(outs), len(p.outSlot))
	}
	plan, err := p.planForInputs(ctx, inputs, true)
	if err != nil {
		return err
	}
	return plan.run(ctx, p, inputs, outs, nil)
}

// planForInputs checks the inputs (one per graph input) and returns the
// plan for their shapes, made on first use (see planFor).
func (p *Program) planForInputs(ctx context.Context, inputs []*ops.Tensor, forRun bool) (*Plan, error) {
	if len(inputs) != len(p.inputSlot) {
		return nil, inputErrorf("", countKind(len(inputs), len(p.inputSlot)), "got %d inputs, the model has %d", len(inputs), len(p.inputSlot))
	}
	if err := p.checkInputs(inputs); err != nil {
		return nil, err
	}
	return p.planFor(ctx, inputs, forRun)
}

// checkInputs validates each input's type and shape against its declaration.
func (p *Program) checkInputs(inputs []*ops.Tensor) error {
	for i, t := range inputs {
		vi := p.graph.Inputs[i]
		if t == nil {
			return inputErrorf(vi.Name, ErrMissingInput, "given as nil")
		}
		if vi.DType != ops.Undefined && t.DType != vi.DType {
			return inputErrorf(vi.Name, ErrInputType, "got %s, the model wants %s", t.DType, vi.DType)
		}
		n, err := elemCount(t.Shape)
		if err != nil {
			return inputErrorf(vi.Name, ErrInputShape, "%v", err)
		}
		if t.Len() != n {
			return inputErrorf(vi.Name, ErrInputShape, "shape %s needs %d elements, data has %d", ops.ShapeString(t.Shape), n, t.Len())
		}
		if err := checkDeclared(vi, t.Shape); err != nil {
			return err
		}
	}
	return nil
}

// checkDeclared checks an input's shape against its declared rank and
// fixed dims (any shape when none are declared).
func checkDeclared(vi ValueInfo, shape []int) error {
	if vi.Dims == nil {
		return nil
	}
	if len(shape) != len(vi.Dims) {
		return inputErrorf(vi.Name, ErrInputShape, "got shape %s, the model wants rank %d (%s)", ops.ShapeString(shape), len(vi.Dims), DimsString(vi.Dims))
	}
	for j, d := range vi.Dims {
		if d.Value >= 0 && d.Param == "" && shape[j] != d.Value {
			return inputErrorf(vi.Name, ErrInputShape, "got shape %s, the model wants %s", ops.ShapeString(shape), DimsString(vi.Dims))
		}
	}
	return nil
}

// elemCount returns the number of elements of shape. A negative dim is an
// error, and so is a product of the non-zero dims that overflows an int,
// even when a zero dim makes the tensor empty, so that no later shape
// arithmetic can overflow.
func elemCount(shape []int) (int, error) {
	n, empty := 1, false
	for _, d := range shape {
		switch {
		case d < 0:
			return 0, fmt.Errorf("negative dimension in shape %s", ops.ShapeString(shape))
		case d == 0:
			empty = true
		case n > math.MaxInt/d:
			return 0, fmt.Errorf("shape %s has more elements than an int can count", ops.ShapeString(shape))
		default:
			n *= d
		}
	}
	if empty {
		return 0, nil
	}
	return n, nil
}

// checkConst rejects an initializer that is nil, of a type bnrun does not
// compute with, or whose data does not match its shape (the loader never
// makes one; a Graph built by hand may), or that is larger than limit
// bytes when limit > 0.
func checkConst(name string, t *ops.Tensor, limit int64) error {
	if t == nil {
		return fmt.Errorf("initializer %q is nil", name)
	}
	if t.DType != ops.Float32 && t.DType != ops.Int64 {
		return fmt.Errorf("initializer %q has type %s, want float32 or int64", name, t.DType)
	}
	n, err := elemCount(t.Shape)
	if err != nil {
		return fmt.Errorf("initializer %q: %v", name, err)
	}
	if t.Len() != n {
		return fmt.Errorf("initializer %q: shape %s needs %d elements, data has %d", name, ops.ShapeString(t.Shape), n, t.Len())
	}
	size := int64(4)
	if t.DType == ops.Int64 {
		size = 8
	}
	if limit > 0 && int64(n) > limit/size {
		return ops.LimitErrorf("initializer %q of shape %s exceeds the limit of %d bytes per tensor", name, ops.ShapeString(t.Shape), limit)
	}
	return nil
}

// DimsString formats declared dims, writing symbolic ones by name.
func DimsString(dims []Dim) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range dims {
		if i > 0 {
			b.WriteByte(',')
		}
		switch {
		case d.Param != "":
			b.WriteString(d.Param)
		case d.Value < 0:
			b.WriteByte('?')
		default:
			fmt.Fprint(&b, d.Value)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// planFor returns the cached plan for the inputs' shapes, making it first
// if needed (ctx is checked between nodes while it does). The lookup
// compares shapes in place and allocates nothing.
//
// With forRun, a plan on the GPU counts the Run about to start on it
// (see gpuPlan.acquire), which Plan.run ends.
func (p *Program) planFor(ctx context.Context, inputs []*ops.Tensor, forRun bool) (*Plan, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, pl := range p.plans {
		if pl.matches(inputs) {
			// most recently used last
			copy(p.plans[i:], p.plans[i+1:])
			p.plans[len(p.plans)-1] = pl
			if forRun && pl.gpu != nil {
				pl.gpu.acquire()
			}
			return pl, nil
		}
	}
	shapes := make([][]int, len(inputs))
	values := make([]*ops.Tensor, len(inputs))
	for i, t := range inputs {
		shapes[i] = append([]int(nil), t.Shape...)
		if isShapeLike(t) {
			values[i] = t.Clone()
		}
	}
	pl, err := p.makePlan(ctx, shapes, values)
	if err != nil {
		return nil, err
	}
	pl.inShapes, pl.inValues = shapes, values
	if p.gpu != nil {
		pl.gpu, pl.gpuWhy = newGPUPlan(p.gpu, p, pl)
		if pl.gpuWhy != nil && p.opts.Device == DeviceCUDA {
			return nil, pl.gpuWhy
		}
	}
	if err := p.splitImages(ctx, pl); err != nil {
		return nil, err
	}
	if len(p.plans) >= p.opts.MaxPlans {
		// evict the least recently used (Runs still on it finish on it)
		old := p.plans[0]
		if old.gpu != nil {
			old.gpu.evict()
		}
		p.plans = append(p.plans[:0], p.plans[1:]...)
	}
	p.plans = append(p.plans, pl)
	if forRun && pl.gpu != nil {
		pl.gpu.acquire()
	}
	return pl, nil
}

// maxShapeLikeElems is the size up to which an int64 graph input is taken
// as shape-like: its values become plan-time constants (part of the plan's
// key), so that Reshape, Pad, Squeeze and the like can take shapes, pads and
// axes from graph inputs.
const maxShapeLikeElems = 64

func isShapeLike(t *ops.Tensor) bool {
	return t.DType == ops.Int64 && len(t.I64) <= maxShapeLikeElems && t.I64 != nil
}

// PlanFor returns the plan for the given input shapes (for inspection and
// tests): the value description of every tensor the graph computes. On a
// closed program (see Close) it returns ErrClosed.
func (p *Program) PlanFor(shapes [][]int) (*Plan, error) {
	return p.PlanForContext(context.Background(), shapes)
}

// PlanForContext is PlanFor stopping early, with ctx.Err(), when ctx is
// done (it is checked between nodes while the plan is made).
func (p *Program) PlanForContext(ctx context.Context, shapes [][]int) (*Plan, error) {
	if !p.gate.enter() {
		return nil, ErrClosed
	}
	defer p.gate.leave()
	if len(shapes) != len(p.inputSlot) {
		return nil, inputErrorf("", countKind(len(shapes), len(p.inputSlot)), "got %d input shapes, the model has %d inputs", len(shapes), len(p.inputSlot))
	}
	inputs := make([]*ops.Tensor, len(shapes))
	for i, s := range shapes {
		inputs[i] = &ops.Tensor{DType: p.graph.Inputs[i].DType, Shape: s}
	}
	return p.planFor(ctx, inputs, false)
}
