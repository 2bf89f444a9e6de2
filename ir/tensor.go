package ir

import (
	"fmt"
	"strings"
)

// DType is an element type, numbered as ONNX's TensorProto.DataType.
type DType uint8

// The element types bnrun computes with. Integer tensors of other widths are
// widened to Int64 by the loader; Bool tensors are stored as Int64 0 or 1.
const (
	Undefined DType = 0
	Float32   DType = 1
	Int64     DType = 7
)

// otherDTypes names the ONNX types bnrun stores no tensor of, which a
// graph's declarations may still carry (STRING, the complex types, and
// those opset 19 and later add), for messages.
var otherDTypes = map[DType]string{
	8: "string", 14: "complex64", 15: "complex128",
	17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz",
	21: "uint4", 22: "int4", 23: "float4e2m1", 24: "float8e8m0", 25: "uint2", 26: "int2",
}

// String returns the ONNX name of the type.
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	case Undefined:
		return "undefined"
	}
	if name, ok := otherDTypes[d]; ok {
		return name
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Tensor is a dense row-major tensor. Exactly one of F32 and I64 holds the
// data, according to DType; its length is the product of Shape (1 for a
// scalar, whose Shape is empty).
type Tensor struct {
	DType DType
	Shape []int
	F32   []float32
	I64   []int64
}

// NumElems returns the product of shape (1 for a scalar).
func NumElems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// NewF32 returns a float32 tensor of the given shape. If data is nil a
// zeroed buffer is allocated.
func NewF32(shape []int, data []float32) *Tensor {
	if data == nil {
		data = make([]float32, NumElems(shape))
	}
	return &Tensor{DType: Float32, Shape: append([]int(nil), shape...), F32: data}
}

// NewI64 returns an int64 tensor of the given shape. If data is nil a zeroed
// buffer is allocated.
func NewI64(shape []int, data []int64) *Tensor {
	if data == nil {
		data = make([]int64, NumElems(shape))
	}
	return &Tensor{DType: Int64, Shape: append([]int(nil), shape...), I64: data}
}

// Len returns the number of elements the tensor's data holds.
func (t *Tensor) Len() int {
	if t.DType == Int64 {
		return len(t.I64)
	}
	return len(t.F32)
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: append([]int(nil), t.Shape...)}
	if t.F32 != nil {
		c.F32 = append([]float32(nil), t.F32...)
	}
	if t.I64 != nil {
		c.I64 = append([]int64(nil), t.I64...)
	}
	return c
}

// Ints returns the tensor's values as ints, for shape-like int64 inputs
// (Reshape's shape, Squeeze's axes, ...). Float tensors are rejected.
func (t *Tensor) Ints() ([]int, error) {
	if t.DType != Int64 {
		return nil, fmt.Errorf("want an int64 tensor, got %s", t.DType)
	}
	out := make([]int, len(t.I64))
	for i, v := range t.I64 {
		out[i] = int(v)
	}
	return out, nil
}

// ShapeString formats a shape as [d0,d1,...].
func ShapeString(shape []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, d)
	}
	b.WriteByte(']')
	return b.String()
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
