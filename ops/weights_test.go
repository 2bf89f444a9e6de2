package ops

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// TestUnpack checks that unpack gives back the values of packs that only
// move them (with padding, duplicates, in one probe and in two), bit for
// bit, -0, infinities and NaN payloads included, and that it cannot give
// back those of a pack that computes (sums) or loses a value.
func TestUnpack(t *testing.T) {
	w := kerntest.Rand(1, 1000)
	w[3], w[7], w[11] = float32(math.Copysign(0, -1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc01234)
	reversed := func(w []float32) []float32 {
		out := make([]float32, len(w)+7) // zeros at the end
		for i, v := range w {
			out[len(w)-1-i] = v
		}
		return out
	}
	twice := func(w []float32) []float32 { return append(slices.Clone(w), w...) }
	sums := func(w []float32) []float32 {
		out := slices.Clone(w)
		for i := 1; i < len(out); i++ {
			out[i] += w[i-1]
		}
		return out
	}
	lose := func(w []float32) []float32 { return slices.Clone(w[1:]) }
	for _, digits := range []int{1, 2} {
		if digits == 2 {
			old := probeOneDigit
			probeOneDigit = 300
			defer func() { probeOneDigit = old }()
		}
		for _, c := range []struct {
			name  string
			pack  func([]float32) []float32
			exact bool
		}{{"reversed", reversed, true}, {"twice", twice, true}, {"sums", sums, false}, {"lose", lose, false}} {
			if got := sameBits(unpack(c.pack(w), len(w), c.pack), w); got != c.exact {
				t.Errorf("%s, %d digits: exact %v, want %v", c.name, digits, got, c.exact)
			}
		}
	}
}

// TestPacksMove checks every tier's claims that its packs only move
// values (kern.Tier.PackConvMoves, PackGemm, PackDwBlock), on which held
// weights rely to get the plain values back: on every convolution case of
// the conv tests, -0, infinities and NaN payloads among the weights, unpack
// gives back the weights bit for bit from every pack that claims to move
// them, and not from the others (Winograd's).
func TestPacksMove(t *testing.T) {
	weights := func(seed uint64, n int) []float32 {
		w := kerntest.Rand(seed, n)
		for i, v := range []float32{float32(math.Copysign(0, -1)), float32(math.Inf(1)), math.Float32frombits(0x7fc0abcd)} {
			if 3*i < n {
				w[3*i] = v
			}
		}
		return w
	}
	for _, k := range testTiers() {
		if k.PackConv == nil {
			continue
		}
		kinds := map[int]bool{}
		for i, cc := range append(append(slices.Clone(convCases), bigConvCases...), winoConvCases...) {
			_, step, err := prepareOpConst(cc.node(), 1, cc.inputs(0)...)
			if err != nil {
				t.Fatal(err)
			}
			d, ok := step.Dev.(*ConvDev)
			if !ok {
				continue
			}
			g := d.G
			w := weights(uint64(i), g.M*g.C/g.Group*g.KH*g.KW)
			pack := func(w []float32) []float32 { return k.PackConv(&g, w) }
			data := pack(w)
			if data == nil {
				continue
			}
			kind := k.PackConvKind(&g)
			moves := k.PackConvMoves(kind)
			kinds[kind] = moves
			if exact := sameBits(unpack(data, len(w), pack), w); exact != moves {
				t.Errorf("%s %v: layout %d moves values %v, but unpack gives them back %v", k.Name, cc, kind, moves, exact)
			}
			if k.PackDwBlock != nil && g.Group == g.C && g.M == g.C {
				pack := func(w []float32) []float32 { return k.PackDwBlock(&g, w) }
				if !sameBits(unpack(pack(w), len(w), pack), w) {
					t.Errorf("%s %v: PackDwBlock's pack does not give the weights back", k.Name, cc)
				}
			}
		}
		t.Logf("%s: layouts (moving values) %v", k.Name, kinds)
		if k.PackGemm != nil {
			for _, c := range []struct {
				transB     bool
				kk, n, ldb int
			}{{false, 300, 33, 33}, {true, 64, 1000, 64}, {true, 5, 17, 5}, {false, 7, 3, 3}} {
				pack := func(b []float32) []float32 { return k.PackGemm(c.transB, c.kk, c.n, b, c.ldb) }
				b := weights(uint64(c.n), c.kk*c.n)
				if !sameBits(unpack(pack(b), len(b), pack), b) {
					t.Errorf("%s: PackGemm's pack of %+v does not give B back", k.Name, c)
				}
			}
		}
	}
}

// heldCheck is a node whose constant inputs consts the runtime offers to
// its kernel (see ConstTaker), run at a sequence of inputs.
type heldCheck struct {
	name   string
	node   func() *Node
	consts []int
	steps  [][]*Tensor // each step's inputs; the constants the same tensors
	// reads, when not nil, says whether tier k's Run of a step described
	// by dev (its Step.Dev) reads the plain weights: if one does, they
	// stay; if none does, they are let go once a pack holds them exactly.
	reads func(k *kern.Tier, dev any) bool
}

// convReads is heldCheck.reads for a convolution: a 3-D one, and a 2-D
// one that the tier packs nothing for, read the plain weights.
func convReads(k *kern.Tier, dev any) bool {
	d, ok := dev.(*ConvDev)
	return !ok || k.PackConv == nil || k.PackConvKind == nil || k.PackConvKind(&d.G) == 0
}

// gemmReads is heldCheck.reads for a Gemm: a product of a few rows of A
// reads B as it lies.
func gemmReads(k *kern.Tier, dev any) bool {
	return k.PackGemm == nil || kern.GemmSmallOK(false, dev.(*GemmDev).M)
}

// runKernel prepares k on vals and runs its step in env on ins, into
// outputs filled with NaN.
func runKernel(env *kern.Env, k Kernel, vals []*Value, ins []*Tensor) ([]*Tensor, error) {
	outVals, step, err := k.Prepare(vals)
	if err != nil {
		return nil, err
	}
	outs := make([]*Tensor, len(outVals))
	for i, v := range outVals {
		outs[i] = NewF32(v.Shape, nil)
		for j := range outs[i].F32 {
			outs[i].F32[j] = float32(math.NaN())
		}
	}
	if step.Scratch > 0 {
		env.Scratch = make([]float32, step.Scratch*kern.ParOf(env).Workers())
	}
	return outs, step.Run(env, ins, outs)
}

// heldKernel builds hc's kernel and offers it the constants, returning it
// with the stubs that stand for those it took (nil for the others).
func (hc heldCheck) heldKernel(t *testing.T) (Kernel, []*Tensor) {
	t.Helper()
	n := hc.node()
	k, err := Lookup(n.OpType)(n)
	if err != nil {
		t.Fatal(err)
	}
	ins := hc.steps[0]
	stubs := make([]*Tensor, len(ins))
	tk, ok := k.(ConstTaker)
	if !ok {
		t.Fatalf("%s: %s takes no constants", hc.name, n.OpType)
	}
	for _, i := range hc.consts {
		if ins[i] == nil {
			continue
		}
		stub := &Tensor{DType: Float32, Shape: ins[i].Shape}
		if tk.TakeConst(i, ins[i], stub) {
			stubs[i] = stub
		}
	}
	return k, stubs
}

// values returns the plan-time values of ins: the constants as Const,
// stubs in place of those taken; and the Run's inputs: without data for
// those taken.
func (hc heldCheck) values(ins, stubs []*Tensor) ([]*Value, []*Tensor) {
	vals := make([]*Value, len(ins))
	run := slices.Clone(ins)
	for i, x := range ins {
		if x == nil {
			continue
		}
		vals[i] = &Value{DType: x.DType, Shape: x.Shape}
		if slices.Contains(hc.consts, i) {
			vals[i].Const = x
		}
		if stubs != nil && stubs[i] != nil {
			vals[i].Const = stubs[i]
			run[i] = &Tensor{DType: Float32, Shape: x.Shape}
		}
	}
	return vals, run
}

// check runs hc's steps on tier k, in order, with a kernel that holds its
// weights and with one that is given them as plain constants at every
// step, and checks that the results are the same bit for bit and that the
// weights were let go unless a step read them. It returns how many packs
// were made of weights got back from another.
func (hc heldCheck) check(t *testing.T, k *kern.Tier, workers int) (recovered int) {
	t.Helper()
	held, stubs := hc.heldKernel(t)
	n := hc.node()
	plain, err := Lookup(n.OpType)(n)
	if err != nil {
		t.Fatal(err)
	}
	reads := false
	for s, ins := range hc.steps {
		what := fmt.Sprintf("%s on %s, workers %d, step %d (X %v)", hc.name, k.Name, workers, s, ins[0].Shape)
		vals, _ := hc.values(ins, nil)
		want, err := runKernel(nnEnv(k, workers), plain, vals, ins)
		if err != nil {
			t.Fatalf("%s: plain: %v", what, err)
		}
		if hc.reads != nil {
			_, st, err := plain.Prepare(vals)
			if err != nil {
				t.Fatal(err)
			}
			reads = reads || hc.reads(k, st.Dev)
		}
		vals, run := hc.values(ins, stubs)
		hs := held.(*holdingKernel).held
		before := map[*heldWeights]int{}
		for _, h := range hs {
			h.mu.Lock()
			if h.plain == nil {
				before[h] = len(h.packs)
			}
			h.mu.Unlock()
		}
		got, err := runKernel(nnEnv(k, workers), held, vals, run)
		if err != nil {
			t.Fatalf("%s: held: %v", what, err)
		}
		kerntest.SameBits(t, what, got[0].F32, want[0].F32)
		for h, n := range before {
			h.mu.Lock()
			if len(h.packs) > n || h.kept {
				recovered++
			}
			h.mu.Unlock()
		}
	}
	for i, h := range held.(*holdingKernel).held {
		h.mu.Lock()
		let, kept, exact := h.plain == nil, h.kept, h.exact != nil
		h.mu.Unlock()
		what := fmt.Sprintf("%s on %s: input %d", hc.name, k.Name, i)
		switch {
		case let != (!kept && exact):
			t.Errorf("%s: plain weights let go %v, read by a plan %v, an exact pack %v", what, let, kept, exact)
		case hc.reads != nil && !reads && !let:
			t.Errorf("%s: plain weights not let go (read by a plan %v, an exact pack %v)", what, kept, exact)
		case hc.reads != nil && reads != kept:
			t.Errorf("%s: plain weights read by a plan %v, want %v", what, kept, reads)
		}
	}
	return recovered
}

// heldChecks lists nodes with weights whose plans take every path of the
// blocked tiers, the weights packed first in a form they are recovered
// from exactly and then in others, or first as Winograd's transform
// (which they are not recovered from), then plain.
func heldChecks() []heldCheck {
	var hcs []heldCheck
	conv := func(name string, c convCase, sizes [][]int, batches []int) {
		w := nnRand(1, append([]int{c.m, c.c / c.group}, c.k...)...)
		b := nnRand(2, c.m)
		var steps [][]*Tensor
		for i, sz := range sizes {
			for _, nb := range batches {
				steps = append(steps, []*Tensor{nnRand(uint64(10+i*10+nb), append([]int{nb, c.c}, sz...)...), w, b})
			}
		}
		hcs = append(hcs, heldCheck{name: name, node: c.node, consts: []int{1, 2}, steps: steps, reads: convReads})
	}
	k3 := convCase{c: 20, m: 18, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}}
	// pixel tiles (exact) first, then Winograd, in place, a 1×1 plane
	conv("3x3 pix first", k3, [][]int{{5, 5}, {30, 29}, {16, 16}, {1, 1}, {7, 7}, {30, 29}}, []int{1, 3})
	// Winograd first: the plain weights stay until an exact pack is made
	conv("3x3 winograd first", k3, [][]int{{30, 29}, {16, 16}, {5, 5}, {30, 29}}, []int{2, 1})
	conv("depthwise", convCase{c: 16, m: 16, k: []int{3, 3}, group: 16, pads: []int64{1, 1, 1, 1}},
		[][]int{{5, 5}, {9, 9}, {40, 40}}, []int{1, 2})
	conv("grouped strided", convCase{c: 24, m: 48, k: []int{3, 3}, group: 3, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}},
		[][]int{{6, 5}, {31, 27}}, []int{1, 2})
	// matrix-vector products up to batch 4 read the plain weights
	conv("1x1 matrix-vector", convCase{c: 70, m: 33, k: []int{1, 1}, group: 1},
		[][]int{{13, 14}, {1, 1}, {7, 7}}, []int{8, 1, 3})
	conv("1-D", convCase{c: 9, m: 13, k: []int{3}, group: 1, pads: []int64{1, 1}}, [][]int{{29}, {100}}, []int{1, 2})
	conv("3-D", convCase{c: 4, m: 5, k: []int{3, 3, 3}, group: 1}, [][]int{{5, 6, 7}, {4, 4, 4}}, []int{1, 2})

	// FusedConv: a prologue (no matrix-vector product then) and a
	// residual, on 1×1 planes and others.
	for _, pre := range []bool{false, true} {
		fc := fusedCase{n: 1, c: 70, h: 1, w: 1, m: 33, k: 1, stride: 1, group: 1, pre: pre, resid: true, act: "Relu"}
		w, b := nnRand(3, fc.m, fc.c, 1, 1), nnRand(4, fc.m)
		ps, pb := nnRand(5, fc.c), nnRand(6, fc.c)
		var steps [][]*Tensor
		for i, sz := range [][]int{{1, 1}, {7, 7}, {1, 1}} {
			for _, nb := range []int{1, 8} {
				x := nnRand(uint64(20+i*10+nb), nb, fc.c, sz[0], sz[1])
				z := nnRand(uint64(21+i*10+nb), nb, fc.m, sz[0], sz[1])
				ins := []*Tensor{x, w, b, z, nil, nil}
				if pre {
					ins[4], ins[5] = ps, pb
				}
				steps = append(steps, ins)
			}
		}
		hcs = append(hcs, heldCheck{name: fmt.Sprintf("fused pre=%v", pre), node: func() *Node { return fusedConvNode(fc) },
			consts: []int{1, 2, 4, 5}, steps: steps, reads: convReads})
	}

	// Gemm and FusedGemm: a matrix-vector product up to 4 rows of A reads
	// B as it lies; more rows, its pack.
	for _, op := range []string{"Gemm", "bnrun.FusedGemm"} {
		for _, transB := range []bool{false, true} {
			bs := []int{64, 33}
			if transB {
				bs = []int{33, 64}
			}
			b, c := nnRand(7, bs...), nnRand(8, 33)
			for _, rows := range [][]int{{8, 1, 5, 2}, {6, 9}} {
				var steps [][]*Tensor
				for _, m := range rows {
					steps = append(steps, []*Tensor{nnRand(uint64(30+m), m, 64), b, c})
				}
				tb := int64(0)
				if transB {
					tb = 1
				}
				node := func() *Node {
					n := nnNode(op, 13, 1, nnInt("transB", tb), nnFloat("alpha", 0.5))
					if op != "Gemm" {
						n.Attrs["activation"] = nnStr("activation", "Relu")
					}
					return n
				}
				hcs = append(hcs, heldCheck{name: fmt.Sprintf("%s transB=%v rows %v", op, transB, rows), node: node,
					consts: []int{1, 2}, steps: steps, reads: gemmReads})
			}
		}
	}

	// DwBlock: in one pass where the tier can, one layer after the other
	// where it cannot.
	bc := dwBlockCase{1, 16, 96, 0, 0, 3, 2, 1, 1, 24, false, "Clip", "Clip", ""}
	we, be := nnRand(40, bc.c1, bc.c0, 1, 1), nnRand(41, bc.c1)
	wd, bd := nnRand(42, bc.c1, 1, bc.k, bc.k), nnRand(43, bc.c1)
	wp, bp := nnRand(44, bc.c2, bc.c1, 1, 1), nnRand(45, bc.c2)
	var steps [][]*Tensor
	for i, sz := range [][]int{{23, 21}, {8, 8}, {58, 57}, {3, 3}} {
		steps = append(steps, []*Tensor{nnRand(uint64(50+i), bc.n, bc.c0, sz[0], sz[1]), we, be, wd, bd, wp, bp})
	}
	hcs = append(hcs, heldCheck{name: "dwblock", node: func() *Node { return dwBlockNode(bc) }, consts: []int{1, 2, 3, 4, 5, 6}, steps: steps})
	return hcs
}

