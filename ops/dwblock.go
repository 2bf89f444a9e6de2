package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("bnrun.DwBlock", imageWiseOp(buildDwBlock, firstOutput))
}

// buildDwBlock binds bnrun.DwBlock, which the fold pass makes of a
// depthwise convolution and the 1×1 convolutions around it (an inverted
// residual block), or of a grouped convolution and the 1×1 expansion
// before it (RegNet's first blocks): inputs X, WE, BE, WD, BD, WP, BP, Z,
// of which BE, BD, BP and Z may be absent, and so may the expansion's
// weights WE or the projection's WP, not both:
//
//	e = expand_activation(conv(X, WE) + BE)        (e = X without WE)
//	d = dw_activation(conv(e, WD) + BD)            (group: several)
//	y = activation(conv(d, WP) + BP + Z)           (y = d without WP)
//
// WE and WP are 1×1 weights of one group; the depthwise convolution has
// the node's window attributes (kernel_shape, strides, pads, dilations,
// auto_pad, group) and its activation the attributes of FusedConv's with
// the prefix dw_, the expansion's with expand_. Tiers with DwRows run the
// convolutions in bands of rows where it takes the block (conv_dwrows.go),
// tiers with a DwBlock kernel in one pass where that takes it
// (conv_dwblock.go); otherwise the convolutions run one after the other.
func buildDwBlock(n *Node) (Kernel, error) {
	win, group, err := parseConvAttrs(n)
	if err != nil {
		return nil, err
	}
	var acts [3]kern.Activation
	for i, prefix := range []string{"expand_", "dw_", ""} {
		if acts[i], err = ParseActivation(n, prefix); err != nil {
			return nil, err
		}
	}
	packs := [3]*convPacks{{}, {}, {}} // shared by the node's plans
	hk := newHoldingKernel(1, 3, 5)
	hk.PrepareFunc = func(in []*Value) ([]Value, Step, error) {
		if len(in) < 4 || len(in) > 8 {
			return nil, Step{}, n.Errorf("got %d inputs, want 4 to 8", len(in))
		}
		var held [3]*heldWeights
		for i := range held {
			held[i] = hk.heldFor(1+2*i, optValue(in, 1+2*i))
		}
		b, err := planDwBlock(n, win, group, in, packs, held)
		if err != nil {
			return nil, Step{}, err
		}
		b.acts = acts
		outs, err := oneOutput(n, Value{DType: Float32, Shape: b.outShape()})
		if err != nil {
			return nil, Step{}, err
		}
		dev := &DwBlockDev{Expand: b.cp[0] != nil, Project: b.cp[2] != nil, Residual: b.z, ActE: acts[0], ActD: acts[1], Act: acts[2]}
		scratch, macs := 0, int64(0)
		for i, cp := range b.cp {
			if cp != nil {
				dev.G[i] = cp.g
				dev.Bias[i] = cp.hasBias
				scratch = max(scratch, kern.ConvScratch(&cp.g))
				macs += cp.g.MACs()
			}
		}
		return outs, Step{Run: b.run, Scratch: scratch, Dev: dev, MACs: macs}, nil
	}
	return hk, nil
}

// dwBlockPlan is a bnrun.DwBlock bound to one set of input shapes: its
// convolutions (nil where absent), in the order expand, depthwise,
// project.
type dwBlockPlan struct {
	n    *Node
	cp   [3]*convPlan
	z    bool // a residual Z
	acts [3]kern.Activation
}

// dwRoles name a DwBlock's convolutions in its errors.
var dwRoles = [3]string{"expansion", "depthwise convolution", "projection"}

