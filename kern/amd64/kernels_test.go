//go:build amd64 && !purego

package amd64

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

// The elementwise, pooling and reduction kernels are checked bit for bit
// against Go twins of the loops their doc comments show.

// tier is one instruction set's kernels.
type tier struct {
	name      string
	lanes     int
	ok        bool
	add       func(dst, a, b *float32, n int, relu int)
	max       func(dst, a, b *float32, n int)
	sum       func(x *float32, n int) float32
	maxReduce func(x *float32, n int) float32
	dot       func(x, y *float32, n int) float32
}

var tiers = []tier{
	{"AVX512", 16, cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL),
		AddAVX512, MaxAVX512, SumAVX512, MaxReduceAVX512, DotAVX512},
	{"AVX2", 8, cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3),
		AddAVX2, MaxAVX2, SumAVX2, MaxReduceAVX2, DotAVX2},
}

// forTiers runs f as a subtest of each tier the CPU can run.
func forTiers(t *testing.T, f func(t *testing.T, s tier)) {
	for _, s := range tiers {
		t.Run(s.name, func(t *testing.T) {
			if !s.ok {
				t.Skipf("CPU lacks %s", s.name)
			}
			f(t, s)
		})
	}
}

// lengths returns the values of n tested: the required ones and enough
// others that every tail of zero to three vectors after the four-vector
// loop is met.
func lengths(lanes int) []int {
	var ns []int
	for _, k := range []int{0, 1, 2, 3, 4, 5, 6, 7, 37, 1000} {
		ns = append(ns, k*lanes)
	}
	return ns
}

// Bit patterns of special values.
var (
	qnan     = math.Float32frombits(0x7fc00000)
	qnanPay  = math.Float32frombits(0x7fc01234) // quiet, with a payload
	negQnan  = math.Float32frombits(0xffc00042)
	snan     = math.Float32frombits(0x7f800001) // signalling
	negSnan  = math.Float32frombits(0xff812345)
	posInf   = float32(math.Inf(1))
	negInf   = float32(math.Inf(-1))
	negZero  = math.Float32frombits(0x80000000)
	denorm   = math.Float32frombits(0x00000123)
	negDenor = math.Float32frombits(0x80400000)
	nans     = []float32{qnan, qnanPay, negQnan, snan, negSnan}
)

// profile says how values are drawn: each one is special (a NaN, an
// infinity, a zero of either sign, a denormal) with probability special
// out of 1000, with NaNs and infinities only when allowed.
type profile struct {
	name    string
	special int  // per mille
	nan     bool // NaNs among the specials
	inf     bool // infinities among the specials
	maxExp  int  // finite values are up to 2^maxExp in magnitude
	zeros   bool // only zeros of either sign
}

var profiles = []profile{
	{name: "finite", special: 50, maxExp: 20},
	{name: "sparse", special: 3, nan: true, inf: true, maxExp: 20},
	{name: "dense", special: 300, nan: true, inf: true, maxExp: 20},
	{name: "huge", special: 20, maxExp: 127}, // sums overflow on the way
	{name: "zeros", zeros: true},
}

func (p profile) value(r *rand.Rand) float32 {
	if p.zeros {
		if r.IntN(2) == 0 {
			return 0
		}
		return negZero
	}
	if r.IntN(1000) < p.special {
		switch k := r.IntN(10); {
		case k < 3 && p.nan:
			return nans[r.IntN(len(nans))]
		case k < 5 && p.inf:
			if r.IntN(2) == 0 {
				return posInf
			}
			return negInf
		case k < 8:
			if r.IntN(2) == 0 {
				return 0
			}
			return negZero
		case k == 8:
			return denorm
		default:
			return negDenor
		}
	}
	v := float32(math.Ldexp(1+r.Float64(), r.IntN(p.maxExp+20)-20)) // below 2^(maxExp+1)
	if r.IntN(2) == 0 {
		v = -v
	}
	return v
}

func (p profile) fill(r *rand.Rand, x []float32) {
	for i := range x {
		x[i] = p.value(r)
	}
}

func isNaN(v float32) bool { return v != v }

// quiet sets the quiet bit of a NaN, as x86 does to a NaN operand.
func quiet(v float32) float32 { return math.Float32frombits(math.Float32bits(v) | 0x00400000) }

