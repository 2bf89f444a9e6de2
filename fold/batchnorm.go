package fold

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/ir"
)

// bnParams is an inference BatchNormalization as the per-channel affine map
// it computes, in float64:
//
//	y = scale*(x - mean)/sqrt(var + eps) + bias = s*x + t
//	s = scale/sqrt(var + eps),  t = bias - mean*s
type bnParams struct {
	n    *ir.Node
	s, t []float64
}

// channels is the number of channels the BN normalises.
func (p *bnParams) channels() int { return len(p.s) }

// matchBN checks that n is a BatchNormalization that computes a constant
// per-channel affine map and whose only used output is Y, and returns the
// map. The reason says why not when it does not.
func (w *work) matchBN(n *ir.Node) (*bnParams, string) {
	if !is(n, "BatchNormalization") || len(n.Inputs) != 5 {
		return nil, "not an inference BatchNormalization"
	}
	if tm, err := n.Int("training_mode", 0); err != nil || tm != 0 {
		return nil, "training_mode is set"
	}
	if sp, err := n.Int("spatial", 1); err != nil || sp != 1 {
		return nil, "spatial=0 normalises per element, not per channel"
	}
	if !w.onlyFirstOutputUsed(n) {
		return nil, "its running-statistics outputs are used"
	}
	eps, err := n.Float("epsilon", 1e-5)
	if err != nil {
		return nil, err.Error()
	}
	// The map depends only on the parameters and epsilon: BNs that share
	// them (a file can make a great many of them share large ones) share
	// one computation.
	key := bnKey{n.Inputs[1], n.Inputs[2], n.Inputs[3], n.Inputs[4], math.Float32bits(eps)}
	m, ok := w.bnMaps[key]
	if !ok {
		m = w.bnMap(n, eps)
		w.bnMaps[key] = m
	}
	if m.reason != "" {
		return nil, m.reason
	}
	return &bnParams{n: n, s: m.s, t: m.t}, ""
}

// bnKey names the parameters and epsilon of a BatchNormalization.
type bnKey struct {
	scale, bias, mean, vr string
	eps                   uint32
}

// bnMap is the per-channel map of BatchNormalization parameters (shared,
// never modified), or why they make none.
type bnMap struct {
	s, t   []float64
	reason string
}

// bnMap computes the map of n's parameters with epsilon eps.
func (w *work) bnMap(n *ir.Node, eps float32) bnMap {
	var p [4]*ir.Tensor
	for i := range p {
		p[i] = w.constF32(n.Inputs[i+1])
		if p[i] == nil {
			return bnMap{reason: fmt.Sprintf("parameter %q is not a constant", n.Inputs[i+1])}
		}
	}
	c := len(p[0].F32)
	for i := range p {
		if len(p[i].Shape) != 1 || len(p[i].F32) != c || c == 0 {
			return bnMap{reason: "parameters are not 1-D tensors of one length"}
		}
	}
	scale, bias, mean, vr := p[0].F32, p[1].F32, p[2].F32, p[3].F32
	m := bnMap{s: make([]float64, c), t: make([]float64, c)}
	for i := 0; i < c; i++ {
		// s = scale/sqrt(var + eps), t = bias - mean*s
		d := float64(vr[i]) + float64(eps)
		if !(d > 0) {
			return bnMap{reason: fmt.Sprintf("var + epsilon is not positive at channel %d", i)}
		}
		m.s[i] = float64(scale[i]) / math.Sqrt(d)
		m.t[i] = float64(bias[i]) - float64(mean[i])*m.s[i]
	}
	return m
}

// f32 rounds a float64 slice to float32.
func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// setFate records what became of a BatchNormalization.
func (w *work) setFate(bn *ir.Node, fate, into, reason string) {
	f := w.fates[label(bn)]
	if f == nil {
		f = &BatchNormFate{Node: label(bn)}
		w.fates[label(bn)] = f
	}
	f.Fate, f.Into, f.Reason = fate, into, reason
	if fate == "affine" {
		w.affineInto[into] = append(w.affineInto[into], f)
	}
}

// affineFusedInto records that the BatchNormalizations whose affine step
// was aff are now applied by layer as it reads its input.
func (w *work) affineFusedInto(aff, layer *ir.Node) {
	into := label(aff)
	for _, f := range w.affineInto[into] {
		if f.Fate == "affine" && f.Into == into {
			f.Fate, f.Into = "fused-input", label(layer)
		}
	}
	delete(w.affineInto, into)
}
