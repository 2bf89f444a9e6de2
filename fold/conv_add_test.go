package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/runtime"
)

// resBlock builds a ResNet basic block on X [N,4,6,6]: conv-BN-Relu-conv-BN,
// plus the input, then Relu. add gives the Add's inputs ("b2,X" or "X,b2").
func resBlock(b *builder, add string) {
	b.input("X", N, 4, 6, 6)
	b.conv("conv1", "X", "c1", 4, 4, []int{3, 3}, 1, false, pads2(1))
	b.bn("bn1", "c1", "b1", 4)
	b.node("relu1", "Relu", "b1", "r1")
	b.conv("conv2", "r1", "c2", 4, 4, []int{3, 3}, 1, false, pads2(1))
	b.bn("bn2", "c2", "b2", 4)
	b.node("add", "Add", add, "s")
	b.node("relu2", "Relu", "s", "Y")
	b.output("Y")
}

// TestConvAddResNetBlock folds a ResNet block into two FusedConvs, the
// second with the block's input as its residual and the final Relu.
func TestConvAddResNetBlock(t *testing.T) {
	for i, add := range []string{"b2,X", "X,b2"} {
		t.Run(add, func(t *testing.T) {
			b := newBuilder(uint64(700 + i))
			resBlock(b, add)
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsBefore, map[string]int{"Conv": 2, "BatchNormalization": 2, "Relu": 2, "Add": 1})
			wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 2})
			wantRules(t, rep, map[string]int{"ConvBN": 2, "ConvAdd": 1, "ConvAct": 2})
			wantFates(t, rep, "folded:conv1", "folded:conv2")
			for _, n := range opt.Nodes {
				wantAttr(t, n, "activation", "Relu")
				if n.Name == "conv2" {
					if n.Input(3) != "X" || n.Outputs[0] != "Y" {
						t.Errorf("conv2 inputs %q outputs %q, want residual X and output Y", n.Inputs, n.Outputs)
					}
				} else if n.Input(3) != "" {
					t.Errorf("conv1 has a residual %q", n.Input(3))
				}
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestConvAddProjection folds a downsampling block whose shortcut is a
// strided 1x1 conv: one branch takes the other as its residual.
func TestConvAddProjection(t *testing.T) {
	b := newBuilder(710)
	b.input("X", N, 3, 8, 8)
	b.conv("convA", "X", "a", 3, 6, []int{3, 3}, 1, false, pads2(1), aInts("strides", 2, 2))
	b.bn("bnA", "a", "ba", 6)
	b.conv("convS", "X", "s", 3, 6, []int{1, 1}, 1, false, aInts("strides", 2, 2))
	b.bn("bnS", "s", "bs", 6)
	b.node("add", "Add", "ba,bs", "sum")
	b.node("relu", "Relu", "sum", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1, "Conv": 1})
	wantRules(t, rep, map[string]int{"ConvBN": 2, "ConvAdd": 1, "ConvAct": 1})
	fc := oneOp(t, opt, "bnrun.FusedConv")
	if fc.Input(3) == "" || fc.Outputs[0] != "Y" {
		t.Errorf("FusedConv inputs %q outputs %q, want a residual and output Y", fc.Inputs, fc.Outputs)
	}
	wantAttr(t, fc, "activation", "Relu")
	sameOutputs(t, b.g, opt)
}

// TestConvAddPreActivation folds a pre-activation block (BN-Relu before a
// padded conv, plus the input) into one FusedConv with pre_scale,
// pre_bias, pre_activation and residual.
func TestConvAddPreActivation(t *testing.T) {
	b := newBuilder(720)
	b.input("X", N, 4, 5, 5)
	b.bn("bn", "X", "x", 4)
	b.node("relu", "Relu", "x", "r")
	b.conv("conv", "r", "c", 4, 4, []int{3, 3}, 1, true, pads2(1))
	b.node("add", "Add", "c,X", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
	wantRules(t, rep, map[string]int{"BNAffine": 1, "AffineAct": 1, "AffineConv": 1, "ConvAdd": 1})
	wantFates(t, rep, "fused-input:conv")
	fc := oneOp(t, opt, "bnrun.FusedConv")
	if fc.Input(0) != "X" || fc.Input(3) != "X" || fc.Input(4) == "" || fc.Outputs[0] != "Y" {
		t.Errorf("FusedConv inputs %q outputs %q", fc.Inputs, fc.Outputs)
	}
	wantAttr(t, fc, "pre_activation", "Relu")
	wantAttr(t, fc, "activation", "")
	sameOutputs(t, b.g, opt)
}

// TestConvAddNegative leaves Adds that are not a same-shaped residual.
func TestConvAddNegative(t *testing.T) {
	cases := []struct {
		name  string
		spat  int   // input spatial size (the conv keeps it)
		zdims []int // the other addend, a graph input when zin
		zin   bool
		add   string
	}{
		{name: "broadcast_1M11", spat: 5, zdims: []int{1, 3, 1, 1}},
		{name: "broadcast_M11", spat: 5, zdims: []int{3, 1, 1}},
		{name: "broadcast_M11_input", spat: 5, zdims: []int{3, 1, 1}, zin: true},
		// At batch 1 the conv's [N,3,1,1] output has the addend's shape;
		// at other batch sizes the addend broadcasts.
		{name: "batch_broadcast_1x1", spat: 1, zdims: []int{1, 3, 1, 1}, zin: true},
		{name: "add_self", spat: 5, add: "c,c"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(730 + i))
			b.input("X", N, 2, tc.spat, tc.spat)
			if tc.zin {
				b.input("Z", tc.zdims...)
			} else if tc.zdims != nil {
				b.randInit("Z", tc.zdims, -1, 1)
			}
			b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true, pads2(1))
			add := tc.add
			if add == "" {
				add = "c,Z"
			}
			b.node("add", "Add", add, "s")
			b.node("relu", "Relu", "s", "Y")
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Add": 1, "Relu": 1})
			wantRules(t, rep, map[string]int{})
			sameOutputs(t, b.g, opt)
		})
	}
	t.Run("act_before_add", func(t *testing.T) {
		// Conv -> Relu -> Add: the Relu fuses, the Add stays (act-then-add
		// is not add-then-act).
		b := newBuilder(740)
		b.input("X", N, 3, 5, 5)
		b.conv("conv", "X", "c", 3, 3, []int{3, 3}, 1, true, pads2(1))
		b.node("relu", "Relu", "c", "r")
		b.node("add", "Add", "r,X", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1, "Add": 1})
		wantRules(t, rep, map[string]int{"ConvAct": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("conv_output_shared", func(t *testing.T) {
		b := newBuilder(741)
		b.input("X", N, 3, 5, 5)
		b.conv("conv", "X", "c", 3, 3, []int{3, 3}, 1, true, pads2(1))
		b.node("add", "Add", "c,X", "Y")
		b.node("tanh", "Tanh", "c", "T")
		b.output("Y", "T")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Add": 1, "Tanh": 1})
		wantRules(t, rep, map[string]int{})
		sameOutputs(t, b.g, opt)
	})
}

// TestConvAddIndependentSymbolicDims leaves an Add whose addend has dims
// that are symbolic independently of the conv output's: conv output
// [N,3,H,W] and addend [N,3,?,?] agree when every dynamic dim has one size,
// but the addend may be [N,3,1,1] and broadcast. The shape probes must
// give independent dims different sizes.
func TestConvAddIndependentSymbolicDims(t *testing.T) {
	for i, zdims := range [][]ir.Dim{
		{sym("N"), fixed(3), sym(""), sym("")},
		{sym("N"), fixed(3), sym("A"), sym("B")},
	} {
		t.Run(runtime.DimsString(zdims), func(t *testing.T) {
			b := newBuilder(uint64(750 + i))
			b.inputDims("X", sym("N"), fixed(2), sym("H"), sym("W"))
			b.inputDims("Z", zdims...)
			b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true, pads2(1))
			b.node("add", "Add", "c,Z", "Y")
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Add": 1})
			for _, zshape := range [][]int{{2, 3, 1, 1}, {2, 3, 5, 1}, {2, 3, 5, 4}} {
				ins := []*ir.Tensor{
					ir.NewF32([]int{2, 2, 5, 4}, b.uniform(80, -1, 1)),
					ir.NewF32(zshape, b.uniform(ir.NumElems(zshape), -1, 1)),
				}
				closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], relTol, relTol)
			}
		})
	}
}

// TestConvAddSharedSymbolicDims fuses the residual when the addend's
// dynamic dims are named as the conv input's.
func TestConvAddSharedSymbolicDims(t *testing.T) {
	b := newBuilder(760)
	b.inputDims("X", sym("N"), fixed(2), sym("H"), sym("W"))
	b.inputDims("Z", sym("N"), fixed(3), sym("H"), sym("W"))
	b.conv("conv", "X", "c", 2, 3, []int{3, 3}, 1, true, pads2(1))
	b.node("add", "Add", "c,Z", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
	wantRules(t, rep, map[string]int{"ConvAdd": 1})
	for _, hw := range [][2]int{{5, 4}, {1, 7}} {
		ins := []*ir.Tensor{
			ir.NewF32([]int{2, 2, hw[0], hw[1]}, b.uniform(4*hw[0]*hw[1], -1, 1)),
			ir.NewF32([]int{2, 3, hw[0], hw[1]}, b.uniform(6*hw[0]*hw[1], -1, 1)),
		}
		closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], relTol, relTol)
	}
}
