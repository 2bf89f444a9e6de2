package ops

import "math"

// Unary math: Sqrt, Exp, Log, Neg, Abs, Erf, Reciprocal, Floor and Ceil,
// each element computed in float64 where float32 has no exact operation
// and rounded once to float32 (so Sqrt, Floor, Ceil and Reciprocal are
// exact or correctly rounded, Exp, Log and Erf within an ulp). IEEE
// semantics throughout: Sqrt and Log of a negative value are NaN, Log(0)
// is -Inf, Reciprocal(±0) is ±Inf, Sqrt, Floor, Ceil and Neg keep the
// sign of zero, and NaN stays NaN. Every loop reads an element before it
// writes it, so a step may run in place. The opset 1 forms' attribute
// consumed_inputs (a memory hint of the old optimiser) is ignored.

func init() {
	Register("Sqrt", buildMath(sqrtF32, nil))
	Register("Exp", buildMath(expF32, nil))
	Register("Log", buildMath(logF32, nil))
	Register("Neg", buildMath(negF32, negI64))
	Register("Abs", buildMath(absF32, absI64))
	Register("Erf", buildMath(erfF32, nil))
	Register("Reciprocal", buildMath(reciprocalF32, nil))
	Register("Floor", buildMath(floorF32, nil))
	Register("Ceil", buildMath(ceilF32, nil))
}

// buildMath returns the builder of a shape-preserving unary op computing
// f32 on float32 and, when i64 is set, i64 on int64 from opset 6 on (Neg
// and Abs; opset 1 defines them for floating types only). All of these
// ops take float32 at every version (Sqrt, Exp, Log, Neg, Abs,
// Reciprocal, Floor and Ceil at 1, 6 and 13, Erf at 9 and 13).
func buildMath(f32 func(dst, src []float32), i64 func(dst, src []int64)) Builder {
	return func(n *Node) (Kernel, error) {
		k := &unaryKernel{n: n, f32: f32}
		if n.Opset >= 6 {
			k.i64 = i64
		}
		return k, nil
	}
}

// sqrtF32 computes the square roots, correctly rounded.
func sqrtF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = √x
	for i, v := range src {
		dst[i] = float32(math.Sqrt(float64(v)))
	}
}

// expF32 computes e to the power of each value.
func expF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = eˣ
	for i, v := range src {
		dst[i] = float32(math.Exp(float64(v)))
	}
}

// logF32 computes the natural logarithms.
func logF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = ln x
	for i, v := range src {
		dst[i] = float32(math.Log(float64(v)))
	}
}

// negF32 flips the signs (of zeros and NaNs too).
func negF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = -x
	for i, v := range src {
		dst[i] = -v
	}
}

// negI64 negates, wrapping around as two's complement does (the most
// negative value is its own negation).
func negI64(dst, src []int64) {
	src = src[:len(dst)]
	// y = -x
	for i, v := range src {
		dst[i] = -v
	}
}

// absF32 clears the sign bits.
func absF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = |x|
	for i, v := range src {
		dst[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
	}
}

// absI64 takes absolute values, the most negative value staying itself
// (two's complement, as numpy).
func absI64(dst, src []int64) {
	src = src[:len(dst)]
	// y = |x|
	for i, v := range src {
		if v < 0 {
			v = -v
		}
		dst[i] = v
	}
}

// erfF32 computes the error function.
func erfF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = erf(x) = 2/√π ∫₀ˣ e^(-t²) dt
	for i, v := range src {
		dst[i] = float32(math.Erf(float64(v)))
	}
}

// reciprocalF32 computes the reciprocals, correctly rounded.
func reciprocalF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = 1/x
	for i, v := range src {
		dst[i] = 1 / v
	}
}

// floorF32 rounds toward -Inf.
func floorF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = ⌊x⌋
	for i, v := range src {
		dst[i] = float32(math.Floor(float64(v)))
	}
}

// ceilF32 rounds toward +Inf.
func ceilF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = ⌈x⌉
	for i, v := range src {
		dst[i] = float32(math.Ceil(float64(v)))
	}
}
