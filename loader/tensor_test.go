package loader

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bnrun/bnrun/ir"
)

func mustRead(t *testing.T, b pb) (string, *ir.Tensor) {
	t.Helper()
	name, ten, err := ReadTensor(b)
	if err != nil {
		t.Fatalf("ReadTensor: %v", err)
	}
	return name, ten
}

func checkF32(t *testing.T, ten *ir.Tensor, shape []int, want []float32) {
	t.Helper()
	if ten.DType != ir.Float32 || !ir.SameShape(ten.Shape, shape) || ten.I64 != nil {
		t.Fatalf("got %v %v (I64 %v), want float32 %v", ten.DType, ten.Shape, ten.I64, shape)
	}
	if len(ten.F32) != len(want) {
		t.Fatalf("got %v, want %v", ten.F32, want)
	}
	for i := range want {
		if math.Float32bits(ten.F32[i]) != math.Float32bits(want[i]) &&
			!(math.IsNaN(float64(want[i])) && math.IsNaN(float64(ten.F32[i]))) {
			t.Fatalf("got %v, want %v", ten.F32, want)
		}
	}
}

func checkI64(t *testing.T, ten *ir.Tensor, shape []int, want []int64) {
	t.Helper()
	if ten.DType != ir.Int64 || !ir.SameShape(ten.Shape, shape) || ten.F32 != nil {
		t.Fatalf("got %v %v, want int64 %v", ten.DType, ten.Shape, shape)
	}
	if !reflect.DeepEqual(ten.I64, want) {
		t.Fatalf("got %v, want %v", ten.I64, want)
	}
}

