package runtime

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// Image by image. A graph that computes each image of a batch on its own
// (separable) can run its batch-1 plan once per image instead of its
// batch plan, which pays in two cases:
//
//   - A batch whose Concats cannot be placed in their outputs costs a copy
//     of every concatenated tensor: at batch 1 a Concat along the channels
//     is one run of memory per input, so the producers write their parts
//     in place (placeParts), but at batch N each input is N runs apart.
//     DenseNet concatenates all the features so far at every layer, and at
//     batch 8 those copies were 6 % of its time.
//   - With several workers, the images run side by side, one a worker,
//     each with every loop on its own worker: no loop waits for the
//     slowest worker's share, and no worker reads what another wrote in
//     the step before, which on a 2-core Zen 5 kept two workers at 1.2 to
//     1.5 times one on the small layers of a single image.
//   - On one worker, a batch plan whose activations outgrow half the
//     last-level cache (cacheImages): the batch's tensors streaming
//     through memory cost the layers more than the weights each image
//     reads again, except where a layer's weights outweigh an image's
//     activations, which the batched tail (tailCut) keeps batched.

// separable reports whether every graph input and declared output is
// float32 with the same symbolic leading dimension (the batch), and every
// node's kernel declares that it computes each image on its own given
// which of its inputs are constants (ops.ImageWise: its op says when).
func (p *Program) separable() bool {
	if !p.batchIO() {
		return false
	}
	for _, c := range p.nodes {
		iw, ok := c.kernel.(ops.ImageWise)
		if !ok {
			return false
		}
		konst := make([]bool, len(c.in))
		for i, s := range c.in {
			konst[i] = s >= 0 && p.isConst(s)
		}
		if !iw.ImageWise(konst) {
			return false
		}
	}
	return true
}

// batchIO reports whether every graph input and declared output is
// float32 with the same symbolic leading dimension (the batch).
func (p *Program) batchIO() bool {
	batch := ""
	leading := func(vi ir.ValueInfo) bool {
		if vi.DType != ir.Float32 || len(vi.Dims) == 0 || vi.Dims[0].Param == "" {
			return false
		}
		if batch == "" {
			batch = vi.Dims[0].Param
		}
		return vi.Dims[0].Param == batch
	}
	for _, vi := range p.graph.Inputs {
		if !leading(vi) {
			return false
		}
	}
	for _, vi := range p.graph.Outputs {
		// (an output without a declared shape is checked on the plans)
		if vi.Dims != nil && !leading(vi) {
			return false
		}
	}
	return true
}

// separableAt reports whether pl, a plan of n images, computes each image
// on its own at its shapes and constants, as one, the plan of one image,
// computes it: for a program that separable refuses because some node is
// image-wise only at the shapes a plan gives it (ops.PlanImageWise: a
// Reshape or Slice whose shape, starts and ends the graph computes from
// its input's Shape). Every node that pl computes at run time (the
// others are constants of both plans) must have its computed tensors
// shaped as one's but for axis 0, which is n in pl; and be image-wise
// given which of its inputs pl holds as constants, those being the same
// in both plans where the graph does not hold them, or image-wise at the
// two plans' shapes and constants.
func (p *Program) separableAt(pl, one *Plan, n int) bool {
	imageShape := func(s int) bool {
		a, b := pl.slots[s].shape, one.slots[s].shape
		return one.slots[s].kind != slotConst && len(a) > 0 && len(a) == len(b) && a[0] == n && b[0] == 1 && ir.SameShape(a[1:], b[1:])
	}
	for _, c := range p.nodes {
		computed := false
		for _, s := range c.out {
			computed = computed || s >= 0 && pl.slots[s].kind != slotConst
		}
		if !computed {
			for _, s := range c.out {
				if s >= 0 && one.slots[s].kind != slotConst {
					return false
				}
			}
			continue
		}
		konst := make([]bool, len(c.in))
		in, in1 := make([]*ops.Value, len(c.in)), make([]*ops.Value, len(c.in))
		same := true // the constants of the node that the graph does not hold are the same in both plans
		for i, s := range c.in {
			if s < 0 {
				continue
			}
			a, b := &pl.slots[s], &one.slots[s]
			in[i] = &ops.Value{DType: a.dtype, Shape: a.shape}
			in1[i] = &ops.Value{DType: b.dtype, Shape: b.shape}
			if a.kind != slotConst {
				if !imageShape(s) {
					return false
				}
				continue
			}
			if b.kind != slotConst {
				return false
			}
			konst[i] = true
			in[i].Const, in1[i].Const = a.c, b.c
			same = same && (p.isConst(s) || sameTensor(a.c, b.c))
		}
		for _, s := range c.out {
			if s >= 0 && !imageShape(s) {
				return false
			}
		}
		if iw, ok := c.kernel.(ops.ImageWise); ok && same && iw.ImageWise(konst) {
			continue
		}
		if pw, ok := c.kernel.(ops.PlanImageWise); ok && len(c.out) > 0 && c.out[0] >= 0 &&
			pw.ImageWiseAt(in, pl.slots[c.out[0]].shape, in1, one.slots[c.out[0]].shape) {
			continue
		}
		return false
	}
	return true
}

