package ops

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// expandRef broadcasts x to shape out (x's dims right-aligned), naively.
func expandRef(x *Tensor, out []int) *Tensor {
	y := &Tensor{DType: x.DType, Shape: copyShape(out)}
	if x.DType == Int64 {
		y.I64 = make([]int64, NumElems(out))
	} else {
		y.F32 = make([]float32, NumElems(out))
	}
	c := make([]int, len(out))
	xs := stridesOf(x.Shape)
	off := len(out) - len(x.Shape)
	for i := range y.Len() {
		unravel(i, out, c)
		j := 0
		for a, d := range x.Shape {
			if d != 1 {
				j += c[a+off] * xs[a]
			}
		}
		if x.DType == Int64 {
			y.I64[i] = x.I64[j]
		} else {
			y.F32[i] = x.F32[j]
		}
	}
	return y
}

// tileRef tiles x reps times per axis, naively.
func tileRef(x *Tensor, reps []int) *Tensor {
	out := make([]int, len(reps))
	for a, r := range reps {
		out[a] = x.Shape[a] * r
	}
	y := NewF32(out, nil)
	c := make([]int, len(out))
	xs := stridesOf(x.Shape)
	for i := range y.F32 {
		unravel(i, out, c)
		j := 0
		for a := range c {
			j += c[a] % x.Shape[a] * xs[a]
		}
		y.F32[i] = x.F32[j]
	}
	return y
}

// TestExpandKnown checks Expand: a larger rank, a shape shorter than the
// input, 1s in shape keeping the input's sizes, sizes 0, int64 data,
// and the errors.
func TestExpandKnown(t *testing.T) {
	x := elF32([]int{3, 1}, 1, 2, 3)
	shape := func(v ...int64) *Tensor { return elI64([]int{len(v)}, v...) }
	checkElem(t, elF32([]int{2, 3, 2}, 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3), 0, elemNode("Expand", 13), x, shape(2, 1, 2))
	checkElem(t, elF32([]int{3, 4}, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), 0, elemNode("Expand", 8), x, shape(4))
	checkElem(t, x, 0, elemNode("Expand", 13), x, shape(1, 1))
	checkElem(t, x, 0, elemNode("Expand", 13), x, elI64([]int{0}))
	checkElem(t, elF32([]int{3, 0}), 0, elemNode("Expand", 13), x, shape(3, 0))
	checkElem(t, elF32([]int{0, 3, 1}), 0, elemNode("Expand", 13), x, shape(0, 1, 1))
	checkElem(t, elI64([]int{2, 2}, 7, 8, 7, 8), 0, elemNode("Expand", 13), elI64([]int{2}, 7, 8), shape(2, 1))
	checkElem(t, elF32([]int{2, 2}, 5, 5, 5, 5), 0, elemNode("Expand", 13), elF32([]int{}, 5), shape(2, 2))
	// against the reference, batch > 1 and odd sizes, serial and chunked
	for _, c := range []struct{ in, out []int }{
		{[]int{1, 3, 1, 5}, []int{2, 3, 7, 5}},
		{[]int{4, 1, 1}, []int{3, 4, 5, 6}},
		{[]int{1}, []int{2, 1, 9}},
		{[]int{2, 1, 40, 1}, []int{2, 30, 40, 17}},
	} {
		in := nnRand(3, c.in...)
		spec := make([]int64, len(c.out))
		for i, d := range c.out {
			spec[i] = int64(d)
		}
		n := elemNode("Expand", 13)
		want := expandRef(in, c.out)
		checkElem(t, want, 0, n, in, shape(spec...))
		elemCheckTensor(t, fmt.Sprintf("Expand %v to %v parallel", c.in, c.out), want,
			runElemWith(t, &kern.Env{Par: elemChunkPar{5}}, n, in, shape(spec...)), 0)
	}

	wantElemErr(t, "cannot expand shape [3,1] to [2 4 2]", elemNode("Expand", 13), x, shape(2, 4, 2))
	wantElemErr(t, "dimension -1 is out of range", elemNode("Expand", 13), x, shape(-1, 2))
	wantElemErr(t, "too large", elemNode("Expand", 13), x, shape(1<<20, 3, 1<<20))
	wantElemErrMode(t, "shape must be a constant known at plan time", elemNode("Expand", 13), []bool{false, true}, x, shape(2, 3, 1))
	wantElemErr(t, "shape has type float32", elemNode("Expand", 13), x, elF32([]int{1}, 2))
	wantElemErr(t, "want at least 2 inputs", elemNode("Expand", 13), x)
}

