package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// actCase is one activation node to fuse: its op, opset, extra inputs
// after X, attributes, and the fused attributes expected.
type actCase struct {
	name  string
	op    string
	opset int
	ins   string
	attrs []*ir.Attr
	wantF map[string]float32
}

// actCases covers every fusable activation and both forms of Clip.
var actCases = []actCase{
	{name: "relu", op: "Relu", opset: 13},
	{name: "relu_opset9", op: "Relu", opset: 9},
	{name: "sigmoid", op: "Sigmoid", opset: 13},
	{name: "tanh", op: "Tanh", opset: 13},
	{name: "leaky", op: "LeakyRelu", opset: 13, attrs: []*ir.Attr{aFloat("alpha", 0.3)},
		wantF: map[string]float32{"activation_alpha": 0.3}},
	{name: "clip_opset9_attrs", op: "Clip", opset: 9, attrs: []*ir.Attr{aFloat("min", -0.2), aFloat("max", 0.6)},
		wantF: map[string]float32{"clip_min": -0.2, "clip_max": 0.6}},
	{name: "clip_opset9_min_only", op: "Clip", opset: 9, attrs: []*ir.Attr{aFloat("min", 0.1)},
		wantF: map[string]float32{"clip_min": 0.1}},
	{name: "clip_opset13_inputs", op: "Clip", opset: 13, ins: ",lo,hi",
		wantF: map[string]float32{"clip_min": -0.4, "clip_max": 0.5}},
	{name: "clip_opset11_min_only", op: "Clip", opset: 11, ins: ",lo",
		wantF: map[string]float32{"clip_min": -0.4}},
	{name: "clip_opset13_unbounded", op: "Clip", opset: 13},
	{name: "hardsigmoid", op: "HardSigmoid", opset: 13, attrs: []*ir.Attr{aFloat("alpha", 0.25), aFloat("beta", 0.375)},
		wantF: map[string]float32{"activation_alpha": 0.25, "activation_beta": 0.375}},
	{name: "hardsigmoid_default", op: "HardSigmoid", opset: 13,
		wantF: map[string]float32{"activation_alpha": 0.2, "activation_beta": 0.5}},
	{name: "hardswish", op: "HardSwish", opset: 14},
}

// checkFusedAct checks the activation attributes of a fused node.
func checkFusedAct(t *testing.T, n *ir.Node, tc actCase) {
	t.Helper()
	wantAttr(t, n, "activation", tc.op)
	for name, v := range tc.wantF {
		if got, _ := n.Float(name, -99); got != v {
			t.Errorf("attribute %s = %g, want %g", name, got, v)
		}
	}
}

