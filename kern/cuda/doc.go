// Package cuda is bnrun's NVIDIA GPU backend: the CUDA driver API reached
// without cgo, the CUDA C kernels of the model's operators, and launch
// wrappers for them.
//
// # Driver
//
// The driver API is bound with github.com/ebitengine/purego from
// libcuda.so.1 (or libcuda.so; $BNRUN_LIBCUDA names another) on first
// use, once per process. Nothing about CUDA is needed to build or test
// the package: a missing library, a missing function, a driver that
// fails to initialise or a machine with no device is an ordinary error
// (a *LibraryError, or an *Error such as
// "cuda: cuInit: CUDA_ERROR_NO_DEVICE (100)"), never a panic, and the
// caller falls back to a CPU tier. [Available] says whether CUDA is
// usable, [Devices] lists the devices, and [Open] retains a device's
// primary context, which allocates memory, creates streams and loads the
// kernels. Dynamic loading is implemented for linux/amd64 and
// linux/arm64; elsewhere the package builds and every entry point
// returns an error.
//
// # Kernels
//
// The kernels live in kernels.cu, CUDA C embedded in the binary, and are
// compiled with NVRTC (libnvrtc, found like libcuda, $BNRUN_LIBNVRTC
// overriding) when a context first needs them; the PTX is cached per
// architecture for the process, and the driver JIT-compiles it for the
// actual GPU when loading it. PTX generated at build time and committed
// was the alternative; NVRTC at first use was chosen because:
//
//   - building bnrun, and changing a kernel, needs no CUDA toolkit: the
//     source in the repository is the only form of the kernels, so it
//     cannot drift from a committed artefact;
//   - the PTX is compiled for the device's own architecture (the newest
//     this NVRTC supports up to it), not for a lowest common one, and
//     the driver then JIT-compiles it for the exact GPU;
//   - CI, which has no GPU, still compiles every kernel for compute_80
//     and compute_90 with Debian's libnvrtc11.2 (NVRTC 11.8), so a kernel
//     that does not compile fails CI.
//
// The cost is a dependency at run time on a machine with a GPU: NVRTC
// must be installed (it ships with every CUDA toolkit, and Debian and
// Ubuntu package it), and the first context pays about a second of
// compilation.
//
// The kernels work on float32 NCHW (and NCDHW) tensors with 32-bit
// indexing: 2-D and 3-D convolution as an implicit GEMM with shared-memory
// tiling (any groups, and a direct kernel for depthwise; one C++ template
// each, the 2-D kernels compiling the depth out), with the fold pass's
// prologue (a per-input-channel affine and Relu applied as the input is
// read) and epilogue (bias, residual Add, activation); Gemm; max and
// average pools over 1 to 3 spatial axes, and global pools; a per-channel
// affine with activation; elementwise binary operators (Pow too) with
// broadcasting and unary activations (Gelu too); concatenation by writing
// each input at its offset in the output; constant, edge and reflect
// padding; softmax and log-softmax; every ONNX reduction (sums, means,
// maxima, minima, products, L1 and L2 norms, sums of squares, log-sums,
// log-sum-exps) over any set of axes (a thread per output, or a block per
// output when it reduces many values); 2-D and 3-D transposed convolution
// (each output gathering the taps that land on it); Resize in every mode,
// from taps the host computes as the CPU's plan does (the height and width
// in one pass, other axes pass by pass); and strided copies (Slice,
// Transpose, Split). The geometry the launchers take is the kernel
// library's (kern.ConvGeom, kern.Conv3DGeom, kern.ConvTransposeGeom,
// kern.ConvTranspose3DGeom, kern.PoolGeom); the structs of kernels.cu that
// carry it to the device follow their field order.
// Package lower (kern/cuda/lower) chooses them for each step of a plan,
// and runtime/cuda.go runs whole plans with them. They use IEEE
// arithmetic throughout (no fast-math), so results stay within the CPU
// tiers' tolerance.
//
// # Tests
//
// Without a GPU the tests check that the bindings fail cleanly and that
// every kernel compiles for compute_80 and compute_90 (skipped when NVRTC
// is absent, unless $BNRUN_REQUIRE_NVRTC is 1). TestKernels compares each
// kernel with a Go reference on a GPU, and skips, saying so, when there
// is none. The references are the kernel library's (its reference tier,
// its activations, kern.MaxPoolPlane, kern.SoftmaxLane, ...). With
// $BNRUN_TEST_FAKECUDA=1, TestKernelsEmulated runs the same comparisons on
// testdata/fakecuda, a CPU stand-in for libcuda built with g++ that runs
// kernels.cu itself, and package lower's TestLowerRuns compares whole
// lowered steps (Resize, Slice, Transpose, Split, ConvTranspose, the
// reductions, Pow, ...) with the CPU's.
//
// # Imports
//
// Of bnrun, cuda imports only the kernel library, package kern (its
// activation kinds and geometry): it knows no graph and no operator, and
// must not import ir, ops or runtime.
package cuda
