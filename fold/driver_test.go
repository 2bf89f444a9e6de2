package fold

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/runtime"
)

// referenceRun runs a rule the plain way work.scan and the IdentityElim
// pass stand for: a scan in graph order that, after each rewrite, rebuilds
// every index from scratch and carries on from the node before, repeated
// until a scan changes nothing; for IdentityElim the same scan, renaming
// the readers of each removed node's output by looking at every node.
// It takes time quadratic in the graph; the tests compare its results
// with Optimize's.
func referenceRun(ctx context.Context, w *work, r named, rep *Report) error {
	sr, ok := r.(rule)
	if !ok {
		sr = referenceIdentity{}
	}
	w.sticky = make([]bool, len(w.order))
	for applied := true; applied; {
		applied = false
		for i := 0; i < len(w.g.Nodes); i++ {
			if m, ok := sr.match(w, w.g.Nodes[i]); ok {
				sr.apply(w, m)
				if err := w.reindex(ctx); err != nil {
					return err
				}
				w.sticky = make([]bool, len(w.order))
				rep.Rules[sr.name()]++
				applied = true
				i = max(i-2, -1)
			}
		}
	}
	w.sticky, w.stickyList = nil, nil
	return nil
}

// referenceIdentity is IdentityElim as a rule for referenceRun.
type referenceIdentity struct{}

func (referenceIdentity) name() string { return "IdentityElim" }

func (referenceIdentity) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "Identity", "Dropout") || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) == 0 {
		return nil, false
	}
	if w.isOutput[n.Outputs[0]] || !w.onlyFirstOutputUsed(n) {
		return nil, false
	}
	if n.OpType == "Dropout" && len(n.Inputs) >= 3 && n.Inputs[2] != "" {
		tm := w.g.Initializers[n.Inputs[2]]
		if tm == nil || tm.Len() != 1 || (tm.DType == ir.Int64 && tm.I64[0] != 0) || (tm.DType == ir.Float32 && tm.F32[0] != 0) {
			return nil, false
		}
	}
	return n, true
}

func (referenceIdentity) apply(w *work, m any) {
	n := m.(*ir.Node)
	for _, r := range w.g.Nodes {
		for i, in := range r.Inputs {
			if in == n.Outputs[0] {
				r.Inputs[i] = n.Inputs[0]
			}
		}
	}
	w.remove(n)
}

// randomGraph builds a random graph of about size steps over image
// tensors [N,2,4,4] and feature tensors [N,2]: Convs (padded or not),
// Gemms, MatMul+Add, BNs (some not foldable), activations, residual Adds,
// Identities and Dropouts of every form, Pads (of zeros or not),
// constants as initializers,
// Constant nodes or Constants behind an Identity, node names that repeat;
// listed in build order, shuffled or reversed.
func randomGraph(seed uint64, size int) *ir.Graph {
	rg := &randGraph{b: newBuilder(seed), img: []string{"X"}}
	rg.b.input("X", N, 2, 4, 4)
	rg.b.input("P", 2)
	r := rg.b.rng
	if r.IntN(4) == 0 {
		rg.b.g.Inputs[0].Dims = nil // no shapes to prove
	}
	for range size {
		if len(rg.feat) == 0 || r.IntN(3) > 0 {
			rg.imageStep()
		} else {
			rg.featureStep()
		}
	}
	rg.b.output(rg.img[len(rg.img)-1])
	if len(rg.feat) > 0 && rg.feat[len(rg.feat)-1] != rg.img[len(rg.img)-1] {
		rg.b.output(rg.feat[len(rg.feat)-1])
	}
	if r.IntN(3) == 0 && len(rg.img) > 2 {
		if t := rg.img[r.IntN(len(rg.img)-1)]; t != "X" {
			rg.b.output(t)
		}
	}
	nodes := rg.b.g.Nodes
	switch r.IntN(3) {
	case 0:
		r.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	case 1:
		reversed(nodes)
	}
	return rg.b.g
}

