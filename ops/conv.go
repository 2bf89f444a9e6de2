package ops

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Conv", imageWiseOp(buildConv, firstOutput))
}

// buildConv binds Conv (opsets 1–22): inputs X [N, C, D1[, D2[, D3]]],
// W [M, C/group, k1[, k2[, k3]]] and optional B [M]; attributes auto_pad,
// dilations, group, kernel_shape, pads and strides. 1-D, 2-D and 3-D
// convolutions are supported: 1-D and 2-D ones run on env.K.Conv, a 1-D
// one as a 2-D one of height 1; 3-D ones on kern.Conv3D.
func buildConv(n *Node) (Kernel, error) {
	w, group, err := parseConvAttrs(n)
	if err != nil {
		return nil, err
	}
	packs := &convPacks{} // shared by the node's plans
	hk := newHoldingKernel(1)
	hk.PrepareFunc = func(in []*Value) ([]Value, Step, error) {
		if len(in) < 2 || len(in) > 3 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2 or 3", len(in))
		}
		cp, err := planConv(n, w, group, in, packs, hk.heldFor(1, in[1]))
		if err != nil {
			return nil, Step{}, err
		}
		run := func(env *kern.Env, in, out []*Tensor) error {
			b, err := cp.check(n, in, out)
			if err != nil {
				return err
			}
			if !cp.pixIn && !cp.pixOut {
				return cp.conv(env, n, in, b, out[0].F32, nil)
			}
			f := kern.TaskOf[kern.ConvFusion](env)
			*f = kern.ConvFusion{PixIn: cp.pixIn, PixOut: cp.pixOut}
			err = cp.conv(env, n, in, b, out[0].F32, f)
			*f = kern.ConvFusion{}
			return err
		}
		outs, err := oneOutput(n, Value{DType: Float32, Shape: cp.outShape})
		if err != nil {
			return nil, Step{}, err
		}
		st := cp.step(run, ConvDev{Bias: cp.hasBias})
		st.Layout = cp.layout(false, -1)
		return outs, st, nil
	}
	return hk, nil
}

// parseConvAttrs reads a Conv's window attributes and group.
func parseConvAttrs(n *Node) (*window, int, error) {
	w, err := parseWindow(n)
	if err != nil {
		return nil, 0, err
	}
	w.ceil = false // not a Conv attribute
	group, err := n.Int("group", 1)
	if err != nil {
		return nil, 0, err
	}
	if group < 1 || group > 1<<30 {
		return nil, 0, n.Errorf("group %d must be at least 1", group)
	}
	return w, int(group), nil
}

// convPlan is a Conv bound to one set of input shapes: a 1-D or 2-D one
// of geometry g, or a 3-D one of geometry g3 (g then unused).
type convPlan struct {
	g          kern.ConvGeom
	g3         *kern.Conv3DGeom
	c, m       int // input and output channels
	outShape   []int
	xShape     []int // X's
	hasBias    bool
	nx, nw, ny int

	// wConst is W when it is a plan-time constant; packs holds it as
	// each tier's PackConv arranged it, made on first use and shared by
	// the node's plans. held, when not nil, holds W instead: the node took
	// it over (see ConstTaker), and Runs pass W without data.
	wConst *Tensor
	packs  *convPacks
	held   *heldWeights
	// got and gotBlock are what weights and the DwBlock kernel took of the
	// held weights, kept after the first Run so that Runs allocate
	// nothing and take no lock.
	got, gotBlock atomic.Pointer[convWeights]
	// pixIn and pixOut: X, and Y with the residual, lie pixel-major in
	// this plan (see layout), as the runtime set before its first Run
	pixIn, pixOut bool
}

// convWeights is what a plan's Run reads of held weights on tier k: the
// plain values or a pack (the other nil).
type convWeights struct {
	k             *kern.Tier
	plain, packed []float32
}

// packCache holds a node's constant weights as the tiers packed them,
// shared by all of the node's plans: a model planned for several batch
// sizes keeps one copy of its packed weights, not one per plan.
type packCache[K comparable] struct {
	mu    sync.Mutex
	packs map[K][]float32
}

// get returns the pack under key, made with pack on its first use.
func (pc *packCache[K]) get(key K, pack func() []float32) []float32 {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	p, ok := pc.packs[key]
	if !ok {
		p = pack()
		if pc.packs == nil {
			pc.packs = map[K][]float32{}
		}
		pc.packs[key] = p
	}
	return p
}

// convPacks is a Conv node's packCache.
type convPacks = packCache[convPackKey]