// TestConvAct fuses the activation after a Conv into a FusedConv.
func TestConvAct(t *testing.T) {
	for i, tc := range actCases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(800 + i)).setOpset(tc.opset)
			b.input("X", N, 3, 6, 5)
			b.init("lo", []int{}, -0.4)
			b.init("hi", []int{}, 0.5)
			b.conv("conv", "X", "c", 3, 4, []int{3, 3}, 1, true, pads2(1))
			b.node("act", tc.op, "c"+tc.ins, "Y", tc.attrs...)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
			wantRules(t, rep, map[string]int{"ConvAct": 1})
			fc := oneOp(t, opt, "bnrun.FusedConv")
			checkFusedAct(t, fc, tc)
			if fc.Outputs[0] != "Y" || fc.Opset != 1 || fc.Domain != Domain {
				t.Errorf("FusedConv %s@%d writes %q, want %s@1 writing Y", fc.Domain, fc.Opset, fc.Outputs, Domain)
			}
			if opt.Opsets[Domain] != 1 {
				t.Errorf("optimised opsets %v lack %s", opt.Opsets, Domain)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestConvBNAct folds Conv -> BN -> activation into one FusedConv.
func TestConvBNAct(t *testing.T) {
	b := newBuilder(830)
	b.input("X", N, 3, 6, 6)
	b.conv("conv", "X", "c", 3, 4, []int{3, 3}, 1, false, pads2(1))
	b.bn("bn", "c", "n", 4)
	b.node("act", "LeakyRelu", "n", "Y", aFloat("alpha", 0.1))
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
	wantRules(t, rep, map[string]int{"ConvBN": 1, "ConvAct": 1})
	wantFates(t, rep, "folded:conv")
	sameOutputs(t, b.g, opt)
}

// TestGemmAct fuses the activation after a Gemm into a FusedGemm.
func TestGemmAct(t *testing.T) {
	for i, tc := range actCases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(850 + i)).setOpset(tc.opset)
			b.input("X", N, 5)
			b.init("lo", []int{}, -0.4)
			b.init("hi", []int{}, 0.5)
			b.randInit("B", []int{3, 5}, -1, 1)
			b.randInit("C", []int{3}, -1, 1)
			b.node("fc", "Gemm", "X,B,C", "g", aInt("transB", 1), aFloat("alpha", 0.8))
			b.node("act", tc.op, "g"+tc.ins, "Y", tc.attrs...)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedGemm": 1})
			wantRules(t, rep, map[string]int{"GemmAct": 1})
			fg := oneOp(t, opt, "bnrun.FusedGemm")
			checkFusedAct(t, fg, tc)
			if v, _ := fg.Int("transB", 0); v != 1 {
				t.Errorf("FusedGemm lost transB")
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestActNegative leaves activations that cannot be fused.
func TestActNegative(t *testing.T) {
	t.Run("conv_output_shared", func(t *testing.T) {
		b := newBuilder(880)
		b.input("X", N, 3, 5, 5)
		b.conv("conv", "X", "c", 3, 2, []int{3, 3}, 1, true)
		b.node("relu", "Relu", "c", "Y")
		b.node("sig", "Sigmoid", "c", "S")
		b.output("Y", "S")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Relu": 1, "Sigmoid": 1})
		wantRules(t, rep, map[string]int{})
		sameOutputs(t, b.g, opt)
	})
	t.Run("conv_output_is_graph_output", func(t *testing.T) {
		b := newBuilder(881)
		b.input("X", N, 3, 5, 5)
		b.conv("conv", "X", "c", 3, 2, []int{3, 3}, 1, true)
		b.node("relu", "Relu", "c", "Y")
		b.output("Y", "c")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Relu": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("clip_min_not_constant", func(t *testing.T) {
		b := newBuilder(882)
		b.input("X", N, 3, 5, 5)
		b.input("lo")
		b.conv("conv", "X", "c", 3, 2, []int{3, 3}, 1, true)
		b.node("clip", "Clip", "c,lo", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Clip": 1})
		wantRules(t, rep, map[string]int{})
		sameOutputs(t, b.g, opt)
	})
	t.Run("clip_max_not_scalar", func(t *testing.T) {
		b := newBuilder(883)
		b.input("X", N, 4)
		b.randInit("B", []int{4, 2}, -1, 1)
		b.init("hi", []int{2}, 0.5, 0.7)
		b.node("fc", "Gemm", "X,B", "g")
		b.node("clip", "Clip", "g,,hi", "Y")
		b.output("Y")
		_, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Gemm": 1, "Clip": 1})
	})
	t.Run("gemm_output_shared", func(t *testing.T) {
		b := newBuilder(884)
		b.input("X", N, 4)
		b.randInit("B", []int{4, 2}, -1, 1)
		b.node("fc", "Gemm", "X,B", "g")
		b.node("relu", "Relu", "g", "Y")
		b.output("Y", "g")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Gemm": 1, "Relu": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("matmul_relu", func(t *testing.T) {
		// Only Gemm becomes FusedGemm; a MatMul keeps its Relu.
		b := newBuilder(885)
		b.input("X", N, 4)
		b.randInit("B", []int{4, 2}, -1, 1)
		b.node("mm", "MatMul", "X,B", "m")
		b.node("relu", "Relu", "m", "Y")
		b.output("Y")
		_, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"MatMul": 1, "Relu": 1})
	})
}
