package loader

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/ir"
)

func mustLoad(t *testing.T, b pb, opt Options) *ir.Graph {
	t.Helper()
	g, err := Load(b, opt)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return g
}

func TestLoadSimple(t *testing.T) {
	g := mustLoad(t, simpleModel(), Options{})
	if g.Name != "g" || g.IRVersion != 8 || g.ProducerName != "test" {
		t.Errorf("header: %q %d %q", g.Name, g.IRVersion, g.ProducerName)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].OpType != "Relu" || g.Nodes[0].Opset != 13 ||
		!reflect.DeepEqual(g.Nodes[0].Inputs, []string{"x"}) || !reflect.DeepEqual(g.Nodes[0].Outputs, []string{"y"}) {
		t.Errorf("nodes: %+v", g.Nodes[0])
	}
	// w is an initializer, so it is not a graph input.
	wantIn := []ir.ValueInfo{{Name: "x", DType: ir.Float32, Dims: []ir.Dim{{Value: 1}, {Value: 2}}}}
	if !reflect.DeepEqual(g.Inputs, wantIn) {
		t.Errorf("inputs: %+v", g.Inputs)
	}
	if len(g.Outputs) != 1 || g.Outputs[0].Name != "y" {
		t.Errorf("outputs: %+v", g.Outputs)
	}
	w := g.Initializers["w"]
	if w == nil || !reflect.DeepEqual(w.F32, []float32{1, 2}) {
		t.Errorf("initializer w: %+v", w)
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(p, simpleModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := LoadFile(p)
	if err != nil || len(g.Nodes) != 1 {
		t.Fatalf("LoadFile: %v", err)
	}
	if _, err := LoadFile(p + ".missing"); err == nil {
		t.Error("missing file: no error")
	}
}

func TestValueInfo(t *testing.T) {
	sym := pb{}.msg(shDim, pb{}.str(dimParam, "N")).
		msg(shDim, pb{}.int(dimValue, 3)).
		msg(shDim, pb{}).
		msg(shDim, pb{}.int(dimValue, -1))
	in := func(name string, tt pb) pb {
		return pb{}.str(vfName, name).msg(vfType, pb{}.msg(tpTensorType, tt))
	}
	g := pb{}.
		msg(gfInput, in("sym", pb{}.int(ttElemType, dtFloat16).msg(ttShape, sym))).
		msg(gfInput, in("scalar", pb{}.int(ttElemType, dtInt32).msg(ttShape, pb{}))).
		msg(gfInput, in("noshape", pb{}.int(ttElemType, dtBool))).
		msg(gfInput, in("str", pb{}.int(ttElemType, dtString))).
		msg(gfInput, pb{}.str(vfName, "seq").msg(vfType, pb{}.msg(4, pb{}))).
		msg(gfOutput, pb{}.str(vfName, "untyped"))
	m := modelPB(g, opsetPB("", 13))
	got := mustLoad(t, m, Options{}).Inputs
	want := []ir.ValueInfo{
		{Name: "sym", DType: ir.Float32, Dims: []ir.Dim{{Value: -1, Param: "N"}, {Value: 3}, {Value: -1}, {Value: -1}}},
		{Name: "scalar", DType: ir.Int64, Dims: []ir.Dim{}},
		{Name: "noshape", DType: ir.Int64},
		{Name: "str", DType: ir.DType(dtString)},
		{Name: "seq"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got[1].Dims == nil || got[2].Dims != nil {
		t.Error("scalar and unknown shapes must differ: Dims [] vs nil")
	}
}

func attrPB(name string, typ int64) pb {
	b := pb{}.str(afName, name)
	if typ != 0 {
		b = b.int(afType, typ)
	}
	return b
}

func TestAttributes(t *testing.T) {
	ten := floatTensorPB("val", []int64{2}, 1, 2)
	attrs := []pb{
		attrPB("f", 1).float(afF, 1.5),
		attrPB("i", 2).int(afI, -7),
		attrPB("s", 3).str(afS, "same"),
		attrPB("t", 4).msg(afT, ten),
		attrPB("g", 5).msg(afG, pb{}.str(gfName, "body")),
		attrPB("floats", 6).floats(afFloats, 1, 2).packedFloats(afFloats, 3),
		attrPB("ints", 7).packedInts(afInts, 1, -2).ints(afInts, 3),
		attrPB("strings", 8).str(afStrings, "a").str(afStrings, "b"),
		attrPB("tensors", 9).msg(afTensors, ten),
		attrPB("graphs", 10).msg(afGraphs, pb{}),
		attrPB("sparse", 11).msg(afSparseTensor, pb{}),
		attrPB("sparses", 12).msg(afSparseTensors, pb{}),
		attrPB("tp", 13).msg(afTP, pb{}),
		attrPB("tps", 14).msg(afTypeProtos, pb{}),
		attrPB("emptyints", 7),
		// A typed attribute keeps only the payload of its type.
		attrPB("typed", 2).int(afI, 4).float(afF, 9).str(afDocString, "doc"),
		// Old files: no type field; it is inferred from the payload.
		attrPB("old_f", 0).float(afF, 0),
		attrPB("old_i", 0).int(afI, 0),
		attrPB("old_s", 0).str(afS, ""),
		attrPB("old_t", 0).msg(afT, ten),
		attrPB("old_g", 0).msg(afG, pb{}),
		attrPB("old_floats", 0).floats(afFloats, 0.5),
		attrPB("old_ints", 0).packedInts(afInts, 5, 6),
		attrPB("old_strings", 0).str(afStrings, "x"),
	}
	n := nodePB("n", "Custom", "", []string{"a"}, []string{"b"}, attrs...)
	g := mustLoad(t, modelPB(pb{}.msg(gfNode, n), opsetPB("", 11)), Options{})
	got := g.Nodes[0].Attrs
	want := map[string]*ir.Attr{
		"f":           {Name: "f", Type: ir.AttrFloat, F: 1.5},
		"i":           {Name: "i", Type: ir.AttrInt, I: -7},
		"s":           {Name: "s", Type: ir.AttrString, S: "same"},
		"t":           {Name: "t", Type: ir.AttrTensor, T: ir.NewF32([]int{2}, []float32{1, 2})},
		"g":           {Name: "g", Type: ir.AttrGraph},
		"floats":      {Name: "floats", Type: ir.AttrFloats, Floats: []float32{1, 2, 3}},
		"ints":        {Name: "ints", Type: ir.AttrInts, Ints: []int64{1, -2, 3}},
		"strings":     {Name: "strings", Type: ir.AttrStrings, Strings: []string{"a", "b"}},
		"tensors":     {Name: "tensors", Type: attrTensors},
		"graphs":      {Name: "graphs", Type: attrGraphs},
		"sparse":      {Name: "sparse", Type: attrSparseTensor},
		"sparses":     {Name: "sparses", Type: attrSparseTensors},
		"tp":          {Name: "tp", Type: attrTypeProto},
		"tps":         {Name: "tps", Type: attrTypeProtos},
		"emptyints":   {Name: "emptyints", Type: ir.AttrInts},
		"typed":       {Name: "typed", Type: ir.AttrInt, I: 4},
		"old_f":       {Name: "old_f", Type: ir.AttrFloat},
		"old_i":       {Name: "old_i", Type: ir.AttrInt},
		"old_s":       {Name: "old_s", Type: ir.AttrString},
		"old_t":       {Name: "old_t", Type: ir.AttrTensor, T: ir.NewF32([]int{2}, []float32{1, 2})},
		"old_g":       {Name: "old_g", Type: ir.AttrGraph},
		"old_floats":  {Name: "old_floats", Type: ir.AttrFloats, Floats: []float32{0.5}},
		"old_ints":    {Name: "old_ints", Type: ir.AttrInts, Ints: []int64{5, 6}},
		"old_strings": {Name: "old_strings", Type: ir.AttrStrings, Strings: []string{"x"}},
	}
	if len(got) != len(want) {
		t.Errorf("got %d attributes, want %d", len(got), len(want))
	}
	for k, w := range want {
		a := got[k]
		if a == nil {
			t.Errorf("attribute %q missing", k)
			continue
		}
		if !reflect.DeepEqual(a, w) {
			t.Errorf("attribute %q: got %+v, want %+v", k, a, w)
		}
	}
	// The ops accessors work on what the loader produces.
	node := g.Nodes[0]
	if v, err := node.Int("i", 0); err != nil || v != -7 {
		t.Errorf("Int: %v %v", v, err)
	}
	if _, err := node.Int("f", 0); err == nil {
		t.Error("Int of a FLOAT attribute: no error")
	}
}

func TestOpsets(t *testing.T) {
	g := pb{}.
		msg(gfNode, nodePB("a", "Relu", "", []string{"x"}, []string{"y"})).
		msg(gfNode, nodePB("b", "Relu", "ai.onnx", []string{"y"}, []string{"z"})).
		msg(gfNode, nodePB("c", "Tree", "ai.onnx.ml", []string{"z"}, []string{"w"}))
	m := mustLoad(t, modelPB(g, opsetPB("ai.onnx", 17), opsetPB("ai.onnx.ml", 3)), Options{})
	if !reflect.DeepEqual(m.Opsets, map[string]int{"": 17, "ai.onnx.ml": 3}) {
		t.Errorf("opsets %v", m.Opsets)
	}
	for i, want := range []struct {
		domain string
		opset  int
	}{{"", 17}, {"", 17}, {"ai.onnx.ml", 3}} {
		n := m.Nodes[i]
		if n.Domain != want.domain || n.Opset != want.opset {
			t.Errorf("node %s: domain %q opset %d, want %q %d", n.Name, n.Domain, n.Opset, want.domain, want.opset)
		}
	}
	// A domain without an import is an error naming the node.
	_, err := Load(modelPB(g, opsetPB("", 17)), Options{})
	if err == nil || !strings.Contains(err.Error(), `"c"`) || !strings.Contains(err.Error(), "ai.onnx.ml") {
		t.Errorf("missing opset: %v", err)
	}
	_, err = Load(modelPB(g), Options{})
	if err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("no opsets: %v", err)
	}
	// Conflicting imports of the default domain.
	_, err = Load(modelPB(g, opsetPB("", 17), opsetPB("ai.onnx", 13), opsetPB("ai.onnx.ml", 3)), Options{})
	if err == nil || !strings.Contains(err.Error(), "13") {
		t.Errorf("conflicting opsets: %v", err)
	}
}

func TestMetadataAndDoc(t *testing.T) {
	m := simpleModel().
		msg(mfMetadataProps, pb{}.str(1, "author").str(2, "me")).
		msg(mfMetadataProps, pb{}.str(1, "license").str(2, "MIT")).
		str(mfProducerVersion, "1.2").
		str(mfDocString, "model doc").
		int(mfModelVersion, 3).
		str(mfDomain, "org.test")
	g := mustLoad(t, m, Options{})
	if !reflect.DeepEqual(g.Metadata, map[string]string{"author": "me", "license": "MIT"}) {
		t.Errorf("metadata %v", g.Metadata)
	}
	if g.ProducerVersion != "1.2" || g.DocString != "model doc" {
		t.Errorf("producer version %q doc %q", g.ProducerVersion, g.DocString)
	}
	// Without a model doc_string the graph's is used.
	g = mustLoad(t, modelPB(pb{}.str(gfDocString, "graph doc"), opsetPB("", 1)), Options{})
	if g.DocString != "graph doc" {
		t.Errorf("doc %q", g.DocString)
	}
}

// TestGraphMerge: a repeated graph field merges, as protobuf says.
func TestGraphMerge(t *testing.T) {
	g1 := pb{}.msg(gfNode, nodePB("a", "Relu", "", []string{"x"}, []string{"y"})).str(gfName, "first")
	g2 := pb{}.msg(gfNode, nodePB("b", "Relu", "", []string{"y"}, []string{"z"})).str(gfName, "second")
	m := modelPB(g1, opsetPB("", 13)).msg(mfGraph, g2)
	g := mustLoad(t, m, Options{})
	if g.Name != "second" || len(g.Nodes) != 2 || g.Nodes[1].Name != "b" {
		t.Errorf("merged graph: %q %d nodes", g.Name, len(g.Nodes))
	}
}

func TestSparseInitializer(t *testing.T) {
	vals := floatTensorPB("sp", []int64{2}, 5, 6)
	lin := tensorPB("", dtInt64, 2).ints(tfInt64Data, 1, 5)
	coo := tensorPB("", dtInt64, 2, 2).ints(tfInt64Data, 0, 1, 2, 1)
	for _, idx := range []pb{lin, coo} {
		sp := pb{}.msg(sfValues, vals).msg(sfIndices, idx).ints(sfDims, 3, 2)
		g := pb{}.msg(gfSparseInitializer, sp).msg(gfInput, valueInfoPB("sp", dtFloat, []int64{3, 2}))
		m := mustLoad(t, modelPB(g, opsetPB("", 13)), Options{})
		checkF32(t, m.Initializers["sp"], []int{3, 2}, []float32{0, 5, 0, 0, 0, 6})
		if len(m.Inputs) != 0 {
			t.Errorf("inputs %v", m.Inputs)
		}
	}
	bad := pb{}.msg(sfValues, vals).msg(sfIndices, tensorPB("", dtInt64, 2).ints(tfInt64Data, 1, 6)).ints(sfDims, 3, 2)
	_, err := Load(modelPB(pb{}.msg(gfSparseInitializer, bad), opsetPB("", 13)), Options{})
	if err == nil || !strings.Contains(err.Error(), `"sp"`) {
		t.Errorf("out of range index: %v", err)
	}
}

func TestModelErrors(t *testing.T) {
	op := opsetPB("", 13)
	relu := func(attrs ...pb) pb {
		return pb{}.msg(gfNode, nodePB("r1", "Relu", "", []string{"x"}, []string{"y"}, attrs...))
	}
	cases := []struct {
		name string
		m    pb
		want []string
	}{
		{"empty", pb{}, []string{"no graph"}},
		{"graph as varint", pb{}.varint(mfGraph, 1), []string{"wire type"}},
		{"ir_version as bytes", pb{}.str(mfIRVersion, "8"), []string{"wire type"}},
		{"opset version as bytes", modelPB(pb{}, pb{}.str(2, "x")), []string{"opset_import"}},
		{"negative opset", modelPB(pb{}, opsetPB("", -1)), []string{"opset_import", "-1"}},
		{"node without op_type", modelPB(pb{}.msg(gfNode, pb{}.str(nfName, "nop")), op), []string{`"nop"`, "op_type"}},
		{"node field wire type", modelPB(pb{}.msg(gfNode, pb{}.str(nfName, "n").varint(nfInput, 1)), op),
			[]string{`"n"`, "wire type"}},
		{"unnamed node error", modelPB(pb{}.msg(gfNode, pb{}.varint(nfInput, 1)), op), []string{"#1", "wire type"}},
		{"attr no name", modelPB(relu(pb{}.int(afType, 2).int(afI, 1)), op), []string{`"r1"`, "no name"}},
		{"attr no value", modelPB(relu(attrPB("a", 0)), op), []string{`"r1"`, `"a"`, "no value"}},
		{"attr ambiguous", modelPB(relu(attrPB("a", 0).int(afI, 1).float(afF, 1)), op), []string{`"a"`, "more than one"}},
		{"attr bad type", modelPB(relu(attrPB("a", 99)), op), []string{`"a"`, "99"}},
		{"attr ref", modelPB(relu(attrPB("a", 2).str(afRefAttrName, "alpha")), op), []string{`"a"`, "functions"}},
		{"attr dup", modelPB(relu(attrPB("a", 2), attrPB("a", 2)), op), []string{`"a"`, "twice"}},
		{"attr f as varint", modelPB(relu(attrPB("a", 1).varint(afF, 1)), op), []string{`"a"`, "wire type"}},
		{"attr tensor missing", modelPB(relu(attrPB("value", 4)), op), []string{`"value"`, "no tensor"}},
		{"attr tensor bad", modelPB(relu(attrPB("value", 4).msg(afT, tensorPB("c", dtFloat, 2))), op),
			[]string{`"r1"`, `"value"`, `"c"`, "needs 2"}},
		{"attr string tensor", modelPB(relu(attrPB("value", 4).msg(afT, tensorPB("c", dtString, 1).str(tfStringData, "x"))), op),
			[]string{`"value"`, `"c"`, "STRING"}},
		{"attr packed ints truncated", modelPB(relu(attrPB("a", 7).bytes(afInts, []byte{0xff})), op), []string{`"a"`}},
		{"init bad", modelPB(pb{}.msg(gfInitializer, tensorPB("w", dtFloat, 3).floats(tfFloatData, 1)), op),
			[]string{`"w"`, "needs 3"}},
		{"init unnamed", modelPB(pb{}.msg(gfInitializer, floatTensorPB("", []int64{1}, 1)), op), []string{"no name"}},
		{"init dup", modelPB(pb{}.msg(gfInitializer, floatTensorPB("w", nil, 1)).msg(gfInitializer, floatTensorPB("w", nil, 1)), op),
			[]string{`"w"`, "twice"}},
		{"init truncated", modelPB(pb{}.msg(gfInitializer, pb{}.raw(0x0a, 0x05)), op), []string{"initializer #1"}},
		{"init string", modelPB(pb{}.msg(gfInitializer, tensorPB("s", dtString, 1).str(tfStringData, "x")), op),
			[]string{`"s"`, "STRING"}},
		{"input bad dim", modelPB(pb{}.msg(gfInput, pb{}.str(vfName, "x").msg(vfType, pb{}.msg(tpTensorType,
			pb{}.msg(ttShape, pb{}.msg(shDim, pb{}.str(dimValue, "3")))))), op), []string{`"x"`, "wire type"}},
		{"sparse no indices", modelPB(pb{}.msg(gfSparseInitializer, pb{}.msg(sfValues, floatTensorPB("sp", []int64{1}, 1))), op),
			[]string{"sparse"}},
		{"graph truncated", pb{}.raw(0x3a, 0x02, 0x0a, 0x05), []string{"graph", "field 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.m, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestTruncationsAndFlips loads every prefix of a valid model and every
// single-byte corruption of it: none may panic.
func TestTruncationsAndFlips(t *testing.T) {
	m := richModel()
	if _, err := Load(m, Options{}); err != nil {
		t.Fatal(err)
	}
	for i := range len(m) {
		// Some prefixes end on a field boundary and are valid models; the
		// others must fail cleanly.
		Load(m[:i], Options{})
	}
	c := make([]byte, len(m))
	for i := range len(m) {
		for _, v := range []byte{0x00, 0xff, 0x80, m[i] ^ 0x01, m[i] + 1} {
			copy(c, m)
			c[i] = v
			Load(c, Options{MaxTensorBytes: 1 << 20})
		}
	}
}

// richModel exercises most of the format, for the corruption test and as
// the fuzz seed.
func richModel() pb {
	ten := floatTensorPB("c", []int64{2}, 1, 2)
	n1 := nodePB("conv", "Conv", "", []string{"x", "w", ""}, []string{"y"},
		attrPB("strides", 7).packedInts(afInts, 1, 1),
		attrPB("alpha", 1).float(afF, 0.5),
		attrPB("mode", 3).str(afS, "constant"),
		attrPB("value", 4).msg(afT, ten),
		attrPB("scales", 6).packedFloats(afFloats, 1, 2),
		attrPB("names", 8).str(afStrings, "a"))
	n2 := nodePB("cast", "Cast", "ai.onnx", []string{"y"}, []string{"z"}, attrPB("to", 0).int(afI, 7))
	g := pb{}.msg(gfNode, n1).msg(gfNode, n2).str(gfName, "rich").
		msg(gfInitializer, tensorPB("w", dtFloat16, 2).bytes(tfRawData, le16(0x3c00, 0xbc00))).
		msg(gfInitializer, tensorPB("i", dtInt32, 2).packedInts(tfInt32Data, 3, -4)).
		msg(gfInitializer, tensorPB("d", dtDouble).packedDoubles(tfDoubleData, 2.5)).
		msg(gfSparseInitializer, pb{}.msg(sfValues, floatTensorPB("sp", []int64{1}, 9)).
			msg(sfIndices, tensorPB("", dtInt64, 1).ints(tfInt64Data, 1)).ints(sfDims, 2)).
		msg(gfInput, valueInfoPB("x", dtFloat, []int64{-1, 3})).
		msg(gfInput, valueInfoPB("w", dtFloat16, []int64{2})).
		msg(gfOutput, valueInfoPB("z", dtInt64, nil))
	return modelPB(g, opsetPB("", 13)).msg(mfMetadataProps, pb{}.str(1, "k").str(2, "v"))
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(richModel()))
	f.Add([]byte(simpleModel()))
	f.Add([]byte(EncodeTensor("t", ir.NewF32([]int{2}, []float32{1, 2}))))
	if data, err := os.ReadFile("../testdata/models/mlp_bn_op13/model.onnx"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Load(data, Options{MaxTensorBytes: 1 << 20})
		if err == nil {
			for name, ten := range g.Initializers {
				if ten.Len() != ir.NumElems(ten.Shape) {
					t.Fatalf("initializer %q: %d elements for shape %v", name, ten.Len(), ten.Shape)
				}
			}
			for _, n := range g.Nodes {
				if n.Attrs == nil {
					t.Fatal("nil Attrs")
				}
			}
		}
		if _, ten, err := ReadTensor(data); err == nil && ten.Len() != ir.NumElems(ten.Shape) {
			t.Fatalf("tensor: %d elements for shape %v", ten.Len(), ten.Shape)
		}
	})
}
