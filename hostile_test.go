package bnrun_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bnrun/bnrun"
)

// Hostile models and inputs end to end, through OpenBytes, Open and Run:
// each must fail with an error naming the node, op or tensor at fault,
// never panic, hang or allocate what a shape claims. The models are built
// here with protowire; docs/robustness.md lists the messages observed.

// hpb builds a protobuf message field by field.
type hpb []byte

// str appends a length-delimited string field.
func (b hpb) str(num protowire.Number, s string) hpb {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

// msg appends an embedded message field.
func (b hpb) msg(num protowire.Number, m hpb) hpb {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), m)
}

// i appends a varint field holding v.
func (b hpb) i(num protowire.Number, v int64) hpb {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), uint64(v))
}

// f appends a fixed32 field holding the float v.
func (b hpb) f(num protowire.Number, v float32) hpb {
	return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), math.Float32bits(v))
}

// ints appends a packed repeated varint field.
func (b hpb) ints(num protowire.Number, vs ...int64) hpb {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, uint64(v))
	}
	return b.msg(num, p)
}

// ONNX protobuf field numbers (loader/*.go has them all).
const (
	hModelIR, hModelGraph, hModelOpset         = 1, 7, 8
	hGraphNode, hGraphInit, hGraphIn, hGraphOu = 1, 5, 11, 12
	hNodeIn, hNodeOut, hNodeName, hNodeOp      = 1, 2, 3, 4
	hNodeAttr, hNodeDomain                     = 5, 7
	hAttrName, hAttrF, hAttrI, hAttrFloats     = 1, 2, 3, 7
	hAttrInts, hAttrType, hAttrS               = 8, 20, 4
	hTenDims, hTenType, hTenName, hTenRaw      = 1, 2, 8, 9
	hTenExt, hTenLoc                           = 13, 14
	hFloat, hInt64                             = 1, 7 // TensorProto.DataType
)

// hNode is a NodeProto; op may be "domain:Op".
func hNode(name, op string, ins, outs []string, attrs ...hpb) hpb {
	var b hpb
	for _, s := range ins {
		b = b.str(hNodeIn, s)
	}
	for _, s := range outs {
		b = b.str(hNodeOut, s)
	}
	b = b.str(hNodeName, name)
	if d, o, ok := strings.Cut(op, ":"); ok {
		b = b.str(hNodeDomain, d)
		op = o
	}
	b = b.str(hNodeOp, op)
	for _, a := range attrs {
		b = b.msg(hNodeAttr, a)
	}
	return b
}

// hInts is an INTS attribute.
func hInts(name string, vs ...int64) hpb {
	return hpb{}.str(hAttrName, name).i(hAttrType, 7).ints(hAttrInts, vs...)
}

// hInt is an INT attribute.
func hInt(name string, v int64) hpb { return hpb{}.str(hAttrName, name).i(hAttrType, 2).i(hAttrI, v) }

// hFloats is a FLOATS attribute.
func hFloats(name string, vs ...float32) hpb {
	b := hpb{}.str(hAttrName, name).i(hAttrType, 6)
	for _, v := range vs {
		b = b.f(hAttrFloats, v)
	}
	return b
}

// hSeededWeights returns a maker of FLOAT initializers named name with
// dims, filled from one linear congruential sequence that starts at seed
// and runs on from call to call: values (s mod 2001 - 1000) / div, in
// (-1000/div, 1000/div), the same on every run.
func hSeededWeights(seed int, div float32) func(name string, dims ...int64) hpb {
	return func(name string, dims ...int64) hpb {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			seed = (seed*1103515245 + 12345) & 0x7fffffff
			v[i] = float32(seed%2001-1000) / div
		}
		return hTensor(name, dims, v)
	}
}

// hTensor is a FLOAT TensorProto with its data (0, 1, 2, ... when vals is
// nil) little-endian in raw_data.
func hTensor(name string, dims []int64, vals []float32) hpb {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	if vals == nil {
		vals = make([]float32, n)
		for i := range vals {
			vals[i] = float32(i % 7)
		}
	}
	raw := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return hpb{}.ints(hTenDims, dims...).i(hTenType, hFloat).str(hTenName, name).msg(hTenRaw, raw)
}

// hInt64s is a 1-D INT64 TensorProto.
func hInt64s(name string, vs ...int64) hpb {
	raw := make([]byte, 0, 8*len(vs))
	for _, v := range vs {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
	}
	return hpb{}.ints(hTenDims, int64(len(vs))).i(hTenType, hInt64).str(hTenName, name).msg(hTenRaw, raw)
}

