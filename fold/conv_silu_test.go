package fold

import "testing"

// TestConvSilu folds EfficientNet's conv-BN-SiLU (a Sigmoid and a Mul,
// either operand order) into one FusedConv with the Silu activation, and
// leaves a Sigmoid-Mul whose conv output has a third reader alone.
func TestConvSilu(t *testing.T) {
	for i, mul := range []string{"b,s", "s,b"} {
		t.Run(mul, func(t *testing.T) {
			b := newBuilder(uint64(900 + i))
			b.input("X", N, 5, 7, 6)
			b.conv("conv", "X", "c", 5, 9, []int{3, 3}, 1, false, pads2(1))
			b.bn("bn", "c", "b", 9)
			b.node("sig", "Sigmoid", "b", "s")
			b.node("mul", "Mul", mul, "Y")
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
			wantRules(t, rep, map[string]int{"ConvBN": 1, "ConvSilu": 1})
			fc := oneOp(t, opt, "bnrun.FusedConv")
			wantAttr(t, fc, "activation", "Silu")
			if fc.Outputs[0] != "Y" {
				t.Errorf("FusedConv outputs %q, want Y", fc.Outputs)
			}
			sameOutputs(t, b.g, opt)
		})
	}
	b := newBuilder(910)
	b.input("X", N, 5, 7, 6)
	b.conv("conv", "X", "c", 5, 9, []int{3, 3}, 1, false, pads2(1))
	b.node("sig", "Sigmoid", "c", "s")
	b.node("mul", "Mul", "c,s", "m")
	b.node("add", "Add", "m,c", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Sigmoid": 1, "Mul": 1, "Add": 1})
	sameOutputs(t, b.g, opt)
}
