package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// bnConv folds a BatchNormalization into the linear layer that reads it,
// when nothing nonlinear stands between: an input BN before the first
// Conv, a BN before a Linear layer. The BN output must be read only by
// that layer. With x' = s*x + t per input channel c,
//
//	conv(x')[m] = sum_{c,k} W[m,c,k]*(s[c]*x[c] + t[c])
//	            = conv_{W*s}(x)[m] + sum_{c,k} W[m,c,k]*t[c]
//
// which holds only where the kernel window lies inside the input: padded
// zeros are zeros of x', not of x. So the rule fires only for Convs without
// padding. For Gemm (BN over A's features, transA=0),
// B'[k,j] = s[k]*B[k,j] and C'[j] = beta*C[j] + alpha*sum_k t[k]*B[k,j].
type bnConv struct{}

func (bnConv) name() string { return "BNConv" }

type bnConvMatch struct {
	bn   *bnParams
	next *ir.Node
}

func (bnConv) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "BatchNormalization") {
		return nil, false
	}
	next := w.soleConsumer(n.Outputs[0])
	if next == nil || next.Input(0) != n.Outputs[0] {
		return nil, false
	}
	bn, _ := w.matchBN(n)
	if bn == nil {
		return nil, false
	}
	switch {
	case is(next, "Conv"):
		wt := w.constF32(next.Input(1))
		if wt == nil || len(wt.Shape) < 3 || !unpadded(next, wt.Shape[2:]) {
			return nil, false
		}
		group, err := next.Int("group", 1)
		if err != nil || group < 1 || int(group)*wt.Shape[1] != bn.channels() || wt.Shape[0]%int(group) != 0 {
			return nil, false
		}
		if b := next.Input(2); b != "" && (w.constF32(b) == nil || len(w.constF32(b).F32) != wt.Shape[0]) {
			return nil, false
		}
		if !w.affords(len(wt.F32) + wt.Shape[0]) {
			return nil, false
		}
	case is(next, "Gemm"):
		g := readGemm(w, next)
		if g == nil || g.transA || g.k != bn.channels() {
			return nil, false
		}
		if g.c != nil && !rowBroadcast(g.c.Shape) {
			return nil, false
		}
		if !w.affords(len(g.b.F32) + g.n) {
			return nil, false
		}
	default:
		return nil, false
	}
	return &bnConvMatch{bn: bn, next: next}, true
}

// unpadded reports whether a Conv or a pooling provably adds no padding:
// explicit pads all zero, or auto_pad VALID, or SAME with a 1-wide kernel.
func unpadded(conv *ir.Node, kernel []int) bool {
	ap, err := conv.String("auto_pad", "NOTSET")
	if err != nil {
		return false
	}
	switch ap {
	case "VALID":
		return true
	case "SAME_UPPER", "SAME_LOWER":
		for _, k := range kernel {
			if k != 1 {
				return false
			}
		}
		strides, err := conv.Ints("strides", nil)
		if err != nil {
			return false
		}
		for _, s := range strides {
			if s != 1 {
				return false
			}
		}
		return true
	case "NOTSET", "":
		pads, err := conv.Ints("pads", nil)
		if err != nil {
			return false
		}
		for _, p := range pads {
			if p != 0 {
				return false
			}
		}
		return true
	}
	return false
}

func (bnConv) apply(w *work, mm any) {
	m := mm.(*bnConvMatch)
	bn, next := m.bn, m.next
	w.detach(next)
	ensureName(next)
	base := label(next)
	if next.OpType == "Conv" {
		wt := w.constF32(next.Input(1))
		mOut, cg := wt.Shape[0], wt.Shape[1]
		k := len(wt.F32) / (mOut * cg)
		group := bn.channels() / cg
		mg := mOut / group
		nw := make([]float32, len(wt.F32))
		nb := make([]float32, mOut)
		var b []float32
		if name := next.Input(2); name != "" {
			b = w.constF32(name).F32
		}
		for o := 0; o < mOut; o++ {
			acc := 0.0
			if b != nil {
				acc = float64(b[o])
			}
			for ci := 0; ci < cg; ci++ {
				c := (o/mg)*cg + ci // the input channel this weight reads
				for j := 0; j < k; j++ {
					i := (o*cg+ci)*k + j
					// W'[o,ci,j] = W[o,ci,j]*s[c];  b'[o] = b[o] + sum W[o,ci,j]*t[c]
					nw[i] = float32(float64(wt.F32[i]) * bn.s[c])
					acc += float64(wt.F32[i]) * bn.t[c]
				}
			}
			nb[o] = float32(acc)
		}
		wName := w.addConst(base+"_W_bn", ir.NewF32(wt.Shape, nw))
		bName := w.addConst(base+"_B_bn", ir.NewF32([]int{mOut}, nb))
		next.Inputs = []string{bn.n.Inputs[0], wName, bName}
	} else {
		g := readGemm(w, next)
		nb := make([]float32, len(g.b.F32))
		_, cAt := g.cRows()
		nc := make([]float32, g.n)
		for j := 0; j < g.n; j++ {
			acc := g.beta * cAt(0, j)
			for k := 0; k < g.k; k++ {
				// B'[k,j] = s[k]*B[k,j];  C'[j] = beta*C[j] + alpha*sum_k t[k]*B[k,j]
				g.setB(nb, k, j, bn.s[k]*g.bAt(k, j))
				acc += g.alpha * bn.t[k] * g.bAt(k, j)
			}
			nc[j] = float32(acc)
		}
		bName := w.addConst(base+"_B_bn", ir.NewF32(g.b.Shape, nb))
		cName := w.addConst(base+"_C_bn", ir.NewF32([]int{g.n}, nc))
		next.Inputs = []string{bn.n.Inputs[0], bName, cName}
		setFloatAttr(next, "beta", 1)
	}
	w.setFate(bn.n, "folded", label(next), "into the next layer")
	w.remove(bn.n)
	w.attach(next)
}