// planDwBlock checks a DwBlock's inputs and plans its convolutions; held
// are the weights the node holds, by convolution (nil where it holds none).
func planDwBlock(n *Node, win *window, group int, in []*Value, packs [3]*convPacks, held [3]*heldWeights) (*dwBlockPlan, error) {
	b := &dwBlockPlan{n: n}
	we, wp := optValue(in, 1), optValue(in, 5)
	if we == nil && wp == nil {
		return nil, n.Errorf("has neither the expansion's weights (input 1) nor the projection's (input 5)")
	}
	if in[0] == nil || in[3] == nil {
		return nil, n.Errorf("inputs X (0) and WD (3) are required")
	}
	pointwise := &window{}
	x := in[0]
	for i := range 3 {
		w, bias := optValue(in, 1+2*i), optValue(in, 2+2*i)
		if w == nil {
			if bias != nil {
				return nil, n.Errorf("has the %s's bias without its weights", dwRoles[i])
			}
			continue
		}
		wn, g := pointwise, 1
		if i == 1 {
			wn, g = win, group
		}
		cp, err := planConv(n, wn, g, []*Value{x, w, bias}, packs[i], held[i])
		if err != nil {
			return nil, fmt.Errorf("%w (the %s)", err, dwRoles[i])
		}
		gm := &cp.g
		switch {
		case len(cp.outShape) != 4:
			return nil, n.Errorf("the %s is not 2-D: output %s", dwRoles[i], ShapeString(cp.outShape))
		case i != 1 && (gm.KH != 1 || gm.KW != 1 || gm.SH != 1 || gm.SW != 1 || gm.PadT+gm.PadB+gm.PadL+gm.PadR != 0):
			return nil, n.Errorf("the %s must be a 1×1 convolution of stride 1 without padding", dwRoles[i])
		case i == 1 && gm.Group < 2:
			return nil, n.Errorf("the depthwise convolution has %d group for %d input and %d output channels, want several", gm.Group, gm.C, gm.M)
		}
		b.cp[i] = cp
		x = &Value{DType: Float32, Shape: cp.outShape}
	}
	if z := optValue(in, 7); z != nil {
		if b.cp[2] == nil {
			return nil, n.Errorf("has a residual Z without a projection")
		}
		if z.DType != Float32 || !SameShape(z.Shape, b.outShape()) {
			return nil, n.Errorf("residual Z has type %s shape %s, want float32 %s", z.DType, ShapeString(z.Shape), ShapeString(b.outShape()))
		}
		b.z = true
	}
	return b, nil
}

// outShape is the block's output shape.
func (b *dwBlockPlan) outShape() []int {
	if b.cp[2] != nil {
		return b.cp[2].outShape
	}
	return b.cp[1].outShape
}

// dwBlockMid is the scratch of a DwBlock that runs its convolutions one
// after the other: the intermediate tensors and their fusions.
type dwBlockMid struct {
	t [2]kern.GrowBuf
	f [2]kern.ConvFusion
	g [3]kern.ConvGeom
}

// dwBlockMids keeps dwBlockMid for reuse by any block and Run.
var dwBlockMids = kern.FreeList[dwBlockMid]{New: func() *dwBlockMid { return new(dwBlockMid) }}

