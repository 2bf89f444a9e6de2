package lower

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/cuda"
	"github.com/bnrun/bnrun/ops"
)

// The tests of this file run steps on a device: each builds an ONNX node
// with package ops, prepares it for awkward input shapes, runs its CPU
// step (ops' own computation on kern's reference tier: the oracle) and
// its lowered launches, and compares the outputs. They run on the first
// GPU, or with $BNRUN_TEST_FAKECUDA=1 on kern/cuda/testdata/fakecuda, the
// CPU stand-in for libcuda (built here with g++), and skip, saying why,
// where neither is usable.

// fakeCUDAEnv, set to 1, makes TestLowerRuns run on the CPU stand-in.
const fakeCUDAEnv = "BNRUN_TEST_FAKECUDA"

// openDevice opens the device the launches run on.
func openDevice(t *testing.T) *cuda.Context {
	t.Helper()
	if os.Getenv(fakeCUDAEnv) == "1" {
		gxx, err := exec.LookPath("g++")
		if err != nil {
			t.Fatalf("%s=1 but no g++ to build the stand-in: %v", fakeCUDAEnv, err)
		}
		lib := filepath.Join(t.TempDir(), "libfakecuda.so")
		cmd := exec.Command(gxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-pthread", "-o", lib, "../testdata/fakecuda/fakecuda.cpp")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the stand-in: %v\n%s", err, out)
		}
		// The driver is loaded once per process, on first use: nothing in
		// this package uses it before.
		t.Setenv(cuda.LibcudaEnv, lib)
	} else if err := cuda.Available(); err != nil {
		t.Skipf("no CUDA device (set %s=1 to run on the CPU stand-in): %v", fakeCUDAEnv, err)
	}
	c, err := cuda.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// runCase is one node on one set of inputs: those with Const set are
// constants known at plan time (scales, starts, ...), nil ones absent,
// the others filled with pseudo-random data.
type runCase struct {
	name string
	node *ops.Node
	in   []*ops.Value
	// exact asks for bit-identical outputs (copies and gathers);
	// otherwise |gpu - cpu| <= 1e-5 + 1e-5·|cpu|.
	exact bool
	// lo and hi bound the pseudo-random data, [-2, 2) when both are 0
	// (positive values for a logarithm, values near 1 for a long product).
	lo, hi float64
}

// f32In is a float32 input of shape s filled at run time.
func f32In(s ...int) *ops.Value { return &ops.Value{DType: ops.Float32, Shape: s} }

// f32C is a float32 constant.
func f32C(v ...float32) *ops.Value {
	return &ops.Value{DType: ops.Float32, Shape: []int{len(v)}, Const: ops.NewF32([]int{len(v)}, v)}
}

// f32S is a float32 constant of shape s.
func f32S(s []int, v ...float32) *ops.Value {
	return &ops.Value{DType: ops.Float32, Shape: s, Const: ops.NewF32(s, v)}
}

// i64C is an int64 constant.
func i64C(v ...int64) *ops.Value {
	return &ops.Value{DType: ops.Int64, Shape: []int{len(v)}, Const: ops.NewI64([]int{len(v)}, v)}
}

// node makes a node of the default domain with the given attributes
// (string, int64, float32, []int64 or []float32 values) and nOut outputs.
func node(op string, opset, nOut int, attrs map[string]any) *ops.Node {
	n := &ops.Node{Name: op + "_node", OpType: op, Opset: opset, Attrs: map[string]*ops.Attr{}}
	for k, v := range attrs {
		a := &ops.Attr{Name: k}
		switch v := v.(type) {
		case string:
			a.Type, a.S = ops.AttrString, v
		case int64:
			a.Type, a.I = ops.AttrInt, v
		case float32:
			a.Type, a.F = ops.AttrFloat, v
		case []int64:
			a.Type, a.Ints = ops.AttrInts, v
		case []float32:
			a.Type, a.Floats = ops.AttrFloats, v
		default:
			panic(fmt.Sprintf("attribute %s of type %T", k, v))
		}
		n.Attrs[k] = a
	}
	for i := range nOut {
		n.Outputs = append(n.Outputs, fmt.Sprintf("y%d", i))
	}
	return n
}

