package runtime

import (
	"math"
	"os"
	goruntime "runtime"
	"slices"
	"sync"
)

// slabPool shares the float32 memory of Runs among a program's plans. A
// Run takes a slab at least as long as its plan needs (the plan's arena
// followed by every worker's scratch) and gives it back when it ends, so
// that Runs at several batch sizes one after another use the memory of
// the largest, not the sum of all. The pool holds at most as many slabs
// as Runs were ever in flight at once.
type slabPool struct {
	mu   sync.Mutex
	free [][]float32
}

// reclaimSlabBytes is the size of a dropped slab from which get collects
// garbage before allocating the larger one, so that a process that steps
// up through batch sizes reuses the smaller slabs' memory instead of
// growing by all of them.
const reclaimSlabBytes = 16 << 20

// get returns a slab of at least n elements: the shortest free one that
// is long enough, or a new one. When every free slab is too short, the
// longest of them is dropped in place of the new one, so that the number
// of slabs stays the number of Runs in flight. A reused slab holds what
// its last Run left.
func (sp *slabPool) get(n int) []float32 {
	sp.mu.Lock()
	best, short := -1, -1
	for i, s := range sp.free {
		switch {
		case len(s) >= n:
			if best < 0 || len(s) < len(sp.free[best]) {
				best = i
			}
		case short < 0 || len(s) > len(sp.free[short]):
			short = i
		}
	}
	if best >= 0 {
		s := sp.free[best]
		sp.free = slices.Delete(sp.free, best, best+1)
		sp.mu.Unlock()
		return s
	}
	dropped := 0
	if short >= 0 {
		dropped = len(sp.free[short])
		sp.free = slices.Delete(sp.free, short, short+1)
	}
	sp.mu.Unlock()
	if 4*dropped >= reclaimSlabBytes {
		goruntime.GC()
	}
	s := make([]float32, n)
	if poisonSlabs() {
		for i := range s {
			s[i] = poisonValue
		}
	}
	return s
}

// put gives a slab back to the pool.
func (sp *slabPool) put(s []float32) {
	sp.mu.Lock()
	sp.free = append(sp.free, s)
	sp.mu.Unlock()
}

// poisonValue fills new slabs under BNRUN_POISON=1: a NaN that no kernel
// makes, so that a step that reads memory it did not write shows up in
// its outputs.
var poisonValue = float32(math.NaN())

// poisonSlabs reports whether new slabs are to be filled with NaN instead
// of zeros (BNRUN_POISON=1 in the environment), a debugging aid: a Run
// then must not depend on memory a step did not write, whatever Run used
// the slab before.
func poisonSlabs() bool { return os.Getenv("BNRUN_POISON") == "1" }
