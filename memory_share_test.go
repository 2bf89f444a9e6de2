package bnrun_test

import (
	"context"
	"fmt"
	"math"
	goruntime "runtime"
	"slices"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/internal/hugepage"
	"github.com/bnrun/bnrun/kern"
)

// TestBatchSizesShareRunMemory runs the shipped Fashion-MNIST nets at
// batch sizes that go up and down, so that a Run gets memory a larger
// batch left behind, and checks each output bit for bit against a fresh
// model's at the same batch. New memory is filled with NaN (BNRUN_POISON),
// so a kernel that reads what it did not write shows up either way.
func TestBatchSizesShareRunMemory(t *testing.T) {
	t.Setenv("BNRUN_POISON", "1")
	for _, path := range []string{
		"models/fashion/fashion_resnet/model.onnx",
		"models/fashion/fashion_densenet/model.onnx",
		"testdata/models/lenet_bn_op13/model.onnx",
	} {
		t.Run(path, func(t *testing.T) {
			m, err := bnrun.Open(path, bnrun.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			name, out := m.Inputs()[0].Name, m.Outputs()[0].Name
			input := func(batch int) map[string]*bnrun.Tensor {
				x := bnrun.NewTensor([]int{batch, 1, 28, 28}, nil)
				for i := range x.F32 {
					x.F32[i] = float32((i*37)%101) / 101
				}
				return map[string]*bnrun.Tensor{name: x}
			}
			for _, batch := range []int{5, 2, 7, 1, 3, 7} {
				fresh, err := bnrun.Open(path, bnrun.WithThreads(2))
				if err != nil {
					t.Fatal(err)
				}
				want, err := fresh.Run(context.Background(), input(batch))
				fresh.Close()
				if err != nil {
					t.Fatal(err)
				}
				got, err := m.Run(context.Background(), input(batch))
				if err != nil {
					t.Fatal(err)
				}
				for i, w := range want[out].F32 {
					if math.IsNaN(float64(w)) {
						t.Fatalf("batch %d: output %d is NaN: a step read memory it did not write", batch, i)
					}
					if g := got[out].F32[i]; math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("batch %d after other batch sizes: output %d = %v, a fresh model gives %v", batch, i, g, w)
					}
				}
			}
		})
	}
}

// TestPlanCacheEviction runs more batch sizes than WithPlanCache(2) keeps
// plans for, returning to evicted ones, and checks every output bit for
// bit against the first Run at that batch size.
func TestPlanCacheEviction(t *testing.T) {
	m, err := bnrun.Open("models/fashion/fashion_resnet/model.onnx", bnrun.WithThreads(2), bnrun.WithPlanCache(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	name, out := m.Inputs()[0].Name, m.Outputs()[0].Name
	first := map[int][]float32{}
	for _, batch := range []int{1, 2, 3, 1, 4, 2, 3, 1} {
		x := bnrun.NewTensor([]int{batch, 1, 28, 28}, nil)
		for i := range x.F32 {
			x.F32[i] = float32((i*31)%97) / 97
		}
		got, err := m.Run(context.Background(), map[string]*bnrun.Tensor{name: x})
		if err != nil {
			t.Fatal(err)
		}
		want, seen := first[batch]
		if !seen {
			first[batch] = got[out].F32
			continue
		}
		for i, w := range want {
			if g := got[out].F32[i]; math.Float32bits(g) != math.Float32bits(w) {
				t.Fatalf("batch %d again after evictions: output %d = %v, first %v", batch, i, g, w)
			}
		}
	}
}

// memNet is a ResNet-like model built here, large enough (about 9 MB of
// weights) that the live heap a Model adds stands out from the test
// binary's: a stem convolution, three residual blocks (1×1 and 3×3
// convolutions of 256 channels, each with a BatchNormalization), global
// pooling and a 1000-class Gemm, on a [N,16,8,8] input.
func memNet() []byte {
	const c = 256
	weights := hSeededWeights(0, 100000)
	bn := func(g *hGraph, name, in, out string) {
		g.inits = append(g.inits, weights(name+".s", c), weights(name+".b", c), weights(name+".m", c), hTensor(name+".v", []int64{c}, slices.Repeat([]float32{1}, c)))
		g.nodes = append(g.nodes, hNode(name, "BatchNormalization", []string{in, name + ".s", name + ".b", name + ".m", name + ".v"}, []string{out}))
	}
	conv := func(g *hGraph, name, in, out string, cin, k int64) {
		g.inits = append(g.inits, weights(name+".w", c, cin, k, k))
		g.nodes = append(g.nodes, hNode(name, "Conv", []string{in, name + ".w"}, []string{out}, hInts("pads", (k-1)/2, (k-1)/2, (k-1)/2, (k-1)/2)))
	}
	batch := hpb{}.str(2, "N") // a dim_param
	shape := hpb{}.msg(1, batch)
	for _, d := range []int64{16, 8, 8} {
		shape = shape.msg(1, hpb{}.i(1, d))
	}
	g := hGraph{ins: []hpb{hpb{}.str(1, "x").msg(2, hpb{}.msg(1, hpb{}.i(1, hFloat).msg(2, shape)))}, outs: []hpb{hValue("y")}}
	conv(&g, "stem", "x", "s0", 16, 3)
	bn(&g, "stem.bn", "s0", "s1")
	g.nodes = append(g.nodes, hNode("stem.relu", "Relu", []string{"s1"}, []string{"h0"}))
	h := "h0"
	for i := range 3 {
		p := fmt.Sprintf("b%d.", i)
		conv(&g, p+"c1", h, p+"t0", c, 1)
		bn(&g, p+"bn1", p+"t0", p+"t1")
		g.nodes = append(g.nodes, hNode(p+"relu1", "Relu", []string{p + "t1"}, []string{p + "t2"}))
		conv(&g, p+"c2", p+"t2", p+"t3", c, 3)
		bn(&g, p+"bn2", p+"t3", p+"t4")
		g.nodes = append(g.nodes, hNode(p+"add", "Add", []string{p + "t4", h}, []string{p + "t5"}),
			hNode(p+"relu2", "Relu", []string{p + "t5"}, []string{p + "out"}))
		h = p + "out"
	}
	g.inits = append(g.inits, weights("fc.w", 1000, c), weights("fc.b", 1000))
	g.nodes = append(g.nodes, hNode("gap", "GlobalAveragePool", []string{h}, []string{"g"}),
		hNode("flat", "Flatten", []string{"g"}, []string{"f"}),
		hNode("fc", "Gemm", []string{"f", "fc.w", "fc.b"}, []string{"y"}, hInt("transB", 1)))
	return g.bytes()
}

// liveHeap returns the bytes of live heap objects, after a collection,
// less those of the chunks of large-page memory that hold the weights
// (package hugepage) that no buffer holds: the part of the current chunk
// not yet handed out and the chunks' alignment margins, which nothing
// touches.
func liveHeap() int64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc) - hugepage.Idle()
}

