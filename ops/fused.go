package ops

import (
	"math"

	"github.com/bnrun/bnrun/kern"
)

// Fused operators of the "bnrun" domain, made by the fold pass: each
// computes exactly what the chain of standard operators it replaces
// computes, in one pass over the data.

func init() {
	Register("bnrun.FusedConv", imageWiseOp(buildFusedConv, firstOutput))
	Register("bnrun.FusedGemm", imageWiseOp(buildFusedGemm, firstOutput, rowsOfA))
	Register("bnrun.Affine", imageWiseOp(buildAffine, firstOutput))
}

// LookupNode returns the builder for a node's op in its domain: the
// default ONNX domain ("" or "ai.onnx") by op type, others as
// "domain.OpType". It returns nil when the op is unsupported.
func LookupNode(n *Node) Builder { return registry[n.QualifiedType()] }

// buildFusedConv binds bnrun.FusedConv: a Conv (same attributes, read as
// at opset 11+) with inputs X, W, B, Z, pre_scale, pre_bias, gate, of
// which all but X and W may be absent, and attributes pre_activation (""
// or Relu) and activation (with activation_alpha, clip_min, clip_max):
//
//	y = activation(conv(pre_activation(pre_scale*X + pre_bias), W) + B + Z)
//
// pre_scale and pre_bias are per input channel; Z has y's shape. gate, of
// shape [N, C, 1, 1], scales each image's input channels instead (a
// squeeze-and-excitation block's Mul, which fold's GateConv hands to the
// convolution after it; not with pre_scale):
//
//	y = activation(conv(gate*X, W) + B + Z)
//
// applied as the prologue gate[n][c]·x + (-0), which is the Mul's
// product bit for bit (adding -0 changes no value, -0 included).
func buildFusedConv(n *Node) (Kernel, error) {
	w, group, err := parseConvAttrs(n)
	if err != nil {
		return nil, err
	}
	act, err := ParseActivation(n, "")
	if err != nil {
		return nil, err
	}
	preAct, err := ParseActivation(n, "pre_")
	if err != nil {
		return nil, err
	}
	if preAct.Kind != kern.ActNone && preAct.Kind != kern.ActRelu {
		return nil, n.Errorf("pre_activation %s: only Relu is supported", preAct)
	}
	packs := &convPacks{} // shared by the node's plans
	hk := newHoldingKernel(1)
	hk.PrepareFunc = func(in []*Value) ([]Value, Step, error) {
		if len(in) < 2 || len(in) > 7 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2 to 7", len(in))
		}
		cp, err := planConv(n, w, group, in[:min(3, len(in))], packs, hk.heldFor(1, in[1]))
		if err != nil {
			return nil, Step{}, err
		}
		z, ps, pb := optValue(in, 3), optValue(in, 4), optValue(in, 5)
		if z != nil && (z.DType != Float32 || !SameShape(z.Shape, cp.outShape)) {
			return nil, Step{}, n.Errorf("residual Z has type %s shape %s, want float32 %s", z.DType, ShapeString(z.Shape), ShapeString(cp.outShape))
		}
		if (ps == nil) != (pb == nil) {
			return nil, Step{}, n.Errorf("pre_scale and pre_bias must be given together")
		}
		for _, p := range []*Value{ps, pb} {
			if p != nil && (p.DType != Float32 || len(p.Shape) != 1 || p.Shape[0] != cp.c) {
				return nil, Step{}, n.Errorf("pre_scale/pre_bias have shape %s, want float32 [%d]", ShapeString(p.Shape), cp.c)
			}
		}
		gv := optValue(in, 6)
		var gate *gatePlan
		if gv != nil {
			if gate, err = planGate(n, cp, in[0], gv, ps != nil, preAct); err != nil {
				return nil, Step{}, err
			}
		}
		run := func(env *kern.Env, in, out []*Tensor) error {
			b, err := cp.check(n, in, out)
			if err != nil {
				return err
			}
			// The fusion lives in env, which belongs to this Run alone,
			// so that no allocation is needed per call.
			f := kern.TaskOf[kern.ConvFusion](env)
			*f = kern.ConvFusion{Act: act, PreAct: preAct, PixIn: cp.pixIn, PixOut: cp.pixOut}
			if t := optTensor(in, 3); t != nil {
				if err := checkLen(t, "Z", cp.ny); err != nil {
					return n.Errorf("%v", err)
				}
				f.Residual = t.F32
			}
			if t := optTensor(in, 4); t != nil {
				f.PreScale, f.PreBias = t.F32, in[5].F32
				if len(f.PreScale) != cp.c || len(f.PreBias) != cp.c {
					return n.Errorf("pre_scale/pre_bias do not match the plan")
				}
			}
			if gate != nil {
				err = gate.conv(env, cp, n, in, b, out[0].F32, f)
			} else {
				err = cp.conv(env, n, in, b, out[0].F32, f)
			}
			*f = kern.ConvFusion{}
			return err
		}
		outs, err := oneOutput(n, Value{DType: Float32, Shape: cp.outShape})
		if err != nil {
			return nil, Step{}, err
		}
		dev := ConvDev{Bias: cp.hasBias, Residual: z != nil, Pre: ps != nil, Gate: gv != nil, PreAct: preAct, Act: act}
		st := cp.step(run, dev)
		tied := -1
		if z != nil {
			tied = 3
		}
		st.Layout = cp.layout(ps != nil || gv != nil, tied)
		if z != nil && gv == nil && cp.g3 == nil {
			// Y over Z, where the tier's path adds Z in the epilogue of
			// the tiles it stores (kern.ResidualInPlace): the bottleneck's
			// last 1×1 convolution at 56×56 and 28×28 (ResNet-50) and the
			// basic block's second 3×3 (ResNet-18 and -34) write the
			// block's output over its input's lines, which the epilogue
			// reads there anyway, rather than fetching other lines to
			// write.
			pre := ps != nil
			st.Overwrite = func(k *kern.Tier) int {
				if cp.pixIn || cp.pixOut || !kern.ResidualInPlace(k, &cp.g, pre, act) {
					return -1
				}
				return 3
			}
		}
		return outs, st, nil
	}
	return hk, nil
}

