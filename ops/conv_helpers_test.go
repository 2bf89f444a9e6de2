package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Test helpers for the convolution, matrix, normalization and pooling
// operators (names start with nn to stay apart from other test files).

// nnNode builds a node of the default domain with the given attributes and
// nOut outputs named y0, y1, ...
func nnNode(op string, opset, nOut int, attrs ...*Attr) *Node {
	n := &Node{Name: "t_" + op, OpType: op, Opset: opset, Attrs: map[string]*Attr{}}
	for i := range nOut {
		n.Outputs = append(n.Outputs, fmt.Sprintf("y%d", i))
	}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

func nnInt(name string, v int64) *Attr { return &Attr{Name: name, Type: AttrInt, I: v} }
func nnInts(name string, v ...int64) *Attr {
	return &Attr{Name: name, Type: AttrInts, Ints: v}
}
func nnFloat(name string, v float32) *Attr { return &Attr{Name: name, Type: AttrFloat, F: v} }
func nnStr(name, v string) *Attr           { return &Attr{Name: name, Type: AttrString, S: v} }

// nnPar is a Parallel that runs the chunks on goroutines: it splits [0, n)
// into parts chunks of nearly equal size, like the runtime's pool.
type nnPar struct{ parts int }

func (p nnPar) Do(n int, t Task) {
	if n <= 0 {
		return
	}
	chunks := min(p.parts, n)
	var wg sync.WaitGroup
	for c := range chunks {
		lo, hi := c*n/chunks, (c+1)*n/chunks
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Range(lo, hi)
		}()
	}
	wg.Wait()
}

func (p nnPar) Workers() int { return p.parts }

// nnEnv returns an environment for tier k with the given number of workers.
func nnEnv(k *Kernels, workers int) *Env {
	if workers <= 1 {
		return &Env{K: k, Par: Serial{}}
	}
	return &Env{K: k, Par: nnPar{workers}}
}

// prepareOp builds the node's kernel and prepares it on the inputs (nil is
// an absent input, which also becomes "" in n.Inputs).
func prepareOp(n *Node, ins ...*Tensor) ([]Value, Step, error) {
	return prepareOpConst(n, -1, ins...)
}

// prepareOpConst is prepareOp with input constIn (when >= 0) given to
// Prepare as a plan-time constant, as the runtime gives weights.
func prepareOpConst(n *Node, constIn int, ins ...*Tensor) ([]Value, Step, error) {
	return prepareOpConsts(n, []int{constIn}, ins...)
}

// prepareOpConsts is prepareOpConst with several constant inputs.
func prepareOpConsts(n *Node, consts []int, ins ...*Tensor) ([]Value, Step, error) {
	n.Inputs = make([]string, len(ins))
	vals := make([]*Value, len(ins))
	for i, x := range ins {
		if x == nil {
			continue
		}
		n.Inputs[i] = fmt.Sprintf("x%d", i)
		vals[i] = &Value{DType: x.DType, Shape: append([]int(nil), x.Shape...)}
		if slices.Contains(consts, i) {
			vals[i].Const = x
		}
	}
	b := Lookup(n.OpType)
	if b == nil {
		return nil, Step{}, fmt.Errorf("%s not registered", n.OpType)
	}
	k, err := b(n)
	if err != nil {
		return nil, Step{}, err
	}
	return k.Prepare(vals)
}

// guard is the value written around output buffers to catch stray writes.
const guard = float32(-12345.5)

// runOpEnv prepares n and runs its step in env. Each output buffer is
// allocated with guard values on both sides (and NaN inside, since Run gets
// unzeroed buffers), which are checked after the run.
func runOpEnv(env *Env, n *Node, ins ...*Tensor) ([]*Tensor, error) {
	return runOpEnvConst(env, n, -1, ins...)
}

// runOpEnvConst is runOpEnv with input constIn a plan-time constant (see
// prepareOpConst).
func runOpEnvConst(env *Env, n *Node, constIn int, ins ...*Tensor) ([]*Tensor, error) {
	return runOpEnvConsts(env, n, []int{constIn}, ins...)
}