// convPackKey identifies a pack: the tier, the weights' memory, and what
// the layout depends on (see Tier.PackConvKind).
type convPackKey struct {
	k                 *kern.Tier
	w                 *float32
	n                 int
	kind              int
	m, c, kh, kw, grp int
}

// conv runs env.K.Conv for the plan on X = in[0] and W = in[1], handing the
// tier the weights it packed for this plan, if any (and then no plain
// ones when the node holds W); a 3-D plan runs kern.Conv3D, which packs
// nothing.
func (cp *convPlan) conv(env *kern.Env, n *Node, in []*Tensor, b, y []float32, f *kern.ConvFusion) error {
	w, packed, err := cp.weights(env.K, in[1])
	if err != nil {
		return n.Errorf("%v", err)
	}
	if cp.g3 != nil {
		kern.Conv3D(env, cp.g3, in[0].F32, w, b, y, f)
		return nil
	}
	env.PackedW = packed
	env.K.Conv(env, &cp.g, in[0].F32, w, b, y, f)
	env.PackedW = nil
	return nil
}

// weights returns what tier k's Conv reads of W for the plan: the weights
// as k packed them, or nil when it takes none; and the plain weights,
// which are nil when W is held by the node (see heldWeights) and packed.
func (cp *convPlan) weights(k *kern.Tier, w *Tensor) (plain, packed []float32, err error) {
	if !cp.holds(w) {
		if cp.g3 == nil {
			packed = cp.packed(k, w)
		}
		return w.F32, packed, nil
	}
	if c := cp.got.Load(); c != nil && c.k == k {
		return c.plain, c.packed, nil
	}
	if cp.g3 == nil && k.PackConv != nil {
		kind := cp.packKind(k)
		moves := k.PackConvMoves != nil && k.PackConvMoves(kind)
		packed, err = cp.heldPacked(k, kind, k.PackConv, moves, !moves && cp.onlyForm(k, kind))
	}
	if err == nil && packed == nil {
		plain, err = cp.held.plainValues()
	}
	if err != nil {
		return nil, nil, err
	}
	cp.got.Store(&convWeights{k: k, plain: plain, packed: packed})
	return plain, packed, nil
}

// holds reports whether w, a Run's W, is the weights the node holds: a
// tensor without data standing for them.
func (cp *convPlan) holds(w *Tensor) bool { return cp.held != nil && w.F32 == nil }

// heldConvKey identifies a pack of held weights: the tier and what the
// layout depends on (see Tier.PackConvKind).
type heldConvKey struct {
	k                 *kern.Tier
	kind              int
	m, c, kh, kw, grp int
}

// heldPacked returns the held weights as pack (tier k's layout kind)
// arranges them for the plan's geometry, made once for the node; moves
// says that the layout only moves values, only that it is the one form
// the node's plans use (see heldWeights.packed).
func (cp *convPlan) heldPacked(k *kern.Tier, kind int, pack func(*kern.ConvGeom, []float32) []float32, moves, only bool) ([]float32, error) {
	g := cp.g // the pack's own copy, for unpack
	key := heldConvKey{k: k, kind: kind, m: g.M, c: g.C, kh: g.KH, kw: g.KW, grp: g.Group}
	return cp.held.packed(key, func(w []float32) []float32 { return pack(&g, w) }, moves, only)
}

// onlyBatches are the batch sizes onlyForm asks tiers their layout at.
var onlyBatches = []int{1, 2, 3, 4, 5, 6, 7, 8, 16, 64, 1 << 10, 1 << 20}

// onlyForm reports whether the plan's pack (tier k's layout kind) is the
// one form the node's plans use, by the runtime's probes of the model
// (see ConstTaker.Probed): X has the probes' shape but for its batch, and
// the tier takes that layout at every batch size.
func (cp *convPlan) onlyForm(k *kern.Tier, kind int) bool {
	fixed := cp.held.fixed()
	if fixed == nil || cp.g3 != nil || k.PackConvKind == nil || len(cp.xShape) < 2 || !slices.Equal(cp.xShape[1:], fixed) {
		return false
	}
	g := cp.g
	for _, n := range onlyBatches {
		g.N = n
		if k.PackConvKind(&g) != kind {
			return false
		}
	}
	return true
}

// packKind is tier k's PackConvKind for the plan's geometry, 0 without
// one.
func (cp *convPlan) packKind(k *kern.Tier) int {
	if k.PackConvKind == nil {
		return 0
	}
	return k.PackConvKind(&cp.g)
}

