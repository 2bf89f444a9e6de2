package bnrun

import (
	"fmt"

	"github.com/bnrun/bnrun/ir"
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
// input dim set to batch (see StatsFor for other shapes).
func (m *Model) Stats(batch int) (*Stats, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch must be at least 1, got %d", batch)
	}
	shapes, err := m.ShapesFor(batch)
	if err != nil {
		return nil, err
	}
	st, err := m.StatsFor(shapes...)
	if err != nil {
		return nil, err
	}
	st.Batch = batch
	return st, nil
}

// StatsFor counts parameters and multiply-accumulates for input shapes
// (one per input, in order; see ShapesWith). Stats.Batch is the first
// input's first dim (1 for a scalar input).
func (m *Model) StatsFor(shapes ...[]int) (*Stats, error) {
	if err := m.prog.CheckInputShapes(shapes); err != nil {
		return nil, err
	}
	st := &Stats{Batch: 1, MACs: map[string]int64{}}
	if len(shapes) > 0 && len(shapes[0]) > 0 {
		st.Batch = shapes[0][0]
	}
	st.Params = m.params
	st.ParamsOptimised = countParams(m.prog.Graph())
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

// countParams counts the elements of g's float32 initializers, by their
// shapes: a model's kernels may hold the data (runtime.Options.HoldWeights).
func countParams(g *ir.Graph) int64 {
	var n int64
	for _, t := range g.Initializers {
		if t.DType == ir.Float32 {
			n += int64(ir.NumElems(t.Shape))
		}
	}
	return n
}
