package ops

import (
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("ConvTranspose", buildConvTranspose)
}

// maxConvTransposeElems bounds a ConvTranspose's output, whose size
// attributes (strides, output_shape) can ask for far more than its input:
// 2^31 - 1 elements, as Expand's and Resize's.
const maxConvTransposeElems = math.MaxInt32

// convTransposeAttrs are a ConvTranspose's attributes; absent lists are
// nil.
type convTransposeAttrs struct {
	win         *window // auto_pad, kernel_shape, pads, strides, dilations
	group       int
	outPadding  []int64
	outputShape []int64
}

// buildConvTranspose binds ConvTranspose (opsets 1 and 11, which differ
// only in their documentation): inputs X [N, C, D1[, D2[, D3]]], W [C,
// M/group, k1[, k2[, k3]]] and optional B [M]; attributes auto_pad,
// dilations, group, kernel_shape (checked against W's, which it may omit),
// output_padding, output_shape, pads and strides. 1-D, 2-D and 3-D
// transposed convolutions are supported: 1-D and 2-D ones run on
// kern.ConvTranspose, a 1-D one as a 2-D one of height 1, 3-D ones on
// kern.ConvTranspose3D. Along each spatial axis, with dk = (k-1)·d + 1 the
// dilated kernel's extent, the full output is
//
//	full = s·(in - 1) + output_padding + dk
//
// With output_shape (spatial sizes only, as the spec has it) the output
// is output_shape and the pads come from total = full - output_shape; with
// auto_pad SAME_UPPER or SAME_LOWER and no output_shape, the output is
// in·s and the pads come from total = full - in·s. Then, as the spec and
// its reference implementation split total (halves rounded toward -∞, so
// that a negative total, an output past the full one, grows the end):
//
//	SAME_UPPER:         pad_start = ⌊total/2⌋,         pad_end = total - pad_start
//	NOTSET, SAME_LOWER: pad_start = total - ⌊total/2⌋, pad_end = ⌊total/2⌋
//
// Otherwise (NOTSET, VALID) the pads attribute (0 for VALID) gives out =
// full - pad_start - pad_end, which must be positive. output_padding must
// be less than the stride or the dilation along its axis. Output pixel
// (oh, ow) then receives x[ih][iw]·w[kh][kw] wherever oh = ih·s_h -
// pad_start_h + kh·d_h and ow likewise, plus the bias.
func buildConvTranspose(n *Node) (Kernel, error) {
	a, err := parseConvTransposeAttrs(n)
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if len(in) < 2 || len(in) > 3 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2 or 3", len(in))
		}
		p, err := planConvTranspose(n, a, in)
		if err != nil {
			return nil, Step{}, err
		}
		outs, err := oneOutput(n, Value{DType: Float32, Shape: p.outShape})
		if err != nil {
			return nil, Step{}, err
		}
		// The kernel's scratch is one buffer for the call; declared per
		// worker, it is there whatever the worker count.
		if g := p.g3; g != nil {
			// each input value meets M/Group·KD·KH·KW weights
			macs := int64(g.N) * int64(g.C) * int64(g.D) * int64(g.H) * int64(g.W) *
				int64(g.M/g.Group) * int64(g.KD) * int64(g.KH) * int64(g.KW)
			return outs, Step{Run: p.run, Scratch: kern.ConvTranspose3DScratch(g), MACs: macs,
				Dev: &ConvTranspose3DDev{G: *g, Bias: p.hasBias}}, nil
		}
		// each input value meets M/Group·KH·KW weights
		g := &p.g
		macs := int64(g.N) * int64(g.C) * int64(g.H) * int64(g.W) * int64(g.M/g.Group) * int64(g.KH) * int64(g.KW)
		return outs, Step{Run: p.run, Scratch: kern.ConvTransposeScratch(&p.g), MACs: macs,
			Dev: &ConvTransposeDev{G: p.g, Bias: p.hasBias}}, nil
	}), nil
}

