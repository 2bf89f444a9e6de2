package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/fold"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
	"github.com/bnrun/bnrun/runtime"
)

type inspectOpts struct {
	run   runFlags
	json  bool
	dot   string
	batch int
	dims  dimList
}

func inspectFlags() (*flag.FlagSet, *inspectOpts) {
	o := &inspectOpts{}
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	o.run.register(fs)
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
	fs.StringVar(&o.dot, "dot", "", "write a Graphviz graph of the optimised model to this file (- for standard output)")
	fs.IntVar(&o.batch, "batch", 1, "batch size for counting multiply-accumulates")
	fs.Var(&o.dims, "dim", dimHelp)
	return fs, o
}

// inspection is what `bnrun inspect --json` prints.
type inspection struct {
	Model      string               `json:"model"`
	Info       modelInfo            `json:"info"`
	Inputs     []tensorInfo         `json:"inputs"`
	Outputs    []tensorInfo         `json:"outputs"`
	Backend    string               `json:"backend"`
	Device     string               `json:"device,omitempty"`
	NoGPU      string               `json:"no_gpu,omitempty"`
	Threads    int                  `json:"threads"`
	Folded     bool                 `json:"folded"`
	OpsBefore  map[string]int       `json:"ops_before"`
	OpsAfter   map[string]int       `json:"ops_after"`
	Rules      map[string]int       `json:"rules"`
	BatchNorms []fold.BatchNormFate `json:"batchnorm"`
	// Stats counts at the inputs' RunShape (--batch, --dim).
	Stats *bnrun.Stats `json:"stats"`
	// StatsNote says why Stats is missing: dynamic dims without a size.
	StatsNote string `json:"stats_note,omitempty"`

	infos []bnrun.TensorInfo // the model's inputs
}

// tensorInfo is an input or output in `bnrun inspect --json`.
type tensorInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	// Shape holds the declared dims, -1 for a dynamic one (null when the
	// file declares no shape); DimNames their symbolic names, "" for
	// fixed ones.
	Shape    []int    `json:"shape"`
	DimNames []string `json:"dim_names"`
	// RunShape is the shape at --batch and --dim, when every dynamic dim
	// has a size.
	RunShape []int `json:"run_shape,omitempty"`

	text string // name: dtype [dims]
}

// modelInfo is what the file says about itself (bnrun.ModelInfo), in
// `bnrun inspect --json`.
type modelInfo struct {
	IRVersion       int64             `json:"ir_version"`
	ProducerName    string            `json:"producer_name"`
	ProducerVersion string            `json:"producer_version"`
	DocString       string            `json:"doc_string,omitempty"`
	Opsets          map[string]int    `json:"opsets"` // by domain, "ai.onnx" for the default one
	Metadata        map[string]string `json:"metadata"`

	line string // bnrun.ModelInfo.String
}

func newModelInfo(mi bnrun.ModelInfo) modelInfo {
	out := modelInfo{IRVersion: mi.IRVersion, ProducerName: mi.ProducerName, ProducerVersion: mi.ProducerVersion,
		DocString: mi.DocString, Opsets: map[string]int{}, Metadata: mi.Metadata, line: mi.String()}
	for d, v := range mi.Opsets {
		if d == "" {
			d = "ai.onnx"
		}
		out.Opsets[d] = v
	}
	return out
}

func newTensorInfo(ti bnrun.TensorInfo, run []int) tensorInfo {
	return tensorInfo{Name: ti.Name, DType: ti.DType.String(), Shape: ti.Shape, DimNames: ti.DimNames, RunShape: run, text: ti.String()}
}

// dynamicBesidesBatch reports whether an input has a dynamic dim other
// than its first.
func dynamicBesidesBatch(infos []bnrun.TensorInfo) bool {
	for _, ti := range infos {
		for j, d := range ti.Shape {
			if j > 0 && d < 0 {
				return true
			}
		}
	}
	return false
}

