package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/ops"
)

// StepProfile is one step of a plan and the time it took over the runs
// Profile timed.
type StepProfile struct {
	Node *ir.Node
	// In and Out are the shapes of the node's inputs and outputs (nil for
	// an absent optional one); In includes constants such as weights.
	In, Out [][]int
	// Time is the step's wall time summed over the timed runs.
	Time time.Duration
	// Kernel names the tier and the way it computes the step (see
	// ops.KernelOf): "avx2 pixel tiles, pixel-major", "avx2 one pass".
	Kernel string
	// Layout names the tensors the step takes pixel-major (see
	// pixLayouts): "x", "y", "x, y" or "" for none.
	Layout string
	// MACs counts the step's multiply-accumulates in one run (see
	// ops.Step.MACs).
	MACs int64
}

// Profile runs the program on inputs once to make the plan and warm it,
// then runs more times timing each step, and returns the steps in the
// order they run (views, which run nothing, are left out) with their
// summed times, and the summed wall time of the whole runs. Timing a step
// costs two clock reads, so the steps' sum is close to the total. Plans
// that run on a GPU are not profiled step by step.
func (p *Program) Profile(ctx context.Context, inputs []*ir.Tensor, runs int) ([]StepProfile, time.Duration, error) {
	if runs < 1 {
		return nil, 0, fmt.Errorf("profile needs at least one run, got %d", runs)
	}
	if !p.gate.enter() {
		return nil, 0, ErrClosed
	}
	defer p.gate.leave()
	pl, err := p.planForInputs(ctx, inputs, false)
	if err != nil {
		return nil, 0, err
	}
	if pl.gpu != nil {
		return nil, 0, errors.New("per-step profiles are made on the CPU; this plan runs on the GPU")
	}
	outs := make([]*ir.Tensor, len(p.outSlot))
	if err := pl.run(ctx, p, inputs, outs, nil); err != nil {
		return nil, 0, err
	}
	// A plan run image by image is profiled as its batch-1 plan's steps,
	// each over all the images (their shapes' batch taken back to pl's),
	// up to its batched tail (see Plan.stepAt).
	times := make([]time.Duration, pl.ranSteps())
	start := time.Now()
	for range runs {
		if err := pl.run(ctx, p, inputs, outs, times); err != nil {
			return nil, 0, err
		}
	}
	total := time.Since(start)
	shapes := func(sp *Plan, images int, slots []int) [][]int {
		out := make([][]int, len(slots))
		for i, s := range slots {
			if s < 0 {
				continue
			}
			out[i] = sp.slots[s].shape
			if images > 1 && sp.slots[s].kind != slotConst && len(out[i]) > 0 {
				out[i] = append([]int{out[i][0] * images}, out[i][1:]...)
			}
		}
		return out
	}
	var prof []StepProfile
	for i := range pl.ranSteps() {
		sp, images := pl.stepAt(i)
		st := &sp.steps[i]
		if st.view {
			continue
		}
		prof = append(prof, StepProfile{Node: st.c.node, In: shapes(sp, images, st.c.in), Out: shapes(sp, images, st.c.out), Time: times[i],
			Kernel: ops.KernelOf(p.kernels, st.step, p.pool.Workers()), Layout: st.layoutName(), MACs: st.step.MACs * int64(images)})
	}
	return prof, total, nil
}

// StepKernels names, for each node the plan runs, the kernel tier and the
// way it computes the node (see ops.KernelOf), as Profile does, without
// running anything; nodes the tier says nothing for are left out. A plan
// run image by image names its batch-1 plan's kernels; a plan that runs on
// the GPU gives nil.
func (p *Program) StepKernels(pl *Plan) map[*ir.Node]string {
	if pl.gpu != nil {
		return nil
	}
	out := map[*ir.Node]string{}
	for i := range pl.ranSteps() {
		sp, _ := pl.stepAt(i)
		st := &sp.steps[i]
		if st.view {
			continue
		}
		if k := ops.KernelOf(p.kernels, st.step, p.pool.Workers()); k != "" {
			out[st.c.node] = k
		}
	}
	return out
}

// layoutName names the tensors st takes pixel-major: "x", "y", "x, y"
// or "".
func (st *stepPlan) layoutName() string {
	switch {
	case st.pixIn && st.pixOut:
		return "x, y"
	case st.pixIn:
		return "x"
	case st.pixOut:
		return "y"
	}
	return ""
}
