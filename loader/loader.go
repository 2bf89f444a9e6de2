// Package loader decodes ONNX models (serialized ModelProto messages) into
// bnrun's graph (an ir.Graph), and reads and writes single tensors (TensorProto)
// such as the input and output .pb files of ONNX test cases.
//
// It reads the protobuf wire format directly. Tensors are converted to the
// two element types bnrun computes with: FLOAT, DOUBLE, FLOAT16 and BFLOAT16
// become Float32; the integer types and BOOL are widened to Int64 (UINT64
// values above the int64 range are an error). STRING, complex and other
// types are rejected. Tensor data may be in raw_data (little-endian), in the
// typed repeated fields (packed or not), or in external files next to the
// model.
//
// The loader never panics on malformed input; every error says which
// tensor, node or attribute it concerns where the file names one. Every
// tensor is checked against a size limit before its buffer is allocated.
//
// It owns the ONNX wire format and nothing after it: of bnrun it imports
// only ir, and must not import ops, kern, runtime, fold or the root
// package (which operators exist is the runtime's question).
package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bnrun/bnrun/ir"
)

// Options controls how Load resolves and limits tensor data.
type Options struct {
	// Dir is the folder in which external tensor data locations are
	// resolved. When it is empty, a tensor with external data is an error.
	// Locations must be relative and stay inside Dir, symlinks included.
	Dir string
	// FS, when not nil, holds the external data instead of the operating
	// system's files: Dir is then a slash-separated path inside FS ("."
	// for its root), and locations must stay inside it (fs.ValidPath).
	FS fs.FS
	// MaxTensorBytes caps the size of any single tensor: the larger of its
	// stored and its decoded size. Zero (or less) means 4 GiB.
	MaxTensorBytes int64
}

// ModelProto field numbers.
const (
	mfIRVersion       = 1
	mfProducerName    = 2
	mfProducerVersion = 3
	mfDomain          = 4
	mfModelVersion    = 5
	mfDocString       = 6
	mfGraph           = 7
	mfOpsetImport     = 8
	mfMetadataProps   = 14
)

// GraphProto field numbers.
const (
	gfNode              = 1
	gfName              = 2
	gfInitializer       = 5
	gfDocString         = 10
	gfInput             = 11
	gfOutput            = 12
	gfValueInfo         = 13
	gfSparseInitializer = 15
)

// NodeProto field numbers.
const (
	nfInput     = 1
	nfOutput    = 2
	nfName      = 3
	nfOpType    = 4
	nfAttribute = 5
	nfDocString = 6
	nfDomain    = 7
)

// DefaultMaxFileBytes caps the size of the files LoadFile and
// ReadTensorFile read: one tensor at the default cap plus one Run's
// default memory, 12 GiB.
const DefaultMaxFileBytes = DefaultMaxTensorBytes + defaultMaxRunBytes

// defaultMaxRunBytes is the runtime's default memory of one Run,
// runtime.DefaultMaxTotalBytes, written here so that the loader does not
// import the runtime; the root package's TestDefaultLimitsAgree checks
// that the two agree.
const defaultMaxRunBytes = 8 << 30

