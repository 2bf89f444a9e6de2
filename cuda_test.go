package bnrun_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bnrun/bnrun"
)

// requireCUDAEnv, set to 1, makes the CUDA tests fail instead of skip
// when no GPU is usable: CI sets it when it runs them on the CPU
// emulator of kern/cuda/testdata/fakecuda (through BNRUN_LIBCUDA).
const requireCUDAEnv = "BNRUN_REQUIRE_CUDA"

// cudaUsable reports whether the cuda backend opens here, and if not, why.
var cudaUsable = sync.OnceValues(func() (bool, error) {
	m, err := bnrun.Open("testdata/models/lenet_bn_op17/model.onnx", bnrun.WithBackend("cuda"))
	if err != nil {
		return false, err
	}
	m.Close()
	return true, nil
})

// needCUDA skips the test when no GPU is usable, saying why, unless
// $BNRUN_REQUIRE_CUDA is 1.
func needCUDA(t *testing.T) {
	t.Helper()
	if ok, err := cudaUsable(); !ok {
		if os.Getenv(requireCUDAEnv) == "1" {
			t.Fatalf("%s=1 but the cuda backend does not open: %v", requireCUDAEnv, err)
		}
		t.Skipf("no CUDA device: %v", err)
	}
}

// TestCUDAFallback checks what happens without a usable GPU: forcing the
// cuda backend is a clear error, and auto mode runs on the best CPU
// tier and says why it took no GPU.
func TestCUDAFallback(t *testing.T) {
	if ok, _ := cudaUsable(); ok {
		t.Skip("a GPU is usable here: the fallback is not exercised")
	}
	const model = "models/fashion/fashion_resnet/model.onnx"
	t.Setenv(bnrun.BackendEnv, "")
	_, err := bnrun.Open(model, bnrun.WithBackend("cuda"))
	if err == nil || !strings.Contains(err.Error(), "cuda backend needs a usable NVIDIA GPU") {
		t.Fatalf("WithBackend(cuda) without a GPU: %v", err)
	}
	t.Logf("WithBackend(cuda): %v", err)
	m, err := bnrun.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if b := m.Backend(); b == "cuda" {
		t.Fatalf("auto without a GPU: backend %q", b)
	}
	if d, why := m.Device(); d != "" || why == nil {
		t.Fatalf("auto without a GPU: Device() = %q, %v; want \"\" and the reason", d, why)
	}
	in := bnrun.NewTensor([]int{1, 1, 28, 28}, nil)
	if _, err := m.Run(context.Background(), map[string]*bnrun.Tensor{m.Inputs()[0].Name: in}); err != nil {
		t.Fatal(err)
	}
}

// TestCUDAShippedGoldens runs the shipped golden models (LeNet and MLP
// exports at every opset, the three Fashion-MNIST models) on the GPU,
// optimised and not, against their PyTorch goldens at the default
// tolerance.
func TestCUDAShippedGoldens(t *testing.T) {
	needCUDA(t)
	if n := verifyModels(t, "testdata/models", []string{"cuda"}); n < 20 {
		t.Fatalf("found %d shipped golden models, want 20", n)
	}
	if n := verifyModels(t, "models/fashion", []string{"cuda"}); n != 3 {
		t.Fatalf("found %d Fashion-MNIST models, want 3", n)
	}
}

