package hugepage

import (
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// TestFloats checks Floats's buffers: zeroed, of length and capacity n,
// 64-byte aligned when taken from a chunk, and apart from each other, on
// many goroutines at once (with -race, their writes too).
func TestFloats(t *testing.T) {
	sizes := []int{1, 100, minBytes/4 - 1, minBytes / 4, minBytes/4 + 1, 1 << 20, chunkBytes/16 + 3, chunkBytes/4 + 1, chunkBytes / 2}
	var mu sync.Mutex
	var got [][]float32
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, n := range sizes {
				s := Floats(n)
				if len(s) != n || cap(s) != n {
					t.Errorf("Floats(%d): len %d cap %d", n, len(s), cap(s))
					return
				}
				if 4*n >= minBytes && uintptr(unsafe.Pointer(&s[0]))%64 != 0 {
					t.Errorf("Floats(%d) at %p: not 64-byte aligned", n, &s[0])
				}
				for j, v := range s {
					if v != 0 {
						t.Errorf("Floats(%d)[%d] = %v, want 0", n, j, v)
						return
					}
				}
				for j := range s {
					s[j] = float32(g*100 + i)
				}
				mu.Lock()
				got = append(got, s)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// every buffer still holds what its goroutine wrote: none overlaps another
	for _, s := range got {
		for j, v := range s {
			if v != s[0] {
				t.Fatalf("a buffer of %d values changed at %d: %v, then %v", len(s), j, s[0], v)
			}
		}
	}
	if Floats(0) != nil || Floats(-1) != nil {
		t.Error("Floats of no values is not nil")
	}
}

// TestChunkCollected checks that the allocator does not keep a chunk
// alive: once no buffer of it is used, the garbage collector takes it,
// Idle drops to 0 and the next buffer comes from a new chunk.
func TestChunkCollected(t *testing.T) {
	s := Floats(minBytes / 4)
	if Idle() <= 0 {
		t.Fatalf("Idle() = %d with a chunk in use", Idle())
	}
	first := uintptr(unsafe.Pointer(&s[0]))
	s = nil
	for range 5 {
		runtime.GC()
	}
	if Idle() != 0 {
		t.Errorf("Idle() = %d after the chunk's only buffer was dropped and collected", Idle())
	}
	s = Floats(minBytes / 4)
	if a := uintptr(unsafe.Pointer(&s[0])); a%pageBytes != 0 {
		t.Errorf("the first buffer of a new chunk at %#x (the old one's at %#x) is not on a large page", a, first)
	}
}

// TestIdle checks Idle's count against the chunks' sizes: with buffers of
// a chunk and of chunks of their own in use, the Go heap's growth is what
// the buffers hold plus Idle, within the collector's own noise.
func TestIdle(t *testing.T) {
	for range 3 {
		runtime.GC()
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	idle0 := Idle()
	var keep [][]float32
	held := 0
	for i, n := range []int{minBytes / 4, chunkBytes/4 + 1, 3 << 18, 1 << 20, chunkBytes / 8, 5 << 18, chunkBytes/4 + 7, 1 << 18} {
		s := Floats(n + i)
		keep = append(keep, s)
		held += 4 * len(s)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	want := int64(held) + Idle() - idle0
	if d := grown - want; d < -(1<<20) || d > 1<<20 {
		t.Errorf("the heap grew by %d bytes for %d bytes of buffers and %d idle: off by %d", grown, held, Idle()-idle0, d)
	}
	runtime.KeepAlive(keep)
}

// TestChunksPruned checks that the allocator's list of chunks holds only
// chunks in use: after many chunks made and let go, a new one leaves a
// short list, not one entry for every chunk ever made.
func TestChunksPruned(t *testing.T) {
	for range 40 {
		_ = Floats(chunkBytes/4 + 1) // a chunk of its own, dropped at once
	}
	for range 3 {
		runtime.GC()
	}
	s := Floats(chunkBytes/4 + 1)
	mu.Lock()
	n := len(chunks)
	mu.Unlock()
	if n > 4 {
		t.Errorf("%d chunks listed after 40 were let go and one made", n)
	}
	runtime.KeepAlive(s)
}
