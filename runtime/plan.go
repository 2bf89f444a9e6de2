package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// slotKind says where a tensor's data lives during a Run.
type slotKind uint8

const (
	slotUnused slotKind = iota
	slotConst           // known at plan time; data shared by every Run
	slotInput           // a graph input, bound to the caller's tensor
	slotBuf             // computed; data at off in the Run's arena
	slotView            // computed as a view of root's data from element at on, under its own shape
)

// slotPlan is one tensor of the plan.
type slotPlan struct {
	kind  slotKind
	dtype ir.DType
	shape []int
	c     *ir.Tensor // slotConst
	off   int        // slotBuf: offset in the arena of its dtype
	root  int        // slotView: the slot whose data it shares
	at    int        // slotView: where its data start in root's
	pix   bool       // slotBuf: laid out pixel-major (see pixLayouts)
}

// stepPlan is one node run at Run time.
type stepPlan struct {
	c    *cnode
	step ops.Step
	view bool // output 0 aliases input 0: nothing to run
	// pixIn, pixOut: its Layout's input and output 0 lie pixel-major
	// (see pixLayouts)
	pixIn, pixOut bool
	// over is 1 + the input whose block output 0 takes (see overwrites),
	// or 0
	over int
}

// Plan is a program specialised to one set of input shapes: every tensor's
// shape, the constants folded at plan time, the steps left to run, and the
// arena layout that lets tensors whose lifetimes do not overlap share
// memory. Arenas are pooled, so a Run after the first allocates none.
type Plan struct {
	inShapes  [][]int
	inValues  []*ir.Tensor // shape-like int64 inputs, taken as constants
	slots     []slotPlan
	steps     []stepPlan
	f32Size   int
	i64Size   int
	scratch   int // per worker
	viewsOfIn []int
	f32Spans  []f32Span // where the float32 buffers and their views lie in a Run's slab
	// arenas are the plan's arenas not in use (one per Run in flight at
	// most), under arenaMu: a free list rather than a sync.Pool, which
	// drops its items at a garbage collection and hides an item put back
	// on one core from a Get on another, so that a Run would allocate a
	// whole arena again.
	arenaMu sync.Mutex
	arenas  []*arena

	ran atomic.Bool // a Run of the plan has ended (see reclaimLetGo)

	gpu    *gpuPlan // the plan on the program's GPU, or nil: it runs on the CPU
	gpuWhy error    // why it does not run on the GPU the program has

	// copiedParts counts the Concat inputs placeParts could not place.
	copiedParts int
	// single, when not nil, is the batch-1 plan that Runs of this plan's
	// images run once per image (see splitImages), with the per-image
	// arguments of Runs not in use under imagesMu.
	single *Plan
	images int
	atOnce int // images run side by side (1: one after another)
	// tailFrom, when above 0, is where a plan run image by image stops
	// running pl.single and runs its own steps for the whole batch, the
	// head having handed it the slots of handoff (see tailCut).
	tailFrom   int
	handoff    []int
	imagesMu   sync.Mutex
	imageArgs  []*imageArgs
	imageTasks []*imagesTask
	// sub, when not nil, is a plan of images/subs images, split to run
	// image by image on one worker with a batched tail of its own: a Run
	// on subs workers deals each worker its subs-th of the batch, head
	// and tail (see splitSub), with the arguments of Runs not in use
	// under imagesMu.
	sub      *Plan
	subs     int
	subArgs  []*imageArgs
	subTasks []*subsTask
}

// OnGPU reports whether the plan runs on the program's GPU, and if not,
// why (nil when the program has none).
func (pl *Plan) OnGPU() (bool, error) { return pl.gpu != nil, pl.gpuWhy }

// matches reports whether the plan was made for the inputs' shapes.
func (pl *Plan) matches(inputs []*ir.Tensor) bool {
	for i, t := range inputs {
		if !ir.SameShape(t.Shape, pl.inShapes[i]) {
			return false
		}
		if v := pl.inValues[i]; v != nil && !slices.Equal(v.I64, t.I64) {
			return false
		}
	}
	return true
}

