package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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
	dtype ops.DType
	shape []int
	c     *ops.Tensor // slotConst
	off   int         // slotBuf: offset in the arena of its dtype
	root  int         // slotView: the slot whose data it shares
	at    int         // slotView: where its data start in root's
}

// stepPlan is one node run at Run time.
type stepPlan struct {
	c    *cnode
	step ops.Step
	view bool // output 0 aliases input 0: nothing to run
}

// Plan is a program specialised to one set of input shapes: every tensor's
// shape, the constants folded at plan time, the steps left to run, and the
// arena layout that lets tensors whose lifetimes do not overlap share
// memory. Arenas are pooled, so a Run after the first allocates none.
type Plan struct {
	inShapes  [][]int
	inValues  []*ops.Tensor // shape-like int64 inputs, taken as constants
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

	gpu    *gpuPlan // the plan on the program's GPU, or nil: it runs on the CPU
	gpuWhy error    // why it does not run on the GPU the program has

	// copiedParts counts the Concat inputs placeParts could not place.
	copiedParts int
	// single, when not nil, is the batch-1 plan that Runs of this plan's
	// images run once per image (see splitImages), with the per-image
	// arguments of Runs not in use under imagesMu.
	single    *Plan
	images    int
	imagesMu  sync.Mutex
	imageArgs []*imageArgs
}

// OnGPU reports whether the plan runs on the program's GPU, and if not,
// why (nil when the program has none).
func (pl *Plan) OnGPU() (bool, error) { return pl.gpu != nil, pl.gpuWhy }

// matches reports whether the plan was made for the inputs' shapes.
func (pl *Plan) matches(inputs []*ops.Tensor) bool {
	for i, t := range inputs {
		if !ops.SameShape(t.Shape, pl.inShapes[i]) {
			return false
		}
		if v := pl.inValues[i]; v != nil && !slices.Equal(v.I64, t.I64) {
			return false
		}
	}
	return true
}

// align rounds an arena size up to 16 elements (64 bytes for float32).
func align(n int) int { return (n + 15) &^ 15 }

