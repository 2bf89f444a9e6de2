package runtime

import (
	"errors"
	"fmt"
	"strings"
)

// ErrClosed is returned (wrapped) by a Run of a Program that has been
// closed, or that Close overtook before its work started.
var ErrClosed = errors.New("the model is closed")

// The kinds of InputError, matched with errors.Is.
var (
	// ErrUnknownInput: an input the model does not have.
	ErrUnknownInput = errors.New("unknown input")
	// ErrMissingInput: a model input that was not given (or given as nil).
	ErrMissingInput = errors.New("missing input")
	// ErrInputType: an input whose element type differs from the model's.
	ErrInputType = errors.New("wrong input type")
	// ErrInputShape: an input whose shape does not fit the model's
	// declaration, or whose data does not fill its shape.
	ErrInputShape = errors.New("wrong input shape")
)

// InputError reports an input that does not fit the model. Kind is one of
// ErrUnknownInput, ErrMissingInput, ErrInputType and ErrInputShape, and
// errors.Is matches it.
type InputError struct {
	Input  string // the input's name ("" when inputs are given by position and too many or few)
	Kind   error
	Detail string // what is wrong, for people
}

// Error returns `input "NAME": DETAIL`.
func (e *InputError) Error() string {
	if e.Input == "" {
		return e.Detail
	}
	return fmt.Sprintf("input %q: %s", e.Input, e.Detail)
}

// Unwrap returns the kind, so that errors.Is(err, ErrInputShape) and the
// like match.
func (e *InputError) Unwrap() error { return e.Kind }

// inputErrorf returns an InputError of kind for the named input.
func inputErrorf(name string, kind error, format string, args ...any) error {
	return &InputError{Input: name, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// countKind is the kind of error for got inputs given by position to a
// model with want: too few are missing, too many unknown.
func countKind(got, want int) error {
	if got > want {
		return ErrUnknownInput
	}
	return ErrMissingInput
}

// ErrUnsupported matches the errors of models that use what bnrun does not
// run: operators it has no implementation for (UnsupportedError) and
// opset versions outside the range it supports.
var ErrUnsupported = errors.New("unsupported")

// UnsupportedError lists every operator of a model that bnrun has no
// implementation for, with the nodes using it. errors.Is(err,
// ErrUnsupported) matches it.
type UnsupportedError struct {
	Ops []UnsupportedOp // sorted by OpType
}

// UnsupportedOp is one unsupported operator and the nodes that use it
// (their names, or #index for unnamed nodes), in graph order.
type UnsupportedOp struct {
	OpType string // domain-qualified unless the domain is the default one
	Nodes  []string
}

// Error lists the operators, at most eight nodes each.
func (e *UnsupportedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unsupported operators (%d):", len(e.Ops))
	for _, op := range e.Ops {
		shown := op.Nodes
		if len(shown) > 8 {
			shown = shown[:8]
		}
		fmt.Fprintf(&b, "\n  %s used by %d node(s): %s", op.OpType, len(op.Nodes), strings.Join(shown, ", "))
		if len(op.Nodes) > len(shown) {
			fmt.Fprintf(&b, ", ...")
		}
	}
	return b.String()
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
