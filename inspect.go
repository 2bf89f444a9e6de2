package bnrun

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/bnrun/bnrun/fold"
	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// Inspection is what the optimisation pass did to a model and what runs:
// the graph node by node and, when Inspect was given input shapes, every
// node's output shapes, kernel and multiply-accumulates at them. It is
// what `bnrun inspect` prints.
type Inspection struct {
	// Optimised is false when the model was opened WithoutFold: the graph
	// runs as loaded.
	Optimised bool
	// OpsBefore and OpsAfter count the nodes per op type of the graph as
	// loaded and of the graph that runs, qualified by domain outside the
	// default one ("bnrun.FusedConv").
	OpsBefore, OpsAfter map[string]int
	// Rules counts how often each rule of the optimisation pass fired
	// ("ConvBN", "ConvAct", ...; package fold describes them).
	Rules map[string]int
	// BatchNorms lists every BatchNormalization of the graph as loaded and
	// what became of it, in graph order.
	BatchNorms []BatchNormFate
	// Shapes holds the input shapes (one per input, in order) that the
	// shapes, kernels and counts below are for, and OutputShapes the
	// outputs' shapes at them; both nil when Inspect was given none.
	Shapes, OutputShapes [][]int
	// ActivationBytes is the intermediate memory of one Run at Shapes:
	// the tensors it computes, laid out so that those whose lifetimes do
	// not overlap share memory (kernels' scratch and the weights not
	// counted); 0 without Shapes.
	ActivationBytes int64
	// Nodes lists the nodes of the graph that runs, in its order.
	Nodes []NodeInfo

	inputs, outputs []string // the model's, for WriteDot
}

