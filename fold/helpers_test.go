package fold

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/runtime"
)

// N marks a symbolic batch dimension in the dims given to builder.input.
const N = -1

// builder assembles a small *ir.Graph for a test, with a seeded
// random source for initializers.
type builder struct {
	g     *ir.Graph
	rng   *rand.Rand
	opset int
}

// newBuilder returns a builder for an empty graph whose nodes default to
// opset 13 and whose random initializers come from seed.
func newBuilder(seed uint64) *builder {
	return &builder{
		g: &ir.Graph{
			Name:         "test",
			Opsets:       map[string]int{"": 13},
			Initializers: map[string]*ir.Tensor{},
		},
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		opset: 13,
	}
}

// setOpset sets the default-domain opset of the graph and of the nodes
// added after the call.
func (b *builder) setOpset(v int) *builder {
	b.opset = v
	b.g.Opsets[""] = v
	return b
}

// input declares a float32 graph input; a dim of N (-1) is the symbolic
// batch dimension "N".
func (b *builder) input(name string, dims ...int) {
	vi := ir.ValueInfo{Name: name, DType: ir.Float32, Dims: make([]ir.Dim, len(dims))}
	for i, d := range dims {
		vi.Dims[i] = ir.Dim{Value: d}
		if d < 0 {
			vi.Dims[i] = ir.Dim{Value: -1, Param: "N"}
		}
	}
	b.g.Inputs = append(b.g.Inputs, vi)
}

// inputDims declares a float32 graph input with the given dims.
func (b *builder) inputDims(name string, dims ...ir.Dim) {
	b.g.Inputs = append(b.g.Inputs, ir.ValueInfo{Name: name, DType: ir.Float32, Dims: dims})
}

// sym is a symbolic dim named param; param "" is an unknown dim.
func sym(param string) ir.Dim { return ir.Dim{Value: -1, Param: param} }

// fixed is a dim of fixed size v.
func fixed(v int) ir.Dim { return ir.Dim{Value: v} }

// output declares graph outputs.
func (b *builder) output(names ...string) {
	for _, n := range names {
		b.g.Outputs = append(b.g.Outputs, ir.ValueInfo{Name: n, DType: ir.Float32})
	}
}

// node appends a default-domain node named name at the builder's opset.
// ins and outs are comma-separated tensor names (an empty field is an
// absent optional input).
func (b *builder) node(name, op, ins, outs string, attrs ...*ir.Attr) *ir.Node {
	n := &ir.Node{Name: name, OpType: op, Opset: b.opset, Attrs: map[string]*ir.Attr{}, Inputs: split(ins), Outputs: split(outs)}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return n
}

// split splits a comma-separated name list; "" is no names.
func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// init adds a float32 initializer with the given shape and data.
func (b *builder) init(name string, shape []int, data ...float32) {
	b.g.Initializers[name] = ir.NewF32(shape, data)
}

// initI64 adds an int64 initializer.
func (b *builder) initI64(name string, shape []int, data ...int64) {
	b.g.Initializers[name] = ir.NewI64(shape, data)
}

// uniform returns n values drawn uniformly from [lo, hi).
func (b *builder) uniform(n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*b.rng.Float64())
	}
	return out
}

// randInit adds a float32 initializer of uniform values in [lo, hi).
func (b *builder) randInit(name string, shape []int, lo, hi float64) {
	b.init(name, shape, b.uniform(ir.NumElems(shape), lo, hi)...)
}

// bnParams adds the four parameters of a BatchNormalization over c
// channels, far from the identity: |scale| in [0.5, 2] with random signs,
// nonzero bias and mean, var in [0.1, 3]. It returns their names as
// BatchNormalization's inputs 1 to 4.
func (b *builder) bnParams(prefix string, c int) string {
	scale := b.uniform(c, 0.5, 2)
	for i := range scale {
		if b.rng.IntN(2) == 0 {
			scale[i] = -scale[i]
		}
	}
	b.init(prefix+"_scale", []int{c}, scale...)
	b.randInit(prefix+"_bias", []int{c}, -1.5, 1.5)
	b.randInit(prefix+"_mean", []int{c}, -1, 1)
	b.randInit(prefix+"_var", []int{c}, 0.1, 3)
	return prefix + "_scale," + prefix + "_bias," + prefix + "_mean," + prefix + "_var"
}

