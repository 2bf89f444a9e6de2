package ops

import (
	"fmt"
	"sort"

	"github.com/bnrun/bnrun/kern"
)

// Value describes a tensor at plan time: its type and concrete shape, and
// its contents when they are known before any Run (initializers, Constant
// nodes, and everything computed from them alone, such as Shape of a tensor
// whose shape is known).
type Value struct {
	DType DType
	Shape []int
	Const *Tensor
}

// Step is one node's work for one set of concrete input shapes.
type Step struct {
	// Run computes the outputs from the inputs. The runtime hands it output
	// tensors whose DType and Shape are those Prepare returned and whose
	// data buffers are allocated (and not zeroed). Absent optional inputs
	// are nil. Run must not retain any tensor after it returns.
	Run func(env *kern.Env, in, out []*Tensor) error
	// Scratch is how many float32 elements of scratch Run needs per
	// worker: the runtime hands it an Env.Scratch of at least
	// Scratch*Env.Par.Workers() elements, so that worker w may use
	// Env.Scratch[w*Scratch:(w+1)*Scratch] without locking.
	Scratch int
	// View marks ops whose single output is input 0's data under another
	// shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout): the
	// runtime may then skip Run and alias the buffer. Run must still be
	// correct when called (it copies).
	View bool
	// Parts, when not nil, says that input i's data lie unchanged and
	// contiguous in output 0 from element Parts[i] on (-1: not so), as
	// in a Concat with one outer slice. The runtime may then place input
	// i there (the producer writes straight into its part of the output);
	// Run must skip the copy of an input already in place and stay
	// correct when none is. A step that copies its inputs into its output
	// sets it even when none can be placed (all -1: a Concat of several
	// outer slices), so that the runtime counts the copies it makes.
	Parts []int
	// Dev, when not nil, describes the step for backends that run no
	// host code: one of the *...Dev types of device.go.
	Dev any
	// Layout, when not nil, says which of the step's tensors it can take
	// pixel-major, a pixel's channels side by side (value (n·H·W + q)·C
	// + c of an [N, C, H, W] tensor) instead of in planes (see Layout).
	Layout *Layout
	// Overwrite, when not nil, returns for tier k the input whose buffer
	// output 0 may take (-1: none): Run then computes output 0 correctly
	// in that input's memory, element for element (the same shape and
	// layout), each value of the input read before the value of the
	// output in its place is written. A runtime shares the buffer only
	// where no later step reads the input and the step takes it through
	// no other input.
	Overwrite func(k *kern.Tier) int
	// MACs counts the multiply-accumulates of one Run of the step, for
	// statistics and profiles: a convolution's, a Gemm's or a MatMul's
	// products (each of a DwBlock's three convolutions); 0 for the other
	// ops, whose work is not counted so.
	MACs int64
}

// Layout is what a step can do with pixel-major tensors (Step.Layout).
type Layout struct {
	// Can reports, for the session's tier k, the input the step reads
	// pixel-major or in planes, whichever its producer wrote (-1: none;
	// every other input in planes), whether it can write output 0
	// pixel-major, and the input that must then lie as output 0 does
	// (-1: none; a residual).
	Can func(k *kern.Tier) (in int, out bool, tied int)
	// Set records the plan's choice for input in and output 0 (each true
	// only where Can allowed it): the runtime calls it once, before the
	// plan's first Run, for a plan that runs on the CPU.
	Set func(in, out bool)
}

// Kernel is an operator bound to one node's attributes.
type Kernel interface {
	// Prepare checks the inputs' types and shapes (nil for an absent
	// optional input) and returns the outputs' descriptions and the step
	// that computes them. An output whose Const is set is known at plan
	// time and Run is never called for it.
	Prepare(in []*Value) ([]Value, Step, error)
}

// PrepareFunc adapts a function to the Kernel interface.
type PrepareFunc func(in []*Value) ([]Value, Step, error)

// Prepare calls f.
func (f PrepareFunc) Prepare(in []*Value) ([]Value, Step, error) { return f(in) }

// RangeFunc adapts a function to the Task interface.
type RangeFunc func(lo, hi int)

// Range calls f(lo, hi).
func (f RangeFunc) Range(lo, hi int) { f(lo, hi) }

// Builder binds an operator to a node, validating its attributes.
type Builder func(n *Node) (Kernel, error)

var registry = map[string]Builder{}

// Register installs the builder for an op type of the default ONNX domain.
// It is called from init functions; registering a type twice panics.
func Register(opType string, b Builder) {
	if _, dup := registry[opType]; dup {
		panic(fmt.Sprintf("ops: %s registered twice", opType))
	}
	registry[opType] = b
}

// Lookup returns the builder for an op type of the default domain (or a
// "domain.OpType" name), or nil when it is unsupported.
func Lookup(opType string) Builder { return registry[opType] }

// Supported lists the supported op types in sorted order.
func Supported() []string {
	names := make([]string, 0, len(registry))
	for k := range registry {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
