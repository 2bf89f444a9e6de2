package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"path"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bnrun/bnrun/ir"
)

// ONNX TensorProto.DataType values.
const (
	dtUndefined  = 0
	dtFloat      = 1
	dtUint8      = 2
	dtInt8       = 3
	dtUint16     = 4
	dtInt16      = 5
	dtInt32      = 6
	dtInt64      = 7
	dtString     = 8
	dtBool       = 9
	dtFloat16    = 10
	dtDouble     = 11
	dtUint32     = 12
	dtUint64     = 13
	dtComplex64  = 14
	dtComplex128 = 15
	dtBfloat16   = 16
)

// otherDataTypes names the data types bnrun rejects that ONNX added after
// BFLOAT16 (the 8-bit floats of opset 19, the 4-bit integers of opset 21,
// and later ones), for messages.
var otherDataTypes = map[int32]string{
	17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ",
	21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2",
}

// TensorProto field numbers.
const (
	tfDims         = 1
	tfDataType     = 2
	tfSegment      = 3
	tfFloatData    = 4
	tfInt32Data    = 5
	tfStringData   = 6
	tfInt64Data    = 7
	tfName         = 8
	tfRawData      = 9
	tfDoubleData   = 10
	tfUint64Data   = 11
	tfDocString    = 12
	tfExternalData = 13
	tfDataLocation = 14
)

// dtInfo describes how one ONNX data type is stored and what it becomes.
type dtInfo struct {
	name  string
	size  int              // bytes per element in raw_data and external data
	out   ir.DType         // the type bnrun computes with
	field protowire.Number // the typed field that holds it
	kind  scalarKind       // how that field encodes one element
}

var dtInfos = map[int32]dtInfo{
	dtFloat:    {"FLOAT", 4, ir.Float32, tfFloatData, kFixed32},
	dtUint8:    {"UINT8", 1, ir.Int64, tfInt32Data, kVarint},
	dtInt8:     {"INT8", 1, ir.Int64, tfInt32Data, kVarint},
	dtUint16:   {"UINT16", 2, ir.Int64, tfInt32Data, kVarint},
	dtInt16:    {"INT16", 2, ir.Int64, tfInt32Data, kVarint},
	dtInt32:    {"INT32", 4, ir.Int64, tfInt32Data, kVarint},
	dtInt64:    {"INT64", 8, ir.Int64, tfInt64Data, kVarint},
	dtBool:     {"BOOL", 1, ir.Int64, tfInt32Data, kVarint},
	dtFloat16:  {"FLOAT16", 2, ir.Float32, tfInt32Data, kVarint},
	dtDouble:   {"DOUBLE", 8, ir.Float32, tfDoubleData, kFixed64},
	dtUint32:   {"UINT32", 4, ir.Int64, tfUint64Data, kVarint},
	dtUint64:   {"UINT64", 8, ir.Int64, tfUint64Data, kVarint},
	dtBfloat16: {"BFLOAT16", 2, ir.Float32, tfInt32Data, kVarint},
}

// dataTypeName returns the ONNX name of a data type, for messages.
func dataTypeName(dt int32) string {
	if info, ok := dtInfos[dt]; ok {
		return info.name
	}
	switch dt {
	case dtUndefined:
		return "UNDEFINED"
	case dtString:
		return "STRING"
	case dtComplex64:
		return "COMPLEX64"
	case dtComplex128:
		return "COMPLEX128"
	}
	if name, ok := otherDataTypes[dt]; ok {
		return name
	}
	return "DataType(" + strconv.Itoa(int(dt)) + ")"
}

// valueDType maps a declared element type (of a graph input or output) to
// the type bnrun computes with. Types bnrun cannot represent keep their ONNX
// number, so that the runtime can name them when it rejects them.
func valueDType(elem int32) ir.DType {
	if info, ok := dtInfos[elem]; ok {
		return info.out
	}
	if elem < 0 || elem > math.MaxUint8 {
		return ir.Undefined
	}
	return ir.DType(elem)
}

// DefaultMaxTensorBytes is the cap on one tensor of a file when Options
// leaves it 0.
const DefaultMaxTensorBytes = 4 << 30

// tensorCtx is what decoding a tensor needs from its surroundings.
type tensorCtx struct {
	dir      string // where external data lives; "" forbids it
	fsys     fs.FS  // when not nil, dir is a path inside it
	maxBytes int64
}