// runOpEnvConsts is runOpEnvConst with several constant inputs.
func runOpEnvConsts(env *Env, n *Node, consts []int, ins ...*Tensor) ([]*Tensor, error) {
	vals, step, err := prepareOpConsts(n, consts, ins...)
	if err != nil {
		return nil, err
	}
	if len(vals) != len(n.Outputs) {
		return nil, fmt.Errorf("Prepare returned %d values for %d outputs", len(vals), len(n.Outputs))
	}
	const pad = 19
	outs := make([]*Tensor, len(vals))
	bufs := make([][]float32, len(vals))
	ibufs := make([][]int64, len(vals))
	for i, v := range vals {
		if n.Outputs[i] == "" {
			continue
		}
		ne := NumElems(v.Shape)
		switch v.DType {
		case Float32:
			buf := make([]float32, ne+2*pad)
			for j := range buf {
				buf[j] = guard
			}
			for j := pad; j < pad+ne; j++ {
				buf[j] = float32(math.NaN())
			}
			bufs[i] = buf
			outs[i] = &Tensor{DType: Float32, Shape: append([]int(nil), v.Shape...), F32: buf[pad : pad+ne : pad+ne]}
		case Int64:
			buf := make([]int64, ne+2*pad)
			for j := range buf {
				buf[j] = -777
			}
			ibufs[i] = buf
			outs[i] = &Tensor{DType: Int64, Shape: append([]int(nil), v.Shape...), I64: buf[pad : pad+ne : pad+ne]}
		default:
			return nil, fmt.Errorf("output %d has dtype %s", i, v.DType)
		}
	}
	if step.Scratch > 0 {
		env.Scratch = make([]float32, step.Scratch*parOf(env).Workers())
	}
	if err := step.Run(env, ins, outs); err != nil {
		return nil, err
	}
	for i := range outs {
		if bufs[i] != nil {
			b := bufs[i]
			for j := range pad {
				if b[j] != guard || b[len(b)-1-j] != guard {
					return nil, fmt.Errorf("output %d: write outside the buffer", i)
				}
			}
		}
		if ibufs[i] != nil {
			b := ibufs[i]
			for j := range pad {
				if b[j] != -777 || b[len(b)-1-j] != -777 {
					return nil, fmt.Errorf("output %d: write outside the buffer", i)
				}
			}
		}
	}
	return outs, nil
}

// runOp prepares and runs n serially on the Generic tier.
func runOp(n *Node, ins ...*Tensor) ([]*Tensor, error) {
	return runOpEnv(nnEnv(Generic, 1), n, ins...)
}

// mustRun is runOp that fails the test on error.
func mustRun(t *testing.T, n *Node, ins ...*Tensor) []*Tensor {
	t.Helper()
	out, err := runOp(n, ins...)
	if err != nil {
		t.Fatalf("%s: %v", n.OpType, err)
	}
	return out
}

// wantErr checks that building, preparing or running n fails with an error
// containing sub.
func wantErr(t *testing.T, sub string, n *Node, ins ...*Tensor) {
	t.Helper()
	_, err := runOp(n, ins...)
	if err == nil {
		t.Fatalf("%s: want error containing %q, got none", n.OpType, sub)
	}
	if !strings.Contains(err.Error(), sub) {
		t.Fatalf("%s: error %q does not contain %q", n.OpType, err, sub)
	}
}

// nnRand returns a tensor of the given shape with values uniform in
// [-1, 1), reproducible from seed.
func nnRand(seed uint64, shape ...int) *Tensor {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	t := NewF32(shape, nil)
	for i := range t.F32 {
		t.F32[i] = float32(r.Float64()*2 - 1)
	}
	return t
}

// closeF32 reports the first index where got and want differ by more than
// tol·(1 + |want|), or -1.
func closeF32(got, want []float32, tol float64) int {
	if len(got) != len(want) {
		return 0
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > tol*(1+math.Abs(w)) {
			return i
		}
	}
	return -1
}

// checkF32 fails the test when got and want differ beyond tol.
func checkF32(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if i := closeF32(got, want, tol); i >= 0 {
		t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
	}
}

// testTiers lists the tiers to test against the reference: every
// registered tier but "ref" itself, and the twin tiers.
func testTiers() []*Kernels {
	return append(fastTiers(), Twin, TwinPacked)
}

// fastTiers lists every registered tier but "ref".
func fastTiers() []*Kernels {
	var ks []*Kernels
	for _, name := range TierNames() {
		if name != "ref" {
			ks = append(ks, TierByName(name))
		}
	}
	return ks
}

// tierWorkers is a tier and a worker count for a benchmark.
type tierWorkers struct {
	k       *Kernels
	workers int
}

// benchTiers lists every fast tier at one and two workers.
func benchTiers() []tierWorkers {
	var out []tierWorkers
	for _, k := range fastTiers() {
		out = append(out, tierWorkers{k, 1}, tierWorkers{k, 2})
	}
	return out
}