// parseConvTransposeAttrs reads and checks a ConvTranspose's attributes.
func parseConvTransposeAttrs(n *Node) (*convTransposeAttrs, error) {
	w, err := parseWindow(n)
	if err != nil {
		return nil, err
	}
	w.ceil = false // not a ConvTranspose attribute
	group, err := n.Int("group", 1)
	if err != nil {
		return nil, err
	}
	if group < 1 || group > 1<<30 {
		return nil, n.Errorf("group %d must be at least 1", group)
	}
	a := &convTransposeAttrs{win: w, group: int(group)}
	if a.outPadding, err = n.Ints("output_padding", nil); err != nil {
		return nil, err
	}
	for _, v := range a.outPadding {
		if v < 0 || v > 1<<30 {
			return nil, n.Errorf("output_padding %v: each value must be in [0, 2^30]", a.outPadding)
		}
	}
	if a.outputShape, err = n.Ints("output_shape", nil); err != nil {
		return nil, err
	}
	for _, v := range a.outputShape {
		if v < 1 || v > maxConvTransposeElems {
			return nil, n.Errorf("output_shape %v: each value must be in [1, 2^31-1]", a.outputShape)
		}
	}
	return a, nil
}

// convTransposePlan is a ConvTranspose bound to one set of input shapes: a
// 1-D or 2-D one of geometry g, or a 3-D one of geometry g3.
type convTransposePlan struct {
	n          *Node
	g          kern.ConvTransposeGeom
	g3         *kern.ConvTranspose3DGeom
	m          int // output channels
	outShape   []int
	hasBias    bool
	nx, nw, ny int
}

// planConvTranspose validates X, W and the optional B (in[0:3]) and
// computes the geometry and output shape.
func planConvTranspose(n *Node, a *convTransposeAttrs, in []*Value) (*convTransposePlan, error) {
	group := a.group
	r, xs, ws, err := convOperands(n, group, in)
	if err != nil {
		return nil, err
	}
	c := xs[1]
	if ws[0] != c {
		return nil, n.Errorf("W has shape %s: %d input channels, but X %s has %d", ShapeString(ws), ws[0], ShapeString(xs), c)
	}
	if ws[1] == 0 {
		return nil, n.Errorf("W has shape %s with no output channels", ShapeString(ws))
	}
	if int64(ws[1])*int64(group) > maxConvTransposeElems {
		return nil, n.Errorf("W has shape %s: %d·%d output channels are too many", ShapeString(ws), ws[1], group)
	}
	m := ws[1] * group
	k := ws[2:]
	for _, d := range k {
		if d < 1 {
			return nil, n.Errorf("W has shape %s with an empty kernel", ShapeString(ws))
		}
	}
	for _, d := range xs[2:] {
		if d < 1 {
			return nil, n.Errorf("X has shape %s with an empty spatial axis", ShapeString(xs))
		}
	}
	win := a.win
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
	hasBias := len(in) == 3 && in[2] != nil
	if hasBias {
		b := in[2]
		if b.DType != Float32 || len(b.Shape) != 1 || b.Shape[0] != m {
			return nil, n.Errorf("B has type %s shape %s, want float32 [%d]", b.DType, ShapeString(b.Shape), m)
		}
	}
	sp, err := transposeSpans(n, a, xs[2:], k)
	if err != nil {
		return nil, err
	}
	g := kern.ConvTransposeGeom{N: xs[0], C: c, H: 1, W: xs[2], M: m, KH: 1, KW: k[0],
		OH: 1, OW: sp[0].out, PadL: sp[0].pad0, SH: 1, SW: sp[0].s, DH: 1, DW: sp[0].d, Group: group}
	outShape := []int{g.N, m, g.OW}
	var g3 *kern.ConvTranspose3DGeom
	switch r {
	case 3:
		g3 = &kern.ConvTranspose3DGeom{N: xs[0], C: c, D: xs[2], H: xs[3], W: xs[4], M: m, KD: k[0], KH: k[1], KW: k[2],
			OD: sp[0].out, OH: sp[1].out, OW: sp[2].out, PadF: sp[0].pad0, PadT: sp[1].pad0, PadL: sp[2].pad0,
			SD: sp[0].s, SH: sp[1].s, SW: sp[2].s, DD: sp[0].d, DH: sp[1].d, DW: sp[2].d, Group: group}
		g = kern.ConvTransposeGeom{}
		outShape = []int{g3.N, m, g3.OD, g3.OH, g3.OW}
	case 2:
		g.H, g.W, g.KH, g.KW = xs[2], xs[3], k[0], k[1]
		g.OH, g.OW = sp[0].out, sp[1].out
		g.PadT, g.PadL = sp[0].pad0, sp[1].pad0
		g.SH, g.SW, g.DH, g.DW = sp[0].s, sp[1].s, sp[0].d, sp[1].d
		outShape = []int{g.N, m, g.OH, g.OW}
	}
	total := int64(1)
	for _, d := range outShape {
		if total *= int64(d); total > maxConvTransposeElems {
			return nil, n.Errorf("%w", LimitErrorf("output of shape %s has more than 2^31-1 elements", ShapeString(outShape)))
		}
	}
	return &convTransposePlan{n: n, g: g, g3: g3, m: m, outShape: outShape, hasBias: hasBias,
		nx: NumElems(xs), nw: NumElems(ws), ny: int(total)}, nil
}