// TestCUDAMatchesCPU runs the Fashion-MNIST models on the GPU and on the
// generic CPU tier at batch 1 and 5, from several goroutines at once,
// and compares the logits.
func TestCUDAMatchesCPU(t *testing.T) {
	needCUDA(t)
	for _, name := range []string{"fashion_lenet", "fashion_resnet", "fashion_densenet"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("models/fashion", name, "model.onnx")
			gpu, err := bnrun.Open(path, bnrun.WithBackend("cuda"))
			if err != nil {
				t.Fatal(err)
			}
			defer gpu.Close()
			if d, err := gpu.Device(); gpu.Backend() != "cuda" || d == "" || err != nil {
				t.Fatalf("backend %q, device %q, %v", gpu.Backend(), d, err)
			}
			cpu, err := bnrun.Open(path, bnrun.WithBackend("generic"))
			if err != nil {
				t.Fatal(err)
			}
			defer cpu.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for g := range 3 {
				for _, batch := range []int{1, 5} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs <- compareRuns(gpu, cpu, batch, uint64(10*g+batch))
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// compareRuns runs both models on one pseudo-random input of the batch
// and compares every output: |got - want| <= 1e-4 + 1e-4·|want|.
func compareRuns(got, want *bnrun.Model, batch int, seed uint64) error {
	shapes, err := want.ShapesFor(batch)
	if err != nil {
		return err
	}
	in := bnrun.NewTensor(shapes[0], nil)
	s := seed*2654435761 + 1
	for i := range in.F32 {
		s = s*6364136223846793005 + 1442695040888963407
		in.F32[i] = float32(s>>40)/float32(1<<24)*2 - 1
	}
	inputs := map[string]*bnrun.Tensor{want.Inputs()[0].Name: in}
	g, err := got.Run(context.Background(), inputs)
	if err != nil {
		return err
	}
	w, err := want.Run(context.Background(), inputs)
	if err != nil {
		return err
	}
	for name, wt := range w {
		gt := g[name]
		if gt == nil || len(gt.F32) != len(wt.F32) {
			return fmt.Errorf("batch %d: output %s missing or of the wrong size", batch, name)
		}
		for i, v := range wt.F32 {
			d := gt.F32[i] - v
			if d < 0 {
				d = -d
			}
			if d > 1e-4+1e-4*max(v, -v) {
				return fmt.Errorf("batch %d: %s[%d] = %v on the GPU, %v on the CPU", batch, name, i, gt.F32[i], v)
			}
		}
	}
	return nil
}

// TestCUDAFamily runs the narrow members of the families whose ops the GPU
// needs (testdata/family: MobileNetV3's HardSwish, HardSigmoid and
// squeeze-excitation, EfficientNet's SiLU, LR-ASPP's and a U-Net's heads
// with bilinear and nearest Resize, ConvTranspose, Concat and shape
// computations, ShuffleNet's channel split and shuffle, both export
// flavours): auto keeps every one on the GPU (no step falls back to the
// CPU), and on the GPU, optimised and not, they match their PyTorch
// goldens at the default tolerance.
func TestCUDAFamily(t *testing.T) {
	needCUDA(t)
	t.Setenv(bnrun.BackendEnv, "")
	dirs := modelDirs(t, "testdata/family")
	if len(dirs) != 10 {
		t.Fatalf("found %d models in testdata/family, want 10", len(dirs))
	}
	for _, dir := range dirs {
		for _, opts := range [][]bnrun.Option{nil, {bnrun.WithoutFold()}} {
			wantOnGPU(t, dir, opts)
		}
	}
	if n := verifyModels(t, "testdata/family", []string{"cuda"}); n != 10 {
		t.Fatalf("verified %d models, want 10", n)
	}
}

// TestCUDAFamilyLowers opens, when $BNRUN_FAMILY_DIR names a folder of
// models/export.py exports, the full-size MobileNetV3-Large,
// EfficientNet-B0 and LR-ASPP (the folders
// <arch>_<flavour>_op<N> of those archs found there) with auto and checks
// that every step of each is lowered to the GPU. (They take minutes a run
// on the CPU stand-in; TestCUDAFamily runs their narrow versions.)
func TestCUDAFamilyLowers(t *testing.T) {
	root := os.Getenv("BNRUN_FAMILY_DIR")
	if root == "" {
		t.Skip("BNRUN_FAMILY_DIR not set: the full-size family models are checked in CI's CUDA step (.ci/run)")
	}
	needCUDA(t)
	t.Setenv(bnrun.BackendEnv, "")
	found := map[string]bool{}
	for _, dir := range modelDirs(t, root) {
		base := filepath.Base(dir)
		for _, arch := range []string{"mobilenet_v3_large", "efficientnet_b0", "lraspp_mobilenet_v3_large"} {
			if !strings.HasPrefix(base, arch+"_") {
				continue
			}
			found[arch] = true
			m, err := bnrun.Open(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			if d, why := m.Device(); m.Backend() != "cuda" || why != nil {
				t.Errorf("%s: auto: backend %q, Device() = %q, %v; want the GPU", base, m.Backend(), d, why)
			}
			m.Close()
		}
	}
	if len(found) != 3 {
		t.Fatalf("found exports of %v under %s, want all three archs", found, root)
	}
}

// TestCUDAIssue15Ops opens the models of the ops issue 15 put on the GPU
// (a 3-D CNN's Conv, BatchNormalization and MaxPool over 5-D tensors in
// both export flavours, single 3-D layers with ConvTranspose3d, Gelu in
// both forms, LogSoftmax, Softmax along a middle axis, Pow, every
// reduction over non-trailing axes): auto keeps each on the GPU (no step
// falls back), and on the GPU, optimised and not, they match their
// goldens at the default tolerance.
func TestCUDAIssue15Ops(t *testing.T) {
	needCUDA(t)
	t.Setenv(bnrun.BackendEnv, "")
	for _, dir := range []string{"testdata/conv3d/bn3d_op13", "testdata/conv3d/fused3d_op13", "testdata/conv3d/ops3d_op13",
		"testdata/opsets/gelu_op20", "testdata/gpuops/heads_op13", "testdata/gpuops/reduce_op18"} {
		for _, opts := range [][]bnrun.Option{nil, {bnrun.WithoutFold()}} {
			wantOnGPU(t, dir, opts)
			t.Run(dir+fmt.Sprintf("/fold=%v", opts == nil), func(t *testing.T) {
				verifyDir(t, dir, append([]bnrun.Option{bnrun.WithBackend("cuda")}, opts...))
			})
		}
	}
}

// TestCUDAAutoLeavesGPU opens a model with an op that has no CUDA kernel
// (a Pad in wrap mode): auto mode runs it on the CPU tier and Device says
// why, forcing the cuda backend fails at Open naming the op.
func TestCUDAAutoLeavesGPU(t *testing.T) {
	needCUDA(t)
	t.Setenv(bnrun.BackendEnv, "")
	for _, tt := range []struct{ model, why string }{
		{"testdata/opsets/pad_resize_op19/model.onnx", "no CUDA kernel for this Pad"},
	} {
		m, err := bnrun.Open(tt.model)
		if err != nil {
			t.Fatal(err)
		}
		d, why := m.Device()
		if m.Backend() == "cuda" || d != "" || why == nil || !strings.Contains(why.Error(), tt.why) {
			m.Close()
			t.Fatalf("%s: auto: backend %q, Device() = %q, %v; want a CPU tier and why (%s)", tt.model, m.Backend(), d, why, tt.why)
		}
		shape := m.Inputs()[0].Shape
		for i, v := range shape {
			shape[i] = max(v, 1) // a dynamic batch
		}
		x := bnrun.NewTensor(shape, nil)
		_, err = m.Run(context.Background(), map[string]*bnrun.Tensor{m.Inputs()[0].Name: x})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bnrun.Open(tt.model, bnrun.WithBackend("cuda")); err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Fatalf("%s: WithBackend(cuda): %v, want an error naming %s", tt.model, err, tt.why)
		}
	}
}

// wantOnGPU opens dir's model.onnx with opts (nil: folded) under the
// auto backend and fails the test unless the whole model runs on the GPU.
func wantOnGPU(t *testing.T, dir string, opts []bnrun.Option) {
	t.Helper()
	m, err := bnrun.Open(filepath.Join(dir, "model.onnx"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d, why := m.Device()
	if m.Backend() != "cuda" || d == "" || why != nil {
		t.Errorf("%s (fold %v): auto: backend %q, Device() = %q, %v; want the GPU", dir, opts == nil, m.Backend(), d, why)
	}
}
