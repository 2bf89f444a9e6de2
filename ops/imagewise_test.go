package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// imageCase is a node on a batch of images: its inputs (nil absent) with
// the constant ones listed in consts, every other input's axis 0 the
// batch, and whether the op must declare the node image-wise (see
// ImageWise). A case that must not be image-wise is checked to be
// refused, and, unless refused only to be safe (conservative), to compute
// something else image by image than on the batch.
type imageCase struct {
	name         string
	node         *Node
	in           []*Tensor
	consts       []int
	want         bool
	conservative bool
}

// randT returns a float32 tensor of the shape with values in [-2, 2).
func randT(r *rand.Rand, shape ...int) *Tensor {
	t := NewF32(shape, nil)
	for i := range t.F32 {
		t.F32[i] = float32(4*r.Float64() - 2)
	}
	return t
}

// imageCases are the cases of TestImageWiseDeclarations: every op that
// declares itself image-wise, and the forms of them that must not.
func imageCases() []imageCase {
	r := rand.New(rand.NewPCG(5, 17))
	x := func(shape ...int) *Tensor { return randT(r, shape...) }
	n := func(op string, nOut int, attrs ...*Attr) *Node { return nnNode(op, 13, nOut, attrs...) }
	pool := []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2), nnInts("pads", 1, 1, 1, 1)}
	fused := n("bnrun.FusedConv", 1, nnInts("pads", 1, 1, 1, 1), nnStr("activation", "Relu"))
	dw := nnNode("bnrun.DwBlock", 1, 1, nnInts("pads", 1, 1, 1, 1), nnInt("group", 4), nnStr("activation", "Relu"))
	cases := []imageCase{
		{name: "Conv", node: n("Conv", 1, nnInts("pads", 1, 0, 1, 2)), in: []*Tensor{x(3, 2, 5, 6), x(4, 2, 3, 3), x(4)}, consts: []int{1, 2}, want: true},
		{name: "FusedConv with residual", node: fused, in: []*Tensor{x(3, 2, 5, 5), x(3, 2, 3, 3), x(3), x(3, 3, 5, 5)}, consts: []int{1, 2}, want: true},
		{name: "DwBlock", node: dw, in: []*Tensor{x(3, 2, 5, 5), x(4, 2, 1, 1), x(4), x(4, 1, 3, 3), x(4), x(2, 4, 1, 1), x(2)}, consts: []int{1, 2, 3, 4, 5, 6}, want: true},
		{name: "Affine", node: n("bnrun.Affine", 1), in: []*Tensor{x(3, 2, 4), x(2), x(2)}, consts: []int{1, 2}, want: true},
		{name: "Relu", node: n("Relu", 1), in: []*Tensor{x(3, 5)}, want: true},
		{name: "Sigmoid", node: n("Sigmoid", 1), in: []*Tensor{x(3, 2, 2)}, want: true},
		{name: "Tanh", node: n("Tanh", 1), in: []*Tensor{x(3, 4)}, want: true},
		{name: "LeakyRelu", node: n("LeakyRelu", 1, nnFloat("alpha", 0.2)), in: []*Tensor{x(3, 4)}, want: true},
		{name: "Clip", node: n("Clip", 1), in: []*Tensor{x(3, 4), NewF32(nil, []float32{-1}), NewF32(nil, []float32{1})}, consts: []int{1, 2}, want: true},
		{name: "MaxPool", node: n("MaxPool", 1, pool...), in: []*Tensor{x(3, 2, 7, 6)}, want: true},
		{name: "MaxPool with Indices", node: n("MaxPool", 2, pool...), in: []*Tensor{x(3, 2, 7, 6)}},
		{name: "AveragePool", node: n("AveragePool", 1, pool...), in: []*Tensor{x(3, 2, 7, 6)}, want: true},
		{name: "GlobalAveragePool", node: n("GlobalAveragePool", 1), in: []*Tensor{x(3, 2, 4, 5)}, want: true},
		{name: "GlobalMaxPool", node: n("GlobalMaxPool", 1), in: []*Tensor{x(3, 2, 4, 5)}, want: true},
		{name: "Concat channels", node: n("Concat", 1, nnInt("axis", 1)), in: []*Tensor{x(3, 2, 4), x(3, 1, 4)}, want: true},
		{name: "Concat batch", node: n("Concat", 1, nnInt("axis", 0)), in: []*Tensor{x(3, 2, 4), x(3, 2, 4)}},
		{name: "Concat negative axis", node: n("Concat", 1, nnInt("axis", -1)), in: []*Tensor{x(3, 2), x(3, 4)}, conservative: true},
		{name: "Flatten", node: n("Flatten", 1), in: []*Tensor{x(3, 2, 4)}, want: true},
		{name: "Flatten axis 2", node: n("Flatten", 1, nnInt("axis", 2)), in: []*Tensor{x(3, 2, 4)}},
		{name: "Gemm", node: n("Gemm", 1, nnInt("transB", 1)), in: []*Tensor{x(3, 5), x(4, 5), x(4)}, consts: []int{1, 2}, want: true},
		{name: "Gemm transA", node: n("Gemm", 1, nnInt("transA", 1)), in: []*Tensor{x(3, 3), x(3, 4)}, consts: []int{1}},
		{name: "Gemm computed B", node: n("Gemm", 1), in: []*Tensor{x(3, 3), x(3, 4)}},
		{name: "Gemm computed C", node: n("Gemm", 1), in: []*Tensor{x(3, 5), x(5, 4), x(3, 4)}, consts: []int{1}, conservative: true},
		{name: "FusedGemm", node: n("bnrun.FusedGemm", 1, nnStr("activation", "Relu")), in: []*Tensor{x(3, 5), x(5, 4)}, consts: []int{1}, want: true},
		{name: "Add", node: n("Add", 1), in: []*Tensor{x(3, 2, 4), x(3, 2, 4)}, want: true},
		{name: "Add broadcast in the batch", node: n("Add", 1), in: []*Tensor{x(3, 2, 4), x(1, 2, 1)}, want: true},
		{name: "Add a constant of the batch", node: n("Add", 1), in: []*Tensor{x(3, 4), x(3, 4)}, consts: []int{1}},
		{name: "Add a constant", node: n("Add", 1), in: []*Tensor{x(3, 4), x(4)}, consts: []int{1}, conservative: true},
		{name: "Mul", node: n("Mul", 1), in: []*Tensor{x(3, 5), x(3, 5)}, want: true},
		{name: "Identity", node: n("Identity", 1), in: []*Tensor{x(3, 4)}, want: true},
		{name: "HardSigmoid", node: n("HardSigmoid", 1), in: []*Tensor{x(3, 4)}, want: true},
		{name: "HardSwish", node: nnNode("HardSwish", 14, 1), in: []*Tensor{x(3, 2, 3)}, want: true},
		{name: "ReduceMean planes", node: n("ReduceMean", 1, nnInts("axes", 2, 3), nnInt("keepdims", 0)), in: []*Tensor{x(3, 2, 4, 5)}, want: true},
		{name: "ReduceMax channels kept", node: n("ReduceMax", 1, nnInts("axes", 1)), in: []*Tensor{x(3, 2, 4)}, want: true},
		{name: "ReduceMean batch", node: n("ReduceMean", 1, nnInts("axes", 0, 2)), in: []*Tensor{x(3, 2, 4)}},
		{name: "ReduceMean every axis", node: n("ReduceMean", 1), in: []*Tensor{x(3, 2, 4)}},
		{name: "ReduceMean negative axis", node: n("ReduceMean", 1, nnInts("axes", -1)), in: []*Tensor{x(3, 4)}, conservative: true},
		{name: "ReduceSum axes input", node: n("ReduceSum", 1), in: []*Tensor{x(3, 4), NewI64([]int{1}, []int64{1})}, consts: []int{1}, conservative: true},
		{name: "Dropout with mask", node: nnNode("Dropout", 10, 2), in: []*Tensor{x(3, 4)}, want: true},
		{name: "Transpose keeping the batch", node: n("Transpose", 1, nnInts("perm", 0, 2, 1)), in: []*Tensor{x(3, 2, 4)}, want: true},
		{name: "Transpose of the batch", node: n("Transpose", 1, nnInts("perm", 1, 0)), in: []*Tensor{x(3, 4)}},
		{name: "Transpose reversed", node: n("Transpose", 1), in: []*Tensor{x(3, 2)}},
	}
	// every other reduction over the planes, its axes an attribute
	for _, op := range reduceOps {
		if op.name != "ReduceMean" && op.name != "ReduceMax" {
			cases = append(cases, imageCase{name: op.name + " planes", node: nnNode(op.name, 11, 1, nnInts("axes", 2)),
				in: []*Tensor{x(3, 2, 4)}, want: true})
		}
	}
	return cases
}

