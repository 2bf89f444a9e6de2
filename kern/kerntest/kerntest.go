// Package kerntest has helpers for the tests of the kernel library and of
// the operators built on it: reproducible inputs and comparisons of
// results, exact or within a tolerance. It imports nothing of bnrun, so
// that the kernel library's own tests can use it.
package kerntest

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Guard is the value tests write around output buffers to catch stray
// writes.
const Guard = float32(-12345.5)

// Rand returns n values uniform in [-1, 1), reproducible from seed.
func Rand(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

// Close reports the first index where got and want differ by more than
// tol·(1 + |want|), or where one is NaN and the other not; 0 when their
// lengths differ; -1 when they agree.
func Close(got, want []float32, tol float64) int {
	if len(got) != len(want) {
		return 0
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > tol*(1+math.Abs(w)) {
			return i
		}
	}
	return -1
}

// Check fails the test when got and want differ beyond tol (see Close).
func Check(t testing.TB, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if i := Close(got, want, tol); i >= 0 {
		t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
	}
}

// SameBits fails the test unless got[i] and want[i] have the same bits for
// every i < len(want).
func SameBits(t testing.TB, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}