// randGraph is the state of randomGraph.
type randGraph struct {
	b         *builder
	img, feat []string
	n         int
	names     []string
	one       string // the constant 1, once made
}

func (rg *randGraph) tensor() string { rg.n++; return "t" + strconv.Itoa(rg.n) }

// nodeName returns a new name, one used before, a name Optimize's fresh
// names are made of, or none.
func (rg *randGraph) nodeName() string {
	r := rg.b.rng
	switch r.IntN(10) {
	case 0:
		return ""
	case 1:
		if len(rg.names) > 0 {
			return rg.names[r.IntN(len(rg.names))]
		}
	case 2:
		return "c"
	}
	rg.n++
	rg.names = append(rg.names, "n"+strconv.Itoa(rg.n))
	return rg.names[len(rg.names)-1]
}

func (rg *randGraph) node(op string, ins, outs []string, attrs ...*ir.Attr) {
	n := &ir.Node{Name: rg.nodeName(), OpType: op, Opset: 13, Inputs: ins, Outputs: outs, Attrs: map[string]*ir.Attr{}}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	rg.b.g.Nodes = append(rg.b.g.Nodes, n)
}

// constant returns a tensor holding t: an initializer, a Constant node, one
// of them read through an Identity, or t computed from constants.
func (rg *randGraph) constant(t *ir.Tensor) string {
	name := rg.tensor()
	switch rg.b.rng.IntN(8) {
	case 0:
		rg.node("Constant", nil, []string{name}, aTensor("value", t))
	case 1:
		c := rg.tensor()
		rg.node("Constant", nil, []string{c}, aTensor("value", t))
		rg.node("Identity", []string{c}, []string{name})
	case 2:
		c := rg.tensor()
		rg.b.g.Initializers[c] = t
		rg.node("Identity", []string{c}, []string{name})
	case 3:
		// t = (t + 1) - 1, or -(-t), from a constant of either kind.
		if t.DType == ir.Float32 {
			if rg.one == "" {
				// a Constant node read by many, which fold together
				rg.one = rg.tensor()
				rg.node("Constant", nil, []string{rg.one}, aFloat("value_float", 1))
			}
			a := rg.tensor()
			rg.node("Add", []string{rg.constant(t), rg.one}, []string{a})
			rg.node("Sub", []string{a, rg.one}, []string{name})
		} else {
			a := rg.tensor()
			rg.node("Neg", []string{rg.constant(t)}, []string{a})
			rg.node("Neg", []string{a}, []string{name})
		}
	default:
		rg.b.g.Initializers[name] = t
	}
	return name
}

func (rg *randGraph) uniform(shape []int, lo, hi float64) *ir.Tensor {
	return ir.NewF32(shape, rg.b.uniform(ir.NumElems(shape), lo, hi))
}

// pick returns one of ts, mostly one of the last made.
func (rg *randGraph) pick(ts []string) string {
	r := rg.b.rng
	if r.IntN(3) > 0 {
		return ts[len(ts)-1-r.IntN(min(len(ts), 3))]
	}
	return ts[r.IntN(len(ts))]
}

func (rg *randGraph) bn(x string) string {
	r := rg.b.rng
	y := rg.tensor()
	ins := []string{x, rg.constant(rg.uniform([]int{2}, 0.5, 2)), rg.constant(rg.uniform([]int{2}, -1, 1)),
		rg.constant(rg.uniform([]int{2}, -1, 1)), rg.constant(rg.uniform([]int{2}, 0.1, 2))}
	if r.IntN(20) == 0 {
		ins[1] = "P" // not a constant
	}
	switch r.IntN(12) {
	case 0:
		rg.node("BatchNormalization", ins, []string{y, rg.tensor(), rg.tensor()}, aInt("training_mode", 1))
	case 1:
		rg.node("BatchNormalization", ins, []string{y}, aFloat("epsilon", 1e-3))
	default:
		rg.node("BatchNormalization", ins, []string{y})
	}
	return y
}

