package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestZeroPadElim removes Pads whose pads are all zero, with pads from a
// Constant node (opset 13, as DenseNet's exports have them), an
// initializer, or an attribute (opset 9), and a reader that reads the Pad
// twice.
func TestZeroPadElim(t *testing.T) {
	zeros := ir.NewI64([]int{8}, make([]int64, 8))
	cases := []struct {
		name  string
		opset int
		pad   func(b *builder)
	}{
		{"constant_node", 13, func(b *builder) {
			b.node("k", "Constant", "", "pads", aTensor("value", zeros))
			b.node("pad", "Pad", "r,pads", "p")
		}},
		{"initializer_edge", 13, func(b *builder) {
			b.initI64("pads", []int{8}, make([]int64, 8)...)
			b.node("pad", "Pad", "r,pads", "p", aString("mode", "edge"))
		}},
		{"attribute", 9, func(b *builder) {
			b.node("pad", "Pad", "r", "p", aInts("pads", 0, 0, 0, 0, 0, 0, 0, 0))
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(950 + i)).setOpset(tc.opset)
			b.input("X", N, 2, 4, 4)
			b.node("relu", "Relu", "X", "r")
			tc.pad(b)
			b.node("add", "Add", "p,p", "Y")
			b.output("Y")
			opt, rep := optimize(t, b.g)
			wantOps(t, rep.OpsAfter, map[string]int{"Relu": 1, "Add": 1})
			if rep.Rules["ZeroPadElim"] != 1 {
				t.Errorf("rules: %v, want ZeroPadElim once", rep.Rules)
			}
			if a := oneOp(t, opt, "Add"); a.Input(0) != "r" || a.Input(1) != "r" {
				t.Errorf("Add reads %v, want r twice", a.Inputs)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}

// TestZeroPadElimKeeps leaves a Pad that pads, and one whose output is a
// graph output.
func TestZeroPadElimKeeps(t *testing.T) {
	for i, tc := range []struct {
		name string
		pads []int64
		out  bool
	}{
		{"pads", []int64{0, 0, 1, 0, 0, 0, 0, 1}, false},
		{"graph_output", make([]int64, 8), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(uint64(960 + i)).setOpset(13)
			b.input("X", N, 2, 4, 4)
			b.initI64("pads", []int{8}, tc.pads...)
			b.node("relu", "Relu", "X", "r")
			if tc.out {
				b.node("pad", "Pad", "r,pads", "Y")
			} else {
				b.node("pad", "Pad", "r,pads", "p")
				b.node("sig", "Sigmoid", "p", "Y")
			}
			b.output("Y")
			opt, rep := optimize(t, b.g)
			if rep.OpsAfter["Pad"] != 1 {
				t.Errorf("ops after: %v, want the Pad kept", rep.OpsAfter)
			}
			sameOutputs(t, b.g, opt)
		})
	}
}