// gatePlan is a FusedConv's gate input for one plan: images of C input
// channels, the prologue's bias (-0 for every channel) and the
// convolution's geometry for one image (kept here so that a Run does not
// allocate it).
type gatePlan struct {
	images, c int
	negZero   []float32
	g1        kern.ConvGeom
}

// planGate checks a FusedConv's gate input g against the plan cp of X: a
// float32 [N, C, 1, 1] for X's N images of C channels of a 2-D
// convolution, and no pre_scale or pre_activation beside it.
func planGate(n *Node, cp *convPlan, x, g *Value, pre bool, preAct kern.Activation) (*gatePlan, error) {
	if pre || preAct.Kind != kern.ActNone {
		return nil, n.Errorf("gate with pre_scale or pre_activation: not supported")
	}
	if cp.g3 != nil || len(x.Shape) != 4 {
		return nil, n.Errorf("gate on a %d-D input: only 4-D (2-D convolutions)", len(x.Shape))
	}
	want := []int{x.Shape[0], cp.c, 1, 1}
	if g.DType != Float32 || !SameShape(g.Shape, want) {
		return nil, n.Errorf("gate has type %s shape %s, want float32 %s", g.DType, ShapeString(g.Shape), ShapeString(want))
	}
	nz := make([]float32, cp.c)
	for i := range nz {
		nz[i] = float32(math.Copysign(0, -1))
	}
	gp := &gatePlan{images: x.Shape[0], c: cp.c, negZero: nz, g1: cp.g}
	gp.g1.N = 1
	return gp, nil
}

// conv runs cp's convolution an image at a time, each with its gate as
// the prologue's scale (f's other fields as the caller set them).
func (gp *gatePlan) conv(env *kern.Env, cp *convPlan, n *Node, in []*Tensor, b, y []float32, f *kern.ConvFusion) error {
	gate := in[6]
	if err := checkLen(gate, "gate", gp.images*gp.c); err != nil {
		return n.Errorf("%v", err)
	}
	w, packed, err := cp.weights(env.K, in[1])
	if err != nil {
		return n.Errorf("%v", err)
	}
	x, z := in[0].F32, f.Residual
	xn, yn := len(x)/gp.images, len(y)/gp.images
	f.PreBias = gp.negZero
	for i := range gp.images {
		f.PreScale = gate.F32[i*gp.c : (i+1)*gp.c]
		if z != nil {
			f.Residual = z[i*yn : (i+1)*yn]
		}
		env.PackedW = packed
		env.K.Conv(env, &gp.g1, x[i*xn:(i+1)*xn], w, b, y[i*yn:(i+1)*yn], f)
	}
	env.PackedW = nil
	return nil
}

