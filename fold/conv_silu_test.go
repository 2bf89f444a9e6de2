package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestConvSilu folds EfficientNet's conv-BN-SiLU (a Sigmoid and a Mul,
// either operand order) into one FusedConv with the Silu activation, and
// leaves a Sigmoid-Mul whose conv output has a third reader alone.
func TestConvSilu(t *testing.T) {
	testGateFold(t, 900, "Sigmoid", nil, "ConvSilu", "Silu")
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

// testGateFold checks that rule folds conv-BN, then gate (an op with
// attrs) of the result and the Mul of the two, either operand order, into
// one FusedConv with activation act, its outputs the same as the graph's.
func testGateFold(t *testing.T, seed uint64, gate string, attrs []*ir.Attr, rule, act string) {
	t.Helper()
	for i, mul := range []string{"b,g", "g,b"} {
		t.Run(mul, func(t *testing.T) {
			b := newBuilder(seed + uint64(i))
			b.input("X", N, 5, 7, 6)
			b.conv("conv", "X", "c", 5, 9, []int{3, 3}, 1, false, pads2(1))
			b.bn("bn", "c", "b", 9)
			b.node("gate", gate, "b", "g", attrs...)
			b.node("mul", "Mul", mul, "Y")
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1})
			wantRules(t, rep, map[string]int{"ConvBN": 1, rule: 1})
			fc := oneOp(t, opt, "bnrun.FusedConv")
			wantAttr(t, fc, "activation", act)
			if fc.Outputs[0] != "Y" {
				t.Errorf("FusedConv outputs %q, want Y", fc.Outputs)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}
