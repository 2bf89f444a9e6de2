package fold

import (
	"context"
	"errors"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"

	"github.com/bnrun/bnrun/ir"
)

// scaleNodes is the size of the graphs of TestOptimizeScale: large enough
// that a rule whose cost grows with the square of the graph (rebuilding
// its indexes, compacting the node list or renaming by a scan of every
// node after each rewrite, or rescanning the whole graph for each rewrite
// that enables one behind it) takes hours, not seconds.
const scaleNodes = 200000

// scaleLimit is the time one graph of scaleNodes nodes may take to
// optimise: generous (they take about a second), so that only a
// regression to quadratic time fails.
const scaleLimit = 60 * time.Second

// name returns prefix followed by i.
func name(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// scaleGraph is a large graph and what optimising it must do: how often
// each rule fires and how many nodes of some op types remain.
type scaleGraph struct {
	g     *ir.Graph
	rules map[string]int
	after map[string]int
}

// opNode is a default-domain node at opset 13.
func opNode(nodeName, op string, ins, outs []string, attrs ...*ir.Attr) *ir.Node {
	n := &ir.Node{Name: nodeName, OpType: op, Opset: 13, Attrs: map[string]*ir.Attr{}, Inputs: ins, Outputs: outs}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

// reversed reverses a slice in place and returns it.
func reversed[T any](s []T) []T {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

// identityChain is X -> op -> op -> ... -> Relu -> Y, about n nodes, of
// op (Identity, or Dropout with the given extra inputs), in file order or
// reversed. With fanout, that many Relus read the last link (and Adds sum
// them), so that renaming readers link by link would move them once per
// link.
func identityChain(n int, op, extra string, reverse bool, fanout int) scaleGraph {
	b := newBuilder(1)
	b.input("X", N, 2)
	b.initI64("tm0", []int{}, 0)
	links := n - 1 - 2*fanout
	prev := "X"
	var nodes []*ir.Node
	for i := range links {
		out := name("t", i)
		nodes = append(nodes, opNode(name("n", i), op, append([]string{prev}, split(extra)...), []string{out}))
		prev = out
	}
	if reverse {
		reversed(nodes)
	}
	b.g.Nodes = nodes
	sum := ""
	for i := range fanout {
		f := name("f", i)
		b.node(name("fan", i), "Relu", prev, f)
		if sum == "" {
			sum = f
			b.node(name("sum", i), "Relu", f, name("s", i))
		} else {
			b.node(name("sum", i), "Add", sum+","+f, name("s", i))
		}
		sum = name("s", i)
	}
	if sum == "" {
		sum = prev
	}
	b.node("last", "Relu", sum, "Y")
	b.output("Y")
	return scaleGraph{g: b.g, rules: map[string]int{"IdentityElim": links}, after: map[string]int{op: 0}}
}

// constChain is a chain of about n nodes: X + k0 + k1 + ..., each ki a
// Constant node (the Constants fold, the Adds stay), or, with folded,
// k + k + ... (every node folds, the last Add reads X). With pads, a Relu
// of X follows each link and the file lists the links last to first, so
// that each fold enables a node that comes earlier in the file, behind
// the node before it.
func constChain(n int, folded, pads bool) scaleGraph {
	b := newBuilder(2)
	b.input("X", N, 2)
	per := 2
	if folded {
		per = 1
	}
	if pads {
		per++
	}
	prev := "X"
	var first []*ir.Node
	if folded {
		prev = "k"
		first = []*ir.Node{opNode("k", "Constant", nil, []string{"k"}, aTensor("value", ir.NewF32([]int{2}, []float32{1, 2})))}
	}
	var links [][]*ir.Node
	for i := range (n - 2) / per {
		var link []*ir.Node
		other := "k"
		if !folded {
			other = name("k", i)
			link = append(link, opNode(other, "Constant", nil, []string{other}, aFloat("value_float", float32(i%5))))
		}
		out := name("a", i)
		link = append(link, opNode(out, "Add", []string{prev, other}, []string{out}))
		if pads {
			link = append(link, opNode(name("pad", i), "Relu", []string{"X"}, []string{name("p", i)}))
			b.output(name("p", i))
		}
		links = append(links, link)
		prev = out
	}
	if pads {
		reversed(links)
	}
	b.g.Nodes = first
	for _, l := range links {
		b.g.Nodes = append(b.g.Nodes, l...)
	}
	b.node("sum", "Add", "X,"+prev, "Y")
	b.output("Y")
	sg := scaleGraph{g: b.g, rules: map[string]int{"ConstFold": len(links)}, after: map[string]int{"Constant": 0, "Add": 1}}
	if folded {
		sg.rules["ConstFold"]++
	} else {
		sg.after["Add"] += len(links)
	}
	return sg
}

// convChain repeats Conv -> BatchNormalization -> Add (the block's input)
// -> Relu, n/4 times, all 1x1 Convs on 2 channels sharing one weight and
// one set of BN parameters: ConvBN, ConvAdd and ConvAct each fire once per
// block.
func convChain(n int) scaleGraph { return convChainNamed(n, false) }

// convChainNamed is convChain, with every Conv named "conv" when alike:
// the weights folded into them get names conv_W_bn, conv_W_bn_1, ...,
// which must not be found by trying every suffix from 1 each time.
func convChainNamed(n int, alike bool) scaleGraph {
	b := newBuilder(3)
	b.input("X", N, 2, 2, 2)
	b.randInit("W", []int{2, 2, 1, 1}, -0.5, 0.5)
	params := b.bnParams("bn", 2)
	h := "X"
	blocks := n / 4
	for i := range blocks {
		c, bn, a, r := name("c", i), name("b", i), name("a", i), name("r", i)
		conv := name("conv", i)
		if alike {
			conv = "conv"
		}
		b.node(conv, "Conv", h+",W", c)
		b.node(name("bn", i), "BatchNormalization", c+","+params, bn)
		b.node(name("add", i), "Add", bn+","+h, a)
		b.node(name("relu", i), "Relu", a, r)
		h = r
	}
	b.node("out", "Sigmoid", h, "Y")
	b.output("Y")
	return scaleGraph{g: b.g, rules: map[string]int{"ConvBN": blocks, "ConvAdd": blocks, "ConvAct": blocks},
		after: map[string]int{"bnrun.FusedConv": blocks, "Sigmoid": 1}}
}

// affineChain repeats BatchNormalization -> Relu -> Conv (padded, so that
// the BN cannot fold into it) -> Sigmoid, n/4 times: BNAffine, AffineAct,
// AffineConv and ConvAct each fire once per block.
func affineChain(n int) scaleGraph {
	b := newBuilder(4)
	b.input("X", N, 2, 3, 3)
	b.randInit("W", []int{2, 2, 3, 3}, -0.5, 0.5)
	params := b.bnParams("bn", 2)
	h := "X"
	blocks := n / 4
	for i := range blocks {
		bn, r, c, s := name("b", i), name("r", i), name("c", i), name("s", i)
		b.node(name("bn", i), "BatchNormalization", h+","+params, bn)
		b.node(name("relu", i), "Relu", bn, r)
		b.node(name("conv", i), "Conv", r+",W", c, pads2(1))
		b.node(name("sig", i), "Sigmoid", c, s)
		h = s
	}
	b.node("out", "Tanh", h, "Y")
	b.output("Y")
	return scaleGraph{g: b.g, rules: map[string]int{"BNAffine": blocks, "AffineAct": blocks, "AffineConv": blocks, "ConvAct": blocks},
		after: map[string]int{"bnrun.FusedConv": blocks, "Tanh": 1, "BatchNormalization": 0}}
}

// gemmChain repeats Gemm -> BatchNormalization -> Relu ->
// BatchNormalization over 2 features, n/4 times, and a last Gemm: GemmBN,
// GemmAct and BNConv (the second BN into the next Gemm) each fire once
// per block.
func gemmChain(n int) scaleGraph {
	b := newBuilder(5)
	b.input("X", N, 2)
	b.randInit("B", []int{2, 2}, -0.5, 0.5)
	b.randInit("C", []int{2}, -0.5, 0.5)
	params := b.bnParams("bn", 2)
	h := "X"
	blocks := n / 4
	for i := range blocks {
		g, bn, r, bi := name("g", i), name("b", i), name("r", i), name("i", i)
		b.node(name("gemm", i), "Gemm", h+",B,C", g)
		b.node(name("bn", i), "BatchNormalization", g+","+params, bn)
		b.node(name("relu", i), "Relu", bn, r)
		b.node(name("bnin", i), "BatchNormalization", r+","+params, bi)
		h = bi
	}
	b.node("out", "Gemm", h+",B,C", "Y")
	b.output("Y")
	return scaleGraph{g: b.g, rules: map[string]int{"GemmBN": blocks, "GemmAct": blocks, "BNConv": blocks},
		after: map[string]int{"bnrun.FusedGemm": blocks, "Gemm": 1}}
}

// scaleCases builds graphs of about n nodes of every kind fold removes or
// rewrites.
var scaleCases = []struct {
	name  string
	build func(n int) scaleGraph
}{
	{"Identity chain", func(n int) scaleGraph { return identityChain(n, "Identity", "", false, 0) }},
	{"Dropout chain", func(n int) scaleGraph { return identityChain(n, "Dropout", "", false, 0) }},
	{"Dropout chain with training_mode false", func(n int) scaleGraph { return identityChain(n, "Dropout", ",tm0", false, 0) }},
	{"Identity chain reversed with 1000 readers", func(n int) scaleGraph { return identityChain(n, "Identity", "", true, 1000) }},
	{"Constants into an Add chain", func(n int) scaleGraph { return constChain(n, false, false) }},
	{"constant Add chain", func(n int) scaleGraph { return constChain(n, true, false) }},
	{"constant Add chain reversed between Relus", func(n int) scaleGraph { return constChain(n, true, true) }},
	{"Conv BN Add Relu chain", convChain},
	{"Conv BN Add Relu chain, Convs named alike", func(n int) scaleGraph { return convChainNamed(n, true) }},
	{"BN Relu Conv Sigmoid chain", affineChain},
	{"Gemm BN Relu BN chain", gemmChain},
}

// TestOptimizeScale optimises graphs of scaleNodes nodes of every kind
// fold rewrites, each in far less than scaleLimit: every rule costs about
// linear time in the graph (20 000 Identity nodes took 20 s when each
// rewrite rebuilt the indexes and compacted the node list).
func TestOptimizeScale(t *testing.T) {
	n := scaleNodes
	if testing.Short() {
		n /= 10
	}
	for _, c := range scaleCases {
		t.Run(c.name, func(t *testing.T) {
			sg := c.build(n)
			start := time.Now()
			_, rep := Optimize(sg.g)
			d := time.Since(start)
			t.Logf("%d nodes: %v", len(sg.g.Nodes), d)
			if d > scaleLimit {
				t.Errorf("%d nodes took %v to optimise", len(sg.g.Nodes), d)
			}
			for r, want := range sg.rules {
				if got := rep.Rules[r]; got != want {
					t.Errorf("%s fired %d times, want %d", r, got, want)
				}
			}
			for op, want := range sg.after {
				if got := rep.OpsAfter[op]; got != want {
					t.Errorf("%d %s nodes after, want %d", got, op, want)
				}
			}
		})
	}
}

// TestOptimizeContext stops optimising when the context is done, soon
// after, with an error that wraps the context's.
func TestOptimizeContext(t *testing.T) {
	g := convChain(scaleNodes).g
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := OptimizeContext(ctx, g); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// Deadlines in the phases: copying and indexing, proving shapes, the
	// rules' scans (where on a typical machine; the log says).
	for _, after := range []time.Duration{20 * time.Millisecond, 600 * time.Millisecond, 1200 * time.Millisecond, 2500 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		start := time.Now()
		_, _, err := OptimizeContext(ctx, g)
		cancel()
		d := time.Since(start)
		t.Logf("deadline %v: stopped after %v: %v", after, d, err)
		if err == nil {
			continue // a fast machine finished first
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("deadline %v: %v", after, err)
		}
		if d > after+time.Second {
			t.Errorf("deadline %v: stopped after %v", after, d)
		}
	}
}

// TestOptimizeSharedWeights: many Convs reading one large weight, each
// followed by a BN. Folding each BN makes a copy of the weight, which the
// rules stop making at their bound on new constants: this 2.4 MB graph
// made 950 MB of weights (a file of 50 000 such Convs sharing a 36 MiB
// weight would have made 1.8 TB).
func TestOptimizeSharedWeights(t *testing.T) {
	const convs, c = 400, 256
	b := newBuilder(6)
	b.input("X", N, c, 3, 3)
	b.randInit("W", []int{c, c, 3, 3}, -0.1, 0.1)
	params := b.bnParams("bn", c)
	h := "X"
	for i := range convs {
		b.node(name("conv", i), "Conv", h+",W", name("c", i), pads2(1))
		b.node(name("bn", i), "BatchNormalization", name("c", i)+","+params, name("b", i))
		h = name("b", i)
	}
	b.output(h)
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, rep := Optimize(b.g)
	goruntime.ReadMemStats(&ms)
	mb := (ms.TotalAlloc - before) >> 20
	t.Logf("allocated %d MiB; rules %v", mb, rep.Rules)
	if mb > 300 {
		t.Errorf("Optimize allocated %d MiB", mb)
	}
	folded := rep.Rules["ConvBN"]
	if folded == 0 || folded >= convs {
		t.Errorf("%d of %d BNs folded, want some, not all", folded, convs)
	}
	// The others become per-channel affine steps, which make constants
	// of two channel vectors each.
	if got := rep.Rules["BNAffine"]; folded+got != convs {
		t.Errorf("%d BNs folded and %d made affine, want %d in all", folded, got, convs)
	}
}
