//go:build !nocuda

package runtime

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern/cuda"
)

// TestCUDAModeWithoutGPU checks Compile's device modes where no GPU is
// usable: DeviceCUDA fails naming the cause, DeviceAuto compiles for the
// CPU and keeps the cause, DeviceCPU does not look.
func TestCUDAModeWithoutGPU(t *testing.T) {
	if err := cuda.Available(); err == nil {
		t.Skip("a GPU is usable here")
	}
	g := &ir.Graph{Inputs: []ir.ValueInfo{{Name: "x", DType: ir.Float32, Dims: []ir.Dim{{Value: 2}}}},
		Outputs: []ir.ValueInfo{{Name: "y"}},
		Nodes:   []*ir.Node{{Name: "r", OpType: "Relu", Opset: 17, Inputs: []string{"x"}, Outputs: []string{"y"}}}}
	if _, err := Compile(g, Options{Device: DeviceCUDA}); err == nil {
		t.Fatal("DeviceCUDA without a GPU compiled")
	}
	p, err := Compile(g, Options{Device: DeviceAuto})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if d, why := p.Device(); d != "" || why == nil {
		t.Fatalf("DeviceAuto: Device() = %q, %v", d, why)
	}
	q, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if d, why := q.Device(); d != "" || why != nil {
		t.Fatalf("DeviceCPU: Device() = %q, %v", d, why)
	}
}
