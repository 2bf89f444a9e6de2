package bnrun

import (
	"testing"

	"github.com/bnrun/bnrun/ops"
)

// TestKernelAttrs formats window attributes, leaving out ones of 1, and
// reads a convolution's kernel from its weights when it has no
// kernel_shape.
func TestKernelAttrs(t *testing.T) {
	ints := func(name string, v ...int64) *ops.Attr { return &ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }
	n := &ops.Node{OpType: "Conv", Inputs: []string{"x", "w"}, Attrs: map[string]*ops.Attr{
		"strides":   ints("strides", 1, 1),
		"dilations": ints("dilations", 2, 2),
		"group":     {Name: "group", Type: ops.AttrInt, I: 32},
	}}
	shape := func(name string) []int {
		if name == "w" {
			return []int{32, 1, 3, 5}
		}
		return nil
	}
	if got, want := kernelAttrs(n, shape), "kernel_shape 3×5  dilations 2×2  group 32"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	n = &ops.Node{OpType: "Relu", Inputs: []string{"x"}}
	if got := kernelAttrs(n, shape); got != "" {
		t.Errorf("Relu: %q", got)
	}
}
