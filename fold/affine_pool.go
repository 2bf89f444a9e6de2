package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// affinePool hands an Affine (with no activation, or Relu) that only an
// AveragePool reads to that pool, which applies it as it reads its input:
// the pool becomes bnrun.AffineAveragePool with inputs X, pre_scale and
// pre_bias and attribute pre_activation, the pool's attributes kept.
// DenseNet's transitions (BatchNormalization, Relu, 1×1 Conv, 2×2
// AveragePool, the pool first since PoolConv) then read the concatenated
// features once and write a quarter of them, where the affine step wrote
// them all and the pool read them back. Padding positions stay out of the
// windows' values (and count as before with count_include_pad), as in the
// unfused graph, where the pool pads the affine step's output; every value
// is the unfused pair's, bit for bit. A pool whose dilations are not all
// 1 below opset 19 (which the spec refuses) is left alone.
type affinePool struct{}

func (affinePool) name() string { return "AffinePool" }

type affinePoolMatch struct {
	aff, pool *ir.Node
}

func (affinePool) match(w *work, n *ir.Node) (any, bool) {
	if !isAffine(n) {
		return nil, false
	}
	if act, _ := n.String("activation", ""); act != "" && act != "Relu" {
		return nil, false
	}
	pool := w.soleConsumer(n.Outputs[0])
	if !is(pool, "AveragePool") || pool.Input(0) != n.Outputs[0] || len(pool.Inputs) != 1 || len(pool.Outputs) != 1 {
		return nil, false
	}
	if d, _ := pool.Ints("dilations", nil); pool.Opset < 19 {
		for _, v := range d {
			if v != 1 {
				return nil, false
			}
		}
	}
	return &affinePoolMatch{aff: n, pool: pool}, true
}

func (affinePool) apply(w *work, m any) {
	am := m.(*affinePoolMatch)
	pool := am.pool
	w.detach(pool)
	ensureName(pool)
	pool.Domain, pool.OpType, pool.Opset = Domain, "AffineAveragePool", 1
	pool.Inputs = []string{am.aff.Inputs[0], am.aff.Inputs[1], am.aff.Inputs[2]}
	if act, _ := am.aff.String("activation", ""); act == "Relu" {
		setStringAttr(pool, "pre_activation", "Relu")
	}
	w.affineFusedInto(am.aff, pool)
	w.remove(am.aff)
	w.attach(pool)
}
