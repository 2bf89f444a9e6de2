package runtime

import (
	"context"
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// pixGraph is a chain of 1×1 convolutions on 6×6 planes as a network's
// blocks make it: c0 = Conv(x), r0 = Relu(FusedConv(c0) + c0), r1 =
// Relu(FusedConv(r0) + r0), r2 = FusedConv(r1) (at stride 2 when
// strided), then GlobalAveragePool and Flatten. With side 1, r1 is also
// read by a grouped 3×3 convolution, which reads planes only, pooled and
// flattened into a second output; with side 2 by a Sigmoid, which reads
// planes only, then a 1×1 convolution, whose output is added to r2 before
// the pool.
func pixGraph(strided bool, side int) *ir.Graph {
	w := func(shape ...int) *ir.Tensor {
		t := ir.NewF32(shape, nil)
		for i := range t.F32 {
			t.F32[i] = float32((i*37)%23-11) / 64
		}
		return t
	}
	s := int64(1)
	if strided {
		s = 2
	}
	strides := &ir.Attr{Name: "strides", Type: ir.AttrInts, Ints: []int64{s, s}}
	fused := func(ins []string, out string, relu bool) *ir.Node {
		n := node("FusedConv", ins, out)
		n.Domain = "bnrun"
		n.Attrs = map[string]*ir.Attr{}
		if relu {
			n.Attrs["activation"] = &ir.Attr{Name: "activation", Type: ir.AttrString, S: "Relu"}
		}
		return n
	}
	r2 := fused([]string{"r1", "w3", "b3"}, "r2", false)
	r2.Attrs["strides"] = strides
	pooled := "r2"
	g := &ir.Graph{
		Inputs:  []ir.ValueInfo{input("x", -1, 24, 6, 6)},
		Outputs: []ir.ValueInfo{{Name: "y"}},
		Nodes: []*ir.Node{
			node("Conv", []string{"x", "w0"}, "c0"),
			fused([]string{"c0", "w1", "b1", "c0"}, "r0", true),
			fused([]string{"r0", "w2", "b2", "r0"}, "r1", true),
			r2,
		},
		Initializers: map[string]*ir.Tensor{"w0": w(40, 24, 1, 1), "w1": w(40, 40, 1, 1), "b1": w(40),
			"w2": w(40, 40, 1, 1), "b2": w(40), "w3": w(56, 40, 1, 1), "b3": w(56)},
	}
	switch side {
	case 1:
		c := node("Conv", []string{"r1", "ws"}, "s")
		c.Attrs = map[string]*ir.Attr{"strides": strides, "group": {Name: "group", Type: ir.AttrInt, I: 5},
			"pads": {Name: "pads", Type: ir.AttrInts, Ints: []int64{1, 1, 1, 1}}}
		g.Initializers["ws"] = w(40, 8, 3, 3)
		g.Nodes = append(g.Nodes, c, node("GlobalAveragePool", []string{"s"}, "ps"), node("Flatten", []string{"ps"}, "z"))
		g.Outputs = append(g.Outputs, ir.ValueInfo{Name: "z"})
	case 2:
		c := node("Conv", []string{"sg", "ws"}, "s")
		c.Attrs = map[string]*ir.Attr{"strides": strides}
		g.Initializers["ws"] = w(56, 40, 1, 1)
		g.Nodes = append(g.Nodes, node("Sigmoid", []string{"r1"}, "sg"), c, node("Add", []string{"r2", "s"}, "q"))
		pooled = "q"
	}
	g.Nodes = append(g.Nodes, node("GlobalAveragePool", []string{pooled}, "p"), node("Flatten", []string{"p"}, "y"))
	return g
}

// TestPixLayouts checks the tensors pixLayouts lays out pixel-major and
// the outputs of programs that take them: on every tier with pixel
// kernels (the twin, the vector tiers this machine has), at batches 1
// and 8 (image by image, with a tail), on one and two threads, against
// the generic tier's, which keeps every tensor in planes. In the chain
// every tensor from c0 to r2 lies pixel-major; a 3×3 convolution or a
// Sigmoid reading r1 keeps r1 in planes and with it r0 and c0, tied to it
// as residuals (the 3×3 convolution writes its output pixel-major for the
// pool; r2, read by an Add beside the Sigmoid's 1×1 convolution, lies in
// planes).
func TestPixLayouts(t *testing.T) {
	for _, tc := range []struct {
		strided bool
		side    int
		want    int // tensors laid out pixel-major
	}{
		{false, 0, 4},
		{true, 0, 4},
		{false, 1, 2},
		{true, 1, 2},
		{false, 2, 0},
	} {
		g := pixGraph(tc.strided, tc.side)
		hw := 6
		ref := mustCompile(t, pixGraph(tc.strided, tc.side), Options{Threads: 1, Kernels: kern.Generic})
		tiers := []*kern.Tier{kern.Twin}
		for _, name := range kern.TierNames() {
			tiers = append(tiers, kern.TierByName(name))
		}
		for _, k := range tiers {
			name := k.Name
			if k.ConvPixLayout == nil || name == "generic" || name == "ref" {
				continue
			}
			for _, threads := range []int{1, 2} {
				p := mustCompile(t, g, Options{Threads: threads, Kernels: k})
				for _, batch := range []int{1, 8} {
					what := fmt.Sprintf("%s, %d threads, batch %d, strided %v, side %d", name, threads, batch, tc.strided, tc.side)
					shape := []int{batch, 24, hw, hw}
					pl, err := p.PlanFor([][]int{shape})
					if err != nil {
						t.Fatal(err)
					}
					plan := pl
					if pl.single != nil {
						plan = pl.single
					}
					pix := 0
					for _, sp := range plan.slots {
						if sp.pix {
							pix++
						}
					}
					if pix != tc.want {
						t.Errorf("%s: %d tensors pixel-major, want %d", what, pix, tc.want)
					}
					if batch == 1 {
						prof, _, err := p.Profile(context.Background(), []*ir.Tensor{ir.NewF32(shape, nil)}, 1)
						if err != nil {
							t.Fatal(err)
						}
						for _, sp := range prof {
							if sp.Node == g.Nodes[1] && (tc.want == 4) != (sp.Layout == "x, y") {
								t.Errorf("%s: r0's profile says layout %q", what, sp.Layout)
							}
						}
					}
					x := ir.NewF32(shape, kerntest.Rand(uint64(batch), batch*24*hw*hw))
					got, want := runPair(t, p, ref, x)
					for i := range got {
						kerntest.Check(t, what, got[i].F32, want[i].F32, 1e-5)
					}
				}
				p.Close()
			}
		}
		ref.Close()
	}
}
