//go:build !nocuda

package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern/cuda"
	"github.com/bnrun/bnrun/kern/cuda/lower"
)

// cudaBuilt says whether this build has the CUDA backend (the nocuda
// build tag leaves it out).
const cudaBuilt = true

// gpu is a program's CUDA device: its primary context and kernels.
type gpu struct {
	ctx *cuda.Context
	k   *cuda.Kernels
}

// openGPU opens device 0 and loads the kernels (compiling them with NVRTC
// on the first use in the process).
func openGPU() (*gpu, error) {
	ctx, err := cuda.Open(0)
	if err != nil {
		return nil, err
	}
	k, err := ctx.Kernels()
	if err != nil {
		_ = ctx.Close()
		return nil, err
	}
	return &gpu{ctx: ctx, k: k}, nil
}

// String describes the device, e.g. "NVIDIA H100 80GB HBM3 (compute
// capability 9.0, 132 SMs)".
func (g *gpu) String() string { return g.ctx.Device().String() }

// close releases the context.
func (g *gpu) close() { _ = g.ctx.Close() }

// gpuPlan is a Plan made runnable on the device: every constant it reads
// uploaded once, each step turned into its kernel launches, and the
// device arenas (the plan's arena layout in device memory, plus the
// graph inputs and a stream) kept for reuse, one per concurrent Run.
type gpuPlan struct {
	g      *gpu
	consts map[int]cuda.Buffer // float32 constant slots
	extra  []cuda.Buffer       // constants made for steps (BatchNormalization's affine)
	steps  []gpuStep
	// scratch is how many float32 values of scratch the steps need
	// (bnrun.DwBlock's intermediates): each arena holds that much, its
	// buffer after the slots' (at index len(slots)).
	scratch int
	up      *cuda.Stream // the uploads' stream, while build runs

	mu      sync.Mutex
	free    []*gpuArena
	all     []*gpuArena
	users   int
	evicted bool
}

// gpuStep is one step's launches, given the buffer of every slot.
type gpuStep struct {
	c   *cnode
	run lower.Launch
}

// gpuArena is the device memory of one Run.
type gpuArena struct {
	mem    cuda.Buffer   // the plan's float32 arena
	sc     cuda.Buffer   // the steps' scratch (gpuPlan.scratch), or none
	ins    []cuda.Buffer // per graph input slot, by slot
	bufs   []cuda.Buffer // every slot's data
	stream *cuda.Stream
}

// newGPUPlan prepares pl for the device, or says which node cannot run
// there.
func newGPUPlan(g *gpu, p *Program, pl *Plan) (*gpuPlan, error) {
	gp := &gpuPlan{g: g, consts: map[int]cuda.Buffer{}}
	if err := gp.build(p, pl); err != nil {
		gp.release()
		return nil, err
	}
	return gp, nil
}

// build fills gp for pl.
func (gp *gpuPlan) build(p *Program, pl *Plan) (err error) {
	if gp.up, err = gp.g.ctx.NewStream(); err != nil {
		return err
	}
	defer func() {
		if e := gp.up.Close(); err == nil {
			err = e
		}
		gp.up = nil
	}()
	for i := range pl.steps {
		st := &pl.steps[i]
		if st.view {
			continue
		}
		run, err := gp.stepFor(pl, st)
		if err != nil {
			return nodeError(st.c.node, "cuda: ", err)
		}
		gp.steps = append(gp.steps, gpuStep{c: st.c, run: run})
	}
	// read[s]: a device step reads slot s, or a view of it, or it is a
	// graph output.
	read := make([]bool, len(pl.slots))
	for _, st := range gp.steps {
		for _, in := range st.c.in {
			if in >= 0 {
				read[in] = true
				if pl.slots[in].kind == slotView {
					read[pl.slots[in].root] = true
				}
			}
		}
	}
	for _, s := range p.outSlot {
		read[s] = true
		if pl.slots[s].kind == slotView {
			read[pl.slots[s].root] = true
		}
	}
	// Every float32 constant the device reads is uploaded now; int64
	// tensors are refused unless no step needs them on the device.
	for s := range pl.slots {
		sp := &pl.slots[s]
		if sp.kind != slotConst || sp.dtype != ir.Float32 || !read[s] {
			continue
		}
		b, err := gp.upload(sp.c.F32)
		if err != nil {
			return err
		}
		gp.consts[s] = b
	}
	for i, s := range p.inputSlot {
		if pl.slots[s].kind == slotInput && pl.slots[s].dtype != ir.Float32 && read[s] {
			return fmt.Errorf("cuda: graph input %q is %s; the device runs float32 tensors only",
				p.graph.Inputs[i].Name, pl.slots[s].dtype)
		}
	}
	for _, s := range p.outSlot {
		if sp := &pl.slots[s]; sp.dtype != ir.Float32 && sp.kind != slotConst {
			return fmt.Errorf("cuda: graph output %q is %s; the device runs float32 tensors only",
				p.slotNames[s], sp.dtype)
		}
	}
	return nil
}

