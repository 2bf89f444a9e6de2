package ops

import (
	"math"
	"sync"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// elemChunkPar is a Parallel that splits [0, n) into uneven chunks run on
// their own goroutines, to exercise chunk boundaries.
type elemChunkPar struct{ parts int }

func (p elemChunkPar) Do(n int, t kern.Task) {
	var wg sync.WaitGroup
	lo := 0
	for i := 0; i < p.parts && lo < n; i++ {
		// Chunk sizes grow: 1, 2, 3, ... shares, the last takes the rest.
		hi := lo + max(1, n*(i+1)/(p.parts*(p.parts+1)/2))
		if i == p.parts-1 || hi > n {
			hi = n
		}
		wg.Add(1)
		go func(lo, hi, taker int) {
			defer wg.Done()
			kern.RunChunk(t, lo, hi, taker)
		}(lo, hi, i)
		lo = hi
	}
	wg.Wait()
}

func (p elemChunkPar) Workers() int { return p.parts }

// runElemWith prepares n on constant inputs and runs it with env.
func runElemWith(t *testing.T, env *kern.Env, n *Node, ins ...*Tensor) *Tensor {
	t.Helper()
	vals := make([]*Value, len(ins))
	for i, x := range ins {
		if x != nil {
			vals[i] = &Value{DType: x.DType, Shape: x.Shape, Const: x}
		}
	}
	k, err := Lookup(n.OpType)(n)
	if err != nil {
		t.Fatal(err)
	}
	outV, step, err := k.Prepare(vals)
	if err != nil {
		t.Fatal(err)
	}
	o := &Tensor{DType: outV[0].DType, Shape: outV[0].Shape}
	if o.DType == Int64 {
		o.I64 = make([]int64, NumElems(o.Shape))
	} else {
		o.F32 = make([]float32, NumElems(o.Shape))
	}
	if err := step.Run(env, ins, []*Tensor{o}); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestElemParallelMatchesSerial runs each op on inputs large enough to be
// split and compares the chunked result with the serial one bit for bit.
func TestElemParallelMatchesSerial(t *testing.T) {
	big := elSeq(3, 7, 40, 33)
	for i := range big.F32 {
		big.F32[i] = float32(math.Sin(float64(i)*0.37)) * 4
	}
	bigI := NewI64([]int{elemGrain + 77}, nil)
	for i := range bigI.I64 {
		bigI.I64[i] = int64(i%97) - 40
	}
	cases := []struct {
		n   *Node
		ins []*Tensor
	}{
		{elemNode("Relu", 13), []*Tensor{big}},
		{elemNode("Relu", 14), []*Tensor{bigI}},
		{elemNode("Sigmoid", 13), []*Tensor{big}},
		{elemNode("Tanh", 13), []*Tensor{big}},
		{elemNode("LeakyRelu", 16), []*Tensor{big}},
		{elemNode("Clip", 13), []*Tensor{big, elF32([]int{}, -1), elF32([]int{}, 1)}},
		{elemNode("Add", 14), []*Tensor{big, big}},
		{elemNode("Mul", 14), []*Tensor{big, elF32([]int{7, 1, 1}, 1, 2, 3, 4, 5, 6, 7)}},
		{elemNode("Sub", 14), []*Tensor{elF32([]int{}, 1), big}},
		{elemNode("Div", 14), []*Tensor{big, elSeq(40, 1)}},
		{elemNode("Add", 14), []*Tensor{elSeq(3, 1, 40, 1), elSeq(7, 1, 33)}},
		{elemNode("Div", 14), []*Tensor{bigI, elI64([]int{1}, 3)}},
		{elemNode("Concat", 13, elInt("axis", 2)), []*Tensor{big, elSeq(3, 7, 5, 33), big}},
		{elemNode("Gather", 13, elInt("axis", 2)), []*Tensor{big, elI64([]int{2, 3}, 0, -1, 5, 7, 7, 39)}},
		{elemNode("Gather", 13, elInt("axis", 3)), []*Tensor{big, elI64([]int{}, 4)}},
		{elemNode("Transpose", 13, elInts("perm", 0, 2, 3, 1)), []*Tensor{big}},
		{elemNode("Transpose", 13), []*Tensor{big}},
		{elemNode("Pad", 13, elStr("mode", "reflect")), []*Tensor{big, elI64([]int{8}, 0, 1, 2, 3, 0, 1, -2, 4), nil}},
		{elemNode("Pad", 13), []*Tensor{big, elI64([]int{8}, 0, 0, 1, 1, 0, 0, 1, 1), elF32([]int{}, 2)}},
		{elemNode("Softmax", 13, elInt("axis", 1)), []*Tensor{big}},
		{elemNode("Softmax", 11), []*Tensor{big}},
		{elemNode("ReduceMean", 13, elInts("axes", 2, 3)), []*Tensor{big}},
		{elemNode("ReduceMean", 13, elInts("axes", 0, 2)), []*Tensor{big}},
		{elemNode("Reshape", 13), []*Tensor{big, elI64([]int{2}, -1, 33)}},
		{elemNode("Exp", 13), []*Tensor{big}},
		{elemNode("Neg", 13), []*Tensor{bigI}},
		{elemNode("Selu", 6), []*Tensor{big}},
		{elemNode("PRelu", 16), []*Tensor{big, elF32([]int{7, 1, 1}, 1, 2, 3, 4, 5, 6, 7)}},
		{elemNode("Max", 13), []*Tensor{big, elSeq(40, 1), elSeq(33)}},
		{elemNode("Mean", 13), []*Tensor{elSeq(3, 1, 40, 1), big, elSeq(7, 1, 33)}},
		{elemNode("Min", 13), []*Tensor{bigI, elI64([]int{1}, 3)}},
		{elemNode("Less", 13), []*Tensor{big, elSeq(40, 1)}},
		{elemNode("Equal", 13), []*Tensor{bigI, elI64([]int{}, 7)}},
		{elemNode("Where", 16), []*Tensor{elI64([]int{7, 1, 1}, 1, 0, 0, 1, 1, 0, 1), big, elSeq(33)}},
		{elemNode("Pow", 15), []*Tensor{big, elF32([]int{}, 2)}},
		// steps that clear their chunks of the output first on two or
		// more workers (kern.ClaimLines): planes of 1320 values
		{elemNode("bnrun.Affine", 1, elStr("activation", "Relu")), []*Tensor{big, elF32([]int{7}, 0.5, -1, 2, 0, 1, -0.25, 3), elSeq(7)}},
		{elemNode("bnrun.Affine", 1), []*Tensor{big, elSeq(7), elF32([]int{7}, 1, -2, 0, 0.5, -1, 4, -3)}},
		{elemNode("MaxPool", 12, elInts("kernel_shape", 3, 3), elInts("strides", 2, 2), elInts("pads", 1, 1, 1, 1)), []*Tensor{big}},
		{elemNode("AveragePool", 11, elInts("kernel_shape", 2, 2), elInts("strides", 2, 2)), []*Tensor{big}},
		{elemNode("MaxPool", 12, elInts("kernel_shape", 2, 3)), []*Tensor{big}},
	}
	for i, c := range cases {
		want := runElemWith(t, &kern.Env{Par: kern.Serial{}}, c.n, c.ins...)
		for _, parts := range []int{2, 5, 16} {
			got := runElemWith(t, &kern.Env{Par: elemChunkPar{parts}}, c.n, c.ins...)
			elemCheckTensor(t, c.n.OpType+" parallel case "+string(rune('A'+i)), want, got, 0)
		}
	}
	// And the serial results match the slow references where we have them.
	elemCheckTensor(t, "Transpose ref", transposeRef(big, []int{0, 2, 3, 1}),
		runElemWith(t, &kern.Env{Par: elemChunkPar{3}}, elemNode("Transpose", 13, elInts("perm", 0, 2, 3, 1)), big), 0)
	a, b := elSeq(3, 1, 40, 1), elSeq(7, 1, 33)
	elemCheckTensor(t, "Add ref", arithRef("Add", a, b), runElemWith(t, &kern.Env{Par: elemChunkPar{3}}, elemNode("Add", 14), a, b), 0)
	elemCheckTensor(t, "Softmax ref", softmaxRef(big, 3, 7, 40*33),
		runElemWith(t, &kern.Env{Par: elemChunkPar{4}}, elemNode("Softmax", 13, elInt("axis", 1)), big), 1e-6)
}

// TestElemRunRejectsBadTensors hands each step tensors that do not match
// its plan (a runtime bug): Run must report an error, not panic.
func TestElemRunRejectsBadTensors(t *testing.T) {
	x := elSeq(2, 3)
	cases := []struct {
		n   *Node
		ins []*Tensor
	}{
		{elemNode("Relu", 13), []*Tensor{x}},
		{elemNode("Clip", 13), []*Tensor{x, elF32([]int{}, 0), nil}},
		{elemNode("Add", 14), []*Tensor{x, elF32([]int{3}, 1, 2, 3)}},
		{elemNode("Concat", 13, elInt("axis", 0)), []*Tensor{x, x}},
		{elemNode("Gather", 13), []*Tensor{x, elI64([]int{1}, 1)}},
		{elemNode("Transpose", 13), []*Tensor{x}},
		{elemNode("Pad", 13), []*Tensor{x, elI64([]int{4}, 1, 1, 1, 1)}},
		{elemNode("Softmax", 13), []*Tensor{x}},
		{elemNode("ReduceMean", 13, elInts("axes", 0)), []*Tensor{x}},
		{elemNode("Reshape", 13), []*Tensor{x, elI64([]int{1}, 6)}},
		{elemNode("Identity", 13), []*Tensor{x}},
		{elemNode("ConstantOfShape", 9), []*Tensor{elI64([]int{1}, 3)}},
		{elemNode("Shape", 13), []*Tensor{x}},
		{elemNode("Sqrt", 13), []*Tensor{x}},
		{elemNode("PRelu", 16), []*Tensor{x, elF32([]int{3}, 1, 2, 3)}},
		{elemNode("Max", 13), []*Tensor{x, elF32([]int{3}, 1, 2, 3)}},
		{elemNode("Sum", 13), []*Tensor{x}},
		{elemNode("Less", 13), []*Tensor{x, elF32([]int{3}, 1, 2, 3)}},
		{elemNode("Where", 16), []*Tensor{elI64([]int{3}, 1, 0, 1), x, x}},
		{elemNode("Pow", 15), []*Tensor{x, elF32([]int{3}, 1, 2, 3)}},
	}
	for _, c := range cases {
		vals := make([]*Value, len(c.ins))
		for i, v := range c.ins {
			if v != nil {
				vals[i] = &Value{DType: v.DType, Shape: v.Shape, Const: v}
			}
		}
		k, err := Lookup(c.n.OpType)(c.n)
		if err != nil {
			t.Fatal(err)
		}
		_, step, err := k.Prepare(vals)
		if err != nil {
			t.Fatalf("%s: %v", c.n.OpType, err)
		}
		env := &kern.Env{Par: kern.Serial{}}
		// An output far too small, of the wrong type, or missing.
		for _, out := range [][]*Tensor{
			{elF32([]int{1}, 0)},
			{elI64([]int{1}, 0)},
			{},
		} {
			if err := step.Run(env, c.ins, out); err == nil {
				t.Errorf("%s: Run accepted bad output %v", c.n.OpType, out)
			}
		}
	}
}