// hValue is a ValueInfoProto of a FLOAT tensor with fixed dims (nil: no
// shape).
func hValue(name string, dims ...int64) hpb {
	tt := hpb{}.i(1, hFloat)
	if dims != nil {
		var sh hpb
		for _, d := range dims {
			sh = sh.msg(1, hpb{}.i(1, d))
		}
		tt = tt.msg(2, sh)
	}
	return hpb{}.str(1, name).msg(2, hpb{}.msg(1, tt))
}

// hGraph describes a model: nodes, initializers, inputs and outputs as
// ValueInfoProtos, and opset imports ("domain", version); with no opsets
// the default domain is imported at 13.
type hGraph struct {
	nodes, inits, ins, outs []hpb
	opsets                  []hpb
}

// hOpset is an OperatorSetIdProto.
func hOpset(domain string, v int64) hpb { return hpb{}.str(1, domain).i(2, v) }

// bytes encodes the ModelProto.
func (g hGraph) bytes() []byte {
	var gb hpb
	for _, n := range g.nodes {
		gb = gb.msg(hGraphNode, n)
	}
	for _, t := range g.inits {
		gb = gb.msg(hGraphInit, t)
	}
	for _, v := range g.ins {
		gb = gb.msg(hGraphIn, v)
	}
	for _, v := range g.outs {
		gb = gb.msg(hGraphOu, v)
	}
	m := hpb{}.i(hModelIR, 8).msg(hModelGraph, gb)
	opsets := g.opsets
	if opsets == nil {
		opsets = []hpb{hOpset("", 13)}
	}
	for _, o := range opsets {
		m = m.msg(hModelOpset, o)
	}
	return m
}

// hOne is a graph of one node reading x (fixed dims xDims) and writing y,
// with the given initializers.
func hOne(xDims []int64, node hpb, inits ...hpb) hGraph {
	return hGraph{nodes: []hpb{node}, inits: inits, ins: []hpb{hValue("x", xDims...)}, outs: []hpb{hValue("y")}}
}

// hZeros is a zeroed float32 tensor.
func hZeros(shape ...int) *bnrun.Tensor { return bnrun.NewTensor(shape, nil) }

// hostileCase is one model and, when it opens, the inputs whose Run must
// fail.
type hostileCase struct {
	name   string
	model  []byte
	opts   []bnrun.Option
	inputs map[string]*bnrun.Tensor // nil: Open must fail
	want   []string
	// foldWant, when set, is what Open reports with the optimisation
	// pass on, which computes some constants at Open.
	foldWant []string
}

// hostileRun opens c.model (by path when path is set) and runs it, and
// checks and logs the error it expects (go test -v prints them).
func hostileRun(t *testing.T, c hostileCase, path string) {
	t.Helper()
	opts := append([]bnrun.Option{bnrun.WithThreads(1)}, c.opts...)
	var m *bnrun.Model
	var err error
	if path != "" {
		m, err = bnrun.Open(path, opts...)
	} else {
		m, err = bnrun.OpenBytes(c.model, opts...)
	}
	if c.inputs != nil {
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer m.Close()
		_, err = m.Run(context.Background(), c.inputs)
	} else if err == nil {
		m.Close()
		t.Fatal("Open: no error")
	}
	if err == nil {
		t.Fatal("Run: no error")
	}
	t.Logf("error: %v", err)
	for _, w := range c.want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// runHostileCases runs each case as it is and without the optimisation
// pass, which must not change what is reported.
func runHostileCases(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		f := c
		if c.foldWant != nil {
			f.inputs, f.want = nil, c.foldWant
		}
		t.Run(c.name, func(t *testing.T) { hostileRun(t, f, "") })
		nf := c
		nf.opts = append(append([]bnrun.Option(nil), c.opts...), bnrun.WithoutFold())
		t.Run(c.name+"/nofold", func(t *testing.T) { hostileRun(t, nf, "") })
	}
}

