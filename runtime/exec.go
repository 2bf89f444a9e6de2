package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
)

// arena is what one Run of a plan works in: the tensors of every slot and
// the per-step argument lists. Its float32 data (and the workers'
// scratch) live in a slab of the program's slabPool, bound for the Run
// only (see bind), so that plans share that memory; int64 data, small,
// stay with the arena.
type arena struct {
	i64     []int64
	tensors []ir.Tensor
	args    [][2][]*ir.Tensor // per step: in, out
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
		tensors: make([]ir.Tensor, len(pl.slots)),
		args:    make([][2][]*ir.Tensor, len(pl.steps)),
	}
	a.env = kern.Env{K: p.kernels, Par: p.pool}
	for s := range pl.slots {
		sp := &pl.slots[s]
		t := &a.tensors[s]
		t.DType, t.Shape = sp.dtype, sp.shape
		n := ir.NumElems(sp.shape)
		switch sp.kind {
		case slotConst:
			t.F32, t.I64 = sp.c.F32, sp.c.I64
		case slotBuf:
			if sp.dtype == ir.Int64 {
				t.I64 = a.i64[sp.off : sp.off+n : sp.off+n]
			}
		}
	}
	for s := range pl.slots {
		sp := &pl.slots[s]
		if sp.kind == slotView && pl.slots[sp.root].kind == slotBuf && sp.dtype == ir.Int64 {
			r := &a.tensors[sp.root]
			lo, hi := sp.at, sp.at+ir.NumElems(sp.shape)
			a.tensors[s].I64 = r.I64[lo:hi:hi]
		}
	}
	for i, st := range pl.steps {
		in := make([]*ir.Tensor, len(st.c.in))
		for j, s := range st.c.in {
			if s >= 0 {
				in[j] = &a.tensors[s]
			}
		}
		out := make([]*ir.Tensor, len(st.c.out))
		for j, s := range st.c.out {
			if s >= 0 {
				out[j] = &a.tensors[s]
			}
		}
		a.args[i] = [2][]*ir.Tensor{in, out}
	}
	return a
}

// spans lists where every float32 buffer of the plan, and every view of
// one, lies in a slab (those layoutFrom gave no place are left out).
func (pl *Plan) spans() []f32Span {
	var sp []f32Span
	for s := range pl.slots {
		sl := &pl.slots[s]
		if sl.dtype == ir.Int64 {
			continue
		}
		switch {
		case sl.kind == slotBuf && sl.off >= 0:
			sp = append(sp, f32Span{s, sl.off, sl.off + ir.NumElems(sl.shape)})
		case sl.kind == slotView && pl.slots[sl.root].kind == slotBuf && pl.slots[sl.root].off >= 0:
			lo := pl.slots[sl.root].off + sl.at
			sp = append(sp, f32Span{s, lo, lo + ir.NumElems(sl.shape)})
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
func (pl *Plan) run(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, times []time.Duration) (err error) {
	if pl.gpu != nil {
		return pl.gpu.run(ctx, p, pl, inputs, outs)
	}
	if pl.single != nil {
		return pl.runImages(ctx, p, inputs, outs, times)
	}
	return pl.runCPU(ctx, p, inputs, outs, times, nil)
}

// runCPU is run on the CPU, its loops on par, or on the program's pool
// when par is nil.
func (pl *Plan) runCPU(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, times []time.Duration, par kern.Parallel) (err error) {
	a := pl.acquire(p, inputs, par)
	defer pl.release(p, a, &err)
	if err := pl.runSteps(ctx, a, 0, len(pl.steps), times); err != nil {
		return err
	}
	for i, s := range p.outSlot {
		outs[i] = copyOut(outs[i], &a.tensors[s])
	}
	return nil
}

// acquire returns an arena of the plan for a Run on inputs, their data
// bound to its input slots and their views, its loops on par (nil: the
// program's pool). release gives it back.
func (pl *Plan) acquire(p *Program, inputs []*ir.Tensor, par kern.Parallel) *arena {
	a := pl.getArena(p)
	if par != nil {
		a.env.Par = par
	}
	if w, ok := par.(worker); ok {
		a.env.Hint = w.hint
	}
	for i, s := range p.inputSlot {
		if pl.slots[s].kind == slotInput {
			t := &a.tensors[s]
			t.F32, t.I64 = inputs[i].F32, inputs[i].I64
		}
	}
	for _, s := range pl.viewsOfIn {
		t, r := &a.tensors[s], &a.tensors[pl.slots[s].root]
		n := ir.NumElems(pl.slots[s].shape)
		if t.DType == ir.Int64 {
			t.I64 = r.I64[:n:n]
		} else {
			t.F32 = r.F32[:n:n]
		}
	}
	return a
}

// release, deferred after acquire, gives the arena back to the plan with
// nothing of the caller's kept, and turns a kernel's panic into *err.
func (pl *Plan) release(p *Program, a *arena, err *error) {
	a.env.Par, a.env.Hint = p.pool, 0
	// A kernel bug must not take the caller's process down.
	if r := recover(); r != nil {
		*err = fmt.Errorf("internal error: %v", r)
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
}

// runSteps runs steps [lo, hi) of the plan on arena a, adding each one's
// wall time to its entry of times when times is not nil.
func (pl *Plan) runSteps(ctx context.Context, a *arena, lo, hi int, times []time.Duration) error {
	for i := lo; i < hi; i++ {
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
	return nil
}

// copyOut copies src into dst, reusing dst's buffer when it is big enough.
func copyOut(dst, src *ir.Tensor) *ir.Tensor {
	if dst == nil {
		dst = &ir.Tensor{}
	}
	dst.DType = src.DType
	dst.Shape = append(dst.Shape[:0], src.Shape...)
	n := ir.NumElems(src.Shape)
	if src.DType == ir.Int64 {
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
