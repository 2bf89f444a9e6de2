package main

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bnrun/bnrun"
)

// Hostile inputs, second round: files of a few hundred bytes that declare
// sizes or streams out of proportion to themselves, and images from pipes
// and devices. The image-level cases (JPEG scans, alpha) are package
// vision's tests.

// reluModel encodes an ONNX model (opset 13) of one Relu from input "x"
// of the given dims to output "y".
func reluModel(dims ...int64) []byte {
	var shape []byte
	for _, d := range dims {
		shape = protowire.AppendTag(shape, 1, protowire.BytesType) // TensorShapeProto.dim
		shape = protowire.AppendBytes(shape, protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(d)))
	}
	value := func(name string) []byte {
		tt := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1) // elem_type FLOAT
		tt = protowire.AppendBytes(protowire.AppendTag(tt, 2, protowire.BytesType), shape)
		typ := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), tt) // tensor_type
		v := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), name)
		return protowire.AppendBytes(protowire.AppendTag(v, 2, protowire.BytesType), typ)
	}
	node := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "x")
	node = protowire.AppendString(protowire.AppendTag(node, 2, protowire.BytesType), "y")
	node = protowire.AppendString(protowire.AppendTag(node, 3, protowire.BytesType), "relu")
	node = protowire.AppendString(protowire.AppendTag(node, 4, protowire.BytesType), "Relu")
	g := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), node)
	g = protowire.AppendString(protowire.AppendTag(g, 2, protowire.BytesType), "g")
	g = protowire.AppendBytes(protowire.AppendTag(g, 11, protowire.BytesType), value("x"))
	g = protowire.AppendBytes(protowire.AppendTag(g, 12, protowire.BytesType), value("y"))
	opset := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 13)
	m := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 8) // ir_version
	m = protowire.AppendBytes(protowire.AppendTag(m, 7, protowire.BytesType), g)
	return protowire.AppendBytes(protowire.AppendTag(m, 8, protowire.BytesType), opset)
}

// writeTemp writes data to a file in a fresh folder and returns its path.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// boundedCLI runs the CLI and fails the test unless it ends within limit
// having allocated at most maxAlloc bytes; it returns the exit code and
// standard error.
func boundedCLI(t *testing.T, limit time.Duration, maxAlloc uint64, args ...string) (int, string) {
	t.Helper()
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	start := time.Now()
	code, _, errs := runCLI(args...)
	took := time.Since(start)
	goruntime.ReadMemStats(&ms)
	alloc := ms.TotalAlloc - before
	t.Logf("exit %d after %v, %d MiB allocated: %s", code, took.Round(time.Millisecond), alloc>>20, strings.TrimSpace(errs))
	if took > limit {
		t.Errorf("took %v, more than %v", took, limit)
	}
	if alloc > maxAlloc {
		t.Errorf("allocated %d bytes, more than %d", alloc, maxAlloc)
	}
	return code, errs
}

// TestHostileDeclaredSizes: a model whose input declares 10^10 pixels (or
// a huge fixed batch) is refused by every command before the input is
// allocated, with an error naming the input and its size.
func TestHostileDeclaredSizes(t *testing.T) {
	img := "../../testdata/images/sample28.png"
	huge := writeTemp(t, "huge.onnx", reluModel(1, 1, 100000, 100000))
	batch := writeTemp(t, "batch.onnx", reluModel(50000000, 1, 28, 28))
	idxImages := "../../testdata/fashion-mnist/t10k-first500-images-idx3-ubyte.gz"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"classify, 100000×100000 input", []string{huge, img},
			`input "x" of shape [1,1,100000,100000] needs more than the limit of 2147483648 bytes per tensor`},
		{"classify, --crop 100000", []string{"--crop", "100000", img},
			`input "input": got shape [1,1,100000,100000], the model wants [batch,1,28,28]`},
		{"bench, 100000×100000 input", []string{"bench", huge},
			`input "x" of shape [1,1,100000,100000] needs more than the limit`},
		{"eval, fixed batch of 5·10^7", []string{"eval", batch, "--images", idxImages, "--progress", "none"},
			`input "x" of shape [50000000,1,28,28] needs more than the limit`},
		{"eval, --batch 10^9", []string{"eval", "../../models/fashion/fashion_lenet/model.onnx", "--images", idxImages,
			"--batch", "1000000000", "--progress", "none"},
			`of shape [1000000000,1,28,28] needs more than the limit`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, errs := boundedCLI(t, 10*time.Second, 64<<20, c.args...)
			if code != 1 || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errs, c.want)
			}
		})
	}
}

