package kern

import (
	"math"
)

// ReluF32 writes dst[i] = max(src[i], 0) for i < len(dst): the builtin
// max, so NaN stays NaN and -0 becomes +0. It is the portable Relu.
func ReluF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = max(x, 0); NaN stays NaN
	for i, v := range src {
		dst[i] = max(v, 0)
	}
}

// SigmoidF32 writes dst[i] = 1 / (1 + exp(-src[i])) for i < len(dst),
// computed in float64 and rounded once: the reference the fast sigmoid
// kernels are measured against.
func SigmoidF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = 1 / (1 + exp(-x)), evaluated in float64 and rounded once
	for i, v := range src {
		dst[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}

// The constants of sigmoidFast: log2(e), ln 2 in two parts (the first
// with 9 significant bits, so that m·ln2Hi is exact for |m| < 128) and
// the Taylor coefficients of exp.
const (
	sigLog2e float32 = 1.44269504
	sigLn2Hi float32 = 0.693359375
	sigLn2Lo float32 = -2.12194440e-4
)

// sigmoidFast computes 1/(1 + exp(-x)) for each value in float32
// arithmetic, the portable twin of the tiers' vector Sigmoid kernels
// (SigmoidAVX2 computes the same operations). With x clamped to [-88, 87]
// (a NaN kept):
//
//	exp(-x) = 2^-m · p(r),  m = round(x·log2e),  r = m·ln2 - x  (|r| ≤ 0.35)
//	p(r) = 1 + r + r²/2! + … + r⁷/7!   (Horner; truncation below 6e-9)
//
// r and each Horner step one fused multiply-add rounded once (fma32), the
// rest each operation rounded to float32, then 1/(1 + e). Its
// error against the correctly rounded sigmoid is a few units in the last
// place (TestSigmoidFastAccuracy); below sigmoid(-88) = 6e-39 it returns
// that value.
func sigmoidFast(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		if x != x {
			dst[i] = x
			continue
		}
		x = min(max(x, -88), 87)
		m := float32(math.RoundToEven(float64(float32(x * sigLog2e))))
		r := fma32(m, sigLn2Lo, fma32(m, sigLn2Hi, -x))
		p := float32(1) / 5040
		p = fma32(p, r, float32(1)/720)
		p = fma32(p, r, float32(1)/120)
		p = fma32(p, r, float32(1)/24)
		p = fma32(p, r, float32(1)/6)
		p = fma32(p, r, float32(1)/2)
		p = fma32(p, r, 1)
		p = fma32(p, r, 1)
		// 2^-m from the exponent bits: bits(1) - m<<23, m in [-126, 127]
		e := float32(p * math.Float32frombits(uint32(0x3f800000-int32(m)<<23)))
		dst[i] = 1 / (1 + e)
	}
}

// reluRow computes dst = max(src, 0) on k's vector kernel when it has
// one, else in a Go loop (ReluF32); the two agree bit for bit.
func reluRow(k *Tier, dst, src []float32) {
	if k != nil && k.Relu != nil {
		k.Relu(dst, src)
		return
	}
	ReluF32(dst, src)
}

// siluF32 computes dst = src·sigmoid(src), the sigmoid as SigmoidF32
// rounds it, then the product rounded: what a graph's Sigmoid and Mul
// compute on the generic tier.
func siluF32(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v * float32(1/(1+math.Exp(-float64(v))))
	}
}

// siluFast is siluF32 with sigmoidFast's sigmoid: the portable twin of
// the tiers' vector Silu kernels.
func siluFast(dst, src []float32) {
	src = src[:len(dst)]
	var buf [64]float32
	for len(dst) > 0 {
		n := min(len(dst), len(buf))
		s := buf[:n]
		sigmoidFast(s, src[:n])
		// y = x·sigmoid(x)
		for i, v := range src[:n] {
			dst[i] = v * s[i]
		}
		dst, src = dst[n:], src[n:]
	}
}

// siluRow computes dst = src·sigmoid(src) on k's vector kernel when it
// has one, else in float64 (siluF32).
func siluRow(k *Tier, dst, src []float32) {
	if k != nil && k.Silu != nil {
		k.Silu(dst, src)
		return
	}
	siluF32(dst, src)
}

// sigmoidRow computes dst = sigmoid(src) on k's vector kernel when it has
// one, else in float64 (SigmoidF32).
func sigmoidRow(k *Tier, dst, src []float32) {
	if k != nil && k.Sigmoid != nil {
		k.Sigmoid(dst, src)
		return
	}
	SigmoidF32(dst, src)
}

// TanhF32 writes dst[i] = tanh(src[i]) for i < len(dst), computed in
// float64 and rounded once.
func TanhF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = tanh(x), evaluated in float64 and rounded once
	for i, v := range src {
		dst[i] = float32(math.Tanh(float64(v)))
	}
}

// ClipRange clamps src into [lo, hi]; when lo > hi every element becomes
// hi, as the spec's Min(max, Max(x, min)). NaN passes through.
func ClipRange[T Numeric](dst, src []T, lo, hi T) {
	src = src[:len(dst)]
	// y = min(hi, max(x, lo))
	for i, v := range src {
		dst[i] = min(max(v, lo), hi)
	}
}

// GeluF32 writes dst[i] = Gelu(src[i]) for i < len(dst), ONNX's exact
// form
//
//	y = x/2·(1 + erf(x/√2))
//
// computed in float64 as x/2·erfc(-x/√2), which equals it and loses
// nothing where the parenthesis nears 0, and rounded once (-Inf gives
// NaN, as the formula says).
func GeluF32(dst, src []float32) {
	src = src[:len(dst)]
	// y = x/2·(1 + erf(x/√2)) = x/2·erfc(-x/√2)
	for i, v := range src {
		x := float64(v)
		dst[i] = float32(x / 2 * math.Erfc(-x/math.Sqrt2))
	}
}

// GeluTanhF32 writes dst[i] = Gelu(src[i]) for i < len(dst) in ONNX's
// tanh approximation,
//
//	y = x/2·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
//
// computed in float64 as x/(1 + e^(-2u)), which equals it and loses
// nothing where the parenthesis nears 0, and rounded once.
func GeluTanhF32(dst, src []float32) {
	src = src[:len(dst)]
	c := math.Sqrt(2 / math.Pi)
	// u = √(2/π)·(x + 0.044715·x³); y = x/2·(1 + tanh(u)) = x/(1 + e^(-2u))
	for i, v := range src {
		x := float64(v)
		u := c * (x + 0.044715*x*x*x)
		dst[i] = float32(x / (1 + math.Exp(-2*u)))
	}
}