// cmdInspect implements `bnrun inspect MODEL.onnx`.
func cmdInspect(args []string, w io.Writer) error {
	fs, o := inspectFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"inspect wants MODEL.onnx"}
	}
	m, err := o.run.open(pos[0])
	if err != nil {
		return err
	}
	defer m.Close()
	in := &inspection{Model: pos[0], Info: newModelInfo(m.Info()), Backend: m.Backend(), Threads: m.Threads(),
		Rules: map[string]int{}, infos: m.Inputs()}
	if d, why := m.Device(); d != "" {
		in.Device = d
	} else if why != nil {
		in.NoGPU = why.Error()
	}
	if rep := m.FoldReport(); rep != nil {
		in.Folded = true
		in.OpsBefore, in.OpsAfter, in.Rules, in.BatchNorms = rep.OpsBefore, rep.OpsAfter, rep.Rules, rep.BatchNorms
	} else {
		in.OpsBefore = fold.CountOps(m.Program().Graph())
		in.OpsAfter = in.OpsBefore
		for _, n := range m.Program().Graph().Nodes {
			if n.OpType == "BatchNormalization" {
				in.BatchNorms = append(in.BatchNorms, fold.BatchNormFate{Node: n.Name, Fate: "kept", Reason: "optimisation turned off (--no-fold)"})
			}
		}
	}
	if o.batch < 1 {
		return usageError{"--batch must be at least 1"}
	}
	// the plan at --batch and --dim: MACs, output shapes, kernels
	var pl *runtime.Plan
	shapes, err := inputShapes(m, o.dims, o.batch)
	switch {
	case err != nil && len(o.dims) == 0:
		// Dynamic dims besides the batch and no --dim: inspect the rest.
		in.StatsNote = err.Error()
	case err != nil:
		return err
	default:
		if in.Stats, err = m.StatsFor(shapes...); err != nil {
			return err
		}
		if pl, err = m.Program().PlanFor(shapes); err != nil {
			return err
		}
	}
	for i, t := range m.Inputs() {
		var run []int
		if pl != nil {
			run = shapes[i]
		}
		in.Inputs = append(in.Inputs, newTensorInfo(t, run))
	}
	for _, t := range m.Outputs() {
		var run []int
		if pl != nil {
			if v, ok := m.Program().ValueOf(pl, t.Name); ok {
				run = v.Shape
			}
		}
		in.Outputs = append(in.Outputs, newTensorInfo(t, run))
	}
	if o.dot != "" {
		if err := writeDotFile(o.dot, m.Program(), pl, w); err != nil {
			return err
		}
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	printInspection(w, in)
	return nil
}

func printInspection(w io.Writer, in *inspection) {
	fmt.Fprintf(w, "model    %s\n", in.Model)
	fmt.Fprintf(w, "info     %s\n", in.Info.line)
	if doc := in.Info.DocString; doc != "" {
		fmt.Fprintf(w, "doc      %s\n", oneLine(doc, 100))
	}
	for _, k := range slices.Sorted(maps.Keys(in.Info.Metadata)) {
		fmt.Fprintf(w, "metadata %s: %s\n", k, oneLine(in.Info.Metadata[k], 80))
	}
	for _, t := range in.Inputs {
		fmt.Fprintf(w, "input    %s%s\n", t.text, runShape(t))
	}
	for _, t := range in.Outputs {
		fmt.Fprintf(w, "output   %s%s\n", t.text, runShape(t))
	}
	fmt.Fprintf(w, "backend  %s, %d threads\n", in.Backend, in.Threads)
	if in.Device != "" {
		fmt.Fprintf(w, "device   %s\n", in.Device)
	} else if in.NoGPU != "" {
		fmt.Fprintf(w, "no GPU   %s\n", in.NoGPU)
	}
	if !in.Folded {
		fmt.Fprintf(w, "optimisation off\n")
	}
	fmt.Fprintf(w, "\n%-24s %7s %7s\n", "op", "before", "after")
	union := map[string]int{}
	for k := range in.OpsBefore {
		union[k]++
	}
	for k := range in.OpsAfter {
		union[k]++
	}
	sorted := fold.SortedOps(union)
	tb, ta := 0, 0
	for _, k := range sorted {
		fmt.Fprintf(w, "%-24s %7d %7d\n", k, in.OpsBefore[k], in.OpsAfter[k])
		tb += in.OpsBefore[k]
		ta += in.OpsAfter[k]
	}
	fmt.Fprintf(w, "%-24s %7d %7d\n", "total", tb, ta)
	if len(in.BatchNorms) > 0 {
		count := map[string]int{}
		for _, b := range in.BatchNorms {
			count[b.Fate]++
		}
		fmt.Fprintf(w, "\nBatchNormalization: %d folded into a Conv or Gemm, %d fused into a conv's input, %d affine steps, %d kept\n",
			count["folded"], count["fused-input"], count["affine"], count["kept"])
		for _, b := range in.BatchNorms {
			switch b.Fate {
			case "folded":
				fmt.Fprintf(w, "  %-40s folded into %s\n", b.Node, b.Into)
			case "fused-input":
				fmt.Fprintf(w, "  %-40s affine+activation applied as %s reads its input\n", b.Node, b.Into)
			case "affine":
				fmt.Fprintf(w, "  %-40s per-channel affine step %s\n", b.Node, b.Into)
			default:
				fmt.Fprintf(w, "  %-40s kept: %s\n", b.Node, b.Reason)
			}
		}
	}
	st := in.Stats
	if st == nil {
		fmt.Fprintf(w, "\nMACs        not counted: %s\n", in.StatsNote)
		return
	}
	fmt.Fprintf(w, "\nparameters  %s (%s after optimisation)\n", human(st.Params), human(st.ParamsOptimised))
	at := fmt.Sprintf("batch %d", st.Batch)
	if dynamicBesidesBatch(in.infos) {
		var parts []string
		for _, t := range in.Inputs {
			parts = append(parts, t.Name+" "+shapeString(t.RunShape))
		}
		at = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "MACs        %s at %s\n", human(st.TotalMACs), at)
	for _, k := range slices.Sorted(maps.Keys(st.MACs)) {
		fmt.Fprintf(w, "  %-22s %s\n", k, human(st.MACs[k]))
	}
}

