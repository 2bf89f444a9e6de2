package bnrun_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bnrun/bnrun"
)

// benchModel times Run at batch 1 on one model, after a warm-up run that
// makes the plan, and reports MAC throughput.
func benchModel(b *testing.B, path string, opts ...bnrun.Option) {
	m, err := bnrun.Open(path, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	shapes, err := m.ShapesFor(1)
	if err != nil {
		b.Fatal(err)
	}
	in := []*bnrun.Tensor{bnrun.NewTensor(shapes[0], nil)}
	for i := range in[0].F32 {
		in[0].F32[i] = float32(i%255)/127 - 1
	}
	outs := make([]*bnrun.Tensor, len(m.Outputs()))
	ctx := context.Background()
	if err := m.RunInto(ctx, in, outs); err != nil {
		b.Fatal(err)
	}
	st, err := m.Stats(1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := m.RunInto(ctx, in, outs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*float64(st.TotalMACs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkLeNet times the shipped BN-LeNet.
func BenchmarkLeNet(b *testing.B) {
	benchModel(b, "testdata/models/lenet_bn_op17/model.onnx")
}

// BenchmarkGenerated times resnet18, resnet50, densenet121 and
// mobilenet_v2 (BN-kept exports, opset 17) from BNRUN_GOLDEN_DIR, folded
// and unfolded.
func BenchmarkGenerated(b *testing.B) {
	root := os.Getenv("BNRUN_GOLDEN_DIR")
	if root == "" {
		b.Skip("BNRUN_GOLDEN_DIR not set")
	}
	for _, arch := range []string{"resnet18", "resnet50", "densenet121", "mobilenet_v2"} {
		path := filepath.Join(root, arch+"_bn_op17", "model.onnx")
		b.Run(arch, func(b *testing.B) { benchModel(b, path) })
		b.Run(arch+"/no-fold", func(b *testing.B) { benchModel(b, path, bnrun.WithoutFold()) })
	}
}
