package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// concatBN builds X1, X2 -> Concat -> BN (named bnName) -> "x": a BN no
// folding rule can remove, as in DenseNet. The two inputs have 2 and 3
// channels.
func concatBN(b *builder, bnName string) {
	b.input("X1", N, 2, 5, 4)
	b.input("X2", N, 3, 5, 4)
	b.node("cat", "Concat", "X1,X2", "cat", aInt("axis", 1))
	b.bn(bnName, "cat", "x", 5)
}

// TestBNAffine turns a BN after a Concat into one bnrun.Affine.
func TestBNAffine(t *testing.T) {
	b := newBuilder(600)
	concatBN(b, "bn")
	b.output("x")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1})
	wantRules(t, rep, map[string]int{"BNAffine": 1})
	wantFates(t, rep, "affine:bn")
	aff := oneOp(t, opt, "bnrun.Affine")
	if aff.Input(0) != "cat" || len(aff.Inputs) != 3 || aff.Outputs[0] != "x" || len(aff.Attrs) != 0 {
		t.Errorf("Affine %q -> %q attrs %v, want cat, a, b -> x and no attributes", aff.Inputs, aff.Outputs, aff.Attrs)
	}
	if opt.Opsets[Domain] != 1 {
		t.Errorf("optimised opsets %v lack %s", opt.Opsets, Domain)
	}
	if _, ok := b.g.Opsets[Domain]; ok {
		t.Errorf("input graph's opsets were given %s", Domain)
	}
	sameOutputs(t, b.g, opt)
}

// TestBNAffineRank2 turns a BN over features of a rank-2 tensor that no
// layer follows into an Affine step.
func TestBNAffineRank2(t *testing.T) {
	b := newBuilder(601)
	b.input("X", N, 4)
	b.bn("bn", "X", "Y", 4)
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.Affine": 1})
	wantFates(t, rep, "affine")
	sameOutputs(t, b.g, opt)
}

