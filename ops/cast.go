package ops

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Cast", buildCast)
}

// castTarget is what Cast's attribute to (a TensorProto.DataType) means
// to bnrun, which stores float32 and int64 tensors only: the type the
// result is stored as, and the conversion into the named type's values.
type castTarget struct {
	name  string
	dtype DType
	// float: the named float type's values (rounded to FLOAT16 or
	// BFLOAT16 precision, DOUBLE kept at float32's); integer: wrapped to
	// bits bits, signed or not; bool: 0 or 1.
	kind   castKind
	bits   uint
	signed bool
}

type castKind uint8

const (
	castFloat castKind = iota
	castHalf
	castBFloat
	castInt
	castBool
)

// castTargets are the types Cast converts to, by TensorProto.DataType.
var castTargets = map[int64]castTarget{
	1:  {name: "FLOAT", dtype: Float32, kind: castFloat},
	11: {name: "DOUBLE", dtype: Float32, kind: castFloat},
	10: {name: "FLOAT16", dtype: Float32, kind: castHalf},
	16: {name: "BFLOAT16", dtype: Float32, kind: castBFloat},
	2:  {name: "UINT8", dtype: Int64, kind: castInt, bits: 8},
	3:  {name: "INT8", dtype: Int64, kind: castInt, bits: 8, signed: true},
	4:  {name: "UINT16", dtype: Int64, kind: castInt, bits: 16},
	5:  {name: "INT16", dtype: Int64, kind: castInt, bits: 16, signed: true},
	6:  {name: "INT32", dtype: Int64, kind: castInt, bits: 32, signed: true},
	12: {name: "UINT32", dtype: Int64, kind: castInt, bits: 32},
	7:  {name: "INT64", dtype: Int64, kind: castInt, bits: 64, signed: true},
	13: {name: "UINT64", dtype: Int64, kind: castInt, bits: 64},
	9:  {name: "BOOL", dtype: Int64, kind: castBool},
}

// buildCast binds Cast (opsets 6, 9, 13, 19 and 21), from float32 or int64 (the
// types bnrun stores every tensor as) to the type named by the attribute
// to: floating types are stored as float32 (FLOAT16 and BFLOAT16 values
// rounded to their precision, to nearest, ties to even; DOUBLE computed
// in float32), integer types and BOOL as int64 holding the named type's
// values. Float to integer truncates toward zero; NaN becomes 0 and
// values out of the type's range its nearest bound (the spec leaves both
// undefined). Integer to a narrower integer keeps the low bits, as C
// does. Anything to BOOL is 1 when not 0 (NaN included). STRING, the
// complex types and the types opsets 19 and 21 add (the 8-bit floats,
// INT4 and UINT4) are refused, naming the type; so opset 19's saturate
// attribute, which only concerns the 8-bit floats, changes nothing (it
// must be 0 or 1).
func buildCast(n *Node) (Kernel, error) {
	to, err := n.Int("to", -1)
	if err != nil {
		return nil, err
	}
	t, ok := castTargets[to]
	if !ok {
		if to == -1 {
			return nil, n.Errorf("attribute to is required")
		}
		return nil, n.Errorf("Cast to %s is not supported (bnrun computes with float32 and int64)", onnxTypeName(to))
	}
	if n.Opset >= 19 {
		sat, err := n.Int("saturate", 1)
		if err != nil {
			return nil, err
		}
		if sat != 0 && sat != 1 {
			return nil, n.Errorf("saturate %d is not 0 or 1", sat)
		}
	}
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		if err := needInputs(n, in, 1); err != nil {
			return nil, Step{}, err
		}
		if len(in) != 1 {
			return nil, Step{}, n.Errorf("got %d inputs, want 1", len(in))
		}
		x := in[0]
		if err := needDType(n, x, "input", Float32, Int64); err != nil {
			return nil, Step{}, err
		}
		size := NumElems(x.Shape)
		run := func(env *kern.Env, ins, out []*Tensor) error {
			if !checkRunTensors(ins, 1) || !checkRunTensors(out, 1) || ins[0].Len() != size ||
				out[0].Len() != size || out[0].DType != t.dtype {
				return fmt.Errorf("tensors do not match the plan")
			}
			t.convert(out[0], ins[0])
			return nil
		}
		var dev *CopyDev
		if x.DType == Float32 && t.kind == castFloat {
			dev = &CopyDev{} // FLOAT or DOUBLE (stored as float32): the values unchanged
		}
		return []Value{{DType: t.dtype, Shape: copyShape(x.Shape)}}, Step{Run: run, Dev: devOrNil(dev)}, nil
	}), nil
}

// otherTypes names the TensorProto.DataType values bnrun stores no
// tensor of, for messages.
var otherTypes = map[int64]string{
	0: "UNDEFINED", 8: "STRING", 14: "COMPLEX64", 15: "COMPLEX128",
	17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ",
	21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2",
}

