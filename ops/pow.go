package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Pow", buildPow)
}

// buildPow binds Pow (opsets 1, 7, 12, 13, 15), Z = X^Y with
// multidirectional (numpy) broadcasting from opset 7 (opset 1's broadcast
// attribute is refused, see legacyBroadcast; without it X and Y need one
// shape). Before opset 12 both are float32; from 12 the base X is float32
// or int64 and the exponent Y float32 or int64, independently, and Z has
// X's type. Per element:
//
//	float32 X:            z = x^y in float64 (math.Pow), rounded once to float32
//	int64 X, int64 y ≥ 0: z = x·x·…·x (y times; 1 for y = 0), wrapping on overflow as numpy
//	otherwise:            z = x^y in float64, truncated toward zero and clamped to
//	                      int64's range (NaN to 0), as Cast converts
//
// so an integer base to a negative power is 1 for x = 1, ±1 for x = -1
// and 0 for |x| ≥ 2 (the spec's reference refuses it; 0 to a negative
// power, undefined there, is int64's largest value). Float results follow
// IEEE pow: 0^0 = 1, a negative base to a non-integer power is NaN.
func buildPow(n *Node) (Kernel, error) {
	if err := legacyBroadcast(n); err != nil {
		return nil, err
	}
	types := []DType{Float32}
	if n.Opset >= 12 {
		types = append(types, Int64)
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 2); err != nil {
			return nil, Step{}, err
		}
		if len(in) != 2 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2", len(in))
		}
		x, y := in[0], in[1]
		if err := needDType(n, x, "X", types...); err != nil {
			return nil, Step{}, err
		}
		if err := needDType(n, y, "Y", types...); err != nil {
			return nil, Step{}, err
		}
		if n.Opset < 7 {
			if err := sameShapes(n, x, y); err != nil {
				return nil, Step{}, err
			}
		}
		outShape, err := bcastValues(n, x, y)
		if err != nil {
			return nil, Step{}, err
		}
		plan := planBcast(outShape, x.Shape, y.Shape)
		xLen, yLen, oLen := NumElems(x.Shape), NumElems(y.Shape), NumElems(outShape)
		run := func(env *kern.Env, in, out []*Tensor) error {
			if !checkRunTensors(in, 2) || !checkRunTensors(out, 1) ||
				in[0].Len() != xLen || in[1].Len() != yLen || out[0].Len() != oLen ||
				in[0].DType != x.DType || in[1].DType != y.DType || out[0].DType != x.DType {
				return fmt.Errorf("tensors do not match the plan")
			}
			z, a, b := out[0], in[0], in[1]
			switch {
			case x.DType == Float32 && y.DType == Float32:
				forChunksOf(env, oLen, elemGrain, powArgs[float32, float32]{powFF, &plan, z.F32, a.F32, b.F32})
			case x.DType == Float32:
				forChunksOf(env, oLen, elemGrain, powArgs[float32, int64]{powFI, &plan, z.F32, a.F32, b.I64})
			case y.DType == Float32:
				forChunksOf(env, oLen, elemGrain, powArgs[int64, float32]{powIF, &plan, z.I64, a.I64, b.F32})
			default:
				forChunksOf(env, oLen, elemGrain, powArgs[int64, int64]{powII, &plan, z.I64, a.I64, b.I64})
			}
			return nil
		}
		var dev *BinaryDev
		if x.DType == Float32 && y.DType == Float32 {
			dev = &BinaryDev{Op: kern.BinaryPow, AShape: copyShape(x.Shape), BShape: copyShape(y.Shape)}
		}
		return []Value{{DType: x.DType, Shape: outShape}}, Step{Run: run, Dev: devOrNil(dev)}, nil
	}), nil
}

// powArgs are a Pow step's operands, row the loop for their types.
type powArgs[B, E kern.Numeric] struct {
	row    func(d, a []B, sa int, b []E, sb int)
	p      *bcastPlan
	dst, a []B
	b      []E
}

// Range computes the flat output range [lo, hi).
func (w *powArgs[B, E]) Range(lo, hi int) {
	sa, sb := w.p.inner(0), w.p.inner(1)
	w.p.rows(lo, hi, func(pos, cnt int, off [maxOperands]int) {
		w.row(w.dst[pos:pos+cnt], w.a[off[0]:], sa, w.b[off[1]:], sb)
	})
}

// powFF computes one row of a float32 base to float32 powers: a and b
// start at the row's first operands and advance by sa and sb (each 0 or
// 1) per element; so do the other pow rows.
func powFF(d, a []float32, sa int, b []float32, sb int) {
	// d[i] = a[i·sa]^b[i·sb]
	for i := range d {
		d[i] = float32(math.Pow(float64(a[i*sa]), float64(b[i*sb])))
	}
}

// powFI computes a row of a float32 base to int64 powers.
func powFI(d, a []float32, sa int, b []int64, sb int) {
	// d[i] = a[i·sa]^b[i·sb]
	for i := range d {
		d[i] = float32(math.Pow(float64(a[i*sa]), float64(b[i*sb])))
	}
}

// powIF computes a row of an int64 base to float32 powers.
func powIF(d, a []int64, sa int, b []float32, sb int) {
	// d[i] = int(a[i·sa]^b[i·sb])
	for i := range d {
		d[i] = floatToInt(math.Pow(float64(a[i*sa]), float64(b[i*sb])), 64, true)
	}
}

// powII computes a row of an int64 base to int64 powers.
func powII(d, a []int64, sa int, b []int64, sb int) {
	// d[i] = a[i·sa]^b[i·sb]
	for i := range d {
		d[i] = ipow(a[i*sa], b[i*sb])
	}
}

// ipow returns x^y: for y ≥ 0 by repeated squaring, wrapping on overflow,
//
//	x^y = Π x^(2^k) over the set bits k of y
//
// and for y < 0 the float64 power converted as powIF converts it.
func ipow(x, y int64) int64 {
	if y < 0 {
		return floatToInt(math.Pow(float64(x), float64(y)), 64, true)
	}
	r := int64(1)
	for ; y > 0; y >>= 1 {
		if y&1 != 0 {
			r *= x
		}
		x *= x
	}
	return r
}