// TestTileKnown checks Tile in its two forms (repeats from opset 6, tiles
// and axis in opset 1), repeats of 0 and 1, int64 data, the reference on
// awkward shapes, and the errors.
func TestTileKnown(t *testing.T) {
	x := elF32([]int{2, 2}, 1, 2, 3, 4)
	reps := func(v ...int64) *Tensor { return elI64([]int{len(v)}, v...) }
	checkElem(t, elF32([]int{2, 4}, 1, 2, 1, 2, 3, 4, 3, 4), 0, elemNode("Tile", 13), x, reps(1, 2))
	checkElem(t, elF32([]int{4, 2}, 1, 2, 3, 4, 1, 2, 3, 4), 0, elemNode("Tile", 6), x, reps(2, 1))
	checkElem(t, elF32([]int{0, 2}), 0, elemNode("Tile", 13), x, reps(0, 1))
	checkElem(t, elI64([]int{3}, 7, 7, 7), 0, elemNode("Tile", 13), elI64([]int{1}, 7), reps(3))
	checkElem(t, elF32([]int{}, 7), 0, elemNode("Tile", 13), elF32([]int{}, 7), elI64([]int{0}))
	// opset 1: tiles and axis, int64 or float-typed scalars
	checkElem(t, elF32([]int{2, 6}, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4), 0, elemNode("Tile", 1), x, elI64([]int{}, 3), elI64([]int{}, 1))
	checkElem(t, elF32([]int{4, 2}, 1, 2, 3, 4, 1, 2, 3, 4), 0, elemNode("Tile", 1), x, elF32([]int{1}, 2), elF32([]int{}, 0))
	for _, c := range []struct{ in, reps []int }{
		{[]int{2, 3, 4}, []int{2, 1, 3}},
		{[]int{1, 5, 1, 3}, []int{3, 2, 4, 1}},
		{[]int{2, 3, 7, 5}, []int{1, 1, 1, 1}},
		{[]int{3, 33}, []int{40, 7}},
	} {
		in := nnRand(5, c.in...)
		r := make([]int64, len(c.reps))
		for i, v := range c.reps {
			r[i] = int64(v)
		}
		want := tileRef(in, c.reps)
		checkElem(t, want, 0, elemNode("Tile", 13), in, reps(r...))
		elemCheckTensor(t, fmt.Sprintf("Tile %v by %v parallel", c.in, c.reps), want,
			runElemWith(t, &kern.Env{Par: elemChunkPar{5}}, elemNode("Tile", 13), in, reps(r...)), 0)
	}

	wantElemErr(t, "repeats has 1 values for input of rank 2", elemNode("Tile", 13), x, reps(2))
	wantElemErr(t, "count -1 is out of range", elemNode("Tile", 13), x, reps(1, -1))
	wantElemErr(t, "too large", elemNode("Tile", 13), x, reps(1<<20, 1<<20))
	wantElemErrMode(t, "repeats must be a constant known at plan time", elemNode("Tile", 13), []bool{false, true}, x, reps(1, 2))
	wantElemErrMode(t, "tiles must be a constant known at plan time", elemNode("Tile", 1), []bool{false, true, false}, x, elF32([]int{}, 2), elI64([]int{}, 0))
	wantElemErr(t, "tiles must be a scalar", elemNode("Tile", 1), x, elI64([]int{2}, 2, 2), elI64([]int{}, 0))
	wantElemErr(t, "axis 2 out of range", elemNode("Tile", 1), x, elI64([]int{}, 2), elI64([]int{}, 2))
	wantElemErr(t, "want 3 at opset 1", elemNode("Tile", 1), x, elI64([]int{}, 2), elI64([]int{}, 0), elI64([]int{}, 0))
	wantElemErr(t, "want 2 at opset 13", elemNode("Tile", 13), x, reps(1, 1), reps(1))
}
