package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bnrun/bnrun"
)

// FuzzDecodeImage feeds bytes to the CLI's image path: decoding must fail
// with an error or give an image that preprocessing turns into a tensor,
// never panic or allocate without bound.
func FuzzDecodeImage(f *testing.F) {
	seeds, _ := filepath.Glob("../../testdata/images/*.*")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decodeImage(data, "fuzz")
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Dx()*b.Dy() > 1<<16 {
			return // large but valid: decoding is what is fuzzed here
		}
		for _, ch := range []int{1, 3} {
			p := &preprocessing{channels: ch, resize: 9, cropH: 7, cropW: 7,
				mean: []float32{0.5, 0.5, 0.5}[:ch], std: []float32{0.25, 0.25, 0.25}[:ch]}
			x, err := p.apply(img)
			if err != nil {
				t.Fatal(err)
			}
			if len(x) != ch*49 {
				t.Fatalf("%d values for %d channels", len(x), ch)
			}
		}
	})
}

// FuzzOpenRun (here, where the tests are few and fast, rather than in the root
// package, whose tests load large models) feeds model bytes to OpenBytes and, when a model opens, runs
// it on zeros at batch 1: every step must end in a result or an error,
// never a panic, a hang or an allocation past the memory limits.
func FuzzOpenRun(f *testing.F) {
	// A small seed: Go's fuzzer mutates large inputs very slowly.
	for _, s := range []string{"../../testdata/tiny/model.onnx"} {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := bnrun.OpenBytes(data, bnrun.WithThreads(1), bnrun.WithMemoryLimits(4<<20, 16<<20))
		if err != nil {
			return
		}
		defer m.Close()
		shapes, err := m.ShapesFor(1)
		if err != nil {
			return
		}
		// A valid model may legitimately need hours of arithmetic; run only
		// the ones of test size (the LeNet seed needs 0.3M MACs).
		if st, err := m.Stats(1); err != nil || st.TotalMACs > 20e6 {
			return
		}
		in := map[string]*bnrun.Tensor{}
		for i, info := range m.Inputs() {
			n := 1
			for _, d := range shapes[i] {
				n *= d
			}
			if n > 1<<20 {
				return
			}
			t := &bnrun.Tensor{DType: info.DType, Shape: shapes[i]}
			if info.DType == bnrun.Int64 {
				t.I64 = make([]int64, n)
			} else {
				t.F32 = make([]float32, n)
			}
			in[info.Name] = t
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Run(ctx, in)
	})
}