func TestHostileModelStructure(t *testing.T) {
	x := []int64{1, 4}
	relu := func(name, in, out string) hpb { return hNode(name, "Relu", []string{in}, []string{out}) }
	io := func(nodes ...hpb) hGraph {
		return hGraph{nodes: nodes, ins: []hpb{hValue("x", x...)}, outs: []hpb{hValue("y")}}
	}
	withOpsets := func(g hGraph, o ...hpb) hGraph { g.opsets = o; return g }
	runHostileCases(t, []hostileCase{
		{name: "cycle", model: io(
			hNode("add", "Add", []string{"x", "y"}, []string{"a"}), relu("relu", "a", "y")).bytes(),
			want: []string{`node "add" (Add): graph has a cycle through this node`}},
		{name: "input nobody produces", model: io(hNode("add", "Add", []string{"x", "ghost"}, []string{"y"})).bytes(),
			want: []string{`node "add" (Add): input "ghost" is not produced by any node, initializer or graph input`}},
		{name: "duplicate output", model: io(relu("r1", "x", "y"), relu("r2", "x", "y")).bytes(),
			want: []string{`node "r2" (Relu): output "y" is already defined as output of node "r1" (Relu)`}},
		{name: "unknown op domain", model: withOpsets(io(hNode("evil", "com.evil:Relu", []string{"x"}, []string{"y"})),
			hOpset("", 13), hOpset("com.evil", 1)).bytes(),
			want: []string{"unsupported operators (1):\n  com.evil.Relu used by 1 node(s): evil"}},
		{name: "domain not imported", model: io(hNode("evil", "com.evil:Relu", []string{"x"}, []string{"y"})).bytes(),
			want: []string{`node "evil" (Relu): the model imports no opset for domain "com.evil"`}},
		{name: "opset above the range", model: withOpsets(io(relu("r", "x", "y")), hOpset("", 22)).bytes(),
			want: []string{`node "r" (Relu): opset 22 of the default domain is outside the supported range 7 to 21`}},
		{name: "opset below the range", model: withOpsets(io(relu("r", "x", "y")), hOpset("", 6)).bytes(),
			want: []string{`node "r" (Relu): opset 6 of the default domain is outside the supported range 7 to 21`}},
	})
}

func TestHostileModelAttributes(t *testing.T) {
	x := []int64{1, 3, 8, 8}
	w := hTensor("w", []int64{4, 3, 3, 3}, nil)
	conv := func(attrs ...hpb) []byte {
		return hOne(x, hNode("c", "Conv", []string{"x", "w"}, []string{"y"}, attrs...), w).bytes()
	}
	in := map[string]*bnrun.Tensor{"x": hZeros(1, 3, 8, 8)}
	gemm := hOne([]int64{2, 3}, hNode("g", "Gemm", []string{"x", "b"}, []string{"y"}, hInt("transA", 2)),
		hTensor("b", []int64{3, 5}, nil)).bytes()
	softmax := hOne([]int64{2, 3}, hNode("sm", "Softmax", []string{"x"}, []string{"y"}, hInt("axis", 2))).bytes()
	runHostileCases(t, []hostileCase{
		{name: "Conv pads of wrong length", model: conv(hInts("pads", 1, 1)), inputs: in,
			want: []string{`node "c" (Conv): pads has 2 values, want 4 for 2 spatial axes`}},
		{name: "Conv pads of type FLOATS", model: conv(hFloats("pads", 1, 1, 1, 1)),
			want: []string{`node "c" (Conv): attribute "pads" has type FLOATS, want INTS`}},
		{name: "Conv strides 0", model: conv(hInts("strides", 0, 0)),
			want: []string{`node "c" (Conv): strides [0 0]: each value must be in [1, 2^30]`}},
		{name: "Conv kernel_shape mismatching W", model: conv(hInts("kernel_shape", 2, 2)), inputs: in,
			want: []string{`node "c" (Conv): kernel_shape [2 2] does not match W's shape [4,3,3,3]`}},
		{name: "Gemm transA 2", model: gemm,
			want: []string{`node "g" (Gemm): transA 2 and transB 0 must be 0 or 1`}},
		{name: "Softmax axis out of range", model: softmax, inputs: map[string]*bnrun.Tensor{"x": hZeros(2, 3)},
			want: []string{`node "sm" (Softmax): axis 2 out of range for rank 2`}},
	})
}

