// Package npy reads and writes NumPy's array files: .npy (one array) and
// .npz (a zip archive of .npy files, as numpy.savez writes them), for
// feeding a model inputs and goldens made in Python.
//
// A .npy file is the magic "\x93NUMPY", a version (1.0, 2.0 or 3.0), the
// length of a header (2 bytes little endian in version 1, 4 in later ones),
// the header itself, a Python dict literal such as
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//
// padded with spaces and ended by a newline, then the elements in C
// order. Float32 ('f4') and float64 ('f8', rounded to float32) arrays read
// as float32 tensors, int64 ('i8') and int32 ('i4') ones as int64
// tensors, in either byte order. Fortran-order arrays, other element types
// and structured types are refused. Writing gives '<f4' or '<i8', C order.
//
// Reading is safe on hostile files: every size is checked against the
// data present and a byte limit before anything is allocated, and bad
// files give errors that match ErrFormat (or ir.ErrMemoryLimit for
// sizes over the limit), never a panic.
//
// It owns the file formats only: of bnrun it imports ir (Tensor and
// ErrMemoryLimit), and must not import ops, kern, runtime, loader, fold or
// the root package.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/bnrun/bnrun/ir"
)

// ErrFormat matches every error about a file that is not a valid .npy or
// .npz file, or holds an array this package does not read.
var ErrFormat = errors.New("not a valid NumPy array file")

// DefaultMaxBytes is the largest file ReadFile and ReadNPZ read when
// given a limit of 0, and the largest array they decode: 4 GiB.
const DefaultMaxBytes = 4 << 30

// maxHeader is the longest header read; NumPy writes a few dozen bytes.
const maxHeader = 1 << 20

// maxRank is the most dims an array may have (NumPy's own limit is 64).
const maxRank = 64

// magic starts every .npy file.
const magic = "\x93NUMPY"

// formatError is an error that matches ErrFormat.
type formatError struct{ msg string }

func (e *formatError) Error() string        { return e.msg }
func (e *formatError) Is(target error) bool { return target == ErrFormat }

func formatErrorf(format string, args ...any) error {
	return &formatError{msg: fmt.Sprintf(format, args...)}
}

// Decode parses a whole .npy file held in data.
func Decode(data []byte) (*ir.Tensor, error) {
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, formatErrorf("not a .npy file (no \\x93NUMPY magic)")
	}
	if len(data) < 10 {
		return nil, formatErrorf(".npy header truncated")
	}
	major := data[6]
	var hlen, start int
	switch major {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(data[8:10])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, formatErrorf(".npy header truncated")
		}
		h := binary.LittleEndian.Uint32(data[8:12])
		if h > maxHeader {
			return nil, formatErrorf(".npy header of %d bytes, more than %d", h, maxHeader)
		}
		hlen, start = int(h), 12
	default:
		return nil, formatErrorf(".npy version %d.%d, want 1.0, 2.0 or 3.0", major, data[7])
	}
	if len(data)-start < hlen {
		return nil, formatErrorf(".npy header of %d bytes, the file has %d after the preamble", hlen, len(data)-start)
	}
	h, err := parseHeader(string(data[start : start+hlen]))
	if err != nil {
		return nil, err
	}
	body := data[start+hlen:]
	// n·size bytes must be exactly what follows the header; n is known
	// not to overflow (parseHeader checks the product against MaxInt64/8).
	n := ir.NumElems(h.shape)
	if int64(n)*int64(h.size) != int64(len(body)) {
		return nil, formatErrorf(".npy array %s of %s needs %d bytes of data, the file has %d",
			ir.ShapeString(h.shape), h.descr, int64(n)*int64(h.size), len(body))
	}
	t := &ir.Tensor{Shape: h.shape}
	switch h.kind {
	case 'f':
		t.DType, t.F32 = ir.Float32, make([]float32, n)
		for i := range t.F32 {
			if h.size == 4 {
				t.F32[i] = math.Float32frombits(h.order.Uint32(body[4*i:]))
			} else {
				t.F32[i] = float32(math.Float64frombits(h.order.Uint64(body[8*i:])))
			}
		}
	default: // 'i'
		t.DType, t.I64 = ir.Int64, make([]int64, n)
		for i := range t.I64 {
			if h.size == 8 {
				t.I64[i] = int64(h.order.Uint64(body[8*i:]))
			} else {
				t.I64[i] = int64(int32(h.order.Uint32(body[4*i:])))
			}
		}
	}
	return t, nil
}

// header is what a .npy header says.
type header struct {
	descr string
	kind  byte // 'f' or 'i'
	size  int  // bytes per element
	order binary.ByteOrder
	shape []int
}

// parseHeader reads the dict literal of a .npy header: the keys descr,
// fortran_order and shape, each once (others are refused, as NumPy
// refuses them).
func parseHeader(s string) (*header, error) {
	p := &dictParser{s: s}
	h := &header{}
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return nil, formatErrorf(".npy header is not a dict: %.40q", s)
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, formatErrorf(".npy header has %q twice", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return nil, formatErrorf(".npy header: no ':' after %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if h.descr, err = p.str(); err != nil {
				return nil, err
			}
		case "fortran_order":
			b, err := p.boolean()
			if err != nil {
				return nil, err
			}
			if b {
				return nil, formatErrorf(".npy array in Fortran order; save it in C order (numpy.ascontiguousarray)")
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return nil, err
			}
		default:
			return nil, formatErrorf(".npy header has an unknown key %q", key)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return nil, formatErrorf(".npy header: want ',' or '}' at byte %d", p.i)
		}
		break
	}
	if rest := strings.TrimRight(s[p.i:], " \t\r\n\x00"); rest != "" {
		return nil, formatErrorf(".npy header: %.20q after the dict", rest)
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return nil, formatErrorf(".npy header has no %q", k)
		}
	}
	if err := h.setType(); err != nil {
		return nil, err
	}
	return h, nil
}