// step is the plan's Step: it runs run, needs the scratch of the plan's
// path and is described by d, whose geometry is set here (for a 3-D
// convolution d becomes a Conv3DDev).
func (cp *convPlan) step(run func(env *kern.Env, in, out []*Tensor) error, d ConvDev) Step {
	if g := cp.g3; g != nil {
		dev := &Conv3DDev{G: *g, Bias: d.Bias, Residual: d.Residual, Pre: d.Pre, PreAct: d.PreAct, Act: d.Act}
		// N · M · OD · OH · OW · (C/Group) · KD · KH · KW
		macs := int64(g.N) * int64(g.M) * int64(g.OD) * int64(g.OH) * int64(g.OW) *
			int64(g.C/g.Group) * int64(g.KD) * int64(g.KH) * int64(g.KW)
		return Step{Run: run, Scratch: kern.Conv3DScratch(g), Dev: dev, MACs: macs}
	}
	d.G = cp.g
	return Step{Run: run, Scratch: kern.ConvScratch(&cp.g), Dev: &d, MACs: cp.g.MACs()}
}

// layout is the plan's Step.Layout: X (input 0) and Y pixel-major where
// the tier's ConvPixLayout takes them for the plan's 2-D geometry (pre:
// the node applies a prologue), with input tied (-1: none), the
// residual, lying as Y does.
func (cp *convPlan) layout(pre bool, tied int) *Layout {
	if cp.g3 != nil {
		return nil
	}
	return &Layout{
		Can: func(k *kern.Tier) (int, bool, int) {
			if k == nil || k.ConvPixLayout == nil {
				return -1, false, -1
			}
			in, out := k.ConvPixLayout(&cp.g, pre)
			x := -1
			if in {
				x = 0
			}
			return x, out, tied
		},
		Set: func(in, out bool) { cp.pixIn, cp.pixOut = in, out },
	}
}

// sameData reports whether a and b are the same memory.
func sameData(a, b []float32) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// packed returns the weights w as tier k arranged them with PackConv, or
// nil when k does not pack or w is not the plan's constant weights.
func (cp *convPlan) packed(k *kern.Tier, w *Tensor) []float32 {
	if k.PackConv == nil {
		return nil
	}
	return cp.packedWith(k, w, cp.packKind(k), k.PackConv)
}

// packedWith is packed for the layout pack makes (kind tells it apart
// from the others of the same tier).
func (cp *convPlan) packedWith(k *kern.Tier, w *Tensor, kind int, pack func(*kern.ConvGeom, []float32) []float32) []float32 {
	if pack == nil || cp.wConst == nil || cp.packs == nil || !sameData(w.F32, cp.wConst.F32) {
		return nil
	}
	g := &cp.g
	key := convPackKey{k: k, w: &w.F32[0], n: len(w.F32), kind: kind, m: g.M, c: g.C, kh: g.KH, kw: g.KW, grp: g.Group}
	return cp.packs.get(key, func() []float32 { return pack(g, w.F32) })
}

// check verifies the run-time tensors against the plan and returns the
// bias data (nil when absent).
func (cp *convPlan) check(n *Node, in, out []*Tensor) ([]float32, error) {
	if err := checkLen(in[0], "X", cp.nx); err != nil {
		return nil, n.Errorf("%v", err)
	}
	if err := cp.checkW(in[1]); err != nil {
		return nil, n.Errorf("%v", err)
	}
	if err := checkLen(out[0], "Y", cp.ny); err != nil {
		return nil, n.Errorf("%v", err)
	}
	if !cp.hasBias {
		return nil, nil
	}
	if err := checkLen(in[2], "B", cp.m); err != nil {
		return nil, n.Errorf("%v", err)
	}
	return in[2].F32, nil
}

// checkW verifies a Run's W against the plan: the plan's number of
// values, or no data when the node holds W.
func (cp *convPlan) checkW(w *Tensor) error {
	if cp.holds(w) {
		return nil
	}
	return checkLen(w, "W", cp.nw)
}

