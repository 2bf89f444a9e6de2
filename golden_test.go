package bnrun_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/kern"
)

// modelDirs lists the folders under root that hold a model.onnx.
func modelDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "model.onnx" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	return dirs
}

// verifyModels runs every golden test set of every model under root on
// each backend, with the optimisation pass on and off, and fails on any
// mismatch at the default tolerance.
func verifyModels(t *testing.T, root string, backends []string) int {
	dirs := modelDirs(t, root)
	for _, dir := range dirs {
		for _, be := range backends {
			for _, folded := range []bool{true, false} {
				name := filepath.Base(dir)
				if rel, err := filepath.Rel(root, dir); err == nil && rel != "." {
					name = filepath.ToSlash(rel) // family/lraspp/bn, not bn
				}
				name += "/" + be + "/fold"
				opts := []bnrun.Option{bnrun.WithBackend(be)}
				if !folded {
					name += "-off"
					opts = append(opts, bnrun.WithoutFold())
				}
				t.Run(name, func(t *testing.T) { verifyDir(t, dir, opts) })
			}
		}
	}
	return len(dirs)
}

// verifyDir checks one model folder's golden test sets.
func verifyDir(t *testing.T, dir string, opts []bnrun.Option) {
	m, err := bnrun.Open(filepath.Join(dir, "model.onnx"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := m.Verify(context.Background(), dir, bnrun.DefaultTolerance)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		for _, c := range r.Outputs {
			if !c.OK() {
				t.Errorf("%s %s: %s", filepath.Base(r.Dir), c.Output, c.String())
			} else if c.Top1 != c.Rows {
				t.Errorf("%s %s: within tolerance but top-1 disagrees: %s", filepath.Base(r.Dir), c.Output, c.String())
			}
		}
	}
}

// TestShippedGoldens checks the small models committed in testdata
// against their PyTorch goldens, on every CPU tier, optimised and not.
func TestShippedGoldens(t *testing.T) {
	n := verifyModels(t, "testdata/models", kern.TierNames())
	if n < 20 {
		t.Fatalf("found %d shipped golden models, want the 20 lenet and mlp exports", n)
	}
	if n := verifyModels(t, "models/fashion", kern.TierNames()); n != 3 {
		t.Fatalf("found %d trained Fashion-MNIST models, want 3", n)
	}
	// a 1-D CNN (Conv1d, BatchNorm1d, pools, a BatchNorm1d after a
	// Linear), both export flavours: models/make_conv1d.py
	if n := verifyModels(t, "testdata/conv1d", kern.TierNames()); n != 2 {
		t.Fatalf("found %d 1-D CNN exports, want 2", n)
	}
	// a 3-D CNN (Conv3d, BatchNorm3d, MaxPool3d, a grouped strided
	// Conv3d, AdaptiveAvgPool3d, Linear), both export flavours, and single
	// 3-D layers with every attribute PyTorch writes (ConvTranspose3d,
	// pools with ceil_mode, dilations, count_include_pad, grouped and
	// depthwise Conv3d): models/make_conv3d.py
	if n := verifyModels(t, "testdata/conv3d", kern.TierNames()); n != 3 {
		t.Fatalf("found %d 3-D CNN exports, want 3", n)
	}
	// narrow MobileNetV3, EfficientNet, LR-ASPP, U-Net and ShuffleNet of
	// torchvision's blocks, both export flavours:
	// models/make_tiny_family.sh
	if n := verifyModels(t, "testdata/family", kern.TierNames()); n != 10 {
		t.Fatalf("found %d family exports, want 10", n)
	}
	// heads and reductions (LogSoftmax, Softmax along a middle axis, Pow,
	// ReduceSum, ReduceMean, ReduceMax, ReduceMin over non-trailing axes)
	// after a Conv and a BatchNorm, and the other reductions (ReduceProd,
	// ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp)
	// at opset 18 after a BatchNormalization: models/make_gpu_ops.py
	if n := verifyModels(t, "testdata/gpuops", kern.TierNames()); n != 2 {
		t.Fatalf("found %d heads and reductions models, want 2", n)
	}
	// dynamic height and width, test sets at 10×12 (batch 2) and 16×16:
	// models/goldens.py nets:TinyRGB
	if n := verifyModels(t, "testdata/dynamic", kern.TierNames()); n != 1 {
		t.Fatalf("found %d dynamic-size exports, want 1", n)
	}
}

// TestGeneratedGoldens checks the large generated models (resnet18,
// resnet50, densenet121, mobilenet_v2 in both export flavours at every
// opset) when
// BNRUN_GOLDEN_DIR names the folder models/gen.sh wrote them to. CI's
// extended suite sets it; without it the test says so and skips.
func TestGeneratedGoldens(t *testing.T) {
	root := os.Getenv("BNRUN_GOLDEN_DIR")
	if root == "" {
		t.Skip("BNRUN_GOLDEN_DIR not set: the large-model golden suite runs in CI's extended suite (.ci/run)")
	}
	backends := strings.Fields(os.Getenv("BNRUN_GOLDEN_BACKENDS"))
	if len(backends) == 0 {
		// Every CPU tier this machine has but the slow reference.
		for _, name := range kern.TierNames() {
			if name != "ref" {
				backends = append(backends, name)
			}
		}
		if ok, why := cudaUsable(); ok {
			backends = append(backends, "cuda")
		} else {
			t.Logf("no CUDA device, the GPU is not checked: %v", why)
		}
	}
	if n := verifyModels(t, root, backends); n == 0 {
		t.Fatalf("no model.onnx under %s", root)
	}
}

// checkFoldTargets opens every BN-kept export under root and checks what
// the optimisation pass must achieve on it, and that the PyTorch-fused
// export of the same model optimises to the same op counts.
func checkFoldTargets(t *testing.T, root string) int {
	checked := 0
	for _, dir := range modelDirs(t, root) {
		base := filepath.Base(dir)
		if !strings.Contains(base, "_bn_op") {
			continue
		}
		arch := base[:strings.Index(base, "_bn_op")]
		t.Run(base, func(t *testing.T) {
			rep := foldReport(t, dir)
			after := rep.OpsAfter
			if after["BatchNormalization"] != 0 {
				t.Errorf("%d BatchNormalization left", after["BatchNormalization"])
			}
			switch {
			case strings.HasPrefix(arch, "resnet"):
				if after["Relu"] != 0 || after["Add"] != 0 {
					t.Errorf("standalone Relu %d, Add %d left", after["Relu"], after["Add"])
				}
			case strings.HasPrefix(arch, "mobilenet"):
				// ReLU6 (Clip) and the inverted residuals' Add ride in
				// the convolutions' epilogues
				if after["Clip"] != 0 || after["Add"] != 0 {
					t.Errorf("standalone Clip %d, Add %d left", after["Clip"], after["Add"])
				}
			case strings.HasPrefix(arch, "densenet"):
				norm1, trans := 0, 0
				for _, f := range rep.BatchNorms {
					switch {
					case strings.Contains(f.Node, "norm1"):
						norm1++
						if f.Fate != "fused-input" {
							t.Errorf("%s: %s (%s), want fused into its conv's input", f.Node, f.Fate, f.Reason)
						}
					case strings.Contains(f.Node, "transition"):
						// applied by the pool, which PoolConv put before the conv
						trans++
						if f.Fate != "fused-input" || !strings.Contains(f.Into, "pool") {
							t.Errorf("%s: %s into %q (%s), want fused into its pool's input", f.Node, f.Fate, f.Into, f.Reason)
						}
					}
				}
				if norm1 == 0 || trans == 0 {
					t.Errorf("%d norm1 and %d transition BatchNormalizations found, want some of each", norm1, trans)
				}
			}
			fused := filepath.Join(filepath.Dir(dir), strings.Replace(base, "_bn_op", "_fused_op", 1))
			if _, err := os.Stat(fused); err == nil {
				other := foldReport(t, fused).OpsAfter
				if fmt.Sprint(other) != fmt.Sprint(after) {
					t.Errorf("optimised op counts differ between export flavours:\n bn:    %v\n fused: %v", after, other)
				}
			}
		})
		checked++
	}
	return checked
}

func foldReport(t *testing.T, dir string) *bnrun.Inspection {
	t.Helper()
	m, err := bnrun.Open(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	insp, err := m.Inspect()
	if err != nil {
		t.Fatal(err)
	}
	return insp
}

// TestShippedFoldTargets checks the fold targets on the shipped models.
func TestShippedFoldTargets(t *testing.T) {
	if n := checkFoldTargets(t, "testdata/models"); n < 10 {
		t.Fatalf("checked %d BN-kept exports, want the 10 lenet and mlp ones", n)
	}
}

// TestGeneratedFoldTargets checks the fold targets on resnet18, resnet50,
// densenet121 and mobilenet_v2 when BNRUN_GOLDEN_DIR names the generated
// models (CI's extended suite); without it the test says so and skips.
func TestGeneratedFoldTargets(t *testing.T) {
	root := os.Getenv("BNRUN_GOLDEN_DIR")
	if root == "" {
		t.Skip("BNRUN_GOLDEN_DIR not set: the large-model fold targets run in CI's extended suite (.ci/run)")
	}
	if n := checkFoldTargets(t, root); n == 0 {
		t.Fatalf("no BN-kept exports under %s", root)
	}
}
