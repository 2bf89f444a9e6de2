// Package amd64 holds bnrun's x86-64 assembly: SGEMM micro-kernels for
// AVX2+FMA (6 rows × 8 or 16 columns) and AVX-512F (8 rows × 16, 32 or 48
// columns), pixel-tile convolution kernels (up to 6 or 8 pixels × 16 or 32
// channels), Winograd F(4×4, 3×3)'s input and output transforms (the output's
// also through masks for tiles past its edges), depthwise
// convolutions on channel planes (3×3 and 5×5 at stride 1) and on pixels of
// 8 or 16 channels (any window and stride), the last few columns of a
// product with the rows in the vectors, the padded copy of a plane's rows,
// and the vector kernels of the elementwise steps (affine, add, max, axpy,
// clip, stride-2 pick, sums, dot products), generated with avo by the program in
// _gen. The kernel library, package kern, plugs them into its tiers
// (kern/tiers_amd64.go); the packing, blocking and threading around them is
// portable Go there.
//
// The kernels are only assembled for amd64 without the purego build tag;
// elsewhere this package is empty. It imports nothing of bnrun.
package amd64

//go:generate sh -c "cd _gen && go run . -out ../kern_amd64.s -stubs ../kern_amd64.go -pkg amd64"