// runShape returns " at [dims]" for a tensor with dynamic dims and a run
// shape, "" otherwise.
func runShape(t tensorInfo) string {
	if t.RunShape == nil || !slices.Contains(t.Shape, -1) {
		return ""
	}
	return " at " + shapeString(t.RunShape)
}

// oneLine returns s on one line, cut to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// human writes a count with a k, M or G suffix.
func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func writeDotFile(path string, prog *runtime.Program, pl *runtime.Plan, stdout io.Writer) error {
	if path == "-" {
		return writeDot(stdout, prog, pl)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeDot(f, prog, pl); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeDot writes the graph that runs for Graphviz: one box per node,
// labelled with its op (and fused activations), and, when pl (the plan
// at the inspected shapes) is not nil, its output shapes, its kernel
// attributes (kernel_shape, strides, dilations and group where they are
// not 1) and the kernel that computes it; an edge per tensor between
// nodes; graph inputs and outputs as ellipses, with their shapes.
func writeDot(w io.Writer, prog *runtime.Program, pl *runtime.Plan) error {
	g := prog.Graph()
	shape := func(name string) []int {
		if pl == nil {
			return nil
		}
		v, ok := prog.ValueOf(pl, name)
		if !ok {
			return nil
		}
		return v.Shape
	}
	var kernels map[*ops.Node]string
	if pl != nil {
		kernels = prog.StepKernels(pl)
	}
	var b strings.Builder
	b.WriteString("digraph model {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	producer := map[string]string{}
	for i, in := range g.Inputs {
		id := fmt.Sprintf("in%d", i)
		producer[in.Name] = id
		label := in.Name
		if s := shape(in.Name); s != nil {
			label += "\n" + shapeString(s)
		}
		fmt.Fprintf(&b, "  %s [shape=ellipse, label=%q];\n", id, label)
	}
	for i, n := range g.Nodes {
		id := fmt.Sprintf("n%d", i)
		lines := []string{opLabel(n)}
		var outs []string
		for _, o := range n.Outputs {
			if s := shape(o); s != nil {
				outs = append(outs, shapeString(s))
			}
		}
		if len(outs) > 0 {
			lines = append(lines, strings.Join(outs, " "))
		}
		if a := kernelAttrs(n, shape); a != "" {
			lines = append(lines, a)
		}
		if k := kernels[n]; k != "" {
			lines = append(lines, k)
		}
		fmt.Fprintf(&b, "  %s [label=%q, tooltip=%q];\n", id, strings.Join(lines, "\n"), n.Name)
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = id
			}
		}
	}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if p, ok := producer[in]; ok {
				fmt.Fprintf(&b, "  %s -> n%d;\n", p, i)
			}
		}
	}
	for i, out := range g.Outputs {
		label := out.Name
		if s := shape(out.Name); s != nil {
			label += "\n" + shapeString(s)
		}
		fmt.Fprintf(&b, "  out%d [shape=ellipse, label=%q];\n", i, label)
		if p, ok := producer[out.Name]; ok {
			fmt.Fprintf(&b, "  %s -> out%d;\n", p, i)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// opLabel names a node's op with what was fused into it: an affine step
// (and activation) on its input, a residual Add, an activation after it.
func opLabel(n *ops.Node) string {
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
// [M, C/group, k...]), and strides, dilations and group where they are not
// all 1.
func kernelAttrs(n *ops.Node, shape func(string) []int) string {
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
