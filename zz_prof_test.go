package bnrun_test

import (
	"context"
	"os"
	"testing"

	"github.com/bnrun/bnrun"
)

func TestZZProf(t *testing.T) {
	path := os.Getenv("ZZMODEL")
	if path == "" {
		t.Skip()
	}
	m, err := bnrun.Open(path, bnrun.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	x := bnrun.NewTensor([]int{1, 3, 224, 224}, make([]float32, 3*224*224))
	for i := range x.F32 {
		x.F32[i] = float32(i%255) / 255
	}
	in := map[string]*bnrun.Tensor{m.Inputs()[0].Name: x}
	for range 60 {
		if _, err := m.Run(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
}
