package ops

import (
	"fmt"

	"github.com/bnrun/bnrun/kern"
)

// Add, Sub, Mul and Div with multidirectional (numpy) broadcasting, over
// float32 and int64.
//
// Broadcasting is planned once per shape pair (see bcast.go); the inner
// loop is specialised for vector/vector, vector/scalar and scalar/vector
// rows. The same loops serve Max, Min, Sum and Mean (variadic.go) and
// PRelu.
//
// Integer division truncates toward zero, as C and Go do. An int64 Div
// whose divisor holds a zero fails: at plan time when the divisor is a
// constant (the runtime also folds all-constant nodes by running the step,
// which reports the same error), otherwise at run time.

func init() {
	Register("Add", imageWiseOp(buildArith(opAdd), firstOutput, computedInputs))
	Register("Sub", buildArith(opSub))
	Register("Mul", imageWiseOp(buildArith(opMul), firstOutput, computedInputs))
	Register("Div", buildArith(opDiv))
}

// arithOp selects the binary operation: kern's binary operators, which a
// BinaryDev carries to a device, and PRelu, the CPU's alone. opMax, opMin
// and opPRelu serve Max, Min and PRelu (see arithRow); Pow has its own
// loops (pow.go).
type arithOp = kern.BinaryOp

const (
	opAdd   = kern.BinaryAdd
	opSub   = kern.BinarySub
	opMul   = kern.BinaryMul
	opDiv   = kern.BinaryDiv
	opMax   = kern.BinaryMax
	opMin   = kern.BinaryMin
	opPRelu = kern.BinaryPow + 1 // not a valid kern.BinaryOp: no device kernel
)

type arithKernel struct {
	n  *Node
	op arithOp
}

func buildArith(op arithOp) Builder {
	return func(n *Node) (Kernel, error) {
		if err := legacyBroadcast(n); err != nil {
			return nil, err
		}
		return &arithKernel{n: n, op: op}, nil
	}
}

// Prepare checks types and shapes and plans the broadcast.
func (k *arithKernel) Prepare(in []*Value) ([]Value, Step, error) {
	if err := needInputs(k.n, in, 2); err != nil {
		return nil, Step{}, err
	}
	a, b := in[0], in[1]
	if err := needDType(k.n, a, "A", Float32, Int64); err != nil {
		return nil, Step{}, err
	}
	if a.DType != b.DType {
		return nil, Step{}, k.n.Errorf("A has type %s but B has %s", a.DType, b.DType)
	}
	if k.n.Opset < 7 {
		if err := sameShapes(k.n, a, b); err != nil {
			return nil, Step{}, err
		}
	}
	outShape, ok := bcastShape(a.Shape, b.Shape)
	if !ok {
		return nil, Step{}, k.n.Errorf("shapes %s and %s do not broadcast", ShapeString(a.Shape), ShapeString(b.Shape))
	}
	if k.op == opDiv && b.DType == Int64 && b.Const != nil && NumElems(outShape) > 0 {
		for _, v := range b.Const.I64 {
			if v == 0 {
				return nil, Step{}, k.n.Errorf("integer division by zero")
			}
		}
	}
	plan := planBcast(outShape, a.Shape, b.Shape)
	aLen, bLen, oLen := NumElems(a.Shape), NumElems(b.Shape), NumElems(outShape)
	run := func(env *kern.Env, in, out []*Tensor) error {
		if !checkRunTensors(in, 2) || !checkRunTensors(out, 1) ||
			in[0].Len() != aLen || in[1].Len() != bLen || out[0].Len() != oLen ||
			in[0].DType != in[1].DType || in[0].DType != out[0].DType {
			return fmt.Errorf("tensors do not match the plan")
		}
		if oLen == 0 {
			return nil
		}
		if out[0].DType == Int64 {
			if k.op == opDiv {
				for _, v := range in[1].I64 {
					if v == 0 {
						return fmt.Errorf("integer division by zero")
					}
				}
			}
			runBcast(env, k.op, &plan, out[0].I64, in[0].I64, in[1].I64)
			return nil
		}
		runBcast(env, k.op, &plan, out[0].F32, in[0].F32, in[1].F32)
		return nil
	}
	var dev *BinaryDev
	if a.DType == Float32 {
		dev = &BinaryDev{Op: k.op, AShape: copyShape(a.Shape), BShape: copyShape(b.Shape)}
	}
	return []Value{{DType: a.DType, Shape: outShape}}, Step{Run: run, Dev: devOrNil(dev)}, nil
}

// runBcast computes dst = a op b over the loop nest p, splitting the flat
// output range across workers.
func runBcast[T kern.Numeric](env *kern.Env, op arithOp, p *bcastPlan, dst, a, b []T) {
	forChunksOf(env, len(dst), elemGrain, bcastArgs[T]{kern.TierOf(env), op, p, dst, a, b})
}