// BatchNormFate is what became of one BatchNormalization of the graph as
// loaded.
type BatchNormFate struct {
	Node string `json:"node"`
	// Fate is "folded" (into the weights of Into), "affine" (a standalone
	// per-channel step, Into names it), "fused-input" (applied by the
	// convolution or average pooling Into as it reads its input), or
	// "kept" (Reason says why).
	Fate   string `json:"fate"`
	Into   string `json:"into,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// NodeInfo is one node of the graph that runs.
type NodeInfo struct {
	// Name is the node's name ("" when the file gives none); Op its op
	// type, qualified by domain outside the default one
	// ("bnrun.FusedConv" for the nodes the optimisation pass makes).
	Name, Op string
	// Inputs and Outputs name the tensors it reads and writes ("" for an
	// absent optional one).
	Inputs, Outputs []string
	// Label is the op type with what the optimisation pass fused into the
	// node: an affine step (and activation) applied as it reads its
	// input, a residual Add, an activation after it
	// ("Affine+Relu → FusedConv + Add + Relu").
	Label string
	// Window formats the node's window attributes: kernel_shape (from
	// the attribute, or, at Shapes, a convolution's weights), and
	// strides, dilations and group where they are not all 1
	// ("kernel_shape 3×3  strides 2×2"); "" for a node without them.
	Window string
	// OutputShapes holds the shape of each output at the inspection's
	// Shapes (nil for an absent output); nil without Shapes, or for a node
	// the outputs do not need, which does not run.
	OutputShapes [][]int
	// Kernel names the kernel tier and the way it computes the node at
	// Shapes, where the tier says, as Profile does ("avx2 winograd");
	// "" otherwise, and for a model on the GPU.
	Kernel string
	// MACs counts the node's multiply-accumulates in one Run at Shapes
	// (Conv, Gemm, MatMul and their fused forms; 0 for other ops).
	MACs int64
}

// Inspect describes the optimisation pass's work and the graph that runs.
// Given input shapes (one per input, in order, as for Prepare, which it
// does for them), it adds what runs at those shapes: each node's output
// shapes, kernel and multiply-accumulates. Without shapes it plans
// nothing, and works on a closed model too.
func (m *Model) Inspect(shapes ...[]int) (*Inspection, error) {
	g := m.prog.Graph()
	in := &Inspection{Optimised: m.report != nil}
	if rep := m.report; rep != nil {
		in.OpsBefore, in.OpsAfter, in.Rules = maps.Clone(rep.OpsBefore), maps.Clone(rep.OpsAfter), maps.Clone(rep.Rules)
		for _, b := range rep.BatchNorms {
			in.BatchNorms = append(in.BatchNorms, BatchNormFate(b))
		}
	} else {
		in.OpsBefore, in.OpsAfter, in.Rules = fold.CountOps(g), fold.CountOps(g), map[string]int{}
		for _, n := range g.Nodes {
			if n.OpType == "BatchNormalization" {
				in.BatchNorms = append(in.BatchNorms, BatchNormFate{Node: n.Name, Fate: "kept", Reason: "optimisation turned off (WithoutFold)"})
			}
		}
	}
	for _, t := range m.inputs {
		in.inputs = append(in.inputs, t.Name)
	}
	for _, t := range m.outputs {
		in.outputs = append(in.outputs, t.Name)
	}
	// shape returns a tensor's shape at shapes, nil when not planned.
	shape := func(string) []int { return nil }
	var kernels map[*ir.Node]string
	macs := map[*ir.Node]int64{}
	if len(shapes) > 0 {
		if err := m.prog.CheckInputShapes(shapes); err != nil {
			return nil, err
		}
		pl, err := m.prog.PlanFor(shapes)
		if err != nil {
			return nil, err
		}
		shape = func(name string) []int {
			if v, ok := m.prog.ValueOf(pl, name); ok {
				return v.Shape
			}
			return nil
		}
		kernels = m.prog.StepKernels(pl)
		for _, nm := range pl.MACs() {
			macs[nm.Node] += nm.MACs
		}
		in.ActivationBytes = int64(pl.ArenaBytes())
		for _, s := range shapes {
			in.Shapes = append(in.Shapes, slices.Clone(s))
		}
		for _, name := range in.outputs {
			in.OutputShapes = append(in.OutputShapes, shape(name))
		}
	}
	for _, n := range g.Nodes {
		ni := NodeInfo{Name: n.Name, Op: n.QualifiedType(), Inputs: slices.Clone(n.Inputs), Outputs: slices.Clone(n.Outputs),
			Label: opLabel(n), Window: kernelAttrs(n, shape), Kernel: kernels[n], MACs: macs[n]}
		if len(shapes) > 0 {
			ni.OutputShapes = make([][]int, len(n.Outputs))
			for i, o := range n.Outputs {
				ni.OutputShapes[i] = shape(o)
			}
		}
		in.Nodes = append(in.Nodes, ni)
	}
	return in, nil
}

// WriteDot writes the graph that runs for Graphviz: one box per node,
// labelled with its Label and, at the inspection's Shapes, its output
// shapes, then its Window and its Kernel; an edge per tensor between
// nodes; the model's inputs and outputs as ellipses, with their shapes.
func (in *Inspection) WriteDot(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph model {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	producer := map[string]string{}
	for i, name := range in.inputs {
		id := fmt.Sprintf("in%d", i)
		producer[name] = id
		label := name
		if in.Shapes != nil {
			label += "\n" + ir.ShapeString(in.Shapes[i])
		}
		fmt.Fprintf(&b, "  %s [shape=ellipse, label=%q];\n", id, label)
	}
	for i, n := range in.Nodes {
		id := fmt.Sprintf("n%d", i)
		lines := []string{n.Label}
		var outs []string
		for _, s := range n.OutputShapes {
			if s != nil {
				outs = append(outs, ir.ShapeString(s))
			}
		}
		if len(outs) > 0 {
			lines = append(lines, strings.Join(outs, " "))
		}
		if n.Window != "" {
			lines = append(lines, n.Window)
		}
		if n.Kernel != "" {
			lines = append(lines, n.Kernel)
		}
		fmt.Fprintf(&b, "  %s [label=%q, tooltip=%q];\n", id, strings.Join(lines, "\n"), n.Name)
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = id
			}
		}
	}
	for i, n := range in.Nodes {
		for _, t := range n.Inputs {
			if p, ok := producer[t]; ok {
				fmt.Fprintf(&b, "  %s -> n%d;\n", p, i)
			}
		}
	}
	for i, name := range in.outputs {
		label := name
		if in.OutputShapes != nil && in.OutputShapes[i] != nil {
			label += "\n" + ir.ShapeString(in.OutputShapes[i])
		}
		fmt.Fprintf(&b, "  out%d [shape=ellipse, label=%q];\n", i, label)
		if p, ok := producer[name]; ok {
			fmt.Fprintf(&b, "  %s -> out%d;\n", p, i)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// opLabel names a node's op with what was fused into it: an affine step
// (and activation) on its input, a residual Add, an activation after it.
func opLabel(n *ir.Node) string {
	label := n.OpType
	if pre, _ := n.String("pre_activation", ""); pre != "" {
		label = "Affine+" + pre + " → " + label
	} else if n.Input(4) != "" && n.OpType == "FusedConv" {
		label = "Affine → " + label
	}
	if n.OpType == "FusedConv" && n.Input(3) != "" {
		label += " + Add"
	}
	if act, err := ops.ParseActivation(n, ""); err == nil && act.Kind != kern.ActNone {
		label += " + " + act.String()
	}
	return label
}

// kernelAttrs formats a node's window attributes: kernel_shape (from the
// attribute, or a convolution's weights, W = input 1, of shape
// [M, C/group, k...], as shape gives it), and strides, dilations and
// group where they are not all 1.
func kernelAttrs(n *ir.Node, shape func(string) []int) string {
	dims := func(v []int64) string {
		parts := make([]string, len(v))
		for i, d := range v {
			parts[i] = fmt.Sprint(d)
		}
		return strings.Join(parts, "×")
	}
	notOnes := func(v []int64) bool { return slices.ContainsFunc(v, func(d int64) bool { return d != 1 }) }
	var parts []string
	k, _ := n.Ints("kernel_shape", nil)
	if k == nil && strings.Contains(n.OpType, "Conv") {
		if ws := shape(n.Input(1)); len(ws) >= 3 {
			for _, d := range ws[2:] {
				k = append(k, int64(d))
			}
		}
	}
	if k != nil {
		parts = append(parts, "kernel_shape "+dims(k))
	}
	if s, _ := n.Ints("strides", nil); notOnes(s) {
		parts = append(parts, "strides "+dims(s))
	}
	if d, _ := n.Ints("dilations", nil); notOnes(d) {
		parts = append(parts, "dilations "+dims(d))
	}
	if g, _ := n.Int("group", 1); g != 1 {
		parts = append(parts, fmt.Sprintf("group %d", g))
	}
	return strings.Join(parts, "  ")
}
