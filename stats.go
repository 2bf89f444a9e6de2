package bnrun

import (
	"fmt"

	"github.com/bnrun/bnrun/ops"
	"github.com/bnrun/bnrun/runtime"
)

// Stats describes the model as it runs, for one batch size.
type Stats struct {
	Batch int `json:"batch"`
	// Params counts the elements of the model's float32 initializers as
	// loaded, and after optimisation (folding drops BN parameters).
	Params          int64 `json:"params"`
	ParamsOptimised int64 `json:"params_optimised"`
	// MACs counts multiply-accumulates per op type of the graph that runs
	// (Conv, Gemm, MatMul and their fused forms), and in total.
	MACs      map[string]int64 `json:"macs"`
	TotalMACs int64            `json:"total_macs"`
}

// Stats counts parameters and multiply-accumulates with every dynamic
// input dim set to batch.
func (m *Model) Stats(batch int) (*Stats, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch must be at least 1, got %d", batch)
	}
	st := &Stats{Batch: batch, MACs: map[string]int64{}}
	st.Params = countParams(m.original)
	if m.original.Initializers == nil {
		st.Params = m.params
	}
	g := m.prog.Graph()
	st.ParamsOptimised = countParams(g)
	shapes, err := m.ShapesFor(batch)
	if err != nil {
		return nil, err
	}
	pl, err := m.prog.PlanFor(shapes)
	if err != nil {
		return nil, err
	}
	shape := func(name string) []int {
		v, ok := m.prog.ValueOf(pl, name)
		if !ok {
			return nil
		}
		return v.Shape
	}
	for _, n := range g.Nodes {
		macs := nodeMACs(n, shape)
		if macs == 0 {
			continue
		}
		st.MACs[n.QualifiedType()] += macs
		st.TotalMACs += macs
	}
	return st, nil
}

// ShapesFor returns the input shapes with every dynamic dim set to batch,
// or an error naming an input whose shape is not declared.
func (m *Model) ShapesFor(batch int) ([][]int, error) {
	shapes := make([][]int, len(m.inputs))
	for i, in := range m.inputs {
		if in.Shape == nil {
			return nil, fmt.Errorf("input %q has no declared shape", in.Name)
		}
		s := make([]int, len(in.Shape))
		for j, d := range in.Shape {
			s[j] = d
			if d < 0 {
				s[j] = batch
			}
		}
		shapes[i] = s
	}
	return shapes, nil
}

func countParams(g *runtime.Graph) int64 {
	var n int64
	for _, t := range g.Initializers {
		if t.DType == ops.Float32 {
			n += int64(len(t.F32))
		}
	}
	return n
}

// nodeMACs counts the multiply-accumulates of a Conv, Gemm or MatMul (or
// fused form) from its planned shapes:
//
//	Conv:   N * M * prod(out spatial) * C/group * prod(kernel)
//	Gemm:   M * N * K
//	MatMul: prod(output dims) * K
func nodeMACs(n *ops.Node, shape func(string) []int) int64 {
	out := shape(n.Outputs[0])
	if out == nil {
		return 0
	}
	switch n.OpType {
	case "Conv", "FusedConv":
		w := shape(n.Input(1))
		if len(w) < 3 {
			return 0
		}
		per := int64(1)
		for _, d := range w[1:] {
			per *= int64(d)
		}
		return int64(ops.NumElems(out)) * per
	case "DwBlock":
		// the expansion over X's plane, the depthwise window, the
		// projection over the output's plane
		x, wd := shape(n.Input(0)), shape(n.Input(3))
		if len(x) != 4 || len(wd) != 4 {
			return 0
		}
		var macs int64
		if we := shape(n.Input(1)); len(we) == 4 {
			macs += int64(x[0]) * int64(x[2]*x[3]) * int64(we[0]*we[1])
		}
		plane := int64(out[0]) * int64(ops.NumElems(out[2:]))
		macs += plane * int64(wd[0]*wd[2]*wd[3])
		if wp := shape(n.Input(5)); len(wp) == 4 {
			macs += plane * int64(wp[0]*wp[1])
		}
		return macs
	case "Gemm", "FusedGemm":
		a := shape(n.Input(0))
		if len(a) != 2 {
			return 0
		}
		k := a[1]
		if t, _ := n.Int("transA", 0); t != 0 {
			k = a[0]
		}
		return int64(ops.NumElems(out)) * int64(k)
	case "MatMul":
		a := shape(n.Input(0))
		if len(a) == 0 {
			return 0
		}
		return int64(ops.NumElems(out)) * int64(a[len(a)-1])
	}
	return 0
}