func le16(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

func le32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func le64(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func neg(v int64) uint64 { return uint64(v) }

// TestRawDataTypes decodes raw_data of every supported type.
func TestRawDataTypes(t *testing.T) {
	f32 := func(v ...float32) []uint32 {
		out := make([]uint32, len(v))
		for i, x := range v {
			out[i] = math.Float32bits(x)
		}
		return out
	}
	cases := []struct {
		name string
		dt   int32
		raw  []byte
		f    []float32
		i    []int64
	}{
		{"float", dtFloat, le32(f32(1.5, -2, 0)...), []float32{1.5, -2, 0}, nil},
		{"double", dtDouble, le64(math.Float64bits(1.5), math.Float64bits(-1e300), math.Float64bits(0.1)),
			[]float32{1.5, float32(math.Inf(-1)), 0.1}, nil},
		{"float16", dtFloat16, le16(0x3e00, 0xc000, 0x0001), []float32{1.5, -2, 5.9604645e-08}, nil},
		{"bfloat16", dtBfloat16, le16(0x3fc0, 0xc000, 0x0000), []float32{1.5, -2, 0}, nil},
		{"uint8", dtUint8, []byte{0, 200, 255}, nil, []int64{0, 200, 255}},
		{"int8", dtInt8, []byte{0, 0x80, 0xff}, nil, []int64{0, -128, -1}},
		{"uint16", dtUint16, le16(0, 40000, 65535), nil, []int64{0, 40000, 65535}},
		{"int16", dtInt16, le16(1, 0x8000, 0xffff), nil, []int64{1, -32768, -1}},
		{"int32", dtInt32, le32(7, 0x80000000, 0xffffffff), nil, []int64{7, math.MinInt32, -1}},
		{"uint32", dtUint32, le32(7, 0x80000000, 0xffffffff), nil, []int64{7, 1 << 31, 1<<32 - 1}},
		{"int64", dtInt64, le64(7, neg(math.MinInt64), neg(-1)), nil, []int64{7, math.MinInt64, -1}},
		{"uint64", dtUint64, le64(7, math.MaxInt64, 0), nil, []int64{7, math.MaxInt64, 0}},
		{"bool", dtBool, []byte{0, 1, 2}, nil, []int64{0, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, ten := mustRead(t, tensorPB("t_"+c.name, c.dt, 3).bytes(tfRawData, c.raw))
			if name != "t_"+c.name {
				t.Errorf("name %q", name)
			}
			if c.f != nil {
				checkF32(t, ten, []int{3}, c.f)
			} else {
				checkI64(t, ten, []int{3}, c.i)
			}
		})
	}
}

// TestTypedDataTypes decodes the typed repeated fields of every supported
// type, both packed and unpacked.
func TestTypedDataTypes(t *testing.T) {
	type enc func(b pb, packed bool) pb
	varints := func(num protowire.Number, vs ...uint64) enc {
		return func(b pb, packed bool) pb {
			if packed {
				return b.packedVarints(num, vs...)
			}
			for _, v := range vs {
				b = b.varint(num, v)
			}
			return b
		}
	}
	cases := []struct {
		name string
		dt   int32
		data enc
		f    []float32
		i    []int64
	}{
		{"float", dtFloat, func(b pb, packed bool) pb {
			if packed {
				return b.packedFloats(tfFloatData, 1.5, -2, 0)
			}
			return b.floats(tfFloatData, 1.5, -2, 0)
		}, []float32{1.5, -2, 0}, nil},
		{"double", dtDouble, func(b pb, packed bool) pb {
			if packed {
				return b.packedDoubles(tfDoubleData, 1.5, -2, 0.25)
			}
			return b.fixed64(tfDoubleData, math.Float64bits(1.5)).
				fixed64(tfDoubleData, math.Float64bits(-2)).
				fixed64(tfDoubleData, math.Float64bits(0.25))
		}, []float32{1.5, -2, 0.25}, nil},
		{"float16", dtFloat16, varints(tfInt32Data, 0x3e00, 0xc000, 0x7c00), []float32{1.5, -2, float32(math.Inf(1))}, nil},
		{"bfloat16", dtBfloat16, varints(tfInt32Data, 0x3fc0, 0xc000, 0), []float32{1.5, -2, 0}, nil},
		{"uint8", dtUint8, varints(tfInt32Data, 0, 200, 255), nil, []int64{0, 200, 255}},
		{"int8", dtInt8, varints(tfInt32Data, 0, neg(-128), neg(-1)), nil, []int64{0, -128, -1}},
		{"uint16", dtUint16, varints(tfInt32Data, 0, 40000, 65535), nil, []int64{0, 40000, 65535}},
		{"int16", dtInt16, varints(tfInt32Data, 1, neg(-32768), neg(-1)), nil, []int64{1, -32768, -1}},
		{"int32", dtInt32, varints(tfInt32Data, 7, neg(math.MinInt32), neg(-1)), nil, []int64{7, math.MinInt32, -1}},
		{"uint32", dtUint32, varints(tfUint64Data, 7, 1<<31, 1<<32-1), nil, []int64{7, 1 << 31, 1<<32 - 1}},
		{"int64", dtInt64, varints(tfInt64Data, 7, neg(math.MinInt64), neg(-1)), nil, []int64{7, math.MinInt64, -1}},
		{"uint64", dtUint64, varints(tfUint64Data, 7, math.MaxInt64, 0), nil, []int64{7, math.MaxInt64, 0}},
		{"bool", dtBool, varints(tfInt32Data, 0, 1, 1), nil, []int64{0, 1, 1}},
	}
	for _, c := range cases {
		for _, packed := range []bool{false, true} {
			name := c.name + "/unpacked"
			if packed {
				name = c.name + "/packed"
			}
			t.Run(name, func(t *testing.T) {
				_, ten := mustRead(t, c.data(tensorPB("t", c.dt, 3), packed))
				if c.f != nil {
					checkF32(t, ten, []int{3}, c.f)
				} else {
					checkI64(t, ten, []int{3}, c.i)
				}
			})
		}
	}
}

// TestPackedDims accepts dims in either encoding, and data split across
// several occurrences of a field, in any order.
func TestPackedDims(t *testing.T) {
	b := pb{}.float(tfFloatData, 1).str(tfName, "p").
		packedInts(tfDims, 2, 1).int(tfDims, 2).
		packedFloats(tfFloatData, 2, 3).float(tfFloatData, 4).
		int(tfDataType, dtFloat)
	_, ten := mustRead(t, b)
	checkF32(t, ten, []int{2, 1, 2}, []float32{1, 2, 3, 4})
}

func TestScalarAndEmpty(t *testing.T) {
	_, ten := mustRead(t, tensorPB("s", dtFloat).float(tfFloatData, 2.5))
	checkF32(t, ten, []int{}, []float32{2.5})
	_, ten = mustRead(t, tensorPB("s", dtInt64).bytes(tfRawData, le64(9)))
	checkI64(t, ten, []int{}, []int64{9})
	_, ten = mustRead(t, tensorPB("e", dtInt64, 0, 3))
	checkI64(t, ten, []int{0, 3}, []int64{})
	if _, _, err := ReadTensor(tensorPB("s", dtFloat)); err == nil {
		t.Error("scalar without data: no error")
	}
}

func TestFloat16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		s := 1.0
		if h&0x8000 != 0 {
			s = -1
		}
		e := (h >> 10) & 0x1f
		m := float64(h & 0x3ff)
		var want float64
		switch {
		case e == 0:
			want = s * m * math.Pow(2, -24)
		case e == 31 && m == 0:
			want = math.Inf(int(s))
		case e == 31:
			want = math.NaN()
		default:
			want = s * (1 + m/1024) * math.Pow(2, float64(e-15))
		}
		got := Float16ToFloat32(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (s < 0) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
	}
}

func TestUint64TooLarge(t *testing.T) {
	for _, b := range []pb{
		tensorPB("big", dtUint64, 1).bytes(tfRawData, le64(1<<63)),
		tensorPB("big", dtUint64, 1).varint(tfUint64Data, 1<<63),
	} {
		_, _, err := ReadTensor(b)
		if err == nil || !strings.Contains(err.Error(), `"big"`) {
			t.Errorf("got %v, want an error naming the tensor", err)
		}
	}
}

func TestStringTensorRejected(t *testing.T) {
	_, _, err := ReadTensor(tensorPB("words", dtString, 1).str(tfStringData, "hi"))
	if err == nil || !strings.Contains(err.Error(), `"words"`) || !strings.Contains(err.Error(), "STRING") {
		t.Errorf("got %v", err)
	}
}

func TestEncodeTensorRoundTrip(t *testing.T) {
	for _, in := range []*ir.Tensor{
		ir.NewF32([]int{2, 3}, []float32{1, 2, 3, 4, 5, float32(math.Inf(-1))}),
		ir.NewF32(nil, []float32{7}),
		ir.NewI64([]int{4}, []int64{1, -1, math.MaxInt64, math.MinInt64}),
		ir.NewI64([]int{0, 5}, nil),
	} {
		name, out, err := ReadTensor(EncodeTensor("rt", in))
		if err != nil {
			t.Fatal(err)
		}
		if name != "rt" || out.DType != in.DType || !ir.SameShape(out.Shape, in.Shape) ||
			out.Len() != in.Len() {
			t.Fatalf("round trip: got %q %+v, want %+v", name, out, in)
		}
		for i := range in.F32 {
			if in.F32[i] != out.F32[i] {
				t.Fatalf("F32 %v != %v", out.F32, in.F32)
			}
		}
		for i := range in.I64 {
			if in.I64[i] != out.I64[i] {
				t.Fatalf("I64 %v != %v", out.I64, in.I64)
			}
		}
	}
}

func TestReadTensorFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "output_0.pb")
	if err := os.WriteFile(p, EncodeTensor("y", ir.NewF32([]int{2}, []float32{1, 2})), 0o644); err != nil {
		t.Fatal(err)
	}
	name, ten, err := ReadTensorFile(p)
	if err != nil || name != "y" {
		t.Fatalf("ReadTensorFile: %q %v", name, err)
	}
	checkF32(t, ten, []int{2}, []float32{1, 2})
	if _, _, err := ReadTensorFile(filepath.Join(dir, "missing.pb")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestMaxTensorBytes(t *testing.T) {
	// The limit is checked before anything is allocated: a tensor claiming
	// 2^40 elements fails on the limit, not on its missing data.
	_, _, err := ReadTensor(tensorPB("huge", dtFloat, 1<<20, 1<<20))
	if err == nil || !strings.Contains(err.Error(), "limit") || !strings.Contains(err.Error(), `"huge"`) {
		t.Errorf("got %v", err)
	}
	small := floatTensorPB("w", []int64{4}, 1, 2, 3, 4)
	g := pb{}.msg(gfInitializer, small).msg(gfOutput, valueInfoPB("w", dtFloat, nil))
	m := modelPB(g, opsetPB("", 13))
	if _, err := Load(m, Options{MaxTensorBytes: 15}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("15-byte limit: got %v", err)
	}
	if _, err := Load(m, Options{MaxTensorBytes: 16}); err != nil {
		t.Errorf("16-byte limit: %v", err)
	}
	// Int32 widens to 8 bytes an element: the decoded size counts.
	i32 := tensorPB("i", dtInt32, 2).bytes(tfRawData, le32(1, 2))
	m = modelPB(pb{}.msg(gfInitializer, i32), opsetPB("", 13))
	if _, err := Load(m, Options{MaxTensorBytes: 15}); err == nil {
		t.Error("int32 widened past the limit: no error")
	}
}

func TestMalformedTensors(t *testing.T) {
	cases := []struct {
		name string
		b    pb
		want string
	}{
		{"negative dim", tensorPB("t", dtFloat, 2, -1), "negative dim"},
		{"dims overflow", tensorPB("t", dtFloat, 1<<40, 1<<40), "overflow"},
		{"dims overflow with zero", tensorPB("t", dtFloat, 0, 1<<40, 1<<40), "overflow"},
		{"raw too short", tensorPB("t", dtFloat, 2).bytes(tfRawData, le32(1)), "raw_data"},
		{"raw too long", tensorPB("t", dtFloat, 1).bytes(tfRawData, le32(1, 2)), "raw_data"},
		{"typed too few", tensorPB("t", dtFloat, 3).floats(tfFloatData, 1, 2), "needs 3 elements"},
		{"typed too many", tensorPB("t", dtInt64, 1).ints(tfInt64Data, 1, 2), "needs 1 elements"},
		{"raw and typed", tensorPB("t", dtFloat, 1).bytes(tfRawData, le32(1)).float(tfFloatData, 1), "both"},
		{"wrong typed field", tensorPB("t", dtFloat, 1).ints(tfInt64Data, 1), "int64_data"},
		{"undefined type", tensorPB("t", dtUndefined, 1), "UNDEFINED"},
		{"complex", tensorPB("t", dtComplex64, 1), "COMPLEX64"},
		{"unknown type", tensorPB("t", 99, 1), "99"},
		{"segment", tensorPB("t", dtFloat, 1).float(tfFloatData, 1).msg(tfSegment, pb{}.int(1, 0)), "segment"},
		{"packed floats ragged", tensorPB("t", dtFloat, 1).bytes(tfFloatData, []byte{1, 2, 3}), "multiple of 4"},
		{"packed doubles ragged", tensorPB("t", dtDouble, 1).bytes(tfDoubleData, []byte{1, 2, 3}), "multiple of 8"},
		{"packed varint truncated", tensorPB("t", dtInt64, 1).bytes(tfInt64Data, []byte{0x80}), "packed"},
		{"float_data as varint", tensorPB("t", dtFloat, 1).varint(tfFloatData, 1), "wire type"},
		{"name as varint", pb{}.varint(tfName, 1), "wire type"},
		{"dims as fixed64", pb{}.fixed64(tfDims, 1), "wire type"},
		{"raw as varint", tensorPB("t", dtFloat, 1).varint(tfRawData, 1), "wire type"},
		{"truncated tag", pb{}.raw(0x80), "tag"},
		{"field number 0", pb{}.raw(0x00, 0x01), "tag"},
		{"truncated varint", pb{}.raw(0x10, 0x80, 0x80), "field 2"},
		{"truncated fixed32", pb{}.raw(0x25, 1, 2), "field 4"},
		{"length past end", pb{}.raw(0x4a, 0x05, 1, 2), "field 9"},
		{"huge length", pb{}.raw(0x4a, 0xff, 0xff, 0xff, 0xff, 0x0f), "field 9"},
		{"end group", pb{}.raw(0x0c), "wire type"},
		{"bad wire type", pb{}.raw(0x0e), "wire type"},
		{"unclosed group", pb{}.raw(0x0b, 0x10, 0x01), "field 1"},
		{"external without dir", tensorPB("t", dtFloat, 1).int(tfDataLocation, 1).
			msg(tfExternalData, pb{}.str(1, "location").str(2, "w.bin")), "no directory"},
		{"external without location", tensorPB("t", dtFloat, 1).int(tfDataLocation, 1), "no location"},
		{"external_data but default location", tensorPB("t", dtFloat, 1).
			msg(tfExternalData, pb{}.str(1, "location").str(2, "w.bin")), "data_location"},
		{"bad data_location", tensorPB("t", dtFloat, 1).int(tfDataLocation, 5), "data_location"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ReadTensor(c.b)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// TestGroupsSkipped: the deprecated group encoding of an unknown field is
// skipped like any other unknown field.
func TestGroupsSkipped(t *testing.T) {
	b := floatTensorPB("g", []int64{1}, 3).raw(0xfb, 0x01, 0x08, 0x01, 0xfc, 0x01) // group 31 {field 1: 1}
	_, ten := mustRead(t, b)
	checkF32(t, ten, []int{1}, []float32{3})
}
