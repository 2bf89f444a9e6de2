package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bnrun/bnrun"
)

type benchOpts struct {
	run         runFlags
	batches     intList
	dims        dimList
	warmup      int
	iters       int
	concurrency int
	json        bool
	profile     bool
	cpuprofile  string
}

func benchFlags() (*flag.FlagSet, *benchOpts) {
	o := &benchOpts{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o.run.register(fs)
	fs.Var(&o.batches, "batch", "batch size (for dynamic batch axes), or a comma-separated list run one after another in one process (default 1)")
	fs.Var(&o.dims, "dim", dimHelp)
	fs.IntVar(&o.warmup, "warmup", 3, "untimed runs first")
	fs.IntVar(&o.iters, "iters", 20, "timed runs (of each goroutine, with --concurrency)")
	fs.IntVar(&o.concurrency, "concurrency", 1, "goroutines running the model at once, each its own Runs: throughput is then all images over the wall time")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	fs.BoolVar(&o.profile, "profile", false, "also time every node over --iters runs and print each node's op, output shape, time, GFLOP/s and share, then a sum per op type")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a Go CPU profile of the timed runs to `FILE` (FILE.bN per batch size with several), for go tool pprof: where the time goes inside the kernels and the runtime")
	return fs, o
}

// benchResult is what `bnrun bench --json` prints.
type benchResult struct {
	Model   string `json:"model"`
	Backend string `json:"backend"`
	Device  string `json:"device,omitempty"`
	Threads int    `json:"threads"`
	// Winograd and Accurate say how the CPU tier sums (Model.Winograd,
	// Model.Accurate): both false on the GPU.
	Winograd bool    `json:"winograd"`
	Accurate bool    `json:"accurate"`
	Folded   bool    `json:"folded"`
	Batch    int     `json:"batch"`
	Shapes   [][]int `json:"input_shapes"`
	Iters    int     `json:"iters"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	Maxms    float64 `json:"max_ms"`
	Minms    float64 `json:"min_ms"`
	// Concurrency is how many Runs were in flight (--concurrency), each
	// of Iters timed runs; Times holds all of them.
	Concurrency int `json:"concurrency"`
	// Throughput is images per second: batch over the median latency
	// for one Run at a time, all the images over the wall time for
	// several.
	Throughput float64   `json:"images_per_s"`
	GFLOPs     float64   `json:"gflops"`
	GFLOP      float64   `json:"gflop_per_run"`
	Times      []float64 `json:"times_ms"`
	// PeakRSSMiB is the process's peak resident memory so far (Linux).
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
	// Profile is set by --profile.
	Profile *bnrun.Profile `json:"profile,omitempty"`
}

// sums describes, for the report's first line, how the CPU tier sums:
// " (Winograd)", " (accurate, Winograd on wide layers)", " (accurate)",
// or "" (direct products, or the GPU).
func (r *benchResult) sums() string {
	switch {
	case r.Accurate && r.Winograd:
		return " (accurate, Winograd on wide layers)"
	case r.Accurate:
		return " (accurate)"
	case r.Winograd:
		return " (Winograd)"
	}
	return ""
}

// cmdBench implements `bnrun bench MODEL.onnx`: warm-up runs, then timed
// runs on a fixed pseudo-random input, reporting latency percentiles,
// throughput and arithmetic rate (2 FLOP per multiply-accumulate).
func cmdBench(args []string, w io.Writer) error {
	fs, o := benchFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"bench wants MODEL.onnx"}
	}
	batchGiven := len(o.batches) > 0
	if !batchGiven {
		o.batches = intList{1}
	}
	if slices.Min(o.batches) < 1 || o.iters < 1 || o.warmup < 0 || o.concurrency < 1 {
		return usageError{"--batch, --iters and --concurrency must be at least 1, --warmup at least 0"}
	}
	m, err := o.run.open(pos[0])
	if err != nil {
		return err
	}
	defer m.Close()
	if batchGiven {
		for _, d := range m.DynamicDims() {
			if _, ok := o.dims[d.Key()]; ok && d.Axis == 0 {
				return usageError{fmt.Sprintf("--dim %s sets the batch axis, which --batch sets too", d.Key())}
			}
		}
	}
	var ran []int
	for _, batch := range o.batches {
		images, err := benchBatch(w, m, pos[0], o, batch)
		if err != nil {
			return err
		}
		ran = append(ran, images)
	}
	if !o.json {
		if rss := peakRSS(); rss > 0 {
			fmt.Fprintf(w, "peak RSS %.1f MiB (the whole process, batch sizes %v)\n", float64(rss)/(1<<20), ran)
		}
	}
	return nil
}

// benchBatch times one batch size and prints its results; it returns the
// batch size it ran (the file's, when it fixes it).
func benchBatch(w io.Writer, m *bnrun.Model, model string, o *benchOpts, batch int) (int, error) {
	shapes, err := inputShapes(m, o.dims, batch)
	if err != nil {
		return 0, err
	}
	if len(shapes) > 0 && len(shapes[0]) > 0 {
		batch = shapes[0][0] // a fixed batch in the file, or --dim: the images a Run takes
	}
	// Shapes the file declares: checked against the memory limits, and
	// planned, before the inputs are allocated.
	if err := m.Prepare(shapes...); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := make([]*bnrun.Tensor, len(shapes))
	for i, s := range shapes {
		t := &bnrun.Tensor{DType: m.Inputs()[i].DType, Shape: s}
		n := 1
		for _, d := range s {
			n *= d
		}
		if t.DType == bnrun.Int64 {
			t.I64 = make([]int64, n)
		} else {
			// a fixed pseudo-random input in [-1, 1)
			t.F32 = make([]float32, n)
			for j := range t.F32 {
				t.F32[j] = float32(rng.Float64()*2 - 1)
			}
		}
		inputs[i] = t
	}
	st, err := m.StatsFor(shapes...)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	path := o.cpuprofile
	if path != "" && len(o.batches) > 1 {
		// one file per batch size: PATH.bN
		path = fmt.Sprintf("%s.b%d", path, batch)
	}
	times, wall, err := timeRuns(ctx, m, inputs, o.warmup, o.iters, o.concurrency, path)
	if err != nil {
		return 0, err
	}
	insp, err := m.Inspect()
	if err != nil {
		return 0, err
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	r := benchResult{Model: model, Backend: m.Backend(), Threads: m.Threads(), Folded: insp.Optimised,
		Batch: batch, Shapes: shapes, Iters: o.iters, Concurrency: o.concurrency, Times: times,
		P50ms: percentile(sorted, 50), P90ms: percentile(sorted, 90), P99ms: percentile(sorted, 99),
		Minms: sorted[0], Maxms: sorted[len(sorted)-1],
		GFLOP: 2 * float64(st.TotalMACs) / 1e9}
	r.Device, _ = m.Device()
	r.Winograd, r.Accurate = m.Winograd(), m.Accurate()
	if o.concurrency == 1 {
		// one Run at a time: the rate of a typical (median) Run
		r.Throughput = float64(batch) / (r.P50ms / 1000)
		r.GFLOPs = r.GFLOP / (r.P50ms / 1000)
	} else {
		// Runs overlapping: what all of them did in the wall time
		runs := float64(len(times))
		r.Throughput = runs * float64(batch) / wall.Seconds()
		r.GFLOPs = runs * r.GFLOP / wall.Seconds()
	}
	r.PeakRSSMiB = float64(peakRSS()) / (1 << 20)
	if o.profile {
		pr, err := m.Profile(ctx, inputs, o.iters)
		if err != nil {
			return 0, err
		}
		r.Profile = pr
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return batch, enc.Encode(r)
	}
	if o.concurrency == 1 {
		fmt.Fprintf(w, "%s: backend %s%s, %d threads, batch %d, %d runs after %d warm-up\n", r.Model, r.Backend, r.sums(), r.Threads, r.Batch, r.Iters, o.warmup)
	} else {
		fmt.Fprintf(w, "%s: backend %s%s, %d threads, batch %d, %d Runs at once, %d runs each after %d warm-up\n",
			r.Model, r.Backend, r.sums(), r.Threads, r.Batch, o.concurrency, r.Iters, o.warmup)
	}
	if len(o.dims) > 0 {
		ins := make([]string, len(shapes))
		for i, s := range shapes {
			ins[i] = m.Inputs()[i].Name + " " + shapeString(s)
		}
		fmt.Fprintf(w, "inputs   %s\n", strings.Join(ins, ", "))
	}
	if r.Device != "" {
		fmt.Fprintf(w, "device   %s\n", r.Device)
	}
	fmt.Fprintf(w, "latency  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  min %.2f ms\n", r.P50ms, r.P90ms, r.P99ms, r.Maxms, r.Minms)
	fmt.Fprintf(w, "rate     %.1f images/s  %.2f GFLOP/s (%.3f GFLOP a run)\n", r.Throughput, r.GFLOPs, r.GFLOP)
	if r.Profile != nil {
		printProfile(w, r.Profile)
	}
	return batch, nil
}

// timeRuns runs the model warmup times untimed and iters times timed in
// each of conc goroutines at once (all starting together), and returns
// every timed run's latency in milliseconds, and the wall time from the
// timed runs' start to the last one's end.
func timeRuns(ctx context.Context, m *bnrun.Model, inputs []*bnrun.Tensor, warmup, iters, conc int, cpuprofile string) ([]float64, time.Duration, error) {
	times := make([]float64, conc*iters)
	errs := make([]error, conc)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	aborted := false // set before start closes: no timed runs
	ready.Add(conc)
	done.Add(conc)
	for g := range conc {
		go func() {
			defer done.Done()
			outs := make([]*bnrun.Tensor, len(m.Outputs()))
			for range warmup {
				if errs[g] = m.RunInto(ctx, inputs, outs); errs[g] != nil {
					break
				}
			}
			ready.Done()
			<-start
			if errs[g] != nil || aborted {
				return
			}
			for i := range iters {
				t0 := time.Now()
				if errs[g] = m.RunInto(ctx, inputs, outs); errs[g] != nil {
					return
				}
				times[g*iters+i] = float64(time.Since(t0).Microseconds()) / 1000
			}
		}()
	}
	ready.Wait()
	// The profile covers the timed runs, not the warm-up.
	stop, err := startCPUProfile(cpuprofile)
	if err != nil {
		aborted = true // the goroutines return without running
		close(start)
		done.Wait()
		return nil, 0, err
	}
	t0 := time.Now()
	close(start)
	done.Wait()
	wall := time.Since(t0)
	return times, wall, errors.Join(errors.Join(errs...), stop())
}

// printProfile prints a per-node profile and its sum per op type.
func printProfile(w io.Writer, pr *bnrun.Profile) {
	fmt.Fprintf(w, "\nprofile: mean of %d runs, %.3f ms a run\n", pr.Runs, float64(pr.Total.Microseconds())/1000)
	fmt.Fprintf(w, "%-40s %-18s %-18s %9s %8s %6s  %s\n", "node", "op", "output", "ms", "GFLOP/s", "share", "kernel")
	for _, n := range pr.Nodes {
		name := n.Node
		if len(name) > 40 {
			name = "…" + name[len(name)-39:]
		}
		gf := ""
		if n.MACs > 0 {
			gf = fmt.Sprintf("%.1f", n.GFLOPs)
		}
		kernel := n.Kernel
		if n.Layout != "" {
			kernel += " (" + n.Layout + " pixel-major)"
		}
		fmt.Fprintf(w, "%-40s %-18s %-18s %9.3f %8s %5.1f%%  %s\n", name, n.Op, shapeString(n.Shape),
			float64(n.Time.Nanoseconds())/1e6, gf, 100*n.Share, kernel)
	}
	fmt.Fprintln(w, "\nper op type:")
	for _, o := range pr.ByOp() {
		fmt.Fprintln(w, o)
	}
}

// shapeString formats dims as [a,b,c].
func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM in
// /proc/self/status), or 0 where that is not available.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// intList parses a comma-separated list of integers for a flag.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(s string) error {
	var out []int
	for _, p := range strings.Split(s, ",") {
		var v int
		if _, err := fmt.Sscan(strings.TrimSpace(p), &v); err != nil {
			return fmt.Errorf("bad integer %q", p)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// percentile returns the p-th percentile of sorted values, by the
// nearest-rank method.
func percentile(sorted []float64, p int) float64 {
	// rank = ceil(p/100 * n), 1-based
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// inputShapes returns the shapes of the model's inputs for a batch size
// and --dim sizes (see bnrun.Model.ShapesWith), saying how to give a
// dynamic dim a size when one lacks it.
func inputShapes(m *bnrun.Model, dims dimList, batch int) ([][]int, error) {
	shapes, err := m.ShapesWith(dims, batch)
	if err != nil {
		return nil, fmt.Errorf("%w; give sizes with --dim NAME=SIZE", err)
	}
	return shapes, nil
}

// startCPUProfile starts a Go CPU profile into the file path, or does
// nothing when path is empty; the returned function stops it and closes
// the file.
func startCPUProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
