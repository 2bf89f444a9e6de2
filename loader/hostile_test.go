package loader

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile files: every one must fail to load with an error naming the
// tensor, node or field at fault, without panicking and without allocating
// what a header claims before checking it. docs/robustness.md lists the
// messages these tests observe.

// hostileCheck fails the test unless err is an error containing every
// string of want, and logs it (go test -v prints the messages).
func hostileCheck(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("error: %v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// hInitModel is a model whose graph holds the initializer tensor ten and a
// Relu of input x, at opset 13.
func hInitModel(ten pb) pb {
	g := pb{}.
		msg(gfNode, nodePB("relu", "Relu", "", []string{"x"}, []string{"y"})).
		msg(gfInitializer, ten).
		msg(gfInput, valueInfoPB("x", dtFloat, []int64{1, 4})).
		msg(gfOutput, valueInfoPB("y", dtFloat, []int64{1, 4}))
	return modelPB(g, opsetPB("", 13))
}

// hFloatBytes is n little-endian float32 values 0, 1, 2, ...
func hFloatBytes(n int) []byte {
	b := make([]byte, 0, 4*n)
	for i := range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i)))
	}
	return b
}

// hRawLengthLie is a FLOAT[2,3] TensorProto named w whose raw_data field
// declares claim bytes but holds 24.
func hRawLengthLie(claim uint64) pb {
	b := tensorPB("w", dtFloat, 2, 3)
	b = b.raw(byte(tfRawData<<3 | 2))
	for claim >= 0x80 { // varint
		b = b.raw(byte(claim) | 0x80)
		claim >>= 7
	}
	return b.raw(byte(claim)).raw(hFloatBytes(6)...)
}

func TestHostileTensors(t *testing.T) {
	cases := []struct {
		name string
		ten  pb
		opt  Options
		want []string
	}{
		{"negative dim", tensorPB("w", dtFloat, 2, -3).packedFloats(tfFloatData, 1),
			Options{}, []string{`initializer "w"`, "negative dim -3 at axis 1"}},
		{"dims overflow int", tensorPB("w", dtFloat, 1<<32, 1<<32, 1<<32),
			Options{}, []string{`initializer "w"`, "dims [4294967296 4294967296 4294967296]: element count overflows"}},
		{"dims overflow behind a zero dim", tensorPB("w", dtFloat, 0, 1<<40, 1<<40),
			Options{}, []string{`initializer "w"`, "element count overflows"}},
		// 2^40 elements and no data: the limit fails it before any buffer
		// is allocated, not the missing data.
		{"dims beyond the default tensor limit", tensorPB("w", dtFloat, 1<<20, 1<<20),
			Options{}, []string{`initializer "w"`, "FLOAT[1048576,1048576] is larger than the 4294967296-byte tensor limit"}},
		{"dims beyond a small tensor limit", tensorPB("w", dtFloat, 2, 3).bytes(tfRawData, hFloatBytes(6)),
			Options{MaxTensorBytes: 16}, []string{`initializer "w"`, "FLOAT[2,3] is larger than the 16-byte tensor limit"}},
		{"raw_data shorter than the dims", tensorPB("w", dtFloat, 2, 3).bytes(tfRawData, hFloatBytes(5)),
			Options{}, []string{`initializer "w"`, "FLOAT[2,3] needs 24 bytes of raw_data, got 20"}},
		{"raw_data longer than the dims", tensorPB("w", dtFloat, 2, 3).bytes(tfRawData, hFloatBytes(7)),
			Options{}, []string{`initializer "w"`, "FLOAT[2,3] needs 24 bytes of raw_data, got 28"}},
		{"float_data shorter than the dims", tensorPB("w", dtFloat, 2, 3).packedFloats(tfFloatData, 1, 2, 3, 4, 5),
			Options{}, []string{`initializer "w"`, "FLOAT[2,3] needs 6 elements, got 5"}},
		{"int64_data longer than the dims", tensorPB("w", dtInt64, 2).packedInts(tfInt64Data, 1, 2, 3),
			Options{}, []string{`initializer "w"`, "INT64[2] needs 2 elements, got 3"}},
		{"data in the wrong typed field", tensorPB("w", dtFloat, 2).packedInts(tfInt64Data, 1, 2),
			Options{}, []string{`initializer "w"`, "FLOAT tensor has data in int64_data, which is not for that type"}},
		{"raw_data length beyond the message", hRawLengthLie(1 << 40),
			Options{}, []string{`initializer "w"`, "raw_data: field 9 declares 1099511627776 bytes, but only 24 remain"}},
		{"raw_data length just past the message", hRawLengthLie(25),
			Options{}, []string{`initializer "w"`, "raw_data: field 9 declares 25 bytes, but only 24 remain"}},
		{"STRING tensor", tensorPB("w", dtString, 1).str(tfStringData, "x"),
			Options{}, []string{`initializer "w"`, "unsupported data type STRING"}},
		{"FLOAT8E4M3FN tensor (opset 19's type)", tensorPB("w", 17, 2).bytes(tfRawData, []byte{1, 2}),
			Options{}, []string{`initializer "w"`, "unsupported data type FLOAT8E4M3FN"}},
		{"INT4 tensor (opset 21's type)", tensorPB("w", 22, 2).bytes(tfRawData, []byte{0x21}),
			Options{}, []string{`initializer "w"`, "unsupported data type INT4"}},
		{"unknown data type", tensorPB("w", 99, 1),
			Options{}, []string{`initializer "w"`, "unsupported data type DataType(99)"}},
		{"UINT64 beyond int64", tensorPB("w", dtUint64, 1).packedVarints(tfUint64Data, 1<<63),
			Options{}, []string{`initializer "w"`, "UINT64 value 9223372036854775808 at index 0 does not fit in int64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(hInitModel(c.ten), c.opt)
			hostileCheck(t, err, c.want)
		})
	}
}