// mayBeSeparable reports whether every node that pl computes at run time
// declares itself image-wise, at least at some plans' shapes: what
// separableAt needs before it checks the rules against the plan of one
// image.
func (p *Program) mayBeSeparable(pl *Plan) bool {
	for _, c := range p.nodes {
		for _, s := range c.out {
			if s < 0 || pl.slots[s].kind == slotConst {
				continue
			}
			_, iw := c.kernel.(ops.ImageWise)
			_, pw := c.kernel.(ops.PlanImageWise)
			if !iw && !pw {
				return false
			}
			break
		}
	}
	return true
}

// sameTensor reports whether a and b hold the same type, shape and values
// (bit for bit).
func sameTensor(a, b *ir.Tensor) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.DType != b.DType || !ir.SameShape(a.Shape, b.Shape) || len(a.F32) != len(b.F32) || len(a.I64) != len(b.I64) {
		return false
	}
	for i, v := range a.F32 {
		if math.Float32bits(v) != math.Float32bits(b.F32[i]) {
			return false
		}
	}
	return slices.Equal(a.I64, b.I64)
}

// isConst reports whether slot s is a constant of the graph: an
// initializer or a constant the program holds.
func (p *Program) isConst(s int) bool {
	_, ok := p.graph.Initializers[p.slotNames[s]]
	return ok || p.consts[s] != nil
}

// splitImages makes pl run image by image on its batch-1 plan when that
// pays: the program is separable (or pl is, at its shapes and constants:
// separableAt), pl runs on the CPU for n > 1 images in
// every input, the batch-1 plan's inputs and outputs are pl's with a
// leading 1, and it copies fewer Concat inputs than pl, or the program
// has several workers (the images then run side by side), or pl is one
// cacheImages picks. p.mu is held.
func (p *Program) splitImages(ctx context.Context, pl *Plan) error {
	if pl.gpu != nil || !p.sepIO || len(pl.inShapes) == 0 || len(pl.inShapes[0]) == 0 {
		return nil
	}
	parallel := p.pool.Workers() > 1
	big := !parallel && cacheImages(pl)
	if pl.copiedParts == 0 && !parallel && !big {
		return nil
	}
	n := pl.inShapes[0][0]
	if n < 2 {
		return nil
	}
	if !p.sep && !p.mayBeSeparable(pl) {
		return nil // (before a plan of one image is made for nothing)
	}
	shapes := make([][]int, len(pl.inShapes))
	for i, s := range pl.inShapes {
		if len(s) == 0 || s[0] != n || pl.inValues[i] != nil {
			return nil
		}
		shapes[i] = append([]int{1}, s[1:]...)
	}
	var one *Plan
	for _, q := range p.plans {
		if q.gpu == nil && q.single == nil && sameShapes(q.inShapes, shapes) {
			one = q
		}
	}
	if one == nil {
		q, err := p.makePlan(ctx, shapes, make([]*ir.Tensor, len(shapes)))
		if err != nil {
			// a graph that plans for its batch only (a constant shaped
			// for it, say) keeps it; a cancelled ctx fails the caller
			return ctx.Err()
		}
		q.inShapes, q.inValues = shapes, make([]*ir.Tensor, len(shapes))
		one = q
	}
	if one.copiedParts >= pl.copiedParts && !parallel && !big {
		return nil
	}
	if !p.splitsAs(pl, one, n) {
		return nil
	}
	pl.single, pl.images, pl.atOnce = one, n, 1
	if err := pl.setTail(ctx, p.outSlot, p.pool.Workers()); err != nil {
		return err
	}
	if parallel {
		pl.atOnce = min(p.pool.Workers(), n)
		pl.warmImages(p, pl.atOnce)
		return p.splitSub(ctx, pl)
	}
	return nil
}

