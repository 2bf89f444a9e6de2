package bnrun_test

import (
	"context"
	"math"
	"testing"

	"github.com/bnrun/bnrun"
)

// TestBatchSizesShareRunMemory runs the shipped Fashion-MNIST nets at
// batch sizes that go up and down, so that a Run gets memory a larger
// batch left behind, and checks each output bit for bit against a fresh
// model's at the same batch. New memory is filled with NaN (BNRUN_POISON),
// so a kernel that reads what it did not write shows up either way.
func TestBatchSizesShareRunMemory(t *testing.T) {
	t.Setenv("BNRUN_POISON", "1")
	for _, path := range []string{
		"models/fashion/fashion_resnet/model.onnx",
		"models/fashion/fashion_densenet/model.onnx",
		"testdata/models/lenet_bn_op13/model.onnx",
	} {
		t.Run(path, func(t *testing.T) {
			m, err := bnrun.Open(path, bnrun.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			name, out := m.Inputs()[0].Name, m.Outputs()[0].Name
			input := func(batch int) map[string]*bnrun.Tensor {
				x := bnrun.NewTensor([]int{batch, 1, 28, 28}, nil)
				for i := range x.F32 {
					x.F32[i] = float32((i*37)%101) / 101
				}
				return map[string]*bnrun.Tensor{name: x}
			}
			for _, batch := range []int{5, 2, 7, 1, 3, 7} {
				fresh, err := bnrun.Open(path, bnrun.WithThreads(2))
				if err != nil {
					t.Fatal(err)
				}
				want, err := fresh.Run(context.Background(), input(batch))
				fresh.Close()
				if err != nil {
					t.Fatal(err)
				}
				got, err := m.Run(context.Background(), input(batch))
				if err != nil {
					t.Fatal(err)
				}
				for i, w := range want[out].F32 {
					if math.IsNaN(float64(w)) {
						t.Fatalf("batch %d: output %d is NaN: a step read memory it did not write", batch, i)
					}
					if g := got[out].F32[i]; math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("batch %d after other batch sizes: output %d = %v, a fresh model gives %v", batch, i, g, w)
					}
				}
			}
		})
	}
}

// TestPlanCacheEviction runs more batch sizes than WithPlanCache(2) keeps
// plans for, returning to evicted ones, and checks every output bit for
// bit against the first Run at that batch size.
func TestPlanCacheEviction(t *testing.T) {
	m, err := bnrun.Open("models/fashion/fashion_resnet/model.onnx", bnrun.WithThreads(2), bnrun.WithPlanCache(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	name, out := m.Inputs()[0].Name, m.Outputs()[0].Name
	first := map[int][]float32{}
	for _, batch := range []int{1, 2, 3, 1, 4, 2, 3, 1} {
		x := bnrun.NewTensor([]int{batch, 1, 28, 28}, nil)
		for i := range x.F32 {
			x.F32[i] = float32((i*31)%97) / 97
		}
		got, err := m.Run(context.Background(), map[string]*bnrun.Tensor{name: x})
		if err != nil {
			t.Fatal(err)
		}
		want, seen := first[batch]
		if !seen {
			first[batch] = got[out].F32
			continue
		}
		for i, w := range want {
			if g := got[out].F32[i]; math.Float32bits(g) != math.Float32bits(w) {
				t.Fatalf("batch %d again after evictions: output %d = %v, first %v", batch, i, g, w)
			}
		}
	}
}