// planConv validates X, W and the optional B (in[0:3]) and computes the
// geometry and output shape; held, when not nil, is W held by the node.
func planConv(n *Node, win *window, group int, in []*Value, packs *convPacks, held *heldWeights) (*convPlan, error) {
	r, xs, ws, err := convOperands(n, group, in)
	if err != nil {
		return nil, err
	}
	c, m := xs[1], ws[0]
	if m%group != 0 || m == 0 {
		return nil, n.Errorf("W has %d output channels, not a positive multiple of group %d", m, group)
	}
	if ws[1] != c/group {
		return nil, n.Errorf("W has shape %s: %d channels per group, but X has %d channels in %d groups",
			ShapeString(ws), ws[1], c, group)
	}
	k := ws[2:]
	for _, d := range k {
		if d < 1 {
			return nil, n.Errorf("W has shape %s with an empty kernel", ShapeString(ws))
		}
	}
	if win.kernel != nil {
		if len(win.kernel) != r {
			return nil, n.Errorf("kernel_shape %v has %d values, want %d", win.kernel, len(win.kernel), r)
		}
		for i, d := range win.kernel {
			if int(d) != k[i] {
				return nil, n.Errorf("kernel_shape %v does not match W's shape %s", win.kernel, ShapeString(ws))
			}
		}
	}
	var hasBias bool
	if len(in) == 3 && in[2] != nil {
		b := in[2]
		if b.DType != Float32 || len(b.Shape) != 1 || b.Shape[0] != m {
			return nil, n.Errorf("B has type %s shape %s, want float32 [%d]", b.DType, ShapeString(b.Shape), m)
		}
		hasBias = true
	}
	sp, err := win.resolve(n, xs[2:], k)
	if err != nil {
		return nil, err
	}
	nx, nw := NumElems(xs), NumElems(ws)
	if r == 3 {
		g3 := &kern.Conv3DGeom{N: xs[0], C: c, D: xs[2], H: xs[3], W: xs[4], M: m, KD: k[0], KH: k[1], KW: k[2],
			OD: sp[0].out, OH: sp[1].out, OW: sp[2].out, PadF: sp[0].pad0, PadT: sp[1].pad0, PadL: sp[2].pad0,
			SD: sp[0].s, SH: sp[1].s, SW: sp[2].s, DD: sp[0].d, DH: sp[1].d, DW: sp[2].d, Group: group}
		outShape := []int{g3.N, m, g3.OD, g3.OH, g3.OW}
		return &convPlan{g3: g3, c: c, m: m, outShape: outShape, hasBias: hasBias,
			nx: nx, nw: nw, ny: NumElems(outShape), held: held}, nil
	}
	g := kern.ConvGeom{N: xs[0], C: c, H: 1, W: xs[2], M: m, KH: 1, KW: k[0],
		OH: 1, OW: sp[0].out, SH: 1, SW: sp[0].s, DH: 1, DW: sp[0].d,
		PadL: sp[0].pad0, PadR: sp[0].pad1, Group: group}
	if r == 2 {
		g.H, g.W, g.KH, g.KW = xs[2], xs[3], k[0], k[1]
		g.OH, g.OW = sp[0].out, sp[1].out
		g.SH, g.SW, g.DH, g.DW = sp[0].s, sp[1].s, sp[0].d, sp[1].d
		g.PadT, g.PadB, g.PadL, g.PadR = sp[0].pad0, sp[0].pad1, sp[1].pad0, sp[1].pad1
	}
	outShape := []int{g.N, m, g.OW}
	if r == 2 {
		outShape = []int{g.N, m, g.OH, g.OW}
	}
	cp := &convPlan{g: g, c: c, m: m, outShape: outShape, hasBias: hasBias,
		nx: nx, nw: nw, ny: NumElems(outShape), wConst: in[1].Const, packs: packs, held: held, xShape: xs}
	return cp, nil
}

// convOperands checks what a convolution and a transposed one ask of X and
// W alike: X of rank 3, 4 or 5 with channels that group divides, W float32 of
// X's rank. It returns the spatial rank and both shapes.
func convOperands(n *Node, group int, in []*Value) (r int, xs, ws []int, err error) {
	if r, err = spatialRank(n, in[0], "X"); err != nil {
		return 0, nil, nil, err
	}
	xs = in[0].Shape
	wv := in[1]
	if wv == nil || wv.DType != Float32 {
		return 0, nil, nil, n.Errorf("input W must be a float32 tensor")
	}
	ws = wv.Shape
	if len(ws) != len(xs) {
		return 0, nil, nil, n.Errorf("W has shape %s, want rank %d like X %s", ShapeString(ws), len(xs), ShapeString(xs))
	}
	if c := xs[1]; c == 0 {
		return 0, nil, nil, n.Errorf("X has shape %s with no channels", ShapeString(xs))
	} else if c%group != 0 {
		return 0, nil, nil, n.Errorf("X has %d channels, not a multiple of group %d", c, group)
	}
	return r, xs, ws, nil
}
