package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// softmaxRef normalises x viewed as [outer, dim, inner] along dim in
// float64, without the max shift.
func softmaxRef(x *Tensor, outer, dim, inner int) *Tensor {
	out := NewF32(x.Shape, nil)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			var s float64
			for j := 0; j < dim; j++ {
				s += math.Exp(float64(x.F32[(o*dim+j)*inner+i]))
			}
			for j := 0; j < dim; j++ {
				p := (o*dim+j)*inner + i
				out.F32[p] = float32(math.Exp(float64(x.F32[p])) / s)
			}
		}
	}
	return out
}

func TestSoftmaxKnown(t *testing.T) {
	checkElem(t, elF32([]int{3}, 0.09003057, 0.24472847, 0.66524096), 1e-6, elemNode("Softmax", 13), elF32([]int{3}, 1, 2, 3))
	// Large values do not overflow.
	checkElem(t, elF32([]int{1, 3}, 0.09003057, 0.24472847, 0.66524096), 1e-6, elemNode("Softmax", 11), elF32([]int{1, 3}, 1001, 1002, 1003))
	checkElem(t, elF32([]int{2}, 0.5, 0.5), 1e-7, elemNode("Softmax", 13), elF32([]int{2}, -1e30, -1e30))
}

func TestSoftmaxOpsetForms(t *testing.T) {
	x := elSeq(2, 3, 4)
	for i := range x.F32 {
		x.F32[i] = float32(math.Sin(float64(i))) * 3
	}
	// Opset 11, default axis 1: rows are the flattened [3,4] blocks.
	checkElem(t, softmaxRef(x, 2, 12, 1), 1e-6, elemNode("Softmax", 11), x)
	checkElem(t, softmaxRef(x, 1, 24, 1), 1e-6, elemNode("Softmax", 11, elInt("axis", 0)), x)
	checkElem(t, softmaxRef(x, 6, 4, 1), 1e-6, elemNode("Softmax", 1, elInt("axis", 2)), x)
	checkElem(t, softmaxRef(x, 6, 4, 1), 1e-6, elemNode("Softmax", 11, elInt("axis", -1)), x)
	// Opset 13, default axis -1: along the last dimension only.
	checkElem(t, softmaxRef(x, 6, 4, 1), 1e-6, elemNode("Softmax", 13), x)
	// Opset 13, axis 1: along the middle dimension (strided).
	checkElem(t, softmaxRef(x, 2, 3, 4), 1e-6, elemNode("Softmax", 13, elInt("axis", 1)), x)
	checkElem(t, softmaxRef(x, 1, 2, 12), 1e-6, elemNode("Softmax", 13, elInt("axis", -3)), x)
	// The two forms differ on the same node attributes.
	a := mustElem(t, elemNode("Softmax", 11, elInt("axis", 1)), x)
	b := mustElem(t, elemNode("Softmax", 13, elInt("axis", 1)), x)
	if math.Abs(float64(a.F32[0]-b.F32[0])) < 1e-3 {
		t.Fatalf("opset 11 and 13 agree at axis 1: %v vs %v", a.F32[0], b.F32[0])
	}
	// Empty tensors.
	checkElem(t, elF32([]int{0, 3}), 0, elemNode("Softmax", 13), elF32([]int{0, 3}))

	wantElemErr(t, "out of range", elemNode("Softmax", 13, elInt("axis", 3)), x)
	wantElemErr(t, "out of range", elemNode("Softmax", 11, elInt("axis", -4)), x)
	wantElemErr(t, "want float32", elemNode("Softmax", 13), elI64([]int{2}, 1, 2))
}

// TestLogSoftmax checks LogSoftmax against ONNX's example, against the
// logarithm of Softmax in float64 in every opset form, on values whose
// exponentials overflow float32 and on a lane of -Inf but one value.
func TestLogSoftmax(t *testing.T) {
	checkElem(t, elF32([]int{1, 3}, -2.40760596, -1.40760596, -0.40760596), 1e-6, elemNode("LogSoftmax", 13), elF32([]int{1, 3}, -1, 0, 1))
	checkElem(t, elF32([]int{1, 3}, -2.40760596, -1.40760596, -0.40760596), 1e-6, elemNode("LogSoftmax", 11), elF32([]int{1, 3}, 1001, 1002, 1003))
	inf := float32(math.Inf(1))
	checkElem(t, elF32([]int{3}, -inf, 0, -inf), 0, elemNode("LogSoftmax", 13), elF32([]int{3}, -inf, 5, -inf))
	x := elSeq(2, 3, 4)
	for i := range x.F32 {
		x.F32[i] = float32(math.Sin(float64(i))) * 30
	}
	logOf := func(y *Tensor) *Tensor {
		z := y.Clone()
		for i, v := range y.F32 {
			z.F32[i] = float32(math.Log(float64(v)))
		}
		return z
	}
	for _, c := range []struct {
		node              *Node
		outer, dim, inner int
	}{
		{elemNode("LogSoftmax", 11), 2, 12, 1},
		{elemNode("LogSoftmax", 1, elInt("axis", 0)), 1, 24, 1},
		{elemNode("LogSoftmax", 13), 6, 4, 1},
		{elemNode("LogSoftmax", 13, elInt("axis", 1)), 2, 3, 4},
		{elemNode("LogSoftmax", 13, elInt("axis", -3)), 1, 2, 12},
	} {
		checkElem(t, logOf(softmaxRef(x, c.outer, c.dim, c.inner)), 2e-5, c.node, x)
	}
	checkElem(t, elF32([]int{0, 3}), 0, elemNode("LogSoftmax", 13), elF32([]int{0, 3}))
	wantElemErr(t, "out of range", elemNode("LogSoftmax", 13, elInt("axis", 3)), x)
	wantElemErr(t, "want float32", elemNode("LogSoftmax", 13), elI64([]int{2}, 1, 2))
}

