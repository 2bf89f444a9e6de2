package runtime

import (
	"context"
	"time"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
)

// A batched tail. A plan that runs image by image (splitImages) reads
// every weight once an image. Towards the end of a classifier a layer's
// weights outgrow an image's activations (ResNet's last stage, the 7×7
// blocks of MnasNet and MobileNetV2, the classifier's Gemm), and there
// reading them once for the whole batch saves more than keeping an
// image's tensors in the cache: the images run the batch-1 plan's steps
// up to a cut (the head), hand the tensors that the rest reads to the
// batch plan's arena, each into its image's place, and the batch plan
// runs its own steps from the cut on (the tail) over all of them at once,
// in an arena laid out for the tail alone.
//
// At batch 8, the plans alternating in one process (2-core Zen 5): on one
// thread MnasNet 0.85-0.97 of its time, MobileNetV2 0.91-0.96,
// EfficientNet-B0 0.94-0.96, RegNet-Y 800MF 0.96-1.00; on two,
// MobileNetV3 0.89-0.93 (at batch 2 0.94), MnasNet 0.96-0.99, the others
// 0.96-1.07 over three runs, none the same way in all. The outputs are no
// longer bit for bit those of Runs of one image each: a tail step sums
// as its batch kernel does.

// tailWeightsPerByte returns how many bytes of weights read again per
// image a step must save for each byte of an image's activations it
// moves to join the tail, on workers workers: reading its weights once
// instead of once an image saves (N-1)·W of N·A bytes. With 1 on two
// workers, a tail starting at the 14×14 blocks of MobileNetV2 and
// MnasNet lost 1.01-1.07 (the workers then read what the other wrote,
// which on this host costs a line 9-12 ns) where 4 did not. On one
// worker 1 (batch 8, alternating runs): ResNet-18 0.92-0.97 of the time
// with 4 (its 14×14 stage joins the tail), RegNet-Y 800MF 0.94-1.00 (its
// 7×7 stage, whose 25 MB of weights image by image come from memory
// each image), the others (ResNet-50, ResNeXt-50, DenseNet-121, MnasNet,
// EfficientNet-B0, MobileNetV2) 0.97-1.03 as before.
func tailWeightsPerByte(workers int) int64 {
	if workers > 1 {
		return 4
	}
	return 1
}

// tailCut returns the step from which pl, a batch plan of N images that
// runs image by image on one (its batch-1 plan), runs its batch as a
// whole, and the slots the head hands over; 0 and nil when no tail pays
// or none can be cut. The tail is the longest run of steps at the end in
// which every step with float32 constants (weights, W bytes) saves
// (N-1)·W ≥ tailWeightsPerByte(workers)·N·A, A being the bytes of an
// image's activations it reads and writes (its scratch counted), and it
// must hold one such step. The two plans must run the same nodes step for
// step, and every handed-over tensor must be float32, computed, with the
// batch as its leading dimension in both.
func tailCut(pl, one *Plan, outSlots []int, workers int) (int, []int) {
	if len(pl.steps) != len(one.steps) {
		return 0, nil
	}
	for i := range pl.steps {
		if pl.steps[i].c != one.steps[i].c || pl.steps[i].view != one.steps[i].view {
			return 0, nil
		}
	}
	bytes := func(s int) int64 { return 4 * int64(ir.NumElems(one.slots[s].shape)) }
	cut, weighted := 0, false
	for i := len(one.steps) - 1; i >= 0 && cut == 0; i-- {
		st := &one.steps[i]
		if st.view {
			continue
		}
		// weights: the float32 constants; activations: what else it reads
		// and what it writes (an image's)
		var w, act int64 = 0, 4 * int64(st.step.Scratch)
		for _, s := range st.c.in {
			switch {
			case s < 0 || one.slots[s].dtype != ir.Float32:
			case one.slots[s].kind == slotConst:
				w += bytes(s)
			default:
				act += bytes(s)
			}
		}
		for _, s := range st.c.out {
			if s >= 0 && one.slots[s].dtype == ir.Float32 {
				act += bytes(s)
			}
		}
		switch {
		case w > 0 && int64(pl.images-1)*w < tailWeightsPerByte(workers)*int64(pl.images)*act:
			cut = i + 1
		case w > 0:
			weighted = true
		}
	}
	if cut == 0 || !weighted {
		return 0, nil
	}
	written := make([]bool, len(pl.slots)) // blocks the head writes
	for _, st := range pl.steps[:cut] {
		for _, s := range st.c.out {
			if s >= 0 {
				r, _ := pl.rootAt(s)
				written[r] = true
			}
		}
	}
	var handoff []int
	taken := make([]bool, len(pl.slots))
	need := func(s int) bool {
		r, _ := pl.rootAt(s)
		if !written[r] || taken[r] {
			return true
		}
		taken[r] = true
		a, b := pl.slots[r], one.slots[r]
		if a.kind != slotBuf || a.dtype != ir.Float32 || (b.kind != slotBuf && b.kind != slotView) || a.pix != b.pix ||
			len(a.shape) == 0 || len(a.shape) != len(b.shape) || b.shape[0] != 1 || a.shape[0] != pl.images ||
			!ir.SameShape(a.shape[1:], b.shape[1:]) {
			return false
		}
		handoff = append(handoff, r)
		return true
	}
	for _, st := range pl.steps[cut:] {
		for _, s := range st.c.in {
			if s >= 0 && !need(s) {
				return 0, nil
			}
		}
	}
	for _, s := range outSlots {
		if !need(s) {
			return 0, nil
		}
	}
	return cut, handoff
}