func (rg *randGraph) activation(x string) string {
	y := rg.tensor()
	switch rg.b.rng.IntN(7) {
	case 6:
		// HardSwish as PyTorch writes it below opset 14:
		// x·HardSigmoid(x) with alpha 1/6, beta 1/2 (fused), or with
		// HardSigmoid's default alpha 0.2 (not HardSwish: left alone)
		s := rg.tensor()
		alpha := float32(1.0 / 6)
		if rg.b.rng.IntN(4) == 0 {
			alpha = 0.2
		}
		rg.node("HardSigmoid", []string{x}, []string{s}, aFloat("alpha", alpha), aFloat("beta", 0.5))
		ins := []string{x, s}
		if rg.b.rng.IntN(2) == 0 {
			ins[0], ins[1] = s, x
		}
		rg.node("Mul", ins, []string{y})
	case 5:
		// SiLU as exporters write it: x·Sigmoid(x), either operand order
		s := rg.tensor()
		rg.node("Sigmoid", []string{x}, []string{s})
		ins := []string{x, s}
		if rg.b.rng.IntN(2) == 0 {
			ins[0], ins[1] = s, x
		}
		rg.node("Mul", ins, []string{y})
	case 0:
		rg.node("Relu", []string{x}, []string{y})
	case 1:
		rg.node("Sigmoid", []string{x}, []string{y})
	case 2:
		rg.node("LeakyRelu", []string{x}, []string{y}, aFloat("alpha", 0.1))
	case 3:
		rg.node("Clip", []string{x, rg.constant(ir.NewF32(nil, []float32{-0.5})), rg.constant(ir.NewF32(nil, []float32{0.7}))}, []string{y})
	default:
		rg.node("Tanh", []string{x}, []string{y})
	}
	return y
}

func (rg *randGraph) imageStep() {
	r := rg.b.rng
	x := rg.pick(rg.img)
	y := rg.tensor()
	switch r.IntN(14) {
	case 0, 1:
		k, attrs := 1, []*ir.Attr(nil)
		if r.IntN(2) == 0 {
			k, attrs = 3, []*ir.Attr{pads2(1)}
		}
		ins := []string{x, rg.constant(rg.uniform([]int{2, 2, k, k}, -0.5, 0.5))}
		if r.IntN(2) == 0 {
			ins = append(ins, rg.constant(rg.uniform([]int{2}, -0.5, 0.5)))
		}
		rg.node("Conv", ins, []string{y}, attrs...)
	case 2, 3:
		y = rg.bn(x)
	case 4, 5:
		y = rg.activation(x)
	case 6:
		rg.node("Add", []string{x, rg.pick(rg.img)}, []string{y})
	case 7:
		rg.node("Identity", []string{x}, []string{y})
	case 8:
		ins, outs := []string{x}, []string{y}
		switch r.IntN(4) {
		case 0:
			ins = append(ins, "", rg.constant(ir.NewI64(nil, []int64{0})))
		case 1:
			ins = append(ins, "", rg.constant(ir.NewI64(nil, []int64{1})))
		case 2:
			mask := rg.tensor()
			outs = append(outs, mask)
			switch r.IntN(3) {
			case 0:
				rg.b.output(mask)
			case 1:
				// read by an Identity nothing reads: the Dropout goes
				// once the Identity has gone
				rg.node("Identity", []string{mask}, []string{rg.tensor()})
			}
		}
		rg.node("Dropout", ins, outs)
	case 9:
		rg.node("Add", []string{x, rg.constant(rg.uniform([]int{1, 2, 1, 1}, -1, 1))}, []string{y})
	case 10:
		rg.feat = append(rg.feat, rg.flatten(x))
		return
	case 11:
		// pads of zeros (the Pad goes), or one that pads and stays
		pads := make([]int64, 8)
		if r.IntN(4) == 0 {
			pads[3], pads[7] = 1, 1
		}
		rg.node("Pad", []string{x, rg.constant(ir.NewI64([]int{8}, pads))}, []string{y})
		if pads[3] != 0 {
			rg.feat = append(rg.feat, rg.flatten(y))
			return
		}
	case 12:
		// a 1×1 Conv read by an AveragePool (the pool moves before it), or
		// one the pool must stay after: padded, or a 3×3 Conv
		c := rg.tensor()
		k, cattrs := 1, []*ir.Attr(nil)
		if r.IntN(4) == 0 {
			k, cattrs = 3, []*ir.Attr{pads2(1)}
		}
		ins := []string{x, rg.constant(rg.uniform([]int{2, 2, k, k}, -0.5, 0.5))}
		if r.IntN(2) == 0 {
			ins = append(ins, rg.constant(rg.uniform([]int{2}, -0.5, 0.5)))
		}
		rg.node("Conv", ins, []string{c}, cattrs...)
		pattrs := []*ir.Attr{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}
		if r.IntN(4) == 0 {
			pattrs = append(pattrs, aInts("pads", 1, 1, 0, 0), aInt("count_include_pad", 1))
		}
		rg.node("AveragePool", []string{c}, []string{y}, pattrs...)
		rg.feat = append(rg.feat, rg.flatten(y))
		return
	case 13:
		y = rg.invertedResidual(x)
	}
	rg.img = append(rg.img, y)
}

