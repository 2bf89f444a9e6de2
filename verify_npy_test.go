package bnrun_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/npy"
)

// pbToNpy writes the tensor of a .pb file as a .npy file.
func pbToNpy(t *testing.T, pb, out string) *bnrun.Tensor {
	t.Helper()
	_, x, err := loader.ReadTensorFile(pb)
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(out, x); err != nil {
		t.Fatal(err)
	}
	return x
}

// TestVerifyNumPy: test sets of .npy files, a folder that is itself the
// set, files given one by one and .npz archives verify as the .pb goldens
// do, and a golden changed beyond tolerance fails.
func TestVerifyNumPy(t *testing.T) {
	const src = "testdata/dynamic" // two sets at different sizes
	m, err := bnrun.Open(filepath.Join(src, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	tmp := t.TempDir()
	var ins, outs []*bnrun.Tensor
	for _, set := range []string{"test_data_set_0", "test_data_set_1"} {
		d := filepath.Join(tmp, "layout", set)
		os.MkdirAll(d, 0o755)
		ins = append(ins, pbToNpy(t, filepath.Join(src, set, "input_0.pb"), filepath.Join(d, "input_0.npy")))
		outs = append(outs, pbToNpy(t, filepath.Join(src, set, "output_0.pb"), filepath.Join(d, "output_0.npy")))
	}
	res, err := m.Verify(ctx, filepath.Join(tmp, "layout"), bnrun.DefaultTolerance)
	if err != nil || len(res) != 2 || !res[0].OK() || !res[1].OK() {
		t.Fatalf("npy layout: %v %+v", err, res)
	}
	// a folder holding input_0.npy and output_0.npy is one set
	one := filepath.Join(tmp, "layout", "test_data_set_1")
	res, err = m.Verify(ctx, one, bnrun.DefaultTolerance)
	if err != nil || len(res) != 1 || !res[0].OK() || res[0].Dir != one {
		t.Fatalf("one folder: %v %+v", err, res)
	}
	// .pb and .npy for the same K is ambiguous
	data, _ := os.ReadFile(filepath.Join(src, "test_data_set_1", "input_0.pb"))
	os.WriteFile(filepath.Join(one, "input_0.pb"), data, 0o644)
	if _, err = m.Verify(ctx, one, bnrun.DefaultTolerance); err == nil || !strings.Contains(err.Error(), "both input_0.npy and input_0.pb") &&
		!strings.Contains(err.Error(), "both input_0.pb and input_0.npy") {
		t.Errorf("both forms: %v", err)
	}
	// .npz archives: arrays named after the model's tensors, or by position
	arch := filepath.Join(tmp, "in.npz")
	if err := npy.WriteNPZ(arch, []npy.Array{{Name: "input", Tensor: ins[0]}}); err != nil {
		t.Fatal(err)
	}
	gold := filepath.Join(tmp, "out.npz")
	if err := npy.WriteNPZ(gold, []npy.Array{{Name: "arr_0", Tensor: outs[0]}}); err != nil {
		t.Fatal(err)
	}
	set, err := bnrun.ReadGoldenFiles([]string{arch}, []string{gold})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := m.VerifySet(ctx, set, bnrun.DefaultTolerance); err != nil || !r.OK() || r.Outputs[0].Rows != 2 {
		t.Fatalf("npz: %v %+v", err, r)
	}
	// the other set's golden for these inputs: a mismatch, reported
	set, err = bnrun.ReadGoldenFiles([]string{arch}, []string{filepath.Join(tmp, "layout", "test_data_set_1", "output_0.npy")})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := m.VerifySet(ctx, set, bnrun.DefaultTolerance); err != nil || r.OK() || !strings.Contains(r.Outputs[0].String(), "golden is float32 [1 5]") {
		t.Errorf("wrong golden: %v %+v", err, r)
	}
	for _, c := range []struct {
		in, out []string
		want    string
	}{
		{[]string{filepath.Join(tmp, "x.txt")}, nil, "want a .pb (TensorProto), .npy or .npz file"},
		{[]string{arch, arch}, []string{gold}, "2 input tensors, the model has 1 input"},
		{[]string{filepath.Join(tmp, "missing.npy")}, nil, "missing.npy"},
	} {
		set, err := bnrun.ReadGoldenFiles(c.in, c.out)
		if err == nil {
			_, err = m.VerifySet(ctx, set, bnrun.DefaultTolerance)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: got %v, want %q", c.in, c.out, err, c.want)
		}
	}
}
