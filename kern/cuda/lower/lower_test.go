package lower

import (
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// TestLowerRefuses checks, without a GPU (no launch runs), that the steps
// no kernel runs are errors that name what is missing, and that the ones
// with kernels are lowered.
func TestLowerRefuses(t *testing.T) {
	step := func(op string) Step {
		return Step{OpType: op, In: []int{0, 1}, Out: []int{2}, OutLen: 4, OutF32: true,
			Upload: nil, Reserve: func(int) {}}
	}
	for _, tc := range []struct {
		dev  any
		st   Step
		want string
	}{
		{struct{}{}, step("Frobnicate"), "no CUDA kernel for this Frobnicate"},
		{nil, step("Shape"), "no CUDA kernel for this Shape"},
		{&ops.BinaryDev{Op: kern.BinaryPow + 1}, step("Mod"), "binary operator BinaryOp(7)"},
		{&ops.ReduceDev{Op: -1}, step("ReduceProd"), "reduction ReduceOp(-1)"},
		{&ops.ReduceDev{Op: kern.ReduceSum, Kept: make([]int, 7), Red: []int{2}}, step("ReduceSum"), "more than 6"},
		{&ops.PadDev{Mode: kern.PadEdge + 1}, step("Pad"), "pad mode PadMode(3)"},
		{&ops.CopyDev{}, Step{OpType: "Reshape", In: []int{0}, Out: []int{1}, OutF32: false}, "float32 tensors only"},
		{&ops.UnaryDev{}, Step{OpType: "Relu", In: []int{0}}, "no output"},
		{&ops.SplitDev{Parts: make([]ops.StridedDev, 3)}, step("Split"), "3 parts with 1 outputs"},
		{&ops.ResizeDev{In: []int{1, 4}, Out: []int{1, 2}, Axes: []ops.ResizeAxisDev{{Axis: 1, K: 1, InLen: 4, OutLen: 2, Outer: 1, Inner: 1,
			Idx: []int{0, 4}, W: []float64{1, 1}, Ext: make([]bool, 2)}}}, step("Resize"), "reads index 4 of 4"},
		{&ops.ResizeDev{In: []int{1, 4}, Out: []int{1, 2}, Axes: []ops.ResizeAxisDev{{Axis: 1, K: 2, InLen: 4, OutLen: 2, Outer: 1, Inner: 1,
			Idx: []int{0, 1}, W: []float64{1, 1}, Ext: make([]bool, 2)}}}, step("Resize"), "2 taps, 2 weights"},
	} {
		l, err := Lower(tc.dev, tc.st)
		if err == nil || l != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Lower = %v, %v; want an error containing %q", tc.st.OpType, l != nil, err, tc.want)
		}
	}
	for _, tc := range []struct {
		dev any
		op  string
	}{
		{&ops.BinaryDev{Op: kern.BinaryAdd}, "Add"}, {&ops.BinaryDev{Op: kern.BinaryPow}, "Pow"}, {&ops.SoftmaxDev{}, "Softmax"},
		{&ops.SoftmaxDev{Log: true}, "LogSoftmax"}, {&ops.PadDev{Mode: kern.PadReflect}, "Pad"},
		{&ops.Conv3DDev{}, "Conv"}, {&ops.PoolDev{G: kern.PoolGeom{D: kern.PoolAxis{In: 2, Out: 2, K: 1}}}, "MaxPool"},
		{&ops.ReduceDev{Op: kern.ReduceMin, Red: []int{3}}, "ReduceMin"},
		{&ops.CopyDev{}, "Reshape"}, {&ops.UnaryDev{}, "Relu"}, {&ops.GlobalPoolDev{}, "GlobalAveragePool"},
		{&ops.AffinePoolDev{N: 1, C: 2, HW: 4}, "bnrun.AffineAveragePool"},
		{&ops.ConcatDev{Sizes: []int{1, 1}}, "Concat"},
		{&ops.ConvTransposeDev{}, "ConvTranspose"}, {&ops.ConvTranspose3DDev{}, "ConvTranspose"}, {&ops.StridedDev{}, "Slice"},
		{&ops.SplitDev{Parts: make([]ops.StridedDev, 1)}, "Split"},
		{&ops.ResizeDev{In: []int{2, 3}, Out: []int{2, 3}}, "Resize"}, {&ops.ResizeDev{In: []int{0, 3}, Out: []int{0, 6}}, "Resize"},
	} {
		if l, err := Lower(tc.dev, step(tc.op)); err != nil || l == nil {
			t.Errorf("%s: Lower = %v, %v; want launches", tc.op, l != nil, err)
		}
	}
}