// TestLowerRuns runs the lowered steps of Resize (every mode, coordinate
// transformation and rounding; the last two axes in one pass, other axes
// pass by pass through scratch), Upsample, Slice, Transpose, Split,
// ConvTranspose, ReduceMean and ReduceMax over trailing axes (as global
// pools), Cast, Gelu, Softmax and LogSoftmax, Pow, ReduceSum, ReduceMean,
// ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
// ReduceLogSum and ReduceLogSumExp over any axes (a thread or a block per
// output; axes as attributes and as inputs, keepdims 0 and 1, none with
// noop_with_empty_axes; LogSumExp over infinities and NaNs),
// 3-D Conv, FusedConv, ConvTranspose (strides, pads, output_padding,
// output_shape, auto_pad, dilations, groups), MaxPool, AveragePool,
// AffineAveragePool and BatchNormalization, and
// kernelCases (global pools, binary operators, Pad) against their CPU
// steps.
func TestLowerRuns(t *testing.T) {
	c := openDevice(t)
	k, err := c.Kernels()
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type m = map[string]any
	resize := func(opset int, attrs m) *ops.Node { return node("Resize", opset, 1, attrs) }
	lin := func(coord string) m {
		return m{"mode": "linear", "coordinate_transformation_mode": coord}
	}
	near := func(coord, round string) m {
		return m{"mode": "nearest", "coordinate_transformation_mode": coord, "nearest_mode": round}
	}
	cases := []runCase{
		// torchvision's segmentation heads: F.interpolate(bilinear, align_corners=False) to the input's size
		{name: "Resize linear pytorch_half_pixel sizes up", node: resize(13, lin("pytorch_half_pixel")),
			in: []*ops.Value{f32In(2, 3, 5, 7), nil, nil, i64C(2, 3, 17, 23)}},
		{name: "Resize linear pytorch_half_pixel scales down", node: resize(13, lin("pytorch_half_pixel")),
			in: []*ops.Value{f32In(1, 4, 9, 10), nil, f32C(1, 1, 0.5, 0.35)}},
		{name: "Resize linear pytorch_half_pixel to one pixel", node: resize(13, lin("pytorch_half_pixel")),
			in: []*ops.Value{f32In(1, 2, 6, 5), nil, nil, i64C(1, 2, 1, 3)}},
		{name: "Resize linear align_corners", node: resize(11, lin("align_corners")),
			in: []*ops.Value{f32In(2, 3, 5, 4), f32C(), f32C(), i64C(2, 3, 9, 3)}},
		{name: "Resize linear half_pixel scales 2", node: resize(13, lin("half_pixel")),
			in: []*ops.Value{f32In(1, 5, 4, 6), nil, f32C(1, 1, 2, 2)}},
		{name: "Resize linear asymmetric", node: resize(13, lin("asymmetric")),
			in: []*ops.Value{f32In(1, 3, 7, 3), nil, f32C(1, 1, 1.7, 3)}},
		{name: "Resize nearest asymmetric floor (torch's nearest)", node: resize(13, near("asymmetric", "floor")),
			in: []*ops.Value{f32In(2, 3, 4, 5), nil, f32C(1, 1, 2, 3)}, exact: true},
		{name: "Resize nearest half_pixel round_prefer_floor", node: resize(13, near("half_pixel", "round_prefer_floor")),
			in: []*ops.Value{f32In(1, 2, 5, 6), nil, f32C(1, 1, 2.5, 0.5)}, exact: true},
		{name: "Resize nearest tf_half_pixel_for_nearest round_prefer_ceil", node: resize(11, near("tf_half_pixel_for_nearest", "round_prefer_ceil")),
			in: []*ops.Value{f32In(1, 3, 6, 4), f32C(), f32C(1, 1, 0.7, 1.8)}, exact: true},
		{name: "Resize nearest align_corners ceil", node: resize(13, near("align_corners", "ceil")),
			in: []*ops.Value{f32In(1, 2, 7, 9), nil, nil, i64C(1, 2, 4, 13)}, exact: true},
		{name: "Resize opset 10 nearest", node: resize(10, m{}),
			in: []*ops.Value{f32In(2, 2, 5, 6), f32C(1, 1, 2, 0.5)}, exact: true},
		{name: "Upsample opset 9 linear", node: node("Upsample", 9, 1, m{"mode": "linear"}),
			in: []*ops.Value{f32In(1, 3, 4, 5), f32C(1, 1, 2, 3)}},
		{name: "Resize cubic half_pixel", node: resize(13, m{"mode": "cubic", "coordinate_transformation_mode": "half_pixel"}),
			in: []*ops.Value{f32In(1, 2, 6, 7), nil, f32C(1, 1, 1.5, 0.6)}},
		{name: "Resize cubic exclude_outside", node: resize(13, m{"mode": "cubic", "exclude_outside": int64(1), "cubic_coeff_a": float32(-0.5)}),
			in: []*ops.Value{f32In(1, 2, 5, 5), nil, nil, i64C(1, 2, 8, 3)}},
		{name: "Resize tf_crop_and_resize extrapolation", node: resize(13, m{"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": float32(-7)}),
			in: []*ops.Value{f32In(1, 2, 6, 5), f32C(0, 0, -0.2, 0.3, 1, 1, 0.8, 1.4), nil, i64C(1, 2, 7, 6)}},
		{name: "Resize width only", node: resize(13, lin("pytorch_half_pixel")),
			in: []*ops.Value{f32In(2, 3, 5, 4), nil, nil, i64C(2, 3, 5, 11)}},
		{name: "Resize height only, rank 3", node: resize(13, lin("half_pixel")),
			in: []*ops.Value{f32In(3, 7, 6), nil, f32C(1, 1.5, 1)}},
		{name: "Resize rank 1", node: resize(13, lin("align_corners")),
			in: []*ops.Value{f32In(9), nil, nil, i64C(20)}},
		{name: "Resize channels and width (pass by pass)", node: resize(13, lin("half_pixel")),
			in: []*ops.Value{f32In(2, 3, 4, 5), nil, f32C(1, 2, 1, 1.6)}},
		{name: "Resize volume (pass by pass)", node: resize(13, near("asymmetric", "floor")),
			in: []*ops.Value{f32In(1, 2, 3, 4, 5), nil, f32C(1, 1, 2, 1.5, 0.6)}, exact: true},
		{name: "Resize antialias linear down", node: resize(18, m{"mode": "linear", "antialias": int64(1)}),
			in: []*ops.Value{f32In(1, 2, 11, 13), nil, f32C(1, 1, 0.4, 0.3)}},
		{name: "Resize opset 18 axes", node: resize(18, m{"mode": "linear", "axes": []int64{3, 2}}),
			in: []*ops.Value{f32In(1, 3, 4, 6), nil, nil, i64C(9, 7)}},
		{name: "Resize to the same size", node: resize(13, lin("half_pixel")),
			in: []*ops.Value{f32In(1, 2, 3, 4), nil, f32C(1, 1, 1, 1)}, exact: true},

		{name: "Slice steps, negative axes and ends", node: node("Slice", 13, 1, nil),
			in: []*ops.Value{f32In(2, 5, 7, 6), i64C(1, -1), i64C(5, -8), i64C(1, -1), i64C(2, -2)}, exact: true},
		{name: "Slice channel half (ShuffleNet)", node: node("Slice", 13, 1, nil),
			in: []*ops.Value{f32In(1, 8, 3, 3), i64C(4), i64C(8), i64C(1)}, exact: true},
		{name: "Slice clamped ends, rank 3", node: node("Slice", 11, 1, nil),
			in: []*ops.Value{f32In(4, 5, 6), i64C(-100, 2), i64C(100, 1000), i64C(0, 2), i64C(3, 1)}, exact: true},
		{name: "Slice opset 1 attributes", node: node("Slice", 1, 1, m{"starts": []int64{1, 0}, "ends": []int64{3, -1}, "axes": []int64{0, 1}}),
			in: []*ops.Value{f32In(4, 5)}, exact: true},
		{name: "Transpose channel shuffle", node: node("Transpose", 13, 1, m{"perm": []int64{0, 2, 1, 3, 4}}),
			in: []*ops.Value{f32In(2, 2, 3, 4, 5)}, exact: true},
		{name: "Transpose NCHW to NHWC", node: node("Transpose", 13, 1, m{"perm": []int64{0, 2, 3, 1}}),
			in: []*ops.Value{f32In(2, 5, 3, 7)}, exact: true},
		{name: "Transpose reversed (no perm)", node: node("Transpose", 1, 1, nil),
			in: []*ops.Value{f32In(3, 4, 5)}, exact: true},
		{name: "Split sizes along channels", node: node("Split", 13, 3, m{"axis": int64(1)}),
			in: []*ops.Value{f32In(2, 6, 3, 4), i64C(2, 3, 1)}, exact: true},
		{name: "Split equal along the last axis", node: node("Split", 11, 2, m{"axis": int64(-1)}),
			in: []*ops.Value{f32In(3, 4, 10)}, exact: true},
		{name: "Split num_outputs uneven", node: node("Split", 18, 3, m{"axis": int64(0), "num_outputs": int64(3)}),
			in: []*ops.Value{f32In(7, 5)}, exact: true},
		{name: "ConvTranspose stride 2 output_padding groups 2", node: node("ConvTranspose", 11, 1, m{"strides": []int64{2, 2},
			"pads": []int64{1, 0, 1, 1}, "output_padding": []int64{1, 0}, "group": int64(2)}),
			in: []*ops.Value{f32In(2, 4, 5, 6), f32In(4, 3, 3, 3), f32In(6)}},
		{name: "ConvTranspose auto_pad SAME_UPPER dilation", node: node("ConvTranspose", 11, 1, m{"strides": []int64{2, 3},
			"dilations": []int64{2, 1}, "auto_pad": "SAME_UPPER"}),
			in: []*ops.Value{f32In(1, 3, 4, 5), f32In(3, 5, 3, 2)}},
		{name: "ConvTranspose output_shape", node: node("ConvTranspose", 11, 1, m{"strides": []int64{3, 2},
			"output_shape": []int64{11, 10}}),
			in: []*ops.Value{f32In(1, 2, 3, 4), f32In(2, 4, 3, 3), f32In(4)}},
		{name: "ConvTranspose 1-D", node: node("ConvTranspose", 11, 1, m{"strides": []int64{3}, "pads": []int64{2, 1}}),
			in: []*ops.Value{f32In(2, 3, 7), f32In(3, 2, 5), f32In(2)}},
		{name: "ReduceMean over planes (ShuffleNet's pool)", node: node("ReduceMean", 13, 1, m{"axes": []int64{2, 3}, "keepdims": int64(0)}),
			in: []*ops.Value{f32In(2, 5, 3, 7)}},
		{name: "ReduceMax over the last axis, opset 18", node: node("ReduceMax", 18, 1, nil),
			in: []*ops.Value{f32In(3, 4, 300), i64C(-1)}, exact: true},
		{name: "Cast to FLOAT", node: node("Cast", 13, 1, m{"to": int64(1)}), in: []*ops.Value{f32In(2, 3, 5)}, exact: true},

		// issue 15's ops: Gelu, LogSoftmax, Pow, reductions over any axes
		{name: "Gelu", node: node("Gelu", 20, 1, nil), in: []*ops.Value{f32In(2, 3, 37)}},
		{name: "Gelu tanh", node: node("Gelu", 20, 1, m{"approximate": "tanh"}), in: []*ops.Value{f32In(3, 41)}},
		{name: "LogSoftmax last axis", node: node("LogSoftmax", 13, 1, nil), in: []*ops.Value{f32In(3, 5, 300)}},
		{name: "LogSoftmax middle axis", node: node("LogSoftmax", 13, 1, m{"axis": int64(1)}), in: []*ops.Value{f32In(2, 7, 3, 5)}},
		{name: "LogSoftmax opset 11 (rows of the flattened rest)", node: node("LogSoftmax", 11, 1, nil), in: []*ops.Value{f32In(3, 4, 5)}},
		{name: "Softmax middle axis", node: node("Softmax", 13, 1, m{"axis": int64(-2)}), in: []*ops.Value{f32In(2, 9, 4)}},
		{name: "Pow by a constant exponent", node: node("Pow", 15, 1, nil), in: []*ops.Value{f32In(2, 3, 4, 5), f32C(2)}},
		{name: "Pow broadcast both ways", node: node("Pow", 13, 1, nil), in: []*ops.Value{f32In(3, 1, 5), f32In(4, 1)}},
		{name: "ReduceSum middle axis keepdims", node: node("ReduceSum", 13, 1, nil),
			in: []*ops.Value{f32In(2, 7, 5, 3), i64C(1)}},
		{name: "ReduceSum axes 0 and 2, many values (a block each)", node: node("ReduceSum", 13, 1, m{"keepdims": int64(0)}),
			in: []*ops.Value{f32In(3, 5, 61), i64C(0, 2)}},
		{name: "ReduceMean batch axis", node: node("ReduceMean", 13, 1, m{"axes": []int64{0}, "keepdims": int64(0)}),
			in: []*ops.Value{f32In(5, 3, 4)}},
		{name: "ReduceMean channels of a batch (opset 18)", node: node("ReduceMean", 18, 1, nil),
			in: []*ops.Value{f32In(2, 300, 3, 2), i64C(1)}},
		{name: "ReduceMax axes 1 and 3, opset 18", node: node("ReduceMax", 18, 1, m{"keepdims": int64(0)}),
			in: []*ops.Value{f32In(2, 3, 4, 5), i64C(1, -1)}, exact: true},
		{name: "ReduceMin every axis", node: node("ReduceMin", 13, 1, nil), in: []*ops.Value{f32In(3, 4, 5)}, exact: true},
		{name: "ReduceMin one axis, many values", node: node("ReduceMin", 13, 1, m{"axes": []int64{0}}), in: []*ops.Value{f32In(400, 3)}, exact: true},
		{name: "ReduceMax size-1 axes around", node: node("ReduceMax", 13, 1, m{"axes": []int64{0, 2}}), in: []*ops.Value{f32In(1, 6, 1, 4)}, exact: true},
		{name: "ReduceProd middle axis, opset 13 attribute", node: node("ReduceProd", 13, 1, m{"axes": []int64{1}}),
			in: []*ops.Value{f32In(2, 7, 5, 3)}},
		{name: "ReduceProd many values near 1 (a block each), opset 18", node: node("ReduceProd", 18, 1, m{"keepdims": int64(0)}),
			in: []*ops.Value{f32In(3, 300, 2), i64C(1)}, lo: 0.9, hi: 1.1},
		{name: "ReduceProd noop_with_empty_axes", node: node("ReduceProd", 18, 1, m{"noop_with_empty_axes": int64(1)}),
			in: []*ops.Value{f32In(2, 3), i64C()}, exact: true},
		{name: "ReduceL1 every axis (a block)", node: node("ReduceL1", 13, 1, nil), in: []*ops.Value{f32In(4, 5, 9)}},
		{name: "ReduceL1 last two axes, opset 18", node: node("ReduceL1", 18, 1, m{"keepdims": int64(0)}),
			in: []*ops.Value{f32In(2, 3, 4, 5), i64C(-1, -2)}},
		{name: "ReduceL2 axes 0 and 2 (a block each), opset 18", node: node("ReduceL2", 18, 1, m{"keepdims": int64(0)}),
			in: []*ops.Value{f32In(3, 5, 61), i64C(0, 2)}},
		{name: "ReduceL2 negative axis, opset 11", node: node("ReduceL2", 11, 1, m{"axes": []int64{-1}}),
			in: []*ops.Value{f32In(2, 3, 4)}},
		{name: "ReduceL2 noop_with_empty_axes (|x|)", node: node("ReduceL2", 18, 1, m{"noop_with_empty_axes": int64(1)}),
			in: []*ops.Value{f32In(3, 4), nil}},
		{name: "ReduceSumSquare batch axis", node: node("ReduceSumSquare", 13, 1, m{"axes": []int64{0}}),
			in: []*ops.Value{f32In(5, 3, 4)}},
		{name: "ReduceSumSquare channels, many values, opset 18", node: node("ReduceSumSquare", 18, 1, nil),
			in: []*ops.Value{f32In(2, 200, 3), i64C(1)}},
		{name: "ReduceSumSquare noop_with_empty_axes (x²)", node: node("ReduceSumSquare", 18, 1, m{"noop_with_empty_axes": int64(1)}),
			in: []*ops.Value{f32In(2, 5), i64C()}},
		{name: "ReduceLogSum axes 1 and -1, opset 18", node: node("ReduceLogSum", 18, 1, m{"keepdims": int64(0)}),
			in: []*ops.Value{f32In(2, 3, 4, 5), i64C(1, -1)}, lo: 0.1, hi: 2},
		{name: "ReduceLogSum every axis (a block), opset 1", node: node("ReduceLogSum", 1, 1, nil),
			in: []*ops.Value{f32In(3, 7, 11)}, lo: 0.1, hi: 2},
		{name: "ReduceLogSum of signed values (NaN where the sum is negative)", node: node("ReduceLogSum", 13, 1, m{"axes": []int64{1}}),
			in: []*ops.Value{f32In(4, 3, 5)}},
		{name: "ReduceLogSumExp middle axis", node: node("ReduceLogSumExp", 13, 1, m{"axes": []int64{1}}),
			in: []*ops.Value{f32In(2, 7, 5, 3)}, lo: -30, hi: 30},
		{name: "ReduceLogSumExp last axis (a block each), opset 18", node: node("ReduceLogSumExp", 18, 1, m{"keepdims": int64(0)}),
			in: []*ops.Value{f32In(3, 4, 300), i64C(-1)}, lo: -50, hi: 50},
		{name: "ReduceLogSumExp over infinities and NaN", node: node("ReduceLogSumExp", 13, 1, m{"axes": []int64{1}, "keepdims": int64(0)}),
			in: []*ops.Value{f32S([]int{4, 3}, ninf, ninf, ninf, 1, pinf, 2, 3, nan, -1, -3, ninf, 2)}},
		{name: "ReduceLogSumExp over infinities and NaN (a block)", node: node("ReduceLogSumExp", 13, 1, m{"axes": []int64{0}, "keepdims": int64(0)}),
			in: []*ops.Value{infRows(130)}},

		// 3-D (5-D tensors): Conv, FusedConv, ConvTranspose, MaxPool, AveragePool, BatchNormalization
		{name: "Conv 3-D pads strides bias", node: node("Conv", 13, 1, m{"pads": []int64{1, 0, 2, 1, 1, 0}, "strides": []int64{2, 1, 2}}),
			in: []*ops.Value{f32In(2, 3, 5, 6, 7), f32In(4, 3, 3, 2, 3), f32In(4)}},
		{name: "Conv 3-D grouped dilated", node: node("Conv", 13, 1, m{"group": int64(2), "dilations": []int64{2, 1, 2},
			"pads": []int64{1, 1, 1, 1, 1, 1}}),
			in: []*ops.Value{f32In(1, 4, 6, 5, 7), f32In(6, 2, 2, 3, 3)}},
		{name: "Conv 3-D depthwise", node: node("Conv", 13, 1, m{"group": int64(3), "pads": []int64{1, 1, 1, 1, 1, 1}, "strides": []int64{1, 2, 2}}),
			in: []*ops.Value{f32In(2, 3, 4, 7, 6), f32In(3, 1, 3, 3, 3), f32In(3)}},
		{name: "FusedConv 3-D residual relu", node: fusedConv3D(),
			in: []*ops.Value{f32In(1, 3, 3, 4, 5), f32In(5, 3, 3, 3, 3), f32In(5), f32In(1, 5, 3, 4, 5)}},
		// a squeeze-and-excitation gate handed to the 1×1 Conv after it (fold's GateConv)
		{name: "FusedConv gate residual", node: fusedConvGate(),
			in: []*ops.Value{f32In(2, 6, 5, 7), f32In(4, 6, 1, 1), f32In(4), f32In(2, 4, 5, 7), nil, nil, f32In(2, 6, 1, 1)}},
		{name: "MaxPool 3-D ceil dilations", node: node("MaxPool", 12, 1, m{"kernel_shape": []int64{2, 3, 2}, "strides": []int64{2, 2, 1},
			"pads": []int64{1, 1, 0, 1, 1, 0}, "dilations": []int64{1, 2, 2}, "ceil_mode": int64(1)}),
			in: []*ops.Value{f32In(1, 4, 5, 7, 6)}, exact: true},
		{name: "AveragePool 3-D count_include_pad", node: node("AveragePool", 11, 1, m{"kernel_shape": []int64{2, 3, 2}, "strides": []int64{2, 2, 2},
			"pads": []int64{1, 1, 0, 1, 1, 0}, "count_include_pad": int64(1)}),
			in: []*ops.Value{f32In(2, 3, 5, 7, 6)}},
		{name: "AveragePool 3-D ceil", node: node("AveragePool", 11, 1, m{"kernel_shape": []int64{3, 2, 3}, "strides": []int64{2, 2, 2},
			"pads": []int64{1, 1, 1, 1, 1, 1}, "ceil_mode": int64(1)}),
			in: []*ops.Value{f32In(1, 4, 5, 7, 6)}},
		// the affine step and Relu that feed a pool, applied as it reads (fold's AffinePool)
		{name: "AffineAveragePool 2×2 (DenseNet's transition)", node: affinePool(m{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}, "pre_activation": "Relu"}),
			in: []*ops.Value{f32In(2, 5, 8, 6), f32In(5), f32In(5)}},
		{name: "AffineAveragePool 3-D pads count_include_pad", node: affinePool(m{"kernel_shape": []int64{2, 3, 2}, "strides": []int64{2, 2, 1},
			"pads": []int64{1, 1, 0, 1, 1, 0}, "count_include_pad": int64(1)}),
			in: []*ops.Value{f32In(1, 3, 5, 7, 6), f32In(3), f32In(3)}},
		{name: "ConvTranspose 3-D strides pads output_padding groups dilations", node: node("ConvTranspose", 11, 1, m{"strides": []int64{2, 1, 2},
			"pads": []int64{1, 0, 1, 1, 0, 0}, "output_padding": []int64{1, 0, 1}, "group": int64(2), "dilations": []int64{1, 2, 1}}),
			in: []*ops.Value{f32In(1, 4, 5, 7, 6), f32In(4, 3, 3, 2, 3), f32In(6)}},
		{name: "ConvTranspose 3-D stride 3, no bias", node: node("ConvTranspose", 11, 1, m{"strides": []int64{3, 2, 3}, "pads": []int64{0, 1, 2, 1, 0, 1}}),
			in: []*ops.Value{f32In(2, 3, 3, 4, 2), f32In(3, 2, 2, 3, 4)}},
		{name: "ConvTranspose 3-D auto_pad SAME_LOWER", node: node("ConvTranspose", 11, 1, m{"strides": []int64{2, 2, 1}, "auto_pad": "SAME_LOWER"}),
			in: []*ops.Value{f32In(1, 2, 3, 4, 5), f32In(2, 3, 3, 2, 2), f32In(3)}},
		{name: "ConvTranspose 3-D output_shape past the full one (a negative pad), depthwise", node: node("ConvTranspose", 11, 1, m{"strides": []int64{2, 2, 2},
			"output_shape": []int64{8, 10, 8}, "group": int64(3)}),
			in: []*ops.Value{f32In(1, 3, 3, 4, 3), f32In(3, 1, 3, 3, 2), f32In(3)}},
		{name: "BatchNormalization 5-D", node: node("BatchNormalization", 15, 1, m{"epsilon": float32(1e-3)}),
			in: []*ops.Value{f32In(2, 3, 4, 5, 3), f32C(0.5, 1, 1.5), f32C(-0.1, 0, 0.2), f32C(0.3, -0.2, 0), f32C(1, 0.5, 2)}},
		{name: "Cast to DOUBLE", node: node("Cast", 13, 1, m{"to": int64(11)}), in: []*ops.Value{f32In(7)}, exact: true},
	}
	cases = append(cases, kernelCases()...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runOne(t, c, k, s, tc, uint64(i)) })
	}
}

