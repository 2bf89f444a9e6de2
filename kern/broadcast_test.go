package kern

import (
	"slices"
	"testing"
)

// TestPlanBroadcast checks, for shapes that broadcast in every way
// (equal, scalar, per-channel, both ways, size-1 and missing axes), that
// the loop nest reads for each output element the operand elements the
// numpy rule names (coordinate i of the output, right-aligned, 0 along a
// size-1 axis), in at most as many dimensions as the output has, and
// that shapes which do not broadcast are refused.
func TestPlanBroadcast(t *testing.T) {
	for _, c := range [][2][]int{
		{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4, 5}, {3, 1, 5}}, {{2, 3, 4}, {1}}, {{4, 1}, {3}},
		{{1, 8, 5, 5}, {1, 8, 1, 1}}, {{2, 1, 3, 1, 2, 1}, {1, 2, 1, 3, 1, 2}}, {{}, {1, 1}}, {{3, 1, 1}, {2, 3, 4, 5}},
		{{5}, {}}, {{2, 0, 3}, {1, 3}}, {{1, 1, 7}, {6, 1, 1}},
	} {
		a, b := c[0], c[1]
		out, ok := BroadcastShape(a, b)
		if !ok {
			t.Errorf("%v, %v: do not broadcast", a, b)
			continue
		}
		if back, _ := BroadcastShape(b, a); !slices.Equal(back, out) {
			t.Errorf("%v, %v: %v one way, %v the other", a, b, out, back)
		}
		l := PlanBroadcast(out, a, b)
		n := 1
		for _, d := range out {
			n *= d
		}
		m := 1
		for _, d := range l.Dims {
			m *= d
		}
		if n > 0 && m != n || len(l.Dims) > max(1, len(out)) || len(l.Strides) != 2 {
			t.Errorf("%v, %v: loops %v for %d elements of %v", a, b, l, n, out)
			continue
		}
		// want returns the offset in shape s of output element i.
		want := func(s []int, i int) int {
			off, stride := 0, 1
			for d := len(out) - 1; d >= 0; d-- {
				c := i % out[d]
				i /= out[d]
				if k := d - (len(out) - len(s)); k >= 0 {
					if s[k] != 1 {
						off += c * stride
					}
					stride *= s[k]
				}
			}
			return off
		}
		for i := range n {
			rem := i
			var got [2]int
			for d := len(l.Dims) - 1; d >= 0; d-- {
				c := rem % l.Dims[d]
				rem /= l.Dims[d]
				for j := range got {
					got[j] += c * l.Strides[j][d]
				}
			}
			if got[0] != want(a, i) || got[1] != want(b, i) {
				t.Errorf("%v, %v: element %d reads %v, want %d and %d", a, b, i, got, want(a, i), want(b, i))
				break
			}
		}
	}
	for _, c := range [][2][]int{{{2, 3}, {4}}, {{2, 1}, {3, 1}}, {{0}, {2}}} {
		if out, ok := BroadcastShape(c[0], c[1]); ok {
			t.Errorf("%v, %v: broadcast to %v", c[0], c[1], out)
		}
	}
}
