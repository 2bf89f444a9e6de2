package fold

import (
	"testing"
)

// seBlock builds a squeeze-and-excitation block as torchvision's RegNet-Y
// and EfficientNet export it: a 3×3 Conv (BN folded), the gate (global
// pool, 1×1 Conv, Relu, 1×1 Conv, Sigmoid), the Mul of the Conv's output
// and the gate in the order mul gives ("x,g" or "g,x"), and a 1×1 Conv of
// the product with a residual Add.
func seBlock(seed uint64, mul string) *builder {
	b := newBuilder(seed)
	b.input("X", N, 8, 7, 6)
	b.conv("conv", "X", "c", 8, 12, []int{3, 3}, 1, false, pads2(1))
	b.bn("bn", "c", "x", 12)
	b.node("gap", "GlobalAveragePool", "x", "p")
	b.conv("fc1", "p", "f1", 12, 4, []int{1, 1}, 1, true)
	b.node("relu", "Relu", "f1", "r")
	b.conv("fc2", "r", "f2", 4, 12, []int{1, 1}, 1, true)
	b.node("sig", "Sigmoid", "f2", "g")
	b.node("mul", "Mul", mul, "m")
	b.conv("proj", "m", "y", 12, 8, []int{1, 1}, 1, true)
	b.node("add", "Add", "y,X", "Y")
	b.output("Y")
	return b
}

// TestGateConv folds a squeeze-and-excitation block's Mul, either operand
// order, into the 1×1 Conv after it (which also takes the residual), and
// leaves the Mul where the rule does not apply: a gate that is a
// constant, a product with another reader, a 3×3 Conv after it, a gate
// over pixels rather than channels.
func TestGateConv(t *testing.T) {
	for i, mul := range []string{"x,g", "g,x"} {
		t.Run(mul, func(t *testing.T) {
			b := seBlock(1300+uint64(i), mul)
			opt, rep := optimize(t, b.g)
			wantRules(t, rep, map[string]int{"ConvBN": 1, "ConvAct": 2, "ConvAdd": 1, "GateConv": 1})
			if rep.OpsAfter["Mul"] != 0 {
				t.Errorf("ops after %v, want no Mul", rep.OpsAfter)
			}
			var gated int
			for _, n := range opt.Nodes {
				if isFusedConv(n) && n.Input(6) == "g" {
					gated++
					if n.Input(0) != "x" || n.Input(3) != "X" {
						t.Errorf("gated FusedConv inputs %q, want X = x and residual X", n.Inputs)
					}
				}
			}
			if gated != 1 {
				t.Errorf("%d FusedConvs take the gate g, want 1", gated)
			}
			sameOutputs(t, b.g, opt)
		})
	}

	t.Run("constant gate", func(t *testing.T) {
		b := newBuilder(1310)
		b.input("X", N, 8, 5, 5)
		b.randInit("g", []int{1, 8, 1, 1}, 0.5, 1.5)
		b.node("mul", "Mul", "X,g", "m")
		b.conv("proj", "m", "Y", 8, 6, []int{1, 1}, 1, true)
		b.output("Y")
		_, rep := optimize(t, b.g)
		wantRules(t, rep, map[string]int{})
	})
	t.Run("product read twice", func(t *testing.T) {
		b := seBlock(1320, "x,g")
		b.node("extra", "Relu", "m", "E")
		b.output("E")
		_, rep := optimize(t, b.g)
		if rep.Rules["GateConv"] != 0 {
			t.Errorf("GateConv fired on a product with two readers")
		}
	})
	t.Run("3x3 after", func(t *testing.T) {
		b := seBlock(1330, "x,g")
		for _, n := range b.g.Nodes {
			if n.Name == "proj" {
				b.randInit("proj3_W", []int{8, 12, 3, 3}, -0.5, 0.5)
				n.Inputs[1] = "proj3_W"
				n.Attrs["pads"] = pads2(1)
			}
		}
		opt, rep := optimize(t, b.g)
		if rep.Rules["GateConv"] != 0 {
			t.Errorf("GateConv fired on a 3×3 Conv")
		}
		sameOutputs(t, b.g, opt)
	})
	t.Run("gate over pixels", func(t *testing.T) {
		b := newBuilder(1340)
		b.input("X", N, 8, 5, 5)
		b.input("G", N, 1, 5, 5)
		b.node("mul", "Mul", "X,G", "m")
		b.conv("proj", "m", "Y", 8, 6, []int{1, 1}, 1, true)
		b.output("Y")
		_, rep := optimize(t, b.g)
		if rep.Rules["GateConv"] != 0 {
			t.Errorf("GateConv fired on a per-pixel gate")
		}
	})
}
