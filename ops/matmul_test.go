package ops

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// matmulNaive multiplies batches of A and B already expanded to the output
// batch count: a is nb×m×k, b is nb×k×n.
func matmulNaive(a, b []float32, nb, m, n, k int) []float32 {
	y := make([]float32, nb*m*n)
	for q := range nb {
		y1 := gemmNaive(a[q*m*k:(q+1)*m*k], b[q*k*n:(q+1)*k*n], nil, m, n, k, false, false, 1, 0)
		copy(y[q*m*n:], y1)
	}
	return y
}

// expand repeats the matrices of x (shape batch×rows×cols, batch given as
// dims) to the batch dims out, broadcasting as numpy does.
func expand(x []float32, dims, out []int, size int) []float32 {
	r := len(out)
	full := make([]int, r)
	for i := range full {
		full[i] = 1
		if j := i - (r - len(dims)); j >= 0 {
			full[i] = dims[j]
		}
	}
	var res []float32
	idx := make([]int, r)
	for range NumElems(out) {
		o := 0
		for d := range r {
			o = o*full[d] + min(idx[d], full[d]-1)
		}
		res = append(res, x[o*size:(o+1)*size]...)
		for d := r - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
	}
	return res
}

func TestMatMulBroadcast(t *testing.T) {
	tests := []struct {
		a, b, y []int
	}{
		{[]int{3, 4}, []int{4, 5}, []int{3, 5}},
		{[]int{2, 3, 4}, []int{4, 5}, []int{2, 3, 5}},
		{[]int{2, 1, 3, 4}, []int{3, 4, 5}, []int{2, 3, 3, 5}},
		{[]int{3, 4}, []int{2, 4, 13}, []int{2, 3, 13}},
		{[]int{1, 7, 33}, []int{5, 33, 1}, []int{5, 7, 1}},
		{[]int{4}, []int{4, 5}, []int{5}},
		{[]int{4}, []int{3, 4, 5}, []int{3, 5}},
		{[]int{3, 4}, []int{4}, []int{3}},
		{[]int{2, 3, 4}, []int{4}, []int{2, 3}},
		{[]int{4}, []int{4}, []int{}},
		{[]int{2, 0, 4}, []int{4, 3}, []int{2, 0, 3}},
		{[]int{2, 3, 0}, []int{0, 3}, []int{2, 3, 3}},
	}
	for i, tt := range tests {
		a, b := nnRand(uint64(i), tt.a...), nnRand(uint64(i+50), tt.b...)
		// The naive product sees 2-D matrices with broadcast batches.
		as, bs := tt.a, tt.b
		if len(as) == 1 {
			as = []int{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int{bs[0], 1}
		}
		m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
		ba, bb := as[:len(as)-2], bs[:len(bs)-2]
		// Broadcast the batch dimensions, aligned right.
		batch := make([]int, max(len(ba), len(bb)))
		for d := range batch {
			batch[d] = 1
			if j := d - (len(batch) - len(ba)); j >= 0 {
				batch[d] = ba[j]
			}
			if j := d - (len(batch) - len(bb)); j >= 0 && bb[j] != 1 {
				batch[d] = bb[j]
			}
		}
		want := matmulNaive(expand(a.F32, ba, batch, m*k), expand(b.F32, bb, batch, k*n), NumElems(batch), m, n, k)
		for _, workers := range []int{1, 3} {
			out, err := runOpEnv(nnEnv(kern.Generic, workers), nnNode("MatMul", 13, 1), a, b)
			if err != nil {
				t.Fatalf("%v×%v: %v", tt.a, tt.b, err)
			}
			if !SameShape(out[0].Shape, tt.y) {
				t.Fatalf("%v×%v: shape %v, want %v", tt.a, tt.b, out[0].Shape, tt.y)
			}
			kerntest.Check(t, fmt.Sprintf("%v×%v workers=%d", tt.a, tt.b, workers), out[0].F32, want, 1e-5)
		}
	}
}

func TestMatMulKnownAnswer(t *testing.T) {
	a := NewF32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	b := NewF32([]int{3, 2}, []float32{7, 8, 9, 10, 11, 12})
	out := mustRun(t, nnNode("MatMul", 13, 1), a, b)
	kerntest.Check(t, "matmul", out[0].F32, []float32{58, 64, 139, 154}, 0)
	v := NewF32([]int{3}, []float32{1, 0, -1})
	out = mustRun(t, nnNode("MatMul", 13, 1), a, v)
	kerntest.Check(t, "matrix·vector", out[0].F32, []float32{-2, -2}, 0)
	out = mustRun(t, nnNode("MatMul", 13, 1), v, v)
	kerntest.Check(t, "vector·vector", out[0].F32, []float32{2}, 0)
}

func TestMatMulErrors(t *testing.T) {
	wantErr(t, "inner dimensions", nnNode("MatMul", 13, 1), NewF32([]int{2, 3}, nil), NewF32([]int{2, 3}, nil))
	wantErr(t, "do not broadcast", nnNode("MatMul", 13, 1), NewF32([]int{2, 2, 3}, nil), NewF32([]int{3, 3, 4}, nil))
	wantErr(t, "rank at least 1", nnNode("MatMul", 13, 1), NewF32([]int{}, nil), NewF32([]int{3}, nil))
	wantErr(t, "want 2", nnNode("MatMul", 13, 1), NewF32([]int{3}, nil))
	wantErr(t, "float32", nnNode("MatMul", 13, 1), NewI64([]int{3}, nil), NewF32([]int{3}, nil))
}
