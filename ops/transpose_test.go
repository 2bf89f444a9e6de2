package ops

import "testing"

// transposeRef permutes x the slow way.
func transposeRef(x *Tensor, perm []int) *Tensor {
	r := len(x.Shape)
	shape := make([]int, r)
	for i, p := range perm {
		shape[i] = x.Shape[p]
	}
	st := stridesOf(x.Shape)
	out := &Tensor{DType: x.DType, Shape: shape}
	n := NumElems(shape)
	if x.DType == Int64 {
		out.I64 = make([]int64, n)
	} else {
		out.F32 = make([]float32, n)
	}
	c := make([]int, r)
	for i := 0; i < n; i++ {
		unravel(i, shape, c)
		off := 0
		for k, p := range perm {
			off += c[k] * st[p]
		}
		if x.DType == Int64 {
			out.I64[i] = x.I64[off]
		} else {
			out.F32[i] = x.F32[off]
		}
	}
	return out
}

func TestTransposeKnown(t *testing.T) {
	x := elSeq(2, 3)
	checkElem(t, elF32([]int{3, 2}, 0, 3, 1, 4, 2, 5), 0, elemNode("Transpose", 13), x)
	checkElem(t, elF32([]int{3, 2}, 0, 3, 1, 4, 2, 5), 0, elemNode("Transpose", 13, elInts("perm", 1, 0)), x)
	checkElem(t, x.Clone(), 0, elemNode("Transpose", 13, elInts("perm", 0, 1)), x)
	checkElem(t, elI64([]int{2, 1}, 4, 5), 0, elemNode("Transpose", 13), elI64([]int{1, 2}, 4, 5))
	checkElem(t, elF32([]int{}, 3), 0, elemNode("Transpose", 13), elF32([]int{}, 3))

	perms := [][]int{{0, 2, 1}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}, {1, 0, 2}, {0, 1, 2}}
	for _, p := range perms {
		for _, sh := range [][]int{{2, 3, 4}, {1, 5, 3}, {4, 1, 1}, {3, 0, 2}} {
			x := elSeq(sh...)
			p64 := make([]int64, len(p))
			for i, v := range p {
				p64[i] = int64(v)
			}
			checkElem(t, transposeRef(x, p), 0, elemNode("Transpose", 13, elInts("perm", p64...)), x)
		}
	}
	x4 := elSeq(2, 3, 4, 5)
	for _, p := range [][]int{{0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {1, 0, 3, 2}} {
		p64 := []int64{int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3])}
		checkElem(t, transposeRef(x4, p), 0, elemNode("Transpose", 13, elInts("perm", p64...)), x4)
	}

	wantElemErr(t, "not a permutation", elemNode("Transpose", 13, elInts("perm", 0, 0)), x)
	wantElemErr(t, "not a permutation", elemNode("Transpose", 13, elInts("perm", 0, 2)), x)
	wantElemErr(t, "not a permutation", elemNode("Transpose", 13, elInts("perm", -1, 0)), x)
	wantElemErr(t, "entries for rank", elemNode("Transpose", 13, elInts("perm", 0, 1, 2)), x)
}

// TestPermuteCopyAllocatesNothing checks that a Transpose's copy below
// copyGrain (ShuffleNetV2's channel shuffle, batch 2) allocates nothing,
// and that it and the same copy above copyGrain, split among workers,
// permute.
func TestPermuteCopyAllocatesNothing(t *testing.T) {
	for _, n := range []int{2, 2 * copyGrain / (116 * 28 * 28)} {
		shape := []int{n, 2, 58, 28, 28}
		x := nnRand(7, shape...)
		dims, stride := transposePlan(shape, []int{0, 2, 1, 3, 4})
		dst := make([]float32, len(x.F32))
		env := nnEnv(nil, 2)
		run := func() { permuteCopy(env, dst, x.F32, dims, stride) }
		run()
		want := transposeRef(x, []int{0, 2, 1, 3, 4})
		for i := range dst {
			if dst[i] != want.F32[i] {
				t.Fatalf("batch %d: [%d] = %v, want %v", n, i, dst[i], want.F32[i])
			}
		}
		if len(dst) >= copyGrain {
			continue // (the test's workers are goroutines of their own)
		}
		if a := testing.AllocsPerRun(5, run); a != 0 {
			t.Errorf("batch %d: %v allocations a copy, want 0", n, a)
		}
	}
}