// splitsAs reports whether pl, a plan of n images, computes each image
// as one, the batch-1 plan, computes it: the program is separable, or pl
// is at its shapes and constants (separableAt), and every output is
// shaped as one's but for axis 0, n in pl.
func (p *Program) splitsAs(pl, one *Plan, n int) bool {
	if !p.sep && !p.separableAt(pl, one, n) {
		return false
	}
	for _, s := range p.outSlot {
		a, b := pl.slots[s].shape, one.slots[s].shape
		if len(a) == 0 || len(a) != len(b) || a[0] != n || b[0] != 1 || !ir.SameShape(a[1:], b[1:]) {
			return false
		}
	}
	return true
}

// splitSub gives pl, a plan of n images that splitImages made run side
// by side on the program's W workers, a plan of n/W images (pl.sub) that
// each worker runs alone on its W-th of the batch: image by image on the
// batch-1 plan, then a batched tail of its own, cut as for one worker
// (tailCut). The Run is then W Runs of n/W images on one worker each: a
// worker reads the weights of the steps in its tail once for its images,
// and no step of the tail is split over workers. pl's own tail, cut for
// W workers, is shorter (a step joins it only where the weights it
// saves outweigh the activations the workers then hand each other), and
// its steps, split over the workers, read what the other worker's images
// wrote. It is made where n is a multiple of W with at least
// subMinImages images a worker, every output float32, and the plan of
// n/W images has a tail. Batch 8, two threads, alternating in one
// process (2-core Zen 5, 12 rounds): ShuffleNetV2 0.95 of its time,
// EfficientNet-B0 0.97, MobileNetV3, MobileNetV2, MnasNet and RegNet-Y
// 800MF 0.98-0.99, ResNet-34 and -50 0.99, ResNet-18, ResNeXt-50 and
// DenseNet-121 1.00 (their tails, or none, the same either way). The
// outputs are the sub plan's: its tail steps sum as its batch kernels do
// on n/W images.
func (p *Program) splitSub(ctx context.Context, pl *Plan) error {
	w, n, one := p.pool.Workers(), pl.images, pl.single
	if w < 2 || n%w != 0 || n/w < subMinImages {
		return nil
	}
	k := n / w
	for _, s := range p.outSlot {
		if pl.slots[s].dtype != ir.Float32 {
			return nil
		}
	}
	shapes := make([][]int, len(pl.inShapes))
	for i, s := range pl.inShapes {
		shapes[i] = append([]int{k}, s[1:]...)
	}
	sub, err := p.makePlan(ctx, shapes, make([]*ir.Tensor, len(shapes)))
	if err != nil {
		return ctx.Err()
	}
	sub.inShapes, sub.inValues = shapes, make([]*ir.Tensor, len(shapes))
	if !p.splitsAs(sub, one, k) {
		return nil
	}
	sub.single, sub.images, sub.atOnce = one, k, 1
	if err := sub.setTail(ctx, p.outSlot, 1); err != nil {
		return err
	}
	if sub.tailFrom == 0 {
		return nil
	}
	pl.sub, pl.subs = sub, w
	// w Runs of sub at once: w arenas of its tail and of the batch-1
	// plan (pl's warmImages made those), and w sets of arguments
	arenas := make([]*arena, w)
	for i := range arenas {
		arenas[i] = sub.getArena(p)
	}
	for _, a := range arenas {
		sub.putArena(p, a)
	}
	sub.warmImages(p, w)
	pl.imagesMu.Lock()
	defer pl.imagesMu.Unlock()
	for len(pl.subArgs) < w {
		pl.subArgs = append(pl.subArgs, newImageArgs(len(shapes), len(p.outSlot)))
	}
	return nil
}

// subMinImages is the fewest images a worker gets for splitSub: with 2
// a worker (batch 4 on two threads) the two ways measured the same,
// 0.96-1.05 of each other over the models above.
const subMinImages = 4

// subsOnWorkers runs a Run of pl on pl.sub, the batch's subs parts one a
// worker (see splitSub), into outs, already sized. times, when not nil,
// adds each step's mean over the parts of its time in each (a head
// step's over the part's images), as the parts run side by side: the
// steps' times then sum to about the Run's.
func (pl *Plan) subsOnWorkers(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, times []time.Duration) error {
	t := takeFree(&pl.imagesMu, &pl.subTasks)
	if t == nil {
		t = new(subsTask)
	}
	t.pl, t.p, t.ctx, t.inputs, t.outs = pl, p, ctx, inputs, outs
	if times != nil {
		t.times = make([][]time.Duration, pl.subs) // a profile's, not a Run's
		for w := range t.times {
			t.times[w] = make([]time.Duration, len(times))
		}
	}
	p.pool.Do(pl.subs, t)
	err := t.err
	for _, tw := range t.times {
		for i, d := range tw {
			times[i] += d / time.Duration(pl.subs)
		}
	}
	*t = subsTask{} // nothing of the Run kept
	putFree(&pl.imagesMu, &pl.subTasks, t)
	return err
}

