package kern

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestFreeListHints checks FreeList's lists: an object comes back to the
// hint that gave it back last, hints that are freeShards apart share a
// list, a hint whose list is empty takes another list's object before it
// makes a new one, and hint 0 (an Env without one) works as any other.
func TestFreeListHints(t *testing.T) {
	var made atomic.Int32
	l := FreeList[int]{New: func() *int { made.Add(1); return new(int) }}
	a, b := l.Get(1), l.Get(2)
	if made.Load() != 2 || a == b {
		t.Fatalf("two Gets of an empty list made %d objects (same: %v), want 2 distinct", made.Load(), a == b)
	}
	l.Put(1, a)
	l.Put(2, b)
	if got := l.Get(2); got != b {
		t.Errorf("hint 2 got another hint's object back")
	}
	if got := l.Get(1 + freeShards); got != a {
		t.Errorf("hint 1+freeShards did not share hint 1's list")
	}
	l.Put(1, a)
	l.Put(1, b)
	if got := l.Get(0); got != b && got != a {
		t.Errorf("hint 0 got %p, want one of hint 1's objects", got)
	}
	if got := l.Get(5); got != a && got != b {
		t.Errorf("hint 5 got %p, want hint 1's other object", got)
	}
	if made.Load() != 2 {
		t.Errorf("%d objects made for at most 2 in use at once", made.Load())
	}
	// Concurrent workers (go test -race), each with its own hint and some
	// with the same: every object is in use by one of them at a time.
	var wg sync.WaitGroup
	var mu sync.Mutex
	inUse := map[*int]bool{}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				x := l.Get(w % 4)
				mu.Lock()
				if inUse[x] {
					t.Error("an object handed to two workers at once")
				}
				inUse[x] = true
				mu.Unlock()
				mu.Lock()
				inUse[x] = false
				mu.Unlock()
				l.Put(w%4, x)
			}
		}()
	}
	wg.Wait()
}