func TestHostileModelShapes(t *testing.T) {
	x := []int64{1, 3, 8, 8}
	in := map[string]*bnrun.Tensor{"x": hZeros(1, 3, 8, 8)}
	in23 := map[string]*bnrun.Tensor{"x": hZeros(2, 3)}
	// Conv, BatchNormalization with a scale of the wrong length, Relu: the
	// optimiser must leave the BN alone, and the BN reports it.
	bn := hGraph{
		nodes: []hpb{
			hNode("c", "Conv", []string{"x", "w"}, []string{"a"}),
			hNode("bn", "BatchNormalization", []string{"a", "s", "b", "m", "v"}, []string{"n"}),
			hNode("r", "Relu", []string{"n"}, []string{"y"}),
		},
		inits: []hpb{hTensor("w", []int64{4, 3, 3, 3}, nil), hTensor("s", []int64{3}, nil),
			hTensor("b", []int64{4}, nil), hTensor("m", []int64{4}, nil), hTensor("v", []int64{4}, nil)},
		ins: []hpb{hValue("x", x...)}, outs: []hpb{hValue("y")},
	}
	runHostileCases(t, []hostileCase{
		{name: "Conv weights against input channels", inputs: in,
			model: hOne(x, hNode("c", "Conv", []string{"x", "w"}, []string{"y"}), hTensor("w", []int64{4, 2, 3, 3}, nil)).bytes(),
			want:  []string{`node "c" (Conv): W has shape [4,2,3,3]: 2 channels per group, but X has 3 channels in 1 groups`}},
		{name: "BatchNormalization scale against Conv channels", model: bn.bytes(), inputs: in,
			want: []string{`node "bn" (BatchNormalization): input scale has shape [3], want [4] for X [1,4,6,6]`}},
		{name: "Gemm inner dims", inputs: in23,
			model: hOne([]int64{2, 3}, hNode("g", "Gemm", []string{"x", "b"}, []string{"y"}), hTensor("b", []int64{4, 5}, nil)).bytes(),
			want:  []string{`node "g" (Gemm): A' is 2×3 but B' is 4×5`}},
		{name: "Add not broadcastable", inputs: in23,
			model: hOne([]int64{2, 3}, hNode("add", "Add", []string{"x", "b"}, []string{"y"}), hTensor("b", []int64{2}, nil)).bytes(),
			want:  []string{`node "add" (Add): shapes [2,3] and [2] do not broadcast`}},
		{name: "Reshape to the wrong element count", inputs: in23,
			model: hOne([]int64{2, 3}, hNode("rs", "Reshape", []string{"x", "s"}, []string{"y"}), hInt64s("s", 5, -1)).bytes(),
			want:  []string{`node "rs" (Reshape): cannot reshape [2,3] (6 elements) to [5 -1]`}},
		{name: "Concat rank mismatch", inputs: in23,
			model: hOne([]int64{2, 3}, hNode("cat", "Concat", []string{"x", "b"}, []string{"y"}, hInt("axis", 0)),
				hTensor("b", []int64{3}, nil)).bytes(),
			want: []string{`node "cat" (Concat): input 1 has rank 1, input 0 has 2`}},
	})
}

func TestHostileRunInputs(t *testing.T) {
	g := hOne([]int64{1, 4}, hNode("r", "Relu", []string{"x"}, []string{"y"}))
	ok := hZeros(1, 4)
	short := &bnrun.Tensor{DType: bnrun.Float32, Shape: []int{1, 4}, F32: make([]float32, 3)}
	cases := []struct {
		name string
		in   map[string]*bnrun.Tensor
		want string
		kind error
	}{
		{"wrong dtype", map[string]*bnrun.Tensor{"x": {DType: bnrun.Int64, Shape: []int{1, 4}, I64: make([]int64, 4)}},
			`input "x": got int64, the model wants float32`, bnrun.ErrInputType},
		{"wrong shape", map[string]*bnrun.Tensor{"x": hZeros(2, 4)}, `input "x": got shape [2,4], the model wants [1,4]`, bnrun.ErrInputShape},
		{"wrong rank", map[string]*bnrun.Tensor{"x": hZeros(4)}, `input "x": got shape [4], the model wants rank 2 ([1,4])`, bnrun.ErrInputShape},
		{"data shorter than the shape", map[string]*bnrun.Tensor{"x": short}, `input "x": shape [1,4] needs 4 elements, data has 3`, bnrun.ErrInputShape},
		{"missing input", map[string]*bnrun.Tensor{"X": ok}, `input "x": not given`, bnrun.ErrMissingInput},
		{"extra input", map[string]*bnrun.Tensor{"x": ok, "z": ok}, `input "z": the model has no input of this name`, bnrun.ErrUnknownInput},
		{"nil input", map[string]*bnrun.Tensor{"x": nil}, `input "x": given as nil`, bnrun.ErrMissingInput},
	}
	m, err := bnrun.OpenBytes(g.bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hostileRun(t, hostileCase{model: g.bytes(), inputs: c.in, want: []string{c.want}}, "")
			// The error names its kind and input for a program too.
			_, err := m.Run(context.Background(), c.in)
			var ie *bnrun.InputError
			if !errors.Is(err, c.kind) || !errors.As(err, &ie) {
				t.Fatalf("error %v: want errors.Is %v and an *InputError", err, c.kind)
			}
			if want := "x"; c.kind == bnrun.ErrUnknownInput {
				want = "z"
				if ie.Input != want {
					t.Errorf("InputError.Input = %q, want %q", ie.Input, want)
				}
			} else if ie.Input != want {
				t.Errorf("InputError.Input = %q, want %q", ie.Input, want)
			}
		})
	}
}

