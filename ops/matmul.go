package ops

import "github.com/bnrun/bnrun/kern"

func init() {
	Register("MatMul", buildMatMul)
}

// buildMatMul binds MatMul (opsets 1–13 and later), the matrix product with
// numpy's semantics: A [..., M, K] times B [..., K, N] gives [..., M, N],
// the leading (batch) dimensions broadcast against each other; a 1-D A is
// a row [1, K] and a 1-D B a column [K, 1], whose added dimension is then
// dropped from the result. Each product runs on env.K.Gemm.
func buildMatMul(n *Node) (Kernel, error) {
	return PrepareFunc(func(in []*Value) ([]Value, Step, error) {
		return prepareMatMul(n, in)
	}), nil
}

func prepareMatMul(n *Node, in []*Value) ([]Value, Step, error) {
	if len(in) != 2 {
		return nil, Step{}, n.Errorf("got %d inputs, want 2", len(in))
	}
	for i, name := range []string{"A", "B"} {
		v := in[i]
		if v == nil || v.DType != Float32 || len(v.Shape) < 1 {
			return nil, Step{}, n.Errorf("input %s must be a float32 tensor of rank at least 1", name)
		}
	}
	as, bs := in[0].Shape, in[1].Shape
	var m, k, kb, nn int
	var batchA, batchB []int
	if len(as) == 1 {
		m, k = 1, as[0]
	} else {
		m, k, batchA = as[len(as)-2], as[len(as)-1], as[:len(as)-2]
	}
	if len(bs) == 1 {
		kb, nn = bs[0], 1
	} else {
		kb, nn, batchB = bs[len(bs)-2], bs[len(bs)-1], bs[:len(bs)-2]
	}
	if k != kb {
		return nil, Step{}, n.Errorf("A %s and B %s: inner dimensions %d and %d differ", ShapeString(as), ShapeString(bs), k, kb)
	}
	// Broadcast the batch dimensions, aligned right.
	r := max(len(batchA), len(batchB))
	batch := make([]int, r)
	dimA := func(i int) int {
		if j := i - (r - len(batchA)); j >= 0 {
			return batchA[j]
		}
		return 1
	}
	dimB := func(i int) int {
		if j := i - (r - len(batchB)); j >= 0 {
			return batchB[j]
		}
		return 1
	}
	for i := range r {
		da, db := dimA(i), dimB(i)
		switch {
		case da == db || db == 1:
			batch[i] = da
		case da == 1:
			batch[i] = db
		default:
			return nil, Step{}, n.Errorf("A %s and B %s: batch dimensions do not broadcast", ShapeString(as), ShapeString(bs))
		}
	}
	outShape := append([]int(nil), batch...)
	if len(as) > 1 {
		outShape = append(outShape, m)
	}
	if len(bs) > 1 {
		outShape = append(outShape, nn)
	}
	nbatch := NumElems(batch)
	// When B is one matrix shared by every batch and A is not broadcast,
	// the batches of A stack into one tall product.
	stacked := NumElems(batchB) == 1 && NumElems(batchA) == nbatch
	// offA[i] and offB[i] are the matrices (in units of m·k and k·nn
	// elements) that output batch i multiplies.
	var offA, offB []int
	if !stacked {
		offA, offB = make([]int, nbatch), make([]int, nbatch)
		idx := make([]int, r)
		for i := range nbatch {
			oa, ob := 0, 0
			for d := range r {
				da, db := dimA(d), dimB(d)
				oa = oa*da + min(idx[d], da-1)
				ob = ob*db + min(idx[d], db-1)
			}
			offA[i], offB[i] = oa, ob
			for d := r - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < batch[d] {
					break
				}
				idx[d] = 0
			}
		}
	}
	na, nb, ny := NumElems(as), NumElems(bs), NumElems(outShape)
	run := func(env *kern.Env, in, out []*Tensor) error {
		if err := checkLen(in[0], "A", na); err != nil {
			return n.Errorf("%v", err)
		}
		if err := checkLen(in[1], "B", nb); err != nil {
			return n.Errorf("%v", err)
		}
		if err := checkLen(out[0], "Y", ny); err != nil {
			return n.Errorf("%v", err)
		}
		a, b, y := in[0].F32, in[1].F32, out[0].F32
		if ny == 0 {
			return nil
		}
		if stacked {
			env.K.Gemm(env, false, false, nbatch*m, nn, k, 1, a, k, b, nn, 0, y, nn)
			return nil
		}
		// Y[i] = A[offA[i]] · B[offB[i]] for each output batch i
		mul := func(env *kern.Env, i int) {
			env.K.Gemm(env, false, false, m, nn, k, 1, a[offA[i]*m*k:], k, b[offB[i]*k*nn:], nn, 0, y[i*m*nn:], nn)
		}
		par := kern.ParOf(env)
		if par.Workers() > 1 && 2*m*nn*k < 1<<20 {
			// Small products: one per worker at a time, each serial.
			par.Do(nbatch, RangeFunc(func(lo, hi int) {
				serial := &kern.Env{K: env.K, Par: kern.Serial{}}
				for i := lo; i < hi; i++ {
					mul(serial, i)
				}
			}))
			return nil
		}
		for i := range nbatch {
			mul(env, i)
		}
		return nil
	}
	outs, err := oneOutput(n, Value{DType: Float32, Shape: outShape})
	if err != nil {
		return nil, Step{}, err
	}
	// each output element sums K products
	return outs, Step{Run: run, MACs: int64(NumElems(outShape)) * int64(k)}, nil
}