// makePlan infers every shape for the given input shapes, folds what is
// constant, and lays out the arena. ctx is checked between nodes, so that
// planning a huge hostile graph can be cancelled like running one.
func (p *Program) makePlan(ctx context.Context, inShapes [][]int, inValues []*ir.Tensor) (*Plan, error) {
	pl := &Plan{slots: make([]slotPlan, len(p.slotNames))}
	for s, t := range p.consts {
		pl.slots[s] = slotPlan{kind: slotConst, dtype: t.DType, shape: t.Shape, c: t}
	}
	for i, s := range p.inputSlot {
		dt := p.graph.Inputs[i].DType
		if dt == ir.Undefined {
			dt = ir.Float32
		}
		pl.slots[s] = slotPlan{kind: slotInput, dtype: dt, shape: append([]int(nil), inShapes[i]...)}
		if v := inValues[i]; v != nil {
			pl.slots[s].kind, pl.slots[s].c = slotConst, v
		}
	}
	foldEnv := &kern.Env{K: p.kernels, Par: kern.Serial{}}
	// constBytes is what the constants folded so far took: memory this
	// plan holds, counted against the limits before each fold.
	var constBytes int64
	vals := make([]*ops.Value, 0, 8)
	for _, c := range p.nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vals = vals[:0]
		allConst := true
		for _, s := range c.in {
			if s < 0 {
				vals = append(vals, nil)
				continue
			}
			sp := &pl.slots[s]
			v := &ops.Value{DType: sp.dtype, Shape: sp.shape}
			if sp.kind == slotConst {
				v.Const = sp.c
			} else {
				allConst = false
			}
			vals = append(vals, v)
		}
		outs, step, err := c.kernel.Prepare(vals)
		if err != nil {
			return nil, err
		}
		if len(outs) != len(c.out) {
			return nil, c.node.Errorf("operator returned %d outputs for %d declared", len(outs), len(c.out))
		}
		known := true
		for i, o := range outs {
			// An absent output is checked too: folding allocates it.
			name := fmt.Sprintf("#%d", i)
			if c.out[i] >= 0 {
				name = c.node.Outputs[i]
			}
			if err := p.checkShape(c.node, name, o.DType, o.Shape); err != nil {
				return nil, err
			}
			if o.Const == nil && c.out[i] >= 0 {
				known = false
			}
		}
		if !known && allConst && step.Run != nil {
			// Summed against what is left, so that it cannot overflow.
			left := p.opts.MaxConstBytes - constBytes
			need, fits := 4*int64(step.Scratch), true
			for _, o := range outs {
				b := bytesOf(o.DType, o.Shape) // checked above
				if need > left || b > left-need {
					fits = false
					break
				}
				need += b
			}
			if !fits || need > left {
				return nil, c.node.Errorf("folding constants: %w", ir.LimitErrorf("its outputs would bring the plan's constants past the limit of %d bytes",
					p.opts.MaxConstBytes))
			}
			constBytes += need
			if err := foldStep(foldEnv, c, step, vals, outs); err != nil {
				return nil, err
			}
			known = true
		}
		for i, o := range outs {
			s := c.out[i]
			if s < 0 {
				continue
			}
			sp := slotPlan{kind: slotBuf, dtype: o.DType, shape: o.Shape}
			if known {
				sp.kind, sp.c = slotConst, o.Const
			}
			pl.slots[s] = sp
		}
		if known {
			continue
		}
		if step.Run == nil {
			return nil, c.node.Errorf("operator has no step for non-constant outputs")
		}
		sp := stepPlan{c: c, step: step}
		if step.View && len(c.in) > 0 && c.in[0] >= 0 && len(c.out) >= 1 && c.out[0] >= 0 {
			in0, out0 := &pl.slots[c.in[0]], &pl.slots[c.out[0]]
			if in0.dtype == out0.dtype && ir.NumElems(in0.shape) == ir.NumElems(out0.shape) {
				root := c.in[0]
				if in0.kind == slotView {
					root = in0.root
				}
				out0.kind, out0.root = slotView, root
				sp.view = true
			}
		}
		pl.scratch = max(pl.scratch, step.Scratch)
		pl.steps = append(pl.steps, sp)
	}
	for s := range pl.slots {
		if pl.slots[s].kind == slotView && pl.slots[pl.slots[s].root].kind == slotInput {
			pl.viewsOfIn = append(pl.viewsOfIn, s)
		}
	}
	pl.placeParts()
	if p.gpu == nil {
		pl.pixLayouts(p.kernels, p.outSlot)
		pl.overwrites(p.kernels)
	}
	if err := pl.layout(ctx, p.outSlot); err != nil {
		return nil, err
	}
	pl.f32Spans = pl.spans()
	if need := int64(pl.ArenaBytes()) + 4*int64(pl.scratch)*int64(p.pool.Workers()) + constBytes; need > p.opts.MaxTotalBytes {
		return nil, ir.LimitErrorf("inputs %s need %d bytes of intermediate memory, over the limit of %d (largest tensor: %s)",
			p.inputsString(inShapes), need, p.opts.MaxTotalBytes, p.largestBuf(pl))
	}
	return pl, nil
}

// inputsString names the graph inputs with their shapes, for messages.
func (p *Program) inputsString(shapes [][]int) string {
	parts := make([]string, len(shapes))
	for i, s := range shapes {
		parts[i] = fmt.Sprintf("%q %s", p.graph.Inputs[i].Name, ir.ShapeString(s))
	}
	return strings.Join(parts, ", ")
}