// TestPrepareMatchesErrMemoryLimit: the API refuses the same shapes with
// an error a program can match.
func TestPrepareMatchesErrMemoryLimit(t *testing.T) {
	m, err := bnrun.OpenBytes(reluModel(1, 1, 100000, 100000))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Prepare([]int{1, 1, 100000, 100000})
	if !errors.Is(err, bnrun.ErrMemoryLimit) {
		t.Fatalf("Prepare: %v, want an error matching ErrMemoryLimit", err)
	}
	if err := m.Prepare([]int{1, 1, 10, 10}); err == nil || errors.Is(err, bnrun.ErrMemoryLimit) {
		t.Fatalf("Prepare of a shape the model does not declare: %v, want a shape error", err)
	}
	small, err := bnrun.OpenBytes(reluModel(-1, 3, 8, 8), bnrun.WithMemoryLimits(1<<10, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if err := small.Prepare([]int{1, 3, 8, 8}); err != nil {
		t.Fatalf("768 bytes under a 1 KiB limit: %v", err)
	}
	if err := small.Prepare([]int{2, 3, 8, 8}); !errors.Is(err, bnrun.ErrMemoryLimit) {
		t.Fatalf("1536 bytes over a 1 KiB limit: %v", err)
	}
}

// TestHostileResize: a valid 60000×1 strip passes the pixel cap, but
// resizing its shorter side to 256 would make 15,360,000×256 pixels.
func TestHostileResize(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 60000, 1))); err != nil {
		t.Fatal(err)
	}
	strip := writeTemp(t, "strip.png", buf.Bytes())
	rgb := writeTemp(t, "rgb.onnx", reluModel(1, 3, 224, 224))
	code, errs := boundedCLI(t, 10*time.Second, 64<<20, rgb, strip)
	want := "resizing the 60000x1 image to a shorter side of 256 gives 15360000x256 pixels, more than the 536870912-byte image limit"
	if code != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, strip) {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q naming the file", code, errs, want)
	}
}

// withStdin makes standard input a pipe that delivers data, for the rest
// of the test.
func withStdin(t *testing.T, data []byte) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = saved; r.Close() })
	go func() { w.Write(data); w.Close() }()
}

// TestImageFromPipes: an image comes from standard input ("-") or a FIFO
// as well as from a file; a device is read only up to the file cap.
func TestImageFromPipes(t *testing.T) {
	want, err := loadImage("../../testdata/images/sample28.png")
	if err != nil {
		t.Fatal(err)
	}
	data := testImage(t, "sample28.png")
	check := func(t *testing.T, img image.Image, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != want.Bounds() || !bytes.Equal(img.(*image.Gray).Pix, want.(*image.Gray).Pix) {
			t.Fatal("the image read from the pipe differs from the file's")
		}
	}
	t.Run("stdin", func(t *testing.T) {
		withStdin(t, data)
		img, err := loadImage("-")
		check(t, img, err)
	})
	t.Run("fifo", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "img.fifo")
		if err := exec.Command("mkfifo", p).Run(); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		go func() {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err == nil {
				f.Write(data)
				f.Close()
			}
		}()
		img, err := loadImage(p)
		check(t, img, err)
	})
	t.Run("CLI reads standard input", func(t *testing.T) {
		withStdin(t, testImage(t, "fashion/0_tshirt.png"))
		code, out, errs := runCLI("-")
		if code != 0 || !strings.Contains(out, "T-shirt/top (class 0)") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("device", func(t *testing.T) {
		if _, err := os.Stat("/dev/zero"); err != nil {
			t.Skip("no /dev/zero")
		}
		start := time.Now()
		_, err := loadImage("/dev/zero")
		hostileCheck(t, err, "image /dev/zero is larger than 134217728 bytes")
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %v", took)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := loadImage(t.TempDir())
		hostileCheck(t, err, "is a directory")
	})
}

// TestHostileLabelsFile: --labels names a regular file of bounded size.
func TestHostileLabelsFile(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	code, errs := boundedCLI(t, 5*time.Second, 16<<20, "--labels", "/dev/zero", "../../testdata/images/sample28.png")
	if code != 1 || !strings.Contains(errs, "/dev/zero: a character device, not a regular file") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
