package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bnrun/bnrun"
)

type verifyOpts struct {
	run     runFlags
	tol     bnrun.Tolerance
	inputs  fileList
	outputs fileList
	dims    dimList
}

func verifyFlags() (*flag.FlagSet, *verifyOpts) {
	o := &verifyOpts{}
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	o.run.register(fs)
	fs.Float64Var(&o.tol.Abs, "atol", bnrun.DefaultTolerance.Abs, "absolute tolerance: pass when |y-g| <= atol + rtol*|g| everywhere")
	fs.Float64Var(&o.tol.Rel, "rtol", bnrun.DefaultTolerance.Rel, "relative tolerance")
	fs.Var(&o.inputs, "inputs", "one test set from files instead of a folder: input tensors as .pb, .npy or .npz (each array of an archive one input, matched by name, else in order), comma-separated or repeated")
	fs.Var(&o.outputs, "outputs", "with --inputs: the golden outputs, as --inputs takes them")
	fs.Var(&o.dims, "dim", "NAME=SIZE: check that every test set's inputs have this size in the dynamic dim NAME (or INPUT:AXIS), to catch goldens made at another size; repeat it for several")
	fs.BoolVar(&o.tol.Peer, "peer", false, "also pass an output out of tolerance when another runtime's outputs in its set (peer_output_K.pb, from bench/ort_outputs.js) are at least as far from the golden")
	return fs, o
}

// cmdVerify implements `bnrun verify MODEL.onnx [DIR]` and `bnrun verify
// MODEL.onnx --inputs FILES --outputs FILES`: one line per output of each
// test set, then a verdict.
func cmdVerify(args []string, w io.Writer) error {
	fs, o := verifyFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	files := len(o.inputs) > 0 || len(o.outputs) > 0
	switch {
	case len(pos) < 1 || len(pos) > 2:
		return usageError{"verify wants MODEL.onnx and optionally DIR"}
	case files && (len(pos) == 2 || len(o.inputs) == 0 || len(o.outputs) == 0):
		return usageError{"verify wants a DIR, or --inputs and --outputs, not both"}
	}
	dir := filepath.Dir(pos[0])
	if len(pos) == 2 {
		dir = pos[1]
	}
	m, err := o.run.open(pos[0])
	if err != nil {
		return err
	}
	defer m.Close()
	var results []bnrun.SetResult
	// A --dim naming no dynamic dim is an error; dims left without a
	// size (an error naming an input) are not, as the sets give them.
	var ie *bnrun.InputError
	if _, err := m.ShapesWith(o.dims, 1); errors.As(err, &ie) && ie.Input == "" {
		return err
	}
	verify := func(set *bnrun.GoldenSet) error {
		if err := checkDims(m, set, o.dims); err != nil {
			return err
		}
		r, err := m.VerifySet(context.Background(), set, o.tol)
		if err == nil {
			results = append(results, r)
		}
		return err
	}
	if files {
		var set *bnrun.GoldenSet
		if set, err = bnrun.ReadGoldenFiles(o.inputs, o.outputs); err == nil {
			err = verify(set)
		}
	} else {
		var dirs []string
		dirs, err = bnrun.GoldenSetDirs(dir)
		for _, d := range dirs {
			var set *bnrun.GoldenSet
			if set, err = bnrun.ReadGoldenSet(d); err != nil {
				break
			}
			if err = verify(set); err != nil {
				break
			}
		}
	}
	failed := 0
	for _, r := range results {
		for _, c := range r.Outputs {
			status := "ok  "
			if !c.OK() {
				status = "FAIL"
			}
			fmt.Fprintf(w, "%s  %s  %s  %s\n", status, filepath.Base(r.Dir), c.Output, c.String())
		}
		if !r.OK() {
			failed++
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		fmt.Fprintf(w, "FAIL: %d of %d test sets out of tolerance (atol %g, rtol %g)\n", failed, len(results), o.tol.Abs, o.tol.Rel)
		if m.Winograd() && !m.Accurate() {
			fmt.Fprintf(w, "note: the %s tier computes 3×3 convolutions on larger planes with Winograd, whose rounding error is larger and grows through the layers after it; --accurate keeps the sums closer to exact ones (shorter depth blocks, Winograd on wide layers only), --no-winograd computes them directly\n", m.Backend())
		}
		return errFailed
	}
	fmt.Fprintf(w, "OK: all %d test sets within tolerance (atol %g, rtol %g)\n", len(results), o.tol.Abs, o.tol.Rel)
	return nil
}

// fileList collects file names from a flag given comma-separated lists,
// or given more than once.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

// checkDims checks that the set's inputs have the sizes dims gives their
// dynamic dims.
func checkDims(m *bnrun.Model, set *bnrun.GoldenSet, dims dimList) error {
	if len(dims) == 0 {
		return nil
	}
	ins, err := set.InputsFor(m)
	if err != nil {
		return err
	}
	for i, info := range m.Inputs() {
		for j, d := range info.Shape {
			if d >= 0 {
				continue
			}
			dd := bnrun.DynamicDim{Input: info.Name, Axis: j, Name: info.DimNames[j]}
			want, ok := dims[fmt.Sprintf("%s:%d", info.Name, j)]
			if !ok && dd.Name != "" {
				want, ok = dims[dd.Name]
			}
			if !ok {
				continue
			}
			if got := ins[i].Shape; j >= len(got) || got[j] != want {
				return fmt.Errorf("%s: input %q has shape %s, but --dim gives %s the size %d", set.Dir, info.Name, shapeString(got), dd, want)
			}
		}
	}
	return nil
}