// subsTask runs the parts of a Run of a plan with a sub plan, part w on
// the pool's slot w, whose worker takes it (hint 1 + w).
type subsTask struct {
	pl           *Plan
	p            *Program
	ctx          context.Context
	inputs, outs []*ir.Tensor
	times        [][]time.Duration // per part, when profiled: its steps' times
	mu           sync.Mutex
	err          error // the first error of any part
}

// Range runs parts [lo, hi).
func (t *subsTask) Range(lo, hi int) {
	for w := lo; w < hi; w++ {
		var times []time.Duration
		if t.times != nil {
			times = t.times[w]
		}
		if err := t.pl.runSub(t.ctx, t.p, t.inputs, t.outs, times, w); err != nil {
			t.mu.Lock()
			if t.err == nil {
				t.err = err
			}
			t.mu.Unlock()
		}
	}
}

// runSub runs part w of a Run of pl, images [w·k, (w+1)·k) for k =
// pl.sub.images, on pl.sub and the calling worker alone: the images
// through the head one after another, then sub's tail over the k, whose
// outputs go to rows w·k on of outs; times, when not nil, sums its steps'.
func (pl *Plan) runSub(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, times []time.Duration, w int) (err error) {
	sub := pl.sub
	k := sub.images
	args := takeArgs(&pl.imagesMu, &pl.subArgs, len(inputs), len(p.outSlot))
	defer putArgs(&pl.imagesMu, &pl.subArgs, args)
	for i, t := range inputs {
		per := len(t.F32) / pl.images
		args.inT[i] = ir.Tensor{DType: ir.Float32, Shape: sub.inShapes[i], F32: t.F32[w*k*per : (w+1)*k*per]}
		args.inPtr[i] = &args.inT[i]
	}
	par := worker{hint: 1 + w}
	a := sub.acquire(p, args.inPtr, par)
	defer sub.release(p, a, &err)
	if err := sub.runImageRange(ctx, p, args.inPtr, nil, times, 0, k, par, a); err != nil {
		return err
	}
	if err := sub.runSteps(ctx, a, sub.tailFrom, len(sub.steps), times); err != nil {
		return err
	}
	for i, s := range p.outSlot {
		src := a.tensors[s].F32
		copy(outs[i].F32[w*len(src):(w+1)*len(src)], src)
	}
	return nil
}

// warmImages readies k images of pl to run at once on pl.single: k
// arenas and slabs of pl.single, and k sets of per-image arguments with
// their outputs, made now so that no Run allocates them (the first Run
// may run its images one after another, the next side by side).
func (pl *Plan) warmImages(p *Program, k int) {
	one := pl.single
	arenas := make([]*arena, k)
	for i := range arenas {
		arenas[i] = one.getArena(p)
	}
	for _, a := range arenas {
		one.putArena(p, a)
	}
	pl.imagesMu.Lock()
	defer pl.imagesMu.Unlock()
	for len(pl.imageArgs) < k {
		a := newImageArgs(len(one.inShapes), len(p.outSlot))
		for i, s := range p.outSlot {
			a.outPtr[i] = sizedOut(nil, one.slots[s].shape)
		}
		pl.imageArgs = append(pl.imageArgs, a)
	}
}

// sameShapes reports whether a and b hold the same shapes.
func sameShapes(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !ir.SameShape(a[i], b[i]) {
			return false
		}
	}
	return true
}

// imageArgs are the per-image tensors of a Run that splitImages split:
// views of the caller's inputs, and the batch-1 plan's outputs.
type imageArgs struct {
	inT           []ir.Tensor
	inPtr, outPtr []*ir.Tensor
}

// takeArgs takes a set of arguments of a graph of ins inputs and outs
// outputs from a free list kept under mu, or makes one.
func takeArgs(mu *sync.Mutex, list *[]*imageArgs, ins, outs int) *imageArgs {
	if a := takeFree(mu, list); a != nil {
		return a
	}
	return newImageArgs(ins, outs)
}

