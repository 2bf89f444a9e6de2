package fold

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestConstFoldConstant turns a Constant node into an initializer.
func TestConstFoldConstant(t *testing.T) {
	b := newBuilder(1000)
	b.input("X", N, 4)
	b.node("k", "Constant", "", "k", aTensor("value", ir.NewF32([]int{4}, []float32{1, -2, 3.5, 0.25})))
	b.node("add", "Add", "X,k", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Add": 1})
	wantRules(t, rep, map[string]int{"ConstFold": 1})
	if c := opt.Initializers["k"]; c == nil || c.F32[2] != 3.5 {
		t.Errorf("initializer k = %+v, want the Constant's value", c)
	}
	sameOutputs(t, b.g, opt)
}

// TestConstFoldSubgraph evaluates a chain of nodes whose inputs are all
// constants once, leaving only the node that reads the graph input.
func TestConstFoldSubgraph(t *testing.T) {
	b := newBuilder(1001)
	b.input("X", N, 3, 2)
	b.node("c1", "Constant", "", "c1", aFloat("value_float", 1.5))
	b.randInit("k", []int{3, 1}, -1, 1)
	b.node("mul", "Mul", "c1,k", "m")
	b.node("relu", "Relu", "m", "r")
	b.node("sub", "Sub", "X,r", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Sub": 1})
	wantRules(t, rep, map[string]int{"ConstFold": 3})
	if _, ok := opt.Initializers["k"]; ok {
		t.Errorf("initializer k, read only by folded nodes, was kept")
	}
	if r := opt.Initializers["r"]; r == nil || !ir.SameShape(r.Shape, []int{3, 1}) {
		t.Errorf("folded initializer r = %+v, want shape [3 1]", r)
	}
	sameOutputs(t, b.g, opt)
}

// TestConstFoldEnablesConvBN folds a Conv and BN whose weights and
// parameters come from Constant nodes, as some exporters write them.
func TestConstFoldEnablesConvBN(t *testing.T) {
	b := newBuilder(1002)
	b.input("X", N, 2, 5, 5)
	b.randInit("Wsrc", []int{3, 2, 3, 3}, -0.5, 0.5)
	b.node("w", "Constant", "", "W", aTensor("value", b.g.Initializers["Wsrc"]))
	delete(b.g.Initializers, "Wsrc")
	b.node("conv", "Conv", "X,W", "c")
	params := b.bnParams("bn", 3)
	for i, p := range split(params) {
		name := []string{"s", "bb", "mu", "v"}[i]
		b.node(name, "Constant", "", name, aTensor("value", b.g.Initializers[p]))
		delete(b.g.Initializers, p)
	}
	b.node("bn", "BatchNormalization", "c,s,bb,mu,v", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Conv": 1})
	wantRules(t, rep, map[string]int{"ConstFold": 5, "ConvBN": 1})
	wantFates(t, rep, "folded:conv")
	sameOutputs(t, b.g, opt)
}

// TestConstFoldShape folds an int64 Constant used as a Reshape's shape.
func TestConstFoldShape(t *testing.T) {
	b := newBuilder(1003)
	b.input("X", N, 2, 3)
	b.node("shape", "Constant", "", "shape", aTensor("value", ir.NewI64([]int{2}, []int64{0, -1})))
	b.node("reshape", "Reshape", "X,shape", "Y")
	b.output("Y")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Reshape": 1})
	wantRules(t, rep, map[string]int{"ConstFold": 1})
	if s := opt.Initializers["shape"]; s == nil || s.DType != ir.Int64 {
		t.Errorf("initializer shape = %+v, want int64", s)
	}
	sameOutputs(t, b.g, opt)
}

// TestConstFoldGraphOutput folds a constant node whose output is a graph
// output: the output becomes an initializer and keeps its value.
func TestConstFoldGraphOutput(t *testing.T) {
	b := newBuilder(1004)
	b.input("X", N, 2)
	b.randInit("k", []int{2}, -1, 1)
	b.node("relu_k", "Relu", "k", "K")
	b.node("relu", "Relu", "X", "Y")
	b.output("Y", "K")
	opt, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"Relu": 1})
	wantRules(t, rep, map[string]int{"ConstFold": 1})
	if _, ok := opt.Initializers["K"]; !ok {
		t.Errorf("graph output K is not an initializer")
	}
	sameOutputs(t, b.g, opt)
}

// TestConstFoldKeeps leaves nodes that read a graph input, and constant
// nodes whose output would be too large to store.
func TestConstFoldKeeps(t *testing.T) {
	b := newBuilder(1005)
	b.input("X", N, 2)
	b.initI64("big", []int{1}, maxFoldElems+1)
	b.node("cos", "ConstantOfShape", "big", "z")
	b.node("relu", "Relu", "X", "Y")
	b.output("Y", "z")
	_, rep := optimize(t, b.g)
	wantOps(t, rep.OpsAfter, map[string]int{"ConstantOfShape": 1, "Relu": 1})
	wantRules(t, rep, map[string]int{})
}
