package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// bnParams returns random scale, B, mean and var (positive) of the given shape.
func bnParams(seed uint64, shape ...int) []*Tensor {
	v := nnRand(seed+3, shape...)
	for i := range v.F32 {
		v.F32[i] = v.F32[i]*v.F32[i] + 0.01
	}
	return []*Tensor{nnRand(seed, shape...), nnRand(seed+1, shape...), nnRand(seed+2, shape...), v}
}

// bnWant computes Y = scale*(X-mean)/sqrt(var+eps) + B in float64, with
// parameter index param(i) for element i.
func bnWant(x *Tensor, p []*Tensor, eps float64, param func(i int) int) []float32 {
	y := make([]float32, len(x.F32))
	for i, v := range x.F32 {
		c := param(i)
		s, b, m, va := float64(p[0].F32[c]), float64(p[1].F32[c]), float64(p[2].F32[c]), float64(p[3].F32[c])
		y[i] = float32(s*(float64(v)-m)/math.Sqrt(va+float64(eps)) + b)
	}
	return y
}

func TestBatchNormRanks(t *testing.T) {
	shapes := [][]int{{7}, {4, 3}, {2, 5, 9}, {2, 3, 4, 5}, {1, 17, 3, 2, 2}}
	for i, xs := range shapes {
		c, inner := 1, 1
		if len(xs) >= 2 {
			c, inner = xs[1], NumElems(xs[2:])
		}
		x := nnRand(uint64(10*i), xs...)
		p := bnParams(uint64(10*i+1), c)
		want := bnWant(x, p, 1e-3, func(i int) int { return i / inner % c })
		for _, opset := range []int{7, 9, 14, 15} {
			for _, workers := range []int{1, 3} {
				n := nnNode("BatchNormalization", opset, 1, nnFloat("epsilon", 1e-3), nnFloat("momentum", 0.1))
				out, err := runOpEnv(nnEnv(kern.Generic, workers), n, append([]*Tensor{x}, p...)...)
				if err != nil {
					t.Fatalf("%v opset %d: %v", xs, opset, err)
				}
				if !SameShape(out[0].Shape, xs) {
					t.Fatalf("%v: shape %v", xs, out[0].Shape)
				}
				kerntest.Check(t, fmt.Sprintf("%v opset %d", xs, opset), out[0].F32, want, 2e-6)
			}
		}
	}
}

func TestBatchNormPyTorchArithmetic(t *testing.T) {
	// The result must be exactly PyTorch's float32 sequence: invstd =
	// 1/sqrt(var+eps), a = invstd*scale, then b = B - mean*a and y = x*a + b
	// each rounded once (fused multiply-adds).
	x := nnRand(3, 2, 3, 4, 4)
	p := bnParams(4, 3)
	out := mustRun(t, nnNode("BatchNormalization", 9, 1), append([]*Tensor{x}, p...)...)
	eps := float32(1e-5)
	for i, v := range x.F32 {
		c := i / 16 % 3
		invstd := 1 / float32(math.Sqrt(float64(p[3].F32[c]+eps)))
		a := invstd * p[0].F32[c]
		b := float32(float64(p[1].F32[c]) - float64(p[2].F32[c])*float64(a))
		if want := float32(float64(v)*float64(a) + float64(b)); out[0].F32[i] != want {
			t.Fatalf("[%d] = %v, want %v", i, out[0].F32[i], want)
		}
	}
}

func TestBatchNormMatchesPyTorch(t *testing.T) {
	// torch.nn.BatchNorm2d(3).eval() (PyTorch 1.13, CPU) on these values
	// gives exactly want.
	x := NewF32([]int{1, 3, 2, 2}, []float32{-5.046595573425293, -4.630746364593506, -1.7925167083740234,
		6.414557456970215, 1.1699604988098145, -2.718611001968384, 2.66192626953125, -2.376965045928955,
		-4.574671745300293, -0.5991093516349792, -0.24624475836753845, -3.1760053634643555})
	scale := NewF32([]int{3}, []float32{-0.1467950940132141, 0.7861412763595581, 0.9468216300010681})
	b := NewF32([]int{3}, []float32{-1.1143440008163452, 1.6907901763916016, -0.8948279023170471})
	mean := NewF32([]int{3}, []float32{-0.3556250333786011, 1.2323857545852661, 0.13817265629768372})
	vr := NewF32([]int{3}, []float32{0.9828776121139526, 0.5131727457046509, 0.8571944832801819})
	want := []float32{-0.4197639524936676, -0.48133769631385803, -0.9015871286392212, -2.1167876720428467,
		1.6222847700119019, -2.6450297832489014, 3.25956654548645, -2.2701077461242676,
		-5.714406490325928, -1.6488075256347656, -1.2879514694213867, -4.284063816070557}
	out := mustRun(t, nnNode("BatchNormalization", 15, 1), x, scale, b, mean, vr)
	kerntest.Check(t, "torch", out[0].F32, want, 0)
}

