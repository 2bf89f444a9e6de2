// Package ops holds bnrun's operators: for each supported ONNX op a builder
// that validates a node's attributes and a Prepare that infers output shapes
// and returns the step that computes them.
//
// The compute primitives are not here: steps call them through the kernel
// library, package kern (its tier table, kern.Tier, and the row kernels of
// the elementwise steps), so that faster tiers replace them without this
// package knowing which runs. What stays here is ONNX's semantics: attributes,
// broadcasting, shapes, the tensors of a node. The runtime package plans
// and runs graphs of these steps.
//
// What a runtime may know of an op besides its steps, the op declares here:
// a step's device description (Step.Dev, device.go) for backends that run
// no host code, whether it holds its weights (ConstTaker, weights.go), and
// whether it computes each image of a batch on its own (ImageWise,
// imagewise.go), so that the runtime decides nothing by op names.
//
// The node and tensor types are package ir's (Node, Attr, Tensor, DType,
// ErrMemoryLimit, ...); ir.go keeps their names here as aliases, so that
// the operators say Tensor and Node, while every other package names ir.
// ops sees one node at a time, never a graph. It imports ir, kern and
// internal/hugepage (the memory of the weights it keeps) of bnrun, and
// must not import runtime, fold, loader, npy, the root package or the
// GPU's packages (kern/cuda/lower imports ops, not the reverse).
package ops
