package fold

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestOptimizeReport checks the report of a graph with BNs of every fate:
// folded, standalone affine, fused into a conv's input, and kept.
func TestOptimizeReport(t *testing.T) {
	b := newBuilder(1100)
	b.input("X", N, 3, 6, 6)
	b.input("scale", 4)
	b.conv("conv1", "X", "c1", 3, 4, []int{3, 3}, 1, true, pads2(1))
	b.bn("bn_folded", "c1", "b1", 4)
	b.node("cat", "Concat", "b1,X", "cat", aInt("axis", 1))
	b.bn("bn_affine", "cat", "a", 7)
	b.node("sig", "Sigmoid", "a", "s")
	b.bn("bn_input", "s", "p", 7)
	b.conv("conv2", "p", "c2", 7, 4, []int{3, 3}, 1, false, pads2(1))
	b.randInit("kb", []int{4}, -1, 1)
	b.randInit("km", []int{4}, -1, 1)
	b.randInit("kv", []int{4}, 0.1, 3)
	b.node("bn_kept", "BatchNormalization", "c2,scale,kb,km,kv", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsBefore, map[string]int{"Conv": 2, "BatchNormalization": 4, "Concat": 1, "Sigmoid": 1})
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1, "Concat": 1, "bnrun.Affine": 1, "bnrun.FusedConv": 1, "BatchNormalization": 1})
	wantRules(t, rep, map[string]int{"ConvBN": 1, "BNAffine": 2, "AffineAct": 1, "AffineConv": 1})
	var nodes []string
	for _, f := range rep.BatchNorms {
		nodes = append(nodes, f.Node)
	}
	if want := []string{"bn_folded", "bn_affine", "bn_input", "bn_kept"}; !reflect.DeepEqual(nodes, want) {
		t.Errorf("BatchNorms nodes = %q, want %q in graph order", nodes, want)
	}
	wantFates(t, rep, "folded:conv1", "affine:bn_affine", "fused-input:conv2", "kept")
	if r := rep.BatchNorms[3].Reason; r == "" {
		t.Errorf("kept BN has no reason")
	}
	if sig := findOp(opt, "Sigmoid"); len(sig) != 0 {
		t.Errorf("Sigmoid was not fused into the Affine")
	}
	js, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(js), `"fate":"fused-input"`) || !strings.Contains(string(js), `"ops_before"`) {
		t.Errorf("report JSON %s (%v)", js, err)
	}
	ins := randInputs(b.g, b.rng, 2)
	closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], relTol, relTol)
}

// TestOptimizeLeavesInput checks that g still runs as before after
// Optimize: same nodes, same node values, same outputs.
func TestOptimizeLeavesInput(t *testing.T) {
	b := newBuilder(1101)
	resBlock(b, "b2,X")
	nodes := append(b.g.Nodes[:0:0], b.g.Nodes...)
	nInits := len(b.g.Initializers)
	ins := randInputs(b.g, b.rng, 2)
	before := run(t, b.g, ins)
	opt, _ := optimize(t, b.g)
	if len(b.g.Nodes) != len(nodes) || len(b.g.Initializers) != nInits {
		t.Fatalf("input graph now has %d nodes and %d initializers, had %d and %d",
			len(b.g.Nodes), len(b.g.Initializers), len(nodes), nInits)
	}
	for i, n := range b.g.Nodes {
		if n != nodes[i] {
			t.Errorf("node %d replaced", i)
		}
		for _, o := range opt.Nodes {
			if o == n {
				t.Errorf("node %q is shared by the input and the optimised graph", n.Name)
			}
		}
	}
	if _, ok := b.g.Opsets[Domain]; ok {
		t.Errorf("input graph's opsets gained %s", Domain)
	}
	closeTensors(t, "Y", run(t, b.g, ins)[0], before[0], 0, 0)
}

// TestOptimizeIdempotent checks that optimising an optimised graph changes
// nothing more.
func TestOptimizeIdempotent(t *testing.T) {
	b := newBuilder(1102)
	resBlock(b, "X,b2")
	opt, rep := optimize(t, b.g)
	opt2, rep2 := optimize(t, opt)
	if len(rep2.Rules) != 0 {
		t.Errorf("second pass fired %v", rep2.Rules)
	}
	wantOps(t, rep2.OpsAfter, rep.OpsAfter)
	if describe(opt2) != describe(opt) {
		t.Errorf("second pass changed the graph:\n%s\nvs\n%s", describe(opt), describe(opt2))
	}
}

// TestOptimizeNothingToDo leaves a graph with nothing to fold as it was,
// without declaring the bnrun domain.
func TestOptimizeNothingToDo(t *testing.T) {
	b := newBuilder(1103)
	b.input("X", N, 3)
	b.node("sig", "Sigmoid", "X", "s")
	b.node("relu", "Relu", "s", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	if describe(opt) != describe(b.g) {
		t.Errorf("graph changed:\n%s", describe(opt))
	}
	if len(rep.BatchNorms) != 0 || len(rep.Rules) != 0 {
		t.Errorf("report %+v, want no BNs and no rules", rep)
	}
	if _, ok := opt.Opsets[Domain]; ok {
		t.Errorf("opsets %v declare %s with no fused node", opt.Opsets, Domain)
	}
}

// TestOptimizeUndeclaredShapes runs the rules on a graph whose input shape
// is not declared: the rules that need proven shapes (ConvAdd, MatMul
// folding) hold back, the others still apply.
func TestOptimizeUndeclaredShapes(t *testing.T) {
	b := newBuilder(1104)
	resBlock(b, "b2,X")
	b.g.Inputs[0].Dims = nil
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"bnrun.FusedConv": 1, "Conv": 1, "Add": 1, "Relu": 1})
	wantRules(t, rep, map[string]int{"ConvBN": 2, "ConvAct": 1})
	wantFates(t, rep, "folded:conv1", "folded:conv2")
	if add := oneOp(t, opt, "Add"); add.Outputs[0] != "s" {
		t.Errorf("Add writes %q, want s", add.Outputs[0])
	}
	for _, batch := range []int{1, 3} {
		ins := []*ir.Tensor{ir.NewF32([]int{batch, 4, 6, 6}, b.uniform(batch*4*36, -2, 2))}
		closeTensors(t, "Y", run(t, opt, ins)[0], run(t, b.g, ins)[0], relTol, relTol)
	}
}

// TestSortedOps lists op types in order.
func TestSortedOps(t *testing.T) {
	got := SortedOps(map[string]int{"Relu": 1, "bnrun.Affine": 2, "Conv": 3})
	if want := []string{"Conv", "Relu", "bnrun.Affine"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SortedOps = %q, want %q", got, want)
	}
}
