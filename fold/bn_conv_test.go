package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestBNConv folds a BatchNormalization into the unpadded Conv that reads
// it (an input normalisation before the first conv).
func TestBNConv(t *testing.T) {
	cases := []struct {
		name   string
		c, m   int
		kernel []int
		group  int
		bias   bool
		attrs  []*ir.Attr
	}{
		{name: "plain", c: 3, m: 4, kernel: []int{3, 3}, group: 1},
		{name: "bias", c: 3, m: 4, kernel: []int{3, 3}, group: 1, bias: true},
		{name: "explicit_zero_pads_strided", c: 2, m: 3, kernel: []int{3, 3}, group: 1, bias: true,
			attrs: []*ir.Attr{pads2(0), aInts("strides", 2, 2)}},
		{name: "valid_dilated", c: 2, m: 3, kernel: []int{2, 2}, group: 1,
			attrs: []*ir.Attr{aString("auto_pad", "VALID"), aInts("dilations", 2, 2)}},
		{name: "same_1x1", c: 3, m: 5, kernel: []int{1, 1}, group: 1, bias: true,
			attrs: []*ir.Attr{aString("auto_pad", "SAME_UPPER")}},
		{name: "grouped", c: 4, m: 6, kernel: []int{3, 3}, group: 2, bias: true},
		{name: "depthwise", c: 4, m: 8, kernel: []int{3, 3}, group: 4},
		{name: "conv1d", c: 3, m: 2, kernel: []int{3}, group: 1, bias: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(400 + i))
			dims := []int{N, tc.c, 7, 6}
			if len(tc.kernel) == 1 {
				dims = []int{N, tc.c, 9}
			}
			b.input("X", dims...)
			b.bn("bn", "X", "x", tc.c)
			b.conv("conv", "x", "Y", tc.c, tc.m, tc.kernel, tc.group, tc.bias, tc.attrs...)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1})
			wantRules(t, rep, map[string]int{"BNConv": 1})
			wantFates(t, rep, "folded:conv")
			if c := oneOp(t, opt, "Conv"); c.Input(0) != "X" {
				t.Errorf("folded conv reads %q, want X", c.Input(0))
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestBNGemm folds a BatchNormalization over features into the Gemm that
// reads it.
func TestBNGemm(t *testing.T) {
	const k, n = 5, 3
	cases := []struct {
		name   string
		transB bool
		cshape []int
		attrs  []*ir.Attr
	}{
		{name: "transB0", cshape: []int{n}},
		{name: "transB1", transB: true, cshape: []int{n}},
		{name: "transB0_C_1N_alpha_beta", cshape: []int{1, n}, attrs: []*ir.Attr{aFloat("alpha", 0.6), aFloat("beta", -1.7)}},
		{name: "transB1_noC_alpha", transB: true, attrs: []*ir.Attr{aFloat("alpha", 1.9), aFloat("beta", 0.3)}},
		{name: "scalar_C", cshape: []int{1}, attrs: []*ir.Attr{aFloat("beta", 2)}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(450 + i))
			b.input("X", N, k)
			b.bn("bn", "X", "x", k)
			attrs := tc.attrs
			bshape := []int{k, n}
			if tc.transB {
				bshape = []int{n, k}
				attrs = append(attrs, aInt("transB", 1))
			}
			b.randInit("B", bshape, -1, 1)
			ins := "x,B"
			if tc.cshape != nil {
				b.randInit("C", tc.cshape, -1, 1)
				ins += ",C"
			}
			b.node("fc", "Gemm", ins, "Y", attrs...)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Gemm": 1})
			wantRules(t, rep, map[string]int{"BNConv": 1})
			wantFates(t, rep, "folded:fc")
			if g := oneOp(t, opt, "Gemm"); g.Input(0) != "X" {
				t.Errorf("folded Gemm reads %q, want X", g.Input(0))
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestBNConvPadded keeps a BN out of the weights of a padded Conv (the
// padded zeros are zeros of the BN's output, not of its input). The BN
// becomes an Affine step that the Conv applies as it reads its input,
// which is exact: the conv still pads the affine step's output with zeros.
func TestBNConvPadded(t *testing.T) {
	cases := []struct {
		name  string
		group int
		attrs []*ir.Attr
	}{
		{name: "pads", group: 1, attrs: []*ir.Attr{pads2(1)}},
		{name: "asymmetric_pads", group: 1, attrs: []*ir.Attr{aInts("pads", 0, 1, 2, 0)}},
		{name: "same_upper", group: 1, attrs: []*ir.Attr{aString("auto_pad", "SAME_UPPER")}},
		{name: "grouped_pads", group: 2, attrs: []*ir.Attr{pads2(2)}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(500 + i))
			b.input("X", N, 4, 6, 5)
			b.bn("bn", "X", "x", 4)
			b.conv("conv", "x", "Y", 4, 6, []int{3, 3}, tc.group, true, tc.attrs...)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
			wantRules(t, rep, map[string]int{"BNAffine": 1, "AffineConv": 1})
			wantFates(t, rep, "fused-input:conv")
			fc := oneOp(t, opt, "bnrun.FusedConv")
			if fc.Input(0) != "X" || fc.Input(4) == "" || fc.Input(5) == "" {
				t.Errorf("FusedConv inputs %q, want X first and pre_scale, pre_bias", fc.Inputs)
			}
			if opt.Opsets[Domain] != 1 {
				t.Errorf("optimised graph opsets %v lack %s", opt.Opsets, Domain)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestBNConvNegative covers BNs that no rule may fold into the next layer.
func TestBNConvNegative(t *testing.T) {
	t.Run("bn_output_shared", func(t *testing.T) {
		b := newBuilder(520)
		b.input("X", N, 3, 5, 5)
		b.bn("bn", "X", "x", 3)
		b.conv("conv", "x", "Y", 3, 2, []int{3, 3}, 1, true)
		b.node("relu", "Relu", "x", "Z")
		b.output("Y", "Z")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.Affine": 1, "Conv": 1, "Relu": 1})
		wantRules(t, rep, map[string]int{"BNAffine": 1})
		wantFates(t, rep, "affine:bn")
		sameOutputs(t, b.g, opt)
	})
	t.Run("bn_output_is_graph_output", func(t *testing.T) {
		b := newBuilder(521)
		b.input("X", N, 3, 5, 5)
		b.bn("bn", "X", "x", 3)
		b.conv("conv", "x", "Y", 3, 2, []int{3, 3}, 1, true)
		b.output("Y", "x")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.Affine": 1, "Conv": 1})
		wantFates(t, rep, "affine")
		sameOutputs(t, b.g, opt)
	})
	t.Run("gemm_transA", func(t *testing.T) {
		// BN over axis 1 of A, which transA=1 makes the rows of A'.
		b := newBuilder(522)
		b.input("X", 4, 3)
		b.bn("bn", "X", "x", 3)
		b.randInit("B", []int{4, 2}, -1, 1)
		b.node("fc", "Gemm", "x,B", "Y", aInt("transA", 1))
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.Affine": 1, "Gemm": 1})
		wantFates(t, rep, "affine")
		sameOutputs(t, b.g, opt, 1)
	})
	t.Run("gemm_C_per_row", func(t *testing.T) {
		b := newBuilder(523)
		b.input("X", 2, 3)
		b.bn("bn", "X", "x", 3)
		b.randInit("B", []int{3, 4}, -1, 1)
		b.randInit("C", []int{2, 4}, -1, 1)
		b.node("fc", "Gemm", "x,B,C", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		if rep.Rules["BNConv"] != 0 {
			t.Errorf("BNConv fired on a Gemm with a per-row C")
		}
		sameOutputs(t, b.g, opt, 1)
	})
	t.Run("bn_as_conv_weight_reader", func(t *testing.T) {
		// The Conv reads the BN output as something other than X.
		b := newBuilder(524)
		b.input("X", N, 2, 5, 5)
		b.input("Wraw", 3, 2, 3, 3)
		b.bn("bn", "Wraw", "W", 2)
		b.node("conv", "Conv", "X,W", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.Affine": 1, "Conv": 1})
		wantFates(t, rep, "affine")
		ins := randInputs(b.g, b.rng, 2)
		closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], relTol, relTol)
	})
}