// invertedResidual adds MobileNet's block after x: a 1×1 Conv, a
// depthwise 3×3 Conv (stride 1 or 2), a 1×1 Conv, each maybe with a BN
// and an activation, the first or the last maybe absent, a residual Add
// at stride 1; sometimes another node reads a tensor inside the block.
func (rg *randGraph) invertedResidual(x string) string {
	r := rg.b.rng
	conv := func(x string, k, group int, attrs ...*ir.Attr) string {
		y := rg.tensor()
		ins := []string{x, rg.constant(rg.uniform([]int{2, 2 / group, k, k}, -0.5, 0.5))}
		if r.IntN(2) == 0 {
			ins = append(ins, rg.constant(rg.uniform([]int{2}, -0.5, 0.5)))
		}
		rg.node("Conv", ins, []string{y}, attrs...)
		if r.IntN(2) == 0 {
			y = rg.bn(y)
		}
		if r.IntN(3) > 0 {
			y = rg.activation(y)
		}
		return y
	}
	y := x
	expand, project := r.IntN(4) > 0, r.IntN(4) > 0
	if expand {
		y = conv(y, 1, 1)
	}
	s := int64(1 + r.IntN(2))
	y = conv(y, 3, 2, pads2(1), aInt("group", 2), aInts("strides", s, s))
	if r.IntN(8) == 0 {
		rg.img = append(rg.img, y) // read by a later step too
	}
	if project {
		y = conv(y, 1, 1)
	}
	if s == 1 && r.IntN(2) == 0 {
		z := rg.tensor()
		rg.node("Add", []string{y, x}, []string{z})
		y = z
	}
	return y
}

// flatten adds a GlobalAveragePool and Flatten after image tensor x and
// returns the feature tensor.
func (rg *randGraph) flatten(x string) string {
	p, y := rg.tensor(), rg.tensor()
	rg.node("GlobalAveragePool", []string{x}, []string{p})
	rg.node("Flatten", []string{p}, []string{y})
	return y
}

func (rg *randGraph) featureStep() {
	r := rg.b.rng
	x := rg.pick(rg.feat)
	y := rg.tensor()
	switch r.IntN(8) {
	case 0, 1:
		ins := []string{x, rg.constant(rg.uniform([]int{2, 2}, -0.5, 0.5))}
		var attrs []*ir.Attr
		if r.IntN(2) == 0 {
			ins = append(ins, rg.constant(rg.uniform([]int{2}, -0.5, 0.5)))
		}
		if r.IntN(2) == 0 {
			attrs = append(attrs, aInt("transB", 1))
		}
		if r.IntN(3) == 0 {
			attrs = append(attrs, aFloat("alpha", 0.7))
		}
		rg.node("Gemm", ins, []string{y}, attrs...)
	case 2:
		m := rg.tensor()
		rg.node("MatMul", []string{x, rg.constant(rg.uniform([]int{2, 2}, -0.5, 0.5))}, []string{m})
		rg.node("Add", []string{m, rg.constant(rg.uniform([]int{2}, -0.5, 0.5))}, []string{y})
	case 3, 4:
		y = rg.bn(x)
	case 5:
		y = rg.activation(x)
	case 6:
		rg.node("Identity", []string{x}, []string{y})
	case 7:
		rg.node("Add", []string{x, rg.pick(rg.feat)}, []string{y})
	}
	rg.feat = append(rg.feat, y)
}

