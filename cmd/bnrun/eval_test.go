package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeIDX writes an unsigned-byte IDX file, gzipped when gz is set.
func writeIDX(t *testing.T, path string, dims []int, data []byte, gz bool) {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	raw := b.Bytes()
	if gz {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(raw)
		w.Close()
		raw = z.Bytes()
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIDXErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not an IDX file"},
		{"magic", []byte{1, 2, 8, 1}, "not an IDX file"},
		{"type", []byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}, "not unsigned bytes"},
		{"rank", []byte{0, 0, 8, 9}, "rank 9"},
		{"header", []byte{0, 0, 8, 2, 0, 0}, "truncated IDX header"},
		{"huge", []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2}, "declare more than"},
		{"short", []byte{0, 0, 8, 1, 0, 0, 0, 5, 1, 2}, "need 5 bytes of data, the file has 2"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, c.data, 0o644)
		if _, err := readIDX(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	// gzip and raw give the same data
	data := []byte{1, 2, 3, 4, 5, 6}
	writeIDX(t, filepath.Join(dir, "a.gz"), []int{2, 3}, data, true)
	writeIDX(t, filepath.Join(dir, "a"), []int{2, 3}, data, false)
	for _, p := range []string{"a.gz", "a"} {
		x, err := readIDX(filepath.Join(dir, p))
		if err != nil || !bytes.Equal(x.data, data) || len(x.dims) != 2 || x.dims[1] != 3 {
			t.Errorf("%s: %v %+v", p, err, x)
		}
	}
}

