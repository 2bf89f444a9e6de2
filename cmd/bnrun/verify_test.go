package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/loader"
	"github.com/bnrun/bnrun/npy"
)

const dynamicDir = "../../testdata/dynamic" // [batch,3,height,width], models/goldens.py

// toNpy converts a .pb tensor file to a .npy file.
func toNpy(t *testing.T, pb, out string) {
	t.Helper()
	_, x, err := loader.ReadTensorFile(pb)
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(out, x); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyNumPyFiles: verify reads .npy inputs and goldens given as
// files, or a folder of input_0.npy and output_0.npy, and refuses a DIR
// and files together.
func TestVerifyNumPyFiles(t *testing.T) {
	tmp := t.TempDir()
	model := filepath.Join(dynamicDir, "model.onnx")
	for i, set := range []string{"test_data_set_0", "test_data_set_1"} {
		toNpy(t, filepath.Join(dynamicDir, set, "input_0.pb"), filepath.Join(tmp, "in"+string(rune('0'+i))+".npy"))
		toNpy(t, filepath.Join(dynamicDir, set, "output_0.pb"), filepath.Join(tmp, "out"+string(rune('0'+i))+".npy"))
	}
	code, out, errs := runCLI("verify", model, "--inputs", filepath.Join(tmp, "in1.npy"), "--outputs", filepath.Join(tmp, "out1.npy"))
	if code != 0 || !strings.Contains(out, "ok    in1.npy  output  max_abs") || !strings.Contains(out, "OK: all 1 test sets") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, errs)
	}
	// a golden of another set: shapes differ, a failure, not an error
	code, out, _ = runCLI("verify", model, "--inputs", filepath.Join(tmp, "in0.npy"), "--outputs", filepath.Join(tmp, "out1.npy"))
	if code != 1 || !strings.Contains(out, "FAIL  in0.npy  output  got float32 [2 5], golden is float32 [1 5]") {
		t.Errorf("wrong golden: exit %d:\n%s", code, out)
	}
	// a folder that is itself the set
	set := filepath.Join(tmp, "set")
	os.Mkdir(set, 0o755)
	os.Rename(filepath.Join(tmp, "in0.npy"), filepath.Join(set, "input_0.npy"))
	os.Rename(filepath.Join(tmp, "out0.npy"), filepath.Join(set, "output_0.npy"))
	if code, out, errs = runCLI("verify", model, set); code != 0 || !strings.Contains(out, "OK: all 1 test sets") {
		t.Errorf("folder: exit %d:\n%s%s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"verify", model, set, "--inputs", "a.npy", "--outputs", "b.npy"}, 2, "a DIR, or --inputs and --outputs, not both"},
		{[]string{"verify", model, "--inputs", "a.npy"}, 2, "a DIR, or --inputs and --outputs, not both"},
		{[]string{"verify", model, "--inputs", filepath.Join(tmp, "in1.npy"), "--outputs", filepath.Join(tmp, "nope.npy")}, 1, "nope.npy"},
		{[]string{"verify", model, "--inputs", filepath.Join(dynamicDir, "model.onnx"), "--outputs", filepath.Join(tmp, "out1.npy")}, 1, "want a .pb (TensorProto), .npy or .npz file"},
	} {
		code, _, errs := runCLI(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}
