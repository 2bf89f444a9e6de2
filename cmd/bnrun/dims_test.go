package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDimFlag: --dim gives testdata/dynamic's height and width their
// sizes in bench, inspect and verify; a dynamic dim without one, an
// unknown name (the error lists the model's dynamic dims), a malformed
// flag and --dim on the batch axis beside --batch are refused.
func TestDimFlag(t *testing.T) {
	model := filepath.Join(dynamicDir, "model.onnx")
	code, out, errs := runCLI("bench", model, "--iters", "2", "--warmup", "0", "--json", "--batch", "2", "--dim", "height=10", "--dim", "width=12")
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("bench: exit %d, %v:\n%s%s", code, err, out, errs)
	}
	// conv 3→4 3×3 at 10×12, conv 4→8 3×3 stride 2 at 5×6, Gemm 8→5; 2 images
	if len(r.Shapes) != 1 || !slices.Equal(r.Shapes[0], []int{2, 3, 10, 12}) || r.Batch != 2 || r.GFLOP != 2*2*21640/1e9 {
		t.Errorf("bench --dim: shapes %v, batch %d, %v GFLOP", r.Shapes, r.Batch, r.GFLOP)
	}
	// the batch axis by name, without --batch
	code, out, errs = runCLI("bench", model, "--iters", "1", "--warmup", "0", "--dim", "batch=3,height=8,input:3=9")
	if code != 0 || !strings.Contains(out, "batch 3, 1 runs") || !strings.Contains(out, "inputs   input [3,3,8,9]") {
		t.Errorf("bench --dim batch=3: exit %d:\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI("inspect", model, "--dim", "height=10", "--dim", "width=12")
	if code != 0 || !strings.Contains(out, "MACs        21.6k at input [1,3,10,12]") {
		t.Errorf("inspect --dim: exit %d:\n%s%s", code, out, errs)
	}
	// without --dim, inspect says what it could not count and why
	code, out, errs = runCLI("inspect", model)
	if code != 0 || !strings.Contains(out, "MACs        not counted: input \"input\": dim height (input:2) is dynamic") {
		t.Errorf("inspect without --dim: exit %d:\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI("verify", model, "--dim", "width=12", filepath.Join(dynamicDir, "test_data_set_0"))
	if code != 0 || !strings.Contains(out, "OK: all 1 test sets") {
		t.Errorf("verify --dim: exit %d:\n%s%s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench", model, "--iters", "1"}, 1, "dim height (input:2) is dynamic and no size was given for it (its dynamic dims: batch (input:0), height (input:2), width (input:3)); give sizes with --dim NAME=SIZE"},
		{[]string{"bench", model, "--iters", "1", "--dim", "hieght=3"}, 1, `the model has no dynamic dim "hieght"; its dynamic dims: batch (input:0), height (input:2), width (input:3)`},
		{[]string{"inspect", model, "--dim", "depth=3"}, 1, `no dynamic dim "depth"`},
		{[]string{"verify", model, "--dim", "depth=3"}, 1, `no dynamic dim "depth"`},
		{[]string{"bench", model, "--dim", "height"}, 2, `want NAME=SIZE with a size of at least 1, got "height"`},
		{[]string{"bench", model, "--dim", "height=0"}, 2, "want NAME=SIZE"},
		{[]string{"bench", model, "--batch", "2", "--dim", "batch=3"}, 2, "--dim batch sets the batch axis, which --batch sets too"},
		{[]string{"verify", model, "--dim", "height=16"}, 1, `test_data_set_0: input "input" has shape [2,3,10,12], but --dim gives height (input:2) the size 16`},
		{[]string{"bench", filepath.Join(lenetDir, "model.onnx"), "--dim", "height=3"}, 1, "its dynamic dims: batch (input:0)"},
	} {
		code, _, errs := runCLI(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}

// TestBenchConcurrency: --concurrency N runs N goroutines of --iters
// runs each on one Model, and the report has every run's latency, p99 and
// max beside p50 and p90, and a throughput over the wall time.
func TestBenchConcurrency(t *testing.T) {
	model := filepath.Join(lenetDir, "model.onnx")
	code, out, errs := runCLI("bench", model, "--iters", "4", "--warmup", "1", "--concurrency", "3", "--batch", "2", "--json")
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s%s", code, err, out, errs)
	}
	if r.Concurrency != 3 || len(r.Times) != 12 || r.Minms > r.P50ms ||
		r.P50ms > r.P90ms || r.P90ms > r.P99ms || r.P99ms > r.Maxms || r.Maxms != slices.Max(r.Times) || r.Throughput <= 0 || r.GFLOPs <= 0 {
		t.Errorf("unexpected result %+v", r)
	}
	code, out, errs = runCLI("bench", model, "--iters", "3", "--concurrency", "2")
	if code != 0 || !strings.Contains(out, "2 Runs at once, 3 runs each after 3 warm-up") || !strings.Contains(out, "p99 ") || !strings.Contains(out, "max ") {
		t.Errorf("text: exit %d:\n%s%s", code, out, errs)
	}
	if code, _, errs = runCLI("bench", model, "--concurrency", "0"); code != 2 || !strings.Contains(errs, "--concurrency must be at least 1") &&
		!strings.Contains(errs, "--batch, --iters and --concurrency must be at least 1") {
		t.Errorf("--concurrency 0: exit %d, %s", code, errs)
	}
}
