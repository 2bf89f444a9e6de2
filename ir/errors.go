package ir

import (
	"errors"
	"fmt"
)

// ErrMemoryLimit is matched (with errors.Is) by every error that refuses
// a tensor, a plan or an input because it would take more memory than a
// limit allows. Such errors are returned before anything is allocated.
var ErrMemoryLimit = errors.New("memory limit exceeded")

// limitError is an error message that matches ErrMemoryLimit.
type limitError struct{ msg string }

func (e *limitError) Error() string        { return e.msg }
func (e *limitError) Is(target error) bool { return target == ErrMemoryLimit }

// LimitErrorf formats an error that matches ErrMemoryLimit; its message is
// the formatted text alone.
func LimitErrorf(format string, args ...any) error {
	return &limitError{msg: fmt.Sprintf(format, args...)}
}