func TestEval(t *testing.T) {
	dir := t.TempDir()
	const n = 23 // not a multiple of the batch
	pixels := make([]byte, n*28*28)
	labels := make([]byte, n)
	for i := range pixels {
		pixels[i] = byte(i * 7)
	}
	for i := range labels {
		labels[i] = byte(i % 10)
	}
	imgs, labs := filepath.Join(dir, "img.gz"), filepath.Join(dir, "lab")
	writeIDX(t, imgs, []int{n, 28, 28}, pixels, true)
	writeIDX(t, labs, []int{n}, labels, false)
	model := filepath.Join(lenetDir, "model.onnx")
	csvOut, jsonOut := filepath.Join(dir, "p.csv"), filepath.Join(dir, "p.jsonl")

	code, out, errs := runCLI("eval", model, "--images", imgs, "--labels", labs, "--batch", "5", "--out", csvOut)
	if code != 0 || !strings.HasPrefix(out, "accuracy ") || !strings.Contains(out, "of 23 correct") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "23/23 images (100%)") {
		t.Errorf("no progress lines on stderr: %q", errs)
	}
	if code, _, errs = runCLI("eval", model, "--images", imgs, "--labels", labs, "--batch", "7", "--out", jsonOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	csvData, _ := os.ReadFile(csvOut)
	lines := strings.Split(strings.TrimSpace(string(csvData)), "\n")
	if len(lines) != n+1 || lines[0] != "index,label,predicted,class,confidence" {
		t.Fatalf("CSV:\n%s", csvData)
	}
	f, _ := os.Open(jsonOut)
	defer f.Close()
	sc := bufio.NewScanner(f)
	i := 0
	for sc.Scan() {
		var p prediction
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		// The batch size must not change any prediction.
		fields := strings.Split(lines[i+1], ",")
		if p.Index != i || p.Label != int(labels[i]) || fields[2] != itoa(p.Predicted) {
			t.Errorf("line %d: %+v vs CSV %q", i, p, lines[i+1])
		}
		i++
	}
	if i != n {
		t.Errorf("%d JSON lines, want %d", i, n)
	}
	// Bad calls.
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"eval", model}, "eval wants MODEL.onnx and --images FILE"},
		{[]string{"eval", model, "--images", labs}, "want [count, rows, cols]"},
		{[]string{"eval", model, "--images", imgs, "--labels", imgs}, "to match the images"},
		{[]string{"eval", model, "--images", imgs, "--format", "xml"}, `--format "xml"`},
	}
	for _, b := range bad {
		if code, _, errs := runCLI(b.args...); code == 0 || !strings.Contains(errs, b.want) {
			t.Errorf("%v: exit %d, %q; want %q", b.args, code, errs, b.want)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// copyFile copies src to dst, making dst's folder.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEvalImageFolder: eval reads torchvision's ImageFolder layout (a
// sub-folder per class, numbered in order of name, images in nested
// folders too, other files left out): the shipped Fashion-MNIST sample
// of each class in its class's folder is all correct; an RGB model gets
// classify's preprocessing, with the same predictions and confidences.
func TestEvalImageFolder(t *testing.T) {
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(fashionImages, "*_*.png"))
	if len(files) != 10 {
		t.Fatalf("%d fashion samples", len(files))
	}
	for _, f := range files {
		c := filepath.Base(f)[:1] // "3_dress.png": class 3
		copyFile(t, f, filepath.Join(dir, "class"+c, "nested", filepath.Base(f)))
	}
	copyFile(t, filepath.Join(fashionImages, "README.md"), filepath.Join(dir, "class0", "README.md"))
	out := filepath.Join(dir, "p.csv")
	code, stdout, errs := runCLI("eval", "../../models/fashion/fashion_resnet/model.onnx", "--images", dir, "--batch", "3", "--out", out, "--progress", "none")
	if code != 0 || !strings.HasPrefix(stdout, "accuracy 100.00% (10 of 10 correct)") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, errs)
	}
	data, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 11 || lines[0] != "index,label,predicted,class,confidence,file" ||
		!strings.HasPrefix(lines[4], "3,3,3,class3,") || !strings.HasSuffix(lines[4], filepath.Join(dir, "class3", "nested", "3_dress.png")) {
		t.Errorf("CSV:\n%s", data)
	}

	// RGB: testdata/dynamic (5 classes, any size) at 16×16, two classes
	rgb := t.TempDir()
	imgs := []string{"../../testdata/images/sample_rgb.jpg", "../../testdata/images/scene.webp", "../../testdata/images/rgba.png"}
	copyFile(t, imgs[0], filepath.Join(rgb, "a", "x.jpg"))
	copyFile(t, imgs[1], filepath.Join(rgb, "b", "y.webp"))
	copyFile(t, imgs[2], filepath.Join(rgb, "b", "z.png"))
	os.Mkdir(filepath.Join(rgb, "c_empty"), 0o755)
	model := filepath.Join(dynamicDir, "model.onnx")
	flags := []string{"--crop", "16", "--resize", "20"}
	code, stdout, errs = runCLI(append([]string{"eval", model, "--images", rgb, "--out", "-", "--format", "jsonl", "--progress", "none"}, flags...)...)
	if code != 0 {
		t.Fatalf("RGB: exit %d:\n%s%s", code, stdout, errs)
	}
	code, cls, errs := runCLI(append([]string{model, "--json", "--top", "1", filepath.Join(rgb, "a"), filepath.Join(rgb, "b")}, flags...)...)
	var js classifyJSON
	if err := json.Unmarshal([]byte(cls), &js); code != 0 || err != nil || len(js.Results) != 3 {
		t.Fatalf("classify: exit %d, %v:\n%s%s", code, err, cls, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for i := 0; i < 3; i++ {
		var p prediction
		if !sc.Scan() || json.Unmarshal(sc.Bytes(), &p) != nil {
			t.Fatalf("line %d of:\n%s", i, stdout)
		}
		want := js.Results[i].Top[0]
		if p.File != js.Results[i].File || p.Label != min(i, 1) || p.Predicted != want.Index || math.Abs(p.Confidence-want.Probability) > 1e-6 {
			t.Errorf("image %d: eval %+v, classify %+v", i, p, js.Results[i])
		}
	}
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "accuracy ") || !strings.Contains(sc.Text(), "of 3 correct") {
		t.Errorf("no accuracy line:\n%s", stdout)
	}

	copyFile(t, filepath.Join(fashionImages, "README.md"), filepath.Join(dir, "noimg", "k", "README.md"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", model, "--images", rgb, "--labels", "x.idx"}, "--labels is for IDX files"},
		{[]string{"eval", model, "--images", filepath.Join(rgb, "c_empty")}, "no class folders"},
		{[]string{"eval", model, "--images", filepath.Join(dir, "noimg")}, "no images (.jpg, .jpeg, .png, .bmp, .tif, .tiff, .webp, .gif) in its 1 class folders"},
		{[]string{"eval", model, "--images", "x.idx", "--crop", "8"}, "--resize, --crop, --mean and --std are for image folders"},
	} {
		if code, _, errs := runCLI(c.args...); code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, errs, c.want)
		}
	}
}