// putArgs gives a back to the free list, its views of a Run's inputs
// dropped so that the list keeps no caller's tensor alive.
func putArgs(mu *sync.Mutex, list *[]*imageArgs, a *imageArgs) {
	for i := range a.inT {
		a.inT[i].F32 = nil
	}
	putFree(mu, list, a)
}

// newImageArgs returns the per-image arguments of a graph of ins inputs
// and outs outputs, the outputs not yet made.
func newImageArgs(ins, outs int) *imageArgs {
	return &imageArgs{inT: make([]ir.Tensor, ins), inPtr: make([]*ir.Tensor, ins), outPtr: make([]*ir.Tensor, outs)}
}

// runImages runs pl image by image on pl.single, each image's inputs a
// view of the caller's and its outputs copied into outs (or handed to a
// batched tail, see runWithTail); times, when not nil, sums the steps of
// pl.single. With several workers (and no times) the images run side by
// side, each on one worker (see imagesTask); where pl has a sub plan
// (splitSub), each worker runs its part of the batch on that, profiled
// or not.
func (pl *Plan) runImages(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, times []time.Duration) error {
	if pl.sub != nil {
		for i := range outs {
			outs[i] = sizedOut(outs[i], pl.slots[p.outSlot[i]].shape)
		}
		return pl.subsOnWorkers(ctx, p, inputs, outs, times)
	}
	if pl.tailFrom > 0 {
		return pl.runWithTail(ctx, p, inputs, outs, times)
	}
	for i := range outs {
		outs[i] = sizedOut(outs[i], pl.slots[p.outSlot[i]].shape)
	}
	if p.pool.Workers() > 1 && times == nil {
		return pl.imagesOnWorkers(ctx, p, inputs, outs, nil)
	}
	return pl.runImageRange(ctx, p, inputs, outs, times, 0, pl.images, nil, nil)
}

// imagesOnWorkers runs the images of a Run of pl side by side, each range
// of them on one worker (see runImageRange for outs and to).
func (pl *Plan) imagesOnWorkers(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, to *arena) error {
	t := takeFree(&pl.imagesMu, &pl.imageTasks)
	if t == nil {
		t = new(imagesTask)
	}
	t.pl, t.p, t.ctx, t.inputs, t.outs, t.to = pl, p, ctx, inputs, outs, to
	p.pool.Do(pl.images, t)
	err := t.err
	*t = imagesTask{} // nothing of the Run kept
	putFree(&pl.imagesMu, &pl.imageTasks, t)
	return err
}

// takeFree takes the last item of a free list kept under mu, or nil.
func takeFree[T any](mu *sync.Mutex, list *[]*T) *T {
	mu.Lock()
	defer mu.Unlock()
	k := len(*list)
	if k == 0 {
		return nil
	}
	v := (*list)[k-1]
	*list = (*list)[:k-1]
	return v
}

// putFree gives v back to a free list kept under mu.
func putFree[T any](mu *sync.Mutex, list *[]*T, v *T) {
	mu.Lock()
	*list = append(*list, v)
	mu.Unlock()
}

// imagesTask runs the images of a Run of a split plan, each range of them
// on one worker with every loop of the batch-1 plan on that worker. The
// plan keeps those of Runs not in use (imageTasks), so that a Run
// allocates nothing.
type imagesTask struct {
	pl           *Plan
	p            *Program
	ctx          context.Context
	inputs, outs []*ir.Tensor
	to           *arena
	mu           sync.Mutex
	err          error // the first error of any range
}