// TestImageWiseDeclarations checks each op's ImageWise declaration: a
// node declared image-wise must compute, image by image, what it computes
// on the batch (on the reference tier, to 1e-6), and one that must not be
// must be refused and, where the refusal is not only caution, compute
// something else image by image. Every registered op that declares
// ImageWise must have a case here.
func TestImageWiseDeclarations(t *testing.T) {
	cases := imageCases()
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want {
				covered[tc.node.OpType] = true
			}
			n := tc.node
			n.Inputs = make([]string, len(tc.in))
			konst := make([]bool, len(tc.in))
			for i, x := range tc.in {
				if x != nil {
					n.Inputs[i] = fmt.Sprintf("x%d", i)
					konst[i] = slices.Contains(tc.consts, i)
				}
			}
			k, err := Lookup(n.OpType)(n)
			if err != nil {
				t.Fatal(err)
			}
			iw, ok := k.(ImageWise)
			if got := ok && iw.ImageWise(konst); got != tc.want {
				t.Fatalf("ImageWise = %v, want %v", got, tc.want)
			}
			split := splitMatches(t, tc)
			switch {
			case tc.want && !split:
				t.Errorf("declared image-wise, but image by image it computes something else than on the batch")
			case !tc.want && !tc.conservative && split:
				t.Errorf("the case computes the same image by image: it does not show why the op refuses it")
			}
		})
	}
	for _, op := range Supported() {
		for _, opset := range []int{13, 21} {
			n := nnNode(op, opset, 1)
			k, err := Lookup(op)(n)
			if err != nil {
				continue
			}
			if _, ok := k.(ImageWise); ok && !covered[op] {
				t.Errorf("%s declares ImageWise but no case here checks it", op)
				break
			}
		}
	}
}

