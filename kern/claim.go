package kern

import "unsafe"

// claimMin is the fewest values ClaimLines clears: below 2 KB Go's clear
// uses vector stores, which wait for the lines as any store does.
const claimMin = 512

// ClaimLines zeroes dst, which the calling worker is about to write
// whole, where that pays: on a run of two or more workers, before a step
// writes its share of a large output (an affine step's or a pooling's
// planes, a pixel-tile unit's output planes, Winograd's output plane of a
// channel). Go's clear of 2 KB or more is a string store (REP STOSQ),
// which takes a line without first fetching it and without waiting for
// another core's copy to be dropped; a vector store to a line the other
// core has read waits for that, 8-10 ns a line on two dies (runtime's
// BenchmarkLineHandoff), and a step's output often lies where the layers
// before left lines that both cores read. Cleared first, such lines cost
// 2.6-3.3 ns, a core's own lines 1.0-1.5 instead of 0.5 (the claim cases
// of BenchmarkLineHandoff). Two threads, in one
// process, alternating: ResNet-18 0.985 of its time, ResNet-50 0.987,
// DenseNet-121 0.977 (its transitions' BatchNormalization 0.58 and
// 0.77), MobileNetV2 0.974, RegNet-Y 0.962. Shorter slices are left
// alone.
func ClaimLines(dst []float32) {
	if len(dst) >= claimMin {
		clear(dst)
	}
}

// Disjoint reports whether a and b share no element.
func Disjoint(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0+uintptr(4*len(a)) <= b0 || b0+uintptr(4*len(b)) <= a0
}

// claimConv reports whether a convolution on workers clears its output's
// chunks before writing them (ClaimLines): on two or more workers, with
// the output apart from the input and the residual.
func claimConv(workers int, x, y []float32, f *ConvFusion) bool {
	if workers < 2 || !Disjoint(x, y) {
		return false
	}
	return f == nil || Disjoint(f.Residual, y)
}
