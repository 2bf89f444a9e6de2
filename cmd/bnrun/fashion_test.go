package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fashionDir = "../../models/fashion"

// fashionData returns the IDX files the agreement test uses: the whole
// Fashion-MNIST test set when BNRUN_FASHION_FULL is set (CI's extended
// suite, with Debian's dataset-fashion-mnist installed), else the first
// 500 test images committed in testdata.
func fashionData(t *testing.T) (images, labels string, n int) {
	if os.Getenv("BNRUN_FASHION_FULL") != "" {
		dir := "/usr/share/datasets/fashion-mnist"
		return filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 10000
	}
	dir := "../../testdata/fashion-mnist"
	return filepath.Join(dir, "t10k-first500-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-first500-labels-idx1-ubyte.gz"), 500
}

// TestFashionAgreesWithPyTorch runs every shipped Fashion-MNIST model over
// the test images with `bnrun eval` and requires its top-1 prediction to
// equal PyTorch's (predictions.txt, written by models/train_fashion.py) on
// every image, optimised and not.
func TestFashionAgreesWithPyTorch(t *testing.T) {
	images, labels, n := fashionData(t)
	dirs, _ := filepath.Glob(filepath.Join(fashionDir, "*", "model.onnx"))
	if len(dirs) != 3 {
		t.Fatalf("found %d shipped Fashion-MNIST models, want 3", len(dirs))
	}
	for _, model := range dirs {
		dir := filepath.Dir(model)
		want := readLines(t, filepath.Join(dir, "predictions.txt"))
		if len(want) != 10000 {
			t.Fatalf("%s: %d PyTorch predictions, want 10000", dir, len(want))
		}
		for _, extra := range [][]string{nil, {"--no-fold"}} {
			name := filepath.Base(dir) + strings.Join(extra, "")
			t.Run(name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "p.csv")
				args := append([]string{"eval", model, "--images", images, "--labels", labels, "--out", out, "--progress", "none"}, extra...)
				code, stdout, errs := runCLI(args...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errs)
				}
				t.Logf("%s: %s", name, strings.TrimSpace(stdout))
				got := readLines(t, out)[1:] // after the CSV header
				if len(got) != n {
					t.Fatalf("%d predictions, want %d", len(got), n)
				}
				bad := 0
				for i, line := range got {
					if pred := strings.Split(line, ",")[2]; pred != want[i] {
						if bad < 5 {
							t.Errorf("image %d: bnrun predicts %s, PyTorch %s", i, pred, want[i])
						}
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d predictions differ from PyTorch's", bad, n)
				}
			})
		}
	}
}

// TestDefaultModelClassifiesShippedImages runs `bnrun IMAGE` (the
// built-in ResNet) on the ten shipped images, one per class, whose file
// names start with their class number.
func TestDefaultModelClassifiesShippedImages(t *testing.T) {
	imgs, _ := filepath.Glob("../../testdata/images/fashion/*.png")
	if len(imgs) != 10 {
		t.Fatalf("found %d shipped Fashion-MNIST images, want 10", len(imgs))
	}
	right := 0
	for _, img := range imgs {
		code, out, errs := runCLI(img, "--top", "1")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", img, code, errs)
		}
		class := filepath.Base(img)[:1]
		if strings.HasSuffix(strings.TrimSpace(out), "(class "+class+")") {
			right++
		} else {
			t.Logf("%s: %s", filepath.Base(img), strings.TrimSpace(out))
		}
	}
	// The README's first command uses the T-shirt, which must be right.
	_, out, _ := runCLI("../../testdata/images/fashion/0_tshirt.png", "--top", "1")
	if !strings.Contains(out, "T-shirt/top (class 0)") {
		t.Errorf("bnrun on the T-shirt image says:\n%s", out)
	}
	if right < 8 {
		t.Errorf("the default model gets %d of 10 shipped images right", right)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	return lines
}
