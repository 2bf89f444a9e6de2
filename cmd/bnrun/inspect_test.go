package main

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// TestInspectJSONObjects: inspect --json gives inputs and outputs as
// objects (name, dtype, declared shape with dim names, the shape at
// --batch) and what the file says about itself.
func TestInspectJSONObjects(t *testing.T) {
	code, out, errs := runCLI("inspect", "--json", "--batch", "3", filepath.Join(lenetDir, "model.onnx"))
	var js struct {
		Info struct {
			IRVersion    int64             `json:"ir_version"`
			ProducerName string            `json:"producer_name"`
			Opsets       map[string]int    `json:"opsets"`
			Metadata     map[string]string `json:"metadata"`
		} `json:"info"`
		Inputs, Outputs []struct {
			Name     string   `json:"name"`
			DType    string   `json:"dtype"`
			Shape    []int    `json:"shape"`
			DimNames []string `json:"dim_names"`
			RunShape []int    `json:"run_shape"`
		}
	}
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s%s", code, err, out, errs)
	}
	in, o := js.Inputs, js.Outputs
	if len(in) != 1 || in[0].Name != "input" || in[0].DType != "float32" || !slices.Equal(in[0].Shape, []int{-1, 1, 28, 28}) ||
		!slices.Equal(in[0].DimNames, []string{"batch", "", "", ""}) || !slices.Equal(in[0].RunShape, []int{3, 1, 28, 28}) {
		t.Errorf("inputs %+v", in)
	}
	if len(o) != 1 || o[0].Name != "output" || !slices.Equal(o[0].Shape, []int{-1, 10}) || !slices.Equal(o[0].RunShape, []int{3, 10}) {
		t.Errorf("outputs %+v", o)
	}
	if js.Info.IRVersion < 3 || js.Info.ProducerName != "pytorch" || js.Info.Opsets["ai.onnx"] != 17 || js.Info.Metadata["bnrun.arch"] != "lenet" {
		t.Errorf("info %+v", js.Info)
	}
	code, out, _ = runCLI("inspect", filepath.Join(lenetDir, "model.onnx"))
	if code != 0 || !strings.Contains(out, "info     IR ") || !strings.Contains(out, "opsets ai.onnx:17") ||
		!strings.Contains(out, "metadata bnrun.arch: lenet") || !strings.Contains(out, "input    input: float32 [batch,1,28,28] at [1,1,28,28]") {
		t.Errorf("text:\n%s", out)
	}
}

// TestInspectDot: the DOT graph's nodes carry their output shapes at
// --batch, their window attributes and the kernel that computes them.
func TestInspectDot(t *testing.T) {
	dot := filepath.Join(t.TempDir(), "g.dot")
	if code, _, errs := runCLI("inspect", "--dot", dot, "--batch", "2", filepath.Join(lenetDir, "model.onnx")); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(dot)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	tier := kern.Best().Name
	for _, want := range []string{
		`in0 [shape=ellipse, label="input\n[2,1,28,28]"]`,
		`FusedConv + Sigmoid\n[2,6,24,24]\nkernel_shape 5×5\n` + tier + " ",
		`AveragePool\n[2,6,12,12]\nkernel_shape 2×2  strides 2×2`,
		`out0 [shape=ellipse, label="output\n[2,10]"]`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("dot lacks %q:\n%s", want, s)
		}
	}
	// a model with dynamic dims and no --dim: the graph without shapes
	if code, _, errs := runCLI("inspect", "--dot", dot, filepath.Join(dynamicDir, "model.onnx")); code != 0 {
		t.Fatalf("dynamic: exit %d: %s", code, errs)
	}
	if data, _ = os.ReadFile(dot); !strings.Contains(string(data), `label="FusedConv + Relu\nkernel_shape 3×3", tooltip`) || strings.Contains(string(data), "[1,") {
		t.Errorf("dynamic without --dim:\n%s", data)
	}
}

// TestCLIUsesPublicAPI: the CLI is built on the packages a program
// embedding bnrun has (the root package, vision, npy), not on the
// internals behind them, so that what it shows a program can show too.
func TestCLIUsesPublicAPI(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	internal := []string{"runtime", "fold", "kern", "ops", "loader"}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			for _, pkg := range internal {
				if strings.Trim(imp.Path.Value, `"`) == "github.com/bnrun/bnrun/"+pkg {
					t.Errorf("%s imports %s", f, imp.Path.Value)
				}
			}
		}
	}
}
