package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// poolConv moves an AveragePool that alone reads a pointwise Conv's output
// before the Conv (DenseNet's transitions: BN, Relu, 1×1 Conv, 2×2
// AveragePool). A 1×1 convolution mixes channels pixel by pixel and an
// unpadded average pooling mixes pixels channel by channel with weights
// that do not depend on the channel, so the two commute, the bias
// included (the average of a constant is the constant):
//
//	AvgPool(W·x + b) = W·AvgPool(x) + b
//
// and the Conv then runs on the pooled plane, a quarter of the pixels for
// a 2×2 pool: DenseNet-121's transitions do 0.6 of their 0.8 GFLOP for
// nothing otherwise. Only the rounding of the sums changes, as when a BN
// is folded into a Conv. It runs before the BatchNormalization rules, on
// plain Conv nodes: a 1×1 kernel (from the weights), strides 1, no
// padding; a 2-D pool without padding (its count_include_pad then does
// not matter) whose output has fewer pixels than its input.
type poolConv struct{}

func (poolConv) name() string { return "PoolConv" }

// poolConvMatch is a Conv and the AveragePool that alone reads it.
type poolConvMatch struct{ conv, pool *ir.Node }

func (poolConv) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "AveragePool") || len(n.Inputs) != 1 || len(n.Outputs) != 1 || n.Outputs[0] == "" {
		return nil, false
	}
	t := n.Inputs[0]
	conv := w.producer[t]
	if !is(conv, "Conv") || len(conv.Outputs) != 1 || w.soleConsumer(t) != n || len(conv.Inputs) < 2 || conv.Inputs[0] == "" {
		return nil, false
	}
	if w.rank(t) != 4 || w.rank(n.Outputs[0]) != 4 || w.rank(conv.Inputs[0]) != 4 {
		return nil, false
	}
	// fewer pixels out than in, at every probe
	if w.dim(t, 2)*w.dim(t, 3) <= w.dim(n.Outputs[0], 2)*w.dim(n.Outputs[0], 3) {
		return nil, false
	}
	wt := w.g.Initializers[conv.Inputs[1]]
	if wt == nil || len(wt.Shape) != 4 || wt.Shape[2] != 1 || wt.Shape[3] != 1 || !unpadded(conv, wt.Shape[2:]) {
		return nil, false
	}
	ks, err := n.Ints("kernel_shape", nil)
	if err != nil || !allOnes(conv, "strides") {
		return nil, false
	}
	kernel := make([]int, len(ks))
	for i, k := range ks {
		kernel[i] = int(k)
	}
	if !unpadded(n, kernel) {
		return nil, false
	}
	return &poolConvMatch{conv: conv, pool: n}, true
}

// allOnes reports whether n's integer list attribute name is absent or all
// ones.
func allOnes(n *ir.Node, name string) bool {
	v, err := n.Ints(name, nil)
	if err != nil {
		return false
	}
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

// apply swaps the two nodes' places: the Conv's node becomes the pool of
// its input into a fresh tensor, the pool's node the Conv of that tensor
// into the pool's old output, so that the nodes stay in topological order
// and the graph keeps its tensor names but the one between them.
func (poolConv) apply(w *work, mm any) {
	m := mm.(*poolConvMatch)
	conv, pool := m.conv, m.pool
	w.detach(conv)
	w.detach(pool)
	x, y := conv.Inputs[0], pool.Outputs[0]
	mid := w.fresh(y + "_pooled")
	c, p := *conv, *pool
	*conv = p
	conv.Inputs = []string{x}
	conv.Outputs = []string{mid}
	*pool = c
	pool.Inputs = append([]string{mid}, c.Inputs[1:]...)
	pool.Outputs = []string{y}
	w.attach(conv)
	w.attach(pool)
}
