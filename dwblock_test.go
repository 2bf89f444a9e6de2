package bnrun_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// invertedResidualModel is MobileNetV2's block as an exporter writes it
// with BN folded: a 1×1 Conv and ReLU6 (Clip) from c to e channels, a
// depthwise 3×3 Conv of stride s and ReLU6, a 1×1 Conv back to c
// channels, and (stride 1) the Add of the block's input; x is [n, c, h,
// w], the weights pseudo-random.
func invertedResidualModel(n, c, e, h, w, s int) []byte {
	rng := rand.New(rand.NewPCG(uint64(c*e), uint64(h*w)))
	vals := func(k int, scale float32) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = scale * (2*rng.Float32() - 1)
		}
		return v
	}
	g := hGraph{ins: []hpb{hValue("x", int64(n), int64(c), int64(h), int64(w))}, outs: []hpb{hValue("y")}}
	g.inits = []hpb{
		hTensor("we", []int64{int64(e), int64(c), 1, 1}, vals(e*c, 0.5)), hTensor("be", []int64{int64(e)}, vals(e, 0.5)),
		hTensor("wd", []int64{int64(e), 1, 3, 3}, vals(e*9, 0.5)), hTensor("bd", []int64{int64(e)}, vals(e, 0.5)),
		hTensor("wp", []int64{int64(c), int64(e), 1, 1}, vals(c*e, 0.3)), hTensor("bp", []int64{int64(c)}, vals(c, 0.5)),
		hTensor("lo", nil, []float32{0}), hTensor("hi", nil, []float32{6}),
	}
	out := "y"
	if s == 1 {
		out = "p"
	}
	g.nodes = []hpb{
		hNode("expand", "Conv", []string{"x", "we", "be"}, []string{"e0"}),
		hNode("relu6_1", "Clip", []string{"e0", "lo", "hi"}, []string{"e"}),
		hNode("dw", "Conv", []string{"e", "wd", "bd"}, []string{"d0"}, hInt("group", int64(e)),
			hInts("pads", 1, 1, 1, 1), hInts("strides", int64(s), int64(s))),
		hNode("relu6_2", "Clip", []string{"d0", "lo", "hi"}, []string{"d"}),
		hNode("project", "Conv", []string{"d", "wp", "bp"}, []string{out}),
	}
	if s == 1 {
		g.nodes = append(g.nodes, hNode("add", "Add", []string{"p", "x"}, []string{"y"}))
	}
	return g.bytes()
}

// TestDwBlockModel opens inverted residual blocks (planes on both sides
// of the size the AVX2 tier runs in one pass, both strides, batch 2) on
// every backend and thread count, and checks that the optimisation pass
// makes one bnrun.DwBlock whose outputs match the unoptimised graph's and
// whose multiply-accumulates Stats counts as the three convolutions'.
func TestDwBlockModel(t *testing.T) {
	for _, tc := range []struct{ n, c, e, h, w, s int }{
		{1, 8, 48, 60, 58, 1}, {2, 16, 96, 57, 59, 2}, {2, 6, 36, 15, 13, 1},
	} {
		model := invertedResidualModel(tc.n, tc.c, tc.e, tc.h, tc.w, tc.s)
		x := make([]float32, tc.n*tc.c*tc.h*tc.w)
		for i := range x {
			x[i] = float32(math.Sin(float64(i) * 0.37))
		}
		in := map[string]*bnrun.Tensor{"x": bnrun.NewTensor([]int{tc.n, tc.c, tc.h, tc.w}, x)}
		ref, err := bnrun.OpenBytes(model, bnrun.WithoutFold(), bnrun.WithBackend("ref"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		refStats, err := ref.Stats(tc.n)
		if err != nil {
			t.Fatal(err)
		}
		ref.Close()
		for _, backend := range []string{"ref", "generic", "avx2", "avx512"} {
			if kern.TierByName(backend) == nil {
				continue
			}
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("%v/%s/threads=%d", tc, backend, threads)
				m, err := bnrun.OpenBytes(model, bnrun.WithBackend(backend), bnrun.WithThreads(threads))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				insp, err := m.Inspect()
				if err != nil {
					t.Fatal(err)
				}
				if got := insp.OpsAfter["bnrun.DwBlock"]; got != 1 || len(insp.OpsAfter) != 1 {
					t.Errorf("%s: ops after folding %v, want one bnrun.DwBlock", name, insp.OpsAfter)
				}
				st, err := m.Stats(tc.n)
				if err != nil {
					t.Fatal(err)
				}
				if st.TotalMACs != refStats.TotalMACs {
					t.Errorf("%s: %d MACs, want %d as the three convolutions", name, st.TotalMACs, refStats.TotalMACs)
				}
				got, err := m.Run(context.Background(), in)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				g, w := got["y"].F32, want["y"].F32
				for i := range w {
					if d := math.Abs(float64(g[i] - w[i])); d > 1e-4*(1+math.Abs(float64(w[i]))) {
						t.Fatalf("%s: y[%d] = %v, want %v", name, i, g[i], w[i])
					}
				}
				m.Close()
			}
		}
	}
}
