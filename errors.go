package bnrun

import (
	"github.com/bnrun/bnrun/ops"
	"github.com/bnrun/bnrun/runtime"
)

// Errors a program can match with errors.Is.
var (
	// ErrMemoryLimit matches every error that refuses a tensor, an input
	// or a Run because it would take more memory than the limits
	// (WithMemoryLimits, or the defaults) allow. Nothing was allocated
	// for it.
	ErrMemoryLimit = ops.ErrMemoryLimit
	// ErrClosed matches the error of a Run on a closed Model.
	ErrClosed = runtime.ErrClosed
)
