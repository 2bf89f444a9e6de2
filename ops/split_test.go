package ops

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// splitNode is a Split with the given outputs ("" unnamed).
func splitNode(opset int, outs []string, attrs ...*Attr) *Node {
	n := elemNode("Split", opset, attrs...)
	n.Outputs = outs
	return n
}

// checkSplit runs n and compares every output with want (nil: not
// checked).
func checkSplit(t *testing.T, want []*Tensor, n *Node, varying []bool, ins ...*Tensor) {
	t.Helper()
	r, err := runElemOpMode(t, n, varying, ins...)
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	if len(r.out) != len(want) {
		t.Fatalf("Split: %d outputs, want %d", len(r.out), len(want))
	}
	for i, w := range want {
		if w != nil {
			elemCheckTensor(t, fmt.Sprintf("Split output %d", i), w, r.out[i], 0)
		}
	}
}

// TestSplitForms checks Split in each opset's form: equal parts, lengths
// from the attribute (opsets 2 and 11), from input 1 (opset 13, and opset
// 1's float-typed input or attribute), negative axes, parts of length 0,
// int64 data, and the errors.
func TestSplitForms(t *testing.T) {
	x := elSeq(2, 6) // rows 0..5, 6..11
	abc := []string{"a", "b", "c"}
	eq := []*Tensor{elF32([]int{2, 2}, 0, 1, 6, 7), elF32([]int{2, 2}, 2, 3, 8, 9), elF32([]int{2, 2}, 4, 5, 10, 11)}
	checkSplit(t, eq, splitNode(13, abc, elInt("axis", 1)), nil, x)
	checkSplit(t, eq, splitNode(11, abc, elInt("axis", -1)), nil, x)
	checkSplit(t, eq, splitNode(2, abc, elInt("axis", 1)), nil, x)
	checkSplit(t, eq, splitNode(13, abc, elInt("axis", 1)), nil, x, elI64([]int{3}, 2, 2, 2))
	checkSplit(t, eq, splitNode(1, abc, elInt("axis", 1)), nil, x, elF32([]int{3}, 2, 2, 2))
	checkSplit(t, eq, splitNode(1, abc, elInt("axis", 1), elInts("split", 2, 2, 2)), nil, x)
	// default axis 0
	checkSplit(t, []*Tensor{elSeq(1, 6), elF32([]int{1, 6}, 6, 7, 8, 9, 10, 11)}, splitNode(13, []string{"a", "b"}), nil, x)
	// uneven lengths, one of them 0
	uneven := []*Tensor{elF32([]int{2, 1}, 0, 6), elF32([]int{2, 0}), elF32([]int{2, 5}, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11)}
	checkSplit(t, uneven, splitNode(11, abc, elInt("axis", 1), elInts("split", 1, 0, 5)), nil, x)
	checkSplit(t, uneven, splitNode(13, abc, elInt("axis", -1)), nil, x, elI64([]int{3}, 1, 0, 5))
	// an unnamed output is not computed; its neighbours are
	r, err := runElemOpMode(t, splitNode(13, []string{"a", "", "c"}, elInt("axis", 1)), nil, x)
	if err != nil {
		t.Fatal(err)
	}
	r.out[1] = nil
	if err := r.step.Run(&kern.Env{Par: kern.Serial{}}, []*Tensor{x}, r.out); err != nil {
		t.Fatalf("Split with an unnamed output: %v", err)
	}
	elemCheckTensor(t, "Split output 2", eq[2], r.out[2], 0)
	// batch > 1, a middle axis, int64 data
	xi := NewI64([]int{3, 5, 2}, nil)
	for i := range xi.I64 {
		xi.I64[i] = int64(i)
	}
	checkSplit(t, []*Tensor{
		elI64([]int{3, 2, 2}, 0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23),
		elI64([]int{3, 3, 2}, 4, 5, 6, 7, 8, 9, 14, 15, 16, 17, 18, 19, 24, 25, 26, 27, 28, 29),
	}, splitNode(13, []string{"a", "b"}, elInt("axis", 1)), nil, xi, elI64([]int{2}, 2, 3))
	// an empty axis into empty parts
	checkSplit(t, []*Tensor{elF32([]int{0}), elF32([]int{0})}, splitNode(13, []string{"a", "b"}), nil, elF32([]int{0}))
	checkSplit(t, []*Tensor{elF32([]int{0}), elF32([]int{0})}, splitNode(13, []string{"a", "b"}), nil, elF32([]int{0}), elI64([]int{2}, 0, 0))

	wantElemErr(t, "does not split into 4 equal parts", splitNode(13, []string{"a", "b", "c", "d"}, elInt("axis", 1)), x)
	wantElemErr(t, "sums to 5", splitNode(13, abc, elInt("axis", 1)), x, elI64([]int{3}, 1, 2, 2))
	wantElemErr(t, "sums to 7", splitNode(11, abc, elInt("axis", 1), elInts("split", 1, 2, 4)), x)
	wantElemErr(t, "split has 2 values for 3 outputs", splitNode(13, abc, elInt("axis", 1)), x, elI64([]int{2}, 3, 3))
	wantElemErr(t, "split[1] = -1 is out of range", splitNode(13, abc, elInt("axis", 1)), x, elI64([]int{3}, 4, -1, 3))
	wantElemErr(t, "axis 2 out of range for rank 2", splitNode(13, abc, elInt("axis", 2)), x)
	wantElemErr(t, "axis -3 out of range", splitNode(11, abc, elInt("axis", -3)), x)
	wantElemErrMode(t, "split must be a constant known at plan time", splitNode(13, abc, elInt("axis", 1)), []bool{false, true}, x, elI64([]int{3}, 2, 2, 2))
	wantElemErrMode(t, "split must be a constant known at plan time", splitNode(1, abc, elInt("axis", 1)), []bool{false, true}, x, elF32([]int{3}, 2, 2, 2))
	wantElemErr(t, "split is an input from opset 13", splitNode(13, abc, elInts("split", 2, 2, 2)), x)
	wantElemErr(t, "want 1 at opset 11", splitNode(11, abc, elInt("axis", 1)), x, elI64([]int{3}, 2, 2, 2))
	wantElemErr(t, "both as an attribute and as input 1", splitNode(1, abc, elInt("axis", 1), elInts("split", 2, 2, 2)), x, elF32([]int{3}, 2, 2, 2))
	wantElemErr(t, "split[0] = 1.5 is not a whole number", splitNode(1, abc, elInt("axis", 1)), x, elF32([]int{3}, 1.5, 2.5, 2))
	wantElemErr(t, "split has type float32", splitNode(13, abc, elInt("axis", 1)), x, elF32([]int{3}, 2, 2, 2))
	wantElemErr(t, "out of range for rank 0", splitNode(13, abc), elF32([]int{}, 1))
	if _, err := buildSplit(splitNode(13, nil)); err == nil {
		t.Fatal("Split with no outputs: no error")
	}
}

// TestSplitParallel splits a tensor big enough to be chunked and compares
// the parts with the serial ones and with Slice's.
func TestSplitParallel(t *testing.T) {
	x := nnRand(4, 3, 7, 40, 33)
	n := splitNode(13, []string{"a", "b", "c"}, elInt("axis", 2))
	sizes := elI64([]int{3}, 9, 30, 1)
	r, err := runElemOp(t, n, x, sizes)
	if err != nil {
		t.Fatal(err)
	}
	par := make([]*Tensor, 3)
	for i, o := range r.out {
		par[i] = NewF32(o.Shape, nil)
	}
	if err := r.step.Run(&kern.Env{Par: elemChunkPar{5}}, []*Tensor{x, sizes}, par); err != nil {
		t.Fatal(err)
	}
	start := int64(0)
	for i, o := range r.out {
		end := start + sizes.I64[i]
		want := mustElem(t, elemNode("Slice", 13), x, elI64([]int{1}, start), elI64([]int{1}, end), elI64([]int{1}, 2))
		elemCheckTensor(t, fmt.Sprintf("Split part %d", i), want, o, 0)
		elemCheckTensor(t, fmt.Sprintf("Split part %d parallel", i), want, par[i], 0)
		start = end
	}
}
