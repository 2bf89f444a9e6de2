package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// dwBlock fuses a depthwise convolution with the 1×1 convolution that
// alone feeds it (the expansion) and the one that alone reads it (the
// projection), either of them absent, into one bnrun.DwBlock: MobileNet's,
// MnasNet's and EfficientNet's inverted residual blocks, which the CPU
// tiers then run band by band with the expanded tensor in the cache (see
// kern/conv_dwblock.go). It fuses a grouped convolution on a large plane
// with its expansion alone likewise (groupedMiddle: RegNet's first
// blocks). Each convolution keeps its bias and fused
// activation; the projection keeps its residual. The weights must be
// constants, the 1×1 convolutions of one group, stride 1 and no padding,
// none with a fused input affine step, and the depthwise convolution
// without a residual.
type dwBlock struct{}

func (dwBlock) name() string { return "DwBlock" }

// dwBlockMatch is a depthwise convolution and the 1×1 convolutions around
// it (nil where absent).
type dwBlockMatch struct{ e, d, p *ir.Node }

// plainConv reports whether n is a Conv, or a FusedConv without an input
// step and (unless residual) without a residual, with constant weights of
// rank 4 and a constant bias (or none): its weights, or nil.
func plainConv(w *work, n *ir.Node, residual bool) *ir.Tensor {
	if !is(n, "Conv") && !isFusedConv(n) || len(n.Outputs) != 1 || n.Input(0) == "" {
		return nil
	}
	if isFusedConv(n) && (n.Input(4) != "" || n.Input(5) != "" || !residual && n.Input(3) != "") {
		return nil
	}
	wt := w.constF32(n.Input(1))
	if wt == nil || len(wt.Shape) != 4 {
		return nil
	}
	if b := n.Input(2); b != "" && (w.constF32(b) == nil || len(w.constF32(b).F32) != wt.Shape[0]) {
		return nil
	}
	return wt
}

// pointwiseConv reports whether n is a plainConv 1×1 convolution of one
// group, stride 1 and no padding.
func pointwiseConv(w *work, n *ir.Node, residual bool) bool {
	wt := plainConv(w, n, residual)
	if wt == nil || wt.Shape[2] != 1 || wt.Shape[3] != 1 || !unpadded(n, wt.Shape[2:]) || !allOnes(n, "strides") {
		return false
	}
	group, err := n.Int("group", 1)
	return err == nil && group == 1
}

func (dwBlock) match(w *work, n *ir.Node) (any, bool) {
	wt := plainConv(w, n, false)
	if wt == nil || w.rank(n.Input(0)) != 4 {
		return nil, false
	}
	c := w.dim(n.Input(0), 1)
	group, err := n.Int("group", 1)
	if err != nil || c < 1 {
		return nil, false
	}
	depthwise := wt.Shape[1] == 1 && int(group) == c && wt.Shape[0] == c
	if !depthwise && !groupedMiddle(w, n, wt, c, int(group)) {
		return nil, false
	}
	m := &dwBlockMatch{d: n}
	if e := w.producer[n.Input(0)]; e != nil && w.soleConsumer(n.Input(0)) == n && pointwiseConv(w, e, false) {
		m.e = e
	}
	if !depthwise {
		// an expansion into a grouped convolution, which ends the block
		return m, m.e != nil
	}
	if p := w.soleConsumer(n.Outputs[0]); p != nil && p.Input(0) == n.Outputs[0] && pointwiseConv(w, p, true) {
		// The projection's residual must be ready where the block runs.
		z := p.Input(3)
		if pz := w.producer[z]; !isFusedConv(p) || z == "" || pz == nil || w.pos[pz] < w.pos[n] {
			m.p = p
		}
	}
	if m.e == nil && m.p == nil {
		return nil, false
	}
	return m, true
}

// groupedMinPixels is the smallest input plane of a grouped convolution
// that dwBlock fuses with its expansion: 56×56, where an expansion of 64
// channels or more (RegNet's first blocks) no longer fits in a core's
// level-2 cache, which the CPU tiers then run in bands of rows
// (kern/conv_grouprows.go). On smaller planes the two layers stay apart,
// where each can read and write its tensors pixel-major.
const groupedMinPixels = 56 * 56

// groupedMiddle reports whether n, a plainConv with weights wt on c input
// channels in group groups, is a grouped convolution that dwBlock fuses
// with its expansion: several groups of whole blocks of 8 channels, a
// 3×3 window, on an input plane of at least groupedMinPixels pixels.
func groupedMiddle(w *work, n *ir.Node, wt *ir.Tensor, c, group int) bool {
	if group < 2 || c%group != 0 || c/group%8 != 0 || wt.Shape[1] != c/group || wt.Shape[0]%group != 0 ||
		wt.Shape[2] != 3 || wt.Shape[3] != 3 {
		return false
	}
	h, wd := w.dim(n.Input(0), 2), w.dim(n.Input(0), 3)
	return h > 0 && wd > 0 && h*wd >= groupedMinPixels
}

// activationAttrs are the attributes of a fused activation (setActivation).
var activationAttrs = []string{"activation", "activation_alpha", "activation_beta", "clip_min", "clip_max"}

// moveActivation copies from's fused activation attributes to n with the
// prefix, and removes n's own unprefixed ones when from is n.
func moveActivation(n, from *ir.Node, prefix string) {
	for _, a := range activationAttrs {
		at, ok := from.Attrs[a]
		if !ok {
			continue
		}
		cp := *at
		cp.Name = prefix + a
		if from == n {
			delete(n.Attrs, a)
		}
		n.Attrs[cp.Name] = &cp
	}
}

func (dwBlock) apply(w *work, mm any) {
	m := mm.(*dwBlockMatch)
	d := m.d
	w.detach(d)
	if d.Attrs == nil {
		d.Attrs = map[string]*ir.Attr{}
	}
	moveActivation(d, d, "dw_")
	// inputs X, WE, BE, WD, BD, WP, BP, Z
	in := []string{d.Input(0), "", "", d.Input(1), d.Input(2), "", "", ""}
	if e := m.e; e != nil {
		in[0], in[1], in[2] = e.Input(0), e.Input(1), e.Input(2)
		moveActivation(d, e, "expand_")
	}
	if p := m.p; p != nil {
		in[5], in[6] = p.Input(1), p.Input(2)
		if isFusedConv(p) {
			in[7] = p.Input(3)
		}
		moveActivation(d, p, "")
		d.Outputs[0] = p.Outputs[0]
	}
	d.Domain, d.OpType, d.Opset = Domain, "DwBlock", 1
	d.Inputs = in
	for _, r := range []*ir.Node{m.e, m.p} {
		if r != nil {
			w.remove(r)
		}
	}
	w.attach(d)
}
