package fold

import "testing"

// TestConvHardSwish folds MobileNetV3's conv-BN-hardswish as PyTorch
// exports it below opset 14 (HardSigmoid with alpha 1/6 and beta 1/2, and
// a Mul, either operand order) into one FusedConv with the HardSwish
// activation, and leaves a HardSigmoid of another slope, and one whose
// conv output has a third reader, alone.
func TestConvHardSwish(t *testing.T) {
	for i, mul := range []string{"b,h", "h,b"} {
		t.Run(mul, func(t *testing.T) {
			b := newBuilder(uint64(920 + i))
			b.input("X", N, 5, 7, 6)
			b.conv("conv", "X", "c", 5, 9, []int{3, 3}, 1, false, pads2(1))
			b.bn("bn", "c", "b", 9)
			b.node("hs", "HardSigmoid", "b", "h", aFloat("alpha", 1.0/6), aFloat("beta", 0.5))
			b.node("mul", "Mul", mul, "Y")
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
			wantRules(t, rep, map[string]int{"ConvBN": 1, "ConvHardSwish": 1})
			fc := oneOp(t, opt, "bnrun.FusedConv")
			wantAttr(t, fc, "activation", "HardSwish")
			if fc.Outputs[0] != "Y" {
				t.Errorf("FusedConv outputs %q, want Y", fc.Outputs)
			}
			sameOutputs(t, b.g, opt)
		})
	}
	for i, c := range []struct {
		alpha float32
		third bool
	}{{0.2, false}, {1.0 / 6, true}} {
		b := newBuilder(uint64(930 + i))
		b.input("X", N, 5, 7, 6)
		b.conv("conv", "X", "c", 5, 9, []int{3, 3}, 1, false, pads2(1))
		b.node("hs", "HardSigmoid", "c", "h", aFloat("alpha", c.alpha), aFloat("beta", 0.5))
		b.node("mul", "Mul", "c,h", "m")
		want := map[string]int{"Conv": 1, "HardSigmoid": 1, "Mul": 1}
		if c.third {
			b.node("add", "Add", "m,c", "Y")
			want["Add"] = 1
		} else {
			b.node("id", "Relu", "m", "Y")
			want["bnrun.FusedConv"] = 0
			want["Relu"] = 1
		}
		b.output("Y")
		opt, rep := optimize(t, b.g)
		delete(want, "bnrun.FusedConv")
		wantOps(t, rep.OpsAfter, want)
		sameOutputs(t, b.g, opt)
	}
}