// kernelCases are the cases of package cuda's kernels whose meaning is an
// operator's, with the operator's CPU step as their reference: global
// average and max pools (planes smaller and larger than a block), the
// binary operators on broadcast shapes (Add, Sub, Mul, Div, and Max and
// Min of two inputs), and Pad in every mode with a kernel, cropping too.
func kernelCases() []runCase {
	var cases []runCase
	for _, sh := range [][]int{{2, 3, 7, 9}, {1, 3, 25, 40}, {1, 2, 1, 1}} {
		for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool"} {
			cases = append(cases, runCase{name: fmt.Sprintf("%s %v", op, sh), node: node(op, 1, 1, nil),
				in: []*ops.Value{f32In(sh...)}, exact: op == "GlobalMaxPool"})
		}
	}
	for _, sh := range [][2][]int{
		{{2, 3, 4}, {2, 3, 4}},
		{{2, 3, 4, 5}, {3, 1, 5}},
		{{2, 3, 4}, {1}},
		{{4, 1}, {3}},
		{{1, 8, 5, 5}, {1, 8, 1, 1}},
		{{2, 1, 3, 1, 2, 1}, {1, 2, 1, 3, 1, 2}},
	} {
		for _, op := range []string{"Add", "Sub", "Mul", "Div", "Max", "Min"} {
			cases = append(cases, runCase{name: fmt.Sprintf("%s %v %v", op, sh[0], sh[1]), node: node(op, 13, 1, nil),
				in: []*ops.Value{f32In(sh[0]...), f32In(sh[1]...)}, exact: op == "Max" || op == "Min"})
		}
	}
	for _, c := range []struct {
		in, begin, end []int64
		mode           string
	}{
		{[]int64{2, 3, 5, 4}, []int64{0, 0, 1, 2}, []int64{0, 0, 2, 1}, "constant"},
		{[]int64{2, 3, 5, 4}, []int64{0, 1, -1, 0}, []int64{1, 0, 1, -2}, "constant"},
		{[]int64{1, 2, 5, 6}, []int64{0, 0, 2, 3}, []int64{0, 0, 4, 5}, "reflect"},
		{[]int64{1, 2, 5, 6}, []int64{0, 0, 3, 1}, []int64{0, 0, 2, 7}, "edge"},
		{[]int64{9}, []int64{4}, []int64{-3}, "edge"},
	} {
		sh := make([]int, len(c.in))
		for i, d := range c.in {
			sh[i] = int(d)
		}
		pads := append(append([]int64(nil), c.begin...), c.end...)
		cases = append(cases, runCase{name: fmt.Sprintf("Pad %s %v by %v", c.mode, c.in, pads),
			node: node("Pad", 2, 1, map[string]any{"mode": c.mode, "pads": pads, "value": float32(2.5)}),
			in:   []*ops.Value{f32In(sh...)}, exact: true})
	}
	return cases
}

