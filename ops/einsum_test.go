package ops

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// einsumBrute evaluates an equation written with letters only (explicit
// output, no ellipsis) by walking every assignment of every label:
// out[outLabels] += Π_i x_i[term_i], an axis of size 1 read at 0 whatever
// its label's value (numpy's broadcasting, which the tests use only for
// the axes an ellipsis stands for).
func einsumBrute(eq string, xs ...*Tensor) *Tensor {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, out, _ := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	size := map[byte]int{}
	var labels []byte
	for i, term := range terms {
		for d := range len(term) {
			l := term[d]
			if _, ok := size[l]; !ok {
				labels = append(labels, l)
			}
			size[l] = max(size[l], xs[i].Shape[d])
		}
	}
	outShape := make([]int, len(out))
	for d := range len(out) {
		outShape[d] = size[out[d]]
	}
	y := NewF32(outShape, nil)
	acc := make([]float64, len(y.F32))
	val := map[byte]int{}
	var walk func(k int)
	walk = func(k int) {
		if k < len(labels) {
			for v := range size[labels[k]] {
				val[labels[k]] = v
				walk(k + 1)
			}
			return
		}
		prod := 1.0
		for i, term := range terms {
			o := 0
			for d := range len(term) {
				v := val[term[d]]
				if xs[i].Shape[d] == 1 {
					v = 0
				}
				o = o*xs[i].Shape[d] + v
			}
			prod *= float64(xs[i].F32[o])
		}
		o := 0
		for d := range len(out) {
			o = o*outShape[d] + val[out[d]]
		}
		acc[o] += prod
	}
	walk(0)
	for i, v := range acc {
		y.F32[i] = float32(v)
	}
	return y
}

// einsumRand returns a tensor of the shape with values in [-1, 1).
func einsumRand(r *rand.Rand, shape ...int) *Tensor {
	t := NewF32(shape, nil)
	for i := range t.F32 {
		t.F32[i] = float32(r.Float64()*2 - 1)
	}
	return t
}

// einsumRun prepares Einsum(eq) on xs and runs it on three workers.
func einsumRun(t *testing.T, eq string, opset int, xs ...*Tensor) (*Tensor, error) {
	t.Helper()
	n := elemNode("Einsum", opset, elStr("equation", eq))
	vals := make([]*Value, len(xs))
	for i, x := range xs {
		n.Inputs = append(n.Inputs, "in"+string(rune('0'+i)))
		vals[i] = &Value{DType: x.DType, Shape: x.Shape}
	}
	k, err := Lookup("Einsum")(n)
	if err != nil {
		return nil, err
	}
	outV, step, err := k.Prepare(vals)
	if err != nil {
		return nil, err
	}
	y := NewF32(outV[0].Shape, nil)
	for i := range y.F32 {
		y.F32[i] = float32(math.NaN())
	}
	if err := step.Run(&kern.Env{Par: kern.Spawn{Parts: 3}}, xs, []*Tensor{y}); err != nil {
		return nil, err
	}
	return y, nil
}

