package fold

import (
	"math"

	"github.com/bnrun/bnrun/ir"
)

// activation is an elementwise activation node read as a fusable one.
type activation struct {
	kind        string // Relu, Sigmoid, Tanh, LeakyRelu, Clip, HardSigmoid or HardSwish
	alpha, beta float32
	min, max    float32
}

// readActivation reads n as a fusable activation with constant parameters.
func (w *work) readActivation(n *ir.Node) (activation, bool) {
	a := activation{kind: n.OpType, min: float32(math.Inf(-1)), max: float32(math.Inf(1))}
	if !is(n, "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish") || len(n.Inputs) == 0 {
		return a, false
	}
	var err error
	switch n.OpType {
	case "LeakyRelu":
		a.alpha, err = n.Float("alpha", 0.01)
	case "HardSigmoid":
		if a.alpha, err = n.Float("alpha", 0.2); err == nil {
			a.beta, err = n.Float("beta", 0.5)
		}
	case "Clip":
		if n.Opset < 11 {
			if a.min, err = n.Float("min", a.min); err == nil {
				a.max, err = n.Float("max", a.max)
			}
			break
		}
		for i, dst := range []*float32{&a.min, &a.max} {
			name := n.Input(i + 1)
			if name == "" {
				continue
			}
			c := w.constF32(name)
			if c == nil || len(c.F32) != 1 {
				return a, false
			}
			*dst = c.F32[0]
		}
	}
	return a, err == nil
}

// setActivation records a fused activation on a bnrun node's attributes:
// activation (the op type), and alpha, beta, clip_min, clip_max as it
// needs.
func setActivation(n *ir.Node, prefix string, a activation) {
	setStringAttr(n, prefix+"activation", a.kind)
	switch a.kind {
	case "LeakyRelu":
		setFloatAttr(n, prefix+"activation_alpha", a.alpha)
	case "HardSigmoid":
		setFloatAttr(n, prefix+"activation_alpha", a.alpha)
		setFloatAttr(n, prefix+"activation_beta", a.beta)
	case "Clip":
		setFloatAttr(n, prefix+"clip_min", a.min)
		setFloatAttr(n, prefix+"clip_max", a.max)
	}
}

// hasActivation reports whether a bnrun node already has a fused
// activation (with the attribute prefix).
func hasActivation(n *ir.Node, prefix string) bool {
	s, _ := n.String(prefix+"activation", "")
	return s != ""
}

// fuseActMatch is an activation node to fuse into the node n before it.
type fuseActMatch struct {
	n, act *ir.Node
	a      activation
}

// activationAfter matches the fusable activation that alone reads n's
// first output.
func (w *work) activationAfter(n *ir.Node) (any, bool) {
	act := w.soleConsumer(n.Outputs[0])
	if act == nil || act.Input(0) != n.Outputs[0] {
		return nil, false
	}
	a, ok := w.readActivation(act)
	if !ok {
		return nil, false
	}
	return &fuseActMatch{n: n, act: act, a: a}, true
}

// fuseActivation moves an activation node into the node before it.
func fuseActivation(w *work, m *fuseActMatch) {
	w.detach(m.n)
	setActivation(m.n, "", m.a)
	m.n.Outputs[0] = m.act.Outputs[0]
	w.remove(m.act)
	w.attach(m.n)
}
