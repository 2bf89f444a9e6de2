package ops

import (
	"sync/atomic"

	"github.com/bnrun/bnrun/kern"
)

func init() {
	Register("Gemm", imageWiseOp(buildGemm, firstOutput, rowsOfA))
}

// buildGemm binds Gemm (opsets 7–13 and later, which add no attributes):
//
//	Y = alpha * A' * B' + beta * C
//
// where A' is A (M×K) or its transpose as transA says, B' likewise (K×N),
// and C, optional from opset 11 (and taken as 0 when absent), is
// unidirectionally broadcast to M×N: a scalar, [N], [1, N], [M, 1], [M, N]
// (or any shape whose dimensions, aligned right, are 1 or equal). It runs on
// env.K.Gemm.
func buildGemm(n *Node) (Kernel, error) {
	alpha, err := n.Float("alpha", 1)
	if err != nil {
		return nil, err
	}
	beta, err := n.Float("beta", 1)
	if err != nil {
		return nil, err
	}
	ta, err := n.Int("transA", 0)
	if err != nil {
		return nil, err
	}
	tb, err := n.Int("transB", 0)
	if err != nil {
		return nil, err
	}
	if (ta != 0 && ta != 1) || (tb != 0 && tb != 1) {
		return nil, n.Errorf("transA %d and transB %d must be 0 or 1", ta, tb)
	}
	transA, transB := ta == 1, tb == 1
	packs := &packCache[gemmPackKey]{} // shared by the node's plans
	hk := newHoldingKernel(1)
	hk.PrepareFunc = func(in []*Value) ([]Value, Step, error) {
		if len(in) < 2 || len(in) > 3 {
			return nil, Step{}, n.Errorf("got %d inputs, want 2 or 3", len(in))
		}
		for i, name := range []string{"A", "B"} {
			v := in[i]
			if v == nil || v.DType != Float32 || len(v.Shape) != 2 {
				return nil, Step{}, n.Errorf("input %s must be a 2-D float32 tensor", name)
			}
		}
		as, bs := in[0].Shape, in[1].Shape
		m, k := as[0], as[1]
		if transA {
			m, k = k, m
		}
		kb, nn := bs[0], bs[1]
		if transB {
			kb, nn = nn, kb
		}
		if k != kb {
			return nil, Step{}, n.Errorf("A' is %d×%d but B' is %d×%d (A %s transA=%v, B %s transB=%v)",
				m, k, kb, nn, ShapeString(as), transA, ShapeString(bs), transB)
		}
		// cm×cn is C's shape as a matrix; broadcast where a side is 1.
		hasC, cm, cn := false, 1, 1
		if len(in) == 3 && in[2] != nil {
			c := in[2]
			if c.DType != Float32 || len(c.Shape) > 2 {
				return nil, Step{}, n.Errorf("C has type %s shape %s, want float32 of rank at most 2", c.DType, ShapeString(c.Shape))
			}
			if len(c.Shape) >= 1 {
				cn = c.Shape[len(c.Shape)-1]
			}
			if len(c.Shape) == 2 {
				cm = c.Shape[0]
			}
			if (cm != 1 && cm != m) || (cn != 1 && cn != nn) {
				return nil, Step{}, n.Errorf("C of shape %s does not broadcast to [%d,%d]", ShapeString(c.Shape), m, nn)
			}
			hasC = true
		}
		lda, ldb := as[1], bs[1]
		// A constant B (a Linear layer's weights) is packed once for the
		// node when the product takes packed panels: more rows of A than a
		// matrix-vector product has (GemmSmallOK), as at batch 5 and up.
		// B held by the node (see ConstTaker) is packed once likewise, or
		// read as it lies when the product takes no pack.
		bConst, held := in[1].Const, hk.heldFor(1, in[1])
		var got atomic.Pointer[convWeights] // what Runs took of held B (see convPlan.got)
		if bConst == nil || bConst.DType != Float32 || len(bConst.F32) != k*nn || kern.GemmSmallOK(transA, m) {
			bConst = nil
		}
		run := func(env *kern.Env, in, out []*Tensor) error {
			if err := checkLen(in[0], "A", m*k); err != nil {
				return n.Errorf("%v", err)
			}
			bv, packed := in[1].F32, []float32(nil)
			if held != nil && bv == nil {
				// B held: packed, or its plain values
				c := got.Load()
				if c == nil || c.k != env.K {
					var err error
					c = &convWeights{k: env.K}
					if pk := env.K.PackGemm; pk != nil && !kern.GemmSmallOK(transA, m) {
						key := heldGemmKey{k: env.K, transB: transB, kk: k, n: nn, ldb: ldb}
						c.packed, err = held.packed(key, func(b []float32) []float32 { return pk(transB, k, nn, b, ldb) }, true, false)
					}
					if err == nil && c.packed == nil {
						c.plain, err = held.plainValues()
					}
					if err != nil {
						return n.Errorf("%v", err)
					}
					got.Store(c)
				}
				bv, packed = c.plain, c.packed
			} else if err := checkLen(in[1], "B", k*nn); err != nil {
				return n.Errorf("%v", err)
			}
			if err := checkLen(out[0], "Y", m*nn); err != nil {
				return n.Errorf("%v", err)
			}
			y := out[0].F32
			b := float32(0)
			if hasC && beta != 0 {
				c := in[2]
				if err := checkLen(c, "C", cm*cn); err != nil {
					return n.Errorf("%v", err)
				}
				// Y[i][j] = C[i if cm > 1][j if cn > 1]; the Gemm adds
				// alpha*A'B' to beta*Y.
				for i := range m {
					row := y[i*nn : (i+1)*nn]
					src := c.F32[(i%cm)*cn : (i%cm)*cn+cn]
					if cn == 1 {
						for j := range row {
							row[j] = src[0]
						}
					} else {
						copy(row, src)
					}
				}
				b = beta
			}
			if pk := env.K.PackGemm; pk != nil && bConst != nil && sameData(in[1].F32, bConst.F32) {
				key := gemmPackKey{k: env.K, b: &bConst.F32[0], transB: transB, kk: k, n: nn, ldb: ldb}
				packed = packs.get(key, func() []float32 { return pk(transB, k, nn, bConst.F32, ldb) })
			}
			env.PackedW = packed
			env.K.Gemm(env, transA, transB, m, nn, k, alpha, in[0].F32, lda, bv, ldb, b, y, nn)
			env.PackedW = nil
			return nil
		}
		outs, err := oneOutput(n, Value{DType: Float32, Shape: []int{m, nn}})
		if err != nil {
			return nil, Step{}, err
		}
		dev := &GemmDev{M: m, N: nn, K: k, TransA: transA, TransB: transB, Alpha: alpha}
		if hasC && beta != 0 {
			dev.Beta, dev.CShape = beta, copyShape(in[2].Shape)
		}
		// Y = A'·B' takes M·N·K multiply-accumulates
		return outs, Step{Run: run, Dev: dev, MACs: int64(m) * int64(nn) * int64(k)}, nil
	}
	return hk, nil
}

// heldGemmKey identifies a pack of a Gemm's held B: the tier and B's shape
// as the product reads it.
type heldGemmKey struct {
	k          *kern.Tier
	transB     bool
	kk, n, ldb int
}

// gemmPackKey identifies a Gemm node's pack of B: the tier, B's memory and
// its shape as the product reads it.
type gemmPackKey struct {
	k          *kern.Tier
	b          *float32
	transB     bool
	kk, n, ldb int
}
