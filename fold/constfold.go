package fold

import (
	"github.com/bnrun/bnrun/ops"
	"github.com/bnrun/bnrun/runtime"
)

// maxFoldElems bounds the size of a tensor constFold creates, so that
// folding never grows a model much (ConstantOfShape can make large ones).
const maxFoldElems = 1 << 22

// constFold evaluates Constant nodes, and nodes whose inputs are all
// initializers, once, and stores their outputs as initializers.
type constFold struct{}

func (constFold) name() string { return "ConstFold" }

type constFoldMatch struct {
	n    *ops.Node
	outs []*ops.Tensor
}

func (constFold) match(w *work, n *ops.Node) (any, bool) {
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
	outs, ok := evalConst(n, vals)
	if !ok {
		return nil, false
	}
	return &constFoldMatch{n: n, outs: outs}, true
}

func (constFold) apply(w *work, m any) {
	cm := m.(*constFoldMatch)
	for i, o := range cm.n.Outputs {
		if o != "" {
			w.g.Initializers[o] = cm.outs[i]
		}
	}
	w.remove(cm.n)
}

// evalConst runs one node on constant inputs with the reference kernels;
// ok is false when it cannot (an error, or an output too large to keep).
func evalConst(n *ops.Node, vals []*ops.Value) ([]*ops.Tensor, bool) {
	k, err := ops.Lookup(n.OpType)(n)
	if err != nil {
		return nil, false
	}
	outVals, step, err := k.Prepare(vals)
	if err != nil || len(outVals) != len(n.Outputs) {
		return nil, false
	}
	outs := make([]*ops.Tensor, len(outVals))
	known := true
	for i, v := range outVals {
		if ops.NumElems(v.Shape) > maxFoldElems {
			return nil, false
		}
		outs[i] = v.Const
		if v.Const == nil {
			known = false
		}
	}
	if known {
		return outs, true
	}
	if step.Run == nil {
		return nil, false
	}
	in := make([]*ops.Tensor, len(vals))
	for i, v := range vals {
		if v != nil {
			in[i] = v.Const
		}
	}
	for i, v := range outVals {
		if v.DType == ops.Int64 {
			outs[i] = ops.NewI64(v.Shape, nil)
		} else {
			outs[i] = ops.NewF32(v.Shape, nil)
		}
	}
	env := &ops.Env{K: ops.Reference, Par: runtime.Serial{}, Scratch: make([]float32, step.Scratch)}
	if err := step.Run(env, in, outs); err != nil {
		return nil, false
	}
	return outs, true
}
