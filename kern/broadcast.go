package kern

// Multidirectional (numpy) broadcasting: the shape operands broadcast to,
// and the loop nest that walks it, shared by package ops' element-wise
// operators and package kern/cuda's binary kernel.

// BroadcastShape returns the numpy broadcast of shapes a and b (right-
// aligned; along each axis the sizes agree or one is 1), or false when
// they do not broadcast.
func BroadcastShape(a, b []int) ([]int, bool) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range r {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

// BroadcastLoops is a broadcast loop nest: Dims are the coalesced output
// dimensions, outermost first, and Strides[j] operand j's element strides
// along them (0 where it is broadcast). Output element c (coordinates in
// Dims) reads operand j's element Σ_d c[d]·Strides[j][d].
type BroadcastLoops struct {
	Dims    []int
	Strides [][]int
}

// PlanBroadcast returns the loop nest of an output of shape out computed
// from operands of the given shapes, each of which broadcasts to out:
// the shapes right-aligned against out, its size-1 dimensions dropped,
// and adjacent dimensions merged wherever every operand walks them
// contiguously (or broadcasts them both). Equal shapes collapse to one
// dimension, a scalar operand to stride 0, a per-channel [C,1,1] against
// [N,C,H,W] to [N,C,H·W]; a single element is one dimension of 1 with
// strides 1.
func PlanBroadcast(out []int, shapes ...[]int) BroadcastLoops {
	r := len(out)
	full := make([][]int, len(shapes))
	for j, s := range shapes {
		st := make([]int, r)
		acc := 1
		for i := r - 1; i >= 0; i-- {
			k := i - (r - len(s))
			if k < 0 {
				continue
			}
			if s[k] != 1 {
				st[i] = acc
			}
			acc *= s[k]
		}
		full[j] = st
	}
	p := BroadcastLoops{Strides: make([][]int, len(shapes))}
	// Walk from the innermost dimension outwards; a dimension joins the
	// current (outermost so far) group when every operand steps through
	// it as a continuation of that group.
	for i := r - 1; i >= 0; i-- {
		if out[i] == 1 {
			continue
		}
		if g := len(p.Dims) - 1; g >= 0 {
			joins := true
			for j := range full {
				joins = joins && full[j][i] == p.Strides[j][g]*p.Dims[g]
			}
			if joins {
				p.Dims[g] *= out[i]
				continue
			}
		}
		p.Dims = append(p.Dims, out[i])
		for j := range full {
			p.Strides[j] = append(p.Strides[j], full[j][i])
		}
	}
	if len(p.Dims) == 0 {
		p.Dims = []int{1}
		for j := range p.Strides {
			p.Strides[j] = []int{1}
		}
	}
	// Reverse into outermost-first order.
	for i, k := 0, len(p.Dims)-1; i < k; i, k = i+1, k-1 {
		p.Dims[i], p.Dims[k] = p.Dims[k], p.Dims[i]
		for _, st := range p.Strides {
			st[i], st[k] = st[k], st[i]
		}
	}
	return p
}
