package npy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/ir"
)

const dir = "../testdata/npy" // written by numpy: models/make_npy_tests.py

// TestReadNumPyFiles reads what numpy.save wrote: float32, big-endian
// float64, int32, an int64 scalar and a version 2.0 header.
func TestReadNumPyFiles(t *testing.T) {
	a := []float32{-0.5, -0.25, 0, 0.25, 0.5, 0.75}
	for _, c := range []struct {
		file  string
		shape []int
		f32   []float32
		i64   []int64
	}{
		{"f4.npy", []int{2, 3}, a, nil},
		{"v2.npy", []int{2, 3}, a, nil},
		{"f8_be.npy", []int{2, 2}, []float32{1.5, -2, 3, 4e-3}, nil},
		{"i4.npy", []int{3}, nil, []int64{1, -2, 3}},
		{"i8_scalar.npy", []int{}, nil, []int64{7}},
	} {
		x, err := ReadFile(filepath.Join(dir, c.file), 0)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if !slices.Equal(x.Shape, c.shape) || !slices.Equal(x.F32, c.f32) || !slices.Equal(x.I64, c.i64) {
			t.Errorf("%s: got %v %v %v, want %v %v %v", c.file, x.Shape, x.F32, x.I64, c.shape, c.f32, c.i64)
		}
		if want := ir.Float32; c.i64 != nil && x.DType != ir.Int64 || c.f32 != nil && x.DType != want {
			t.Errorf("%s: dtype %s", c.file, x.DType)
		}
	}
	for file, want := range map[string]string{
		"fortran.npy": "Fortran order",
		"u1.npy":      `element type "|u1"`,
	} {
		_, err := ReadFile(filepath.Join(dir, file), 0)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: got %v, want ErrFormat with %q and the file name", file, err, want)
		}
	}
}

