package fold

import (
	"strings"
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestConvBN folds a BatchNormalization into the Conv before it, for plain,
// biased, grouped, depthwise, padded and strided, and 1-D convolutions.
func TestConvBN(t *testing.T) {
	cases := []struct {
		name    string
		c, m    int
		in      []int // spatial dims of the input
		kernel  []int
		group   int
		bias    bool
		attrs   []*ir.Attr
		batched bool
	}{
		{name: "plain", c: 3, m: 4, in: []int{6, 5}, kernel: []int{3, 3}, group: 1},
		{name: "bias", c: 3, m: 4, in: []int{6, 5}, kernel: []int{3, 3}, group: 1, bias: true},
		{name: "padded_strided", c: 2, m: 5, in: []int{7, 7}, kernel: []int{3, 3}, group: 1, bias: true,
			attrs: []*ir.Attr{pads2(1), aInts("strides", 2, 2)}},
		{name: "grouped", c: 4, m: 6, in: []int{5, 5}, kernel: []int{3, 3}, group: 2, bias: true},
		{name: "depthwise", c: 5, m: 5, in: []int{6, 6}, kernel: []int{3, 3}, group: 5,
			attrs: []*ir.Attr{pads2(1)}},
		{name: "depthwise_multiplier", c: 3, m: 6, in: []int{5, 4}, kernel: []int{2, 2}, group: 3, bias: true},
		{name: "conv1d", c: 3, m: 4, in: []int{9}, kernel: []int{3}, group: 1, bias: true,
			attrs: []*ir.Attr{aInts("pads", 1, 1)}},
		{name: "conv1d_nobias", c: 2, m: 3, in: []int{8}, kernel: []int{2}, group: 1},
		{name: "pointwise", c: 3, m: 4, in: []int{4, 4}, kernel: []int{1, 1}, group: 1, bias: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(100 + i))
			b.input("X", append([]int{N, tc.c}, tc.in...)...)
			b.conv("conv", "X", "c", tc.c, tc.m, tc.kernel, tc.group, tc.bias, tc.attrs...)
			b.bn("bn", "c", "Y", tc.m)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsBefore, map[string]int{"Conv": 1, "BatchNormalization": 1})
			wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1})
			wantRules(t, rep, map[string]int{"ConvBN": 1})
			wantFates(t, rep, "folded:conv")
			conv := oneOp(t, opt, "Conv")
			if conv.Outputs[0] != "Y" || conv.Input(2) == "" {
				t.Errorf("folded conv: inputs %q outputs %q, want a bias and output Y", conv.Inputs, conv.Outputs)
			}
			if len(opt.Initializers) != 2 {
				t.Errorf("optimised graph keeps %d initializers, want 2 (the folded W and B)", len(opt.Initializers))
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestConvBNChain folds every BN of a Conv-BN-Conv-BN chain (the second
// conv reads the first's folded output).
func TestConvBNChain(t *testing.T) {
	b := newBuilder(3)
	b.input("X", N, 3, 8, 8)
	b.conv("conv1", "X", "c1", 3, 4, []int{3, 3}, 1, false, pads2(1))
	b.bn("bn1", "c1", "b1", 4)
	b.conv("conv2", "b1", "c2", 4, 2, []int{3, 3}, 1, true)
	b.bn("bn2", "c2", "Y", 2)
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 2})
	wantRules(t, rep, map[string]int{"ConvBN": 2})
	wantFates(t, rep, "folded:conv1", "folded:conv2")
	sameOutputs(t, b.g, opt)
}

// TestConvBNSharedConvOutput leaves a Conv whose output has a second
// reader alone: folding would change what the other reader sees. The BN
// becomes a standalone Affine instead.
func TestConvBNSharedConvOutput(t *testing.T) {
	b := newBuilder(4)
	b.input("X", N, 2, 5, 5)
	b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true)
	b.bn("bn", "c", "Y", 3)
	b.node("tanh", "Tanh", "c", "Z")
	b.output("Y", "Z")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Tanh": 1, "bnrun.Affine": 1})
	wantRules(t, rep, map[string]int{"BNAffine": 1})
	wantFates(t, rep, "affine")
	sameOutputs(t, b.g, opt)
}

// TestConvBNConvOutputIsGraphOutput leaves a Conv whose output is a graph
// output: the output must keep its value.
func TestConvBNConvOutputIsGraphOutput(t *testing.T) {
	b := newBuilder(5)
	b.input("X", N, 2, 5, 5)
	b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true)
	b.bn("bn", "c", "Y", 3)
	b.output("Y", "c")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "bnrun.Affine": 1})
	if rep.Rules["ConvBN"] != 0 {
		t.Errorf("ConvBN fired %d times on a conv whose output is a graph output", rep.Rules["ConvBN"])
	}
	wantFates(t, rep, "affine")
	sameOutputs(t, b.g, opt)
}

// TestConvBNParamsNotConstant keeps a BN whose scale is a graph input: it
// cannot be folded into anything, nor turned into a constant affine step.
func TestConvBNParamsNotConstant(t *testing.T) {
	b := newBuilder(6)
	b.input("X", N, 2, 5, 5)
	b.input("scale", 3)
	b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true)
	b.randInit("bias", []int{3}, -1, 1)
	b.randInit("mean", []int{3}, -1, 1)
	b.randInit("var", []int{3}, 0.1, 3)
	b.node("bn", "BatchNormalization", "c,scale,bias,mean,var", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "BatchNormalization": 1})
	wantRules(t, rep, map[string]int{})
	wantFates(t, rep, "kept")
	if r := rep.BatchNorms[0].Reason; !strings.Contains(r, "scale") {
		t.Errorf("kept BN reason %q does not name the non-constant parameter", r)
	}
	// The scale input is shared by both graphs; batch sizes vary X only.
	rngIns := randInputs(b.g, b.rng, 2)
	want := run(t, b.g, rngIns)
	got := run(t, opt, rngIns)
	closeTensors(t, "Y", got[0], want[0], relTol, relTol)
}

// TestConvBNTrainingMode keeps a BN with training_mode=1: it does not
// compute a constant affine map.
func TestConvBNTrainingMode(t *testing.T) {
	b := newBuilder(7).setOpset(15)
	b.input("X", N, 2, 5, 5)
	b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true)
	b.bn("bn", "c", "Y", 3, aInt("training_mode", 1))
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "BatchNormalization": 1})
	wantRules(t, rep, map[string]int{})
	wantFates(t, rep, "kept")
	if r := rep.BatchNorms[0].Reason; !strings.Contains(r, "training") {
		t.Errorf("kept BN reason %q does not mention training_mode", r)
	}
	if bn := oneOp(t, opt, "BatchNormalization"); bn.Input(0) != "c" {
		t.Errorf("kept BN reads %q, want c", bn.Input(0))
	}
}

// TestConvBNWeightsNotConstant leaves a Conv whose weights are a graph
// input; the BN still becomes an Affine step.
func TestConvBNWeightsNotConstant(t *testing.T) {
	b := newBuilder(8)
	b.input("X", N, 2, 5, 5)
	b.input("W", 3, 2, 3, 3)
	b.node("conv", "Conv", "X,W", "c")
	b.bn("bn", "c", "Y", 3)
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "bnrun.Affine": 1})
	wantFates(t, rep, "affine")
	ins := randInputs(b.g, b.rng, 2)
	closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], relTol, relTol)
}