// TestEinsumAgainstBrute checks Einsum's forms against the brute-force
// sum: products, batched products (maxvit's attention equations, with
// spaces and capitals), transposes, sums, traces and diagonals,
// the implicit output, ellipses broadcasting, three inputs, an empty
// summed axis, and a sum too large for one offset table.
func TestEinsumAgainstBrute(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	tests := []struct {
		eq, ref string // ref: the same sum with letters only ("" = eq)
		shapes  [][]int
	}{
		{"ij,jk->ik", "", [][]int{{3, 4}, {4, 5}}},
		{"B G H I D, B G H J D -> B G H I J", "", [][]int{{1, 3, 2, 5, 4}, {1, 3, 2, 6, 4}}},
		{"B G H I J, B G H J D -> B G H I D", "", [][]int{{1, 3, 2, 5, 6}, {1, 3, 2, 6, 4}}},
		{"ij->ji", "", [][]int{{3, 7}}},
		{"ij->", "", [][]int{{3, 7}}},
		{"ij->i", "", [][]int{{3, 7}}},
		{"ii->i", "", [][]int{{4, 4}}},
		{"ii", "ii->", [][]int{{4, 4}}},
		{"bii->bi", "", [][]int{{2, 3, 3}}},
		{"ij,jk", "ij,jk->ik", [][]int{{2, 3}, {3, 4}}},
		{"ba", "ba->ab", [][]int{{2, 3}}},
		{"i,i", "i,i->", [][]int{{5}, {5}}},
		{"i,j->ij", "", [][]int{{3}, {4}}},
		{"i,i,i->", "", [][]int{{6}, {6}, {6}}},
		{"ij,jk,kl->il", "", [][]int{{2, 3}, {3, 4}, {4, 2}}},
		{"...ij,...jk->...ik", "xyij,yjk->xyik", [][]int{{2, 1, 3, 4}, {5, 4, 2}}},
		{"...ij->...ji", "abij->abji", [][]int{{2, 3, 4, 5}}},
		{"i...->...", "iab->ab", [][]int{{3, 2, 4}}},
		{"...,...->...", "ab,ab->ab", [][]int{{2, 3}, {2, 3}}},
		{"...ii->...i", "aii->ai", [][]int{{2, 3, 3}}},
		{"ij,jk->ik", "", [][]int{{3, 0}, {0, 4}}},
		{"ijk->", "", [][]int{{40, 30, 20}}},
		{"ijk,ijk->j", "", [][]int{{30, 7, 600}, {30, 7, 600}}},
	}
	for _, tc := range tests {
		xs := make([]*Tensor, len(tc.shapes))
		for i, s := range tc.shapes {
			xs[i] = einsumRand(r, s...)
		}
		got, err := einsumRun(t, tc.eq, 12, xs...)
		if err != nil {
			t.Fatalf("%s: %v", tc.eq, err)
		}
		ref := tc.ref
		if ref == "" {
			ref = tc.eq
		}
		want := einsumBrute(ref, xs...)
		elemCheckTensor(t, tc.eq, want, got, 1e-5)
	}
}

// TestEinsumErrors checks that bad equations and inputs are refused with
// an error naming the problem and the node.
func TestEinsumErrors(t *testing.T) {
	x := NewF32([]int{2, 3}, nil)
	y := NewF32([]int{4, 5}, nil)
	cases := []struct {
		eq    string
		opset int
		xs    []*Tensor
		want  string
	}{
		{"ij->ji", 11, []*Tensor{x}, "opset 12 and later"},
		{"", 13, []*Tensor{x}, "equation is missing"},
		{"ij,jk->ik", 13, []*Tensor{x}, "2 input terms, the node 1 inputs"},
		{"ijk->i", 13, []*Tensor{x}, "rank 2, term \"ijk\" names 3"},
		{"ij,jk->ik", 13, []*Tensor{x, y}, "label 'j' has size 3 and 4"},
		{"i1->i", 13, []*Tensor{x}, "neither a letter"},
		{"......->", 13, []*Tensor{x}, "more than one ellipsis"},
		{"ij->k", 13, []*Tensor{x}, "output label 'k' is in no input"},
		{"ij->ii", 13, []*Tensor{x}, "repeats"},
		{"ij->i->j", 13, []*Tensor{x}, "more than one"},
		{"...ij,...jk->...ik", 13, []*Tensor{NewF32([]int{2, 3, 4}, nil), NewF32([]int{3, 4, 5}, nil)}, "do not broadcast"},
		{"i,i->", 13, []*Tensor{NewI64([]int{2}, nil), NewI64([]int{2}, nil)}, "must be a float32"},
	}
	for _, c := range cases {
		_, err := einsumRun(t, c.eq, c.opset, c.xs...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "t_Einsum") {
			t.Errorf("%q: error %v, want one naming the node and containing %q", c.eq, err, c.want)
		}
	}
}