func TestHostileMemoryLimits(t *testing.T) {
	one := map[string]*bnrun.Tensor{"x": hZeros(1)}
	cos := func(dims ...int64) []byte {
		return hOne([]int64{1}, hNode("cos", "ConstantOfShape", []string{"s"}, []string{"y"}), hInt64s("s", dims...)).bytes()
	}
	chain := hGraph{
		nodes: []hpb{hNode("r1", "Relu", []string{"x"}, []string{"a"}), hNode("s1", "Sigmoid", []string{"a"}, []string{"y"})},
		ins:   []hpb{hValue("x", 64, 64)}, outs: []hpb{hValue("y")},
	}
	runHostileCases(t, []hostileCase{
		{name: "initializer over the per-tensor limit", opts: []bnrun.Option{bnrun.WithMemoryLimits(1<<10, 0)},
			model: hOne([]int64{1, 4}, hNode("add", "Add", []string{"x", "w"}, []string{"y"}), hTensor("w", []int64{16, 32}, nil)).bytes(),
			want:  []string{`initializer "w": FLOAT[16,32] is larger than the 1024-byte tensor limit`}},
		{name: "computed tensor over the default per-tensor limit", model: cos(1<<20, 1<<20), inputs: one,
			want: []string{`node "cos" (ConstantOfShape): output "y" of shape [1048576,1048576] exceeds the limit of 2147483648 bytes per tensor`}},
		{name: "computed tensor with overflowing dims", model: cos(1<<40, 1<<40, 1<<40), inputs: one,
			want: []string{`node "cos" (ConstantOfShape): output "y" of shape [1099511627776,1099511627776,1099511627776] exceeds the limit`}},
		{name: "computed tensor over a small per-tensor limit", model: cos(64, 64), inputs: one,
			opts: []bnrun.Option{bnrun.WithMemoryLimits(1<<12, 0)},
			want: []string{`node "cos" (ConstantOfShape): output "y" of shape [64,64] exceeds the limit of 4096 bytes per tensor`},
			// Folded at Open into an initializer named after the output.
			foldWant: []string{`initializer "y" of shape [64,64] exceeds the limit of 4096 bytes per tensor`}},
		{name: "run over the total limit", model: chain.bytes(), inputs: map[string]*bnrun.Tensor{"x": hZeros(64, 64)},
			opts: []bnrun.Option{bnrun.WithMemoryLimits(0, 1<<14)},
			want: []string{`inputs "x" [64,64] need 32768 bytes of intermediate memory, over the limit of 16384 (largest tensor: "a" [64,64], 16384 bytes)`}},
	})
	_, err := bnrun.OpenBytes(chain.bytes(), bnrun.WithMemoryLimits(-1, 0))
	if err == nil || !strings.Contains(err.Error(), "memory limits must not be negative") {
		t.Errorf("negative limit: %v", err)
	}
}

// hExtModel is a model whose initializer w (FLOAT[4]) lives in external
// data at location, and y = x + w.
func hExtModel(location string) []byte {
	w := hpb{}.ints(hTenDims, 4).i(hTenType, hFloat).str(hTenName, "w").i(hTenLoc, 1).
		msg(hTenExt, hpb{}.str(1, "location").str(2, location))
	return hOne([]int64{4}, hNode("add", "Add", []string{"x", "w"}, []string{"y"}), w).bytes()
}

func TestHostileFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(root, "secret.bin")
	for _, p := range []string{secret, filepath.Join(dir, "w.bin")} {
		if err := os.WriteFile(p, make([]byte, 16), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlinks := os.Symlink(secret, filepath.Join(dir, "link.bin")) == nil
	big := hOne([]int64{1, 4}, hNode("add", "Add", []string{"x", "w"}, []string{"y"}), hTensor("w", []int64{1, 4000}, nil)).bytes()
	cut := big[:len(big)/2]
	cases := []struct {
		name  string
		model []byte
		want  string
		link  bool
	}{
		{"external data in the folder opens", hExtModel("w.bin"), "", false},
		{"external data with ..", hExtModel("../secret.bin"),
			`initializer "w": external data "../secret.bin": location escapes the model's directory`, false},
		{"external data at an absolute path", hExtModel(secret),
			`initializer "w": external data "` + secret + `": location must be a relative path`, false},
		{"external data through a symlink", hExtModel("link.bin"),
			`initializer "w": external data "link.bin": location resolves outside the model's directory`, true},
		{"file cut inside an initializer", cut, `initializer "w": raw_data: field 9 declares 16000 bytes, but only`, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.link && !symlinks {
				t.Skip("no symlinks here")
			}
			path := filepath.Join(dir, "m"+string(rune('a'+i))+".onnx")
			if err := os.WriteFile(path, c.model, 0o644); err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				m, err := bnrun.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				m.Close()
				return
			}
			hostileRun(t, hostileCase{want: []string{path, c.want}}, path)
		})
	}
	// OpenBytes has no folder to resolve external data in.
	hostileRun(t, hostileCase{model: hExtModel("w.bin"),
		want: []string{`initializer "w": external data "w.bin": no directory to resolve it in`}}, "")
}

