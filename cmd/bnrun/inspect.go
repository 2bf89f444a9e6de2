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
	Inputs     []string             `json:"inputs"`
	Outputs    []string             `json:"outputs"`
	Backend    string               `json:"backend"`
	Device     string               `json:"device,omitempty"`
	NoGPU      string               `json:"no_gpu,omitempty"`
	Threads    int                  `json:"threads"`
	Folded     bool                 `json:"folded"`
	OpsBefore  map[string]int       `json:"ops_before"`
	OpsAfter   map[string]int       `json:"ops_after"`
	Rules      map[string]int       `json:"rules"`
	BatchNorms []fold.BatchNormFate `json:"batchnorm"`
	// Shapes are the input shapes Stats counts at (--batch, --dim).
	Shapes [][]int      `json:"input_shapes,omitempty"`
	Stats  *bnrun.Stats `json:"stats"`
	// StatsNote says why Stats is missing: dynamic dims without a size.
	StatsNote string `json:"stats_note,omitempty"`

	infos []bnrun.TensorInfo // the model's inputs
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
	in := &inspection{Model: pos[0], Backend: m.Backend(), Threads: m.Threads(), Rules: map[string]int{}, infos: m.Inputs()}
	if d, why := m.Device(); d != "" {
		in.Device = d
	} else if why != nil {
		in.NoGPU = why.Error()
	}
	for _, t := range m.Inputs() {
		in.Inputs = append(in.Inputs, t.String())
	}
	for _, t := range m.Outputs() {
		in.Outputs = append(in.Outputs, t.String())
	}
	if rep := m.FoldReport(); rep != nil {
		in.Folded = true
		in.OpsBefore, in.OpsAfter, in.Rules, in.BatchNorms = rep.OpsBefore, rep.OpsAfter, rep.Rules, rep.BatchNorms
	} else {
		in.OpsBefore = fold.CountOps(m.Original())
		in.OpsAfter = in.OpsBefore
		for _, n := range m.Original().Nodes {
			if n.OpType == "BatchNormalization" {
				in.BatchNorms = append(in.BatchNorms, fold.BatchNormFate{Node: n.Name, Fate: "kept", Reason: "optimisation turned off (--no-fold)"})
			}
		}
	}
	if o.batch < 1 {
		return usageError{"--batch must be at least 1"}
	}
	switch shapes, err := inputShapes(m, o.dims, o.batch); {
	case err != nil && len(o.dims) == 0:
		// Dynamic dims besides the batch and no --dim: inspect the rest.
		in.StatsNote = err.Error()
	case err != nil:
		return err
	default:
		in.Shapes = shapes
		if in.Stats, err = m.StatsFor(shapes...); err != nil {
			return err
		}
	}
	if o.dot != "" {
		if err := writeDotFile(o.dot, m.Program().Graph(), w); err != nil {
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
	for _, s := range in.Inputs {
		fmt.Fprintf(w, "input    %s\n", s)
	}
	for _, s := range in.Outputs {
		fmt.Fprintf(w, "output   %s\n", s)
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
		for i, s := range in.Shapes {
			parts = append(parts, in.infos[i].Name+" "+shapeString(s))
		}
		at = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "MACs        %s at %s\n", human(st.TotalMACs), at)
	for _, k := range slices.Sorted(maps.Keys(st.MACs)) {
		fmt.Fprintf(w, "  %-22s %s\n", k, human(st.MACs[k]))
	}
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

func writeDotFile(path string, g *runtime.Graph, stdout io.Writer) error {
	if path == "-" {
		return writeDot(stdout, g)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeDot(f, g); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeDot writes the graph for Graphviz: one box per node, labelled with
// its op (and fused activations), an edge per tensor between nodes, and
// graph inputs and outputs as ellipses.
func writeDot(w io.Writer, g *runtime.Graph) error {
	var b strings.Builder
	b.WriteString("digraph model {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	producer := map[string]string{}
	for i, in := range g.Inputs {
		id := fmt.Sprintf("in%d", i)
		producer[in.Name] = id
		fmt.Fprintf(&b, "  %s [shape=ellipse, label=%q];\n", id, in.Name)
	}
	for i, n := range g.Nodes {
		id := fmt.Sprintf("n%d", i)
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
		fmt.Fprintf(&b, "  %s [label=%q, tooltip=%q];\n", id, label, n.Name)
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
		fmt.Fprintf(&b, "  out%d [shape=ellipse, label=%q];\n", i, out.Name)
		if p, ok := producer[out.Name]; ok {
			fmt.Fprintf(&b, "  %s -> out%d;\n", p, i)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
