package runtime

import (
	"fmt"
	"math"

	"github.com/bnrun/bnrun/ir"
)

// CheckInputShapes checks shapes for the graph's inputs before a caller
// allocates tensors of those shapes: the count, each shape's rank and
// fixed dims against the declaration, and the memory each input would
// take against the limits (one input at most Options.MaxTensorBytes, all
// of them together at most Options.MaxTotalBytes). A shape over a limit
// gives an error that matches ir.ErrMemoryLimit and names the input, its
// shape and its size. Planning does not count the inputs, which are the
// caller's memory: this is for callers that allocate inputs from sizes a
// file declares.
func (p *Program) CheckInputShapes(shapes [][]int) error {
	if len(shapes) != len(p.inputSlot) {
		return inputErrorf("", countKind(len(shapes), len(p.inputSlot)), "got %d input shapes, the model has %d inputs", len(shapes), len(p.inputSlot))
	}
	var total int64
	for i, s := range shapes {
		if err := checkDeclared(p.graph.Inputs[i], s); err != nil {
			return err
		}
		b, err := p.inputBytes(i, s)
		if err != nil {
			return err
		}
		total += b
		if total > p.opts.MaxTotalBytes {
			return ir.LimitErrorf("inputs %s take %d bytes or more, over the limit of %d bytes per Run",
				p.inputsString(shapes[:i+1]), total, p.opts.MaxTotalBytes)
		}
	}
	return nil
}

// inputBytes returns the bytes input i takes with the given shape, or an
// error when the shape is negative or over the per-tensor limit.
func (p *Program) inputBytes(i int, shape []int) (int64, error) {
	vi := p.graph.Inputs[i]
	size := int64(4)
	if vi.DType == ir.Int64 {
		size = 8
	}
	// n·size <= limit, checked one dim at a time so nothing overflows
	limit := p.opts.MaxTensorBytes / size
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, inputErrorf(vi.Name, ErrInputShape, "negative dimension in shape %s", ir.ShapeString(shape))
		}
		if d > 0 && n > limit/int64(d) {
			return 0, ir.LimitErrorf("input %q of shape %s needs more than the limit of %d bytes per tensor",
				vi.Name, ir.ShapeString(shape), p.opts.MaxTensorBytes)
		}
		n *= int64(d)
	}
	return n * size, nil
}

// checkInputs validates each input's type and shape against its declaration.
func (p *Program) checkInputs(inputs []*ir.Tensor) error {
	for i, t := range inputs {
		vi := p.graph.Inputs[i]
		if t == nil {
			return inputErrorf(vi.Name, ErrMissingInput, "given as nil")
		}
		if vi.DType != ir.Undefined && t.DType != vi.DType {
			return inputErrorf(vi.Name, ErrInputType, "got %s, the model wants %s", t.DType, vi.DType)
		}
		n, err := elemCount(t.Shape)
		if err != nil {
			return inputErrorf(vi.Name, ErrInputShape, "%v", err)
		}
		if t.Len() != n {
			return inputErrorf(vi.Name, ErrInputShape, "shape %s needs %d elements, data has %d", ir.ShapeString(t.Shape), n, t.Len())
		}
		if err := checkDeclared(vi, t.Shape); err != nil {
			return err
		}
	}
	return nil
}

// ShapesFor returns the graph inputs' declared shapes with every dynamic
// dim set to batch, or an error naming an input whose shape is not
// declared.
func (p *Program) ShapesFor(batch int) ([][]int, error) {
	shapes := make([][]int, len(p.graph.Inputs))
	for i, in := range p.graph.Inputs {
		if in.Dims == nil {
			return nil, fmt.Errorf("input %q has no declared shape", in.Name)
		}
		shapes[i] = make([]int, len(in.Dims))
		for j, d := range in.Dims {
			shapes[i][j] = d.Value
			if d.Param != "" || d.Value < 0 {
				shapes[i][j] = batch
			}
		}
	}
	return shapes, nil
}

// checkDeclared checks an input's shape against its declared rank and
// fixed dims (any shape when none are declared).
func checkDeclared(vi ir.ValueInfo, shape []int) error {
	if vi.Dims == nil {
		return nil
	}
	if len(shape) != len(vi.Dims) {
		return inputErrorf(vi.Name, ErrInputShape, "got shape %s, the model wants rank %d (%s)", ir.ShapeString(shape), len(vi.Dims), DimsString(vi.Dims))
	}
	for j, d := range vi.Dims {
		if d.Value >= 0 && d.Param == "" && shape[j] != d.Value {
			return inputErrorf(vi.Name, ErrInputShape, "got shape %s, the model wants %s", ir.ShapeString(shape), DimsString(vi.Dims))
		}
	}
	return nil
}

// elemCount returns the number of elements of shape. A negative dim is an
// error, and so is a product of the non-zero dims that overflows an int,
// even when a zero dim makes the tensor empty, so that no later shape
// arithmetic can overflow.
func elemCount(shape []int) (int, error) {
	n, empty := 1, false
	for _, d := range shape {
		switch {
		case d < 0:
			return 0, fmt.Errorf("negative dimension in shape %s", ir.ShapeString(shape))
		case d == 0:
			empty = true
		case n > math.MaxInt/d:
			return 0, fmt.Errorf("shape %s has more elements than an int can count", ir.ShapeString(shape))
		default:
			n *= d
		}
	}
	if empty {
		return 0, nil
	}
	return n, nil
}
