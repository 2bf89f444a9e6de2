package runtime

import (
	"context"

	"github.com/bnrun/bnrun/ir"
)

// planForInputs checks the inputs (one per graph input) and returns the
// plan for their shapes, made on first use (see planFor).
func (p *Program) planForInputs(ctx context.Context, inputs []*ir.Tensor, forRun bool) (*Plan, error) {
	if len(inputs) != len(p.inputSlot) {
		return nil, inputErrorf("", countKind(len(inputs), len(p.inputSlot)), "got %d inputs, the model has %d", len(inputs), len(p.inputSlot))
	}
	if err := p.checkInputs(inputs); err != nil {
		return nil, err
	}
	return p.planFor(ctx, inputs, forRun)
}

// planFor returns the cached plan for the inputs' shapes, making it first
// if needed (ctx is checked between nodes while it does). The lookup
// compares shapes in place and allocates nothing.
//
// With forRun, a plan on the GPU counts the Run about to start on it
// (see gpuPlan.acquire), which Plan.run ends.
func (p *Program) planFor(ctx context.Context, inputs []*ir.Tensor, forRun bool) (*Plan, error) {
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
	values := make([]*ir.Tensor, len(inputs))
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

func isShapeLike(t *ir.Tensor) bool {
	return t.DType == ir.Int64 && len(t.I64) <= maxShapeLikeElems && t.I64 != nil
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
	inputs := make([]*ir.Tensor, len(shapes))
	for i, s := range shapes {
		inputs[i] = &ir.Tensor{DType: p.graph.Inputs[i].DType, Shape: s}
	}
	return p.planFor(ctx, inputs, false)
}
