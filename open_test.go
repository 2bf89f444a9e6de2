package bnrun_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bnrun/bnrun"
)

// TestOpenFromAnything opens the shipped model from a file, from a reader
// and from an fs.FS (as //go:embed gives one) and checks that the three
// give the same model: same info, bit-identical outputs.
func TestOpenFromAnything(t *testing.T) {
	const file = "models/fashion/fashion_resnet/model.onnx"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := bnrun.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fromFile.Close()
	fromReader, err := bnrun.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer fromReader.Close()
	fromFS, err := bnrun.OpenFS(os.DirFS("models/fashion"), "fashion_resnet/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	defer fromFS.Close()

	info := fromFile.Info()
	if info.IRVersion <= 0 || info.Opsets[""] < 7 || info.ProducerName == "" || info.Metadata["labels"] == "" {
		t.Errorf("Info() = %+v: want an IR version, the default opset, the producer and the labels", info)
	}
	if s := info.String(); !strings.Contains(s, "ai.onnx:") {
		t.Errorf("Info().String() = %q", s)
	}
	x := bnrun.NewTensor([]int{2, 1, 28, 28}, nil)
	for i := range x.F32 {
		x.F32[i] = float32(i%29) / 29
	}
	name := fromFile.Inputs()[0].Name
	want, err := fromFile.Run(context.Background(), map[string]*bnrun.Tensor{name: x})
	if err != nil {
		t.Fatal(err)
	}
	for what, m := range map[string]*bnrun.Model{"OpenReader": fromReader, "OpenFS": fromFS} {
		if got := m.Info(); got.String() != info.String() || got.DocString != info.DocString {
			t.Errorf("%s: Info() = %v, Open's %v", what, got, info)
		}
		got, err := m.Run(context.Background(), map[string]*bnrun.Tensor{name: x})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for k, w := range want {
			g := got[k]
			for i := range w.F32 {
				if math.Float32bits(g.F32[i]) != math.Float32bits(w.F32[i]) {
					t.Fatalf("%s: output %s[%d] = %v, Open's %v", what, k, i, g.F32[i], w.F32[i])
				}
			}
		}
	}
}

// TestOpenFSExternalData opens a model whose weights live in a second file
// of an fs.FS, and refuses locations outside it or files that are not
// regular; OpenReader refuses external data and inputs over the limit.
func TestOpenFSExternalData(t *testing.T) {
	w := make([]byte, 16)
	for i, v := range []float32{1, 2, 3, 4} {
		binary.LittleEndian.PutUint32(w[4*i:], math.Float32bits(v))
	}
	fsys := fstest.MapFS{
		"m/model.onnx":  {Data: hExtModel("w.bin")},
		"m/w.bin":       {Data: w},
		"m/up.onnx":     {Data: hExtModel("../secret.bin")},
		"secret.bin":    {Data: w},
		"m/short.onnx":  {Data: hExtModel("short.bin")},
		"m/short.bin":   {Data: w[:8]},
		"m/dir.onnx":    {Data: hExtModel("sub")},
		"m/sub/x":       {Data: w},
		"m/absent.onnx": {Data: hExtModel("nothere.bin")},
	}
	m, err := bnrun.OpenFS(fsys, "m/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Run(context.Background(), map[string]*bnrun.Tensor{"x": bnrun.NewTensor([]int{4}, []float32{10, 20, 30, 40})})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["y"].F32; got[0] != 11 || got[3] != 44 {
		t.Errorf("y = %v, want [11 22 33 44]", got)
	}
	m.Close()
	for name, want := range map[string]string{
		"m/up.onnx":     "location must be a relative path inside the model's file system",
		"m/short.onnx":  "8 bytes from offset 0, but the tensor needs 16",
		"m/dir.onnx":    "is not a regular file",
		"m/absent.onnx": "file does not exist",
		"m":             "not a regular file",
		"../m":          "invalid argument",
	} {
		_, err := bnrun.OpenFS(fsys, name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenFS(%q): error %v, want one containing %q", name, err, want)
		}
	}
	if _, err := bnrun.OpenReader(bytes.NewReader(hExtModel("w.bin"))); err == nil || !strings.Contains(err.Error(), "no directory") {
		t.Errorf("OpenReader of a model with external data: %v", err)
	}
	big := make([]byte, 4<<10)
	if _, err := bnrun.OpenReader(bytes.NewReader(big), bnrun.WithMemoryLimits(1<<10, 1<<10)); !errors.Is(err, bnrun.ErrMemoryLimit) {
		t.Errorf("OpenReader over the limit: %v, want ErrMemoryLimit", err)
	}
	if _, err := bnrun.OpenFS(fstest.MapFS{"big.onnx": {Data: big}}, "big.onnx", bnrun.WithMemoryLimits(1<<10, 1<<10)); !errors.Is(err, bnrun.ErrMemoryLimit) {
		t.Errorf("OpenFS over the limit: %v, want ErrMemoryLimit", err)
	}
}