func (o Options) tensorCtx() tensorCtx {
	c := tensorCtx{dir: o.Dir, fsys: o.FS, maxBytes: o.MaxTensorBytes}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxTensorBytes
	}
	return c
}

// tensorHeader is what the first pass over a TensorProto learns.
type tensorHeader struct {
	name         string
	dims         []int64
	dataType     int32
	raw          []byte
	ext          map[string]string
	extSet       bool
	dataLocation int32
	segment      bool
	counts       map[protowire.Number]int // elements per typed data field
}

// scanTensor reads everything but the typed data of a TensorProto, and
// counts (and validates) the typed data.
func scanTensor(b []byte) (*tensorHeader, error) {
	h := &tensorHeader{counts: map[protowire.Number]int{}}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case tfDims:
			h.dims, err = appendInt64s(h.dims, f)
		case tfDataType:
			h.dataType, err = f.int32v()
		case tfSegment:
			_, err = f.bytes()
			h.segment = true
		case tfFloatData:
			err = h.count(f, kFixed32)
		case tfInt32Data, tfInt64Data, tfUint64Data:
			err = h.count(f, kVarint)
		case tfDoubleData:
			err = h.count(f, kFixed64)
		case tfStringData:
			_, err = f.bytes()
			h.counts[tfStringData]++
		case tfName:
			h.name, err = f.str()
		case tfRawData:
			// Occurrences of a bytes field do not merge: the last wins.
			h.raw, err = f.bytes()
		case tfExternalData:
			var k, v string
			k, v, err = parseStringPair(f)
			if err == nil {
				if h.ext == nil {
					h.ext = map[string]string{}
				}
				h.ext[k] = v
				h.extSet = true
			}
		case tfDataLocation:
			h.dataLocation, err = f.int32v()
		}
		return err
	})
	if te, ok := err.(*truncatedError); ok {
		if name := typedFieldName[te.num]; name != "" {
			err = fmt.Errorf("%s: %w", name, err)
		}
	}
	return h, err
}

func (h *tensorHeader) count(f field, k scalarKind) error {
	n, err := countRepeated(f, k)
	if err != nil {
		return err
	}
	h.counts[f.num] += n
	return nil
}

// parseStringPair decodes a StringStringEntryProto (key 1, value 2).
func parseStringPair(f field) (k, v string, err error) {
	b, err := f.bytes()
	if err != nil {
		return "", "", err
	}
	err = eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			k, err = f.str()
		case 2:
			v, err = f.str()
		}
		return err
	})
	return k, v, err
}

// shapeOf checks dims and returns them as a shape with its element count.
// The product of the non-zero dims must fit in an int, even when a zero dim
// makes the tensor empty, so that later shape arithmetic cannot overflow.
func shapeOf(dims []int64) ([]int, int, error) {
	shape := make([]int, len(dims))
	n, nz := 1, 1
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("negative dim %d at axis %d", d, i)
		}
		if uint64(d) > math.MaxInt {
			return nil, 0, fmt.Errorf("dim %d at axis %d overflows int", d, i)
		}
		shape[i] = int(d)
		if d == 0 {
			n = 0
			continue
		}
		hi, lo := bits.Mul64(uint64(nz), uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return nil, 0, fmt.Errorf("dims %v: element count overflows", dims)
		}
		nz = int(lo)
	}
	if n != 0 {
		n = nz
	}
	return shape, n, nil
}

