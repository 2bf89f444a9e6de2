package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// clip6 adds a Clip to [0, 6] (opset 11+: bounds as inputs).
func (b *builder) clip6(name, x, y string) {
	b.g.Initializers[name+"_lo"] = ir.NewF32(nil, []float32{0})
	b.g.Initializers[name+"_hi"] = ir.NewF32(nil, []float32{6})
	b.node(name, "Clip", x+","+name+"_lo,"+name+"_hi", y)
}

// mbBlock adds MobileNetV2's inverted residual block after x: 1×1 Conv,
// BN, ReLU6, depthwise 3×3 Conv (stride s), BN, ReLU6, 1×1 Conv, BN, and
// the residual Add when resid.
func (b *builder) mbBlock(x, y string, c, e, m, s int, resid bool) {
	b.conv("exp", x, "e0", c, e, []int{1, 1}, 1, false)
	b.bn("bn1", "e0", "e1", e)
	b.clip6("r1", "e1", "e")
	b.conv("dw", "e", "d0", e, e, []int{3, 3}, e, false, pads2(1), aInts("strides", int64(s), int64(s)), aInt("group", int64(e)))
	b.bn("bn2", "d0", "d1", e)
	b.clip6("r2", "d1", "d")
	b.conv("proj", "d", "p0", e, m, []int{1, 1}, 1, false)
	out := y
	if resid {
		out = "p1"
	}
	b.bn("bn3", "p0", out, m)
	if resid {
		b.node("add", "Add", "p1,"+x, y)
	}
}

// TestDwBlock folds MobileNetV2's block (with and without its residual,
// stride 1 and 2) into one bnrun.DwBlock whose three layers keep their
// activations and the projection its residual.
func TestDwBlock(t *testing.T) {
	for i, s := range []int{1, 2} {
		b := newBuilder(uint64(950 + i))
		b.input("X", N, 6, 9, 8)
		resid := s == 1
		c := 6
		b.mbBlock("X", "Y", c, 18, c, s, resid)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.DwBlock": 1})
		if rep.Rules["DwBlock"] != 1 {
			t.Errorf("stride %d: rules %v, want DwBlock once", s, rep.Rules)
		}
		n := oneOp(t, opt, "bnrun.DwBlock")
		wantAttr(t, n, "expand_activation", "Clip")
		wantAttr(t, n, "dw_activation", "Clip")
		wantAttr(t, n, "activation", "")
		if got := n.Input(7) != ""; got != resid {
			t.Errorf("stride %d: residual input %q, want one %v", s, n.Input(7), resid)
		}
		if n.Input(0) != "X" || n.Outputs[0] != "Y" {
			t.Errorf("stride %d: DwBlock reads %q and writes %q, want X and Y", s, n.Input(0), n.Outputs)
		}
		sameOutputs(t, b.g, opt)
	}
}

// TestDwBlockPartial folds a depthwise Conv with only one 1×1 Conv
// around it where the other reads or writes a tensor someone else reads
// too, and nothing where both do.
func TestDwBlockPartial(t *testing.T) {
	for _, tc := range []struct {
		name, extra string // extra: the tensor a second output exposes
		want        map[string]int
	}{
		{"expansion read elsewhere", "e", map[string]int{"bnrun.DwBlock": 1, "bnrun.FusedConv": 1}},
		{"depthwise read elsewhere", "d", map[string]int{"bnrun.DwBlock": 1, "Conv": 1}},
	} {
		b := newBuilder(960)
		b.input("X", N, 6, 9, 8)
		b.mbBlock("X", "Y", 6, 12, 6, 1, false)
		b.output("Y")
		b.output(tc.extra)
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, tc.want)
		n := oneOp(t, opt, "bnrun.DwBlock")
		switch tc.extra {
		case "e":
			if n.Input(1) != "" || n.Input(5) == "" {
				t.Errorf("%s: DwBlock inputs %q, want the projection only", tc.name, n.Inputs)
			}
		case "d":
			if n.Input(1) == "" || n.Input(5) != "" {
				t.Errorf("%s: DwBlock inputs %q, want the expansion only", tc.name, n.Inputs)
			}
		}
		sameOutputs(t, b.g, opt)
	}
	b := newBuilder(961)
	b.input("X", N, 6, 9, 8)
	b.mbBlock("X", "Y", 6, 12, 6, 1, false)
	b.output("Y")
	b.output("e")
	b.output("d")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 2, "Conv": 1})
	sameOutputs(t, b.g, opt)
}

// regBlock adds the start of RegNet's block after x: 1×1 Conv, BN, Relu,
// grouped 3×3 Conv (groups of cg channels, stride s), BN, Relu into y.
func (b *builder) regBlock(x, y string, c, e, cg, s int) {
	b.conv("exp", x, "e0", c, e, []int{1, 1}, 1, false)
	b.bn("bn1", "e0", "e1", e)
	b.node("r1", "Relu", "e1", "e")
	b.conv("grp", "e", "d0", e, e, []int{3, 3}, e/cg, false, pads2(1), aInts("strides", int64(s), int64(s)), aInt("group", int64(e/cg)))
	b.bn("bn2", "d0", "d1", e)
	b.node("r2", "Relu", "d1", y)
}

// TestDwBlockGrouped folds RegNet's expansion and grouped convolution
// into one bnrun.DwBlock without a projection on a 56×56 plane, and leaves
// them apart on 28×28 (groupedMinPixels) and with groups of 4 channels.
func TestDwBlockGrouped(t *testing.T) {
	for _, tc := range []struct {
		hw, cg int
		fold   bool
	}{{56, 16, true}, {56, 8, true}, {28, 16, false}, {56, 4, false}} {
		b := newBuilder(uint64(970 + tc.hw + tc.cg))
		b.input("X", N, 8, tc.hw, tc.hw)
		b.regBlock("X", "Y", 8, 32, tc.cg, 2)
		b.output("Y")
		opt, rep := optimize(t, b.g)
		if !tc.fold {
			if rep.Rules["DwBlock"] != 0 {
				t.Errorf("%d×%d groups of %d: rules %v, want no DwBlock", tc.hw, tc.hw, tc.cg, rep.Rules)
			}
			sameOutputs(t, b.g, opt)
			continue
		}
		wantOps(t, rep.OpsAfter, map[string]int{"bnrun.DwBlock": 1})
		n := oneOp(t, opt, "bnrun.DwBlock")
		wantAttr(t, n, "expand_activation", "Relu")
		wantAttr(t, n, "dw_activation", "Relu")
		if n.Input(0) != "X" || n.Outputs[0] != "Y" || n.Input(1) == "" || n.Input(5) != "" {
			t.Errorf("%d×%d groups of %d: DwBlock inputs %q outputs %q, want X, an expansion, no projection, Y", tc.hw, tc.hw, tc.cg, n.Inputs, n.Outputs)
		}
		if g, _ := n.Int("group", 1); g != int64(32/tc.cg) {
			t.Errorf("%d×%d groups of %d: group %d, want %d", tc.hw, tc.hw, tc.cg, g, 32/tc.cg)
		}
		sameOutputs(t, b.g, opt)
	}
}
