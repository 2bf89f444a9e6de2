package bnrun

import (
	"testing"

	"github.com/bnrun/bnrun/ir"
)

// TestKernelAttrs formats window attributes, leaving out ones of 1, and
// reads a convolution's kernel from its weights when it has no
// kernel_shape.
func TestKernelAttrs(t *testing.T) {
	ints := func(name string, v ...int64) *ir.Attr { return &ir.Attr{Name: name, Type: ir.AttrInts, Ints: v} }
	n := &ir.Node{OpType: "Conv", Inputs: []string{"x", "w"}, Attrs: map[string]*ir.Attr{
		"strides":   ints("strides", 1, 1),
		"dilations": ints("dilations", 2, 2),
		"group":     {Name: "group", Type: ir.AttrInt, I: 32},
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
	n = &ir.Node{OpType: "Relu", Inputs: []string{"x"}}
	if got := kernelAttrs(n, shape); got != "" {
		t.Errorf("Relu: %q", got)
	}
}
