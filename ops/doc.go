// Package ops holds bnrun's operators: for each supported ONNX op a builder
// that validates a node's attributes and a Prepare that infers output shapes
// and returns the step that computes them.
//
// Hot primitives (convolution, matrix multiply) are called through a kernel
// table, Kernels, so that faster tiers can replace them: Reference holds the
// plain Go oracle kernels that every faster tier is tested against, Generic
// the portable Go kernels, and on amd64 (without the purego build tag)
// AVX2 and AVX512 run the assembly micro-kernels of package ops/amd64 under
// a portable blocked driver (NewBlockedTier). Only the tiers the CPU can
// run are registered; Best picks the fastest. Nothing in this package knows
// about graphs; the runtime package plans and runs them.
package ops