// bn adds an inference BatchNormalization named name over c channels, from
// x to y, with fresh far-from-identity parameters.
func (b *builder) bn(name, x, y string, c int, attrs ...*ir.Attr) *ir.Node {
	params := b.bnParams(name, c)
	return b.node(name, "BatchNormalization", x+","+params, y, append([]*ir.Attr{aFloat("epsilon", 1e-3)}, attrs...)...)
}

// aInt is an INT attribute.
func aInt(name string, v int64) *ir.Attr { return &ir.Attr{Name: name, Type: ir.AttrInt, I: v} }

// aInts is an INTS attribute.
func aInts(name string, v ...int64) *ir.Attr {
	return &ir.Attr{Name: name, Type: ir.AttrInts, Ints: v}
}

// aFloat is a FLOAT attribute.
func aFloat(name string, v float32) *ir.Attr {
	return &ir.Attr{Name: name, Type: ir.AttrFloat, F: v}
}

// aString is a STRING attribute.
func aString(name, v string) *ir.Attr {
	return &ir.Attr{Name: name, Type: ir.AttrString, S: v}
}

// aTensor is a TENSOR attribute.
func aTensor(name string, t *ir.Tensor) *ir.Attr {
	return &ir.Attr{Name: name, Type: ir.AttrTensor, T: t}
}

// pads2 is the pads attribute of a 2-D window padded by p on every side.
func pads2(p int64) *ir.Attr { return aInts("pads", p, p, p, p) }

// describe renders everything of g that Optimize could modify in place, so
// that two calls compare whether g changed.
func describe(g *ir.Graph) string {
	var sb strings.Builder
	for _, n := range g.Nodes {
		keys := make([]string, 0, len(n.Attrs))
		for k, a := range n.Attrs {
			keys = append(keys, fmt.Sprintf("%s=%+v", k, *a))
		}
		sort.Strings(keys)
		fmt.Fprintf(&sb, "%q %s.%s@%d %q -> %q %v\n", n.Name, n.Domain, n.OpType, n.Opset, n.Inputs, n.Outputs, keys)
	}
	names := make([]string, 0, len(g.Initializers))
	for k, t := range g.Initializers {
		names = append(names, fmt.Sprintf("%s%v%v%v", k, t.Shape, t.F32, t.I64))
	}
	sort.Strings(names)
	fmt.Fprintf(&sb, "inits %v\nopsets %v\ninputs %+v\noutputs %+v\n", names, g.Opsets, g.Inputs, g.Outputs)
	return sb.String()
}

