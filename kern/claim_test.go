package kern

import (
	"math"
	"testing"
)

// TestClaimLines checks that ClaimLines zeroes slices of claimMin values
// or more and leaves shorter ones alone, and Disjoint on overlaps.
func TestClaimLines(t *testing.T) {
	for _, n := range []int{0, 1, claimMin - 1, claimMin, claimMin + 17, 4096} {
		b := make([]float32, n)
		for i := range b {
			b[i] = float32(math.NaN())
		}
		ClaimLines(b)
		for i, v := range b {
			if zeroed := n >= claimMin; zeroed != (v == 0) {
				t.Fatalf("n=%d: [%d] = %v after ClaimLines", n, i, v)
			}
		}
	}
	b := make([]float32, 100)
	for _, c := range []struct {
		a, b []float32
		want bool
	}{
		{b[:50], b[50:], true},
		{b[50:], b[:50], true},
		{b[:51], b[50:], false},
		{b[10:20], b[:100], false},
		{b[:0], b, true},
		{nil, b, true},
		{b, make([]float32, 100), true},
	} {
		if got := Disjoint(c.a, c.b); got != c.want {
			t.Errorf("Disjoint(len %d, len %d) = %v, want %v", len(c.a), len(c.b), got, c.want)
		}
	}
}
