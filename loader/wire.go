package loader

import (
	"errors"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// field is one decoded field of a protobuf message. For varint, fixed32 and
// fixed64 fields u holds the value; for length-delimited fields b holds the
// payload, which aliases the message bytes.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64
	b   []byte
	cut *truncatedError // set when b is only what remains of a cut field
}

// eachField calls fn for every field of the message encoded in b, in order.
// Groups (a deprecated encoding ONNX never uses) are skipped whole.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			if errors.Is(protowire.ParseError(n), io.ErrUnexpectedEOF) {
				return &truncatedError{}
			}
			return fmt.Errorf("bad field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u = uint64(v)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			if l, m := protowire.ConsumeVarint(b); m >= 0 && l > uint64(len(b)-m) {
				return truncated(num, l, b[m:], fn)
			}
			f.b, n = protowire.ConsumeBytes(b)
		case protowire.StartGroupType:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		default:
			return fmt.Errorf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			if errors.Is(protowire.ParseError(n), io.ErrUnexpectedEOF) {
				return &truncatedError{num: num}
			}
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// truncatedError is a field cut short by the end of its message: a
// length-delimited one that declares more bytes than are left (declared >
// 0), or a tag or value that ends midway. A file cut short gives one, and
// so does a hostile length.
type truncatedError struct {
	num      protowire.Number
	declared uint64
	left     int
	rest     []byte // what there is of the field
}

func (e *truncatedError) Error() string {
	switch {
	case e.num == 0:
		return "a field tag is cut short (truncated or corrupt data)"
	case e.declared == 0:
		return fmt.Sprintf("field %d is cut short (truncated or corrupt data)", e.num)
	}
	return fmt.Sprintf("field %d declares %d bytes, but only %d remain (truncated or corrupt data)", e.num, e.declared, e.left)
}

// truncated reports field num, which declares more bytes than the rest of
// its message holds. To name what was cut, it first hands fn what there is
// of the field (marked cut): when decoding that ends in a truncation deeper
// down (the tensor whose raw_data was cut, inside an initializer), fn's
// error, which names the tensor or node, is returned instead. Either way an
// error is returned, so nothing fn does with the partial field is kept.
func truncated(num protowire.Number, declared uint64, rest []byte, fn func(f field) error) error {
	te := &truncatedError{num: num, declared: declared, left: len(rest), rest: rest}
	var inner *truncatedError
	if err := fn(field{num: num, typ: protowire.BytesType, b: rest, cut: te}); err != nil && errors.As(err, &inner) {
		return err
	}
	return te
}

var errWireType = errors.New("wrong wire type")

func (f field) wrongType() error {
	return fmt.Errorf("field %d: %w (%s)", f.num, errWireType, wireTypeName(f.typ))
}

func wireTypeName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited"
	case protowire.StartGroupType, protowire.EndGroupType:
		return "group"
	}
	return fmt.Sprintf("wire type %d", t)
}

// bytes returns the payload of a length-delimited field.
func (f field) bytes() ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, f.wrongType()
	}
	return f.b, nil
}

// str returns the payload of a length-delimited field as a string. What
// remains of a cut field is not a string: it is the truncation error.
func (f field) str() (string, error) {
	if f.cut != nil {
		return "", f.cut
	}
	b, err := f.bytes()
	return string(b), err
}

// varint returns the value of a varint field.
func (f field) varint() (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType()
	}
	return f.u, nil
}

// int64v returns a varint field as an int64 (protobuf's int64 encoding).
func (f field) int64v() (int64, error) {
	v, err := f.varint()
	return int64(v), err
}

// int32v returns a varint field as an int32, truncating as protobuf does.
func (f field) int32v() (int32, error) {
	v, err := f.varint()
	return int32(v), err
}

// float32v returns the value of a fixed32 field holding a float.
func (f field) float32v() (float32, error) {
	if f.typ != protowire.Fixed32Type {
		return 0, f.wrongType()
	}
	return math.Float32frombits(uint32(f.u)), nil
}

// scalarKind is how one element of a repeated numeric field is encoded.
type scalarKind uint8

const (
	kVarint scalarKind = iota
	kFixed32
	kFixed64
)

func (k scalarKind) wireType() protowire.Type {
	switch k {
	case kFixed32:
		return protowire.Fixed32Type
	case kFixed64:
		return protowire.Fixed64Type
	}
	return protowire.VarintType
}

// countRepeated returns how many elements one occurrence of a repeated
// numeric field holds, accepting both the packed and the unpacked encoding.
// It validates the packed payload completely.
func countRepeated(f field, k scalarKind) (int, error) {
	if f.typ == k.wireType() {
		return 1, nil
	}
	if f.typ != protowire.BytesType {
		return 0, f.wrongType()
	}
	switch k {
	case kFixed32:
		if len(f.b)%4 != 0 {
			return 0, fmt.Errorf("field %d: packed fixed32 length %d is not a multiple of 4", f.num, len(f.b))
		}
		return len(f.b) / 4, nil
	case kFixed64:
		if len(f.b)%8 != 0 {
			return 0, fmt.Errorf("field %d: packed fixed64 length %d is not a multiple of 8", f.num, len(f.b))
		}
		return len(f.b) / 8, nil
	}
	n := 0
	for b := f.b; len(b) > 0; n++ {
		_, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return 0, fmt.Errorf("field %d: packed varint: %w", f.num, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return n, nil
}

// eachRepeated calls fn with every element of one occurrence of a repeated
// numeric field, packed or unpacked. Fixed32 elements are passed zero-extended.
func eachRepeated(f field, k scalarKind, fn func(v uint64) error) error {
	if f.typ == k.wireType() {
		return fn(f.u)
	}
	if f.typ != protowire.BytesType {
		return f.wrongType()
	}
	b := f.b
	for len(b) > 0 {
		var v uint64
		var m int
		switch k {
		case kFixed32:
			var x uint32
			x, m = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case kFixed64:
			v, m = protowire.ConsumeFixed64(b)
		default:
			v, m = protowire.ConsumeVarint(b)
		}
		if m < 0 {
			return fmt.Errorf("field %d: packed: %w", f.num, protowire.ParseError(m))
		}
		b = b[m:]
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// appendInt64s appends the elements of a repeated int64 field occurrence.
func appendInt64s(dst []int64, f field) ([]int64, error) {
	err := eachRepeated(f, kVarint, func(v uint64) error {
		dst = append(dst, int64(v))
		return nil
	})
	return dst, err
}

// appendFloat32s appends the elements of a repeated float field occurrence.
func appendFloat32s(dst []float32, f field) ([]float32, error) {
	err := eachRepeated(f, kFixed32, func(v uint64) error {
		dst = append(dst, math.Float32frombits(uint32(v)))
		return nil
	})
	return dst, err
}

// concat joins the occurrences of a non-repeated message field: protobuf
// merges them, and concatenating encodings is exactly that merge.
func concat(parts [][]byte) []byte {
	if len(parts) == 1 {
		return parts[0]
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
