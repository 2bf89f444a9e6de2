package bnrun_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// TestOpsetGoldens opens the small models of testdata/opsets (written by
// models/make_opset_tests.py at opsets 18 to 21, goldens computed in
// numpy from the specification) and verifies them on every CPU tier,
// optimised and not: reductions with axes as an input and over no axis,
// Split's num_outputs, Pad's axes and wrap mode, Resize's antialias, axes,
// keep_aspect_ratio_policy and half_pixel_symmetric, AveragePool's
// dilations, Gelu in both forms, and a Conv, BatchNormalization, Relu,
// GlobalAveragePool, Flatten, Gemm network at opset 21.
func TestOpsetGoldens(t *testing.T) {
	const root = "testdata/opsets"
	want := map[string]int{
		"reduce_op18": 18, "split_op18": 18, "pad_op18": 18, "resize_op18": 18,
		"avgpool_op19": 19, "pad_resize_op19": 19, "gelu_op20": 20, "cnn_op21": 21,
	}
	dirs := modelDirs(t, root)
	if len(dirs) != len(want) {
		t.Fatalf("found %d models under %s, want %d", len(dirs), root, len(want))
	}
	for _, dir := range dirs {
		base := filepath.Base(dir)
		opset, ok := want[base]
		if !ok {
			t.Fatalf("unexpected model %s", dir)
		}
		m, err := bnrun.Open(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		info := m.Info()
		m.Close()
		if !importsOpset(info, opset) {
			t.Errorf("%s: model info %s does not import opset %d of the default domain", base, info.String(), opset)
		}
	}
	if n := verifyModels(t, root, kern.TierNames()); n != len(want) {
		t.Fatalf("verified %d models, want %d", n, len(want))
	}
	// On a GPU: the models whose every step has a CUDA kernel on the
	// cuda backend, and every model on auto (the others on the CPU).
	if ok, why := cudaUsable(); !ok {
		t.Logf("no CUDA device, the GPU is not checked: %v", why)
		return
	}
	for _, dir := range dirs {
		base := filepath.Base(dir)
		if base == "cnn_op21" || base == "avgpool_op19" {
			t.Run(base+"/cuda", func(t *testing.T) { verifyDir(t, dir, []bnrun.Option{bnrun.WithBackend("cuda")}) })
		}
		t.Run(base+"/auto", func(t *testing.T) { verifyDir(t, dir, []bnrun.Option{bnrun.WithBackend("auto")}) })
	}
}

// importsOpset reports whether the model imports version v of the
// default domain.
func importsOpset(info bnrun.ModelInfo, v int) bool {
	for domain, got := range info.Opsets {
		if (domain == "" || domain == "ai.onnx") && got == v {
			return true
		}
	}
	return false
}

// TestOpsetModelsAllocateNothing checks that a Run of each opset 18 to 21
// model allocates nothing once planned (the antialiasing filters, wrap
// padding, Gelu, the reductions over no axis), on every tier, folded and
// not.
func TestOpsetModelsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	for _, dir := range modelDirs(t, "testdata/opsets") {
		for _, tier := range kern.TierNames() {
			for _, fold := range []bool{true, false} {
				opts := []bnrun.Option{bnrun.WithBackend(tier), bnrun.WithThreads(2)}
				if !fold {
					opts = append(opts, bnrun.WithoutFold())
				}
				m, err := bnrun.Open(filepath.Join(dir, "model.onnx"), opts...)
				if err != nil {
					t.Fatal(err)
				}
				in := make([]*bnrun.Tensor, len(m.Inputs()))
				for i, ti := range m.Inputs() {
					in[i] = bnrun.NewTensor(ti.Shape, nil)
					for j := range in[i].F32 {
						in[i].F32[j] = float32(j%97)/48 - 1
					}
				}
				outs := make([]*bnrun.Tensor, len(m.Outputs()))
				run := func() {
					if err := m.RunInto(context.Background(), in, outs); err != nil {
						t.Fatal(err)
					}
				}
				run()
				if got := testing.AllocsPerRun(3, run); got != 0 {
					t.Errorf("%s: %v allocations per Run, want 0", fmt.Sprintf("%s/%s/fold=%v", filepath.Base(dir), tier, fold), got)
				}
				m.Close()
			}
		}
	}
}