// splitMatches runs tc's node on the batch and on each image alone (the
// non-constant inputs' slice along axis 0, the constants whole) on the
// reference tier, and reports whether the images' outputs, stacked, are
// the batch's.
func splitMatches(t *testing.T, tc imageCase) bool {
	t.Helper()
	env := &kern.Env{K: kern.Reference, Par: kern.Serial{}}
	whole, err := runOpEnvConsts(env, tc.node, tc.consts, tc.in...)
	if err != nil {
		t.Fatalf("on the batch: %v", err)
	}
	batch := tc.in[0].Shape[0]
	for img := range batch {
		ins := make([]*Tensor, len(tc.in))
		for i, x := range tc.in {
			if x == nil || slices.Contains(tc.consts, i) {
				ins[i] = x
				continue
			}
			if len(x.Shape) == 0 || x.Shape[0] == 1 {
				ins[i] = x // broadcast along the batch
				continue
			}
			per := x.Len() / x.Shape[0]
			ins[i] = NewF32(append([]int{1}, x.Shape[1:]...), x.F32[img*per:(img+1)*per])
		}
		outs, err := runOpEnvConsts(env, tc.node, tc.consts, ins...)
		if err != nil {
			return false
		}
		for o, y := range outs {
			w := whole[o]
			if y == nil || w == nil {
				continue
			}
			if len(w.Shape) == 0 || len(y.Shape) != len(w.Shape) || w.Shape[0] != batch || y.Shape[0] != 1 ||
				!SameShape(y.Shape[1:], w.Shape[1:]) {
				return false
			}
			per := y.Len()
			for j := range per {
				var got, want float64
				if w.DType == Int64 {
					got, want = float64(y.I64[j]), float64(w.I64[img*per+j])
				} else {
					got, want = float64(y.F32[j]), float64(w.F32[img*per+j])
				}
				if math.Abs(got-want) > 1e-6*(1+math.Abs(want)) {
					return false
				}
			}
		}
	}
	return true
}

