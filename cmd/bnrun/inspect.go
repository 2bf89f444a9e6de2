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
	Model      string                `json:"model"`
	Info       modelInfo             `json:"info"`
	Inputs     []tensorInfo          `json:"inputs"`
	Outputs    []tensorInfo          `json:"outputs"`
	Backend    string                `json:"backend"`
	Device     string                `json:"device,omitempty"`
	NoGPU      string                `json:"no_gpu,omitempty"`
	Threads    int                   `json:"threads"`
	Folded     bool                  `json:"folded"`
	OpsBefore  map[string]int        `json:"ops_before"`
	OpsAfter   map[string]int        `json:"ops_after"`
	Rules      map[string]int        `json:"rules"`
	BatchNorms []bnrun.BatchNormFate `json:"batchnorm"`
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
	in := &inspection{Model: pos[0], Info: newModelInfo(m.Info()), Backend: m.Backend(), Threads: m.Threads(), infos: m.Inputs()}
	if d, why := m.Device(); d != "" {
		in.Device = d
	} else if why != nil {
		in.NoGPU = why.Error()
	}
	if o.batch < 1 {
		return usageError{"--batch must be at least 1"}
	}
	// what runs at --batch and --dim: MACs, output shapes, kernels
	var insp *bnrun.Inspection
	shapes, err := inputShapes(m, o.dims, o.batch)
	switch {
	case err != nil && len(o.dims) == 0:
		// Dynamic dims besides the batch and no --dim: inspect the rest.
		in.StatsNote = err.Error()
		if insp, err = m.Inspect(); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if in.Stats, err = m.StatsFor(shapes...); err != nil {
			return err
		}
		if insp, err = m.Inspect(shapes...); err != nil {
			return err
		}
	}
	in.Folded, in.OpsBefore, in.OpsAfter, in.Rules, in.BatchNorms = insp.Optimised, insp.OpsBefore, insp.OpsAfter, insp.Rules, insp.BatchNorms
	if !in.Folded {
		for i := range in.BatchNorms {
			in.BatchNorms[i].Reason = "optimisation turned off (--no-fold)"
		}
	}
	for i, t := range m.Inputs() {
		var run []int
		if insp.Shapes != nil {
			run = insp.Shapes[i]
		}
		in.Inputs = append(in.Inputs, newTensorInfo(t, run))
	}
	for i, t := range m.Outputs() {
		var run []int
		if insp.OutputShapes != nil {
			run = insp.OutputShapes[i]
		}
		in.Outputs = append(in.Outputs, newTensorInfo(t, run))
	}
	if o.dot != "" {
		if err := writeDotFile(o.dot, insp, w); err != nil {
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
	sorted := slices.Sorted(maps.Keys(union))
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
		fmt.Fprintf(w, "\nBatchNormalization: %d folded into a Conv or Gemm, %d fused into a layer's input, %d affine steps, %d kept\n",
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

// writeDotFile writes the inspection's graph for Graphviz (see
// bnrun.Inspection.WriteDot) to path, or to stdout when path is "-".
func writeDotFile(path string, insp *bnrun.Inspection, stdout io.Writer) error {
	if path == "-" {
		return insp.WriteDot(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := insp.WriteDot(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