// onnxTypeName returns the ONNX name of a TensorProto.DataType value, with
// its number.
func onnxTypeName(dt int64) string {
	if t, ok := castTargets[dt]; ok {
		return fmt.Sprintf("%s (%d)", t.name, dt)
	}
	if name, ok := otherTypes[dt]; ok {
		return fmt.Sprintf("%s (%d)", name, dt)
	}
	return fmt.Sprintf("data type %d", dt)
}

// convert writes src converted to t into dst (of t's dtype and src's
// length).
func (t castTarget) convert(dst, src *Tensor) {
	switch {
	case t.dtype == Float32 && src.DType == Float32:
		for i, v := range src.F32 {
			dst.F32[i] = t.float(v)
		}
	case t.dtype == Float32:
		for i, v := range src.I64 {
			dst.F32[i] = t.float(float32(v))
		}
	case src.DType == Float32:
		for i, v := range src.F32 {
			if t.kind == castBool {
				dst.I64[i] = b2i(v != 0)
				continue
			}
			dst.I64[i] = t.int(floatToInt(float64(v), t.bits, t.signed))
		}
	default:
		for i, v := range src.I64 {
			if t.kind == castBool {
				dst.I64[i] = b2i(v != 0)
				continue
			}
			dst.I64[i] = t.int(v)
		}
	}
}

// float returns v as a value of t's floating type.
func (t castTarget) float(v float32) float32 {
	switch t.kind {
	case castHalf:
		return roundHalf(v)
	case castBFloat:
		return roundBFloat(v)
	}
	return v
}

// int returns v wrapped to t's integer type: its low bits, sign-extended
// for a signed type.
func (t castTarget) int(v int64) int64 {
	if t.bits == 64 {
		return v // UINT64 values above INT64_MAX keep their bits
	}
	sh := 64 - t.bits
	if t.signed {
		return v << sh >> sh
	}
	return int64(uint64(v) << sh >> sh)
}

// floatToInt truncates v toward zero into the range of a bits-wide
// integer type, NaN to 0.
func floatToInt(v float64, bits uint, signed bool) int64 {
	f := math.Trunc(v)
	var lo, hi float64
	switch {
	case signed:
		lo, hi = -math.Ldexp(1, int(bits)-1), math.Ldexp(1, int(bits)-1)-1
	default:
		lo, hi = 0, math.Ldexp(1, int(bits))-1
	}
	switch {
	case f != f:
		return 0
	case f <= lo:
		if signed && bits == 64 {
			return math.MinInt64
		}
		return int64(lo)
	case f >= hi:
		if bits == 64 {
			if signed {
				return math.MaxInt64
			}
			return -1 // UINT64's largest value, its bits
		}
		return int64(hi)
	}
	if !signed && bits == 64 && f >= math.Ldexp(1, 63) {
		return int64(uint64(f))
	}
	return int64(f)
}

// b2i is 1 for true, 0 for false.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// roundHalf returns v rounded to the nearest IEEE half-precision value
// (ties to even), as a float32: ±Inf beyond the largest half (65504 and
// its rounding range), subnormal halves below 2^-14, NaN kept (quiet).
func roundHalf(v float32) float32 {
	if v != v || math.IsInf(float64(v), 0) {
		return v
	}
	a := math.Abs(float64(v))
	// 65520 is halfway between 65504 and the next step, 65536: it and
	// above round to infinity.
	if a >= 65520 {
		return float32(math.Copysign(math.Inf(1), float64(v)))
	}
	// The spacing of halves near a: 2^(e-10) for a in [2^e, 2^(e+1)),
	// e at least -14 (subnormals share 2^-24).
	e := -14
	if a >= math.Ldexp(1, -14) {
		_, exp := math.Frexp(a) // a = frac·2^exp, frac in [0.5, 1)
		e = exp - 1
	}
	q := math.Ldexp(1, e-10)
	// a/q and the product are exact in float64 (a has 24 significant
	// bits, q is a power of two); RoundToEven rounds ties to even.
	r := math.RoundToEven(a/q) * q
	return float32(math.Copysign(r, float64(v)))
}

// roundBFloat returns v rounded to the nearest bfloat16 value (the top 16
// bits of a float32, ties to even), NaN kept.
func roundBFloat(v float32) float32 {
	if v != v {
		return v
	}
	b := math.Float32bits(v)
	// add 0x7FFF plus the lowest kept bit, then drop the low 16 bits:
	// round to nearest, ties to even (an overflow into the exponent is
	// the right rounding, to the next binade or infinity)
	b += 0x7FFF + (b>>16)&1
	return math.Float32frombits(b &^ 0xFFFF)
}
