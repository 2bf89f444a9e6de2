package fold

import "testing"

// TestFold3D runs the fold rules on 3-D convolutions (5-D tensors), as
// video nets have them, and checks that the optimised graph computes what
// the original does: a BN folded into the Conv before it and into the
// unpadded Conv after it, a residual block whose Add and Relus go into the
// convs' epilogues, a pre-activation BN and Relu into a padded Conv's
// prologue, and a depthwise Conv between pointwise ones, which stays three
// convs (the one-pass block is 2-D only).
func TestFold3D(t *testing.T) {
	pads3 := aInts("pads", 1, 1, 1, 1, 1, 1)
	t.Run("conv_bn", func(t *testing.T) {
		b := newBuilder(900)
		b.input("X", N, 3, 4, 6, 5)
		b.conv("conv", "X", "c", 3, 6, []int{3, 3, 3}, 3, true, pads3, aInts("strides", 1, 2, 2))
		b.bn("bn", "c", "Y", 6)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1})
		wantRules(t, rep, map[string]int{"ConvBN": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("bn_conv", func(t *testing.T) {
		b := newBuilder(901)
		b.input("X", N, 3, 5, 6, 5)
		b.bn("bn", "X", "x", 3)
		b.conv("conv", "x", "Y", 3, 4, []int{2, 3, 3}, 1, true)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1})
		wantRules(t, rep, map[string]int{"BNConv": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("residual", func(t *testing.T) {
		b := newBuilder(902)
		b.input("X", N, 4, 3, 5, 6)
		b.conv("conv1", "X", "c1", 4, 4, []int{3, 3, 3}, 1, false, pads3)
		b.bn("bn1", "c1", "b1", 4)
		b.node("relu1", "Relu", "b1", "r1")
		b.conv("conv2", "r1", "c2", 4, 4, []int{1, 3, 3}, 1, false, aInts("pads", 0, 1, 1, 0, 1, 1))
		b.bn("bn2", "c2", "b2", 4)
		b.node("add", "Add", "b2,X", "s")
		b.node("relu2", "Relu", "s", "Y")
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 2})
		sameOutputs(t, b.g, opt)
	})
	t.Run("preactivation", func(t *testing.T) {
		b := newBuilder(903)
		b.input("X1", N, 2, 3, 4, 5)
		b.input("X2", N, 3, 3, 4, 5)
		b.node("cat", "Concat", "X1,X2", "cat", aInt("axis", 1))
		b.bn("bn", "cat", "x", 5)
		b.node("relu", "Relu", "x", "r")
		b.conv("conv", "r", "Y", 5, 4, []int{3, 3, 3}, 1, true, pads3)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"Concat": 1, "bnrun.FusedConv": 1})
		wantRules(t, rep, map[string]int{"BNAffine": 1, "AffineAct": 1, "AffineConv": 1})
		sameOutputs(t, b.g, opt)
	})
	t.Run("depthwise_block", func(t *testing.T) {
		b := newBuilder(904)
		b.input("X", N, 4, 3, 6, 6)
		b.conv("expand", "X", "e", 4, 8, []int{1, 1, 1}, 1, true)
		b.node("relu1", "Relu", "e", "re")
		b.conv("dw", "re", "d", 8, 8, []int{3, 3, 3}, 8, true, pads3)
		b.node("relu2", "Relu", "d", "rd")
		b.conv("project", "rd", "Y", 8, 4, []int{1, 1, 1}, 1, true)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 2, "Conv": 1})
		sameOutputs(t, b.g, opt)
	})
}