// largestBuf names the largest tensor a plan keeps in its arena, with its
// shape, for messages.
func (p *Program) largestBuf(pl *Plan) string {
	best, bestBytes := -1, int64(-1)
	for s := range pl.slots {
		sp := &pl.slots[s]
		if sp.kind != slotBuf {
			continue
		}
		b := int64(ir.NumElems(sp.shape)) * 4
		if sp.dtype == ir.Int64 {
			b *= 2
		}
		if b > bestBytes {
			best, bestBytes = s, b
		}
	}
	if best < 0 {
		return "none"
	}
	return fmt.Sprintf("%q %s, %d bytes", p.slotNames[best], ir.ShapeString(pl.slots[best].shape), bestBytes)
}

// checkShape rejects negative or oversized shapes before anything is
// allocated for them.
func (p *Program) checkShape(n *ir.Node, name string, dt ir.DType, shape []int) error {
	size := int64(4)
	if dt == ir.Int64 {
		size = 8
	}
	limit := p.opts.MaxTensorBytes / size // in elements
	total := int64(1)
	for _, d := range shape {
		if d < 0 {
			return n.Errorf("output %q has negative dimension in shape %s", name, ir.ShapeString(shape))
		}
		if d > 0 && total > limit/int64(d) {
			return n.Errorf("%w", ir.LimitErrorf("output %q of shape %s exceeds the limit of %d bytes per tensor", name, ir.ShapeString(shape), p.opts.MaxTensorBytes))
		}
		total *= int64(d)
	}
	return nil
}

// bytesOf returns the size of a tensor of type dt and the given shape,
// whose size checkShape has already bounded.
func bytesOf(dt ir.DType, shape []int) int64 {
	n := int64(ir.NumElems(shape))
	if dt == ir.Int64 {
		return 8 * n
	}
	return 4 * n
}

// foldStep runs a step whose inputs are all constant, at plan time, and
// stores its results as constants in outs.
func foldStep(env *kern.Env, c *cnode, step ops.Step, vals []*ops.Value, outs []ops.Value) error {
	in := make([]*ir.Tensor, len(vals))
	for i, v := range vals {
		if v != nil {
			in[i] = v.Const
		}
	}
	out := make([]*ir.Tensor, len(outs))
	for i, o := range outs {
		out[i] = newTensor(o.DType, o.Shape)
	}
	if step.Scratch > 0 {
		env.Scratch = make([]float32, step.Scratch)
	}
	if err := step.Run(env, in, out); err != nil {
		return nodeError(c.node, "folding constants: ", err)
	}
	for i := range outs {
		outs[i].Const = out[i]
	}
	return nil
}

// nodeError names the node in err unless the operator already did.
func nodeError(n *ir.Node, prefix string, err error) error {
	if strings.HasPrefix(err.Error(), "node ") {
		return err
	}
	return n.Errorf("%s%v", prefix, err)
}

func newTensor(dt ir.DType, shape []int) *ir.Tensor {
	if dt == ir.Int64 {
		return ir.NewI64(shape, nil)
	}
	return ir.NewF32(shape, nil)
}

// Value returns the plan-time description of a named tensor, and whether
// the plan knows it (it may have been pruned as unused).
func (pl *Plan) value(s int) ops.Value {
	sp := &pl.slots[s]
	return ops.Value{DType: sp.dtype, Shape: sp.shape, Const: sp.c}
}

// ValueOf describes the named tensor under this plan: its type, shape, and
// contents when it was folded to a constant.
func (p *Program) ValueOf(pl *Plan, name string) (ops.Value, bool) {
	s, ok := p.slotIndex[name]
	if !ok || pl.slots[s].kind == slotUnused {
		return ops.Value{}, false
	}
	return pl.value(s), true
}

// Steps returns how many nodes the plan runs (views and folded constants
// excluded).
func (pl *Plan) Steps() int {
	n := 0
	for _, st := range pl.steps {
		if !st.view {
			n++
		}
	}
	return n
}

// ArenaBytes returns the bytes of intermediate memory one Run uses: its
// arena's, or for a plan run image by image its batch-1 plan's arena for
// each image run at once, and the arena of its batched tail, if any; for
// one with sub plans (splitSub), each worker's sub plan's.
func (pl *Plan) ArenaBytes() int {
	if pl.sub != nil {
		return pl.subs * pl.sub.ArenaBytes()
	}
	own := 4*pl.f32Size + 8*pl.i64Size
	if pl.single == nil {
		return own
	}
	if pl.tailFrom == 0 {
		own = 0
	}
	return own + max(pl.atOnce, 1)*pl.single.ArenaBytes()
}

// NodeMACs is one node's multiply-accumulates in a Run of a plan.
type NodeMACs struct {
	Node *ir.Node
	MACs int64
}

// MACs lists the nodes whose steps count multiply-accumulates (see
// ops.Step.MACs), in the order they run, with their counts for one Run of
// the plan (a plan run image by image counts its images).
func (pl *Plan) MACs() []NodeMACs {
	var out []NodeMACs
	for i := range pl.ranSteps() {
		sp, images := pl.stepAt(i)
		if m := sp.steps[i].step.MACs; m > 0 {
			out = append(out, NodeMACs{Node: sp.steps[i].c.node, MACs: m * int64(images)})
		}
	}
	return out
}
