package bnrun_test

import (
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
)

// Inspect the tiny model at batch 2: what the optimisation pass did, and
// each node that runs with its output shape and multiply-accumulates.
func ExampleModel_Inspect() {
	m, err := bnrun.Open("testdata/tiny/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	insp, err := m.Inspect([]int{2, 2, 6, 6})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("BatchNormalization before and after:", insp.OpsBefore["BatchNormalization"], insp.OpsAfter["BatchNormalization"])
	for _, b := range insp.BatchNorms {
		fmt.Println(b.Node, b.Fate, "into", b.Into)
	}
	for _, n := range insp.Nodes {
		fmt.Printf("%-8s %-18s %v %d MACs\n", n.Name, n.Label, n.OutputShapes[0], n.MACs)
	}
	fmt.Println("output", insp.OutputShapes[0])
	// insp.WriteDot(f) writes this graph for Graphviz.

	// Output:
	// BatchNormalization before and after: 2 0
	// bn1 folded into conv1
	// bn2 folded into fc
	// conv1    FusedConv + Relu   [2 3 6 6] 3888 MACs
	// conv2    FusedConv + Add    [2 3 6 6] 648 MACs
	// pool     MaxPool            [2 3 3 3] 0 MACs
	// gap      GlobalAveragePool  [2 3 1 1] 0 MACs
	// flat     Flatten            [2 3] 0 MACs
	// fc       Gemm               [2 4] 24 MACs
	// softmax  Softmax            [2 4] 0 MACs
	// output [2 4]
}

// TestInspect: the inspection of the tiny model with and without shapes,
// opened with and without the optimisation pass; its MACs add up to
// Stats'; bad shapes and a closed model give the errors Run would.
func TestInspect(t *testing.T) {
	const path = "testdata/tiny/model.onnx"
	m, err := bnrun.Open(path, bnrun.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	insp, err := m.Inspect([]int{3, 2, 6, 6})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats(3)
	if err != nil {
		t.Fatal(err)
	}
	var macs int64
	for _, n := range insp.Nodes {
		macs += n.MACs
	}
	if !insp.Optimised || insp.OpsBefore["Conv"] != 2 || insp.OpsAfter["bnrun.FusedConv"] != 2 || insp.OpsAfter["Conv"] != 0 ||
		insp.Rules["ConvBN"] != 1 || insp.Rules["GemmBN"] != 1 || len(insp.BatchNorms) != 2 {
		t.Errorf("report: %+v", insp)
	}
	if macs != st.TotalMACs || !slices.Equal(insp.Shapes[0], []int{3, 2, 6, 6}) || !slices.Equal(insp.OutputShapes[0], []int{3, 4}) ||
		insp.ActivationBytes < 4*3*3*6*6 {
		t.Errorf("at batch 3: %d MACs (Stats %d), shapes %v -> %v, %d activation bytes", macs, st.TotalMACs, insp.Shapes, insp.OutputShapes, insp.ActivationBytes)
	}
	conv := insp.Nodes[0]
	if conv.Op != "bnrun.FusedConv" || conv.Label != "FusedConv + Relu" || conv.Window != "kernel_shape 3×3" ||
		!slices.Equal(conv.Inputs[:1], []string{"x"}) || !strings.HasPrefix(conv.Kernel, m.Backend()) {
		t.Errorf("first node %+v", conv)
	}
	var dot strings.Builder
	if err := insp.WriteDot(&dot); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`in0 [shape=ellipse, label="x\n[3,2,6,6]"]`, `n0 [label="FusedConv + Relu\n[3,3,6,6]\nkernel_shape 3×3\n` + m.Backend(),
		"in0 -> n0;", `out0 [shape=ellipse, label="y\n[3,4]"]`, "n6 -> out0;"} {
		if !strings.Contains(dot.String(), want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot.String())
		}
	}
	// Without shapes: no plan, nothing at shapes.
	bare, err := m.Inspect()
	if err != nil {
		t.Fatal(err)
	}
	if bare.Shapes != nil || bare.OutputShapes != nil || bare.ActivationBytes != 0 || len(bare.Nodes) != len(insp.Nodes) ||
		bare.Nodes[0].OutputShapes != nil || bare.Nodes[0].Kernel != "" || bare.Nodes[0].MACs != 0 {
		t.Errorf("without shapes: %+v", bare)
	}
	// The maps are the caller's.
	bare.OpsAfter["Conv"] = 99
	if again, _ := m.Inspect(); again.OpsAfter["Conv"] != 0 {
		t.Errorf("Inspect's maps are shared between calls")
	}
	var ie *bnrun.InputError
	if _, err := m.Inspect([]int{3, 2, 7, 6}); !errors.Is(err, bnrun.ErrInputShape) || !errors.As(err, &ie) || ie.Input != "x" {
		t.Errorf("bad shape: %v", err)
	}
	if _, err := m.Inspect([]int{3, 2, 6, 6}, []int{1}); !errors.Is(err, bnrun.ErrUnknownInput) {
		t.Errorf("two shapes for one input: %v", err)
	}
	m.Close()
	if _, err := m.Inspect([]int{1, 2, 6, 6}); !errors.Is(err, bnrun.ErrClosed) {
		t.Errorf("closed, with shapes: %v", err)
	}
	if _, err := m.Inspect(); err != nil {
		t.Errorf("closed, without shapes: %v", err)
	}

	// WithoutFold: the graph as loaded, every BN kept.
	raw, err := bnrun.Open(path, bnrun.WithoutFold())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ri, err := raw.Inspect([]int{1, 2, 6, 6})
	if err != nil {
		t.Fatal(err)
	}
	if ri.Optimised || ri.OpsAfter["BatchNormalization"] != 2 || fmt.Sprint(ri.OpsBefore) != fmt.Sprint(ri.OpsAfter) || len(ri.Rules) != 0 ||
		len(ri.BatchNorms) != 2 || ri.BatchNorms[0].Fate != "kept" || len(ri.Nodes) != 11 {
		t.Errorf("WithoutFold: %+v", ri)
	}
}
