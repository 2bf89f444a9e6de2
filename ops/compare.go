package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Comparisons (Equal, Less, Greater) and selection (Where), with
// multidirectional (numpy) broadcasting from opset 7 (Where has it at
// every version). Bool tensors are int64 0 or 1: the comparisons write
// them, Where's condition reads any non-zero value as true. Comparisons
// with NaN are false, and +0 equals -0 (IEEE).

func init() {
	Register("Equal", buildCompare(cmpEqual))
	Register("Less", buildCompare(cmpLess))
	Register("Greater", buildCompare(cmpGreater))
	Register("Where", buildWhere)
}

// cmpOp selects the comparison.
type cmpOp uint8

const (
	cmpEqual cmpOp = iota
	cmpLess
	cmpGreater
)

// buildCompare binds Equal (opsets 1, 7, 11, 13), Less or Greater
// (opsets 1, 7, 9, 13) of A and B, of one type, to a Bool output:
//
//	y = A == B,  A < B  or  A > B
//
// Equal takes int64 (integers, Bool) at every version and float32 from
// opset 11; Less and Greater take float32 at every version and int64
// from opset 9. Opset 1's broadcast attribute is refused (see
// legacyBroadcast); without it, A and B need one shape before opset 7.
func buildCompare(op cmpOp) Builder {
	return func(n *Node) (Kernel, error) {
		if err := legacyBroadcast(n); err != nil {
			return nil, err
		}
		var types []DType
		switch {
		case op == cmpEqual && n.Opset < 11:
			types = []DType{Int64}
		case op != cmpEqual && n.Opset < 9:
			types = []DType{Float32}
		default:
			types = []DType{Float32, Int64}
		}
		return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
			if err := needInputs(n, in, 2); err != nil {
				return nil, Step{}, err
			}
			if len(in) != 2 {
				return nil, Step{}, n.Errorf("got %d inputs, want 2", len(in))
			}
			a, b := in[0], in[1]
			if err := needDType(n, a, "A", types...); err != nil {
				return nil, Step{}, err
			}
			if a.DType != b.DType {
				return nil, Step{}, n.Errorf("A has type %s but B has %s", a.DType, b.DType)
			}
			if n.Opset < 7 {
				if err := sameShapes(n, a, b); err != nil {
					return nil, Step{}, err
				}
			}
			outShape, err := bcastValues(n, a, b)
			if err != nil {
				return nil, Step{}, err
			}
			plan := planBcast(outShape, a.Shape, b.Shape)
			aLen, bLen, oLen := NumElems(a.Shape), NumElems(b.Shape), NumElems(outShape)
			run := func(env *kern.Env, in, out []*Tensor) error {
				if !checkRunTensors(in, 2) || !checkRunTensors(out, 1) ||
					in[0].Len() != aLen || in[1].Len() != bLen || out[0].Len() != oLen ||
					in[0].DType != a.DType || in[1].DType != a.DType || out[0].DType != Int64 {
					return fmt.Errorf("tensors do not match the plan")
				}
				if a.DType == Int64 {
					forChunksOf(env, oLen, elemGrain, cmpArgs[int64]{op, &plan, out[0].I64, in[0].I64, in[1].I64})
				} else {
					forChunksOf(env, oLen, elemGrain, cmpArgs[float32]{op, &plan, out[0].I64, in[0].F32, in[1].F32})
				}
				return nil
			}
			return []Value{{DType: Int64, Shape: outShape}}, Step{Run: run}, nil
		}), nil
	}
}

// cmpArgs are a comparison step's operands.
type cmpArgs[T kern.Numeric] struct {
	op   cmpOp
	p    *bcastPlan
	dst  []int64
	a, b []T
}

// Range compares the flat output range [lo, hi).
func (c *cmpArgs[T]) Range(lo, hi int) {
	sa, sb := c.p.inner(0), c.p.inner(1)
	c.p.rows(lo, hi, func(pos, cnt int, off [maxOperands]int) {
		cmpRow(c.op, c.dst[pos:pos+cnt], c.a[off[0]:], sa, c.b[off[1]:], sb)
	})
}

