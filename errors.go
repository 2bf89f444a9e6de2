package bnrun

import (
	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/runtime"
)

// Errors a program can match with errors.Is.
var (
	// ErrMemoryLimit matches every error that refuses a tensor, an input
	// or a Run because it would take more memory than the limits
	// (WithMemoryLimits, or the defaults) allow. Nothing was allocated
	// for it.
	ErrMemoryLimit = ir.ErrMemoryLimit
	// ErrClosed matches the error of a Run, Prepare or Profile on a closed
	// Model.
	ErrClosed = runtime.ErrClosed
	// ErrUnsupported matches the error of Open for a model that uses
	// operators bnrun has no implementation for (an *UnsupportedError
	// listing them all) or an opset version outside the supported range.
	ErrUnsupported = runtime.ErrUnsupported

	// ErrUnknownInput matches a Run given an input the model does not have.
	ErrUnknownInput = runtime.ErrUnknownInput
	// ErrMissingInput matches a Run (or Prepare) missing one of the
	// model's inputs, or given a nil tensor for it.
	ErrMissingInput = runtime.ErrMissingInput
	// ErrInputType matches a Run given an input of another element type
	// than the model declares.
	ErrInputType = runtime.ErrInputType
	// ErrInputShape matches a Run (or Prepare) given an input whose shape
	// does not fit the model's declaration (rank or a fixed dimension), or
	// whose data does not fill its shape.
	ErrInputShape = runtime.ErrInputShape
)

// InputError is the error of a Run or Prepare whose inputs do not fit the
// model: errors.As gives the input's name, and its Kind (one of
// ErrUnknownInput, ErrMissingInput, ErrInputType, ErrInputShape) is what
// errors.Is matches.
type InputError = runtime.InputError

// UnsupportedError is the error of Open for a model that uses operators
// bnrun has no implementation for: errors.As gives every such operator
// with the nodes that use it.
type UnsupportedError = runtime.UnsupportedError

// UnsupportedOp is one operator of an UnsupportedError.
type UnsupportedOp = runtime.UnsupportedOp
