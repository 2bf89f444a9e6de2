package kern

import "sync"

// FreeList keeps scratch objects for reuse. Unlike a sync.Pool it never
// drops them at a garbage collection, so that steady-state runs allocate
// no scratch; it holds at most as many as were ever in use at once.
//
// It keeps them in freeShards lists, one for each worker hint (Env.Hint,
// taken modulo freeShards): a worker that runs whole images on its own (a
// batch's images side by side, see runtime/images.go) gets back the
// buffers it used last, whose lines are in its own core's caches, and
// takes another hint's only when its own list is empty. From one list
// shared by the two workers, each took the other's buffers about half
// the time, and on a Zen 5 whose two cores sit on two dies every line of
// them it wrote was fetched from the other die first.
type FreeList[T any] struct {
	New    func() *T
	shards [freeShards]freeShard[T]
}

// freeShards is the number of lists a FreeList keeps.
const freeShards = 8

// freeShard is one list of a FreeList, two cache lines long so that no
// two workers' lists share one.
type freeShard[T any] struct {
	mu   sync.Mutex
	free []*T
	_    [128 - 32]byte
}

// Get returns a free object of hint's list, else of another list, else a
// new one.
func (l *FreeList[T]) Get(hint int) *T {
	h := uint(hint) % freeShards
	for i := range uint(freeShards) {
		s := &l.shards[(h+i)%freeShards]
		s.mu.Lock()
		if n := len(s.free); n > 0 {
			x := s.free[n-1]
			s.free = s.free[:n-1]
			s.mu.Unlock()
			return x
		}
		s.mu.Unlock()
	}
	return l.New()
}

// Put returns x to hint's list.
func (l *FreeList[T]) Put(hint int, x *T) {
	s := &l.shards[uint(hint)%freeShards]
	s.mu.Lock()
	s.free = append(s.free, x)
	s.mu.Unlock()
}

// takerHint is the free-list hint of a loop's worker taker (see
// TakerTask) on an Env of hint hint: hint + taker, so that each worker of
// a loop gets back, call after call, the buffers it wrote last, which are
// in its own core's caches. From the Env's one list each worker took the
// other's about half the time.
func takerHint(hint, taker int) int { return hint + taker }

// hintOf returns env's worker hint (Env.Hint), 0 for a nil env.
func hintOf(env *Env) int {
	if env == nil {
		return 0
	}
	return env.Hint
}