// LoadFile reads and decodes the ONNX model at path, resolving external
// data in the file's folder, with the default tensor size limit. The file
// is read as ReadFile reads it, up to DefaultMaxFileBytes.
func LoadFile(path string) (*ir.Graph, error) {
	data, err := ReadFile(path, DefaultMaxFileBytes)
	if err != nil {
		return nil, err
	}
	g, err := Load(data, Options{Dir: filepath.Dir(path)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// ReadFile reads the file at path whole, for a caller that was given the
// path by a user or a model. The file must be a regular file: a
// directory, a device (such as /dev/zero, which never ends), a named pipe
// (which blocks until something writes to it) or a socket is refused
// before it is opened, and so is a file of more than maxBytes bytes, with
// an error that matches ir.ErrMemoryLimit. It reads no more than the
// size the file had when it was opened.
func ReadFile(path string, maxBytes int64) ([]byte, error) {
	f, st, err := openRegular(path)
	if err != nil {
		if _, named := err.(*fs.PathError); named {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	size := st.Size()
	if size > maxBytes || size > math.MaxInt {
		return nil, ir.LimitErrorf("%s: file of %d bytes is larger than the limit of %d bytes", path, size, maxBytes)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%s: reading %d bytes: %w", path, size, err)
	}
	return data, nil
}

// NotRegularError is the error for a path that names something other than
// a regular file (see ReadFile).
type NotRegularError struct {
	Mode fs.FileMode
}

// Error names what the path is instead of a regular file.
func (e *NotRegularError) Error() string {
	var what string
	switch m := e.Mode; {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		return "not a regular file (mode " + m.String() + ")"
	}
	return what + ", not a regular file"
}

// openRegular opens path for reading when it names a regular file
// (symlinks followed), and returns it with its info. The kind is checked
// before the file is opened, since opening a named pipe waits for a
// writer, and again on what was opened: a path changed in between to a
// pipe is opened without waiting (O_NONBLOCK where the platform has it,
// which regular files ignore: openNonblock) and refused.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Mode: st.Mode()}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, nil, err
	}
	fst, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fst.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Mode: fst.Mode()}
	}
	if !os.SameFile(st, fst) {
		f.Close()
		return nil, nil, errors.New("the file changed while it was opened")
	}
	return f, fst, nil
}

// Load decodes a serialized ONNX ModelProto. The returned graph's tensors
// do not alias data.
func Load(data []byte, opt Options) (*ir.Graph, error) {
	return LoadContext(context.Background(), data, opt)
}

// LoadContext is Load stopping early when ctx is done, with an error that
// wraps ctx.Err(). It looks at ctx every thousand or so nodes and
// initializers.
func LoadContext(ctx context.Context, data []byte, opt Options) (*ir.Graph, error) {
	g, err := load(ctx, data, opt)
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	return g, nil
}

func load(ctx context.Context, data []byte, opt Options) (*ir.Graph, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := &ir.Graph{
		Opsets:       map[string]int{},
		Initializers: map[string]*ir.Tensor{},
		Metadata:     map[string]string{},
	}
	var graphs [][]byte
	var modelDoc string
	err := eachField(data, func(f field) error {
		var err error
		switch f.num {
		case mfIRVersion:
			g.IRVersion, err = f.int64v()
		case mfProducerName:
			g.ProducerName, err = f.str()
		case mfProducerVersion:
			g.ProducerVersion, err = f.str()
		case mfDomain, mfDocString:
			var s string
			s, err = f.str()
			if f.num == mfDocString {
				modelDoc = s
			}
		case mfModelVersion:
			_, err = f.int64v()
		case mfGraph:
			var b []byte
			b, err = f.bytes()
			graphs = append(graphs, b)
		case mfOpsetImport:
			err = parseOpset(f, g.Opsets)
		case mfMetadataProps:
			var k, v string
			k, v, err = parseStringPair(f)
			if err == nil {
				g.Metadata[k] = v
			}
		}
		if err != nil {
			err = fmt.Errorf("model: %w", err)
		}
		return err
	})
	gb := &graphBuilder{g: g, tc: opt.tensorCtx(), ctx: ctx}
	if te, ok := err.(*truncatedError); ok && te.num == mfGraph {
		// The file ends inside the graph: decode what there is of it, to
		// name the initializer or node that was cut.
		var inner *truncatedError
		if gerr := gb.parse(te.rest); gerr != nil && errors.As(gerr, &inner) {
			return nil, fmt.Errorf("graph: %w", gerr)
		}
		return nil, fmt.Errorf("graph: %w", err)
	}
	if err != nil {
		return nil, err
	}
	if len(graphs) == 0 {
		return nil, errors.New("model has no graph")
	}
	// Repeated occurrences of a message field merge; parsing each into the
	// same builder does exactly that.
	for _, b := range graphs {
		if err := gb.parse(b); err != nil {
			return nil, fmt.Errorf("graph: %w", err)
		}
	}
	if err := gb.finish(); err != nil {
		return nil, err
	}
	g.DocString = modelDoc
	if g.DocString == "" {
		g.DocString = gb.doc
	}
	return g, nil
}

// parseOpset decodes an OperatorSetIdProto into opsets, mapping "ai.onnx"
// to "".
func parseOpset(f field, opsets map[string]int) error {
	b, err := f.bytes()
	if err != nil {
		return fmt.Errorf("opset_import: %w", err)
	}
	var domain string
	var version int64
	err = eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			domain, err = f.str()
		case 2:
			version, err = f.int64v()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("opset_import: %w", err)
	}
	if domain == "ai.onnx" {
		domain = ""
	}
	if version < 0 || version > math.MaxInt32 {
		return fmt.Errorf("opset_import %q: bad version %d", domain, version)
	}
	if old, dup := opsets[domain]; dup && old != int(version) {
		return fmt.Errorf("opset_import %q: imported as both version %d and %d", domain, old, version)
	}
	opsets[domain] = int(version)
	return nil
}