func TestHostileSparseAndAttributeTensors(t *testing.T) {
	vals := floatTensorPB("sp", []int64{1}, 5)
	idx := tensorPB("", dtInt64, 1).ints(tfInt64Data, 0)
	cases := []struct {
		name string
		m    pb
		want []string
	}{
		{"sparse dense dims beyond the limit", modelPB(pb{}.msg(gfSparseInitializer,
			pb{}.msg(sfValues, vals).msg(sfIndices, idx).ints(sfDims, 1<<20, 1<<20)), opsetPB("", 13)),
			[]string{`sparse initializer "sp"`, "dense [1048576,1048576] is larger than the 4294967296-byte tensor limit"}},
		{"sparse negative dense dim", modelPB(pb{}.msg(gfSparseInitializer,
			pb{}.msg(sfValues, vals).msg(sfIndices, idx).ints(sfDims, -4)), opsetPB("", 13)),
			[]string{`sparse initializer "sp"`, "negative dim -4 at axis 0"}},
		{"sparse index out of range", modelPB(pb{}.msg(gfSparseInitializer,
			pb{}.msg(sfValues, vals).msg(sfIndices, tensorPB("", dtInt64, 1).ints(tfInt64Data, 9)).ints(sfDims, 4)), opsetPB("", 13)),
			[]string{`sparse initializer "sp"`, "index 9 out of range for 4 elements"}},
		{"Constant value with a negative dim", modelPB(pb{}.msg(gfNode, nodePB("k", "Constant", "", nil, []string{"c"},
			attrPB("value", 4).msg(afT, tensorPB("cv", dtFloat, -2)))), opsetPB("", 13)),
			[]string{`node "k" (Constant)`, `attribute "value"`, `tensor "cv"`, "negative dim -2 at axis 0"}},
		{"Constant value with overflowing dims", modelPB(pb{}.msg(gfNode, nodePB("k", "Constant", "", nil, []string{"c"},
			attrPB("value", 4).msg(afT, tensorPB("cv", dtFloat, 1<<62, 1<<62)))), opsetPB("", 13)),
			[]string{`node "k" (Constant)`, `attribute "value"`, `tensor "cv"`, "element count overflows"}},
		{"Constant value with short raw_data", modelPB(pb{}.msg(gfNode, nodePB("k", "Constant", "", nil, []string{"c"},
			attrPB("value", 4).msg(afT, tensorPB("cv", dtFloat, 4).bytes(tfRawData, hFloatBytes(3))))), opsetPB("", 13)),
			[]string{`node "k" (Constant)`, `attribute "value"`, `tensor "cv"`, "FLOAT[4] needs 16 bytes of raw_data, got 12"}},
		{"attribute of unknown type", modelPB(pb{}.msg(gfNode, nodePB("c", "Conv", "", []string{"x", "w"}, []string{"y"},
			attrPB("pads", 42).packedInts(afInts, 1, 1, 1, 1))), opsetPB("", 13)),
			[]string{`node "c" (Conv)`, `attribute "pads"`, "unknown attribute type 42"}},
		{"attribute ints as fixed32", modelPB(pb{}.msg(gfNode, nodePB("c", "Conv", "", []string{"x", "w"}, []string{"y"},
			attrPB("strides", 7).fixed32(afInts, 1))), opsetPB("", 13)),
			[]string{`node "c" (Conv)`, `attribute "strides"`, "field 8: wrong wire type (fixed32)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.m, Options{})
			hostileCheck(t, err, c.want)
		})
	}
}