// TestHostileFoldBudget: the optimisation pass computes constants at Open,
// where the limits given to Open do not reach; a tiny file of many large
// constant nodes must not make it allocate without bound (it allocated
// 16 MiB per node, 640 MiB for this 3 KB file, and more in the shape
// probe). What it folds is then held to the limits like the file's own
// initializers.
func TestHostileFoldBudget(t *testing.T) {
	g := hGraph{ins: []hpb{hValue("x", 1, 1)}, inits: []hpb{hInt64s("s", 2048, 2048)}}
	sum := "x"
	for i := range 40 {
		c, r, a := "c"+strconv.Itoa(i), "m"+strconv.Itoa(i), "a"+strconv.Itoa(i)
		g.nodes = append(g.nodes,
			hNode("cos_"+c, "ConstantOfShape", []string{"s"}, []string{c}),
			hNode("mean_"+r, "ReduceMean", []string{c}, []string{r}, hInts("axes", 0, 1)),
			hNode("add_"+a, "Add", []string{sum, r}, []string{a}))
		sum = a
	}
	g.outs = []hpb{hValue(sum)}
	model := g.bytes()
	for _, limits := range []bool{false, true} {
		opts := []bnrun.Option{bnrun.WithThreads(1)}
		if limits {
			opts = append(opts, bnrun.WithMemoryLimits(1<<20, 4<<20))
		}
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		m, err := bnrun.OpenBytes(model, opts...)
		goruntime.ReadMemStats(&ms)
		mb := (ms.TotalAlloc - before) >> 20
		t.Logf("limits %v: Open of a %d-byte file allocated %d MiB: %v", limits, len(model), mb, err)
		if mb > 200 {
			t.Errorf("limits %v: Open of a %d-byte file allocated %d MiB", limits, len(model), mb)
		}
		if !limits {
			if err != nil {
				t.Fatal(err)
			}
			m.Close()
			continue
		}
		want := `initializer "c1" of shape [2048,2048] exceeds the limit of 1048576 bytes per tensor`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("with limits: got %v, want %q", err, want)
		}
	}
	// Without the pass, the first Run reports the first node over the
	// limit before allocating anything for it.
	hostileRun(t, hostileCase{model: model, inputs: map[string]*bnrun.Tensor{"x": hZeros(1, 1)},
		opts: []bnrun.Option{bnrun.WithMemoryLimits(1<<20, 4<<20), bnrun.WithoutFold()},
		want: []string{`node "cos_c0" (ConstantOfShape): output "c0" of shape [2048,2048] exceeds the limit of 1048576 bytes per tensor`}}, "")
}