// runBatches runs m at each batch size on memNet's input and returns the
// largest plan's activation bytes (Inspection.ActivationBytes).
func runBatches(t *testing.T, m *bnrun.Model, batches ...int) int64 {
	t.Helper()
	var acts int64
	for _, b := range batches {
		x := bnrun.NewTensor([]int{b, 16, 8, 8}, nil)
		for i := range x.F32 {
			x.F32[i] = float32(i%13) / 13
		}
		if _, err := m.Run(context.Background(), map[string]*bnrun.Tensor{"x": x}); err != nil {
			t.Fatal(err)
		}
		insp, err := m.Inspect(x.Shape)
		if err != nil {
			t.Fatal(err)
		}
		acts = max(acts, insp.ActivationBytes)
	}
	return acts
}

// TestLiveHeapAcrossBatchSizes: the memory a model holds after Runs at
// batch sizes 1, 2, 4 and 8 is its weights once (the graph as loaded is
// not kept after Open) plus the memory of its largest batch, not of every
// batch size: at most what a fresh model holds after Runs at batch 1 and
// 8, plus half its activations (a Gemm of up to 4 rows reads its weights
// as they lie, of more their pack, so a model run at both holds both);
// and at most 1.5 times the weights plus the largest plan's activations,
// on every tier: the SIMD tiers, which run from weights packed once (shared
// by all plans, made on first use), let the plain ones go once a pack
// holds them exactly (1.1 times the weights here, where they kept both
// before: 1.8 to 2.0).
func TestLiveHeapAcrossBatchSizes(t *testing.T) {
	model := memNet()
	var backends []string
	for _, name := range kern.TierNames() {
		if name != "ref" {
			backends = append(backends, name)
		}
	}
	for _, backend := range backends {
		for _, threads := range []int{1, 2} {
			opts := []bnrun.Option{bnrun.WithBackend(backend), bnrun.WithThreads(threads)}
			// a fresh model after Runs at batch 1 and 8
			base := liveHeap()
			m, err := bnrun.OpenBytes(model, opts...)
			if err != nil {
				t.Fatal(err)
			}
			runBatches(t, m, 1, 8)
			only18 := liveHeap() - base
			m.Close()
			m = nil // garbage before the next baseline

			base = liveHeap()
			m, err = bnrun.OpenBytes(model, opts...)
			if err != nil {
				t.Fatal(err)
			}
			opened := liveHeap() - base
			st, err := m.Stats(1)
			if err != nil {
				t.Fatal(err)
			}
			acts := runBatches(t, m, 1, 2, 4, 8)
			all := liveHeap() - base
			weights, optimised := 4*st.Params, 4*st.ParamsOptimised
			t.Logf("%s, %d threads: weights %d KiB (%d KiB optimised), largest plan's activations %d KiB; live heap after Open %d KiB, "+
				"after Runs at batch 1 and 8 %d KiB, after batches 1, 2, 4, 8 %d KiB (the activations plus %.2f× the weights)",
				backend, threads, weights>>10, optimised>>10, acts>>10, opened>>10, only18>>10, all>>10, float64(all-acts)/float64(weights))
			if limit := optimised + optimised/20 + 256<<10; opened > limit {
				t.Errorf("%s, %d threads: %d bytes live after Open, over %d (the optimised weights, 5%% and 256 KiB)", backend, threads, opened, limit)
			}
			if all > only18+acts/2 {
				t.Errorf("%s, %d threads: %d bytes live after batches 1, 2, 4, 8, over the %d after batches 1 and 8 alone plus half of the %d bytes of activations",
					backend, threads, all, only18, acts)
			}
			if all > weights+weights/2+acts {
				t.Errorf("%s, %d threads: %d bytes live after batches 1, 2, 4, 8, over 1.5 × %d bytes of weights plus %d of activations",
					backend, threads, all, weights, acts)
			}
			m.Close()
		}
	}
}
