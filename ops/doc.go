// Package ops holds bnrun's operators: for each supported ONNX op a builder
// that validates a node's attributes and a Prepare that infers output shapes
// and returns the step that computes them.
//
// The compute primitives are not here: steps call them through the kernel
// library, package kern (its tier table, kern.Tier, and the row kernels of
// the elementwise steps), so that faster tiers replace them without this
// package knowing which runs. What stays here is ONNX's semantics: attributes,
// broadcasting, shapes, the tensors of a node. The runtime package plans
// and runs graphs of these steps; this package imports neither it nor any
// graph-level package, and kern imports nothing of bnrun.
package ops