// add32 is x + y as VADDPS computes it with x as its first source: when
// either is NaN, the first NaN of x, y, quieted. Go's own x + y agrees but
// for which NaN comes out, which depends on the registers it picks.
func add32(x, y float32) float32 {
	switch {
	case isNaN(x):
		return quiet(x)
	case isNaN(y):
		return quiet(y)
	}
	return x + y
}

const sentinel = 0x7fbadbad // a signalling NaN no kernel writes

// buf returns a slice of n values at offset off (in elements) into a
// buffer that holds sentinel values on both sides.
func buf(n, off, lanes int) (x, whole []float32) {
	whole = make([]float32, off+n+2*lanes)
	for i := range whole {
		whole[i] = math.Float32frombits(sentinel)
	}
	return whole[off : off+n], whole
}

// checkGuards reports values of whole outside [off, off+n) that are not
// sentinels.
func checkGuards(t *testing.T, what string, whole []float32, off, n int) {
	t.Helper()
	for i, v := range whole {
		if (i < off || i >= off+n) && math.Float32bits(v) != sentinel {
			t.Fatalf("%s: value %d beyond the %d at offset %d written: %#x", what, i-off, n, off, math.Float32bits(v))
		}
	}
}

func same(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }

// ptr is &x[0], or a non-nil pointer for an empty x.
func ptr(x []float32) *float32 {
	if len(x) == 0 {
		return &x[:1][0]
	}
	return &x[0]
}

func addTwin(dst, a, b []float32, relu int) {
	for i := range dst {
		v := add32(a[i], b[i])
		if relu != 0 && v < 0 {
			v = 0 // NaN and -0 are kept
		}
		dst[i] = v
	}
}

func maxTwin(dst, a, b []float32) {
	for i := range dst {
		dst[i] = max(a[i], b[i])
	}
}

func sumTwin(x []float32, lanes int) float32 {
	acc := make([]float32, 4*lanes)
	for i := range x {
		acc[i%(4*lanes)] = add32(acc[i%(4*lanes)], x[i])
	}
	return sumTree(acc, lanes)
}

// sumTree is the reductions' final tree over their 4·lanes partial sums:
// the four vectors added pairwise, then halves of the lanes, with the NaN
// rules of VADDPS.
func sumTree(acc []float32, lanes int) float32 {
	for j := range lanes {
		acc[j] = add32(add32(acc[j], acc[lanes+j]), add32(acc[2*lanes+j], acc[3*lanes+j]))
	}
	for w := lanes / 2; w >= 1; w /= 2 {
		for j := range w {
			acc[j] = add32(acc[j], acc[j+w])
		}
	}
	return acc[0]
}

// mul32 is x*y as VMULPS computes it: a NaN operand, the left one first,
// comes out quieted.
func mul32(x, y float32) float32 {
	switch {
	case isNaN(x):
		return quiet(x)
	case isNaN(y):
		return quiet(y)
	}
	return x * y
}

// dotTwin is the Go loop of DotAVX512/DotAVX2's doc comment, with the NaN
// rules of VMULPS and VADDPS spelled out.
func dotTwin(x, y []float32, lanes int) float32 {
	acc := make([]float32, 4*lanes)
	for i := range x {
		acc[i%(4*lanes)] = add32(acc[i%(4*lanes)], mul32(x[i], y[i]))
	}
	return sumTree(acc, lanes)
}

func maxReduceTwin(x []float32, lanes int) float32 {
	mx := func(m, v float32) float32 {
		if v > m {
			return v
		}
		return m
	}
	m := make([]float32, 4*lanes)
	for j := range m {
		m[j] = float32(math.Inf(-1))
	}
	for i := range x {
		m[i%(4*lanes)] = mx(m[i%(4*lanes)], x[i])
	}
	for j := range lanes {
		m[j] = mx(mx(m[j], m[lanes+j]), mx(m[2*lanes+j], m[3*lanes+j]))
	}
	for w := lanes / 2; w >= 1; w /= 2 {
		for j := range w {
			m[j] = mx(m[j], m[j+w])
		}
	}
	return m[0]
}

// alias says which input, if any, the destination of Add and Max is.
var aliases = []string{"dst", "dst=a", "dst=b"}