// cmpRow compares one output row: a and b start at the row's first
// operands and advance by sa and sb (each 0 or 1) per element.
func cmpRow[T kern.Numeric](op cmpOp, d []int64, a []T, sa int, b []T, sb int) {
	switch op {
	case cmpEqual:
		// d[i] = a[i·sa] == b[i·sb]
		for i := range d {
			d[i] = b2i(a[i*sa] == b[i*sb])
		}
	case cmpLess:
		// d[i] = a[i·sa] < b[i·sb]
		for i := range d {
			d[i] = b2i(a[i*sa] < b[i*sb])
		}
	case cmpGreater:
		// d[i] = a[i·sa] > b[i·sb]
		for i := range d {
			d[i] = b2i(a[i*sa] > b[i*sb])
		}
	}
}

// buildWhere binds Where (opsets 9 and 16): a Bool condition and X and
// Y of one type (float32 or int64), all three broadcast together,
//
//	y = X if condition else Y
func buildWhere(n *Node) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 3); err != nil {
			return nil, Step{}, err
		}
		if len(in) != 3 {
			return nil, Step{}, n.Errorf("got %d inputs, want 3", len(in))
		}
		c, x, y := in[0], in[1], in[2]
		if c.DType != Int64 {
			return nil, Step{}, n.Errorf("condition has type %s, want bool (int64 0 or 1)", c.DType)
		}
		if err := needDType(n, x, "X", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		if x.DType != y.DType {
			return nil, Step{}, n.Errorf("X has type %s but Y has %s", x.DType, y.DType)
		}
		outShape, err := bcastValues(n, c, x, y)
		if err != nil {
			return nil, Step{}, err
		}
		plan := planBcast(outShape, c.Shape, x.Shape, y.Shape)
		cLen, xLen, yLen, oLen := NumElems(c.Shape), NumElems(x.Shape), NumElems(y.Shape), NumElems(outShape)
		run := func(env *kern.Env, in, out []*Tensor) error {
			if !checkRunTensors(in, 3) || !checkRunTensors(out, 1) ||
				in[0].Len() != cLen || in[1].Len() != xLen || in[2].Len() != yLen || out[0].Len() != oLen ||
				in[0].DType != Int64 || in[1].DType != x.DType || in[2].DType != x.DType || out[0].DType != x.DType {
				return fmt.Errorf("tensors do not match the plan")
			}
			if x.DType == Int64 {
				forChunksOf(env, oLen, elemGrain, whereArgs[int64]{&plan, out[0].I64, in[0].I64, in[1].I64, in[2].I64})
			} else {
				forChunksOf(env, oLen, elemGrain, whereArgs[float32]{&plan, out[0].F32, in[0].I64, in[1].F32, in[2].F32})
			}
			return nil
		}
		return []Value{{DType: x.DType, Shape: outShape}}, Step{Run: run}, nil
	}), nil
}

// whereArgs are a Where step's operands.
type whereArgs[T kern.Numeric] struct {
	p      *bcastPlan
	dst    []T
	cond   []int64
	xs, ys []T
}

// Range selects the flat output range [lo, hi).
func (w *whereArgs[T]) Range(lo, hi int) {
	sc, sx, sy := w.p.inner(0), w.p.inner(1), w.p.inner(2)
	w.p.rows(lo, hi, func(pos, cnt int, off [maxOperands]int) {
		d, c, x, y := w.dst[pos:pos+cnt], w.cond[off[0]:], w.xs[off[1]:], w.ys[off[2]:]
		// d[i] = x[i·sx] if c[i·sc] ≠ 0 else y[i·sy]
		for i := range d {
			if c[i*sc] != 0 {
				d[i] = x[i*sx]
			} else {
				d[i] = y[i*sy]
			}
		}
	})
}
