package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/bnrun/bnrun"
)

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
