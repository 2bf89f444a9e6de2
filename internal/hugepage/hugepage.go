// Package hugepage allocates the float32 buffers that live as long as a
// model (the weights as the kernels pack them, and the ones they read as
// the file has them) from memory that the operating system may back with
// its large pages (2 MiB on x86-64 and arm64 Linux) rather than 4 KiB
// ones.
//
// A model's weights are read layer after layer, once an image: RegNet-Y
// 800MF's 25 MB in 4 KiB pages are over 6000 pages, about twice what the
// level-2 TLB of a Zen 4 core holds (3072 entries), so the first reads of
// each layer's weights walk the page tables again, image after image; in
// large pages they are 13 entries. On a 2-core Zen 4, batch 1, one
// thread, the binaries alternating (with the weights in 4 KiB pages as
// the Go heap gives them, against all of them in chunks of large pages):
// MobileNetV3-Large 0.90-0.96 of its time, MnasNet 0.95-0.96, ShuffleNet
// V2 0.95-0.99, EfficientNet-B0 0.97-0.98, MobileNetV2 0.95-0.98,
// RegNet-Y 800MF 0.97-0.99, ResNet-18 0.98, ResNet-50 0.98-0.99,
// DenseNet-121 0.98-0.99; at batch 8 RegNet-Y 0.985-0.99, ResNet-18 1.00.
// The activations in large pages of their own changed nothing.
//
// Floats carves its buffers out of chunks of chunkBytes, 2 MiB aligned
// and asked for large pages before anything touches them (madvise
// MADV_HUGEPAGE on Linux). A chunk is an ordinary []float32 of the Go
// heap, so the garbage collector frees it once no buffer in it is used;
// the allocator itself keeps only a weak pointer to the chunk it carves.
// What that costs: the part of the current chunk not yet handed out and
// each chunk's alignment margin count in the Go heap (Idle), though
// nothing touches them and they take no memory of the system's; and
// buffers are never reused within a chunk, so Floats suits what is made
// once and kept, not what comes and goes.
//
// The package imports only the standard library.
package hugepage

import (
	"slices"
	"sync"
	"unsafe"
	"weak"
)

const (
	// pageBytes is the large page size the chunks are aligned to.
	pageBytes = 2 << 20
	// chunkBytes is the largest size of a chunk; a buffer larger than a
	// quarter of it gets a chunk of its own, rounded up to whole large
	// pages. The first chunk is one large page, and each next one as
	// large as all before it, up to chunkBytes, while the one before is
	// in use: a small model takes a small chunk.
	chunkBytes = 16 << 20
	// minBytes is the smallest buffer taken from a chunk: smaller ones
	// (biases, scales) are ordinary allocations.
	minBytes = 16 << 10
	// align is the alignment of every buffer within a chunk, in float32s
	// (a cache line).
	align = 16
)

var (
	mu sync.Mutex
	// cur is the chunk Floats carves (nil once collected), size its
	// float32s, used the float32s of it handed out; made, the bytes of
	// every chunk made to carve.
	cur        weak.Pointer[float32]
	size, used int
	made       int
	// chunks are every chunk made and not yet seen collected, with the
	// bytes of it that no buffer holds (Idle; for cur, those besides the
	// part not yet handed out)
	chunks []chunkInfo
)

// chunkInfo is a chunk and its bytes that no buffer holds.
type chunkInfo struct {
	c    weak.Pointer[float32]
	idle int64
}

// Floats returns a zeroed []float32 of length and capacity n, from a
// chunk of large-page memory when it holds at least minBytes (see the
// package documentation), 64-byte aligned; an ordinary allocation
// otherwise. It is safe for concurrent use.
func Floats(n int) []float32 {
	if n <= 0 {
		return nil
	}
	if 4*n < minBytes {
		return make([]float32, n)
	}
	need := (n + align - 1) &^ (align - 1)
	mu.Lock()
	defer mu.Unlock()
	if 4*need > chunkBytes/4 {
		bytes := (4*n + pageBytes - 1) &^ (pageBytes - 1)
		c := chunk(bytes)
		chunks[len(chunks)-1].idle += int64(bytes - 4*n)
		return c[:n:n]
	}
	var c []float32
	p := cur.Value()
	if p == nil {
		made = 0 // every chunk's buffers let go: start small again
	}
	if p != nil && used+need <= size {
		c = unsafe.Slice(p, size)
	} else {
		if i := slices.IndexFunc(chunks, func(c chunkInfo) bool { return c.c == cur }); p != nil && i >= 0 {
			// what is left of cur is left for good
			chunks[i].idle += int64(4 * (size - used))
		}
		bytes := min(chunkBytes, max(pageBytes, made, 4*need+pageBytes-1)&^(pageBytes-1))
		c = chunk(bytes)
		cur, size, used = chunks[len(chunks)-1].c, bytes/4, 0
		made += bytes
	}
	s := c[used : used+n : used+n]
	used += need
	return s
}

// Idle returns the bytes of the Go heap that the chunks in use hold but
// no buffer does: the part of each chunk that was not handed out (of the
// one Floats carves, not yet) and each chunk's alignment margin (a large
// page). Nothing touches them, so they take no memory of the system's.
func Idle() int64 {
	mu.Lock()
	defer mu.Unlock()
	prune()
	var idle int64
	for _, c := range chunks {
		idle += c.idle
	}
	if cur.Value() != nil {
		idle += int64(4 * (size - used))
	}
	return idle
}

// chunk returns a zeroed run of bytes/4 float32s (bytes a multiple of
// pageBytes) that starts on a large page, advised as large-page memory,
// and notes it in chunks. The allocation it comes from is a large page
// longer, for the alignment; what lies outside the run is never touched.
// mu is held.
func chunk(bytes int) []float32 {
	raw := make([]float32, (bytes+pageBytes)/4)
	p := uintptr(unsafe.Pointer(&raw[0]))
	off := int(((p+pageBytes-1)&^(pageBytes-1) - p) / 4)
	c := raw[off : off+bytes/4 : off+bytes/4]
	advise(unsafe.Slice((*byte)(unsafe.Pointer(&raw[0])), 4*len(raw)),
		unsafe.Slice((*byte)(unsafe.Pointer(&c[0])), bytes))
	prune()
	chunks = append(chunks, chunkInfo{c: weak.Make(&c[0]), idle: pageBytes})
	return c
}

// prune drops the chunks that have been collected from chunks, which so
// holds no more entries than chunks in use. mu is held.
func prune() {
	chunks = slices.DeleteFunc(chunks, func(c chunkInfo) bool { return c.c.Value() == nil })
}