func TestReduceMeanKnown(t *testing.T) {
	x := elSeq(2, 3, 4)
	// Global average pooling pattern: axes [2,3] keepdims.
	n4 := elSeq(2, 3, 2, 2)
	checkElem(t, elF32([]int{2, 3, 1, 1}, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5), 1e-6, elemNode("ReduceMean", 13, elInts("axes", 2, 3)), n4)
	checkElem(t, elF32([]int{2, 3}, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5), 1e-6, elemNode("ReduceMean", 13, elInts("axes", -1, -2), elInt("keepdims", 0)), n4)
	// Middle axis.
	checkElem(t, elF32([]int{2, 1, 4}, 4, 5, 6, 7, 16, 17, 18, 19), 1e-6, elemNode("ReduceMean", 13, elInts("axes", 1)), x)
	// Outer and inner axes, leaving the middle.
	checkElem(t, elF32([]int{3}, 7.5, 11.5, 15.5), 1e-6, elemNode("ReduceMean", 11, elInts("axes", 0, 2), elInt("keepdims", 0)), x)
	// All axes.
	checkElem(t, elF32([]int{1, 1, 1}, 11.5), 1e-6, elemNode("ReduceMean", 13), x)
	checkElem(t, elF32([]int{}, 11.5), 1e-6, elemNode("ReduceMean", 13, elInt("keepdims", 0)), x)
	// Reducing a size-1 axis.
	checkElem(t, elF32([]int{2, 1}, 1, 2), 0, elemNode("ReduceMean", 13, elInts("axes", 1)), elF32([]int{2, 1}, 1, 2))
	// Opset 18: axes input, noop_with_empty_axes.
	checkElem(t, elF32([]int{2, 3}, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5), 1e-6,
		elemNode("ReduceMean", 18, elInt("keepdims", 0)), x, elI64([]int{1}, 2))
	checkElem(t, x.Clone(), 0, elemNode("ReduceMean", 18, elInt("noop_with_empty_axes", 1)), x)
	checkElem(t, elF32([]int{1, 1, 1}, 11.5), 1e-6, elemNode("ReduceMean", 18), x)
	// Mean over an empty axis is NaN.
	nan := float32(math.NaN())
	checkElem(t, elF32([]int{2}, nan, nan), 0, elemNode("ReduceMean", 13, elInts("axes", 1), elInt("keepdims", 0)), elF32([]int{2, 0}))

	wantElemErr(t, "out of range", elemNode("ReduceMean", 13, elInts("axes", 3)), x)
	wantElemErr(t, "repeated", elemNode("ReduceMean", 13, elInts("axes", 1, -2)), x)
	wantElemErr(t, "not an attribute", elemNode("ReduceMean", 18, elInts("axes", 1)), x)
	wantElemErr(t, "want float32", elemNode("ReduceMean", 13), elI64([]int{2}, 1, 2))
}

// TestReduceMeanTrailingIsGlobalPool checks that a mean over the trailing
// axes (a network's mean over its planes) is GlobalAveragePool's bit for
// bit on every tier, with and without keepdims.
func TestReduceMeanTrailingIsGlobalPool(t *testing.T) {
	x := nnRand(7, 2, 13, 7, 9)
	for _, tier := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
		for _, workers := range []int{1, 3} {
			env := nnEnv(tier, workers)
			gap, err := runOpEnv(env, nnNode("GlobalAveragePool", 1, 1), x)
			if err != nil {
				t.Fatal(err)
			}
			for _, keep := range []int64{0, 1} {
				got, err := runOpEnv(env, elemNode("ReduceMean", 13, elInts("axes", 2, 3), elInt("keepdims", keep)), x)
				if err != nil {
					t.Fatal(err)
				}
				kerntest.Check(t, fmt.Sprintf("%s workers=%d keepdims=%d", tier.Name, workers, keep), got[0].F32, gap[0].F32, 0)
				for i := range got[0].F32 {
					if math.Float32bits(got[0].F32[i]) != math.Float32bits(gap[0].F32[i]) {
						t.Fatalf("%s keepdims=%d: [%d] = %v, GlobalAveragePool %v", tier.Name, keep, i, got[0].F32[i], gap[0].F32[i])
					}
				}
			}
		}
	}
}
