package loader

import (
	"errors"
	"fmt"

	"github.com/bnrun/bnrun/ir"
)

// SparseTensorProto field numbers.
const (
	sfValues  = 1
	sfIndices = 2
	sfDims    = 3
)

// decodeSparse decodes a SparseTensorProto into a dense tensor named after
// its values tensor.
func decodeSparse(b []byte, tc tensorCtx) (string, *ir.Tensor, error) {
	var vparts, iparts [][]byte
	var dims []int64
	err := eachField(b, func(f field) error {
		var err error
		var p []byte
		switch f.num {
		case sfValues:
			p, err = f.bytes()
			vparts = append(vparts, p)
		case sfIndices:
			p, err = f.bytes()
			iparts = append(iparts, p)
		case sfDims:
			dims, err = appendInt64s(dims, f)
		}
		return err
	})
	if err != nil {
		return "", nil, err
	}
	if len(vparts) == 0 || len(iparts) == 0 {
		return "", nil, errors.New("sparse tensor needs values and indices")
	}
	name, vals, err := decodeTensor(concat(vparts), tc)
	if err != nil {
		return name, nil, fmt.Errorf("values: %w", err)
	}
	iname, idx, err := decodeTensor(concat(iparts), tc)
	if err != nil {
		return name, nil, fmt.Errorf("indices: %w", tensorErr(iname, "tensor", err))
	}
	shape, n, err := shapeOf(dims)
	if err != nil {
		return name, nil, err
	}
	size := 4
	if vals.DType == ir.Int64 {
		size = 8
	}
	if nb, ok := mulSize(n, size); !ok || nb > tc.maxBytes {
		return name, nil, ir.LimitErrorf("dense %s is larger than the %d-byte tensor limit", ir.ShapeString(shape), tc.maxBytes)
	}
	if len(vals.Shape) != 1 {
		return name, nil, fmt.Errorf("values have shape %s, want 1-D", ir.ShapeString(vals.Shape))
	}
	nnz := vals.Shape[0]
	if idx.DType != ir.Int64 {
		return name, nil, errors.New("indices are not integers")
	}
	rank := len(shape)
	switch {
	case len(idx.Shape) == 1 && idx.Shape[0] == nnz:
	case len(idx.Shape) == 2 && idx.Shape[0] == nnz && idx.Shape[1] == rank:
	default:
		return name, nil, fmt.Errorf("indices have shape %s, want [%d] or [%d,%d]",
			ir.ShapeString(idx.Shape), nnz, nnz, rank)
	}
	t := &ir.Tensor{DType: vals.DType, Shape: shape}
	allocate(t, n)
	for k := range nnz {
		var lin int64
		if len(idx.Shape) == 1 {
			lin = idx.I64[k]
			if lin < 0 || lin >= int64(n) {
				return name, nil, fmt.Errorf("index %d out of range for %d elements", lin, n)
			}
		} else {
			for ax := range rank {
				v := idx.I64[k*rank+ax]
				if v < 0 || v >= int64(shape[ax]) {
					return name, nil, fmt.Errorf("index %d out of range for axis %d of %s",
						v, ax, ir.ShapeString(shape))
				}
				lin = lin*int64(shape[ax]) + v // < n, no overflow
			}
		}
		if t.DType == ir.Int64 {
			t.I64[lin] = vals.I64[k]
		} else {
			t.F32[lin] = vals.F32[k]
		}
	}
	return name, t, nil
}