// ninf, pinf and nan are float32 -Inf, +Inf and NaN.
var (
	ninf = float32(math.Inf(-1))
	pinf = float32(math.Inf(1))
	nan  = float32(math.NaN())
)

// infRows is a float32 constant of shape [n, 4] whose columns are all
// -Inf, hold one +Inf, hold one NaN, and are finite.
func infRows(n int) *ops.Value {
	v := make([]float32, 4*n)
	for i := range n {
		v[4*i], v[4*i+1], v[4*i+2], v[4*i+3] = ninf, float32(i%7)-3, float32(i%5), float32(i%11)*0.5
	}
	v[4*(n/2)+1], v[4*(n/3)+2] = pinf, nan
	return f32S([]int{n, 4}, v...)
}

// fusedConv3D is a bnrun.FusedConv over 5-D tensors with a residual and
// Relu, as the fold pass writes one.
func fusedConv3D() *ops.Node {
	n := node("FusedConv", 1, 1, map[string]any{"pads": []int64{1, 1, 1, 1, 1, 1}, "activation": "Relu"})
	n.Domain, n.Opset = "bnrun", 1
	return n
}

// affinePool is a bnrun.AffineAveragePool with attrs, as fold's
// AffinePool writes one.
func affinePool(attrs map[string]any) *ops.Node {
	n := node("AffineAveragePool", 1, 1, attrs)
	n.Domain, n.Opset = "bnrun", 1
	return n
}

