package ops

import (
	"errors"
	"math"
	"slices"
	"sync"

	"github.com/bnrun/bnrun/internal/hugepage"
)

// ConstTaker is a Kernel that can hold a constant float32 input itself (a
// convolution's or a Gemm's weights), in the forms its tier packs it into,
// so that a model need not also keep the values as the graph has them.
type ConstTaker interface {
	Kernel
	// TakeConst offers the kernel input i's constant t, which no other
	// node reads, and stub: a tensor of t's type and shape without data.
	// When it returns true the kernel holds t's data itself (which must
	// not change from then on), and stub stands in for t: Prepare gets it
	// as the input's Value.Const, and Run a tensor whose F32 is nil. The
	// runtime offers constants before it plans anything.
	TakeConst(i int, t, stub *Tensor) bool
	// HeldBytes returns the bytes of the constants the kernel holds: as
	// the graph has them (plain), and packed.
	HeldBytes() (plain, packed int64)
	// Probed gives the kernel its inputs' shapes in the runtime's probes
	// of the model (shapes[p][i], nil for an absent input): plans for the
	// model's declared input shapes with every dynamic dim at two sizes,
	// as the optimisation pass proves shapes (see package fold). A shape
	// fact that holds at both probes may be taken to hold for every plan:
	// a convolution whose input has one shape but for its batch at both
	// holds its weights only in the one form its plans can use, even one
	// they are not got back from (Winograd's), and a plan that would need
	// them after all fails with an error saying so.
	Probed(shapes [][][]int)
}

// holdingKernel is a Kernel that holds its constant inputs ins itself when
// offered them (see ConstTaker), each in a heldWeights.
type holdingKernel struct {
	PrepareFunc
	ins  []int
	held map[int]*heldWeights // by input, set by TakeConst before any Prepare
	// imageNode and imageRules are the node and the rules under which it
	// is image-wise (see imageWiseOp; nil: not image-wise).
	imageNode  *Node
	imageRules []imageRule
}

// newHoldingKernel returns a holdingKernel for inputs ins, its Prepare to
// be set.
func newHoldingKernel(ins ...int) *holdingKernel {
	return &holdingKernel{ins: ins, held: map[int]*heldWeights{}}
}

// TakeConst implements ConstTaker: it holds a float32 constant with data
// at one of the kernel's inputs.
func (k *holdingKernel) TakeConst(i int, t, stub *Tensor) bool {
	if !slices.Contains(k.ins, i) || k.held[i] != nil || t == nil || stub == nil || t.DType != Float32 ||
		len(t.F32) == 0 || len(t.F32) != NumElems(t.Shape) {
		return false
	}
	k.held[i] = &heldWeights{stub: stub, plain: t.F32, n: len(t.F32), packs: map[any]*heldPack{}}
	return true
}

// Probed implements ConstTaker: when the probes give input 0 one shape
// but for its first dim (a convolution's X, whose batch size alone then
// varies), it says so to every weight the kernel holds.
func (k *holdingKernel) Probed(shapes [][][]int) {
	if len(shapes) < 2 {
		return
	}
	var x []int
	for _, in := range shapes {
		if len(in) == 0 || len(in[0]) < 2 || x != nil && !slices.Equal(in[0][1:], x[1:]) {
			return
		}
		x = in[0]
	}
	for _, h := range k.held {
		h.mu.Lock()
		h.fixedX = slices.Clone(x[1:])
		h.mu.Unlock()
	}
}

// HeldBytes implements ConstTaker.
func (k *holdingKernel) HeldBytes() (plain, packed int64) {
	for _, h := range k.held {
		h.mu.Lock()
		plain += 4 * int64(len(h.plain))
		for _, p := range h.packs {
			packed += 4 * int64(len(p.data))
		}
		h.mu.Unlock()
	}
	return plain, packed
}

// heldFor returns the weights the kernel holds at input i when v, a
// plan-time value, stands for them; nil otherwise.
func (k *holdingKernel) heldFor(i int, v *Value) *heldWeights {
	h := k.held[i]
	if h == nil || v == nil || v.Const != h.stub {
		return nil
	}
	return h
}

// heldWeights are a node's constant weights that it holds itself (see
// ConstTaker): the values as the graph has them (plain), and as its
// plans' tiers packed them, each pack made once and shared by every plan
// of the node. The plain values are let go once a pack that only moves
// them (see kern.Tier.PackConvMoves) is made and no plan has read them; a
// plan that needs them after that gets them back from the pack (unpack),
// bit for bit, and they stay from then on. It is safe for concurrent use.
type heldWeights struct {
	stub *Tensor // stands in for the weights in plans and Runs
	n    int     // how many values

	mu    sync.Mutex
	plain []float32 // nil while let go
	kept  bool      // a plan reads the plain values: they stay
	packs map[any]*heldPack
	exact *heldPack // a pack that only moves values, or nil
	// fixedX, when not nil, is the node's input 0's shape but for its
	// first dim in every probe of the model (see ConstTaker.Probed).
	fixedX []int
	// only is a pack that the node's plans alone use, by the probes,
	// which its plain values are not got back from; nil when there is a
	// pack that moves them, or none.
	only *heldPack
}

