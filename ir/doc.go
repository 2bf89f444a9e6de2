// Package ir is bnrun's graph representation, the types the loader, the
// fold pass, the operators and the runtime share: a Graph (nodes in file
// order, initializers by name, the declared inputs and outputs as
// ValueInfo with their Dims), a Node (op type, domain, opset, named
// inputs and outputs, and its attributes, Attr, read through Node's typed
// accessors), and a Tensor (dense, row-major, float32 or int64 by DType).
//
// It owns the types and their small helpers (NewF32, NewI64, NumElems,
// ShapeString, SameShape, Node.Errorf), and ErrMemoryLimit, which every
// refusal to allocate over a limit matches (LimitErrorf makes one), and
// nothing that computes: the loader makes a Graph from an ONNX file,
// package fold rewrites it, package ops builds an operator from each Node,
// package runtime compiles a Graph into plans.
//
// ir imports nothing of bnrun, only the standard library, so that every
// other package can import it without a cycle (TestImportRules, in the
// root package's deps_test.go, checks this rule and every other
// package's).
package ir
