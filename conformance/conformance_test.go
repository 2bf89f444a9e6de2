package conformance_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/owulveryck/onnx-go/backend/testbackend"
	_ "github.com/owulveryck/onnx-go/backend/testbackend/onnx" // registers the ONNX node tests
	"gorgonia.org/tensor"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// expectedFailures lists the ONNX node tests, for ops bnrun supports, that
// are known to fail, with the reason. A listed test that passes fails the
// suite, so the list stays true.
var expectedFailures = map[string]string{
	"TestResizeDownsampleLinear":  "scales is a graph input here; bnrun plans with it constant, as models have it (python3-onnx's _const copies of these tests pass)",
	"TestResizeDownsampleNearest": "scales is a graph input here; bnrun plans with it constant, as models have it (python3-onnx's _const copies of these tests pass)",
	"TestResizeNearest":           "scales is a graph input here; bnrun plans with it constant, as models have it (python3-onnx's _const copies of these tests pass)",
	"TestResizeUpsampleLinear":    "scales is a graph input here; bnrun plans with it constant, as models have it (python3-onnx's _const copies of these tests pass)",
	"TestResizeUpsampleNearest":   "scales is a graph input here; bnrun plans with it constant, as models have it (python3-onnx's _const copies of these tests pass)",
	"TestUpsampleNearest":         "scales is a graph input here; bnrun plans with it constant, as models have it (python3-onnx's _const copies of these tests pass)",
	"TestSliceEndOutOfBounds":     "onnx-go's copy of the test holds starts and ends as float32, not the int64 the model declares (python3-onnx's copy passes)",
	"TestSliceNeg":                "onnx-go's copy of the test holds starts and ends as float32, not the int64 the model declares (python3-onnx's copy passes)",
}

// TestONNXNodeConformance runs every node test that onnx-go ships for the
// operators bnrun supports through bnrun's loader and runtime, on every
// kernel tier.
func TestONNXNodeConformance(t *testing.T) {
	supported := map[string]bool{}
	for _, op := range ops.Supported() {
		supported[op] = true
	}
	var cases []*testbackend.TestCase
	for _, mk := range testbackend.GetAllRegisteredTests() {
		tc := mk()
		if supported[tc.OpType] {
			cases = append(cases, tc)
		}
	}
	sort.Slice(cases, func(a, b int) bool { return cases[a].Title < cases[b].Title })
	if len(cases) < 100 {
		t.Fatalf("only %d conformance cases found for supported ops", len(cases))
	}
	for _, backend := range kern.TierNames() {
		passed := 0
		for _, tc := range cases {
			t.Run(backend+"/"+tc.Title, func(t *testing.T) {
				err := runNodeTest(tc, backend)
				reason, expected := expectedFailures[tc.Title]
				switch {
				case err == nil && expected:
					t.Errorf("listed as an expected failure (%s) but passes: remove it from the list", reason)
				case err != nil && !expected:
					t.Errorf("%s (%s): %v", tc.Title, tc.OpType, err)
				case err != nil:
					t.Logf("expected failure: %s: %v", reason, err)
				default:
					passed++
				}
			})
		}
		t.Logf("%s: %d of %d node tests pass, %d expected failures", backend, passed, len(cases), len(expectedFailures))
	}
}

func runNodeTest(tc *testbackend.TestCase, backend string) error {
	m, err := bnrun.OpenBytes(tc.ModelB, bnrun.WithBackend(backend), bnrun.WithThreads(2))
	if err != nil {
		return err
	}
	defer m.Close()
	if len(tc.Input) != len(m.Inputs()) {
		return fmt.Errorf("test has %d inputs, model %d", len(tc.Input), len(m.Inputs()))
	}
	inputs := map[string]*bnrun.Tensor{}
	for i, in := range tc.Input {
		x, err := fromGorgonia(in)
		if err != nil {
			return fmt.Errorf("input %d: %v", i, err)
		}
		inputs[m.Inputs()[i].Name] = x
	}
	outs, err := m.Run(context.Background(), inputs)
	if err != nil {
		return err
	}
	for i, exp := range tc.ExpectedOutput {
		want, err := fromGorgonia(exp)
		if err != nil {
			return fmt.Errorf("expected output %d: %v", i, err)
		}
		name := m.Outputs()[i].Name
		if err := closeEnough(outs[name], want); err != nil {
			return fmt.Errorf("output %q: %v", name, err)
		}
	}
	return nil
}

// fromGorgonia converts a test tensor to bnrun's types: floating point to
// float32, integers and booleans to int64.
func fromGorgonia(t tensor.Tensor) (*bnrun.Tensor, error) {
	shape := append([]int(nil), t.Shape()...)
	if len(shape) == 1 && shape[0] == 1 && t.Dims() == 0 {
		shape = nil
	}
	switch d := t.Data().(type) {
	case []float32:
		return ir.NewF32(shape, append([]float32(nil), d...)), nil
	case float32:
		return ir.NewF32(nil, []float32{d}), nil
	case []float64:
		f := make([]float32, len(d))
		for i, v := range d {
			f[i] = float32(v)
		}
		return ir.NewF32(shape, f), nil
	case []int64:
		return ir.NewI64(shape, append([]int64(nil), d...)), nil
	case int64:
		return ir.NewI64(nil, []int64{d}), nil
	case []int32:
		v := make([]int64, len(d))
		for i, x := range d {
			v[i] = int64(x)
		}
		return ir.NewI64(shape, v), nil
	case []bool:
		v := make([]int64, len(d))
		for i, x := range d {
			if x {
				v[i] = 1
			}
		}
		return ir.NewI64(shape, v), nil
	}
	return nil, fmt.Errorf("unsupported test data type %T", t.Data())
}

// closeEnough applies the ONNX backend tests' tolerance:
// |y - g| <= 1e-7 + 1e-3*|g|.
func closeEnough(got, want *bnrun.Tensor) error {
	if got.DType != want.DType || !ir.SameShape(got.Shape, want.Shape) {
		return fmt.Errorf("got %s %v, want %s %v", got.DType, got.Shape, want.DType, want.Shape)
	}
	if got.DType == ir.Int64 {
		for i := range want.I64 {
			if got.I64[i] != want.I64[i] {
				return fmt.Errorf("element %d: got %d, want %d", i, got.I64[i], want.I64[i])
			}
		}
		return nil
	}
	for i := range want.F32 {
		g, y := float64(want.F32[i]), float64(got.F32[i])
		if math.IsNaN(g) && math.IsNaN(y) {
			continue
		}
		if !(math.Abs(y-g) <= 1e-7+1e-3*math.Abs(g)) {
			return fmt.Errorf("element %d: got %g, want %g", i, y, g)
		}
	}
	return nil
}