// graphBuilder accumulates a GraphProto, possibly given in pieces.
type graphBuilder struct {
	g       *ir.Graph
	tc      tensorCtx
	inputs  []ir.ValueInfo
	doc     string
	nodeIdx int
	initIdx int
	// ctx is looked at every checkEvery fields of the graph, counted by
	// fields.
	ctx    context.Context
	fields int
}

// checkEvery is how many graph fields the loader decodes between two looks
// at its context.
const checkEvery = 1024

func (gb *graphBuilder) parse(b []byte) error {
	err := gb.parseFields(b)
	if te, ok := err.(*truncatedError); ok {
		return gb.cutErr(te)
	}
	return err
}

// cutErr names, as far as what remains of it allows, the node, initializer,
// input or output whose field te was cut short.
func (gb *graphBuilder) cutErr(te *truncatedError) error {
	// The first occurrence of each string field that is whole.
	s := map[protowire.Number]string{}
	eachField(te.rest, func(f field) error {
		if v, err := f.str(); err == nil && s[f.num] == "" {
			s[f.num] = v
		}
		return nil
	})
	switch te.num {
	case gfNode:
		n := &ir.Node{Name: s[nfName], OpType: s[nfOpType]}
		if o := s[nfOutput]; o != "" {
			n.Outputs = []string{o}
		}
		// Salvaging the cut node counted it already.
		return nodeErr(n, gb.nodeIdx, te)
	case gfInitializer:
		if name := s[tfName]; name != "" {
			return fmt.Errorf("initializer %q: %w", name, te)
		}
		return fmt.Errorf("initializer #%d: %w", gb.initIdx, te)
	case gfSparseInitializer:
		return fmt.Errorf("sparse initializer #%d: %w", gb.initIdx, te)
	case gfInput, gfOutput:
		what := "input"
		if te.num == gfOutput {
			what = "output"
		}
		if name := s[vfName]; name != "" {
			return fmt.Errorf("%s %q: %w", what, name, te)
		}
		return fmt.Errorf("%s: %w", what, te)
	}
	return te
}

