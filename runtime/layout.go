package runtime

import (
	"context"
	"slices"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
)

// align rounds an arena size up to 16 elements (64 bytes for float32).
func align(n int) int { return (n + 15) &^ 15 }

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
	size := func(s int) int { return ir.NumElems(pl.slots[s].shape) }
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

// countCopiedParts sets copiedParts: how many inputs of steps that copy
// their inputs into their output (those with Step.Parts: Concats) are
// not where the step's output holds them (a Concat of several outer
// slices copies each).
func (pl *Plan) countCopiedParts() {
	pl.copiedParts = 0
	for _, st := range pl.steps {
		if st.view || st.step.Parts == nil || len(st.c.out) == 0 || st.c.out[0] < 0 {
			continue
		}
		yr, yat := pl.rootAt(st.c.out[0])
		for i, x := range st.c.in {
			if x < 0 {
				continue
			}
			xr, xat := pl.rootAt(x)
			if i >= len(st.step.Parts) || st.step.Parts[i] < 0 ||
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
	return pl.layoutFrom(ctx, outSlots, 0, nil)
}

// layoutFrom is layout for a plan whose Runs start at step from (see
// tailCut), the float32 blocks of first (written before it) placed
// before that step runs. With from > 0 it places the float32 blocks
// only: those that no step from from on touches get no place (off -1,
// left out of f32Spans), the int64 ones keep theirs.
func (pl *Plan) layoutFrom(ctx context.Context, outSlots []int, from int, first []int) error {
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
	// over[s]: the block tensor s takes over as a step writes it over an
	// input that no later step reads (stepPlan.over), or -1
	over := make([]int, len(pl.slots))
	for s := range over {
		over[s] = -1
	}
	for i := from; i < len(pl.steps); i++ {
		st := &pl.steps[i]
		if st.over == 0 || st.view {
			continue
		}
		z, y := st.c.in[st.over-1], st.c.out[0]
		if last[z] == i {
			over[y] = z
		}
	}
	allocated := make([]bool, len(pl.slots))
	if from > 0 {
		pl.f32Size = 0
		for s := range pl.slots {
			if sp := &pl.slots[s]; sp.kind == slotBuf && sp.dtype != ir.Int64 {
				sp.off = -1
			} else if sp.kind == slotBuf {
				allocated[s] = true
			}
		}
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
	// place gives root s its block, if it has none, as step i writes it.
	place := func(s, i int) {
		if pl.slots[s].kind != slotBuf || allocated[s] {
			return
		}
		allocated[s] = true
		sp := &pl.slots[s]
		k := 0
		if sp.dtype == ir.Int64 {
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
		size := align(max(ir.NumElems(sp.shape), 1))
		if r := over[s]; r >= 0 && allocated[r] && pl.slots[r].off >= 0 {
			// the block of the input it overwrites (see overwrites),
			// kept until this tensor's last reader
			sp.off = pl.slots[r].off
			for j := range live[k] {
				if live[k][j].off == sp.off {
					live[k][j].last = max(live[k][j].last, last[s])
				}
			}
			return
		}
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
	for _, s := range first {
		place(rootOf(s), from)
	}
	for i := from; i < len(pl.steps); i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		st := &pl.steps[i]
		if st.view {
			continue
		}
		for _, out := range st.c.out {
			// A block is taken when the first of the tensors placed in
			// it is written (see placeParts).
			if out >= 0 {
				place(rootOf(out), i)
			}
		}
	}
	return nil
}

// overwrites marks the steps whose output 0 may take the block of one of
// their inputs on tier k (ops.Step.Overwrite, stepPlan.over): both
// computed tensors whose data are their own blocks (no views), of one
// type, shape and layout, the step reading that block through no other
// input; layout then gives the output that block where no later step reads
// the input. A fused convolution's residual so becomes its output (the
// block of a ResNet's input, its output): the epilogue reads each line of
// the residual before it writes the output's values there, where a block
// of its own was lines the output's stores fetched first (one thread, the
// layers alone with the caches flushed, as a network leaves them:
// ResNet-50's 64 → 256 1×1 with the residual at 56×56 680 → 550 µs, 128 →
// 512 at 28×28 600 → 530). The activations shrink with it (ResNet-50's
// 9.95 → 6.89 MiB at batch 1, ResNeXt-50's the same, ResNet-18's 8.42 →
// 6.89 at batch 8); in the network, one thread, alternating, ResNet-50
// 0.98-1.01 of its time (three runs), ResNeXt-50 0.99, the others within
// noise.
func (pl *Plan) overwrites(k *kern.Tier) {
	if k == nil {
		return
	}
	for i := range pl.steps {
		st := &pl.steps[i]
		st.over = 0
		if st.view || st.step.Overwrite == nil || len(st.c.out) == 0 || st.c.out[0] < 0 {
			continue
		}
		j := st.step.Overwrite(k)
		if j < 0 || j >= len(st.c.in) || st.c.in[j] < 0 {
			continue
		}
		z, y := st.c.in[j], st.c.out[0]
		a, b := &pl.slots[z], &pl.slots[y]
		if a.kind != slotBuf || b.kind != slotBuf || a.dtype != b.dtype || a.pix != b.pix ||
			!ir.SameShape(a.shape, b.shape) {
			continue
		}
		alone := true
		for q, s := range st.c.in {
			if s >= 0 && pl.slots[s].kind == slotView {
				s = pl.slots[s].root
			}
			if q != j && s == z {
				alone = false
			}
		}
		if alone {
			st.over = j + 1
		}
	}
}

// pixLayouts picks the tensors of pl that lie pixel-major, each pixel's
// channels side by side, instead of in planes (see ops.Layout), and tells
// every step that can take them its choice. A convolution that the tier
// computes pixel by pixel (kern's convPix) copies its input from planes
// into such a layout and scatters its output back into planes; where the
// next step is such a convolution too, or a global pool, the moves cancel
// out, and a tensor that only such steps write and read skips both
// (RegNet-Y's, ResNet-50's and ResNeXt-50's 14×14 and 7×7 blocks: each
// block's output feeds the next block's first 1×1 convolution and its
// residual; a grouped 3×3 convolution's output the gate's pool and the
// 1×1 convolution after it).
//
// A tensor lies pixel-major when it is a float32 buffer of four
// dimensions with more than one pixel, not a graph output (outs) nor the
// root of a view, written by a step that can write it so, and read only
// by steps that read it either way (ops.Layout.In), or that must read it
// as their output lies (ops.Layout.Tied, a residual): such a tensor and
// that output then take the same layout, so the tensors tied together
// are chosen together, all of them or none.
func (pl *Plan) pixLayouts(k *kern.Tier, outs []int) {
	type can struct{ in, tied int }
	n := len(pl.slots)
	cans := make([]can, len(pl.steps))
	ok := make([]bool, n)
	for i, st := range pl.steps {
		cans[i] = can{-1, -1}
		if st.view || st.step.Layout == nil || len(st.c.out) == 0 || st.c.out[0] < 0 {
			continue
		}
		in, out, tied := st.step.Layout.Can(k)
		cans[i] = can{in, -1}
		if out {
			cans[i].tied = tied
			y := st.c.out[0]
			sp := &pl.slots[y]
			ok[y] = sp.kind == slotBuf && sp.dtype == ir.Float32 && len(sp.shape) == 4 && sp.shape[2]*sp.shape[3] > 1
		}
	}
	for _, s := range outs {
		ok[s] = false
	}
	for s := range pl.slots {
		if sp := &pl.slots[s]; sp.kind == slotView {
			ok[sp.root] = false
		}
	}
	// tie[s]: the slot whose group s joins (union-find over the ties)
	tie := make([]int, n)
	for s := range tie {
		tie[s] = s
	}
	find := func(s int) int {
		for tie[s] != s {
			tie[s] = tie[tie[s]]
			s = tie[s]
		}
		return s
	}
	for i, st := range pl.steps {
		for j, s := range st.c.in {
			switch {
			case s < 0:
			case st.view:
				ok[s] = false
			case j == cans[i].in:
			case j == cans[i].tied:
				tie[find(s)] = find(st.c.out[0])
			default:
				ok[s] = false
			}
		}
	}
	groupOK := make([]bool, n)
	for s := range groupOK {
		groupOK[s] = true
	}
	for s := range pl.slots {
		if !ok[s] {
			groupOK[find(s)] = false
		}
	}
	for s := range pl.slots {
		pl.slots[s].pix = ok[s] && groupOK[find(s)]
	}
	for i := range pl.steps {
		st := &pl.steps[i]
		if st.view || st.step.Layout == nil {
			continue
		}
		st.pixIn = cans[i].in >= 0 && cans[i].in < len(st.c.in) && st.c.in[cans[i].in] >= 0 && pl.slots[st.c.in[cans[i].in]].pix
		st.pixOut = len(st.c.out) > 0 && st.c.out[0] >= 0 && pl.slots[st.c.out[0]].pix
		st.step.Layout.Set(st.pixIn, st.pixOut)
	}
}
