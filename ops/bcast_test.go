package ops

import (
	"slices"
	"testing"
)

// bcastEach broadcasts the shapes the slow way and calls f for every
// output element: its flat index and each operand's flat index, found
// from the right-aligned coordinates. It returns the output's shape.
func bcastEach(shapes [][]int, f func(i int, idx []int)) []int {
	out := []int{}
	for _, s := range shapes {
		var ok bool
		if out, ok = bcastShape(out, s); !ok {
			panic("bcastEach: shapes do not broadcast")
		}
	}
	r := len(out)
	c := make([]int, r)
	idx := make([]int, len(shapes))
	for i := range NumElems(out) {
		unravel(i, out, c)
		for j, s := range shapes {
			off := 0
			for k, d := range s {
				ck := c[k+r-len(s)]
				if d == 1 {
					ck = 0
				}
				off = off*d + ck
			}
			idx[j] = off
		}
		f(i, idx)
	}
	return out
}

func TestPlanBcastCoalesces(t *testing.T) {
	cases := []struct {
		out    []int
		shapes [][]int
		dims   []int
		st     [][]int
	}{
		// X, a row vector and a scalar: the two outer dims merge.
		{[]int{2, 3, 4}, [][]int{{2, 3, 4}, {4}, {}}, []int{6, 4}, [][]int{{4, 1}, {0, 1}, {0, 0}}},
		// All the same shape: one dimension.
		{[]int{2, 3, 4}, [][]int{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}, []int{24}, [][]int{{1}, {1}, {1}}},
		// Per-channel condition, full X, scalar Y.
		{[]int{2, 3, 5, 5}, [][]int{{3, 1, 1}, {2, 3, 5, 5}, {1}}, []int{2, 3, 25}, [][]int{{0, 1, 0}, {75, 25, 1}, {0, 0, 0}}},
		// Only scalars.
		{[]int{1, 1}, [][]int{{1}, {}, {1, 1}}, []int{1}, [][]int{{1}, {1}, {1}}},
	}
	for _, c := range cases {
		p := planBcast(c.out, c.shapes...)
		if !slices.Equal(p.dims, c.dims) {
			t.Errorf("%v %v: dims %v, want %v", c.out, c.shapes, p.dims, c.dims)
			continue
		}
		for j := range c.st {
			if !slices.Equal(p.st[j], c.st[j]) {
				t.Errorf("%v %v: operand %d strides %v, want %v", c.out, c.shapes, j, p.st[j], c.st[j])
			}
		}
	}
}

// TestBcastRowsAnyRange walks every sub-range [lo, hi) of a three-operand
// nest and checks each element's operand offsets against the slow
// broadcast.
func TestBcastRowsAnyRange(t *testing.T) {
	shapes := [][]int{{2, 1, 3}, {4, 1}, {1, 3}}
	var want [][]int
	out := bcastEach(shapes, func(i int, idx []int) { want = append(want, slices.Clone(idx)) })
	p := planBcast(out, shapes...)
	n := NumElems(out)
	for lo := 0; lo < n; lo++ {
		for hi := lo + 1; hi <= n; hi++ {
			next := lo
			p.rows(lo, hi, func(pos, cnt int, off [maxOperands]int) {
				if pos != next || cnt <= 0 || pos+cnt > hi {
					t.Fatalf("[%d,%d): piece at %d of %d, expected it at %d", lo, hi, pos, cnt, next)
				}
				for e := range cnt {
					for j := range shapes {
						if got := off[j] + e*p.inner(j); got != want[pos+e][j] {
							t.Fatalf("[%d,%d): element %d operand %d at %d, want %d", lo, hi, pos+e, j, got, want[pos+e][j])
						}
					}
				}
				next = pos + cnt
			})
			if next != hi {
				t.Fatalf("[%d,%d): pieces end at %d", lo, hi, next)
			}
		}
	}
}
