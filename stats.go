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
	for _, nm := range pl.MACs() {
		st.MACs[nm.Node.QualifiedType()] += nm.MACs
		st.TotalMACs += nm.MACs
	}
	return st, nil
}

// ShapesFor returns the input shapes with every dynamic dim set to batch,
// or an error naming an input whose shape is not declared.
func (m *Model) ShapesFor(batch int) ([][]int, error) { return m.prog.ShapesFor(batch) }

func countParams(g *runtime.Graph) int64 {
	var n int64
	for _, t := range g.Initializers {
		if t.DType == ops.Float32 {
			n += int64(len(t.F32))
		}
	}
	return n
}