// run is the block's step.
func (b *dwBlockPlan) run(env *kern.Env, in, out []*Tensor) error {
	n := b.n
	var bias [3][]float32
	first := b.cp[1]
	if b.cp[0] != nil {
		first = b.cp[0]
	}
	if err := checkLen(in[0], "X", first.nx); err != nil {
		return n.Errorf("%v", err)
	}
	for i, cp := range b.cp {
		if cp == nil {
			continue
		}
		if err := cp.checkW(in[1+2*i]); err != nil {
			return n.Errorf("%v (the %s)", err, dwRoles[i])
		}
		if cp.hasBias {
			if err := checkLen(in[2+2*i], "B", cp.g.M); err != nil {
				return n.Errorf("%v (the %s)", err, dwRoles[i])
			}
			bias[i] = in[2+2*i].F32
		}
	}
	y := out[0].F32
	if err := checkLen(out[0], "Y", NumElems(b.outShape())); err != nil {
		return n.Errorf("%v", err)
	}
	var z []float32
	if b.z {
		if err := checkLen(in[7], "Z", len(y)); err != nil {
			return n.Errorf("%v", err)
		}
		z = in[7].F32
	}
	f := kern.TaskOf[kern.ConvFusion](env)
	*f = kern.ConvFusion{Act: b.acts[2], Residual: z}
	defer func() { *f = kern.ConvFusion{} }()
	if env.K.DwRows != nil {
		ok, err := b.rows(env, in, y, bias, f)
		if err != nil {
			return n.Errorf("%v", err)
		}
		if ok {
			return nil
		}
	}
	if k := env.K; k.DwBlock != nil {
		ok, err := b.fused(env, in, bias, f)
		if err != nil {
			return n.Errorf("%v", err)
		}
		if ok {
			p := kern.TaskOf[kern.DwBlock](env)
			k.DwBlock(env, p, in[0].F32, y)
			*p = kern.DwBlock{}
			return nil
		}
	}
	// One convolution after the other, through intermediates, a batch
	// image by image: an image's intermediates stay in the core's cache
	// from one convolution to the next, where a batch's went out to
	// memory and back (MnasNet, MobileNetV2 and EfficientNet-B0 at batch
	// 8, alternating runs: 0.98-0.99 of their time on one thread,
	// 0.97-1.00 on two; at batch 2 on one thread 0.975-0.99). Each
	// image's outputs are the same bit for bit.
	mid := dwBlockMids.Get(env.Hint)
	defer dwBlockMids.Put(env.Hint, mid)
	images := first.g.N
	var ws, packs [3][]float32
	for i, cp := range b.cp {
		if cp == nil {
			continue
		}
		w, packed, err := cp.weights(env.K, in[1+2*i])
		if err != nil {
			return n.Errorf("%v (the %s)", err, dwRoles[i])
		}
		ws[i], packs[i] = w, packed
		// the geometry of one image, and the expansion's and the
		// depthwise layer's own activation
		mid.g[i] = cp.g
		mid.g[i].N = 1
		if i < 2 {
			mid.f[i] = kern.ConvFusion{Act: b.acts[i]}
		}
	}
	if images == 0 {
		return nil
	}
	xn, yn := len(in[0].F32)/images, len(y)/images
	// for each image i: y[i] = act(Wp·actD(dw(actE(We·x[i] + BE), WD) + BD) + BP + Z[i])
	for img := range images {
		src := in[0].F32[img*xn : (img+1)*xn]
		if z != nil {
			f.Residual = z[img*yn : (img+1)*yn]
		}
		for i, cp := range b.cp {
			if cp == nil {
				continue
			}
			dst, fi := y[img*yn:(img+1)*yn], f
			if i < 2 {
				// into an intermediate unless the depthwise layer is last
				fi = &mid.f[i]
				if i == 0 || b.cp[2] != nil {
					dst = mid.t[i].Grow(cp.ny / images)
				}
			}
			env.PackedW = packs[i]
			env.K.Conv(env, &mid.g[i], src, ws[i], bias[i], dst, fi)
			env.PackedW = nil
			src = dst
		}
	}
	return nil
}

// grouped reports whether the block's middle convolution is grouped, of
// several channels a group, rather than depthwise.
func (b *dwBlockPlan) grouped() bool {
	g := &b.cp[1].g
	return g.C/g.Group > 1
}

// block sets env's DwBlock (TaskOf) to the block's layers, geometries,
// activations and fusion f, without weights or biases, and returns it.
func (b *dwBlockPlan) block(env *kern.Env, f *kern.ConvFusion) *kern.DwBlock {
	p := kern.TaskOf[kern.DwBlock](env)
	*p = kern.DwBlock{Expand: b.cp[0] != nil, Project: b.cp[2] != nil, ActE: b.acts[0], ActD: b.acts[1], Fusion: f}
	geoms := [3]*kern.ConvGeom{&p.GE, &p.GD, &p.GP}
	for i, cp := range b.cp {
		if cp != nil {
			*geoms[i] = cp.g
		}
	}
	return p
}