// setType reads descr: a byte order ('<', '>', '=' or '|'), a kind and
// a size.
func (h *header) setType() error {
	d := h.descr
	if len(d) != 3 {
		return formatErrorf(".npy element type %q: want float32 ('<f4'), float64, int64 or int32", d)
	}
	switch d[0] {
	case '<', '=', '|': // '=' is native: little endian on every platform bnrun builds for
		h.order = binary.LittleEndian
	case '>':
		h.order = binary.BigEndian
	default:
		return formatErrorf(".npy element type %q: unknown byte order", d)
	}
	switch d[1:] {
	case "f4", "f8", "i4", "i8":
		h.kind, h.size = d[1], int(d[2]-'0')
	default:
		return formatErrorf(".npy element type %q: want float32 ('<f4'), float64, int64 or int32", d)
	}
	if h.size > 1 && d[0] == '|' {
		return formatErrorf(".npy element type %q: no byte order for a multi-byte type", d)
	}
	return nil
}

// dictParser reads the small subset of Python literals .npy headers use.
type dictParser struct {
	s string
	i int
}

func (p *dictParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a quoted string without escapes.
func (p *dictParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", formatErrorf(".npy header: want a string at byte %d", p.i)
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", formatErrorf(".npy header: unterminated string at byte %d", p.i)
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", formatErrorf(".npy header: escapes in string %q", v)
	}
	p.i += end + 2
	return v, nil
}

func (p *dictParser) boolean() (bool, error) {
	switch {
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return false, formatErrorf(".npy header: want True or False at byte %d", p.i)
}

// tuple reads a tuple of non-negative ints, "()", "(3,)" or "(2, 3)",
// checking that the product of the dims stays below 2^63/8 so that no byte
// count computed from it overflows.
func (p *dictParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, formatErrorf(".npy header: want a shape tuple at byte %d", p.i)
	}
	shape := []int{}
	prod := int64(1)
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		j := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if j == p.i {
			return nil, formatErrorf(".npy header: want a dim at byte %d", p.i)
		}
		d, err := strconv.ParseInt(p.s[j:p.i], 10, 64)
		if err != nil || d > math.MaxInt64/8 {
			return nil, formatErrorf(".npy header: dim %s too large", p.s[j:p.i])
		}
		p.eat('L') // Python 2's long literals
		if d > 0 && prod > math.MaxInt64/8/d {
			return nil, formatErrorf(".npy header: shape has more than 2^60 elements")
		}
		prod *= d
		if len(shape) == maxRank {
			return nil, formatErrorf(".npy header: more than %d dims", maxRank)
		}
		shape = append(shape, int(d))
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		if !p.eat(',') {
			return nil, formatErrorf(".npy header: want ',' or ')' in the shape at byte %d", p.i)
		}
	}
}

// Encode returns t as a version 1.0 .npy file: '<f4' for a float32
// tensor, '<i8' for an int64 one, in C order.
func Encode(t *ir.Tensor) ([]byte, error) {
	descr := "<f4"
	n := len(t.F32)
	switch t.DType {
	case ir.Float32:
	case ir.Int64:
		descr, n = "<i8", len(t.I64)
	default:
		return nil, fmt.Errorf("npy: cannot write a %s tensor", t.DType)
	}
	if n != ir.NumElems(t.Shape) {
		return nil, fmt.Errorf("npy: tensor of shape %s holds %d elements", ir.ShapeString(t.Shape), n)
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := "(" + strings.Join(dims, ", ") + ")"
	if len(dims) == 1 {
		shape = "(" + dims[0] + ",)"
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	// pad with spaces and a newline so that the data start on a multiple
	// of 64 bytes, as NumPy does: 10 + len(h) + pad + 1 ≡ 0 (mod 64)
	pad := (64 - (10+len(h)+1)%64) % 64
	h += strings.Repeat(" ", pad) + "\n"
	size := 4
	if t.DType == ir.Int64 {
		size = 8
	}
	out := make([]byte, 10+len(h), 10+len(h)+size*n)
	copy(out, magic)
	out[6], out[7] = 1, 0
	if len(h) > math.MaxUint16 {
		// version 2.0: a 4-byte header length
		out = append(out, 0, 0)
		out[6] = 2
		binary.LittleEndian.PutUint32(out[8:12], uint32(len(h)))
		copy(out[12:], h)
	} else {
		binary.LittleEndian.PutUint16(out[8:10], uint16(len(h)))
		copy(out[10:], h)
	}
	if t.DType == ir.Int64 {
		for _, v := range t.I64 {
			out = binary.LittleEndian.AppendUint64(out, uint64(v))
		}
	} else {
		for _, v := range t.F32 {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	return out, nil
}

// ReadFile reads the .npy file at path. The file must be a regular file of
// at most maxBytes (0: DefaultMaxBytes); a larger one is refused before it
// is read, with an error matching ir.ErrMemoryLimit. Errors name the
// file.
func ReadFile(path string, maxBytes int64) (*ir.Tensor, error) {
	data, err := readRegular(path, maxBytes)
	if err != nil {
		return nil, err
	}
	t, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// WriteFile writes t to path as a .npy file (see Encode).
func WriteFile(path string, t *ir.Tensor) error {
	data, err := Encode(t)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// readRegular reads a regular file of at most maxBytes.
func readRegular(path string, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > maxBytes {
		return nil, ir.LimitErrorf("%s: %d bytes, over the limit of %d", path, st.Size(), maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, st.Size()+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > st.Size() {
		return nil, fmt.Errorf("%s: the file grew while it was read", path)
	}
	return data, nil
}
