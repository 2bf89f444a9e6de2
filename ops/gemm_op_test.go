package ops

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// gemmNaive computes alpha*op(A)*op(B) + beta*C for C already broadcast to
// m×n (nil for none), in float64.
func gemmNaive(a, b, c []float32, m, n, k int, transA, transB bool, alpha, beta float32) []float32 {
	y := make([]float32, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				av := a[i*k+p]
				if transA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if c != nil {
				v += float64(beta) * float64(c[i*n+j])
			}
			y[i*n+j] = float32(v)
		}
	}
	return y
}

func TestGemmOpBroadcastC(t *testing.T) {
	const m, n, k = 5, 7, 9
	cShapes := [][]int{nil, {}, {1}, {n}, {1, n}, {m, 1}, {m, n}, {1, 1}}
	seed := uint64(40)
	for _, cs := range cShapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			seed += 5
			ash, bsh := []int{m, k}, []int{k, n}
			if tr[0] {
				ash = []int{k, m}
			}
			if tr[1] {
				bsh = []int{n, k}
			}
			a, b := nnRand(seed, ash...), nnRand(seed+1, bsh...)
			ins := []*Tensor{a, b}
			var full []float32
			if cs != nil {
				c := nnRand(seed+2, cs...)
				ins = append(ins, c)
				cm, cn := 1, 1
				if len(cs) >= 1 {
					cn = cs[len(cs)-1]
				}
				if len(cs) == 2 {
					cm = cs[0]
				}
				full = make([]float32, m*n)
				for i := range m {
					for j := range n {
						full[i*n+j] = c.F32[(i%cm)*cn+j%cn]
					}
				}
			}
			want := gemmNaive(a.F32, b.F32, full, m, n, k, tr[0], tr[1], 0.75, -1.5)
			for _, workers := range []int{1, 3} {
				nd := nnNode("Gemm", 13, 1, nnFloat("alpha", 0.75), nnFloat("beta", -1.5))
				if tr[0] {
					nd.Attrs["transA"] = nnInt("transA", 1)
				}
				if tr[1] {
					nd.Attrs["transB"] = nnInt("transB", 1)
				}
				out, err := runOpEnv(nnEnv(kern.Generic, workers), nd, ins...)
				if err != nil {
					t.Fatalf("C %v trans %v: %v", cs, tr, err)
				}
				if !SameShape(out[0].Shape, []int{m, n}) {
					t.Fatalf("shape %v", out[0].Shape)
				}
				kerntest.Check(t, fmt.Sprintf("C %v trans %v", cs, tr), out[0].F32, want, 1e-5)
			}
		}
	}
}

func TestGemmOpKnownAnswer(t *testing.T) {
	// A = [1 2; 3 4], B = [5 6; 7 8], C = [1, 2] per column:
	// A·B = [19 22; 43 50], + 10·C = [29 42; 53 70].
	a := NewF32([]int{2, 2}, []float32{1, 2, 3, 4})
	b := NewF32([]int{2, 2}, []float32{5, 6, 7, 8})
	c := NewF32([]int{2}, []float32{1, 2})
	out := mustRun(t, nnNode("Gemm", 11, 1, nnFloat("beta", 10)), a, b, c)
	kerntest.Check(t, "gemm", out[0].F32, []float32{29, 42, 53, 70}, 0)
	// beta = 0 ignores C, even a NaN one.
	nan := NewF32([]int{1}, []float32{float32(nanF())})
	out = mustRun(t, nnNode("Gemm", 11, 1, nnFloat("beta", 0)), a, b, nan)
	kerntest.Check(t, "gemm beta 0", out[0].F32, []float32{19, 22, 43, 50}, 0)
}

func nanF() float64 {
	z := 0.0
	return z / z
}

func TestGemmOpErrors(t *testing.T) {
	a, b := NewF32([]int{2, 3}, nil), NewF32([]int{3, 4}, nil)
	tests := []struct {
		sub   string
		attrs []*Attr
		ins   []*Tensor
	}{
		{"2-D float32", nil, []*Tensor{NewF32([]int{1, 2, 3}, nil), b}},
		{"2-D float32", nil, []*Tensor{a, NewF32([]int{3}, nil)}},
		{"2-D float32", nil, []*Tensor{a, NewI64([]int{3, 4}, nil)}},
		{"B' is", []*Attr{nnInt("transB", 1)}, []*Tensor{a, b}},
		{"B' is", []*Attr{nnInt("transA", 1)}, []*Tensor{a, b}},
		{"does not broadcast", nil, []*Tensor{a, b, NewF32([]int{3}, nil)}},
		{"does not broadcast", nil, []*Tensor{a, b, NewF32([]int{4, 2}, nil)}},
		{"rank at most 2", nil, []*Tensor{a, b, NewF32([]int{1, 2, 4}, nil)}},
		{"must be 0 or 1", []*Attr{nnInt("transA", 2)}, []*Tensor{a, b}},
		{"want 2 or 3", nil, []*Tensor{a}},
	}
	for _, tt := range tests {
		wantErr(t, tt.sub, nnNode("Gemm", 13, 1, tt.attrs...), tt.ins...)
	}
}

// TestGemmPacksShared prepares one Gemm node with a constant B (a Linear
// layer's weights, transB as PyTorch exports it, and not transposed) for
// several batch sizes on every tier that packs B: B is packed once for the
// node, plans of a few rows (matrix-vector products) take no pack, and
// every plan matches the float64 product and, bit for bit, the same Gemm
// with B not constant.
func TestGemmPacksShared(t *testing.T) {
	const n, k = 37, 301
	for _, transB := range []bool{true, false} {
		for _, base := range testTiers() {
			if base.PackGemm == nil {
				continue
			}
			tier := *base
			packs := 0
			tier.PackGemm = func(transB bool, k, n int, b []float32, ldb int) []float32 {
				packs++
				return base.PackGemm(transB, k, n, b, ldb)
			}
			bsh := []int{k, n}
			if transB {
				bsh = []int{n, k}
			}
			b, c := nnRand(3, bsh...), nnRand(4, n)
			node := nnNode("Gemm", 13, 1, nnInt("transB", map[bool]int64{false: 0, true: 1}[transB]))
			op, err := LookupNode(node)(node)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{8, 1, 13, 8} {
				a := nnRand(uint64(batch), batch, k)
				name := fmt.Sprintf("%s transB=%v batch=%d", tier.Name, transB, batch)
				run := func(bConst *Tensor) []float32 {
					vals, step, err := op.Prepare([]*Value{{DType: Float32, Shape: a.Shape},
						{DType: Float32, Shape: b.Shape, Const: bConst}, {DType: Float32, Shape: c.Shape, Const: c}})
					if err != nil {
						t.Fatal(err)
					}
					y := NewF32(vals[0].Shape, nil)
					if err := step.Run(nnEnv(&tier, 2), []*Tensor{a, b, c}, []*Tensor{y}); err != nil {
						t.Fatal(err)
					}
					return y.F32
				}
				got, plain := run(b), run(nil)
				kerntest.SameBits(t, name+" packed and not", got, plain)
				cb := make([]float32, batch*n)
				for i := range batch {
					copy(cb[i*n:], c.F32)
				}
				kerntest.Check(t, name, got, gemmNaive(a.F32, b.F32, cb, batch, n, k, false, transB, 1, 1), 1e-5*k)
			}
			if packs != 1 {
				t.Errorf("%s transB=%v: B packed %d times for 3 plans that take a pack, want once", tier.Name, transB, packs)
			}
		}
	}
}