// fusedConvGate is a 1×1 bnrun.FusedConv with a residual and a gate
// (input 6), as fold's GateConv writes one.
func fusedConvGate() *ops.Node {
	n := node("FusedConv", 1, 1, map[string]any{"activation": "Relu"})
	n.Domain, n.Opset = "bnrun", 1
	return n
}

// runOne runs one case on the CPU and on the device and compares.
func runOne(t *testing.T, c *cuda.Context, k *cuda.Kernels, s *cuda.Stream, tc runCase, seed uint64) {
	b := ops.LookupNode(tc.node)
	if b == nil {
		t.Fatalf("no op %s", tc.node.OpType)
	}
	for i, v := range tc.in {
		if v == nil {
			tc.node.Inputs = append(tc.node.Inputs, "")
		} else {
			tc.node.Inputs = append(tc.node.Inputs, fmt.Sprintf("x%d", i))
		}
	}
	kn, err := b(tc.node)
	if err != nil {
		t.Fatal(err)
	}
	outs, step, err := kn.Prepare(tc.in)
	if err != nil {
		t.Fatal(err)
	}
	if step.Dev == nil {
		t.Fatalf("%s: the step has no device description", tc.name)
	}
	// the CPU: the step on the reference tier
	r := rand.New(rand.NewPCG(seed, 11))
	ins := make([]*ops.Tensor, len(tc.in))
	for i, v := range tc.in {
		switch {
		case v == nil:
		case v.Const != nil:
			ins[i] = v.Const
		default:
			lo, hi := tc.lo, tc.hi
			if lo == 0 && hi == 0 {
				lo, hi = -2, 2
			}
			ins[i] = ops.NewF32(v.Shape, nil)
			for j := range ins[i].F32 {
				ins[i].F32[j] = float32(lo + (hi-lo)*r.Float64())
			}
		}
	}
	want := make([]*ops.Tensor, len(outs))
	for i, o := range outs {
		want[i] = ops.NewF32(o.Shape, nil)
	}
	env := &kern.Env{K: kern.Reference, Par: kern.Serial{}, Scratch: make([]float32, step.Scratch)}
	if err := step.Run(env, ins, want); err != nil {
		t.Fatal(err)
	}

	// the device: inputs at buffer indexes 0.., outputs after them, the
	// step's scratch last
	var bufs []cuda.Buffer
	alloc := func(n int) cuda.Buffer {
		buf, err := c.Alloc(4 * max(1, n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Free(buf) })
		return buf
	}
	st := Step{K: k, OpType: tc.node.OpType, OutLen: ops.NumElems(outs[0].Shape), OutF32: outs[0].DType == ops.Float32}
	for _, x := range ins {
		if x == nil {
			st.In = append(st.In, -1)
			continue
		}
		st.In = append(st.In, len(bufs))
		if x.DType != ops.Float32 {
			bufs = append(bufs, cuda.Buffer{}) // an int64 constant the launches do not read
			continue
		}
		buf := alloc(x.Len())
		if err := s.CopyIn(buf, x.F32); err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, buf)
	}
	for _, o := range outs {
		st.Out = append(st.Out, len(bufs))
		buf := alloc(ops.NumElems(o.Shape))
		if err := s.Fill(buf, float32(math.NaN())); err != nil { // an output left unwritten shows
			t.Fatal(err)
		}
		bufs = append(bufs, buf)
	}
	scratch := 0
	st.Scratch = len(bufs)
	st.Reserve = func(n int) { scratch = max(scratch, n) }
	st.Upload = func(x []float32) (cuda.Buffer, error) {
		buf := alloc(len(x))
		return buf, s.CopyIn(buf, x)
	}
	launch, err := Lower(step.Dev, st)
	if err != nil {
		t.Fatal(err)
	}
	bufs = append(bufs, cuda.Buffer{})
	if scratch > 0 {
		bufs[st.Scratch] = alloc(scratch)
	}
	if err := launch(s, bufs); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		got := make([]float32, w.Len())
		if err := s.CopyOut(got, bufs[st.Out[i]]); err != nil {
			t.Fatal(err)
		}
		bad := 0
		for j, v := range w.F32 {
			g := got[j]
			ok := g == v || math.IsNaN(float64(g)) && math.IsNaN(float64(v))
			if !tc.exact {
				ok = ok || math.Abs(float64(g-v)) <= 1e-5+1e-5*math.Abs(float64(v))
			}
			if !ok {
				if bad < 5 {
					t.Errorf("output %d %v [%d] = %v on the device, %v on the CPU", i, w.Shape, j, g, v)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("output %d: %d of %d values differ", i, bad, len(got))
		}
	}
}