// heldPack is one packed form of held weights and the function that made
// it of the plain values.
type heldPack struct {
	data []float32
	pack func(w []float32) []float32
}

// fixed returns the shape but for its first dim that every probe gave the
// node's input 0 (see ConstTaker.Probed), or nil.
func (h *heldWeights) fixed() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fixedX
}

// plainValues returns the weights as the graph has them (got back from a
// pack when they were let go); they stay from then on, moved the first
// time into large-page memory (package hugepage) as the tiers' packs are:
// a kernel that reads them as they lie (a matrix-vector product: a
// squeeze-excitation block's, a classifier's at batch 1 to 4) reads each
// once a Run, where every 4 KiB page of them cost a walk of the page
// tables.
func (h *heldWeights) plainValues() ([]float32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, err := h.values()
	if err != nil {
		return nil, err
	}
	if !h.kept {
		w = append(hugepage.Floats(len(w))[:0], w...)
	}
	h.plain, h.kept = w, true
	return w, nil
}

// packed returns the weights as pack arranges them, made by the first
// call under key (equal keys must mean equal packs), or nil when pack
// returns nil; it then lets the plain values go if it may (see
// heldWeights): moves says that pack only moves values, only that it is
// the one form any plan of the node uses (by the probes, see
// ConstTaker.Probed).
func (h *heldWeights) packed(key any, pack func(w []float32) []float32, moves, only bool) ([]float32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.packs[key]; ok {
		return p.data, nil
	}
	w, err := h.values()
	if err != nil {
		return nil, err
	}
	p := &heldPack{data: pack(w), pack: pack}
	h.packs[key] = p
	if p.data != nil && h.exact == nil && moves {
		h.exact = p
	}
	if p.data != nil && h.exact == nil && only && len(h.packs) == 1 {
		h.only = p
	}
	if !h.kept && (h.exact != nil || h.only != nil) && h.plain != nil {
		h.plain = nil
	}
	return p.data, nil
}

// errNoValues is what values returns when the plain values were let go
// with no pack to get them back from: the probes of the model's shapes
// said that its plans use one form alone, which they are not got back
// from (Winograd's), and a plan would use another after all.
var errNoValues = errors.New("the weights are held only as packed for the input shapes of the model's probes " +
	"(Winograd's transform, which they cannot be got back from), and these shapes need them otherwise; " +
	"open the model without Winograd")

// values returns the plain values, or got back from a pack when they were
// let go. h.mu is held.
func (h *heldWeights) values() ([]float32, error) {
	if h.plain != nil {
		return h.plain, nil
	}
	if h.exact == nil {
		return nil, errNoValues
	}
	return unpack(h.exact.data, h.n, h.exact.pack), nil
}

// sameBits reports whether a and b hold the same values bit for bit.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// probeOneDigit is the most values unpack numbers in one probe: float32
// holds every integer up to 2^24. Larger weights take two probes, of
// digits in base probeBase. (A variable, so that tests reach two.)
var probeOneDigit = 1 << 24

// probeBase is the base of unpack's two-digit probes.
const probeBase = 1 << 12

// unpack returns the n values that pack arranged into data, pack only
// moving values: each element of its result one of its input's, or 0. It
// learns where each value went by packing a probe whose values are their
// own numbers, value i being i+1,
//
//	at = pack(probe), w[at[o] - 1] = data[o]   for every o with at[o] in 1..n
//
// (with n past probeOneDigit, two probes of the digits of i in base
// probeBase, each plus 1). Values that went nowhere are 0. For a pack that
// does more than move values (Winograd's transform) the result is
// garbage; TestPacksMove checks every tier's claims.
func unpack(data []float32, n int, pack func(w []float32) []float32) []float32 {
	w := make([]float32, n)
	if n <= probeOneDigit {
		probe := make([]float32, n)
		for i := range probe {
			probe[i] = float32(i + 1)
		}
		at := pack(probe)
		if len(at) != len(data) {
			return w
		}
		for o, v := range at {
			if i, ok := probeNumber(v, n); ok {
				w[i] = data[o]
			}
		}
		return w
	}
	hiMax := (n-1)/probeBase + 1
	probe := make([]float32, n)
	for i := range probe {
		probe[i] = float32(i%probeBase + 1)
	}
	lo := pack(probe)
	for i := range probe {
		probe[i] = float32(i/probeBase + 1)
	}
	hi := pack(probe)
	if len(lo) != len(data) || len(hi) != len(data) {
		return w
	}
	for o := range data {
		l, okl := probeNumber(lo[o], probeBase)
		h, okh := probeNumber(hi[o], hiMax)
		if i := h*probeBase + l; okl && okh && i < n {
			w[i] = data[o]
		}
	}
	return w
}

// probeNumber returns v-1 and true when v is one of the integers 1 to
// limit (at most 2^24).
func probeNumber(v float32, limit int) (int, bool) {
	if !(v >= 1 && v <= float32(limit)) { // NaN too
		return 0, false
	}
	i := int(v)
	if float32(i) != v {
		return 0, false
	}
	return i - 1, true
}