// upload queues a copy of host data, which must stay unchanged until
// build ends, to a new device buffer on the uploads' stream.
func (gp *gpuPlan) upload(x []float32) (cuda.Buffer, error) {
	b, err := gp.g.ctx.Alloc(4 * max(1, len(x)))
	if err != nil {
		return b, err
	}
	gp.extra = append(gp.extra, b)
	if len(x) > 0 {
		err = gp.up.CopyIn(b, x)
	}
	return b, err
}

// stepFor turns a step's device description into its launches: package
// lower chooses the kernels.
func (gp *gpuPlan) stepFor(pl *Plan, st *stepPlan) (lower.Launch, error) {
	ls := lower.Step{K: gp.g.k, OpType: st.c.node.OpType, In: st.c.in, Out: st.c.out,
		Scratch: len(pl.slots), Upload: gp.upload, Reserve: func(n int) { gp.scratch = max(gp.scratch, n) }}
	if len(st.c.out) > 0 {
		sp := &pl.slots[st.c.out[0]]
		ls.OutLen, ls.OutF32 = ir.NumElems(sp.shape), sp.dtype == ir.Float32
	}
	return lower.Lower(st.step.Dev, ls)
}

// acquire counts a Run about to start on the plan (the program takes it
// when it hands the plan out, under its lock, so that an eviction in
// between cannot free the plan's memory); run ends it.
func (gp *gpuPlan) acquire() {
	gp.mu.Lock()
	gp.users++
	gp.mu.Unlock()
}

// arena returns a free device arena, making one if none is.
func (gp *gpuPlan) arena(p *Program, pl *Plan) (*gpuArena, error) {
	gp.mu.Lock()
	if n := len(gp.free); n > 0 {
		a := gp.free[n-1]
		gp.free = gp.free[:n-1]
		gp.mu.Unlock()
		return a, nil
	}
	gp.mu.Unlock()
	a, err := gp.newArena(p, pl)
	if err != nil {
		return nil, err
	}
	gp.mu.Lock()
	gp.all = append(gp.all, a)
	gp.mu.Unlock()
	return a, nil
}

// newArena allocates one Run's device memory and resolves every slot's
// buffer in it.
func (gp *gpuPlan) newArena(p *Program, pl *Plan) (a *gpuArena, err error) {
	ctx := gp.g.ctx
	a = &gpuArena{bufs: make([]cuda.Buffer, len(pl.slots)+1)}
	defer func() {
		if err != nil {
			gp.freeArena(a)
			a = nil
		}
	}()
	if a.mem, err = ctx.Alloc(4 * max(1, pl.f32Size)); err != nil {
		return nil, err
	}
	if gp.scratch > 0 {
		if a.sc, err = ctx.Alloc(4 * gp.scratch); err != nil {
			return nil, err
		}
		a.bufs[len(pl.slots)] = a.sc
	}
	for _, s := range p.inputSlot {
		sp := &pl.slots[s]
		if sp.kind != slotInput || sp.dtype != ir.Float32 {
			continue
		}
		b, err := ctx.Alloc(4 * max(1, ir.NumElems(sp.shape)))
		if err != nil {
			return nil, err
		}
		a.ins = append(a.ins, b)
		a.bufs[s] = b
	}
	for s := range pl.slots {
		sp := &pl.slots[s]
		n := ir.NumElems(sp.shape)
		switch {
		case sp.kind == slotConst:
			a.bufs[s] = gp.consts[s]
		case sp.kind == slotBuf && sp.dtype == ir.Float32:
			a.bufs[s] = a.mem.Slice(4*sp.off, 4*n)
		}
	}
	for s := range pl.slots {
		sp := &pl.slots[s]
		if sp.kind == slotView && sp.dtype == ir.Float32 && !a.bufs[sp.root].IsNil() {
			a.bufs[s] = a.bufs[sp.root].Slice(4*sp.at, 4*ir.NumElems(sp.shape))
		}
	}
	if a.stream, err = ctx.NewStream(); err != nil {
		return nil, err
	}
	return a, nil
}

