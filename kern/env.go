package kern

import "sync"

// Task is the body of a parallel loop: Range runs iterations [lo, hi).
// Hot paths implement it with a struct kept in the Env (see TaskOf), so
// that starting a loop allocates nothing; a closure converted with
// RangeFunc allocates when it captures variables.
type Task interface {
	Range(lo, hi int)
}

// TakerTask is a Task that is told which of a loop's workers runs each of
// its chunks: what a worker makes for itself on its first chunk (a copy of
// an input, see pixCopy) then serves every other chunk it takes, its own
// or one it takes over from a slower worker, from that worker's cache. A
// Parallel's Do calls RangeTaker instead of Range on such a task (through
// RunChunk), with taker in [0, Workers()), and never runs two chunks of
// one loop with the same taker at once.
type TakerTask interface {
	Task
	RangeTaker(lo, hi, taker int)
}

// RunChunk runs chunk [lo, hi) of t as taker does: t.RangeTaker where t is
// a TakerTask, t.Range otherwise. Every Parallel's Do runs its chunks
// through it.
func RunChunk(t Task, lo, hi, taker int) {
	if tt, ok := t.(TakerTask); ok {
		tt.RangeTaker(lo, hi, taker)
		return
	}
	t.Range(lo, hi)
}

// Parallel splits a loop over [0, n) into contiguous chunks run by workers.
// Do runs disjoint [lo, hi) ranges that together cover [0, n) through
// RunChunk, each with the taker of the worker that runs it, and returns
// when all have returned.
type Parallel interface {
	Do(n int, t Task)
	// Workers is the number of workers Do may use at once.
	Workers() int
}

// CacheSharer is implemented by a Parallel that can tell whether its
// workers now run behind one cache (a line written by one reaches the
// other in tens of nanoseconds) or behind two (hundreds: a VM's vCPUs on
// two dies or core complexes, where its host may move them at any time).
// A kernel may then pick, between ways of cutting its work that give the
// same values bit for bit, the one that suits the hardware as it is.
type CacheSharer interface {
	SharedCache() bool
}

// sharedCache reports whether par says its workers share a cache (false
// where it cannot tell).
func sharedCache(par Parallel) bool {
	s, ok := par.(CacheSharer)
	return ok && s.SharedCache()
}

// LastLevelCache is the bytes of the cache the cores share last (CPUID's
// level 3), or 0 where it is not known; the amd64 tiers set it when they
// register.
var LastLevelCache int

// Serial is a Parallel that runs everything on the calling goroutine.
type Serial struct{}

// Do runs t over [0, n) as taker 0 when n > 0.
func (Serial) Do(n int, t Task) {
	if n > 0 {
		RunChunk(t, 0, n, 0)
	}
}

// Workers returns 1.
func (Serial) Workers() int { return 1 }

// Spawn is a Parallel that runs each loop on Parts new goroutines, [0, n)
// cut into Parts chunks of nearly equal size as a worker pool would cut
// it: for callers of the kernels that have no pool of their own, and for
// tests. Parts below 1 count as 1.
type Spawn struct{ Parts int }

// Do runs t over min(Parts, n) chunks of [0, n) at once, chunk c as taker
// c, and returns when all have returned.
func (p Spawn) Do(n int, t Task) {
	chunks := min(p.Workers(), n)
	if chunks <= 1 {
		Serial{}.Do(n, t)
		return
	}
	var wg sync.WaitGroup
	for c := range chunks {
		lo, hi := c*n/chunks, (c+1)*n/chunks
		wg.Go(func() { RunChunk(t, lo, hi, c) })
	}
	wg.Wait()
}

// Workers returns Parts, at least 1.
func (p Spawn) Workers() int { return max(p.Parts, 1) }

// Env is what a step runs with: the kernel tier, a worker pool and scratch
// memory owned by the current Run.
type Env struct {
	// K is the tier whose kernels the step calls.
	K *Tier
	// Par runs the step's parallel loops.
	Par Parallel
	// Scratch is scratch memory for the kernels: worker w of a Conv of
	// geometry g may use Scratch[w·s : (w+1)·s], s = K.ConvScratch(g).
	Scratch []float32

	// PackedW is set by a conv step, during its call of K.Conv, to its
	// weights as K.PackConv arranged them, or nil (and by a Gemm step to
	// B as K.PackGemm arranged it); the plain weights may then be nil.
	PackedW []float32
	// Hint, when not 0, names the worker that runs every loop of the Run
	// on its own (Par one worker, a batch's images side by side): the
	// kernels' scratch lists (FreeList) hand each hint back the buffers
	// it used before. It changes no result.
	Hint int
	// tasks holds one loop body of each type, reused by every loop of
	// the Run (loops do not nest); see TaskOf.
	tasks map[any]any
}

// TaskOf returns env's value of type T, zeroed: a loop body to be filled
// in and passed to Parallel.Do, or another value a step reuses within a
// Run (a ConvFusion, a DwBlock). It allocates only the first time a Run's
// Env meets T (and every time when env is nil). Callers clear it when
// they are done, so that it holds no tensors between steps.
func TaskOf[T any](env *Env) *T {
	if env == nil {
		return new(T)
	}
	key := (*T)(nil)
	if t, ok := env.tasks[key]; ok {
		return t.(*T)
	}
	if env.tasks == nil {
		env.tasks = map[any]any{}
	}
	t := new(T)
	env.tasks[key] = t
	return t
}

// runTask runs t over [0, n) on env's workers and then zeroes it.
func runTask[T any, P interface {
	*T
	Task
}](env *Env, n int, t P) {
	ParOf(env).Do(n, t)
	var zero T
	*t = zero
}
