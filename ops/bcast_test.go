package ops

import (
	"math"
	"slices"
	"testing"

	"github.com/bnrun/bnrun/kern"
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

// elVals returns a float32 tensor of the shape holding small varied
// values (some negative, a few repeated) from seed on.
func elVals(seed int, shape ...int) *Tensor {
	t := NewF32(shape, nil)
	for i := range t.F32 {
		t.F32[i] = float32((i*7+seed*3)%11) - 5
	}
	return t
}

// elInts64 is elVals as int64.
func elInts64(seed int, shape ...int) *Tensor {
	t := NewI64(shape, nil)
	for i := range t.I64 {
		t.I64[i] = int64((i*7+seed*3)%11) - 5
	}
	return t
}

// elBits compares float32 results bit for bit (so the sign of a zero
// counts), any NaN matching any NaN.
func elBits(t *testing.T, what string, want, got []float32) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w != w && g != g {
			continue
		}
		if math.Float32bits(w) != math.Float32bits(g) {
			t.Fatalf("%s: [%d] = %v, want %v (got %v)", what, i, g, w, got)
		}
	}
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

// TestNewElemOpsAllocateNothing runs the steps of this family's ops
// repeatedly on one Env: after the first Run, none allocates.
func TestNewElemOpsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	x := elVals(1, 2, 3, 4)
	xi := elInts64(2, 2, 3, 4)
	cases := []struct {
		n   *Node
		ins []*Tensor
	}{
		{elemNode("Sqrt", 13), []*Tensor{x}},
		{elemNode("Neg", 13), []*Tensor{xi}},
		{elemNode("Elu", 6), []*Tensor{x}},
		{elemNode("PRelu", 16), []*Tensor{x, elVals(3, 3, 1)}},
		{elemNode("Max", 13), []*Tensor{x, elVals(2, 4), elVals(3, 3, 1)}},
		{elemNode("Mean", 13), []*Tensor{x, elVals(2, 4)}},
		{elemNode("Min", 13), []*Tensor{xi}},
		{elemNode("Equal", 13), []*Tensor{xi, elInts64(1, 4)}},
		{elemNode("Less", 13), []*Tensor{x, elVals(5, 3, 1)}},
		{elemNode("Where", 16), []*Tensor{elI64([]int{3, 1}, 1, 0, 1), x, elVals(4, 4)}},
		{elemNode("Pow", 15), []*Tensor{x, elI64([]int{}, 3)}},
		{elemNode("Pow", 15), []*Tensor{xi, elF32([]int{4}, 0, 1, 2, 0.5)}},
	}
	for _, c := range cases {
		vals := make([]*Value, len(c.ins))
		for i, v := range c.ins {
			vals[i] = &Value{DType: v.DType, Shape: v.Shape}
		}
		k, err := Lookup(c.n.OpType)(c.n)
		if err != nil {
			t.Fatal(err)
		}
		outV, step, err := k.Prepare(vals)
		if err != nil {
			t.Fatalf("%s: %v", c.n.OpType, err)
		}
		o := &Tensor{DType: outV[0].DType, Shape: outV[0].Shape}
		if o.DType == Int64 {
			o.I64 = make([]int64, NumElems(o.Shape))
		} else {
			o.F32 = make([]float32, NumElems(o.Shape))
		}
		env := &kern.Env{Par: kern.Serial{}}
		out := []*Tensor{o}
		run := func() {
			if err := step.Run(env, c.ins, out); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if a := testing.AllocsPerRun(20, run); a != 0 {
			t.Errorf("%s: %v allocations per Run, want 0", c.n.OpType, a)
		}
	}
}