func TestBatchNormKnownAnswer(t *testing.T) {
	// Channel 0: (x - 1) / sqrt(4) * 2 + 1 = x; channel 1: (x - 0) / 1 * 3 - 1.
	x := NewF32([]int{1, 2, 1, 2}, []float32{3, 5, 1, 2})
	scale := NewF32([]int{2}, []float32{2, 3})
	b := NewF32([]int{2}, []float32{1, -1})
	mean := NewF32([]int{2}, []float32{1, 0})
	vr := NewF32([]int{2}, []float32{4, 1})
	out := mustRun(t, nnNode("BatchNormalization", 15, 1, nnFloat("epsilon", 0)), x, scale, b, mean, vr)
	kerntest.Check(t, "bn", out[0].F32, []float32{3, 5, 2, 5}, 0)
}

func TestBatchNormSpatialZero(t *testing.T) {
	// Opsets 7–8, spatial = 0: one parameter set per element of C×H×W.
	x := nnRand(20, 3, 2, 4, 5)
	p := bnParams(21, 2, 4, 5)
	want := bnWant(x, p, 1e-5, func(i int) int { return i % 40 })
	for _, workers := range []int{1, 2} {
		n := nnNode("BatchNormalization", 7, 1, nnInt("spatial", 0))
		out, err := runOpEnv(nnEnv(kern.Generic, workers), n, append([]*Tensor{x}, p...)...)
		if err != nil {
			t.Fatal(err)
		}
		kerntest.Check(t, "spatial=0", out[0].F32, want, 2e-6)
	}
	// Per-channel parameters do not fit spatial = 0 on a 4-D input.
	wantErr(t, "want [2,4,5]", nnNode("BatchNormalization", 8, 1, nnInt("spatial", 0)),
		append([]*Tensor{x}, bnParams(22, 2)...)...)
}

func TestBatchNormOptionalOutputs(t *testing.T) {
	x := nnRand(30, 2, 3, 2, 2)
	p := bnParams(31, 3)
	ins := append([]*Tensor{x}, p...)
	// Before opset 14, mean and var are the running statistics: the inputs'.
	n := nnNode("BatchNormalization", 9, 3)
	out := mustRun(t, n, ins...)
	kerntest.Check(t, "mean", out[1].F32, p[2].F32, 0)
	kerntest.Check(t, "var", out[2].F32, p[3].F32, 0)
	// Only var, mean absent.
	n = nnNode("BatchNormalization", 7, 3)
	n.Outputs[1] = ""
	out = mustRun(t, n, ins...)
	kerntest.Check(t, "var only", out[2].F32, p[3].F32, 0)

	wantErr(t, "saved_mean", nnNode("BatchNormalization", 9, 4), ins...)
	wantErr(t, "saved_mean", nnNode("BatchNormalization", 7, 5), ins...)
	wantErr(t, "training_mode=1", nnNode("BatchNormalization", 14, 2), ins...)
	wantErr(t, "training_mode=1", nnNode("BatchNormalization", 15, 3), ins...)
}

func TestBatchNormErrors(t *testing.T) {
	x := nnRand(40, 2, 3, 2, 2)
	p := bnParams(41, 3)
	ins := append([]*Tensor{x}, p...)
	wantErr(t, "training_mode=1 not supported", nnNode("BatchNormalization", 15, 1, nnInt("training_mode", 1)), ins...)
	wantErr(t, "want [3]", nnNode("BatchNormalization", 15, 1), x, p[0], p[1], p[2], NewF32([]int{4}, nil))
	wantErr(t, "want [3]", nnNode("BatchNormalization", 15, 1), x, p[0], NewF32([]int{1, 3}, nil), p[2], p[3])
	wantErr(t, "want 5", nnNode("BatchNormalization", 15, 1), x, p[0], p[1], p[2])
	wantErr(t, "float32", nnNode("BatchNormalization", 15, 1), NewI64([]int{2, 3}, nil), p[0], p[1], p[2], p[3])
	wantErr(t, "spatial 2", nnNode("BatchNormalization", 7, 1, nnInt("spatial", 2)), ins...)
	wantErr(t, "has type", nnNode("BatchNormalization", 15, 1, nnInt("epsilon", 1)), ins...)
}
