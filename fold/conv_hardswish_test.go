package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestConvHardSwish folds MobileNetV3's conv-BN-hardswish as PyTorch
// exports it below opset 14 (HardSigmoid with alpha 1/6 and beta 1/2, and
// a Mul, either operand order) into one FusedConv with the HardSwish
// activation, and leaves a HardSigmoid of another slope, and one whose
// conv output has a third reader, alone.
func TestConvHardSwish(t *testing.T) {
	testGateFold(t, 920, "HardSigmoid", []*ir.Attr{aFloat("alpha", 1.0/6), aFloat("beta", 0.5)}, "ConvHardSwish", "HardSwish")
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
			want["Relu"] = 1
		}
		b.output("Y")
		opt, rep := optimize(t, b.g)
		wantOps(t, rep.OpsAfter, want)
		sameOutputs(t, b.g, opt)
	}
}
