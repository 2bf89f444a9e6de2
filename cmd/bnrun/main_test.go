package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/loader"
)

const lenetDir = "../../testdata/models/lenet_bn_op17"

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestClassifyShippedModel(t *testing.T) {
	code, out, errs := runCLI(filepath.Join(lenetDir, "model.onnx"), "../../testdata/images/sample28.png", "--top", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], " 1.") || !strings.Contains(lines[0], "%") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

func TestClassifyRGBImageOnGrayscaleModel(t *testing.T) {
	code, out, errs := runCLI(filepath.Join(lenetDir, "model.onnx"), "../../testdata/images/sample_rgb.jpg")
	if code != 0 || strings.Count(out, "\n") != 5 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, errs)
	}
}

func TestVerifyPassesAndFails(t *testing.T) {
	code, out, errs := runCLI("verify", filepath.Join(lenetDir, "model.onnx"))
	if code != 0 || !strings.Contains(out, "OK: all 2 test sets") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, errs)
	}
	// A copy whose golden is nudged beyond tolerance must fail with a report.
	dir := t.TempDir()
	copyTree(t, lenetDir, dir)
	gold := filepath.Join(dir, "test_data_set_1", "output_0.pb")
	name, g, err := loader.ReadTensorFile(gold)
	if err != nil {
		t.Fatal(err)
	}
	g.F32[7] += 0.01
	if err := os.WriteFile(gold, loader.EncodeTensor(name, g), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("verify", filepath.Join(dir, "model.onnx"), "--atol", "1e-4")
	if code != 1 || !strings.Contains(out, "FAIL  test_data_set_1") || !strings.Contains(out, "1 of 40 elements out of tolerance (first at 7") {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	// Where the tier has Winograd the report's note suggests --accurate,
	// which leaves the note out (the failure is then not Winograd's).
	if strings.Contains(out, "with Winograd") && !strings.Contains(out, "--accurate keeps") {
		t.Errorf("the note on Winograd does not suggest --accurate:\n%s", out)
	}
	code, out, _ = runCLI("verify", "--accurate", filepath.Join(dir, "model.onnx"), "--atol", "1e-4")
	if code != 1 || !strings.Contains(out, "FAIL  test_data_set_1") || strings.Contains(out, "with Winograd") {
		t.Fatalf("--accurate: exit %d, stdout:\n%s", code, out)
	}
	// A loose tolerance accepts it.
	if code, out, _ = runCLI("verify", "--atol", "0.1", filepath.Join(dir, "model.onnx")); code != 0 {
		t.Fatalf("exit %d with --atol 0.1:\n%s", code, out)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	notModel := filepath.Join(dir, "x.onnx")
	os.WriteFile(notModel, []byte("this is not protobuf at all \xff\xff\xff"), 0o644)
	badImg := filepath.Join(dir, "bad.png")
	os.WriteFile(badImg, []byte("\x89PNG\r\n\x1a\nshort"), 0o644)
	model := filepath.Join(lenetDir, "model.onnx")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{model, "a.png", "b.png"}, 1, "a.png"},
		{[]string{"--frobnicate", model, "x.png"}, 2, "flag provided but not defined"},
		{[]string{filepath.Join(dir, "missing.onnx"), "x.png"}, 1, "no such file"},
		{[]string{notModel, "x.png"}, 1, "x.onnx"},
		{[]string{model, badImg}, 1, "bad.png"},
		{[]string{model, "../../testdata/images/sample28.png", "--mean", "0,0"}, 2, "--mean and --std need 1 values"},
		{[]string{model, "../../testdata/images/sample28.png", "--backend", "quantum"}, 1, `unknown backend "quantum"`},
		{[]string{"verify", model, dir}, 1, "no test_data_set_* folders"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("bnrun %v: exit %d, stderr %q; want exit %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInspect(t *testing.T) {
	model := filepath.Join(lenetDir, "model.onnx")
	code, out, errs := runCLI("inspect", model)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"input    input: float32 [batch,1,28,28]",
		fmt.Sprintf("%-24s %7d %7d", "BatchNormalization", 4, 0),
		"BatchNormalization: 4 folded into a Conv or Gemm, 0 fused into a layer's input, 0 affine steps, 0 kept",
		fmt.Sprintf("%-24s %7d %7d", "bnrun.FusedConv", 0, 2),
		"MACs        ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI("inspect", "--json", model)
	var js struct {
		OpsBefore map[string]int `json:"ops_before"`
		OpsAfter  map[string]int `json:"ops_after"`
		BatchNorm []struct {
			Node, Fate, Into string
		} `json:"batchnorm"`
		Stats struct {
			TotalMACs int64 `json:"total_macs"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	// LeNet: conv 6x24x24x25 + 16x8x8x150 MACs, and 256*120 + 120*84 + 84*10.
	if want := int64(6*24*24*25 + 16*8*8*150 + 256*120 + 120*84 + 84*10); js.Stats.TotalMACs != want {
		t.Errorf("total MACs %d, want %d", js.Stats.TotalMACs, want)
	}
	if js.OpsBefore["BatchNormalization"] != 4 || js.OpsAfter["BatchNormalization"] != 0 || len(js.BatchNorm) != 4 || js.BatchNorm[0].Fate != "folded" {
		t.Errorf("unexpected JSON: %+v", js)
	}
	dot := filepath.Join(t.TempDir(), "g.dot")
	if code, _, errs = runCLI("inspect", "--dot", dot, model); code != 0 {
		t.Fatalf("--dot: exit %d: %s", code, errs)
	}
	data, _ := os.ReadFile(dot)
	if !strings.HasPrefix(string(data), "digraph model {") || !strings.Contains(string(data), "FusedConv + Sigmoid") {
		t.Errorf("unexpected dot file:\n%s", data)
	}
	code, out, _ = runCLI("inspect", "--no-fold", model)
	if code != 0 || !strings.Contains(out, "optimisation off") || !strings.Contains(out, "4 kept") {
		t.Errorf("--no-fold: exit %d:\n%s", code, out)
	}
}

func TestNoFoldGivesSameClasses(t *testing.T) {
	args := []string{filepath.Join(lenetDir, "model.onnx"), "../../testdata/images/sample28.png"}
	_, folded, _ := runCLI(args...)
	_, plain, _ := runCLI(append(args, "--no-fold")...)
	if folded == "" || folded != plain {
		t.Errorf("folded:\n%s\nunfolded:\n%s", folded, plain)
	}
}

func TestBench(t *testing.T) {
	model := filepath.Join(lenetDir, "model.onnx")
	code, out, errs := runCLI("bench", model, "--iters", "5", "--batch", "2")
	if code != 0 || !strings.Contains(out, "latency  p50") || !strings.Contains(out, "batch 2, 5 runs after 3 warm-up") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI("bench", "--json", "--iters", "4", "--threads", "1", model)
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(r.Times) != 4 || r.P50ms <= 0 || r.P90ms < r.P50ms || r.P99ms < r.P90ms || r.Maxms != slices.Max(r.Times) || r.Concurrency != 1 || r.GFLOPs <= 0 || r.Threads != 1 || r.Backend != kern.Best().Name {
		t.Errorf("unexpected result %+v", r)
	}
	// The report says how the tier sums: --accurate is in its JSON and
	// on its first line.
	code, out, _ = runCLI("bench", "--json", "--iters", "1", "--accurate", model)
	r = benchResult{}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || !r.Accurate || r.Winograd != (kern.Best().WithoutWinograd() != kern.Best()) {
		t.Errorf("--accurate: exit %d, %v, accurate %v, winograd %v", code, err, r.Accurate, r.Winograd)
	}
	if code, out, _ = runCLI("bench", "--iters", "1", "--accurate", "--no-winograd", model); code != 0 || !strings.Contains(out, "(accurate),") {
		t.Errorf("--accurate --no-winograd: exit %d, first line %q", code, strings.SplitN(out, "\n", 2)[0])
	}
	if code, _, errs = runCLI("bench", model, "--iters", "0"); code != 2 || !strings.Contains(errs, "--iters") {
		t.Errorf("--iters 0: exit %d, %s", code, errs)
	}
}

// TestBenchCPUProfile checks --cpuprofile: a pprof file (gzipped protobuf)
// per batch size with several, one at the path given with one, and an
// error naming the file when it cannot be created.
func TestBenchCPUProfile(t *testing.T) {
	model := filepath.Join(lenetDir, "model.onnx")
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.prof")
	if code, out, errs := runCLI("bench", model, "--iters", "3", "--cpuprofile", prof); code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI("bench", model, "--iters", "3", "--batch", "1,2", "--cpuprofile", prof); code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errs)
	}
	for _, p := range []string{prof, prof + ".b1", prof + ".b2"} {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: not a gzipped profile (%v, %d bytes)", p, err, len(b))
		}
	}
	bad := filepath.Join(dir, "missing", "cpu.prof")
	if code, _, errs := runCLI("bench", model, "--iters", "1", "--cpuprofile", bad); code != 1 || !strings.Contains(errs, bad) {
		t.Errorf("unwritable profile: exit %d, %s", code, errs)
	}
}

func TestPercentile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if percentile(s, 50) != 5 || percentile(s, 90) != 9 || percentile(s, 100) != 10 || percentile(s[:1], 50) != 1 {
		t.Errorf("percentiles %v %v %v", percentile(s, 50), percentile(s, 90), percentile(s, 100))
	}
}

// TestVersion prints the version line: module version, Go version and
// platform, and the backend Open picks here.
func TestVersion(t *testing.T) {
	code, out, errs := runCLI("version")
	if code != 0 || !strings.HasPrefix(out, "bnrun ") || !strings.Contains(out, goruntime.Version()) ||
		!strings.Contains(out, "backend "+kern.Best().Name) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, _ := runCLI("version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}

// TestClassifyArgumentSlips turns a model given alone, an image where the
// model goes, and swapped arguments into usage errors that say so.
func TestClassifyArgumentSlips(t *testing.T) {
	model := filepath.Join(lenetDir, "model.onnx")
	img := "../../testdata/images/sample28.png"
	jpg := "../../testdata/images/sample_rgb.jpg"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{img, model}, "the arguments are swapped"},
		{[]string{model}, "looks like an ONNX model and no IMAGE follows"},
		{[]string{jpg, img}, "is a JPEG image, not an ONNX model"},
		{[]string{"../../testdata/images/scene.gif", img}, "is a GIF image, not an ONNX model"},
		{[]string{"../../testdata/images/scene.bmp", img}, "is a BMP image, not an ONNX model"},
		{[]string{"../../testdata/images/scene.tif", img}, "is a TIFF image, not an ONNX model"},
		{[]string{"../../testdata/images/scene.webp", model}, "is a WebP image and " + model + " an ONNX model: the arguments are swapped"},
	} {
		code, _, errs := runCLI(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "usage: bnrun [MODEL.onnx] IMAGE") {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

// TestClassifyImageFormats: classify decodes every format vision does
// (GIF's first frame, BMP, TIFF, WebP besides PNG and JPEG).
func TestClassifyImageFormats(t *testing.T) {
	for _, name := range []string{"scene.gif", "scene.bmp", "scene.tif", "scene.webp", "rgba.png", "jpeg420.jpg", "exif6.jpg"} {
		code, out, errs := runCLI("../../testdata/images/"+name, "--top", "1")
		if code != 0 || !strings.HasPrefix(out, " 1. ") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", name, code, out, errs)
		}
	}
}

// TestSegmentationMask runs the tiny segmentation model (testdata/tiny_seg,
// [1,4,32,32] class scores): the classes present are printed with shares
// summing to 100 %, --mask writes a PNG of the input image's size whose
// pixels are class colours (or blends with --blend), and --mask on a
// classifier or a --blend out of range is refused.
func TestSegmentationMask(t *testing.T) {
	model, img := "../../testdata/tiny_seg/model.onnx", "../../testdata/images/sample_rgb.jpg"
	code, out, errOut := runCLI(model, img)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	total := 0.0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r int
		var share float64
		if _, err := fmt.Sscanf(line, "%d. %f%%", &r, &share); err != nil || !strings.Contains(line, "of pixels") {
			t.Fatalf("line %q is not a class share", line)
		}
		total += share
	}
	if math.Abs(total-100) > 0.05 {
		t.Errorf("shares sum to %v%%, want 100%%:\n%s", total, out)
	}
	for _, blend := range []string{"1", "0.5"} {
		path := filepath.Join(t.TempDir(), "mask.png")
		code, out, errOut = runCLI(model, img, "--mask", path, "--blend", blend)
		if code != 0 || !strings.Contains(out, "mask: "+path+" (300x200)") {
			t.Fatalf("--blend %s: exit %d, stdout %q, stderr %q", blend, code, out, errOut)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := m.Bounds(); b.Dx() != 300 || b.Dy() != 200 {
			t.Fatalf("mask is %v, want the image's 300x200", b)
		}
		if blend == "1" {
			// every pixel one of the 4 classes' colours
			for y := 0; y < 200; y += 7 {
				for x := 0; x < 300; x += 7 {
					r, g, b, _ := m.At(x, y).RGBA()
					found := false
					for c := range int32(4) {
						want := classColor(c)
						if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
							found = true
						}
					}
					if !found {
						t.Fatalf("pixel (%d,%d) = %d,%d,%d is no class's colour", x, y, r>>8, g>>8, b>>8)
					}
				}
			}
		}
	}
	if code, _, errOut = runCLI(filepath.Join(lenetDir, "model.onnx"), "../../testdata/images/sample28.png", "--mask", filepath.Join(t.TempDir(), "m.png")); code == 0 || !strings.Contains(errOut, "needs a segmentation model") {
		t.Errorf("--mask on a classifier: exit %d, %q", code, errOut)
	}
	if code, _, errOut = runCLI(model, img, "--mask", filepath.Join(t.TempDir(), "m.png"), "--blend", "2"); code == 0 || !strings.Contains(errOut, "--blend 2 must be between 0 and 1") {
		t.Errorf("--blend 2: exit %d, %q", code, errOut)
	}
}
