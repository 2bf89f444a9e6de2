package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestGemmBN folds a BatchNormalization over features into the Gemm before
// it, for every layout of B, alpha and beta, and every bias shape the rule
// accepts.
func TestGemmBN(t *testing.T) {
	const k, n = 5, 4
	cases := []struct {
		name   string
		xdims  []int // A's declared dims
		transB bool
		cshape []int // nil: no C
		attrs  []*ir.Attr
	}{
		{name: "transB0_C_N", xdims: []int{N, k}, cshape: []int{n}},
		{name: "transB1_C_1N", xdims: []int{N, k}, transB: true, cshape: []int{1, n}},
		{name: "alpha_beta_C_N", xdims: []int{N, k}, cshape: []int{n},
			attrs: []*ir.Attr{aFloat("alpha", 0.7), aFloat("beta", 1.3)}},
		{name: "alpha_beta_transB1_C_1N", xdims: []int{N, k}, transB: true, cshape: []int{1, n},
			attrs: []*ir.Attr{aFloat("alpha", -1.5), aFloat("beta", 0.25)}},
		{name: "no_C", xdims: []int{N, k}},
		{name: "no_C_transB1_alpha", xdims: []int{N, k}, transB: true, attrs: []*ir.Attr{aFloat("alpha", 2.5)}},
		{name: "scalar_C", xdims: []int{N, k}, cshape: []int{}, attrs: []*ir.Attr{aFloat("beta", -0.5)}},
		{name: "C_11", xdims: []int{N, k}, transB: true, cshape: []int{1, 1}},
		{name: "transA", xdims: []int{k, N}, cshape: []int{n}, attrs: []*ir.Attr{aInt("transA", 1)}},
		{name: "fixed_batch_C_MN", xdims: []int{3, k}, cshape: []int{3, n}, attrs: []*ir.Attr{aFloat("beta", 0.5)}},
		{name: "fixed_batch_C_M1", xdims: []int{3, k}, transB: true, cshape: []int{3, 1}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(200 + i))
			b.input("X", tc.xdims...)
			bshape := []int{k, n}
			attrs := tc.attrs
			if tc.transB {
				bshape = []int{n, k}
				attrs = append(attrs, aInt("transB", 1))
			}
			b.randInit("B", bshape, -1, 1)
			ins := "X,B"
			if tc.cshape != nil {
				b.randInit("C", tc.cshape, -1, 1)
				ins += ",C"
			}
			b.node("fc", "Gemm", ins, "g", attrs...)
			b.bn("bn", "g", "Y", n)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Gemm": 1})
			wantRules(t, rep, map[string]int{"GemmBN": 1})
			wantFates(t, rep, "folded:fc")
			gemm := oneOp(t, opt, "Gemm")
			for _, a := range []string{"alpha", "beta"} {
				if v, _ := gemm.Float(a, 1); v != 1 {
					t.Errorf("folded Gemm has %s = %g, want 1", a, v)
				}
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestMatMulBN folds a BN after a MatMul, with or without a bias Add in
// between, into one Gemm.
func TestMatMulBN(t *testing.T) {
	const k, n = 6, 3
	cases := []struct {
		name string
		add  string // the Add's inputs, "" for no Add
		bias []int
	}{
		{name: "matmul"},
		{name: "matmul_add_N", add: "m,bias", bias: []int{n}},
		{name: "matmul_add_1N_swapped", add: "bias,m", bias: []int{1, n}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(300 + i))
			b.input("X", N, k)
			b.randInit("B", []int{k, n}, -1, 1)
			b.node("mm", "MatMul", "X,B", "m")
			x := "m"
			want := map[string]int{"MatMul": 1, "BatchNormalization": 1}
			if tc.add != "" {
				b.randInit("bias", tc.bias, -1, 1)
				b.node("add", "Add", tc.add, "a")
				x = "a"
				want["Add"] = 1
			}
			b.bn("bn", x, "Y", n)
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsBefore, want)
			wantOps(t, rep.OpsAfter, map[string]int{"Gemm": 1})
			wantRules(t, rep, map[string]int{"GemmBN": 1})
			wantFates(t, rep, "folded:mm")
			if g := oneOp(t, opt, "Gemm"); g.Input(0) != "X" || g.Outputs[0] != "Y" || len(g.Inputs) != 3 {
				t.Errorf("Gemm reads %q writes %q, want X, B', C' -> Y", g.Inputs, g.Outputs)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestGemmBNRelu checks that the Gemm made by GemmBN takes the Relu after
// the BN too.
func TestGemmBNRelu(t *testing.T) {
	b := newBuilder(310)
	b.input("X", N, 4)
	b.randInit("B", []int{4, 3}, -1, 1)
	b.randInit("bias", []int{3}, -1, 1)
	b.node("mm", "MatMul", "X,B", "m")
	b.node("add", "Add", "m,bias", "a")
	b.bn("bn", "a", "r", 3)
	b.node("relu", "Relu", "r", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedGemm": 1})
	wantRules(t, rep, map[string]int{"GemmBN": 1, "GemmAct": 1})
	sameOutputs(t, b.g, opt)
}

// TestGemmBNNegative leaves the graph's linear layers alone where folding
// would be wrong; the BN becomes an Affine step instead.
func TestGemmBNNegative(t *testing.T) {
	t.Run("gemm_output_shared", func(t *testing.T) {
		b := newBuilder(320)
		b.input("X", N, 4)
		b.randInit("B", []int{4, 3}, -1, 1)
		b.node("fc", "Gemm", "X,B", "g")
		b.bn("bn", "g", "Y", 3)
		b.node("sig", "Sigmoid", "g", "Z")
		b.output("Y", "Z")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Gemm": 1, "Sigmoid": 1, "bnrun.Affine": 1})
		wantFates(t, rep, "affine")
		sameOutputs(t, b.g, opt)
	})
	t.Run("matmul_output_shared_with_add", func(t *testing.T) {
		b := newBuilder(321)
		b.input("X", N, 4)
		b.randInit("B", []int{4, 3}, -1, 1)
		b.randInit("bias", []int{3}, -1, 1)
		b.node("mm", "MatMul", "X,B", "m")
		b.node("add", "Add", "m,bias", "a")
		b.bn("bn", "a", "Y", 3)
		b.output("Y", "m")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"MatMul": 1, "Add": 1, "bnrun.Affine": 1})
		wantFates(t, rep, "affine")
		sameOutputs(t, b.g, opt)
	})
	t.Run("matmul_rank3", func(t *testing.T) {
		// The BN normalises axis 1 of a [N,T,n] product (T = n here), not
		// the features: folding into B's columns would be wrong.
		b := newBuilder(322)
		b.input("X", N, 3, 5)
		b.randInit("B", []int{5, 3}, -1, 1)
		b.node("mm", "MatMul", "X,B", "m")
		b.bn("bn", "m", "Y", 3)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"MatMul": 1, "bnrun.Affine": 1})
		wantFates(t, rep, "affine")
		sameOutputs(t, b.g, opt)
	})
	t.Run("bias_per_row", func(t *testing.T) {
		// A bias of shape [M,n] differs per row; the rule takes only row
		// broadcasts after a MatMul.
		b := newBuilder(323)
		b.input("X", 2, 4)
		b.randInit("B", []int{4, 3}, -1, 1)
		b.randInit("bias", []int{2, 3}, -1, 1)
		b.node("mm", "MatMul", "X,B", "m")
		b.node("add", "Add", "m,bias", "a")
		b.bn("bn", "a", "Y", 3)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"MatMul": 1, "Add": 1, "bnrun.Affine": 1})
		wantFates(t, rep, "affine")
		sameOutputs(t, b.g, opt, 2)
	})
	t.Run("B_not_constant", func(t *testing.T) {
		b := newBuilder(324)
		b.input("X", N, 4)
		b.input("B", 4, 3)
		b.node("fc", "Gemm", "X,B", "g")
		b.bn("bn", "g", "Y", 3)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Gemm": 1, "bnrun.Affine": 1})
		wantFates(t, rep, "affine")
		ins := randInputs(b.g, b.rng, 2)
		closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], relTol, relTol)
	})
}
