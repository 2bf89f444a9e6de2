package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/npy"
)

const fashionImages = "../../testdata/images/fashion"

// classifyJSON is what classify --json prints.
type classifyJSON struct {
	Model   string           `json:"model"`
	Results []classifyResult `json:"results"`
}

// TestClassifySeveral: classify takes several images and folders (their
// images in order of name, other files and sub-folders left out), prints
// each image's classes under its name, and --json and --raw give the same
// results as one image at a time.
func TestClassifySeveral(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"3_dress.png", "1_trouser.png"} {
		data, err := os.ReadFile(filepath.Join(fashionImages, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "0_tshirt.png"), nil, 0o644)
	one := filepath.Join(fashionImages, "0_tshirt.png")
	model := "../../models/fashion/fashion_lenet/model.onnx"

	code, out, errs := runCLI(model, one, dir, "--top", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := one + ":\n 1. "
	if !strings.HasPrefix(out, want) || strings.Count(out, ":\n 1. ") != 3 || !strings.Contains(out, "\n\n"+filepath.Join(dir, "1_trouser.png")+":\n 1. ") ||
		strings.Index(out, "1_trouser") > strings.Index(out, "3_dress") || !strings.Contains(out, "Trouser (class 1)") {
		t.Errorf("unexpected output:\n%s", out)
	}

	// the built-in model on a folder
	code, out, errs = runCLI(dir, "--top", "1")
	if code != 0 || strings.Count(out, ":\n 1. ") != 2 {
		t.Errorf("built-in model on a folder: exit %d:\n%s%s", code, out, errs)
	}

	raw := filepath.Join(dir, "all.npy")
	code, out, errs = runCLI(model, one, dir, "--json", "--top", "3", "--raw", raw)
	var js classifyJSON
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil {
		t.Fatalf("--json: exit %d, %v:\n%s%s", code, err, out, errs)
	}
	if js.Model != model || len(js.Results) != 3 || js.Results[2].File != filepath.Join(dir, "3_dress.png") {
		t.Fatalf("--json: %+v", js)
	}
	for _, r := range js.Results {
		sum := 0.0
		for i, c := range r.Top {
			sum += c.Probability
			if c.Label == "" || i > 0 && c.Probability > r.Top[i-1].Probability {
				t.Errorf("%s: class %+v", r.File, c)
			}
		}
		if len(r.Top) != 3 || sum > 1+1e-9 || sum <= 0 {
			t.Errorf("%s: top %+v", r.File, r.Top)
		}
	}
	if js.Results[1].Top[0].Label != "Trouser" || js.Results[1].Top[0].Index != 1 {
		t.Errorf("1_trouser.png: %+v", js.Results[1].Top)
	}
	all, err := npy.ReadFile(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all.Shape, []int{3, 10}) {
		t.Fatalf("--raw: shape %v, want [3 10]", all.Shape)
	}
	// the stacked rows are the images' own outputs
	single := filepath.Join(dir, "one.npy")
	if code, _, errs = runCLI(model, filepath.Join(dir, "3_dress.png"), "--raw", single); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	row, err := npy.ReadFile(single, 0)
	if err != nil || !slices.Equal(row.Shape, []int{1, 10}) || !slices.Equal(row.F32, all.F32[20:30]) {
		t.Errorf("--raw of one image: %v %v, want row 2 of %v", row, err, all.F32)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{model, filepath.Join(dir, "sub")}, 1, "no PNG, JPEG, GIF, BMP, TIFF or WebP images in this folder"},
		{[]string{"../../testdata/tiny_seg/model.onnx", one, one, "--mask", filepath.Join(dir, "m.png")}, 2, "--mask writes one image's mask; 2 images given"},
		{[]string{model, one, filepath.Join(dir, "notes.txt")}, 1, "notes.txt"},
		{[]string{"--winograd", "--no-winograd", model, one}, 2, "--winograd and --no-winograd contradict each other"},
		{[]string{"--winograd", "--no-winograd", one}, 2, "--winograd and --no-winograd contradict each other"},
		{[]string{"--winograd", "--accurate", model, one}, 2, "--winograd and --accurate contradict each other"},
	} {
		code, _, errs := runCLI(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}

// TestClassifySegmentationJSON: a segmentation's classes in --json are
// its pixel shares, which add up to one.
func TestClassifySegmentationJSON(t *testing.T) {
	code, out, errs := runCLI("../../testdata/tiny_seg/model.onnx", "../../testdata/images/sample_rgb.jpg", "--json")
	var js classifyJSON
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil || len(js.Results) != 1 {
		t.Fatalf("exit %d, %v:\n%s%s", code, err, out, errs)
	}
	sum := 0.0
	for _, c := range js.Results[0].Pixels {
		sum += c.Probability
	}
	if len(js.Results[0].Top) != 0 || len(js.Results[0].Pixels) == 0 || math.Abs(sum-1) > 1e-9 {
		t.Errorf("pixels %+v", js.Results[0])
	}
}
