package fold

import (
	"github.com/bnrun/bnrun/ir"
)

// gemmBN folds a BatchNormalization over features (BatchNorm1d after a
// Linear layer) into the Gemm that feeds it, or into a MatMul with an
// optional bias Add, which becomes a Gemm. The BN must be the only reader
// of what it folds into, B must be a constant matrix, C or the bias a
// constant that broadcasts along rows. For Y = alpha*A'*B' + beta*C,
//
//	BN(Y)[i,j] = s[j]*Y[i,j] + t[j]
//	           = sum_k A'[i,k]*(alpha*s[j]*B'[k,j]) + (s[j]*beta*C[i,j] + t[j])
//
// so B' is scaled per output column, and C' = s*beta*C + t with alpha and
// beta set to 1.
type gemmBN struct{}

func (gemmBN) name() string { return "GemmBN" }

type gemmBNMatch struct {
	lin  *ir.Node // the Gemm or MatMul
	add  *ir.Node // the bias Add after a MatMul, or nil
	bias string   // the bias tensor of add
	bn   *bnParams
}

func (gemmBN) match(w *work, n *ir.Node) (any, bool) {
	if !is(n, "BatchNormalization") {
		return nil, false
	}
	bn, _ := w.matchBN(n)
	if bn == nil {
		return nil, false
	}
	m := &gemmBNMatch{bn: bn}
	p := w.producer[n.Inputs[0]]
	if is(p, "Add") && w.soleConsumer(p.Outputs[0]) == n && len(p.Inputs) == 2 {
		for i := 0; i < 2; i++ {
			mm, bias := w.producer[p.Inputs[i]], p.Inputs[1-i]
			bt := w.constF32(bias)
			if is(mm, "MatMul") && bt != nil && len(bt.F32) == bn.channels() && rowBroadcast(bt.Shape) {
				m.add, m.bias, p = p, bias, mm
				break
			}
		}
		if m.add == nil {
			return nil, false
		}
	}
	switch {
	case is(p, "Gemm"):
		m.lin = p
	case is(p, "MatMul") && w.rank(p.Outputs[0]) == 2:
		m.lin = p
	default:
		return nil, false
	}
	if m.add == nil && w.soleConsumer(p.Outputs[0]) != n {
		return nil, false
	}
	if m.add != nil && w.soleConsumer(p.Outputs[0]) != m.add {
		return nil, false
	}
	g := readGemm(w, m.lin)
	if g == nil || g.n != bn.channels() {
		return nil, false
	}
	if g.c != nil && !(rowBroadcast(g.c.Shape) || (len(g.c.Shape) == 2 && g.c.Shape[1] == g.n) || (len(g.c.Shape) == 2 && g.c.Shape[1] == 1)) {
		return nil, false
	}
	rows, _ := g.cRows()
	if m.add != nil {
		rows = 1
	}
	if !w.affords(len(g.b.F32) + rows*g.n) {
		return nil, false
	}
	return m, true
}

// rowBroadcast reports whether a shape is a scalar, [N], [1,N] or [1,1]:
// a bias that is the same for every row.
func rowBroadcast(s []int) bool {
	return len(s) <= 1 || (len(s) == 2 && s[0] == 1)
}

// gemmParts is a Gemm (or a MatMul read as one) with constant B.
type gemmParts struct {
	alpha, beta    float64
	transA, transB bool
	b              *ir.Tensor
	c              *ir.Tensor // nil when absent
	k, n           int
}

// readGemm reads a Gemm's attributes and constants, or a MatMul with a
// constant 2-D B as the Gemm alpha=1, beta=0.
func readGemm(w *work, n *ir.Node) *gemmParts {
	g := &gemmParts{alpha: 1, beta: 1}
	g.b = w.constF32(n.Input(1))
	if g.b == nil || len(g.b.Shape) != 2 {
		return nil
	}
	if n.OpType == "MatMul" {
		g.beta = 0
		g.k, g.n = g.b.Shape[0], g.b.Shape[1]
		return g
	}
	alpha, err1 := n.Float("alpha", 1)
	beta, err2 := n.Float("beta", 1)
	ta, err3 := n.Int("transA", 0)
	tb, err4 := n.Int("transB", 0)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return nil
	}
	g.alpha, g.beta, g.transA, g.transB = float64(alpha), float64(beta), ta != 0, tb != 0
	g.k, g.n = g.b.Shape[0], g.b.Shape[1]
	if g.transB {
		g.k, g.n = g.n, g.k
	}
	if c := n.Input(2); c != "" {
		g.c = w.constF32(c)
		if g.c == nil || len(g.c.Shape) > 2 {
			return nil
		}
	}
	return g
}