// TestHeldWeights runs convolutions, fused ones, Gemms and DwBlocks whose
// weights their kernels hold (see ConstTaker) on every tier, at input
// sizes and batch sizes that take different paths (so that plain weights
// let go are got back from a pack), bit for bit against kernels given the
// weights as constants, and checks that the plain weights were let go
// unless a plan read them.
func TestHeldWeights(t *testing.T) {
	for _, k := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
		recovered := 0
		for _, hc := range heldChecks() {
			recovered += hc.check(t, k, 2)
		}
		t.Logf("%s: %d packs or plain weights got back from a pack", k.Name, recovered)
		if k == kern.Twin && recovered < 5 {
			t.Errorf("%s: weights got back from a pack %d times, want at least 5", k.Name, recovered)
		}
	}
}

// TestHeldWeightsConcurrent runs the plans of each heldChecks node at once
// from several goroutines, on a kernel that holds its weights and packs
// them during these Runs, and checks every result bit for bit.
func TestHeldWeightsConcurrent(t *testing.T) {
	k := kern.Best()
	for _, hc := range heldChecks() {
		n := hc.node()
		plain, err := Lookup(n.OpType)(n)
		if err != nil {
			t.Fatal(err)
		}
		want := make([][]float32, len(hc.steps))
		for s, ins := range hc.steps {
			vals, _ := hc.values(ins, nil)
			out, err := runKernel(nnEnv(k, 1), plain, vals, ins)
			if err != nil {
				t.Fatal(err)
			}
			want[s] = out[0].F32
		}
		held, stubs := hc.heldKernel(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4*len(hc.steps))
		for range 2 {
			for s, ins := range hc.steps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					vals, run := hc.values(ins, stubs)
					got, err := runKernel(nnEnv(k, 1), held, vals, run)
					if err == nil && !sameBits(got[0].F32, want[s]) {
						err = fmt.Errorf("step %d differs", s)
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %v", hc.name, err)
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestHeldWeightsErrors checks that a held kernel refuses what it cannot
// hold (another input, an int64 or empty tensor, a second offer) and that
// a Run given W without data where the plan has no held weights fails
// with an error naming W.
func TestHeldWeightsErrors(t *testing.T) {
	n := convCase{c: 4, m: 3, k: []int{1, 1}, group: 1}.node()
	k, err := Lookup("Conv")(n)
	if err != nil {
		t.Fatal(err)
	}
	tk := k.(ConstTaker)
	w := nnRand(1, 3, 4, 1, 1)
	stub := &Tensor{DType: Float32, Shape: w.Shape}
	for _, c := range []struct {
		i int
		t *Tensor
	}{{0, w}, {2, w}, {1, NewI64([]int{3}, nil)}, {1, NewF32([]int{0, 4, 1, 1}, nil)}} {
		if tk.TakeConst(c.i, c.t, stub) {
			t.Errorf("TakeConst(%d, %v) took it", c.i, c.t.Shape)
		}
	}
	if !tk.TakeConst(1, w, stub) || tk.TakeConst(1, w, stub) {
		t.Errorf("TakeConst(1, W) twice: want taken once")
	}
	x := nnRand(2, 1, 4, 2, 2)
	vals := []*Value{{DType: Float32, Shape: x.Shape}, {DType: Float32, Shape: w.Shape, Const: w}}
	_, err = runKernel(nnEnv(kern.Generic, 1), k, vals, []*Tensor{x, {DType: Float32, Shape: w.Shape}})
	if err == nil || !strings.Contains(err.Error(), "W holds 0 float32 values") {
		t.Errorf("W without data, not held: got %v", err)
	}
}

// TestHeldWeightsProbed checks a convolution that every probe of the model
// gives one input shape but for its batch (ConstTaker.Probed): on a tier
// that takes Winograd there, its plain weights are let go once packed as
// Winograd's transform, every batch size runs bit for bit as with the
// weights kept, and a plan at another input shape fails with an error
// saying why. Probes of two shapes change nothing.
func TestHeldWeightsProbed(t *testing.T) {
	cc := convCase{c: 20, m: 18, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}, bias: true}
	w, b := nnRand(1, 18, 20, 3, 3), nnRand(2, 18)
	x := func(n, h int) *Tensor { return nnRand(uint64(10*n+h), n, 20, h, 29) }
	tested := 0
	for _, k := range testTiers() {
		for _, same := range []bool{true, false} {
			hc := heldCheck{node: cc.node, consts: []int{1, 2}, steps: [][]*Tensor{{x(1, 30), w, b}}}
			held, stubs := hc.heldKernel(t)
			other := 30
			if !same {
				other = 31
			}
			held.(ConstTaker).Probed([][][]int{{{1, 20, 30, 29}, w.Shape, b.Shape}, {{3, 20, other, 29}, w.Shape, b.Shape}})
			n := cc.node()
			plain, err := Lookup(n.OpType)(n)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{2, 1, 5} {
				ins := []*Tensor{x(batch, 30), w, b}
				vals, _ := hc.values(ins, nil)
				want, err := runKernel(nnEnv(k, 2), plain, vals, ins)
				if err != nil {
					t.Fatal(err)
				}
				vals, run := hc.values(ins, stubs)
				got, err := runKernel(nnEnv(k, 2), held, vals, run)
				if err != nil {
					t.Fatalf("%s batch %d: %v", k.Name, batch, err)
				}
				kerntest.SameBits(t, fmt.Sprintf("%s batch %d", k.Name, batch), got[0].F32, want[0].F32)
			}
			wino := takesWinograd(t, k, convCase{n: 1, c: 20, m: 18, in: []int{30, 29}, k: []int{3, 3}, group: 1, pads: []int64{1, 1, 1, 1}})
			plainBytes, _ := held.(ConstTaker).HeldBytes()
			if let := plainBytes == 0; let != (wino || k.PackConvMoves != nil && k.PackConv != nil) && same {
				t.Errorf("%s, probes of one shape: plain weights let go %v (Winograd %v)", k.Name, let, wino)
			}
			if !wino || k.PackConvMoves == nil {
				continue
			}
			if !same {
				if plainBytes == 0 {
					t.Errorf("%s, probes of two shapes: the plain weights were let go with Winograd's pack alone", k.Name)
				}
				continue
			}
			tested++
			ins := []*Tensor{x(1, 2), w, b}
			vals, run := hc.values(ins, stubs)
			_, err = runKernel(nnEnv(k, 2), held, vals, run)
			if err == nil || !strings.Contains(err.Error(), "cannot be got back") || !strings.Contains(err.Error(), n.Name) {
				t.Errorf("%s: a plan at another shape after the plain weights went: %v", k.Name, err)
			}
		}
	}
	if tested == 0 && kern.Best().PackConvMoves != nil {
		t.Error("no tier took Winograd")
	}
}