// hCutModel is a model with a Conv node, a 1000-element initializer big and
// a second node after it, for cutting at every point.
func hCutModel() (m pb, bigAt, convAt int) {
	conv := nodePB("conv", "Conv", "", []string{"x", "big"}, []string{"y"},
		attrPB("pads", 7).packedInts(afInts, 0, 0, 0, 0), attrPB("strides", 7).packedInts(afInts, 1, 1))
	big := tensorPB("big", dtFloat, 10, 10, 10).bytes(tfRawData, hFloatBytes(1000))
	g := pb{}.msg(gfNode, conv).msg(gfInitializer, big).
		msg(gfNode, nodePB("relu", "Relu", "", []string{"y"}, []string{"z"})).
		msg(gfInput, valueInfoPB("x", dtFloat, []int64{1, 10, 12, 12})).
		msg(gfOutput, valueInfoPB("z", dtFloat, nil))
	m = modelPB(g, opsetPB("", 13))
	return m, strings.Index(string(m), string(hFloatBytes(1000))), strings.Index(string(m), "strides")
}

func TestHostileTruncatedFiles(t *testing.T) {
	m, bigAt, convAt := hCutModel()
	if _, err := Load(m, Options{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    pb
		want []string
	}{
		{"cut inside an initializer's raw_data", m[:bigAt+1000], []string{
			`graph: initializer "big": raw_data: field 9 declares 4000 bytes, but only 1000 remain (truncated or corrupt data)`}},
		{"cut inside a node's attribute", m[:convAt+3], []string{
			`graph: node "conv" (Conv): field 5 declares`, "truncated or corrupt data"}},
		{"cut inside the model's first varint", m[:1], []string{"field 1 is cut short (truncated or corrupt data)"}},
		// A graph field claiming 2^62 bytes in a short file.
		{"graph length beyond the file", pb{}.raw(0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40).
			msg(gfNode, nodePB("relu", "Relu", "", []string{"x"}, []string{"y"})),
			[]string{"graph: field 7 declares 4611686018427387904 bytes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.m, Options{})
			hostileCheck(t, err, c.want)
		})
	}
	// Every cut of the file fails cleanly, and every cut inside the big
	// tensor's data names it.
	for i := range len(m) {
		_, err := Load(m[:i], Options{})
		if err == nil {
			continue // a cut on a field boundary may leave a valid model
		}
		if i > bigAt && i < bigAt+4000 && !strings.Contains(err.Error(), `initializer "big": raw_data`) {
			t.Fatalf("cut at %d: %v", i, err)
		}
	}
	// A golden tensor file cut short names its tensor.
	_, _, err := ReadTensor(hGoldenTensor()[:30])
	hostileCheck(t, err, []string{`tensor "input": raw_data: field 9 declares 64 bytes, but only`})
}

// hGoldenTensor is a FLOAT[16] TensorProto named input, as in a test
// case's input_0.pb.
func hGoldenTensor() pb {
	return tensorPB("input", dtFloat, 16).bytes(tfRawData, hFloatBytes(16))
}

func TestHostileOpsets(t *testing.T) {
	relu := pb{}.msg(gfNode, nodePB("r", "Relu", "", []string{"x"}, []string{"y"}))
	tree := pb{}.msg(gfNode, nodePB("tree", "TreeEnsembleClassifier", "ai.onnx.ml", []string{"x"}, []string{"y"}))
	cases := []struct {
		name string
		m    pb
		want []string
	}{
		{"negative opset version", modelPB(relu, opsetPB("", -1)), []string{`opset_import ""`, "bad version -1"}},
		{"opset version beyond int32", modelPB(relu, opsetPB("", 1<<40)), []string{`opset_import ""`, "bad version 1099511627776"}},
		{"conflicting opset imports", modelPB(relu, opsetPB("", 13), opsetPB("ai.onnx", 11)),
			[]string{`opset_import ""`, "imported as both version 13 and 11"}},
		{"no opset import for the default domain", modelPB(relu),
			[]string{`node "r" (Relu)`, `the model imports no opset for domain "ai.onnx"`}},
		{"domain without an opset import", modelPB(tree, opsetPB("", 13)),
			[]string{`node "tree" (TreeEnsembleClassifier)`, `the model imports no opset for domain "ai.onnx.ml"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.m, Options{})
			hostileCheck(t, err, c.want)
		})
	}
}

func TestHostileExternalData(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFloats(t, filepath.Join(root, "secret.bin"), 1, 2, 3, 4)
	writeFloats(t, filepath.Join(dir, "w.bin"), 1, 2, 3, 4)
	symlinks := os.Symlink(filepath.Join(root, "secret.bin"), filepath.Join(dir, "link.bin")) == nil &&
		os.Symlink(root, filepath.Join(dir, "up")) == nil
	cases := []struct {
		name string
		kv   []string
		dims []int64
		opt  Options
		want string
		link bool // needs symlinks
	}{
		{"offset beyond the file", []string{"location", "w.bin", "offset", "64", "length", "16"}, []int64{4}, Options{},
			`external data "w.bin": offset 64 is past the end of the 16-byte file`, false},
		{"length beyond the file", []string{"location", "w.bin", "offset", "8", "length", "16"}, []int64{4}, Options{},
			`external data "w.bin": offset 8 + length 16 is past the end of the 16-byte file`, false},
		{"dims beyond the file", []string{"location", "w.bin"}, []int64{1000}, Options{},
			`external data "w.bin": 16 bytes from offset 0, but the tensor needs 4000`, false},
		{"length disagreeing with the dims", []string{"location", "w.bin", "length", "8"}, []int64{4}, Options{},
			`external data "w.bin": length 8, but the tensor needs 16 bytes`, false},
		{"dims beyond the tensor limit", []string{"location", "w.bin"}, []int64{1 << 30}, Options{MaxTensorBytes: 1 << 20},
			"FLOAT[1073741824] is larger than the 1048576-byte tensor limit", false},
		{"dotdot", []string{"location", "../secret.bin"}, []int64{4}, Options{},
			`external data "../secret.bin": location escapes the model's directory`, false},
		{"dotdot after a folder", []string{"location", "sub/../../secret.bin"}, []int64{4}, Options{},
			`external data "sub/../../secret.bin": location escapes the model's directory`, false},
		{"absolute path", []string{"location", filepath.Join(root, "secret.bin")}, []int64{4}, Options{},
			"location must be a relative path", false},
		{"no folder to resolve in (OpenBytes)", []string{"location", "w.bin"}, []int64{4}, Options{Dir: "-"},
			`external data "w.bin": no directory to resolve it in`, false},
		{"symlink leaving the folder", []string{"location", "link.bin"}, []int64{4}, Options{},
			`external data "link.bin": location resolves outside the model's directory`, true},
		{"symlinked folder leaving the folder", []string{"location", "up/secret.bin"}, []int64{4}, Options{},
			`external data "up/secret.bin": location resolves outside the model's directory`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.link && !symlinks {
				t.Skip("no symlinks here")
			}
			opt := c.opt
			switch opt.Dir {
			case "":
				opt.Dir = dir
			case "-":
				opt.Dir = ""
			}
			_, err := Load(extModel(extTensor("ext", c.dims, c.kv...)), opt)
			hostileCheck(t, err, []string{`initializer "ext"`, c.want})
		})
	}
}