// bAt returns B'[k][j] (B transposed if transB).
func (g *gemmParts) bAt(k, j int) float64 {
	if g.transB {
		return float64(g.b.F32[j*g.k+k])
	}
	return float64(g.b.F32[k*g.n+j])
}

// setB stores v as B'[k][j] in dst laid out like B.
func (g *gemmParts) setB(dst []float32, k, j int, v float64) {
	if g.transB {
		dst[j*g.k+k] = float32(v)
	} else {
		dst[k*g.n+j] = float32(v)
	}
}

// cRows returns the rows of C as a [rows][n] function of (row, col): a
// bias shared by all rows has one row.
func (g *gemmParts) cRows() (int, func(r, j int) float64) {
	c := g.c
	switch {
	case c == nil:
		return 1, func(int, int) float64 { return 0 }
	case len(c.F32) == 1:
		return 1, func(int, int) float64 { return float64(c.F32[0]) }
	case rowBroadcast(c.Shape):
		return 1, func(_, j int) float64 { return float64(c.F32[j]) }
	case c.Shape[1] == 1:
		return c.Shape[0], func(r, _ int) float64 { return float64(c.F32[r]) }
	}
	return c.Shape[0], func(r, j int) float64 { return float64(c.F32[r*g.n+j]) }
}

func (gemmBN) apply(w *work, mm any) {
	m := mm.(*gemmBNMatch)
	g := readGemm(w, m.lin)
	bn := m.bn
	nb := make([]float32, len(g.b.F32))
	for k := 0; k < g.k; k++ {
		for j := 0; j < g.n; j++ {
			// B''[k,j] = alpha*s[j]*B'[k,j]
			g.setB(nb, k, j, g.alpha*bn.s[j]*g.bAt(k, j))
		}
	}
	rows, cAt := g.cRows()
	if m.add != nil {
		bias := w.constF32(m.bias).F32
		rows, cAt, g.beta = 1, func(_, j int) float64 { return float64(bias[j]) }, 1
	}
	nc := make([]float32, rows*g.n)
	for r := 0; r < rows; r++ {
		for j := 0; j < g.n; j++ {
			// C''[r,j] = s[j]*beta*C[r,j] + t[j]
			nc[r*g.n+j] = float32(bn.s[j]*g.beta*cAt(r, j) + bn.t[j])
		}
	}
	cShape := []int{g.n}
	if rows > 1 {
		cShape = []int{rows, g.n}
	}
	w.detach(m.lin)
	ensureName(m.lin)
	base := label(m.lin)
	bName := w.addConst(base+"_B_bn", ir.NewF32(g.b.Shape, nb))
	cName := w.addConst(base+"_C_bn", ir.NewF32(cShape, nc))
	lin := m.lin
	if lin.OpType == "MatMul" {
		lin.OpType = "Gemm"
		lin.Attrs = map[string]*ir.Attr{}
	}
	lin.Inputs = []string{lin.Inputs[0], bName, cName}
	setFloatAttr(lin, "alpha", 1)
	setFloatAttr(lin, "beta", 1)
	lin.Outputs = []string{bn.n.Outputs[0]}
	w.setFate(bn.n, "folded", label(lin), "")
	if m.add != nil {
		w.remove(bn.n, m.add)
	} else {
		w.remove(bn.n)
	}
	w.attach(lin)
}

// setFloatAttr sets a FLOAT attribute on n.
func setFloatAttr(n *ir.Node, name string, v float32) {
	n.Attrs[name] = &ir.Attr{Name: name, Type: ir.AttrFloat, F: v}
}

// setIntAttr sets an INT attribute on n.
func setIntAttr(n *ir.Node, name string, v int64) {
	n.Attrs[name] = &ir.Attr{Name: name, Type: ir.AttrInt, I: v}
}

// setStringAttr sets a STRING attribute on n.
func setStringAttr(n *ir.Node, name string, v string) {
	n.Attrs[name] = &ir.Attr{Name: name, Type: ir.AttrString, S: v}
}
