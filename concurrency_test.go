package bnrun_test

import (
	"context"
	"sync"
	"testing"

	"github.com/bnrun/bnrun"
)

// TestConcurrentRuns runs one model from 16 goroutines with different
// batch sizes at once and checks every result against a sequential run.
// CI also runs it under the race detector.
func TestConcurrentRuns(t *testing.T) {
	m, err := bnrun.Open("testdata/models/mlp_bn_op13/model.onnx", bnrun.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	lenet, err := bnrun.Open("testdata/models/lenet_bn_op13/model.onnx", bnrun.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer lenet.Close()
	input := func(batch int) *bnrun.Tensor {
		x := bnrun.NewTensor([]int{batch, 1, 28, 28}, nil)
		for i := range x.F32 {
			x.F32[i] = float32((i*31)%97) / 97
		}
		return x
	}
	models := []*bnrun.Model{m, lenet}
	want := map[[2]int][]float32{}
	for mi, mod := range models {
		for batch := 1; batch <= 4; batch++ {
			out, err := mod.Run(context.Background(), map[string]*bnrun.Tensor{"input": input(batch)})
			if err != nil {
				t.Fatal(err)
			}
			want[[2]int{mi, batch}] = out[mod.Outputs()[0].Name].F32
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				mi, batch := (g+i)%2, 1+(g*3+i)%4
				mod := models[mi]
				out, err := mod.Run(context.Background(), map[string]*bnrun.Tensor{"input": input(batch)})
				if err != nil {
					t.Error(err)
					return
				}
				got, exp := out[mod.Outputs()[0].Name].F32, want[[2]int{mi, batch}]
				for j := range exp {
					if got[j] != exp[j] {
						t.Errorf("goroutine %d, model %d, batch %d: element %d = %v, sequential gave %v", g, mi, batch, j, got[j], exp[j])
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}
