// Package kern is bnrun's kernel library: the compute primitives of
// convolutions (transposed ones too), matrix products and the elementwise
// steps, on slices of float32 described by plain geometry (ConvGeom,
// ConvTransposeGeom, their 3-D twins Conv3DGeom and ConvTranspose3DGeom,
// PoolGeom, strides, lengths), with no knowledge of graphs, nodes,
// tensors or ONNX. Package ops builds the operators on it.
//
// A Tier is a table of kernels; every tier computes the same functions.
// Reference holds the plain loops that every other tier is tested against,
// kept forever as the oracle; Generic the portable Go kernels; NewBlockedTier
// makes a tier from the micro-kernels of a BlockedSpec under one portable
// driver (packing, cache blocking, the convolution paths, threads over
// Env.Par). On amd64 without the purego build tag, tiers_amd64.go plugs the
// avo-generated assembly of package kern/amd64 into the AVX2 and AVX512
// tiers, registered only when the CPU runs them; Best picks the fastest.
// Every assembly kernel has a Go twin with the same rounding (MicroGo,
// PixGo, Dw8Go, ...); Twin and TwinPacked run the driver on the twins with
// awkward block sizes, so that the tests of any package check every edge of
// the driver on any architecture.
//
// The GPU's kernels are in package kern/cuda (the CUDA C kernels, their
// launchers and the driver reached through purego); the runtime runs plans
// on them. This package imports nothing of bnrun but kern/amd64 and
// internal/hugepage (the memory of the weights it packs): no graph
// (package ir), no operator (package ops) and nothing above them;
// kern/kerntest holds the helpers its tests and the operators' tests share.
package kern