// hScaleModel is a model of about n nodes of one of the kinds the
// optimisation pass removes or rewrites, for TestHostileOpenScale.
func hScaleModel(kind string, n int) []byte {
	g := hGraph{outs: []hpb{hValue("y")}}
	prev := "x"
	next := func(i int) string { return "t" + strconv.Itoa(i) }
	tmFalse := hpb{}.i(hTenType, 9).str(hTenName, "tm0").msg(hTenRaw, []byte{0}) // BOOL scalar
	w1 := hTensor("w", []int64{2, 2, 1, 1}, []float32{0.5, -0.25, 0.125, 0.75})
	w3 := hTensor("w3", []int64{2, 2, 3, 3}, nil)
	bnParams := []hpb{hTensor("s", []int64{2}, []float32{1.5, -0.5}), hTensor("b", []int64{2}, []float32{0.25, 1}),
		hTensor("m", []int64{2}, []float32{-0.5, 0.5}), hTensor("v", []int64{2}, []float32{0.5, 2})}
	bn := func(name, in, out string) hpb {
		return hNode(name, "BatchNormalization", []string{in, "s", "b", "m", "v"}, []string{out})
	}
	switch kind {
	case "Identity", "Dropout", "Dropout with training_mode false":
		g.ins = []hpb{hValue("x", 1, 2)}
		op, extra := kind, []string(nil)
		if kind != "Identity" {
			op = "Dropout"
		}
		if kind == "Dropout with training_mode false" {
			extra = []string{"", "tm0"}
			g.inits = []hpb{tmFalse}
		}
		for i := range n - 1 {
			g.nodes = append(g.nodes, hNode("n"+strconv.Itoa(i), op, append([]string{prev}, extra...), []string{next(i)}))
			prev = next(i)
		}
	case "Constant into Add":
		g.ins = []hpb{hValue("x", 1, 2)}
		for i := range (n - 1) / 2 {
			k := "k" + strconv.Itoa(i)
			g.nodes = append(g.nodes, hNode(k, "Constant", nil, []string{k}, hpb{}.str(hAttrName, "value_float").i(hAttrType, 1).f(hAttrF, 1)),
				hNode("a"+strconv.Itoa(i), "Add", []string{prev, k}, []string{next(i)}))
			prev = next(i)
		}
	case "Conv BN Add Relu":
		g.ins = []hpb{hValue("x", 1, 2, 2, 2)}
		g.inits = append([]hpb{w1}, bnParams...)
		for i := range (n - 1) / 4 {
			s := strconv.Itoa(i)
			g.nodes = append(g.nodes, hNode("conv"+s, "Conv", []string{prev, "w"}, []string{"c" + s}),
				bn("bn"+s, "c"+s, "b"+s),
				hNode("add"+s, "Add", []string{"b" + s, prev}, []string{"a" + s}),
				hNode("relu"+s, "Relu", []string{"a" + s}, []string{next(i)}))
			prev = next(i)
		}
	case "BN Relu Conv Sigmoid":
		g.ins = []hpb{hValue("x", 1, 2, 3, 3)}
		g.inits = append([]hpb{w3}, bnParams...)
		for i := range (n - 1) / 4 {
			s := strconv.Itoa(i)
			g.nodes = append(g.nodes, bn("bn"+s, prev, "b"+s),
				hNode("relu"+s, "Relu", []string{"b" + s}, []string{"r" + s}),
				hNode("conv"+s, "Conv", []string{"r" + s, "w3"}, []string{"c" + s}, hInts("pads", 1, 1, 1, 1)),
				hNode("sig"+s, "Sigmoid", []string{"c" + s}, []string{next(i)}))
			prev = next(i)
		}
	default:
		panic("unknown kind " + kind)
	}
	g.nodes = append(g.nodes, hNode("last", "Tanh", []string{prev}, []string{"y"}))
	return g.bytes()
}

// TestHostileOpenScale opens files of 200 000 nodes of the kinds the
// optimisation pass removes or rewrites (fold's TestOptimizeScale has
// more), each in a few seconds: every
// rule, the loader and compiling take about linear time (a chain of
// 20 000 Identity nodes, a 0.3 MB file, took 20 s to optimise, and 200 000
// would have taken hours). The bound only catches a return to quadratic
// time.
func TestHostileOpenScale(t *testing.T) {
	const n = 200000
	want := map[string]map[string]int{
		"Identity":                         {"IdentityElim": n - 1},
		"Dropout":                          {"IdentityElim": n - 1},
		"Dropout with training_mode false": {"IdentityElim": n - 1},
		"Constant into Add":                {"ConstFold": (n - 1) / 2},
		"Conv BN Add Relu":                 {"ConvBN": (n - 1) / 4, "ConvAdd": (n - 1) / 4, "ConvAct": (n - 1) / 4},
		"BN Relu Conv Sigmoid":             {"BNAffine": (n - 1) / 4, "AffineAct": (n - 1) / 4, "AffineConv": (n - 1) / 4, "ConvAct": (n - 1) / 4},
	}
	for _, kind := range []string{"Identity", "Dropout with training_mode false", "Constant into Add", "Conv BN Add Relu", "BN Relu Conv Sigmoid"} {
		t.Run(kind, func(t *testing.T) {
			model := hScaleModel(kind, n)
			start := time.Now()
			m, err := bnrun.OpenBytes(model, bnrun.WithThreads(1))
			d := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			t.Logf("%d-byte file of %d nodes: Open took %v", len(model), n, d)
			if d > time.Minute {
				t.Errorf("Open took %v", d)
			}
			insp, err := m.Inspect()
			if err != nil {
				t.Fatal(err)
			}
			for r, c := range want[kind] {
				if got := insp.Rules[r]; got != c {
					t.Errorf("%s fired %d times, want %d", r, got, c)
				}
			}
		})
	}
}

