package runtime

import (
	"github.com/bnrun/bnrun/ops"
)

// CheckInputShapes checks shapes for the graph's inputs before a caller
// allocates tensors of those shapes: the count, each shape's rank and
// fixed dims against the declaration, and the memory each input would
// take against the limits (one input at most Options.MaxTensorBytes, all
// of them together at most Options.MaxTotalBytes). A shape over a limit
// gives an error that matches ops.ErrMemoryLimit and names the input, its
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
			return ops.LimitErrorf("inputs %s take %d bytes or more, over the limit of %d bytes per Run",
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
	if vi.DType == ops.Int64 {
		size = 8
	}
	// n·size <= limit, checked one dim at a time so nothing overflows
	limit := p.opts.MaxTensorBytes / size
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, inputErrorf(vi.Name, ErrInputShape, "negative dimension in shape %s", ops.ShapeString(shape))
		}
		if d > 0 && n > limit/int64(d) {
			return 0, ops.LimitErrorf("input %q of shape %s needs more than the limit of %d bytes per tensor",
				vi.Name, ops.ShapeString(shape), p.opts.MaxTensorBytes)
		}
		n *= int64(d)
	}
	return n * size, nil
}