// bcastArgs are runBcast's operands.
type bcastArgs[T kern.Numeric] struct {
	k         *kern.Tier
	op        arithOp
	p         *bcastPlan
	dst, a, b []T
}

// Range computes the flat output range [lo, hi) of runBcast.
func (args *bcastArgs[T]) Range(lo, hi int) {
	ia, ib := args.p.inner(0), args.p.inner(1)
	args.p.rows(lo, hi, func(pos, cnt int, off [maxOperands]int) {
		arithRow(args.k, args.op, args.dst[pos:pos+cnt], args.a[off[0]:], ia, args.b[off[1]:], ib)
	})
}

// arithRow computes one output row: a and b start at the row's first
// operands and advance by sa and sb (each 0 or 1) per element. A float32
// addition of two rows runs on k's Add kernel (see AddRow), a float32
// product on its Mul kernel. Max and Min propagate NaN (Go's max and
// min, as numpy's maximum and minimum); PRelu is a·b where a < 0, else a.
func arithRow[T kern.Numeric](k *kern.Tier, op arithOp, d, a []T, sa int, b []T, sb int) {
	n := len(d)
	if df, ok := any(d).([]float32); ok && op == opMul && k != nil && k.Mul != nil && sa|sb != 0 {
		// d[i] = a[i·sa]·b[i·sb] on the vector kernel
		k.Mul(df, any(a).([]float32), sa, any(b).([]float32), sb)
		return
	}
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case opAdd:
			if df, ok := any(d).([]float32); ok {
				kern.AddRow(k, df, any(a).([]float32), any(b).([]float32), false)
				return
			}
			// d[i] = a[i] + b[i]
			for i := range d {
				d[i] = a[i] + b[i]
			}
		case opSub:
			// d[i] = a[i] - b[i]
			for i := range d {
				d[i] = a[i] - b[i]
			}
		case opMul:
			// d[i] = a[i] * b[i]
			for i := range d {
				d[i] = a[i] * b[i]
			}
		case opDiv:
			// d[i] = a[i] / b[i]
			for i := range d {
				d[i] = a[i] / b[i]
			}
		case opMax:
			// d[i] = max(a[i], b[i])
			for i := range d {
				d[i] = max(a[i], b[i])
			}
		case opMin:
			// d[i] = min(a[i], b[i])
			for i := range d {
				d[i] = min(a[i], b[i])
			}
		case opPRelu:
			// d[i] = a[i]·b[i] if a[i] < 0 else a[i]
			for i, v := range a {
				if v < 0 {
					v *= b[i]
				}
				d[i] = v
			}
		}
	case sa == 1:
		a = a[:n]
		s := b[0]
		switch op {
		case opAdd:
			// d[i] = a[i] + s
			for i := range d {
				d[i] = a[i] + s
			}
		case opSub:
			// d[i] = a[i] - s
			for i := range d {
				d[i] = a[i] - s
			}
		case opMul:
			// d[i] = a[i] * s
			for i := range d {
				d[i] = a[i] * s
			}
		case opDiv:
			// d[i] = a[i] / s
			for i := range d {
				d[i] = a[i] / s
			}
		case opMax:
			// d[i] = max(a[i], s)
			for i := range d {
				d[i] = max(a[i], s)
			}
		case opMin:
			// d[i] = min(a[i], s)
			for i := range d {
				d[i] = min(a[i], s)
			}
		case opPRelu:
			// d[i] = a[i]·s if a[i] < 0 else a[i]
			for i, v := range a {
				if v < 0 {
					v *= s
				}
				d[i] = v
			}
		}
	case sb == 1:
		b = b[:n]
		s := a[0]
		switch op {
		case opAdd:
			// d[i] = s + b[i]
			for i := range d {
				d[i] = s + b[i]
			}
		case opSub:
			// d[i] = s - b[i]
			for i := range d {
				d[i] = s - b[i]
			}
		case opMul:
			// d[i] = s * b[i]
			for i := range d {
				d[i] = s * b[i]
			}
		case opDiv:
			// d[i] = s / b[i]
			for i := range d {
				d[i] = s / b[i]
			}
		case opMax:
			// d[i] = max(s, b[i])
			for i := range d {
				d[i] = max(s, b[i])
			}
		case opMin:
			// d[i] = min(s, b[i])
			for i := range d {
				d[i] = min(s, b[i])
			}
		case opPRelu:
			// d[i] = s·b[i] if s < 0 else s
			for i := range d {
				v := s
				if v < 0 {
					v *= b[i]
				}
				d[i] = v
			}
		}
	default:
		var v T
		x, y := a[0], b[0]
		// v = x op y, broadcast over the row
		switch op {
		case opAdd:
			v = x + y
		case opSub:
			v = x - y
		case opMul:
			v = x * y
		case opDiv:
			v = x / y
		case opMax:
			v = max(x, y)
		case opMin:
			v = min(x, y)
		case opPRelu:
			v = x
			if v < 0 {
				v *= y
			}
		}
		for i := range d {
			d[i] = v
		}
	}
}