// TestReadNPZ reads numpy.savez's named arrays and savez_compressed's
// positional ones (deflated), in the archive's order.
func TestReadNPZ(t *testing.T) {
	arrs, err := ReadNPZ(filepath.Join(dir, "named.npz"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(arrs) != 2 || arrs[0].Name != "x" || arrs[1].Name != "y" ||
		!slices.Equal(arrs[0].Tensor.Shape, []int{2, 3}) || !slices.Equal(arrs[1].Tensor.I64, []int64{1, -2, 3}) {
		t.Errorf("named.npz: %+v", arrs)
	}
	arrs, err = ReadNPZ(filepath.Join(dir, "compressed.npz"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(arrs) != 2 || arrs[0].Name != "arr_0" || arrs[1].Name != "arr_1" || arrs[0].Tensor.F32[5] != 0.75 ||
		!slices.Equal(arrs[1].Tensor.Shape, []int{3, 4}) {
		t.Errorf("compressed.npz: %+v", arrs)
	}
	// the limit counts what the entries hold
	if _, err := ReadNPZ(filepath.Join(dir, "compressed.npz"), 200); !errors.Is(err, ir.ErrMemoryLimit) {
		t.Errorf("a 200-byte limit: %v, want ErrMemoryLimit", err)
	}
}

// TestRoundTrip writes and reads back tensors of awkward shapes, and
// checks that what Encode writes has NumPy's 64-byte alignment.
func TestRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	long := make([]int, 40) // a header long enough to need two blocks
	for i := range long {
		long[i] = 1
	}
	long[3] = 5
	for i, x := range []*ir.Tensor{
		ir.NewF32([]int{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, -7}),
		ir.NewF32([]int{5}, []float32{1, 2, 3, 4, 5}),
		ir.NewF32([]int{}, []float32{42}),
		ir.NewF32([]int{0, 3}, nil),
		ir.NewF32(long, []float32{1, 2, 3, 4, 5}),
		{DType: ir.Int64, Shape: []int{2, 2}, I64: []int64{-1, 1 << 40, 3, 0}},
	} {
		data, err := Encode(x)
		if err != nil {
			t.Fatal(err)
		}
		hlen := int(binary.LittleEndian.Uint16(data[8:10]))
		if (10+hlen)%64 != 0 || data[10+hlen-1] != '\n' {
			t.Errorf("case %d: data start at %d, header ends with %q", i, 10+hlen, data[10+hlen-1])
		}
		path := filepath.Join(tmp, "x.npy")
		if err := WriteFile(path, x); err != nil {
			t.Fatal(err)
		}
		y, err := ReadFile(path, 0)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if y.DType != x.DType || !slices.Equal(y.Shape, x.Shape) || !slices.Equal(y.F32, x.F32) || !slices.Equal(y.I64, x.I64) {
			t.Errorf("case %d: wrote %+v, read %+v", i, x, y)
		}
	}
	if _, err := Encode(&ir.Tensor{DType: ir.Float32, Shape: []int{3}, F32: []float32{1}}); err == nil {
		t.Error("a tensor whose data do not fill its shape was written")
	}
	path := filepath.Join(tmp, "a.npz")
	in := []Array{{"x", ir.NewF32([]int{2}, []float32{1, 2})}, {"idx", &ir.Tensor{DType: ir.Int64, Shape: []int{1}, I64: []int64{9}}}}
	if err := WriteNPZ(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadNPZ(path, 0)
	if err != nil || len(out) != 2 || out[0].Name != "x" || out[1].Name != "idx" || out[1].Tensor.I64[0] != 9 || out[0].Tensor.F32[1] != 2 {
		t.Errorf("npz round trip: %+v, %v", out, err)
	}
}

// npyBytes makes a version 1.0 .npy file of a header and a body.
func npyBytes(h string, body []byte) []byte {
	b := []byte(magic + "\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
	return append(append(b, h...), body...)
}

// TestBadFiles: every malformed file gives an error that matches
// ErrFormat and says what is wrong, without allocating for sizes the file
// does not hold.
func TestBadFiles(t *testing.T) {
	four := make([]byte, 4)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no \\x93NUMPY magic"},
		{"magic only", []byte(magic), "header truncated"},
		{"version", []byte(magic + "\x04\x00\x00\x00"), "version 4.0"},
		{"header past end", []byte(magic + "\x01\x00\xff\x00{"), "header of 255 bytes"},
		{"v2 header huge", []byte(magic + "\x02\x00\xff\xff\xff\x7f"), "more than"},
		{"not a dict", npyBytes("[1]\n", nil), "not a dict"},
		{"no shape", npyBytes("{'descr': '<f4', 'fortran_order': False}\n", four), `no "shape"`},
		{"twice", npyBytes("{'descr': '<f4', 'descr': '<f4'}\n", four), "twice"},
		{"unknown key", npyBytes("{'descr': '<f4', 'x': 1}\n", four), "unknown key"},
		{"unterminated", npyBytes("{'descr: '<f4'}\n", four), "no ':' after"},
		{"open string", npyBytes("{'descr\n", four), "unterminated string"},
		{"bad bool", npyBytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }\n", four), "True or False"},
		{"structured", npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", four), "want a string"},
		{"big order", npyBytes("{'descr': '*f4', 'fortran_order': False, 'shape': (1,), }\n", four), "unknown byte order"},
		{"no order", npyBytes("{'descr': '|f4', 'fortran_order': False, 'shape': (1,), }\n", four), "no byte order"},
		{"float16", npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }\n", four), `"<f2"`},
		{"negative dim", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", four), "want a dim"},
		{"huge dim", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", four), "too large"},
		{"huge product", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", four), "2^60"},
		{"short data", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }\n", four), "needs 4000000000 bytes of data, the file has 4"},
		{"long data", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", make([]byte, 8)), "needs 4 bytes"},
		{"trailing", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x\n", four), "after the dict"},
		{"bad tuple", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }\n", four), "want ',' or ')'"},
		{"escape", npyBytes("{'descr': '<f\\4', 'fortran_order': False, 'shape': (1,), }\n", four), "escapes"},
	} {
		_, err := Decode(c.data)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrFormat with %q", c.name, err, c.want)
		}
	}
	// the header NumPy writes parses with Python 2's 'L' suffix and no
	// trailing comma too
	x, err := Decode(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 1L)}\n", four))
	if err != nil || !slices.Equal(x.Shape, []int{1, 1}) {
		t.Errorf("1L: %v %v", x, err)
	}
}

// TestBadNPZ: archives that lie about their sizes, hold other files or
// nothing are refused with ErrFormat.
func TestBadNPZ(t *testing.T) {
	good, _ := Encode(ir.NewF32([]int{2}, []float32{1, 2}))
	mk := func(entries map[string][]byte) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range entries {
				if !yield(k) {
					return
				}
			}
		}) {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
			w.Write(entries[name])
		}
		zw.Close()
		return b.Bytes()
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not zip", []byte("PK\x03\x04 nonsense"), "not an .npz file"},
		{"empty zip", mk(nil), "no arrays"},
		{"other file", mk(map[string][]byte{"a.txt": []byte("hi")}), "not a .npy file"},
		{"bad array", mk(map[string][]byte{"a.npy": []byte("nope")}), `entry "a.npy"`},
	} {
		_, err := DecodeNPZ(c.data, 0)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrFormat with %q", c.name, err, c.want)
		}
	}
	// an entry that declares more than deflate can make of its bytes:
	// patch the central directory's uncompressed size
	data := mk(map[string][]byte{"a.npy": good})
	cd := bytes.LastIndex(data, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(data[cd+24:], 0x7fffffff)
	if _, err := DecodeNPZ(data, 0); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "declares") {
		t.Errorf("a lying size: %v", err)
	}
	if _, err := ReadNPZ(filepath.Join(t.TempDir(), "missing.npz"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// FuzzDecode: no input makes Decode panic, and what it accepts it writes
// back the same.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"f4.npy", "f8_be.npy", "i4.npy", "i8_scalar.npy", "v2.npy", "fortran.npy"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		enc, err := Encode(x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := Decode(enc)
		if err != nil || !slices.Equal(x.Shape, y.Shape) || len(x.F32) != len(y.F32) || !slices.Equal(x.I64, y.I64) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzDecodeNPZ: no archive makes DecodeNPZ panic.
func FuzzDecodeNPZ(f *testing.F) {
	for _, name := range []string{"named.npz", "compressed.npz"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeNPZ(data, 1<<20)
	})
}
