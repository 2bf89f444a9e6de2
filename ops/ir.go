package ops

import "github.com/bnrun/bnrun/ir"

// The graph's types live in package ir. The names below let the operators
// keep saying Tensor, Node and Float32; packages other than ops name ir.

// DType is ir.DType, an element type.
type DType = ir.DType

// Tensor is ir.Tensor, a dense row-major tensor.
type Tensor = ir.Tensor

// AttrType is ir.AttrType, an attribute's type.
type AttrType = ir.AttrType

// Attr is ir.Attr, one node attribute.
type Attr = ir.Attr

// Node is ir.Node, what an operator builder sees of a graph node.
type Node = ir.Node

// The element types, ir's.
const (
	// Undefined is ir.Undefined.
	Undefined = ir.Undefined
	// Float32 is ir.Float32.
	Float32 = ir.Float32
	// Int64 is ir.Int64.
	Int64 = ir.Int64
)

// The attribute types, ir's.
const (
	// AttrFloat is ir.AttrFloat.
	AttrFloat = ir.AttrFloat
	// AttrInt is ir.AttrInt.
	AttrInt = ir.AttrInt
	// AttrString is ir.AttrString.
	AttrString = ir.AttrString
	// AttrTensor is ir.AttrTensor.
	AttrTensor = ir.AttrTensor
	// AttrGraph is ir.AttrGraph.
	AttrGraph = ir.AttrGraph
	// AttrFloats is ir.AttrFloats.
	AttrFloats = ir.AttrFloats
	// AttrInts is ir.AttrInts.
	AttrInts = ir.AttrInts
	// AttrStrings is ir.AttrStrings.
	AttrStrings = ir.AttrStrings
)

// NumElems is ir.NumElems: the product of shape (1 for a scalar).
func NumElems(shape []int) int { return ir.NumElems(shape) }

// NewF32 is ir.NewF32: a float32 tensor of the given shape, zeroed when
// data is nil.
func NewF32(shape []int, data []float32) *Tensor { return ir.NewF32(shape, data) }

// NewI64 is ir.NewI64: an int64 tensor of the given shape, zeroed when
// data is nil.
func NewI64(shape []int, data []int64) *Tensor { return ir.NewI64(shape, data) }

// ShapeString is ir.ShapeString: a shape as [d0,d1,...].
func ShapeString(shape []int) string { return ir.ShapeString(shape) }

// SameShape is ir.SameShape: whether two shapes are equal.
func SameShape(a, b []int) bool { return ir.SameShape(a, b) }

// ErrMemoryLimit is ir.ErrMemoryLimit, matched (with errors.Is) by every
// error that refuses an allocation over a limit.
var ErrMemoryLimit = ir.ErrMemoryLimit

// LimitErrorf is ir.LimitErrorf: an error that matches ErrMemoryLimit,
// its message the formatted text alone.
func LimitErrorf(format string, args ...any) error { return ir.LimitErrorf(format, args...) }
