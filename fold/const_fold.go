package fold

import (
	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// maxFoldElems bounds the size of a tensor constFold creates, so that
// folding never grows a model much (ConstantOfShape can make large ones).
const maxFoldElems = 1 << 22

// maxFoldWork bounds the work constFold does in one Optimize, all nodes
// together: the elements it reads and writes (for Conv, Gemm and MatMul,
// whose cost grows faster than their sizes, their product). It bounds the
// memory and time folding takes, so that a small file of many large or
// costly constant nodes cannot make Open allocate or compute without bound
// (the memory limits of Open apply to the runtime, not here); what is not
// folded the runtime computes under those limits, cancellably.
const maxFoldWork = 1 << 24

// constFold evaluates Constant nodes, and nodes whose inputs are all
// initializers, once, and stores their outputs as initializers.
type constFold struct{}

func (constFold) name() string { return "ConstFold" }

type constFoldMatch struct {
	n    *ir.Node
	outs []*ir.Tensor
}

func (constFold) match(w *work, n *ir.Node) (any, bool) {
	if !isDefault(n) || ops.Lookup(n.OpType) == nil {
		return nil, false
	}
	vals := make([]*ops.Value, len(n.Inputs))
	for i, in := range n.Inputs {
		if in == "" {
			continue
		}
		c := w.g.Initializers[in]
		if c == nil {
			return nil, false
		}
		vals[i] = &ops.Value{DType: c.DType, Shape: c.Shape, Const: c}
	}
	outs, work, ok := evalConst(n, vals, maxFoldWork-w.foldWork)
	// Charged whether or not it succeeded: a node that fails as it runs
	// is tried again, and charged again, on every later scan (sticky),
	// until the work left is less than it takes.
	w.foldWork += work
	w.stick(n, !ok && work > 0)
	if !ok {
		return nil, false
	}
	return &constFoldMatch{n: n, outs: outs}, true
}

func (constFold) apply(w *work, m any) {
	cm := m.(*constFoldMatch)
	for i, o := range cm.n.Outputs {
		if o != "" {
			w.setInit(o, cm.outs[i])
		}
	}
	w.remove(cm.n)
}

// evalConst runs one node on constant inputs with the reference kernels
// and returns its outputs and the work running it took (0 when it did not
// run); ok is false when it cannot (an error, an output too large to keep,
// or more work than budget).
func evalConst(n *ir.Node, vals []*ops.Value, budget int) (outs []*ir.Tensor, work int, ok bool) {
	k, err := ops.Lookup(n.OpType)(n)
	if err != nil {
		return nil, 0, false
	}
	outVals, step, err := k.Prepare(vals)
	if err != nil || len(outVals) != len(n.Outputs) {
		return nil, 0, false
	}
	outs = make([]*ir.Tensor, len(outVals))
	known := true
	computed := 0 // output elements
	for i, v := range outVals {
		// Checked dim by dim: the product of hostile dims may overflow.
		size := 1
		for _, d := range v.Shape {
			if d < 0 || (d > 0 && size > maxFoldElems/d) {
				return nil, 0, false
			}
			size *= d
		}
		if size > maxFoldElems {
			return nil, 0, false
		}
		outs[i] = v.Const
		computed += size
		if v.Const == nil {
			known = false
		}
	}
	if known {
		return outs, 0, true
	}
	if step.Run == nil {
		return nil, 0, false
	}
	in := make([]*ir.Tensor, len(vals))
	read := 0 // input elements
	for i, v := range vals {
		if v != nil {
			in[i] = v.Const
			read += v.Const.Len()
		}
	}
	work = read + computed
	if is(n, "Conv", "Gemm", "MatMul") {
		work = max(read, 1) * max(computed, 1) // at least the multiply-adds
	}
	if work > budget {
		return nil, 0, false
	}
	for i, v := range outVals {
		if v.DType == ir.Int64 {
			outs[i] = ir.NewI64(v.Shape, nil)
		} else {
			outs[i] = ir.NewF32(v.Shape, nil)
		}
	}
	env := &kern.Env{K: kern.Reference, Par: kern.Serial{}, Scratch: make([]float32, step.Scratch)}
	if err := step.Run(env, in, outs); err != nil {
		return nil, work, false
	}
	return outs, work, true
}
