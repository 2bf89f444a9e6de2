package bnrun

import (
	"math"
	"strings"
	"testing"
)

// TestCompareSpecialValues checks verify's rule for NaN and infinities:
// equal infinities and NaN against NaN match (and the report says so),
// while NaN or an infinity against a number, or opposite infinities, fail.
func TestCompareSpecialValues(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	cases := []struct {
		name      string
		got, want []float32
		bad       int
		nans      int
		infs      int
	}{
		{"equal infinities", []float32{inf, -inf, 1}, []float32{inf, -inf, 1}, 0, 0, 2},
		{"NaN against NaN", []float32{nan, 2}, []float32{nan, 2}, 0, 1, 0},
		{"NaN against a number", []float32{nan, 2}, []float32{1, 2}, 1, 0, 0},
		{"a number against NaN", []float32{1, 2}, []float32{nan, 2}, 1, 0, 0},
		{"infinity against a number", []float32{inf, 2}, []float32{3e38, 2}, 1, 0, 0},
		{"a number against an infinity", []float32{3e38, 2}, []float32{inf, 2}, 1, 0, 0},
		{"opposite infinities", []float32{inf}, []float32{-inf}, 1, 0, 0},
		{"NaN against an infinity", []float32{nan}, []float32{inf}, 1, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := NewTensor([]int{len(c.got)}, c.got)
			want := NewTensor([]int{len(c.want)}, c.want)
			r := Compare(got, want, DefaultTolerance)
			if r.Bad != c.bad || r.NaNs != c.nans || r.Infs != c.infs {
				t.Fatalf("bad %d, NaNs %d, Infs %d; want %d, %d, %d (%s)", r.Bad, r.NaNs, r.Infs, c.bad, c.nans, c.infs, r.String())
			}
			if c.bad > 0 && !math.IsInf(r.MaxAbs, 1) {
				t.Errorf("max_abs %g for a mismatch of special values, want +Inf", r.MaxAbs)
			}
			if c.bad == 0 && r.MaxAbs != 0 {
				t.Errorf("max_abs %g for matching values, want 0", r.MaxAbs)
			}
			if s := r.String(); (c.nans+c.infs > 0) != strings.Contains(s, "taken as matching") {
				t.Errorf("report %q does not say what it took as matching", s)
			}
		})
	}
}