// binary checks a kernel of the form dst = f(a, b) against its twin.
func binary(t *testing.T, s tier, kern func(dst, a, b *float32, n int), twin func(dst, a, b []float32)) {
	r := rand.New(rand.NewPCG(1, uint64(s.lanes)))
	for _, p := range profiles {
		for _, n := range lengths(s.lanes) {
			for _, off := range []int{0, 1} {
				for _, alias := range aliases {
					what := fmt.Sprintf("%s n=%d off=%d %s", p.name, n, off, alias)
					a, aw := buf(n, off, s.lanes)
					b, bw := buf(n, off, s.lanes)
					p.fill(r, a)
					p.fill(r, b)
					want := make([]float32, n)
					twin(want, a, b)
					a0, b0 := append([]float32(nil), a...), append([]float32(nil), b...)
					dst, dw := buf(n, off, s.lanes)
					switch alias {
					case "dst=a":
						dst, dw = a, aw
					case "dst=b":
						dst, dw = b, bw
					}
					kern(ptr(dst), ptr(a), ptr(b), n)
					for i := range n {
						if !same(dst[i], want[i]) {
							t.Fatalf("%s: dst[%d] = %v (%#x), want %v (%#x); a %v (%#x), b %v (%#x)", what, i,
								dst[i], math.Float32bits(dst[i]), want[i], math.Float32bits(want[i]),
								a0[i], math.Float32bits(a0[i]), b0[i], math.Float32bits(b0[i]))
						}
					}
					if alias != "dst=a" {
						for i := range n {
							if !same(a[i], a0[i]) {
								t.Fatalf("%s: a[%d] changed", what, i)
							}
						}
					}
					if alias != "dst=b" {
						for i := range n {
							if !same(b[i], b0[i]) {
								t.Fatalf("%s: b[%d] changed", what, i)
							}
						}
					}
					checkGuards(t, what+" dst", dw, off, n)
					checkGuards(t, what+" a", aw, off, n)
					checkGuards(t, what+" b", bw, off, n)
				}
			}
		}
	}
}

func TestAdd(t *testing.T) {
	forTiers(t, func(t *testing.T, s tier) {
		for _, relu := range []int{0, 1, -7} {
			t.Run(fmt.Sprintf("relu=%d", relu), func(t *testing.T) {
				binary(t, s, func(dst, a, b *float32, n int) { s.add(dst, a, b, n, relu) },
					func(dst, a, b []float32) { addTwin(dst, a, b, relu) })
			})
		}
	})
}

func TestMax(t *testing.T) {
	forTiers(t, func(t *testing.T, s tier) { binary(t, s, s.max, maxTwin) })
}

// TestMaxSpecial pins down Max on NaNs and zeros: the OR of the negated
// operands' bits where one is NaN, +0 for ±0 against ±0 unless both are -0,
// as Go's builtin max gives on amd64 (checked too, so that a change in
// the compiler's lowering shows here).
func TestMaxSpecial(t *testing.T) {
	one := float32(1)
	cases := []struct{ a, b, want float32 }{
		{qnan, one, qnan},
		{one, qnanPay, qnanPay},
		{snan, negQnan, math.Float32frombits(0x7fc00043)},
		{negQnan, snan, math.Float32frombits(0x7fc00043)},
		{negSnan, negInf, negSnan},
		{posInf, qnan, qnan},
		{0, negZero, 0},
		{negZero, 0, 0},
		{negZero, negZero, negZero},
		{one, 2, 2},
		{2, one, 2},
		{negInf, denorm, denorm},
	}
	for _, c := range cases {
		if got := max(c.a, c.b); !same(got, c.want) {
			t.Fatalf("builtin max(%#x, %#x) = %#x, want %#x", math.Float32bits(c.a), math.Float32bits(c.b),
				math.Float32bits(got), math.Float32bits(c.want))
		}
	}
	forTiers(t, func(t *testing.T, s tier) {
		a := make([]float32, s.lanes)
		b := make([]float32, s.lanes)
		dst := make([]float32, s.lanes)
		for _, c := range cases {
			for i := range a {
				a[i], b[i] = c.a, c.b
			}
			s.max(&dst[0], &a[0], &b[0], s.lanes)
			for i := range dst {
				if !same(dst[i], c.want) {
					t.Fatalf("max(a=%#x, b=%#x) = %#x, want %#x", math.Float32bits(c.a),
						math.Float32bits(c.b), math.Float32bits(dst[i]), math.Float32bits(c.want))
				}
			}
		}
	})
}

