package bnrun_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
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
// each backend and fails on any mismatch at the default tolerance.
func verifyModels(t *testing.T, root string, backends []string) int {
	dirs := modelDirs(t, root)
	for _, dir := range dirs {
		for _, be := range backends {
			t.Run(filepath.Base(dir)+"/"+be, func(t *testing.T) {
				m, err := bnrun.Open(filepath.Join(dir, "model.onnx"), bnrun.WithBackend(be))
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
			})
		}
	}
	return len(dirs)
}

// TestShippedGoldens checks the small models committed in testdata
// against their PyTorch goldens, on every CPU tier.
func TestShippedGoldens(t *testing.T) {
	n := verifyModels(t, "testdata/models", []string{"ref", "generic"})
	if n < 20 {
		t.Fatalf("found %d shipped golden models, want the 20 lenet and mlp exports", n)
	}
}

// TestGeneratedGoldens checks the large generated models (resnet18,
// resnet50, densenet121 in both export flavours at every opset) when
// BNRUN_GOLDEN_DIR names the folder models/gen.sh wrote them to. CI's
// extended suite sets it; without it the test says so and skips.
func TestGeneratedGoldens(t *testing.T) {
	root := os.Getenv("BNRUN_GOLDEN_DIR")
	if root == "" {
		t.Skip("BNRUN_GOLDEN_DIR not set: the large-model golden suite runs in CI's extended suite (.ci/run)")
	}
	backends := strings.Fields(os.Getenv("BNRUN_GOLDEN_BACKENDS"))
	if len(backends) == 0 {
		backends = []string{"generic"}
	}
	if n := verifyModels(t, root, backends); n == 0 {
		t.Fatalf("no model.onnx under %s", root)
	}
}