// rows runs the block on the tier's DwRows (layer by layer in bands of
// rows, with the layers' own weights and kernels) and reports whether the
// tier takes it.
func (b *dwBlockPlan) rows(env *kern.Env, in []*Tensor, y []float32, bias [3][]float32, f *kern.ConvFusion) (bool, error) {
	k := env.K
	p := b.block(env, f)
	defer func() { *p = kern.DwBlock{} }()
	p.BE, p.BD, p.BP = bias[0], bias[1], bias[2]
	workers := kern.ParOf(env).Workers()
	if !k.DwRowsOK(p, workers) {
		return false, nil
	}
	plain := [3]*[]float32{&p.WE, &p.WD, &p.WP}
	packed := [3]*[]float32{&p.PE, nil, &p.PP}
	if b.grouped() {
		packed[1] = &p.PD // (the grouped layer reads its pixel tiles' panels alone)
	}
	for i, cp := range b.cp {
		if cp == nil {
			continue
		}
		if i == 0 && k.DwRowsPix != nil && k.DwRowsPix(p, workers) {
			// the expansion on pixel tiles: its weights as PackDwBlock
			// packs them (where they are no constant, DwRows expands in
			// place, as below)
			pw, err := cp.blockPacked(k, in[1])
			if err != nil {
				return false, fmt.Errorf("%w (the %s)", err, dwRoles[i])
			}
			if pw != nil {
				p.PE = pw
				continue
			}
		}
		w, pw, err := cp.weights(k, in[1+2*i])
		if err != nil {
			return false, fmt.Errorf("%w (the %s)", err, dwRoles[i])
		}
		switch {
		case packed[i] == nil:
			if w == nil || pw != nil {
				return false, nil // the depthwise layer's planes read w as it lies
			}
		case i == 1 && pw == nil:
			return false, nil // weights not packed: the layers pack them per call
		default:
			*packed[i] = pw
		}
		*plain[i] = w
	}
	k.DwRows(env, p, in[0].F32, y)
	return true, nil
}

// fused fills env's DwBlock (TaskOf) for the tier's DwBlock kernel and reports whether
// the kernel takes it: every weight a constant it packed.
func (b *dwBlockPlan) fused(env *kern.Env, in []*Tensor, bias [3][]float32, f *kern.ConvFusion) (bool, error) {
	k := env.K
	p := b.block(env, f)
	if !k.DwBlockOK(p, kern.ParOf(env).Workers()) {
		*p = kern.DwBlock{}
		return false, nil
	}
	ws := [3]*[]float32{&p.WE, &p.WD, &p.WP}
	bs := [3]*[]float32{&p.BE, &p.BD, &p.BP}
	for i, cp := range b.cp {
		if cp == nil {
			continue
		}
		w, err := cp.blockPacked(k, in[1+2*i])
		if err != nil {
			*p = kern.DwBlock{}
			return false, fmt.Errorf("%w (the %s)", err, dwRoles[i])
		}
		if w == nil {
			*p = kern.DwBlock{}
			return false, nil
		}
		*ws[i], *bs[i] = w, bias[i]
	}
	return true, nil
}

// blockPacked returns the layer's weights w as tier k's PackDwBlock packs
// them, made once for the node where it holds them, or nil where w is
// not a constant.
func (cp *convPlan) blockPacked(k *kern.Tier, w *Tensor) ([]float32, error) {
	if !cp.holds(w) {
		return cp.packedWith(k, w, dwBlockPackKind, k.PackDwBlock), nil
	}
	c := cp.gotBlock.Load()
	if c == nil || c.k != k {
		packed, err := cp.heldPacked(k, dwBlockPackKind, k.PackDwBlock, true, false)
		if err != nil {
			return nil, err
		}
		c = &convWeights{k: k, packed: packed}
		cp.gotBlock.Store(c)
	}
	return c.packed, nil
}

// dwBlockPackKind is the pack kind of weights packed by PackDwBlock.
const dwBlockPackKind = -1