// mulSize returns n*size, or false when it overflows int64.
func mulSize(n, size int) (int64, bool) {
	hi, lo := bits.Mul64(uint64(n), uint64(size))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// decodeTensor decodes a TensorProto. It returns the tensor's name, as far
// as it was read, even on error, for the caller to name the tensor with.
func decodeTensor(b []byte, c tensorCtx) (string, *ir.Tensor, error) {
	h, err := scanTensor(b)
	if err != nil {
		return h.name, nil, err
	}
	t, err := h.decode(b, c)
	return h.name, t, err
}

// tensorErr names a tensor in an error: by its name, or else as what.
func tensorErr(name, what string, err error) error {
	if name != "" {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// typedFieldName names the data fields of a TensorProto, for messages.
var typedFieldName = map[protowire.Number]string{
	tfRawData:    "raw_data",
	tfFloatData:  "float_data",
	tfInt32Data:  "int32_data",
	tfStringData: "string_data",
	tfInt64Data:  "int64_data",
	tfDoubleData: "double_data",
	tfUint64Data: "uint64_data",
}

func (h *tensorHeader) decode(b []byte, c tensorCtx) (*ir.Tensor, error) {
	if h.segment {
		return nil, errors.New("segmented tensors are not supported")
	}
	info, ok := dtInfos[h.dataType]
	if !ok {
		return nil, fmt.Errorf("unsupported data type %s", dataTypeName(h.dataType))
	}
	shape, n, err := shapeOf(h.dims)
	if err != nil {
		return nil, err
	}
	outSize := 4
	if info.out == ir.Int64 {
		outSize = 8
	}
	size := max(outSize, info.size)
	nbytes, ok := mulSize(n, size)
	if !ok || nbytes > c.maxBytes || nbytes > math.MaxInt {
		return nil, ir.LimitErrorf("%s%s is larger than the %d-byte tensor limit",
			info.name, ir.ShapeString(shape), c.maxBytes)
	}
	// Typed fields other than the one for this type must be empty.
	for num, cnt := range h.counts {
		if cnt > 0 && num != info.field {
			return nil, fmt.Errorf("%s tensor has data in %s, which is not for that type", info.name, typedFieldName[num])
		}
	}
	typed := h.counts[info.field]
	t := &ir.Tensor{DType: info.out, Shape: shape}

	switch h.dataLocation {
	case 0:
		if h.extSet {
			return nil, errors.New("external_data is set but data_location is DEFAULT")
		}
	case 1:
		if len(h.raw) > 0 || typed > 0 {
			return nil, errors.New("external tensor also has data in the file")
		}
		rawLen := int64(n) * int64(info.size) // <= nbytes, no overflow
		raw, err := readExternal(h.ext, c.fsys, c.dir, rawLen)
		if err != nil {
			return nil, err
		}
		return t, fillRaw(t, info, h.dataType, raw, n)
	default:
		return nil, fmt.Errorf("unknown data_location %d", h.dataLocation)
	}

	if len(h.raw) > 0 {
		if typed > 0 {
			return nil, errors.New("tensor has both raw_data and typed data")
		}
		if want := int64(n) * int64(info.size); int64(len(h.raw)) != want {
			return nil, fmt.Errorf("%s%s needs %d bytes of raw_data, got %d",
				info.name, ir.ShapeString(shape), want, len(h.raw))
		}
		return t, fillRaw(t, info, h.dataType, h.raw, n)
	}
	if typed != n {
		return nil, fmt.Errorf("%s%s needs %d elements, got %d", info.name, ir.ShapeString(shape), n, typed)
	}
	return t, fillTyped(t, info, h.dataType, b, n)
}

// allocate sizes t's data buffer for n elements.
func allocate(t *ir.Tensor, n int) {
	if t.DType == ir.Int64 {
		t.I64 = make([]int64, n)
	} else {
		t.F32 = make([]float32, n)
	}
}

// store writes element i of t from its stored bits v.
type storeFunc func(t *ir.Tensor, i int, v uint64) error

func storer(dt int32) storeFunc {
	switch dt {
	case dtFloat:
		return func(t *ir.Tensor, i int, v uint64) error {
			t.F32[i] = math.Float32frombits(uint32(v))
			return nil
		}
	case dtDouble:
		return func(t *ir.Tensor, i int, v uint64) error {
			t.F32[i] = float32(math.Float64frombits(v))
			return nil
		}
	case dtFloat16:
		return func(t *ir.Tensor, i int, v uint64) error {
			t.F32[i] = Float16ToFloat32(uint16(v))
			return nil
		}
	case dtBfloat16:
		return func(t *ir.Tensor, i int, v uint64) error {
			t.F32[i] = math.Float32frombits(uint32(uint16(v)) << 16)
			return nil
		}
	case dtUint8:
		return func(t *ir.Tensor, i int, v uint64) error { t.I64[i] = int64(uint8(v)); return nil }
	case dtInt8:
		return func(t *ir.Tensor, i int, v uint64) error { t.I64[i] = int64(int8(v)); return nil }
	case dtUint16:
		return func(t *ir.Tensor, i int, v uint64) error { t.I64[i] = int64(uint16(v)); return nil }
	case dtInt16:
		return func(t *ir.Tensor, i int, v uint64) error { t.I64[i] = int64(int16(v)); return nil }
	case dtInt32:
		return func(t *ir.Tensor, i int, v uint64) error { t.I64[i] = int64(int32(v)); return nil }
	case dtUint32:
		return func(t *ir.Tensor, i int, v uint64) error { t.I64[i] = int64(uint32(v)); return nil }
	case dtInt64:
		return func(t *ir.Tensor, i int, v uint64) error { t.I64[i] = int64(v); return nil }
	case dtBool:
		return func(t *ir.Tensor, i int, v uint64) error {
			if v != 0 {
				t.I64[i] = 1
			} else {
				t.I64[i] = 0
			}
			return nil
		}
	case dtUint64:
		return func(t *ir.Tensor, i int, v uint64) error {
			if v > math.MaxInt64 {
				return fmt.Errorf("UINT64 value %d at index %d does not fit in int64", v, i)
			}
			t.I64[i] = int64(v)
			return nil
		}
	}
	return nil
}

// fillRaw decodes n little-endian elements from raw (whose length the
// caller has checked) into t.
func fillRaw(t *ir.Tensor, info dtInfo, dt int32, raw []byte, n int) error {
	if len(raw) != n*info.size {
		return fmt.Errorf("internal: raw length %d for %d elements", len(raw), n)
	}
	allocate(t, n)
	switch dt {
	case dtFloat:
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return nil
	case dtInt64:
		for i := range t.I64 {
			t.I64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return nil
	}
	store := storer(dt)
	for i := range n {
		var v uint64
		p := raw[i*info.size:]
		switch info.size {
		case 1:
			v = uint64(p[0])
		case 2:
			v = uint64(binary.LittleEndian.Uint16(p))
		case 4:
			v = uint64(binary.LittleEndian.Uint32(p))
		default:
			v = binary.LittleEndian.Uint64(p)
		}
		if err := store(t, i, v); err != nil {
			return err
		}
	}
	return nil
}

// fillTyped decodes the n elements of the typed data field for dt.
func fillTyped(t *ir.Tensor, info dtInfo, dt int32, b []byte, n int) error {
	allocate(t, n)
	store := storer(dt)
	i := 0
	return eachField(b, func(f field) error {
		if f.num != info.field {
			return nil
		}
		return eachRepeated(f, info.kind, func(v uint64) error {
			if i >= n {
				return errors.New("internal: more typed elements than counted")
			}
			err := store(t, i, v)
			i++
			return err
		})
	})
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to a float32,
// exactly (every half value is representable), keeping NaN payloads'
// top bits and the sign of zeros and infinities.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: mant * 2^-24, exact in float32.
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// readExternal reads want bytes of external data described by the
// external_data entries ext, resolved inside dir.
func readExternal(ext map[string]string, fsys fs.FS, dir string, want int64) ([]byte, error) {
	loc, ok := ext["location"]
	if !ok || loc == "" {
		return nil, errors.New("external data has no location")
	}
	if dir == "" {
		return nil, fmt.Errorf("external data %q: no directory to resolve it in", loc)
	}
	var off int64
	if s, ok := ext["offset"]; ok {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("external data %q: bad offset %q", loc, s)
		}
		off = v
	}
	length := int64(-1)
	if s, ok := ext["length"]; ok {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("external data %q: bad length %q", loc, s)
		}
		if v != want {
			return nil, fmt.Errorf("external data %q: length %d, but the tensor needs %d bytes", loc, v, want)
		}
		length = v
	}
	if fsys != nil {
		return readExternalFS(fsys, dir, loc, off, length, want)
	}
	path, err := resolveInside(dir, loc)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	// A named pipe would block the open and a device never end: the
	// kind is checked before opening.
	f, st, err := openRegular(path)
	if err != nil {
		if _, ok := err.(*NotRegularError); ok {
			return nil, fmt.Errorf("external data %q is %w", loc, err)
		}
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	defer f.Close()
	size := st.Size()
	if off > size {
		return nil, fmt.Errorf("external data %q: offset %d is past the end of the %d-byte file", loc, off, size)
	}
	if length < 0 && size-off != want {
		return nil, fmt.Errorf("external data %q: %d bytes from offset %d, but the tensor needs %d",
			loc, size-off, off, want)
	}
	if want > size-off {
		return nil, fmt.Errorf("external data %q: offset %d + length %d is past the end of the %d-byte file",
			loc, off, want, size)
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	return buf, nil
}

// readExternalFS is readExternal for a model opened from an fs.FS: the
// location, relative and inside the FS (fs.ValidPath after joining it to
// dir), must name a regular file holding want bytes at off (its length,
// when given, was checked to be want; length < 0: the file's rest).
func readExternalFS(fsys fs.FS, dir, loc string, off, length, want int64) ([]byte, error) {
	name := path.Join(dir, loc)
	if path.IsAbs(loc) || !fs.ValidPath(name) || !fs.ValidPath(path.Clean(loc)) {
		return nil, fmt.Errorf("external data %q: location must be a relative path inside the model's file system", loc)
	}
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("external data %q is not a regular file (%s)", loc, st.Mode().Type())
	}
	size := st.Size()
	switch {
	case off > size:
		return nil, fmt.Errorf("external data %q: offset %d is past the end of the %d-byte file", loc, off, size)
	case length < 0 && size-off != want:
		return nil, fmt.Errorf("external data %q: %d bytes from offset %d, but the tensor needs %d", loc, size-off, off, want)
	case want > size-off:
		return nil, fmt.Errorf("external data %q: offset %d + length %d is past the end of the %d-byte file", loc, off, want, size)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	defer f.Close()
	buf := make([]byte, want)
	if ra, ok := f.(io.ReaderAt); ok {
		_, err = ra.ReadAt(buf, off)
	} else {
		// skip to the offset, then read exactly want bytes
		if _, err = io.CopyN(io.Discard, f, off); err == nil {
			_, err = io.ReadFull(f, buf)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	return buf, nil
}

// resolveInside joins a relative location to dir and checks that the
// result, with every symlink resolved, is still inside dir.
func resolveInside(dir, loc string) (string, error) {
	if filepath.IsAbs(loc) || filepath.VolumeName(loc) != "" || (len(loc) > 0 && (loc[0] == '/' || loc[0] == '\\')) {
		return "", errors.New("location must be a relative path")
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if !filepath.IsLocal(clean) {
		return "", errors.New("location escapes the model's directory")
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	realDir, err = filepath.Abs(realDir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(dir, clean))
	if err != nil {
		return "", err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(realDir, real)
	if err != nil || !filepath.IsLocal(rel) {
		return "", errors.New("location resolves outside the model's directory")
	}
	return real, nil
}

// ReadTensor decodes a serialized ONNX TensorProto, such as the input and
// output .pb files of ONNX's test cases, with the default tensor size limit.
// External data is an error.
func ReadTensor(data []byte) (name string, t *ir.Tensor, err error) {
	return readTensor(data, Options{})
}

// ReadTensorFile reads a TensorProto file; external data is resolved in
// the file's folder. The file is read as ReadFile reads it, up to
// DefaultMaxFileBytes.
func ReadTensorFile(path string) (name string, t *ir.Tensor, err error) {
	data, err := ReadFile(path, DefaultMaxFileBytes)
	if err != nil {
		return "", nil, err
	}
	name, t, err = readTensor(data, Options{Dir: filepath.Dir(path)})
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return name, t, err
}

func readTensor(data []byte, opt Options) (string, *ir.Tensor, error) {
	name, t, err := decodeTensor(data, opt.tensorCtx())
	if err != nil {
		return "", nil, fmt.Errorf("loader: %w", tensorErr(name, "tensor", err))
	}
	return name, t, nil
}

// EncodeTensor serializes t as an ONNX TensorProto named name, with its
// data little-endian in raw_data: FLOAT for Float32 tensors, INT64 for
// Int64 ones. A tensor of any other DType is written with that data type
// and no data.
func EncodeTensor(name string, t *ir.Tensor) []byte {
	var b []byte
	for _, d := range t.Shape {
		b = protowire.AppendTag(b, tfDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(d)))
	}
	b = protowire.AppendTag(b, tfDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DType))
	if name != "" {
		b = protowire.AppendTag(b, tfName, protowire.BytesType)
		b = protowire.AppendString(b, name)
	}
	var raw []byte
	switch t.DType {
	case ir.Float32:
		raw = make([]byte, 4*len(t.F32))
		for i, v := range t.F32 {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case ir.Int64:
		raw = make([]byte, 8*len(t.I64))
		for i, v := range t.I64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	}
	if len(raw) > 0 {
		b = protowire.AppendTag(b, tfRawData, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	}
	return b
}
