package fold

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/runtime"
)

// modelsDir holds the shipped test models, <model>_<flavour>_op<opset>,
// each with model.onnx and test_data_set_*/{input_0,output_0}.pb.
const modelsDir = "../testdata/models"

// TestShippedModels optimises every shipped model: no BatchNormalization
// may remain, the "bn" flavour (explicit BNs) and the "fused" flavour (BNs
// partly folded by the exporter) of a model and opset must end up with the
// same ops, and the optimised graph must reproduce each test data set's
// expected output.
func TestShippedModels(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(modelsDir, "*_op*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no models under %s (%v)", modelsDir, err)
	}
	after := map[string]map[string]map[string]int{} // model_opN -> flavour -> ops
	for _, dir := range dirs {
		base := filepath.Base(dir)
		parts := strings.Split(base, "_")
		if len(parts) != 3 {
			t.Errorf("unexpected model folder %s", base)
			continue
		}
		key, flavour := parts[0]+"_"+parts[2], parts[1]
		t.Run(base, func(t *testing.T) {
			g, err := loader.LoadFile(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			opt, rep := optimize(t, g)
			if n := rep.OpsAfter["BatchNormalization"]; n != 0 {
				t.Errorf("%d BatchNormalization nodes remain: %+v", n, rep.BatchNorms)
			}
			for _, f := range rep.BatchNorms {
				if f.Fate != "folded" {
					t.Errorf("BN %s: fate %s (%s), want folded", f.Node, f.Fate, f.Reason)
				}
			}
			if after[key] == nil {
				after[key] = map[string]map[string]int{}
			}
			after[key][flavour] = rep.OpsAfter
			checkTestData(t, dir, opt)
		})
	}
	for key, fl := range after {
		if len(fl) != 2 || fl["bn"] == nil || fl["fused"] == nil {
			t.Errorf("%s: has %d flavours, want bn and fused", key, len(fl))
			continue
		}
		if !equalCounts(fl["bn"], fl["fused"]) {
			t.Errorf("%s: OpsAfter differ: bn %v, fused %v", key, fl["bn"], fl["fused"])
		}
	}
	for _, m := range []string{"lenet", "mlp"} {
		for _, op := range []int{9, 11, 13, 14, 17} {
			if after[fmt.Sprintf("%s_op%d", m, op)] == nil {
				t.Errorf("model %s at opset %d missing", m, op)
			}
		}
	}
}

// checkTestData runs each test_data_set_* of dir through g with the
// reference kernels and compares output_0 within 1e-4 + 1e-4|want|.
func checkTestData(t *testing.T, dir string, g *ir.Graph) {
	t.Helper()
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		t.Fatalf("%s has no test data sets", dir)
	}
	prog, err := runtime.Compile(g, runtime.Options{Kernels: kern.Reference, Threads: 1})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer prog.Close()
	for _, set := range sets {
		_, in, err := loader.ReadTensorFile(filepath.Join(set, "input_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		_, want, err := loader.ReadTensorFile(filepath.Join(set, "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		outs, err := prog.Run(context.Background(), []*ir.Tensor{in})
		if err != nil {
			t.Fatalf("%s: Run: %v", set, err)
		}
		closeTensors(t, filepath.Base(set), outs[0], want, 1e-4, 1e-4)
	}
}
