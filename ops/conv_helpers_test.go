package ops

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
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

// nnEnv returns an environment for tier k with the given number of workers.
func nnEnv(k *kern.Tier, workers int) *kern.Env {
	return &kern.Env{K: k, Par: kern.Spawn{Parts: workers}}
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

// runOpEnv prepares n and runs its step in env. Each output buffer is
// allocated with kerntest.Guard values on both sides (and NaN inside, since Run gets
// unzeroed buffers), which are checked after the run.
func runOpEnv(env *kern.Env, n *Node, ins ...*Tensor) ([]*Tensor, error) {
	return runOpEnvConst(env, n, -1, ins...)
}

// runOpEnvConst is runOpEnv with input constIn a plan-time constant (see
// prepareOpConst).
func runOpEnvConst(env *kern.Env, n *Node, constIn int, ins ...*Tensor) ([]*Tensor, error) {
	return runOpEnvConsts(env, n, []int{constIn}, ins...)
}

// runOpEnvConsts is runOpEnvConst with several constant inputs.
func runOpEnvConsts(env *kern.Env, n *Node, consts []int, ins ...*Tensor) ([]*Tensor, error) {
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
				buf[j] = kerntest.Guard
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
		env.Scratch = make([]float32, step.Scratch*kern.ParOf(env).Workers())
	}
	if err := step.Run(env, ins, outs); err != nil {
		return nil, err
	}
	for i := range outs {
		if bufs[i] != nil {
			b := bufs[i]
			for j := range pad {
				if b[j] != kerntest.Guard || b[len(b)-1-j] != kerntest.Guard {
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
	return runOpEnv(nnEnv(kern.Generic, 1), n, ins...)
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
	return NewF32(shape, kerntest.Rand(seed, NumElems(shape)))
}

// testTiers lists the tiers to test against the reference: every
// registered tier but "ref" itself, and the twin tiers.
func testTiers() []*kern.Tier {
	return append(fastTiers(), kern.Twin, kern.TwinPacked)
}

// fastTiers lists every registered tier but "ref".
func fastTiers() []*kern.Tier {
	var ks []*kern.Tier
	for _, name := range kern.TierNames() {
		if name != "ref" {
			ks = append(ks, kern.TierByName(name))
		}
	}
	return ks
}

// tierWorkers is a tier and a worker count for a benchmark.
type tierWorkers struct {
	k       *kern.Tier
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
