package ops

import "github.com/bnrun/bnrun/kern"

// Multidirectional (numpy) broadcasting, shared by the element-wise
// operators of two or three operands (Add, Sub, Mul, Div, Pow, Min, Max,
// Sum, Mean, PRelu, Equal, Less, Greater, Where).
//
// Broadcasting is planned once per set of shapes (kern.PlanBroadcast,
// which kern/cuda's binary kernel shares): the operands' shapes
// are right-aligned against the output's, size-1 output dimensions
// dropped, and adjacent dimensions merged wherever every operand walks
// them contiguously (or broadcasts them). Equal shapes collapse to one
// dimension, a scalar operand to one dimension with stride 0, and a
// per-channel operand such as [C,1,1] against [N,C,H,W] to [N,C,H*W]
// whose inner rows see one scalar. A step then walks the flat output
// range row by row (bcastPlan.rows), each row's operands advancing by 0
// or 1 per element, so that its inner loops can be specialised for
// vector and scalar operands.

// maxOperands is the most operands a broadcast loop nest walks (Where's
// condition, X and Y).
const maxOperands = 3

// bcastShape returns the numpy broadcast of two shapes, or false when they
// are incompatible (kern.BroadcastShape).
func bcastShape(a, b []int) ([]int, bool) { return kern.BroadcastShape(a, b) }

// bcastValues returns the broadcast of the shapes of vs, or an error
// naming the node and the shapes when they do not broadcast.
func bcastValues(n *Node, vs ...*Value) ([]int, error) {
	out := copyShape(vs[0].Shape)
	for _, v := range vs[1:] {
		s, ok := bcastShape(out, v.Shape)
		if !ok {
			shapes := make([]string, len(vs))
			for i, v := range vs {
				shapes[i] = ShapeString(v.Shape)
			}
			return nil, n.Errorf("shapes %v do not broadcast", shapes)
		}
		out = s
	}
	return out, nil
}

// legacyBroadcast rejects the broadcast attribute of the opset 1 and 6
// binary operators (Add, Pow, Equal, ...), whose one-directional
// broadcasting along axis is not supported; without it, such an operator
// needs operands of one shape (sameShapes).
func legacyBroadcast(n *Node) error {
	if n.Opset >= 7 {
		return nil
	}
	b, err := n.Int("broadcast", 0)
	if err != nil {
		return err
	}
	if b != 0 {
		return n.Errorf("legacy broadcast attribute (opset %d) is not supported; re-export with opset 7 or later", n.Opset)
	}
	return nil
}

// sameShapes checks that the operands of an operator version without
// implicit broadcasting have one shape.
func sameShapes(n *Node, vs ...*Value) error {
	for _, v := range vs[1:] {
		if !SameShape(v.Shape, vs[0].Shape) {
			return n.Errorf("shapes %s and %s differ and opset %d has no implicit broadcasting",
				ShapeString(vs[0].Shape), ShapeString(v.Shape), n.Opset)
		}
	}
	return nil
}

// bcastPlan is a broadcast loop nest: dims are the coalesced output
// dimensions, outermost first, and st[j] operand j's element strides
// along them (0 where it is broadcast). The innermost strides are 0 or 1.
type bcastPlan struct {
	dims []int
	st   [][]int
}

// planBcast builds the loop nest for an output of shape out computed from
// operands of the given shapes (at most maxOperands), each of which
// broadcasts to out (kern.PlanBroadcast).
func planBcast(out []int, shapes ...[]int) bcastPlan {
	if len(shapes) > maxOperands {
		panic("planBcast: too many operands")
	}
	p := kern.PlanBroadcast(out, shapes...)
	return bcastPlan{dims: p.Dims, st: p.Strides}
}

// inner returns operand j's stride along the innermost dimension: 1 when
// it advances with the output, 0 when it is one value per row.
func (p *bcastPlan) inner(j int) int { return p.st[j][len(p.dims)-1] }

// rows calls row(pos, cnt, off) for each piece of the flat output range
// [lo, hi) that lies in one innermost row: output elements [pos,
// pos+cnt), operand j's first element at off[j], then advancing by
// p.inner(j) per element. The pieces come in order; hi > lo ≥ 0.
func (p *bcastPlan) rows(lo, hi int, row func(pos, cnt int, off [maxOperands]int)) {
	k := len(p.dims)
	inner := p.dims[k-1]
	outer := p.dims[:k-1]
	// Position of lo: its row's coordinates in the outer dims and the
	// operands' offsets there.
	var cb [maxRank]int
	coord := coordBuf(cb[:], len(outer))
	unravel(lo/inner, outer, coord)
	var base [maxOperands]int
	for j, st := range p.st {
		for d, c := range coord {
			base[j] += c * st[d]
		}
	}
	col := lo % inner
	for pos := lo; pos < hi; {
		cnt := min(inner-col, hi-pos)
		var off [maxOperands]int
		for j, st := range p.st {
			off[j] = base[j] + col*st[k-1]
		}
		row(pos, cnt, off)
		pos += cnt
		col = 0
		// Advance to the next row.
		for d := len(outer) - 1; d >= 0; d-- {
			coord[d]++
			for j, st := range p.st {
				base[j] += st[d]
			}
			if coord[d] < outer[d] {
				break
			}
			for j, st := range p.st {
				base[j] -= coord[d] * st[d]
			}
			coord[d] = 0
		}
	}
}