func (gb *graphBuilder) parseFields(b []byte) error {
	g := gb.g
	return eachField(b, func(f field) error {
		if gb.fields++; gb.fields%checkEvery == 0 && gb.ctx != nil {
			if err := gb.ctx.Err(); err != nil {
				return fmt.Errorf("stopped after %d nodes and %d initializers: %w", gb.nodeIdx, gb.initIdx, err)
			}
		}
		switch f.num {
		case gfNode:
			gb.nodeIdx++
			b, err := f.bytes()
			if err != nil {
				return fmt.Errorf("graph node #%d: %w", gb.nodeIdx, err)
			}
			n, err := parseNode(b, gb.nodeIdx, gb.tc)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case gfName:
			s, err := f.str()
			if err != nil {
				return fmt.Errorf("graph name: %w", err)
			}
			g.Name = s
		case gfInitializer:
			gb.initIdx++
			b, err := f.bytes()
			if err != nil {
				return fmt.Errorf("initializer #%d: %w", gb.initIdx, err)
			}
			name, t, err := decodeTensor(b, gb.tc)
			if err != nil {
				if name == "" {
					return fmt.Errorf("initializer #%d: %w", gb.initIdx, err)
				}
				return fmt.Errorf("initializer %q: %w", name, err)
			}
			return gb.addInit(name, t)
		case gfSparseInitializer:
			gb.initIdx++
			b, err := f.bytes()
			if err != nil {
				return fmt.Errorf("sparse initializer #%d: %w", gb.initIdx, err)
			}
			name, t, err := decodeSparse(b, gb.tc)
			if err != nil {
				if name == "" {
					return fmt.Errorf("sparse initializer #%d: %w", gb.initIdx, err)
				}
				return fmt.Errorf("sparse initializer %q: %w", name, err)
			}
			return gb.addInit(name, t)
		case gfInput, gfOutput:
			what := "input"
			if f.num == gfOutput {
				what = "output"
			}
			b, err := f.bytes()
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			vi, err := parseValueInfo(b)
			if err != nil {
				if vi.Name != "" {
					return fmt.Errorf("%s %q: %w", what, vi.Name, err)
				}
				return fmt.Errorf("%s: %w", what, err)
			}
			if f.num == gfInput {
				gb.inputs = append(gb.inputs, vi)
			} else {
				g.Outputs = append(g.Outputs, vi)
			}
		case gfDocString:
			s, err := f.str()
			if err != nil {
				return fmt.Errorf("graph doc_string: %w", err)
			}
			gb.doc = s
		case gfValueInfo:
			if _, err := f.bytes(); err != nil {
				return fmt.Errorf("graph value_info: %w", err)
			}
		}
		return nil
	})
}

func (gb *graphBuilder) addInit(name string, t *ir.Tensor) error {
	if name == "" {
		return fmt.Errorf("initializer #%d has no name", gb.initIdx)
	}
	if _, dup := gb.g.Initializers[name]; dup {
		return fmt.Errorf("initializer %q is defined twice", name)
	}
	gb.g.Initializers[name] = t
	return nil
}

// finish drops inputs that are initializers and sets each node's opset.
func (gb *graphBuilder) finish() error {
	g := gb.g
	for _, vi := range gb.inputs {
		if _, isInit := g.Initializers[vi.Name]; !isInit {
			g.Inputs = append(g.Inputs, vi)
		}
	}
	for _, n := range g.Nodes {
		v, ok := g.Opsets[n.Domain]
		if !ok {
			d := n.Domain
			if d == "" {
				d = "ai.onnx"
			}
			return nodeErr(n, 0, fmt.Errorf("the model imports no opset for domain %q", d))
		}
		n.Opset = v
	}
	return nil
}

// nodeErr wraps err with the node's name, or its position and first output
// when it has none.
func nodeErr(n *ir.Node, idx int, err error) error {
	switch {
	case n.Name != "":
		return fmt.Errorf("node %q (%s): %w", n.Name, n.OpType, err)
	case len(n.Outputs) > 0:
		return fmt.Errorf("node ->%s (%s): %w", n.Outputs[0], n.OpType, err)
	case idx > 0:
		return fmt.Errorf("node #%d (%s): %w", idx, n.OpType, err)
	}
	return fmt.Errorf("node (%s): %w", n.OpType, err)
}

