package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestIdentityElim removes Identity nodes and inference Dropouts of every
// opset form, rewiring their readers.
func TestIdentityElim(t *testing.T) {
	cases := []struct {
		name    string
		opset   int
		dropout string // the Dropout's inputs
		outs    string // the Dropout's outputs
	}{
		{name: "dropout_opset10", opset: 10, dropout: "s", outs: "d"},
		{name: "dropout_opset10_unused_mask", opset: 10, dropout: "s", outs: "d,mask"},
		{name: "dropout_opset12_ratio", opset: 12, dropout: "s,ratio", outs: "d"},
		{name: "dropout_opset13_training_false", opset: 13, dropout: "s,ratio,tm0", outs: "d"},
		{name: "dropout_opset13_no_ratio_training_false", opset: 13, dropout: "s,,tm0", outs: "d"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(900 + i)).setOpset(tc.opset)
			b.input("X", N, 3, 4)
			b.init("ratio", []int{}, 0.3)
			b.initI64("tm0", []int{}, 0)
			b.node("id1", "Identity", "X", "i")
			b.node("sig", "Sigmoid", "i", "s")
			b.node("drop", "Dropout", tc.dropout, tc.outs)
			b.node("id2", "Identity", "d", "e")
			b.node("tanh", "Tanh", "e", "Y")
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Sigmoid": 1, "Tanh": 1})
			wantRules(t, rep, map[string]int{"IdentityElim": 3})
			if s := oneOp(t, opt, "Sigmoid"); s.Input(0) != "X" {
				t.Errorf("Sigmoid reads %q, want X", s.Input(0))
			}
			if th := oneOp(t, opt, "Tanh"); th.Input(0) != "s" {
				t.Errorf("Tanh reads %q, want s", th.Input(0))
			}
			for name := range opt.Initializers {
				t.Errorf("unread initializer %q kept", name)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestIdentityElimEnablesConvBN removes an Identity between a Conv and its
// BN so that the BN folds.
func TestIdentityElimEnablesConvBN(t *testing.T) {
	b := newBuilder(910)
	b.input("X", N, 2, 5, 5)
	b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true)
	b.node("id", "Identity", "c", "i")
	b.bn("bn", "i", "Y", 3)
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1})
	wantRules(t, rep, map[string]int{"IdentityElim": 1, "ConvBN": 1})
	wantFates(t, rep, "folded:conv")
	sameOutputs(t, b.g, opt)
}

// TestIdentityElimKeeps leaves the nodes that are not an identity at
// inference, or whose output is a graph output.
func TestIdentityElimKeeps(t *testing.T) {
	t.Run("identity_graph_output", func(t *testing.T) {
		b := newBuilder(920)
		b.input("X", N, 3)
		b.node("relu", "Relu", "X", "r")
		b.node("id", "Identity", "r", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Relu": 1, "Identity": 1})
		wantRules(t, rep, map[string]int{})
		if id := oneOp(t, opt, "Identity"); id.Outputs[0] != "Y" {
			t.Errorf("Identity writes %q, want Y", id.Outputs[0])
		}
		sameOutputs(t, b.g, opt)
	})
	t.Run("dropout_training_true", func(t *testing.T) {
		b := newBuilder(921)
		b.input("X", N, 3)
		b.init("ratio", []int{}, 0)
		b.initI64("tm1", []int{}, 1)
		b.node("drop", "Dropout", "X,ratio,tm1", "d")
		b.node("relu", "Relu", "d", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Dropout": 1, "Relu": 1})
		wantRules(t, rep, map[string]int{})
		sameOutputs(t, b.g, opt)
	})
	t.Run("dropout_training_float_true", func(t *testing.T) {
		b := newBuilder(922)
		b.input("X", N, 3)
		b.init("tm1", []int{}, 1)
		b.node("drop", "Dropout", "X,,tm1", "d")
		b.node("relu", "Relu", "d", "Y")
		b.output("Y")
		_, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Dropout": 1, "Relu": 1})
	})
	t.Run("dropout_training_input", func(t *testing.T) {
		b := newBuilder(923)
		b.input("X", N, 3)
		b.g.Inputs = append(b.g.Inputs, ir.ValueInfo{Name: "tm", DType: ir.Int64, Dims: []ir.Dim{}})
		b.init("ratio", []int{}, 0)
		b.node("drop", "Dropout", "X,ratio,tm", "d")
		b.node("relu", "Relu", "d", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Dropout": 1, "Relu": 1})
		wantRules(t, rep, map[string]int{})
		x := ir.NewF32([]int{2, 3}, []float32{-1, 2, -3, 4, -5, 6})
		for _, tm := range []int64{0, 1} {
			ins := []*ir.Tensor{x, ir.NewI64([]int{}, []int64{tm})}
			closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], 0, 0)
		}
	})
	t.Run("dropout_mask_used", func(t *testing.T) {
		b := newBuilder(924).setOpset(12)
		b.input("X", N, 3)
		b.node("drop", "Dropout", "X", "d,mask")
		b.node("relu", "Relu", "d", "Y")
		b.output("Y", "mask")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Dropout": 1, "Relu": 1})
		wantRules(t, rep, map[string]int{})
		sameOutputs(t, b.g, opt)
	})
}
