package runtime

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// overGraph is two residual blocks on 16×16 planes of 32 channels: a =
// Relu(Conv(x)), b = Relu(Conv3×3(a)), r = Relu(Conv(b) + a), s =
// Relu(Conv3×3(r) + r), t = Relu(Conv(s)), u = Relu(Conv3×3(t) + s), v =
// Relu(Conv(u)), then GlobalAveragePool and Flatten of v + u. r may take
// a's block and u s's (nothing reads a after r, nor s after u), which v,
// made while u lives, must not take; s may not take r's, which its
// convolution reads. keep adds a and s to the graph's outputs, which keeps
// them to the end.
func overGraph(keep bool) *ir.Graph {
	w := func(shape ...int) *ir.Tensor {
		t := ir.NewF32(shape, nil)
		for i := range t.F32 {
			t.F32[i] = float32((i*37)%23-11) / 128
		}
		return t
	}
	var nodes []*ir.Node
	// block appends out = Relu(Conv(x) + resid) as a FusedConv (no
	// residual where resid is "")
	block := func(x, wt, bias, out string, k int, resid string) {
		ins := []string{x, wt, bias}
		if resid != "" {
			ins = append(ins, resid)
		}
		n := node("FusedConv", ins, out)
		n.Domain = "bnrun"
		n.Attrs = map[string]*ir.Attr{"activation": {Name: "activation", Type: ir.AttrString, S: "Relu"}}
		if k == 3 {
			n.Attrs["pads"] = &ir.Attr{Name: "pads", Type: ir.AttrInts, Ints: []int64{1, 1, 1, 1}}
		}
		nodes = append(nodes, n)
	}
	block("x", "w0", "b0", "a", 1, "")
	block("a", "w1", "b1", "b", 3, "")
	block("b", "w2", "b2", "r", 1, "a")
	block("r", "w3", "b3", "s", 3, "r")
	block("s", "w4", "b4", "t", 1, "")
	block("t", "w5", "b5", "u", 3, "s")
	block("u", "w6", "b6", "v", 1, "")
	nodes = append(nodes, node("Add", []string{"v", "u"}, "q"),
		node("GlobalAveragePool", []string{"q"}, "p"), node("Flatten", []string{"p"}, "y"))
	g := &ir.Graph{
		Inputs:  []ir.ValueInfo{input("x", -1, 32, 16, 16)},
		Outputs: []ir.ValueInfo{{Name: "y"}},
		Nodes:   nodes,
		Initializers: map[string]*ir.Tensor{
			"w0": w(32, 32, 1, 1), "w1": w(32, 32, 3, 3), "w2": w(32, 32, 1, 1),
			"w3": w(32, 32, 3, 3), "w4": w(32, 32, 1, 1), "w5": w(32, 32, 3, 3), "w6": w(32, 32, 1, 1),
		},
	}
	for i := range 7 {
		g.Initializers[fmt.Sprintf("b%d", i)] = w(32)
	}
	if keep {
		g.Outputs = append(g.Outputs, ir.ValueInfo{Name: "a"}, ir.ValueInfo{Name: "s"})
	}
	return g
}

// TestOverwrite checks that a fused convolution's output takes the block
// of its residual where the tier's kernels allow it (Step.Overwrite) and
// nothing reads the residual later, and that the outputs are those of the
// same program with the residuals kept, bit for bit: on every tier this
// machine has (and the twin), at batches 1 and 8 (image by image, with a
// tail), on one and two threads. On the vector tiers both r (over a, an
// in-place 1×1 product) and u (over s, Winograd's stores) share; s, whose
// convolution reads its residual, never does, nor do a and s where the
// graph keeps them.
func TestOverwrite(t *testing.T) {
	tiers := []*kern.Tier{kern.Twin}
	for _, name := range kern.TierNames() {
		tiers = append(tiers, kern.TierByName(name))
	}
	for _, k := range tiers {
		for _, threads := range []int{1, 2} {
			p := mustCompile(t, overGraph(false), Options{Threads: threads, Kernels: k})
			ref := mustCompile(t, overGraph(true), Options{Threads: threads, Kernels: k})
			for _, batch := range []int{1, 8} {
				what := fmt.Sprintf("%s, %d threads, batch %d", k.Name, threads, batch)
				shape := []int{batch, 32, 16, 16}
				for i, prog := range []*Program{p, ref} {
					pl, err := prog.PlanFor([][]int{shape})
					if err != nil {
						t.Fatal(err)
					}
					if pl.single != nil {
						pl = pl.single
					}
					shared := sharedBlocks(pl)
					switch {
					case slices.Contains(shared, "s"):
						t.Errorf("%s: s takes the block of the residual its convolution reads", what)
					case i == 1 && len(shared) > 0:
						t.Errorf("%s, a and s kept: %v take their residuals' blocks", what, shared)
					case i == 0 && (k.Name == "avx512" || k.Name == "avx2") && !slices.Equal(shared, []string{"r", "u"}):
						t.Errorf("%s: %v take their residuals' blocks, want r and u", what, shared)
					}
				}
				x := ir.NewF32(shape, kerntest.Rand(uint64(batch), batch*32*16*16))
				got, want := runPair(t, p, ref, x)
				kerntest.Check(t, what, got[0].F32, want[0].F32, 0)
			}
		}
	}
}

// sharedBlocks names the outputs of pl's steps that take the block of the
// input they overwrite (stepPlan.over), in step order.
func sharedBlocks(pl *Plan) []string {
	var names []string
	for _, st := range pl.steps {
		if st.over == 0 {
			continue
		}
		z, y := st.c.in[st.over-1], st.c.out[0]
		if pl.slots[z].off == pl.slots[y].off {
			names = append(names, st.c.node.Outputs[0])
		}
	}
	return names
}

// runPair runs p and ref on the input x and returns their outputs.
func runPair(t *testing.T, p, ref *Program, x *ir.Tensor) (got, want []*ir.Tensor) {
	t.Helper()
	got, err := p.Run(context.Background(), []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	want, err = ref.Run(context.Background(), []*ir.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	return got, want
}