// TestAffineAct fuses the activation after an Affine step into it, in each
// form the activation takes.
func TestAffineAct(t *testing.T) {
	cases := []struct {
		name  string
		opset int
		act   string
		ins   string // the activation's inputs after x
		attrs []*ir.Attr
		want  map[string]string // expected string attributes
		wantF map[string]float32
	}{
		{name: "relu", opset: 13, act: "Relu"},
		{name: "sigmoid", opset: 13, act: "Sigmoid"},
		{name: "tanh", opset: 13, act: "Tanh"},
		{name: "leaky", opset: 13, act: "LeakyRelu", attrs: []*ir.Attr{aFloat("alpha", 0.2)},
			wantF: map[string]float32{"activation_alpha": 0.2}},
		{name: "leaky_default", opset: 13, act: "LeakyRelu", wantF: map[string]float32{"activation_alpha": 0.01}},
		{name: "clip_inputs", opset: 13, act: "Clip", ins: ",lo,hi",
			wantF: map[string]float32{"clip_min": -0.5, "clip_max": 0.75}},
		{name: "clip_max_only", opset: 13, act: "Clip", ins: ",,hi", wantF: map[string]float32{"clip_max": 0.75}},
		{name: "clip_opset9_attrs", opset: 9, act: "Clip", attrs: []*ir.Attr{aFloat("min", -0.25), aFloat("max", 1)},
			wantF: map[string]float32{"clip_min": -0.25, "clip_max": 1}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(610 + i)).setOpset(tc.opset)
			concatBN(b, "bn")
			b.init("lo", []int{}, -0.5)
			b.init("hi", []int{}, 0.75)
			b.node("act", tc.act, "x"+tc.ins, "Y", tc.attrs...)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1})
			wantRules(t, rep, map[string]int{"BNAffine": 1, "AffineAct": 1})
			wantFates(t, rep, "affine:bn")
			aff := oneOp(t, opt, "bnrun.Affine")
			wantAttr(t, aff, "activation", tc.act)
			for name, v := range tc.wantF {
				if got, _ := aff.Float(name, -99); got != v {
					t.Errorf("attribute %s = %g, want %g", name, got, v)
				}
			}
			if aff.Outputs[0] != "Y" {
				t.Errorf("Affine writes %q, want Y", aff.Outputs[0])
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestAffineActNegative leaves activations that cannot be fused.
func TestAffineActNegative(t *testing.T) {
	t.Run("clip_min_not_constant", func(t *testing.T) {
		b := newBuilder(630)
		concatBN(b, "bn")
		b.input("lo")
		b.init("hi", []int{}, 0.75)
		b.node("clip", "Clip", "x,lo,hi", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "Clip": 1})
		wantRules(t, rep, map[string]int{"BNAffine": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("affine_output_shared", func(t *testing.T) {
		b := newBuilder(631)
		concatBN(b, "bn")
		b.node("relu", "Relu", "x", "Y")
		b.node("sig", "Sigmoid", "x", "Z")
		b.output("Y", "Z")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "Relu": 1, "Sigmoid": 1})
		wantRules(t, rep, map[string]int{"BNAffine": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("affine_output_is_graph_output", func(t *testing.T) {
		b := newBuilder(632)
		concatBN(b, "bn")
		b.node("relu", "Relu", "x", "Y")
		b.output("Y", "x")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "Relu": 1})
		sameOutputs(t, b.g, opt)
	})
}

// TestAffineConv hands an Affine step (with or without a Relu) that only a
// padded Conv reads to the Conv, as pre_scale and pre_bias.
func TestAffineConv(t *testing.T) {
	for i, relu := range []bool{false, true} {
		name := "plain"
		if relu {
			name = "relu"
		}
		t.Run(name, func(t *testing.T) {
			b := newBuilder(uint64(640 + i))
			concatBN(b, "bn")
			x := "x"
			if relu {
				b.node("relu", "Relu", "x", "r")
				x = "r"
			}
			b.conv("conv", x, "Y", 5, 4, []int{3, 3}, 1, true, pads2(1))
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.FusedConv": 1})
			rules := map[string]int{"BNAffine": 1, "AffineConv": 1}
			if relu {
				rules["AffineAct"] = 1
			}
			wantRules(t, rep, rules)
			wantFates(t, rep, "fused-input:conv")
			fc := oneOp(t, opt, "bnrun.FusedConv")
			if fc.Input(0) != "cat" || fc.Input(3) != "" || fc.Input(4) == "" || fc.Input(5) == "" {
				t.Errorf("FusedConv inputs %q, want cat, W, B, no Z, pre_scale, pre_bias", fc.Inputs)
			}
			want := ""
			if relu {
				want = "Relu"
			}
			wantAttr(t, fc, "pre_activation", want)
			wantAttr(t, fc, "activation", "")
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestAffineConvUnnamedBN checks the report for a BN without a node name
// whose Affine step takes a Relu and is then fused into a Conv: the
// Affine's label changes with its output when the Relu is fused, and the
// fate must still follow it into the Conv.
func TestAffineConvUnnamedBN(t *testing.T) {
	b := newBuilder(650)
	concatBN(b, "")
	b.node("", "Relu", "x", "r")
	b.conv("conv", "r", "Y", 5, 4, []int{3, 3}, 1, true, pads2(1))
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.FusedConv": 1})
	wantFates(t, rep, "fused-input:conv")
	if len(rep.BatchNorms) == 1 && rep.BatchNorms[0].Node != "->x" {
		t.Errorf("unnamed BN reported as %q, want ->x", rep.BatchNorms[0].Node)
	}
	sameOutputs(t, b.g, opt)
}

// TestAffineConvNegative leaves an Affine step that the Conv cannot apply
// as it reads: one with an activation other than Relu, or one the Conv
// reads as its weights.
func TestAffineConvNegative(t *testing.T) {
	t.Run("sigmoid", func(t *testing.T) {
		b := newBuilder(660)
		concatBN(b, "bn")
		b.node("sig", "Sigmoid", "x", "s")
		b.conv("conv", "s", "Y", 5, 4, []int{3, 3}, 1, true, pads2(1))
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "Conv": 1})
		wantRules(t, rep, map[string]int{"BNAffine": 1, "AffineAct": 1})
		wantFates(t, rep, "affine:bn")
		sameOutputs(t, b.g, opt)
	})
	t.Run("affine_shared", func(t *testing.T) {
		b := newBuilder(661)
		concatBN(b, "bn")
		b.conv("conv", "x", "Y", 5, 4, []int{3, 3}, 1, true, pads2(1))
		b.output("Y", "x")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "Conv": 1})
		wantFates(t, rep, "affine:bn")
		sameOutputs(t, b.g, opt)
	})
}

// TestBNAffineRank1 keeps a one-channel BN over a 1-D input (N values of
// one channel): bnrun.Affine needs channels on axis 1. A one-channel BN
// over a 4-D input still becomes an Affine step.
func TestBNAffineRank1(t *testing.T) {
	b := newBuilder(670)
	b.input("X", N)
	b.bn("bn", "X", "Y", 1)
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"BatchNormalization": 1})
	wantFates(t, rep, "kept")
	sameOutputs(t, b.g, opt)

	b = newBuilder(671)
	b.input("X", N, 1, 3, 3)
	b.bn("bn", "X", "Y", 1)
	b.output("Y")
	opt, rep = optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.Affine": 1})
	wantFates(t, rep, "affine")
	sameOutputs(t, b.g, opt)
}

// TestAffinePool hands the affine step (and its Relu) that only an
// AveragePool reads to the pool, as in DenseNet's transitions once the
// pool is before the 1×1 Conv: one pool node reading the Concat, the
// BN's fate fused-input into it, the outputs the unfused graph's; with a
// padded pool and count_include_pad too.
func TestAffinePool(t *testing.T) {
	for i, tc := range []struct {
		name  string
		relu  bool
		attrs []*ir.Attr
	}{
		{"relu", true, []*ir.Attr{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}},
		{"plain", false, []*ir.Attr{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}},
		{"padded", true, []*ir.Attr{aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1), aInt("count_include_pad", 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(670 + i))
			concatBN(b, "bn")
			x := "x"
			if tc.relu {
				b.node("relu", "Relu", "x", "r")
				x = "r"
			}
			b.node("pool", "AveragePool", x, "Y", tc.attrs...)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.AffineAveragePool": 1})
			rules := map[string]int{"BNAffine": 1, "AffinePool": 1}
			if tc.relu {
				rules["AffineAct"] = 1
			}
			wantRules(t, rep, rules)
			wantFates(t, rep, "fused-input:pool")
			p := oneOp(t, opt, "bnrun.AffineAveragePool")
			if p.Input(0) != "cat" || len(p.Inputs) != 3 || p.Outputs[0] != "Y" {
				t.Errorf("AffineAveragePool %q -> %q, want cat, pre_scale, pre_bias -> Y", p.Inputs, p.Outputs)
			}
			want := ""
			if tc.relu {
				want = "Relu"
			}
			wantAttr(t, p, "pre_activation", want)
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestAffinePoolNegative leaves the affine step alone before a MaxPool,
// with an activation other than Relu, and when another node reads it too.
func TestAffinePoolNegative(t *testing.T) {
	pool2 := []*ir.Attr{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}
	t.Run("maxpool", func(t *testing.T) {
		b := newBuilder(680)
		concatBN(b, "bn")
		b.node("pool", "MaxPool", "x", "Y", pool2...)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "MaxPool": 1})
		wantFates(t, rep, "affine:bn")
		sameOutputs(t, b.g, opt)
	})
	t.Run("sigmoid", func(t *testing.T) {
		b := newBuilder(681)
		concatBN(b, "bn")
		b.node("sig", "Sigmoid", "x", "s")
		b.node("pool", "AveragePool", "s", "Y", pool2...)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "AveragePool": 1})
		wantFates(t, rep, "affine:bn")
		sameOutputs(t, b.g, opt)
	})
	t.Run("affine_shared", func(t *testing.T) {
		b := newBuilder(682)
		concatBN(b, "bn")
		b.node("pool", "AveragePool", "x", "Y", pool2...)
		b.output("Y", "x")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.Affine": 1, "AveragePool": 1})
		wantFates(t, rep, "affine:bn")
		sameOutputs(t, b.g, opt)
	})
}