// Range runs images [lo, hi).
func (t *imagesTask) Range(lo, hi int) {
	hint := 1 + slotOf(lo, t.pl.images, min(t.pl.images, t.p.pool.Workers()))
	if err := t.pl.runImageRange(t.ctx, t.p, t.inputs, t.outs, nil, lo, hi, worker{hint: hint}, t.to); err != nil {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
}

// worker runs the loops of a range of images on the worker that runs the
// range (kern.Serial), with a hint for the kernels' scratch lists
// (kern.Env.Hint): 1 + the pool's slot the range lies in (slotOf), the
// same for a worker from Run to Run, as the pool deals each worker its
// own slot's chunks. Each worker then gets back the scratch buffers it
// used last, which its own core's caches hold: from one list shared by
// the two workers, half of them came from the other core's, on the other
// die of a 2-core Zen 5. Batch 8, two threads, alternating in one
// process: MobileNetV3 0.92-0.94 of its time, EfficientNet-B0 0.94-0.95,
// MnasNet 0.99, the others (RegNet-Y, ResNeXt-50, MobileNetV2,
// DenseNet-121, ResNet-18 and -50) 0.99-1.02; one thread (no hint)
// unchanged. (A hint per chunk, its first image, kept a worker's chunks
// apart: the slot's, alternating runs, MobileNetV3 0.97-1.00,
// EfficientNet-B0 0.96-0.97, MnasNet 0.96-1.01 of that.)
type worker struct {
	kern.Serial
	hint int
}

// slotOf returns the slot of the pool (Pool.Do) that unit lo of a loop
// over n units on slots slots lies in: slot s deals the chunks of
// [⌊s·n/slots⌋, ⌊(s+1)·n/slots⌋).
func slotOf(lo, n, slots int) int {
	return (lo*slots + slots - 1) / n
}

// runImageRange runs images [lo, hi) of a Run of pl on pl.single, its
// loops on par (nil: the program's pool), into outs, already sized; or,
// when to is not nil, through pl's head only, each image handing its
// tensors to to, pl's arena for the Run (see runWithTail).
func (pl *Plan) runImageRange(ctx context.Context, p *Program, inputs, outs []*ir.Tensor, times []time.Duration, lo, hi int, par kern.Parallel, to *arena) error {
	one := pl.single
	a := takeArgs(&pl.imagesMu, &pl.imageArgs, len(inputs), len(p.outSlot))
	defer putArgs(&pl.imagesMu, &pl.imageArgs, a)
	for img := lo; img < hi; img++ {
		for i, t := range inputs {
			per := len(t.F32) / pl.images
			a.inT[i] = ir.Tensor{DType: ir.Float32, Shape: one.inShapes[i], F32: t.F32[img*per : (img+1)*per]}
			a.inPtr[i] = &a.inT[i]
		}
		if to != nil {
			if err := one.runHead(ctx, p, a.inPtr, times, par, pl.tailFrom, pl.handoff, to, img); err != nil {
				return err
			}
			continue
		}
		if err := one.runCPU(ctx, p, a.inPtr, a.outPtr, times, par); err != nil {
			return err
		}
		for i, o := range a.outPtr {
			per := len(o.F32)
			copy(outs[i].F32[img*per:(img+1)*per], o.F32)
		}
	}
	return nil
}

// sizedOut returns dst (a new tensor when nil) holding float32 data of the
// shape, its buffer reused when big enough.
func sizedOut(dst *ir.Tensor, shape []int) *ir.Tensor {
	if dst == nil {
		dst = &ir.Tensor{}
	}
	n := ir.NumElems(shape)
	dst.DType, dst.I64 = ir.Float32, nil
	dst.Shape = append(dst.Shape[:0], shape...)
	if cap(dst.F32) < n {
		dst.F32 = make([]float32, n)
	}
	dst.F32 = dst.F32[:n]
	return dst
}

// cacheImagesDefault is the activation bytes above which cacheImages
// splits a batch where CPUID reports no last-level cache (as on the
// Firecracker VMs these rules were measured on, whose Zen 5 cores share
// 32 MB).
const cacheImagesDefault = 16 << 20

// cacheImages reports whether pl, a batch plan, is one that runs image by
// image even on one worker: its float32 activations (its arena) hold more
// than half the last-level cache (kern.LastLevelCache; cacheImagesDefault
// where unknown). One thread, the plans alternating in one process (2-core
// Zen 5; arenas at batch 8 in MiB): at batch 8 MobileNetV2 (18) 0.94-0.96
// of its time, EfficientNet-B0 (24) 0.92-0.97, ResNeXt-50 (79) 0.93-0.97,
// RegNet-Y 800MF (42) 0.91-1.01, MnasNet (18) 0.92-0.93 without a batched
// tail; with it (their last stages batched), ResNet-50 0.94-0.97,
// ResNet-18 0.98-0.99 (1.05 without one), ResNet-34 1.00-1.01, and at
// batches 2 and 4 the three 0.98-1.00. At batch 2, with arenas of 4 to
// 10 MiB, MobileNetV2, EfficientNet-B0 and RegNet-Y were 1.03-1.13 image
// by image (their tensors stay in the cache batched), hence the bound.
func cacheImages(pl *Plan) bool {
	bound := cacheImagesDefault
	if c := kern.LastLevelCache; c > 0 {
		bound = c / 2
	}
	return 4*pl.f32Size > bound
}
