package ir

// Graph is a model as the loader reads it: nodes in file order, the
// initializers by name, and the graph's true inputs and outputs.
type Graph struct {
	Name string
	// Opsets maps an operator-set domain to its version; the default ONNX
	// domain is "" (the loader maps "ai.onnx" to "").
	Opsets map[string]int
	// Nodes in the order the file lists them; each carries the opset
	// version of its domain.
	Nodes []*Node
	// Initializers are the constant tensors, by name.
	Initializers map[string]*Tensor
	// Inputs lists the graph inputs that are not initializers.
	Inputs []ValueInfo
	// Outputs lists the graph outputs.
	Outputs []ValueInfo
	// Metadata holds the model's metadata_props.
	Metadata map[string]string

	IRVersion       int64
	ProducerName    string
	ProducerVersion string
	DocString       string
}

// ValueInfo is a declared graph input or output.
type ValueInfo struct {
	Name  string
	DType DType
	// Dims is nil when the shape is not declared.
	Dims []Dim
}

// Dim is one declared dimension: a fixed size, or a symbolic one (Param,
// with Value -1), or unknown (Value -1, Param "").
type Dim struct {
	Value int
	Param string
}
