// Package runtime turns a graph into plans and runs them.
//
// A graph (an ir.Graph: nodes, initializers, inputs and outputs as the
// loader or the fold pass give them) becomes a Program once, in compile.go:
// opsets and operators are checked (every unsupported operator listed in
// one UnsupportedError), each node is bound to its operator from package
// ops, values become numbered slots, the nodes are put in a topological
// order and pruned to what the outputs need.
//
// A Program makes one Plan per distinct set of input shapes, on first use
// (cache.go: the plans kept, least recently used dropped, inputs checked
// against their declarations by inputs.go). Making a plan (plan.go) runs
// every operator's Prepare on the shapes: shapes are inferred, constant
// subgraphs (shape arithmetic) are folded into plan-time constants, and
// each node gets a Step. The memory layout (layout.go) then picks each
// computed tensor's layout on the CPU (planes, or pixel-major between the
// steps that can take it so: pixLayouts) and places every computed tensor
// in one arena by liveness, tensors whose lifetimes do not overlap
// sharing memory, a step's output in the block of an input it may write
// over (a fused convolution's residual: overwrites) where nothing reads
// that input after it, and views (Reshape, Flatten, a Concat's parts) in
// their roots.
//
// A Run (exec.go) takes an arena from the plan's free list (slab.go's pool
// of big buffers backs it), binds the caller's inputs, runs the steps in
// order on the Program's worker pool (pool.go), checking the context
// between steps, and copies the outputs out. Runs are concurrent: each has
// its own arena; the weights and packed kernels are shared.
//
// The device is chosen per plan: with a usable NVIDIA GPU, cuda.go lowers
// a plan whose every step has a device description to CUDA kernels
// (kern/cuda), and a plan that has a step without one runs on the CPU
// tier (Options.Device says whether that fallback is allowed). images.go
// runs a batch image by image on the batch-1 plan where that is faster,
// and tail.go the last layers of such a batch, whose weights outweigh an
// image's activations, on the batch plan again; profile.go times each
// step; errors.go holds the errors a program matches.
//
// runtime imports ir (the graph), ops (the operators) and kern (the
// tiers), and kern/cuda and kern/cuda/lower through cuda.go; it must not
// import the root package, the loader, npy or the fold pass.
package runtime