// buildFusedGemm binds bnrun.FusedGemm: a Gemm (same inputs and
// attributes, C optional) followed by an activation (attribute activation
// with activation_alpha, clip_min, clip_max): y = activation(Gemm(A, B, C)).
func buildFusedGemm(n *Node) (Kernel, error) {
	act, err := ParseActivation(n, "")
	if err != nil {
		return nil, err
	}
	gn := *n
	gn.Domain, gn.OpType, gn.Opset = "", "Gemm", 13
	k, err := buildGemm(&gn)
	if err != nil {
		return nil, err
	}
	inner := k.(*holdingKernel)
	// the same weights as the Gemm's: TakeConst gives them to it
	hk := &holdingKernel{ins: inner.ins, held: inner.held}
	hk.PrepareFunc = func(in []*Value) ([]Value, Step, error) {
		outs, step, err := inner.Prepare(in)
		if err != nil || step.Run == nil {
			return outs, step, err
		}
		if d, ok := step.Dev.(*GemmDev); ok {
			dd := *d
			dd.Act = act
			step.Dev = &dd
		}
		gemm := step.Run
		step.Run = func(env *kern.Env, in, out []*Tensor) error {
			if err := gemm(env, in, out); err != nil {
				return err
			}
			act.Apply(out[0].F32)
			return nil
		}
		return outs, step, nil
	}
	return hk, nil
}

// buildAffine binds bnrun.Affine: inputs X (rank >= 2, channels on axis 1),
// a and b (float32 [C]), and an optional fused activation:
//
//	y[n][c][...] = activation(a[c]*x[n][c][...] + b[c])
//
// It is what remains of an inference BatchNormalization that could not be
// folded into a neighbouring layer.
func buildAffine(n *Node) (Kernel, error) {
	act, err := ParseActivation(n, "")
	if err != nil {
		return nil, err
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 3); err != nil {
			return nil, Step{}, err
		}
		x, a, b := in[0], in[1], in[2]
		if x.DType != Float32 || len(x.Shape) < 2 {
			return nil, Step{}, n.Errorf("X has type %s shape %s, want float32 of rank >= 2", x.DType, ShapeString(x.Shape))
		}
		c := x.Shape[1]
		for _, p := range []*Value{a, b} {
			if p.DType != Float32 || len(p.Shape) != 1 || p.Shape[0] != c {
				return nil, Step{}, n.Errorf("a and b must be float32 [%d], got %s", c, ShapeString(p.Shape))
			}
		}
		plane := NumElems(x.Shape[2:])
		total := NumElems(x.Shape)
		run := func(env *kern.Env, in, out []*Tensor) error {
			xs, as, bs, ys := in[0].F32, in[1].F32, in[2].F32, out[0].F32
			if len(xs) != total || len(ys) != total || len(as) != c || len(bs) != c {
				return n.Errorf("tensors do not match the plan")
			}
			if total == 0 {
				return nil
			}
			planes := total / max(plane, 1)
			claim := claimOutputs(env) && kern.Disjoint(xs, ys)
			forChunksOf(env, planes, max(1, elemGrain/max(plane, 1)),
				affineArgs{env.K, xs, ys, as, bs, plane, act, claim})
			return nil
		}
		dev := &AffineDev{N: x.Shape[0], C: c, HW: plane, Act: act}
		return []Value{{DType: Float32, Shape: copyShape(x.Shape)}}, Step{Run: run, Dev: dev}, nil
	}), nil
}

// affineArgs are the operands of bnrun.Affine's step.
type affineArgs struct {
	k              *kern.Tier
	xs, ys, as, bs []float32
	plane          int
	act            kern.Activation
	claim          bool // kern.ClaimLines before writing
}

// Range computes planes [lo, hi) (channel p mod C):
// y = act(a[c]·x + b[c]).
func (a *affineArgs) Range(lo, hi int) {
	if a.claim {
		kern.ClaimLines(a.ys[lo*a.plane : hi*a.plane])
	}
	relu := a.act.Kind == kern.ActRelu
	c := len(a.as)
	for p := lo; p < hi; p++ {
		ch := p % c
		src, dst := a.xs[p*a.plane:(p+1)*a.plane], a.ys[p*a.plane:(p+1)*a.plane]
		kern.AffineRow(a.k, dst, src, a.as[ch], a.bs[ch], relu)
		if !relu {
			a.act.Apply(dst)
		}
	}
}