// parseNode decodes a NodeProto; idx is its 1-based position for messages.
func parseNode(b []byte, idx int, tc tensorCtx) (*ir.Node, error) {
	n := &ir.Node{Attrs: map[string]*ir.Attr{}}
	var attrs [][]byte
	err := eachField(b, func(f field) error {
		var err error
		var s string
		switch f.num {
		case nfInput:
			s, err = f.str()
			n.Inputs = append(n.Inputs, s)
		case nfOutput:
			s, err = f.str()
			n.Outputs = append(n.Outputs, s)
		case nfName:
			n.Name, err = f.str()
		case nfOpType:
			n.OpType, err = f.str()
		case nfAttribute:
			ab, err := f.bytes()
			attrs = append(attrs, ab)
			return err
		case nfDocString:
			_, err = f.str()
		case nfDomain:
			n.Domain, err = f.str()
		}
		return err
	})
	if err != nil {
		return nil, nodeErr(n, idx, err)
	}
	if n.Domain == "ai.onnx" {
		n.Domain = ""
	}
	if n.OpType == "" {
		return nil, nodeErr(n, idx, errors.New("no op_type"))
	}
	for i, ab := range attrs {
		a, err := parseAttr(ab, tc)
		if err != nil {
			if a != nil && a.Name != "" {
				err = fmt.Errorf("attribute %q: %w", a.Name, err)
			} else {
				err = fmt.Errorf("attribute #%d: %w", i+1, err)
			}
			return nil, nodeErr(n, idx, err)
		}
		if _, dup := n.Attrs[a.Name]; dup {
			return nil, nodeErr(n, idx, fmt.Errorf("attribute %q is given twice", a.Name))
		}
		n.Attrs[a.Name] = a
	}
	return n, nil
}

// ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto and its
// Dimension field numbers.
const (
	vfName       = 1
	vfType       = 2
	tpTensorType = 1
	ttElemType   = 1
	ttShape      = 2
	shDim        = 1
	dimValue     = 1
	dimParam     = 2
)

// parseValueInfo decodes a ValueInfoProto. Only tensor types are
// described; for others DType is Undefined and Dims nil.
func parseValueInfo(b []byte) (ir.ValueInfo, error) {
	var vi ir.ValueInfo
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case vfName:
			vi.Name, err = f.str()
		case vfType:
			var tb []byte
			if tb, err = f.bytes(); err == nil {
				err = parseType(tb, &vi)
			}
		}
		return err
	})
	return vi, err
}

func parseType(b []byte, vi *ir.ValueInfo) error {
	return eachField(b, func(f field) error {
		if f.num != tpTensorType {
			return nil
		}
		tb, err := f.bytes()
		if err != nil {
			return fmt.Errorf("tensor_type: %w", err)
		}
		return eachField(tb, func(f field) error {
			switch f.num {
			case ttElemType:
				v, err := f.int32v()
				if err != nil {
					return fmt.Errorf("elem_type: %w", err)
				}
				vi.DType = valueDType(v)
			case ttShape:
				sb, err := f.bytes()
				if err != nil {
					return fmt.Errorf("shape: %w", err)
				}
				if vi.Dims == nil {
					vi.Dims = []ir.Dim{}
				}
				return parseShape(sb, vi)
			}
			return nil
		})
	})
}

func parseShape(b []byte, vi *ir.ValueInfo) error {
	return eachField(b, func(f field) error {
		if f.num != shDim {
			return nil
		}
		db, err := f.bytes()
		if err != nil {
			return fmt.Errorf("shape dim %d: %w", len(vi.Dims), err)
		}
		d := ir.Dim{Value: -1}
		err = eachField(db, func(f field) error {
			switch f.num {
			case dimValue:
				v, err := f.int64v()
				if err != nil {
					return err
				}
				switch {
				case v < 0:
					d.Value = -1 // some exporters write -1 for "unknown"
				case uint64(v) > math.MaxInt:
					return fmt.Errorf("dim_value %d overflows int", v)
				default:
					d.Value = int(v)
				}
				d.Param = ""
			case dimParam:
				s, err := f.str()
				if err != nil {
					return err
				}
				d.Param = s
				d.Value = -1
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("shape dim %d: %w", len(vi.Dims), err)
		}
		vi.Dims = append(vi.Dims, d)
		return nil
	})
}