// transposeSpans resolves the output size and start padding along each
// spatial axis (in: the input's sizes, k: the kernel's), as
// buildConvTranspose describes.
func transposeSpans(n *Node, a *convTransposeAttrs, in, k []int) ([]span, error) {
	r := len(in)
	win := a.win
	for _, l := range []struct {
		name string
		v    []int64
		want int
	}{
		{"strides", win.strides, r}, {"dilations", win.dilations, r}, {"pads", win.pads, 2 * r},
		{"output_padding", a.outPadding, r}, {"output_shape", a.outputShape, r},
	} {
		if l.v != nil && len(l.v) != l.want {
			return nil, n.Errorf("%s %v has %d values, want %d for %d spatial axes", l.name, l.v, len(l.v), l.want, r)
		}
	}
	sp := make([]span, r)
	for i := range r {
		s := span{in: in[i], k: k[i], s: 1, d: 1}
		if win.strides != nil {
			s.s = int(win.strides[i])
		}
		if win.dilations != nil {
			s.d = int(win.dilations[i])
		}
		var op int64
		if a.outPadding != nil {
			op = a.outPadding[i]
		}
		if op >= int64(max(s.s, s.d)) {
			return nil, n.Errorf("output_padding %v: %d on spatial axis %d must be less than the stride %d or the dilation %d",
				a.outPadding, op, i, s.s, s.d)
		}
		// All in int64: each term is at most 2^31·2^30.
		dk := int64(s.k-1)*int64(s.d) + 1
		full := int64(s.s)*int64(s.in-1) + op + dk
		var out, pad0 int64
		auto := win.autoPad == "SAME_UPPER" || win.autoPad == "SAME_LOWER"
		if a.outputShape != nil || auto {
			out = int64(s.in) * int64(s.s)
			if a.outputShape != nil {
				out = a.outputShape[i]
			}
			total := full - out
			half := floorDiv2(total)
			pad0 = total - half
			if win.autoPad == "SAME_UPPER" {
				pad0 = half
			}
		} else {
			var p1 int64
			if win.autoPad == "NOTSET" && win.pads != nil {
				pad0, p1 = win.pads[i], win.pads[i+r]
			}
			out = full - pad0 - p1
			if out < 1 {
				return nil, n.Errorf("pads %v leave no output on spatial axis %d (full size %d)", win.pads, i, full)
			}
		}
		if out > maxConvTransposeElems {
			return nil, n.Errorf("%w", LimitErrorf("output size %d on spatial axis %d exceeds 2^31-1", out, i))
		}
		if pad0 > maxConvTransposeElems || pad0 < -maxConvTransposeElems {
			return nil, n.Errorf("padding %d on spatial axis %d is out of range (full size %d, output %d)", pad0, i, full, out)
		}
		s.out, s.pad0 = int(out), int(pad0)
		s.pad1 = int(full - out - pad0)
		sp[i] = s
	}
	return sp, nil
}

// floorDiv2 returns ⌊v/2⌋, rounded toward -∞ as Python's v // 2.
func floorDiv2(v int64) int64 {
	if v < 0 {
		return -((-v + 1) / 2)
	}
	return v / 2
}

// run is the plan's Step.Run.
func (p *convTransposePlan) run(env *kern.Env, in, out []*Tensor) error {
	n := p.n
	if err := checkLen(in[0], "X", p.nx); err != nil {
		return n.Errorf("%v", err)
	}
	if err := checkLen(in[1], "W", p.nw); err != nil {
		return n.Errorf("%v", err)
	}
	if err := checkLen(out[0], "Y", p.ny); err != nil {
		return n.Errorf("%v", err)
	}
	var b []float32
	if p.hasBias {
		if err := checkLen(in[2], "B", p.m); err != nil {
			return n.Errorf("%v", err)
		}
		b = in[2].F32
	}
	if p.g3 != nil {
		kern.ConvTranspose3D(env, p.g3, in[0].F32, in[1].F32, b, out[0].F32)
		return nil
	}
	kern.ConvTranspose(env, &p.g, in[0].F32, in[1].F32, b, out[0].F32)
	return nil
}