// makePlan infers every shape for the given input shapes, folds what is
// constant, and lays out the arena. ctx is checked between nodes, so that
// planning a huge hostile graph can be cancelled like running one.
func (p *Program) makePlan(ctx context.Context, inShapes [][]int, inValues []*ops.Tensor) (*Plan, error) {
	pl := &Plan{slots: make([]slotPlan, len(p.slotNames))}
	for s, t := range p.consts {
		pl.slots[s] = slotPlan{kind: slotConst, dtype: t.DType, shape: t.Shape, c: t}
	}
	for i, s := range p.inputSlot {
		dt := p.graph.Inputs[i].DType
		if dt == ops.Undefined {
			dt = ops.Float32
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
				return nil, c.node.Errorf("folding constants: %w", ops.LimitErrorf("its outputs would bring the plan's constants past the limit of %d bytes",
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
			if in0.dtype == out0.dtype && ops.NumElems(in0.shape) == ops.NumElems(out0.shape) {
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
	if err := pl.layout(ctx, p.outSlot); err != nil {
		return nil, err
	}
	pl.f32Spans = pl.spans()
	if need := int64(pl.ArenaBytes()) + 4*int64(pl.scratch)*int64(p.pool.Workers()) + constBytes; need > p.opts.MaxTotalBytes {
		return nil, ops.LimitErrorf("inputs %s need %d bytes of intermediate memory, over the limit of %d (largest tensor: %s)",
			p.inputsString(inShapes), need, p.opts.MaxTotalBytes, p.largestBuf(pl))
	}
	return pl, nil
}

// inputsString names the graph inputs with their shapes, for messages.
func (p *Program) inputsString(shapes [][]int) string {
	parts := make([]string, len(shapes))
	for i, s := range shapes {
		parts[i] = fmt.Sprintf("%q %s", p.graph.Inputs[i].Name, ops.ShapeString(s))
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
		b := int64(ops.NumElems(sp.shape)) * 4
		if sp.dtype == ops.Int64 {
			b *= 2
		}
		if b > bestBytes {
			best, bestBytes = s, b
		}
	}
	if best < 0 {
		return "none"
	}
	return fmt.Sprintf("%q %s, %d bytes", p.slotNames[best], ops.ShapeString(pl.slots[best].shape), bestBytes)
}

// checkShape rejects negative or oversized shapes before anything is
// allocated for them.
func (p *Program) checkShape(n *ops.Node, name string, dt ops.DType, shape []int) error {
	size := int64(4)
	if dt == ops.Int64 {
		size = 8
	}
	limit := p.opts.MaxTensorBytes / size // in elements
	total := int64(1)
	for _, d := range shape {
		if d < 0 {
			return n.Errorf("output %q has negative dimension in shape %s", name, ops.ShapeString(shape))
		}
		if d > 0 && total > limit/int64(d) {
			return n.Errorf("%w", ops.LimitErrorf("output %q of shape %s exceeds the limit of %d bytes per tensor", name, ops.ShapeString(shape), p.opts.MaxTensorBytes))
		}
		total *= int64(d)
	}
	return nil
}

// bytesOf returns the size of a tensor of type dt and the given shape,
// whose size checkShape has already bounded.
func bytesOf(dt ops.DType, shape []int) int64 {
	n := int64(ops.NumElems(shape))
	if dt == ops.Int64 {
		return 8 * n
	}
	return 4 * n
}

// foldStep runs a step whose inputs are all constant, at plan time, and
// stores its results as constants in outs.
func foldStep(env *kern.Env, c *cnode, step ops.Step, vals []*ops.Value, outs []ops.Value) error {
	in := make([]*ops.Tensor, len(vals))
	for i, v := range vals {
		if v != nil {
			in[i] = v.Const
		}
	}
	out := make([]*ops.Tensor, len(outs))
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
func nodeError(n *ops.Node, prefix string, err error) error {
	if strings.HasPrefix(err.Error(), "node ") {
		return err
	}
	return n.Errorf("%s%v", prefix, err)
}

func newTensor(dt ops.DType, shape []int) *ops.Tensor {
	if dt == ops.Int64 {
		return ops.NewI64(shape, nil)
	}
	return ops.NewF32(shape, nil)
}

// part is a tensor placed in a root's block from element at on.
type part struct{ slot, at int }

// placeParts places the inputs of steps that declare ops.Step.Parts (a
// Concat with one outer slice) in their output's block, so that their
// producers write them in place and the step copies nothing. An input is
// placed when its data are its own block (it is a computed tensor, or a
// view of one without offset) or when they are the block of an earlier
// such output that its placed parts cover exactly, each of which this
// step also takes at the matching place: so a DenseNet block's chain of
// Concats, each of all the features so far, becomes views of the last
// one. Anything else is copied by the step as usual.
func (pl *Plan) placeParts() {
	defer pl.countCopiedParts()
	parts := map[int][]part{}  // by root: the tensors placed in its block
	members := map[int][]int{} // by root: the views of its block
	for s := range pl.slots {
		if sp := &pl.slots[s]; sp.kind == slotView {
			members[sp.root] = append(members[sp.root], s)
		}
	}
	size := func(s int) int { return ops.NumElems(pl.slots[s].shape) }
	for _, st := range pl.steps {
		if st.step.Parts == nil || st.view || len(st.c.out) == 0 || st.c.out[0] < 0 {
			continue
		}
		y := st.c.out[0]
		if pl.slots[y].kind != slotBuf {
			continue
		}
		want := map[int]int{} // input slot -> its offset in y
		for i, at := range st.step.Parts {
			if i < len(st.c.in) && st.c.in[i] >= 0 && at >= 0 {
				if _, dup := want[st.c.in[i]]; !dup {
					want[st.c.in[i]] = at
				} else {
					want[st.c.in[i]] = -1 // an input taken twice is copied
				}
			}
		}
		for i, at := range st.step.Parts {
			if i >= len(st.c.in) || st.c.in[i] < 0 {
				continue
			}
			if at < 0 || want[st.c.in[i]] != at {
				continue
			}
			x := st.c.in[i]
			r, off := pl.rootAt(x)
			rs := &pl.slots[r]
			if r == y || rs.kind != slotBuf || rs.dtype != pl.slots[y].dtype || off != 0 && len(parts[r]) == 0 {
				continue
			}
			d := at - off // where r's block goes in y's
			if d < 0 || d+size(r) > size(y) {
				continue
			}
			if ps := parts[r]; len(ps) > 0 {
				// r is an earlier output: its parts must tile it and be
				// taken by this step at the same places.
				covered, ok := 0, true
				for _, q := range ps {
					covered += size(q.slot)
					if a, in := want[q.slot]; !in || a != d+q.at {
						ok = false
						break
					}
				}
				if !ok || covered != size(r) {
					continue
				}
			} else if size(r) != size(x) {
				continue
			}
			// r's block becomes [d, d+size(r)) of y's, and so does
			// everything placed in it.
			for _, s := range members[r] {
				sp := &pl.slots[s]
				sp.root, sp.at = y, sp.at+d
			}
			members[y] = append(append(members[y], members[r]...), r)
			delete(members, r)
			rs.kind, rs.root, rs.at = slotView, y, d
			if ps := parts[r]; len(ps) > 0 {
				for _, q := range ps {
					parts[y] = append(parts[y], part{q.slot, q.at + d})
				}
				delete(parts, r)
			} else {
				parts[y] = append(parts[y], part{x, d + off})
			}
		}
	}
}

// rootAt returns the slot whose block holds slot s's data, and where in it
// they start.
func (pl *Plan) rootAt(s int) (int, int) {
	if sp := &pl.slots[s]; sp.kind == slotView {
		return sp.root, sp.at
	}
	return s, 0
}

// countCopiedParts sets copiedParts: how many inputs of Concat steps are
// not where the step's output holds them (a Concat of several outer
// slices copies each).
func (pl *Plan) countCopiedParts() {
	pl.copiedParts = 0
	for _, st := range pl.steps {
		if st.view || st.c.node.OpType != "Concat" || len(st.c.out) == 0 || st.c.out[0] < 0 {
			continue
		}
		yr, yat := pl.rootAt(st.c.out[0])
		for i, x := range st.c.in {
			if x < 0 {
				continue
			}
			xr, xat := pl.rootAt(x)
			if st.step.Parts == nil || i >= len(st.step.Parts) || st.step.Parts[i] < 0 ||
				xr != yr || xat != yat+st.step.Parts[i] {
				pl.copiedParts++
			}
		}
	}
}

// interval is a block [off, off+size) of an arena in use by slot until
// step last.
type interval struct{ off, size, last int }

// layout assigns arena offsets by liveness: a tensor occupies its block
// from the step that writes it to the last step that reads it (or through
// the end for graph outputs), and takes the lowest gap that fits among the
// blocks live at that moment. ctx is checked every few hundred steps.
func (pl *Plan) layout(ctx context.Context, outSlots []int) error {
	const forever = 1 << 30
	last := make([]int, len(pl.slots))
	for i := range last {
		last[i] = -1
	}
	rootOf := func(s int) int {
		if pl.slots[s].kind == slotView {
			return pl.slots[s].root
		}
		return s
	}
	for i, st := range pl.steps {
		for _, s := range st.c.in {
			if s >= 0 {
				r := rootOf(s)
				last[r] = max(last[r], i)
			}
		}
		for _, s := range st.c.out {
			if s >= 0 {
				r := rootOf(s)
				last[r] = max(last[r], i)
			}
		}
	}
	for _, s := range outSlots {
		last[rootOf(s)] = forever
	}
	// live[k] holds the blocks in use, sorted by offset (filtering keeps
	// the order, and a new block goes into the gap it takes); minLast[k]
	// is their earliest last step, and packed[k] says they cover [0, end)
	// with no gap. These let a step skip the scans when nothing expires and
	// nothing can fit before the end, so that a graph with many tensors
	// live at once (a Concat of thousands) does not plan in quadratic time.
	var live [2][]interval // by dtype: 0 float32, 1 int64
	minLast := [2]int{forever + 1, forever + 1}
	packed := [2]bool{true, true}
	allocated := make([]bool, len(pl.slots))
	for i, st := range pl.steps {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if st.view {
			continue
		}
		for _, out := range st.c.out {
			// A block is taken when the first of the tensors placed in
			// it is written (see placeParts).
			if out < 0 {
				continue
			}
			s := rootOf(out)
			if pl.slots[s].kind != slotBuf || allocated[s] {
				continue
			}
			allocated[s] = true
			sp := &pl.slots[s]
			k := 0
			if sp.dtype == ops.Int64 {
				k = 1
			}
			if minLast[k] < i {
				// free blocks whose last reader ran before this step
				kept := live[k][:0]
				minLast[k], packed[k] = forever+1, true
				end := 0
				for _, iv := range live[k] {
					if iv.last >= i {
						kept = append(kept, iv)
						minLast[k] = min(minLast[k], iv.last)
						packed[k] = packed[k] && iv.off == end
						end = iv.off + iv.size
					}
				}
				live[k] = kept
			}
			size := align(max(ops.NumElems(sp.shape), 1))
			off, at := 0, len(live[k])
			if n := len(live[k]); packed[k] && n > 0 {
				off = live[k][n-1].off + live[k][n-1].size
			} else {
				for j, iv := range live[k] {
					if iv.off-off >= size {
						at = j
						break
					}
					off = max(off, iv.off+iv.size)
				}
			}
			sp.off = off
			live[k] = slices.Insert(live[k], at, interval{off: off, size: size, last: last[s]})
			minLast[k] = min(minLast[k], last[s])
			if k == 0 {
				pl.f32Size = max(pl.f32Size, off+size)
			} else {
				pl.i64Size = max(pl.i64Size, off+size)
			}
		}
	}
	return nil
}

// arena is what one Run of a plan works in: the tensors of every slot and
// the per-step argument lists. Its float32 data (and the workers'
// scratch) live in a slab of the program's slabPool, bound for the Run
// only (see bind), so that plans share that memory; int64 data, small,
// stay with the arena.
type arena struct {
	i64     []int64
	tensors []ops.Tensor
	args    [][2][]*ops.Tensor // per step: in, out
	env     kern.Env
	slab    []float32 // bound for the Run in flight, nil otherwise
}

// f32Span says where a float32 slot's data lie in a Run's slab.
type f32Span struct{ slot, lo, hi int }

// slabLen is how many float32 elements a Run of the plan takes from the
// slab pool: the arena, then pl.scratch for each worker.
func (pl *Plan) slabLen(p *Program) int { return pl.f32Size + pl.scratch*p.pool.Workers() }

func (pl *Plan) newArena(p *Program) *arena {
	a := &arena{
		i64:     make([]int64, pl.i64Size),
		tensors: make([]ops.Tensor, len(pl.slots)),
		args:    make([][2][]*ops.Tensor, len(pl.steps)),
	}
	a.env = kern.Env{K: p.kernels, Par: p.pool}
	for s := range pl.slots {
		sp := &pl.slots[s]
		t := &a.tensors[s]
		t.DType, t.Shape = sp.dtype, sp.shape
		n := ops.NumElems(sp.shape)
		switch sp.kind {
		case slotConst:
			t.F32, t.I64 = sp.c.F32, sp.c.I64
		case slotBuf:
			if sp.dtype == ops.Int64 {
				t.I64 = a.i64[sp.off : sp.off+n : sp.off+n]
			}
		}
	}
	for s := range pl.slots {
		sp := &pl.slots[s]
		if sp.kind == slotView && pl.slots[sp.root].kind == slotBuf && sp.dtype == ops.Int64 {
			r := &a.tensors[sp.root]
			lo, hi := sp.at, sp.at+ops.NumElems(sp.shape)
			a.tensors[s].I64 = r.I64[lo:hi:hi]
		}
	}
	for i, st := range pl.steps {
		in := make([]*ops.Tensor, len(st.c.in))
		for j, s := range st.c.in {
			if s >= 0 {
				in[j] = &a.tensors[s]
			}
		}
		out := make([]*ops.Tensor, len(st.c.out))
		for j, s := range st.c.out {
			if s >= 0 {
				out[j] = &a.tensors[s]
			}
		}
		a.args[i] = [2][]*ops.Tensor{in, out}
	}
	return a
}

// spans lists where every float32 buffer of the plan, and every view of
// one, lies in a slab.
func (pl *Plan) spans() []f32Span {
	var sp []f32Span
	for s := range pl.slots {
		sl := &pl.slots[s]
		if sl.dtype == ops.Int64 {
			continue
		}
		switch {
		case sl.kind == slotBuf:
			sp = append(sp, f32Span{s, sl.off, sl.off + ops.NumElems(sl.shape)})
		case sl.kind == slotView && pl.slots[sl.root].kind == slotBuf:
			lo := pl.slots[sl.root].off + sl.at
			sp = append(sp, f32Span{s, lo, lo + ops.NumElems(sl.shape)})
		}
	}
	return sp
}

// bind points the arena's float32 tensors and the workers' scratch into
// slab for one Run.
func (pl *Plan) bind(a *arena, slab []float32) {
	a.slab = slab
	for _, b := range pl.f32Spans {
		a.tensors[b.slot].F32 = slab[b.lo:b.hi:b.hi]
	}
	a.env.Scratch = slab[pl.f32Size:len(slab):len(slab)]
}

// unbind drops the arena's references into its slab, so that a parked
// arena does not keep a slab the pool has let go of.
func (pl *Plan) unbind(a *arena) {
	for _, b := range pl.f32Spans {
		a.tensors[b.slot].F32 = nil
	}
	a.env.Scratch, a.slab = nil, nil
}

// getArena returns a free arena of the plan, or a new one, bound to a
// slab of the program's pool.
func (pl *Plan) getArena(p *Program) *arena {
	var a *arena
	pl.arenaMu.Lock()
	if n := len(pl.arenas); n > 0 {
		a = pl.arenas[n-1]
		pl.arenas = pl.arenas[:n-1]
	}
	pl.arenaMu.Unlock()
	if a == nil {
		a = pl.newArena(p)
	}
	pl.bind(a, p.slabs.get(pl.slabLen(p)))
	return a
}

// putArena gives the arena's slab back to the pool and parks the arena.
func (pl *Plan) putArena(p *Program, a *arena) {
	p.slabs.put(a.slab)
	pl.unbind(a)
	pl.arenaMu.Lock()
	pl.arenas = append(pl.arenas, a)
	pl.arenaMu.Unlock()
}

// run executes the plan on one arena.
//
// When times is not nil (one entry per step of the plan), the wall time of
// each step is added to its entry.
func (pl *Plan) run(ctx context.Context, p *Program, inputs, outs []*ops.Tensor, times []time.Duration) (err error) {
	if pl.gpu != nil {
		return pl.gpu.run(ctx, p, pl, inputs, outs)
	}
	if pl.single != nil {
		return pl.runImages(ctx, p, inputs, outs, times)
	}
	a := pl.getArena(p)
	defer func() {
		// A kernel bug must not take the caller's process down.
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
		// Unbind the caller's inputs so the pooled arena keeps nothing alive.
		for _, s := range p.inputSlot {
			if pl.slots[s].kind == slotInput {
				a.tensors[s].F32, a.tensors[s].I64 = nil, nil
			}
		}
		for _, s := range pl.viewsOfIn {
			a.tensors[s].F32, a.tensors[s].I64 = nil, nil
		}
		pl.putArena(p, a)
	}()
	for i, s := range p.inputSlot {
		if pl.slots[s].kind == slotInput {
			t := &a.tensors[s]
			t.F32, t.I64 = inputs[i].F32, inputs[i].I64
		}
	}
	for _, s := range pl.viewsOfIn {
		t, r := &a.tensors[s], &a.tensors[pl.slots[s].root]
		n := ops.NumElems(pl.slots[s].shape)
		if t.DType == ops.Int64 {
			t.I64 = r.I64[:n:n]
		} else {
			t.F32 = r.F32[:n:n]
		}
	}
	for i := range pl.steps {
		st := &pl.steps[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		if st.view {
			continue
		}
		var start time.Time
		if times != nil {
			start = time.Now()
		}
		if err := st.step.Run(&a.env, a.args[i][0], a.args[i][1]); err != nil {
			return nodeError(st.c.node, "", err)
		}
		if times != nil {
			times[i] += time.Since(start)
		}
	}
	for i, s := range p.outSlot {
		outs[i] = copyOut(outs[i], &a.tensors[s])
	}
	return nil
}

// copyOut copies src into dst, reusing dst's buffer when it is big enough.
func copyOut(dst, src *ops.Tensor) *ops.Tensor {
	if dst == nil {
		dst = &ops.Tensor{}
	}
	dst.DType = src.DType
	dst.Shape = append(dst.Shape[:0], src.Shape...)
	n := ops.NumElems(src.Shape)
	if src.DType == ops.Int64 {
		if cap(dst.I64) < n {
			dst.I64 = make([]int64, n)
		}
		dst.I64 = dst.I64[:n]
		copy(dst.I64, src.I64)
		dst.F32 = nil
	} else {
		if cap(dst.F32) < n {
			dst.F32 = make([]float32, n)
		}
		dst.F32 = dst.F32[:n]
		copy(dst.F32, src.F32)
		dst.I64 = nil
	}
	return dst
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

// ArenaBytes returns the bytes of intermediate memory one Run uses.
func (pl *Plan) ArenaBytes() int { return 4*pl.f32Size + 8*pl.i64Size }
