package bnrun_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// TestRunAllocatesNothing checks that, once a model's plan exists, a Run
// allocates nothing: on the shipped models (convolutions in place and by
// im2col, depthwise-free DenseNet concats, pooling, Gemm), folded and
// unfolded, on every kernel tier the machine has, with 1 and 2 threads.
func TestRunAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	models := []string{
		"models/fashion/fashion_lenet/model.onnx",
		"models/fashion/fashion_resnet/model.onnx",
		"models/fashion/fashion_densenet/model.onnx",
		"testdata/models/lenet_bn_op17/model.onnx",
	}
	for _, path := range models {
		for _, tier := range kern.TierNames() {
			for _, threads := range []int{1, 2} {
				for _, fold := range []bool{true, false} {
					name := fmt.Sprintf("%s/%s/%dt/fold=%v", path, tier, threads, fold)
					opts := []bnrun.Option{bnrun.WithBackend(tier), bnrun.WithThreads(threads)}
					if !fold {
						opts = append(opts, bnrun.WithoutFold())
					}
					if got := runAllocs(t, path, opts...); got != 0 {
						t.Errorf("%s: %v allocations per Run, want 0", name, got)
					}
				}
			}
		}
	}
}

// TestGeneratedAllocatesNothing is TestRunAllocatesNothing on the large
// generated models of BNRUN_GOLDEN_DIR (Winograd layers at 56×56, long
// DenseNet concats, which batch 2 runs image by image, MobileNetV2's
// blocks in one pass and, on the generic tier, layer by layer), on every
// tier but the reference.
func TestGeneratedAllocatesNothing(t *testing.T) {
	root := os.Getenv("BNRUN_GOLDEN_DIR")
	if root == "" {
		t.Skip("BNRUN_GOLDEN_DIR not set: the generated models are made by models/gen.sh (CI does)")
	}
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	for _, model := range []string{"resnet18_bn_op17", "densenet121_fused_op17", "mobilenet_v2_fused_op17"} {
		path := filepath.Join(root, model, "model.onnx")
		for _, tier := range kern.TierNames() {
			if tier == kern.Reference.Name {
				continue
			}
			if got := runAllocs(t, path, bnrun.WithBackend(tier), bnrun.WithThreads(2)); got != 0 {
				t.Errorf("%s/%s: %v allocations per Run, want 0", model, tier, got)
			}
		}
	}
}

// runAllocs returns the average allocations of RunInto on model path at
// batch 2, after a warm-up run.
// openWithInput opens the model at path and makes an input for its first
// input at the given batch size, filled with a fixed pattern in [-1, 1).
func openWithInput(t *testing.T, path string, batch int, opts ...bnrun.Option) (*bnrun.Model, []*bnrun.Tensor) {
	t.Helper()
	m, err := bnrun.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	shapes, err := m.ShapesFor(batch)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	in := []*bnrun.Tensor{bnrun.NewTensor(shapes[0], nil)}
	for i := range in[0].F32 {
		in[0].F32[i] = float32(i%97)/48 - 1
	}
	return m, in
}

// runAllocs returns the allocations per Run of the model at path, batch
// 2, averaged over 30 Runs (truncated, as testing.AllocsPerRun does). One
// allocation every Run shows; the Go runtime's own, which a Run cannot
// avoid, do not: a worker that parks on a channel takes a sudog, from a
// cache each collection empties, so on a loaded machine (CI's two cores
// running other packages' tests) a few Runs in a hundred allocate one.
func runAllocs(t *testing.T, path string, opts ...bnrun.Option) float64 {
	t.Helper()
	m, in := openWithInput(t, path, 2, opts...)
	defer m.Close()
	outs := make([]*bnrun.Tensor, len(m.Outputs()))
	ctx := context.Background()
	run := func() {
		if err := m.RunInto(ctx, in, outs); err != nil {
			t.Fatal(err)
		}
	}
	run()
	return testing.AllocsPerRun(30, run)
}