// reduction checks a kernel returning one value of x against its twin;
// the values beyond n are poison, that would change the result if read.
func reduction(t *testing.T, s tier, kern func(x *float32, n int) float32, twin func(x []float32, lanes int) float32, poison float32) {
	r := rand.New(rand.NewPCG(2, uint64(s.lanes)))
	for _, p := range profiles {
		for _, n := range lengths(s.lanes) {
			for _, off := range []int{0, 1} {
				what := fmt.Sprintf("%s n=%d off=%d", p.name, n, off)
				x, xw := buf(n, off, s.lanes)
				p.fill(r, x)
				x0 := append([]float32(nil), x...)
				for i := range xw {
					if i < off || i >= off+n {
						xw[i] = poison
					}
				}
				want := twin(x, s.lanes)
				got := kern(ptr(x), n)
				if !same(got, want) {
					t.Fatalf("%s: got %v (%#x), want %v (%#x)", what, got, math.Float32bits(got), want, math.Float32bits(want))
				}
				for i := range n {
					if !same(x[i], x0[i]) {
						t.Fatalf("%s: x[%d] changed", what, i)
					}
				}
			}
		}
	}
}

func TestSum(t *testing.T) {
	forTiers(t, func(t *testing.T, s tier) { reduction(t, s, s.sum, sumTwin, qnanPay) })
}

// TestDot checks the dot products against their Go loop, bit for bit, on
// every length class, unaligned, with NaN payloads, infinities and zeros
// (the profiles), and with poison around both operands.
func TestDot(t *testing.T) {
	forTiers(t, func(t *testing.T, s tier) {
		r := rand.New(rand.NewPCG(3, uint64(s.lanes)))
		for _, p := range profiles {
			for _, n := range lengths(s.lanes) {
				for _, off := range []int{0, 1} {
					what := fmt.Sprintf("%s n=%d off=%d", p.name, n, off)
					x, xw := buf(n, off, s.lanes)
					y, yw := buf(n, 1-off, s.lanes)
					p.fill(r, x)
					p.fill(r, y)
					for i := range xw {
						if i < off || i >= off+n {
							xw[i] = qnanPay
						}
					}
					for i := range yw {
						if i < 1-off || i >= 1-off+n {
							yw[i] = posInf
						}
					}
					want := dotTwin(x, y, s.lanes)
					got := s.dot(ptr(x), ptr(y), n)
					if !same(got, want) {
						t.Fatalf("%s: got %v (%#x), want %v (%#x)", what, got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		}
	})
}

func TestMaxReduce(t *testing.T) {
	forTiers(t, func(t *testing.T, s tier) { reduction(t, s, s.maxReduce, maxReduceTwin, posInf) })
}

// TestReduceSpecial checks the documented edge cases of the reductions.
func TestReduceSpecial(t *testing.T) {
	forTiers(t, func(t *testing.T, s tier) {
		x := make([]float32, 3*s.lanes)
		if v := s.sum(&x[0], 0); !same(v, 0) {
			t.Errorf("Sum of nothing = %#x, want +0", math.Float32bits(v))
		}
		if v := s.maxReduce(&x[0], 0); !same(v, negInf) {
			t.Errorf("MaxReduce of nothing = %v, want -Inf", v)
		}
		for i := range x {
			x[i] = nans[i%len(nans)]
		}
		if v := s.maxReduce(&x[0], len(x)); !same(v, negInf) {
			t.Errorf("MaxReduce of NaNs = %v, want -Inf", v)
		}
		x[len(x)-1] = -3
		if v := s.maxReduce(&x[0], len(x)); v != -3 {
			t.Errorf("MaxReduce of NaNs and -3 = %v, want -3", v)
		}
		if v := s.sum(&x[0], len(x)); !isNaN(v) {
			t.Errorf("Sum with NaNs = %v, want NaN", v)
		}
		for i := range x {
			x[i] = negZero
		}
		if v := s.sum(&x[0], len(x)); !same(v, 0) {
			t.Errorf("Sum of -0s = %#x, want +0", math.Float32bits(v))
		}
		x[0], x[1] = posInf, negInf
		if v := s.sum(&x[0], len(x)); !isNaN(v) {
			t.Errorf("Sum of +Inf and -Inf = %v, want NaN", v)
		}
	})
}