// TestHostileOpenContext: Open gives up when its context is done, with an
// error that matches the context's.
func TestHostileOpenContext(t *testing.T) {
	model := hScaleModel("Conv BN Add Relu", 200000)
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		open func(context.Context) (*bnrun.Model, error)
		// Deadlines that fall in the phases on a typical machine (the
		// test's log says where each stopped): reading and decoding,
		// checking, optimising.
		deadlines []time.Duration
	}{
		{"OpenContext", func(ctx context.Context) (*bnrun.Model, error) { return bnrun.OpenContext(ctx, path) },
			[]time.Duration{5 * time.Millisecond, 300 * time.Millisecond, 1500 * time.Millisecond}},
		{"OpenBytesContext", func(ctx context.Context) (*bnrun.Model, error) { return bnrun.OpenBytesContext(ctx, model) },
			[]time.Duration{100 * time.Millisecond}},
	} {
		open := c.open
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := open(cancelled)
			t.Logf("cancelled: %v after %v", err, time.Since(start))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled context: got %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("a cancelled Open took %v", d)
			}
			for _, after := range c.deadlines {
				ctx, cancel := context.WithTimeout(context.Background(), after)
				start := time.Now()
				m, err := open(ctx)
				cancel()
				d := time.Since(start)
				t.Logf("deadline %v: %v after %v", after, err, d)
				if err == nil {
					m.Close()
					continue // a fast machine finished first
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("deadline %v: got %v", after, err)
				}
				if d > after+5*time.Second {
					t.Errorf("deadline %v: Open returned after %v", after, d)
				}
			}
		})
	}
}

// openWithin runs OpenContext on path in a goroutine and returns its error,
// failing the test when it takes longer than limit (so that a regression
// that blocks fails instead of hanging the test).
func openWithin(t *testing.T, limit time.Duration, path string, opts ...bnrun.Option) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		m, err := bnrun.OpenContext(context.Background(), path, opts...)
		if err == nil {
			m.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("error after %v: %v", time.Since(start), err)
		return err
	case <-time.After(limit):
		t.Fatalf("Open of %s still running after %v", path, limit)
		return nil
	}
}

// TestHostileFileKinds: Open reads only regular files, of bounded size,
// as the model and as external data. A named pipe blocked Open forever
// (os.ReadFile waits for a writer), /dev/zero read until memory ran out.
func TestHostileFileKinds(t *testing.T) {
	dir := t.TempDir()
	model := hOne([]int64{4}, hNode("add", "Add", []string{"x", "w"}, []string{"y"}), hTensor("w", []int64{4}, nil)).bytes()
	fifo := filepath.Join(dir, "m.fifo")
	fifos := exec.Command("mkfifo", fifo).Run() == nil
	if fifos {
		if err := exec.Command("mkfifo", filepath.Join(dir, "w.fifo")).Run(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.onnx")
	if err := os.WriteFile(big, model, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 3<<10); err != nil {
		t.Fatal(err)
	}
	ext := func(name, location string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, hExtModel(location), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path string
		opts       []bnrun.Option
		want       string
		skip       bool
		limit      bool // the error matches ErrMemoryLimit
	}{
		{name: "model path a named pipe", path: fifo, want: fifo + ": a named pipe, not a regular file", skip: !fifos},
		{name: "model path /dev/zero", path: "/dev/zero", want: "/dev/zero: a character device, not a regular file"},
		{name: "model path a directory", path: dir, want: dir + ": a directory, not a regular file"},
		{name: "model file over the memory limits", path: big, opts: []bnrun.Option{bnrun.WithMemoryLimits(1<<10, 1<<10)}, limit: true,
			want: big + ": file of 3072 bytes is larger than the limit of 2048 bytes (the per-tensor plus the per-Run memory limit, see WithMemoryLimits)"},
		{name: "external data a named pipe", path: ext("fifo.onnx", "w.fifo"), skip: !fifos,
			want: `initializer "w": external data "w.fifo" is a named pipe, not a regular file`},
		{name: "external data a directory", path: ext("dir.onnx", "sub"),
			want: `initializer "w": external data "sub" is a directory, not a regular file`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.skip {
				t.Skip("no named pipes here")
			}
			if _, err := os.Stat(c.path); err != nil {
				t.Skip(err)
			}
			err := openWithin(t, 5*time.Second, c.path, c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
			if c.limit != errors.Is(err, bnrun.ErrMemoryLimit) {
				t.Errorf("errors.Is(err, ErrMemoryLimit) = %v, want %v", !c.limit, c.limit)
			}
		})
	}
}