// TestPlanImageWise checks the ops declared image-wise at a plan's shapes
// and constants (PlanImageWise): each case is a node on a batch of 3 with
// its constant inputs as the batch plan and the one-image plan hold them;
// a node declared image-wise must compute, image by image with the
// one-image constants, what it computes on the batch; one that must not
// be must be refused, and compute something else.
func TestPlanImageWise(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 3))
	x := randT(r, 3, 2, 4)
	i64 := func(v ...int64) *Tensor { return NewI64([]int{len(v)}, v) }
	slice := func(in ...*Tensor) []*Tensor { return append([]*Tensor{x}, in...) }
	for _, tc := range []struct {
		name      string
		op        string
		in, one   []*Tensor // inputs at the batch's plan and at one image's (the data input x and one image of it)
		want      bool
		sameSplit bool // refused only to be safe: image by image gives the batch's values
	}{
		{"Reshape keeping the batch", "Reshape", []*Tensor{x, i64(3, 8)}, []*Tensor{nil, i64(1, 8)}, true, true},
		{"Reshape keeping the batch, 0 copying it", "Reshape", []*Tensor{x, i64(0, 4, 2)}, []*Tensor{nil, i64(0, 4, 2)}, true, true},
		// the same memory, but axis 0 no longer the images
		{"Reshape of the batch into another axis", "Reshape", []*Tensor{x, i64(6, 4)}, []*Tensor{nil, i64(2, 4)}, false, true},
		{"Slice of the channels", "Slice", slice(i64(1), i64(2), i64(1)), []*Tensor{nil, i64(1), i64(2), i64(1)}, true, true},
		{"Slice of the planes, the batch whole", "Slice", slice(i64(0, 1), i64(1<<40, 3), i64(0, 2)), []*Tensor{nil, i64(0, 1), i64(1<<40, 3), i64(0, 2)}, true, true},
		{"Slice of the batch", "Slice", slice(i64(1), i64(3)), []*Tensor{nil, i64(0), i64(1)}, false, false},
		{"Slice reversing the batch", "Slice", slice(i64(-1), i64(-1<<40), i64(0), i64(-1)), []*Tensor{nil, i64(-1), i64(-1 << 40), i64(0), i64(-1)}, false, false},
		{"Slice of other channels at one image", "Slice", slice(i64(0), i64(1), i64(1)), []*Tensor{nil, i64(1), i64(2), i64(1)}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := nnNode(tc.op, 13, 1)
			n.Inputs = make([]string, len(tc.in))
			consts := []int{}
			for i := range tc.in {
				n.Inputs[i] = fmt.Sprintf("x%d", i)
				if i > 0 {
					consts = append(consts, i)
				}
			}
			k, err := Lookup(tc.op)(n)
			if err != nil {
				t.Fatal(err)
			}
			img := NewF32(append([]int{1}, x.Shape[1:]...), x.F32[:x.Len()/3])
			one := append([]*Tensor{img}, tc.one[1:]...)
			values := func(ins []*Tensor) ([]*Value, []int) {
				vals, _, err := prepareOpConsts(n, consts, ins...)
				if err != nil {
					t.Fatal(err)
				}
				in := make([]*Value, len(ins))
				for i, v := range ins {
					in[i] = &Value{DType: v.DType, Shape: v.Shape}
					if i > 0 {
						in[i].Const = v
					}
				}
				return in, vals[0].Shape
			}
			in, out := values(tc.in)
			in1, out1 := values(one)
			pw, ok := k.(PlanImageWise)
			if got := ok && pw.ImageWiseAt(in, out, in1, out1); got != tc.want {
				t.Fatalf("ImageWiseAt = %v, want %v", got, tc.want)
			}
			env := &kern.Env{K: kern.Reference, Par: kern.Serial{}}
			whole, err := runOpEnvConsts(env, n, consts, tc.in...)
			if err != nil {
				t.Fatal(err)
			}
			split := true
			var stacked []float32
			for i := range 3 {
				per := x.Len() / 3
				ins := append([]*Tensor{NewF32(img.Shape, x.F32[i*per:(i+1)*per])}, tc.one[1:]...)
				y, err := runOpEnvConsts(env, n, consts, ins...)
				if err != nil {
					split = false
					break
				}
				stacked = append(stacked, y[0].F32...)
			}
			split = split && slices.Equal(stacked, whole[0].F32)
			if split != (tc.want || tc.sameSplit) {
				t.Errorf("image by image the batch's values: %v, want %v", split, tc.want || tc.sameSplit)
			}
		})
	}
}
