package loader

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// extTensor is a FLOAT tensor whose data lives in an external file.
func extTensor(name string, dims []int64, kv ...string) pb {
	b := tensorPB(name, dtFloat, dims...).int(tfDataLocation, 1)
	for i := 0; i+1 < len(kv); i += 2 {
		b = b.msg(tfExternalData, pb{}.str(1, kv[i]).str(2, kv[i+1]))
	}
	return b
}

func extModel(tensors ...pb) pb {
	g := pb{}
	for _, t := range tensors {
		g = g.msg(gfInitializer, t)
	}
	return modelPB(g, opsetPB("", 13))
}

func writeFloats(t *testing.T, path string, vs ...float32) {
	t.Helper()
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFloats(t, filepath.Join(dir, "sub", "w.bin"), 1, 2, 3, 4, 5, 6)
	writeFloats(t, filepath.Join(dir, "two.bin"), 7, 8)
	m := extModel(
		extTensor("a", []int64{2}, "location", "sub/w.bin", "offset", "4", "length", "8"),
		extTensor("b", []int64{3}, "location", "./sub/../sub/w.bin", "offset", "12", "checksum", "ignored"),
		extTensor("c", []int64{2}, "location", "two.bin"),
		extTensor("d", []int64{0}, "location", "two.bin", "offset", "8"),
	)
	g := mustLoad(t, m, Options{Dir: dir})
	checkF32(t, g.Initializers["a"], []int{2}, []float32{2, 3})
	checkF32(t, g.Initializers["b"], []int{3}, []float32{4, 5, 6})
	checkF32(t, g.Initializers["c"], []int{2}, []float32{7, 8})
	checkF32(t, g.Initializers["d"], []int{0}, []float32{})

	// LoadFile resolves in the model's folder.
	p := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(p, m, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}

	// Symlinks that stay inside the folder are fine.
	if err := os.Symlink(filepath.Join(dir, "two.bin"), filepath.Join(dir, "sub", "link.bin")); err != nil {
		t.Skip("no symlinks:", err)
	}
	g = mustLoad(t, extModel(extTensor("l", []int64{2}, "location", "sub/link.bin")), Options{Dir: dir})
	checkF32(t, g.Initializers["l"], []int{2}, []float32{7, 8})
}

func TestExternalDataRejected(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(root, "secret.bin")
	writeFloats(t, outside, 1, 2)
	writeFloats(t, filepath.Join(dir, "w.bin"), 1, 2)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlinks := os.Symlink(outside, filepath.Join(dir, "link.bin")) == nil &&
		os.Symlink(root, filepath.Join(dir, "up")) == nil

	cases := []struct {
		name string
		kv   []string
		dims []int64
		want string
	}{
		{"dotdot", []string{"location", "../secret.bin"}, []int64{2}, "escapes"},
		{"dotdot inside", []string{"location", "d/../../secret.bin"}, []int64{2}, "escapes"},
		{"absolute", []string{"location", outside}, []int64{2}, "relative"},
		{"dot", []string{"location", "."}, []int64{0}, "not a regular file"},
		{"directory", []string{"location", "d"}, []int64{0}, "not a regular file"},
		{"missing", []string{"location", "nope.bin"}, []int64{2}, "nope.bin"},
		{"empty location", []string{"location", ""}, []int64{2}, "no location"},
		{"bad offset", []string{"location", "w.bin", "offset", "x"}, []int64{2}, "offset"},
		{"negative offset", []string{"location", "w.bin", "offset", "-4"}, []int64{1}, "offset"},
		{"offset past end", []string{"location", "w.bin", "offset", "12", "length", "0"}, []int64{0}, "past the end"},
		{"length past end", []string{"location", "w.bin", "offset", "4", "length", "8"}, []int64{2}, "past the end"},
		{"length mismatch", []string{"location", "w.bin", "length", "4"}, []int64{2}, "length 4"},
		{"bad length", []string{"location", "w.bin", "length", "1e3"}, []int64{2}, "length"},
		{"rest too short", []string{"location", "w.bin", "offset", "4"}, []int64{2}, "needs 8"},
		{"rest too long", []string{"location", "w.bin"}, []int64{1}, "needs 4"},
	}
	if symlinks {
		cases = append(cases,
			struct {
				name string
				kv   []string
				dims []int64
				want string
			}{"symlink out", []string{"location", "link.bin"}, []int64{2}, "outside"},
			struct {
				name string
				kv   []string
				dims []int64
				want string
			}{"symlinked dir out", []string{"location", "up/secret.bin"}, []int64{2}, "outside"},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(extModel(extTensor("ext", c.dims, c.kv...)), Options{Dir: dir})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"ext"`) {
				t.Errorf("error %q does not contain %q and the tensor name", err, c.want)
			}
		})
	}
	// External data in the file as well.
	both := extTensor("ext", []int64{1}, "location", "w.bin").float(tfFloatData, 1)
	if _, err := Load(extModel(both), Options{Dir: dir}); err == nil {
		t.Error("external tensor with inline data: no error")
	}
	// The limit applies before the file is read.
	big := extTensor("ext", []int64{2}, "location", "w.bin")
	if _, err := Load(extModel(big), Options{Dir: dir, MaxTensorBytes: 4}); err == nil ||
		!strings.Contains(err.Error(), "limit") {
		t.Errorf("limit: %v", err)
	}
}