// freeArena frees what newArena allocated.
func (gp *gpuPlan) freeArena(a *gpuArena) {
	if a.stream != nil {
		_ = a.stream.Close()
	}
	for _, b := range a.ins {
		_ = gp.g.ctx.Free(b)
	}
	if !a.sc.IsNil() {
		_ = gp.g.ctx.Free(a.sc)
	}
	_ = gp.g.ctx.Free(a.mem)
}

// done returns a Run's arena (nil when it got none) and frees the plan's
// device memory if the plan was evicted and this was its last Run.
func (gp *gpuPlan) done(a *gpuArena) {
	gp.mu.Lock()
	if a != nil {
		gp.free = append(gp.free, a)
	}
	gp.users--
	last := gp.evicted && gp.users == 0
	gp.mu.Unlock()
	if last {
		gp.release()
	}
}

// evict marks the plan as dropped from the program's cache: its device
// memory is freed now, or when its last Run ends.
func (gp *gpuPlan) evict() {
	gp.mu.Lock()
	gp.evicted = true
	idle := gp.users == 0
	gp.mu.Unlock()
	if idle {
		gp.release()
	}
}

// release frees every device buffer and stream of the plan.
func (gp *gpuPlan) release() {
	gp.mu.Lock()
	all, extra := gp.all, gp.extra
	gp.all, gp.free, gp.extra = nil, nil, nil
	gp.mu.Unlock()
	for _, a := range all {
		gp.freeArena(a)
	}
	for _, b := range extra {
		_ = gp.g.ctx.Free(b)
	}
}

// run executes the plan on the device: one copy in per graph input, the
// steps' launches on the arena's stream, one copy out per graph output.
// It ends the Run that acquire counted.
func (gp *gpuPlan) run(ctx context.Context, p *Program, pl *Plan, inputs, outs []*ir.Tensor) (err error) {
	a, err := gp.arena(p, pl)
	if err != nil {
		gp.done(nil)
		return err
	}
	defer func() {
		if err != nil {
			_ = a.stream.Sync() // let queued work finish before reuse
		}
		gp.done(a)
	}()
	for i, s := range p.inputSlot {
		if pl.slots[s].kind == slotInput && pl.slots[s].dtype == ir.Float32 && len(inputs[i].F32) > 0 {
			if err := a.stream.CopyIn(a.bufs[s], inputs[i].F32); err != nil {
				return fmt.Errorf("copying input %q to the device: %w", p.graph.Inputs[i].Name, err)
			}
		}
	}
	for i := range gp.steps {
		st := &gp.steps[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := st.run(a.stream, a.bufs); err != nil {
			return nodeError(st.c.node, "cuda: ", err)
		}
	}
	for i, s := range p.outSlot {
		sp := &pl.slots[s]
		if sp.kind == slotConst {
			outs[i] = copyOut(outs[i], sp.c)
			continue
		}
		dst := outs[i]
		if dst == nil {
			dst = &ir.Tensor{}
		}
		n := ir.NumElems(sp.shape)
		dst.DType, dst.I64 = ir.Float32, nil
		dst.Shape = append(dst.Shape[:0], sp.shape...)
		if cap(dst.F32) < n {
			dst.F32 = make([]float32, n)
		}
		dst.F32 = dst.F32[:n]
		if n > 0 {
			if err := a.stream.CopyOut(dst.F32, a.bufs[s]); err != nil {
				return fmt.Errorf("copying output %q from the device: %w", p.slotNames[s], err)
			}
		}
		outs[i] = dst
	}
	return a.stream.Sync()
}