// TestOptimizeSameAsReference checks on random graphs that Optimize makes
// exactly the rewrites of the plain driver it replaces (referenceRun):
// the same graph, node for node and name for name, and the same report.
func TestOptimizeSameAsReference(t *testing.T) {
	graphs, fired := 0, map[string]int{}
	for seed := uint64(0); graphs < 600; seed++ {
		g := randomGraph(seed, 5+int(seed%40))
		if _, err := runtime.Compile(g, runtime.Options{Threads: 1}); err != nil {
			continue // a graph the runtime refuses, Open does not optimise
		}
		graphs++
		got, gotRep := Optimize(g)
		want, wantRep, err := optimizeWith(context.Background(), g, nil, referenceRun)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(gotRep)
		wj, _ := json.Marshal(wantRep)
		if d, w := describe(got), describe(want); d != w || string(gj) != string(wj) {
			t.Fatalf("seed %d: graph\n%s\noptimised to\n%s\nreport %s\nbut the reference gives\n%s\nreport %s", seed, describe(g), d, gj, w, wj)
		}
		for r, n := range gotRep.Rules {
			fired[r] += n
		}
	}
	t.Logf("%d graphs, rewrites: %v", graphs, fired)
	for _, r := range rules {
		if fired[r.name()] == 0 {
			t.Errorf("%s never fired", r.name())
		}
	}
}

// TestOptimizeSameAsReferenceCases checks graphs made so that Optimize's
// scan must look again at nodes far behind a rewrite, or on every scan,
// to do what the reference does.
func TestOptimizeSameAsReferenceCases(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *builder)
	}{
		{"constant read by many, listed before it between Relus", func(b *builder) {
			// Folding k enables both Adds, which come first in the file
			// and not right before k.
			b.init("c", []int{2}, 1, 2)
			b.node("a1", "Add", "c,k", "a1")
			b.node("p1", "Relu", "X", "p1")
			b.node("a2", "Add", "c,k", "a2")
			b.node("p2", "Relu", "X", "p2")
			b.node("k", "Constant", "", "k", aFloat("value_float", 1))
			b.node("s", "Add", "a1,a2", "s")
			b.node("y", "Add", "X,s", "Y")
			b.output("Y", "p1", "p2")
		}},
		{"BatchNormalizations sharing a name", func(b *builder) {
			// The name's fate is what happened to the last BN of it the
			// scans looked at: the kept ones, looked at on every scan.
			b.bnParams("p1", 2)
			b.node("b", "BatchNormalization", "X,P,p1_bias,p1_mean,p1_var", "y1") // scale not constant
			b.bn("b", "y1", "y2", 2, aInt("training_mode", 1))
			b.bn("b", "y2", "y3", 2)
			b.node("r", "Relu", "y3", "Y")
			b.output("Y")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(7)
			b.input("X", N, 2)
			b.input("P", 2)
			c.build(b)
			got, gotRep := Optimize(b.g)
			want, wantRep, err := optimizeWith(context.Background(), b.g, nil, referenceRun)
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(gotRep)
			wj, _ := json.Marshal(wantRep)
			if d, w := describe(got), describe(want); d != w || string(gj) != string(wj) {
				t.Fatalf("optimised to\n%s\nreport %s\nbut the reference gives\n%s\nreport %s", d, gj, w, wj)
			}
			t.Logf("report %s", gj)
		})
	}
}