// optimize runs Optimize on g, checks that g itself was left unchanged and
// that the report's OpsBefore counts g, and returns the result.
func optimize(t *testing.T, g *ir.Graph) (*ir.Graph, *Report) {
	t.Helper()
	before := describe(g)
	out, rep := Optimize(g)
	if after := describe(g); after != before {
		t.Fatalf("Optimize modified its input graph:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if want := CountOps(g); !equalCounts(rep.OpsBefore, want) {
		t.Errorf("OpsBefore = %v, want %v", rep.OpsBefore, want)
	}
	return out, rep
}

// equalCounts reports whether two op-count maps are equal, ignoring zero
// entries.
func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// wantOps checks that got holds exactly the op counts of want.
func wantOps(t *testing.T, got map[string]int, want map[string]int) {
	t.Helper()
	if !equalCounts(got, want) {
		t.Errorf("OpsAfter = %v, want %v", got, want)
	}
}

// wantRules checks the rule counts of a report; rules not named in want
// must not have fired.
func wantRules(t *testing.T, rep *Report, want map[string]int) {
	t.Helper()
	if !equalCounts(rep.Rules, want) {
		t.Errorf("Rules = %v, want %v", rep.Rules, want)
	}
}

// wantFates checks the fate of each BatchNormalization in graph order;
// each entry of want is "fate" (Into not checked) or "fate:into".
func wantFates(t *testing.T, rep *Report, want ...string) {
	t.Helper()
	ok := len(rep.BatchNorms) == len(want)
	for i := 0; ok && i < len(want); i++ {
		f := rep.BatchNorms[i]
		got := f.Fate
		if strings.Contains(want[i], ":") {
			got += ":" + f.Into
		}
		ok = got == want[i]
	}
	if !ok {
		t.Errorf("BatchNorms = %+v, want fates %q", rep.BatchNorms, want)
	}
}

// findOp returns the nodes of g with op type op ("domain.Op" for bnrun
// ones).
func findOp(g *ir.Graph, op string) []*ir.Node {
	var out []*ir.Node
	for _, n := range g.Nodes {
		if n.QualifiedType() == op {
			out = append(out, n)
		}
	}
	return out
}

// oneOp returns the single node of g with op type op, failing otherwise.
func oneOp(t *testing.T, g *ir.Graph, op string) *ir.Node {
	t.Helper()
	ns := findOp(g, op)
	if len(ns) != 1 {
		t.Fatalf("graph has %d %s nodes, want 1", len(ns), op)
	}
	return ns[0]
}

// wantAttr checks a STRING attribute of a node.
func wantAttr(t *testing.T, n *ir.Node, name, want string) {
	t.Helper()
	if got, err := n.String(name, ""); err != nil || got != want {
		t.Errorf("node %q attribute %s = %q (%v), want %q", n.Name, name, got, err, want)
	}
}

// randInputs makes one random tensor per graph input, the symbolic and
// unknown dims set to batch.
func randInputs(g *ir.Graph, rng *rand.Rand, batch int) []*ir.Tensor {
	ins := make([]*ir.Tensor, len(g.Inputs))
	for i, vi := range g.Inputs {
		shape := make([]int, len(vi.Dims))
		for j, d := range vi.Dims {
			shape[j] = d.Value
			if d.Param != "" || d.Value < 0 {
				shape[j] = batch
			}
		}
		t := ir.NewF32(shape, nil)
		for k := range t.F32 {
			t.F32[k] = float32(rng.Float64()*4 - 2)
		}
		ins[i] = t
	}
	return ins
}

// run compiles g with the reference kernels on one thread and runs it.
func run(t *testing.T, g *ir.Graph, ins []*ir.Tensor) []*ir.Tensor {
	t.Helper()
	prog, err := runtime.Compile(g, runtime.Options{Kernels: kern.Reference, Threads: 1})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer prog.Close()
	outs, err := prog.Run(context.Background(), ins)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return outs
}

// relTol is the tolerance between the original and the optimised graph:
// folding reorders float32 rounding slightly.
const relTol = 1e-5

// sameOutputs runs the original graph g and the optimised graph opt on the
// same random inputs at each batch size and checks that every output
// agrees within relTol relative to max(|want|, 1).
func sameOutputs(t *testing.T, g, opt *ir.Graph, batches ...int) {
	t.Helper()
	if len(batches) == 0 {
		batches = []int{1, 3}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for _, batch := range batches {
		ins := randInputs(g, rng, batch)
		want := run(t, g, ins)
		got := run(t, opt, ins)
		for i := range want {
			closeTensors(t, fmt.Sprintf("batch %d output %s", batch, g.Outputs[i].Name), got[i], want[i], relTol, relTol)
		}
	}
}

// closeTensors checks |got-want| <= abs + rel*|want| elementwise, and that
// both have one shape.
func closeTensors(t *testing.T, what string, got, want *ir.Tensor, abs, rel float64) {
	t.Helper()
	if !ir.SameShape(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	if got.DType != want.DType {
		t.Fatalf("%s: dtype %s, want %s", what, got.DType, want.DType)
	}
	if got.DType == ir.Int64 {
		for i := range want.I64 {
			if got.I64[i] != want.I64[i] {
				t.Fatalf("%s[%d] = %d, want %d", what, i, got.I64[i], want.I64[i])
			}
		}
		return
	}
	bad := 0
	for i := range want.F32 {
		g, w := float64(got.F32[i]), float64(want.F32[i])
		if !(math.Abs(g-w) <= abs+rel*math.Abs(w)) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g (diff %g)", what, i, g, w, math.Abs(g-w))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements differ", what, bad, len(want.F32))
	}
}

// conv adds a Conv named name from x to y with c input and m output
// channels, kernel shape kernel, the given group, random constant weights
// and, when bias is set, a random constant bias.
func (b *builder) conv(name, x, y string, c, m int, kernel []int, group int, bias bool, attrs ...*ir.Attr) *ir.Node {
	wshape := append([]int{m, c / group}, kernel...)
	b.randInit(name+"_W", wshape, -0.5, 0.5)
	ins := x + "," + name + "_W"
	if bias {
		b.randInit(name+"_B", []int{m}, -0.5, 0.5)
		ins += "," + name + "_B"
	}
	if group != 1 {
		attrs = append(attrs, aInt("group", int64(group)))
	}
	return b.node(name, "Conv", ins, y, attrs...)
}
