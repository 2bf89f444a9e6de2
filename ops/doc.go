// Package ops holds bnrun's operators: for each supported ONNX op a builder
// that validates a node's attributes and a Prepare that infers output shapes
// and returns the step that computes them.
//
// Hot primitives (convolution, matrix multiply) are called through a kernel
// table, Kernels, so that faster tiers can replace them: Reference holds the
// plain Go oracle kernels that every faster tier is tested against, Generic
// the portable Go kernels used by default. Nothing in this package knows
// about graphs; the runtime package plans and runs them.
package ops
