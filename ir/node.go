package ir

import "fmt"

// AttrType is an attribute's type, numbered as ONNX's AttributeProto.AttributeType.
type AttrType uint8

// Attribute types used by the supported operators.
const (
	AttrFloat   AttrType = 1
	AttrInt     AttrType = 2
	AttrString  AttrType = 3
	AttrTensor  AttrType = 4
	AttrGraph   AttrType = 5
	AttrFloats  AttrType = 6
	AttrInts    AttrType = 7
	AttrStrings AttrType = 8
)

// String returns the ONNX name of the attribute type.
func (a AttrType) String() string {
	switch a {
	case AttrFloat:
		return "FLOAT"
	case AttrInt:
		return "INT"
	case AttrString:
		return "STRING"
	case AttrTensor:
		return "TENSOR"
	case AttrGraph:
		return "GRAPH"
	case AttrFloats:
		return "FLOATS"
	case AttrInts:
		return "INTS"
	case AttrStrings:
		return "STRINGS"
	}
	return fmt.Sprintf("attrtype(%d)", uint8(a))
}

// Attr is one node attribute. Only the field matching Type is meaningful.
type Attr struct {
	Name    string
	Type    AttrType
	F       float32
	I       int64
	S       string
	T       *Tensor
	Floats  []float32
	Ints    []int64
	Strings []string
}

// Node is what an operator builder sees of a graph node: its op, its
// attributes, the opset version in force for its domain, and the names of
// its inputs and outputs ("" marks an absent optional input).
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Opset   int
	Attrs   map[string]*Attr
	Inputs  []string
	Outputs []string
}

// QualifiedType is the op type, prefixed by its domain ("bnrun.FusedConv")
// outside the default ONNX domain ("" or "ai.onnx"). The op registry and
// every op count use it.
func (n *Node) QualifiedType() string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.OpType
	}
	return n.Domain + "." + n.OpType
}

// Errorf returns an error that names the node and its op.
func (n *Node) Errorf(format string, args ...any) error {
	name := n.Name
	if name == "" && len(n.Outputs) > 0 {
		name = "->" + n.Outputs[0]
	}
	// Prefixing the format keeps %w working for the caller's arguments.
	return fmt.Errorf("node %q (%s): "+format, append([]any{name, n.OpType}, args...)...)
}

func (n *Node) attr(name string, want AttrType) (*Attr, bool, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return nil, false, nil
	}
	if a.Type != want {
		return nil, false, n.Errorf("attribute %q has type %s, want %s", name, a.Type, want)
	}
	return a, true, nil
}

// Has reports whether the node carries the named attribute.
func (n *Node) Has(name string) bool {
	_, ok := n.Attrs[name]
	return ok
}

// Int returns an INT attribute, or def when absent.
func (n *Node) Int(name string, def int64) (int64, error) {
	a, ok, err := n.attr(name, AttrInt)
	if err != nil || !ok {
		return def, err
	}
	return a.I, nil
}

// Float returns a FLOAT attribute, or def when absent.
func (n *Node) Float(name string, def float32) (float32, error) {
	a, ok, err := n.attr(name, AttrFloat)
	if err != nil || !ok {
		return def, err
	}
	return a.F, nil
}

// String returns a STRING attribute, or def when absent.
func (n *Node) String(name string, def string) (string, error) {
	a, ok, err := n.attr(name, AttrString)
	if err != nil || !ok {
		return def, err
	}
	return a.S, nil
}

// Ints returns an INTS attribute, or def when absent.
func (n *Node) Ints(name string, def []int64) ([]int64, error) {
	a, ok, err := n.attr(name, AttrInts)
	if err != nil || !ok {
		return def, err
	}
	return a.Ints, nil
}

// Floats returns a FLOATS attribute, or def when absent.
func (n *Node) Floats(name string, def []float32) ([]float32, error) {
	a, ok, err := n.attr(name, AttrFloats)
	if err != nil || !ok {
		return def, err
	}
	return a.Floats, nil
}

// TensorAttr returns a TENSOR attribute, or nil when absent.
func (n *Node) TensorAttr(name string) (*Tensor, error) {
	a, ok, err := n.attr(name, AttrTensor)
	if err != nil || !ok {
		return nil, err
	}
	return a.T, nil
}

// Input returns the i-th input name, or "" when the input is absent.
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}