// setTail gives pl, a plan just split image by image, its batched tail
// where tailCut finds one: the tail's steps and what the head hands
// them, an arena laid out for the tail alone and the tail's scratch.
func (pl *Plan) setTail(ctx context.Context, outSlots []int, workers int) error {
	cut, handoff := tailCut(pl, pl.single, outSlots, workers)
	if cut == 0 {
		return nil
	}
	if err := pl.layoutFrom(ctx, outSlots, cut, handoff); err != nil {
		return err
	}
	pl.f32Spans = pl.spans()
	pl.tailFrom, pl.handoff = cut, handoff
	pl.scratch = 0
	for _, st := range pl.steps[cut:] {
		pl.scratch = max(pl.scratch, st.step.Scratch)
	}
	return nil
}

// runWithTail runs pl's images through the head on pl.single, side by
// side on several workers (and no times), each handing its tensors to
// pl's arena, then pl's tail over them all (see tailCut).
func (pl *Plan) runWithTail(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, times []time.Duration) (err error) {
	a := pl.acquire(p, inputs, nil)
	defer pl.release(p, a, &err)
	if p.pool.Workers() > 1 && times == nil {
		err = pl.imagesOnWorkers(ctx, p, inputs, nil, a)
	} else {
		err = pl.runImageRange(ctx, p, inputs, nil, times, 0, pl.images, nil, a)
	}
	if err != nil {
		return err
	}
	if err := pl.runSteps(ctx, a, pl.tailFrom, len(pl.steps), times); err != nil {
		return err
	}
	for i, s := range p.outSlot {
		outs[i] = copyOut(outs[i], &a.tensors[s])
	}
	return nil
}

// runHead runs steps [0, hi) of one, a batch-1 plan, on an image's inputs
// and copies the handoff slots into image img of dst, an arena of the
// batch plan.
func (one *Plan) runHead(ctx context.Context, p *Program, inputs []*ir.Tensor, times []time.Duration, par kern.Parallel, hi int, handoff []int, dst *arena, img int) (err error) {
	a := one.acquire(p, inputs, par)
	defer one.release(p, a, &err)
	if err := one.runSteps(ctx, a, 0, hi, times); err != nil {
		return err
	}
	for _, s := range handoff {
		src := a.tensors[s].F32
		n := len(src)
		copy(dst.tensors[s].F32[img*n:(img+1)*n], src)
	}
	return nil
}

// ranSteps is how many steps a Run of pl runs, counted as stepAt counts
// them: those of pl.single for a plan run image by image without a tail.
func (pl *Plan) ranSteps() int {
	if pl.single != nil && pl.tailFrom == 0 && pl.sub == nil {
		return len(pl.single.steps)
	}
	return len(pl.steps)
}

// stepAt returns the plan whose step i (of ranSteps) a Run of pl runs,
// and how many times it runs it: pl.single once per image for a plan run
// image by image (up to its tail, if any; the plans then have the same
// steps), from the tail on pl.sub once per part where pl has sub plans
// (splitSub), or pl itself.
func (pl *Plan) stepAt(i int) (*Plan, int) {
	switch {
	case pl.sub != nil && i >= pl.sub.tailFrom:
		return pl.sub, pl.subs
	case pl.sub != nil:
		return pl.single, pl.images
	case pl.single == nil || pl.tailFrom > 0 && i >= pl.tailFrom:
		return pl, 1
	}
	return pl.single, pl.images
}
