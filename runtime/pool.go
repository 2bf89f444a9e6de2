package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bnrun/bnrun/kern"
)

// Pool is a fixed set of worker goroutines that run the chunks of parallel
// loops. One Pool is shared by every Run of a session; loops from
// concurrent Runs are posted on one board, from which idle workers claim
// chunks. The goroutine that calls Do always works on its own loop too, so
// a loop finishes even when every worker is busy elsewhere. Loops must not
// nest: a Task must not call Do.
//
// A worker that finds nothing to do spins for a while (spinFor) before it
// parks: the ops of a Run come one after another, microseconds apart, and
// waking a parked goroutine costs tens of microseconds, as long as a
// small convolution takes. With spinning workers a loop starts on every
// core at once, and the second core speeds a Run up instead of idling
// through the wake-ups.
type Pool struct {
	workers int
	once    sync.Once

	// posts counts the loops posted and hint is the last one posted, on
	// lines of their own: a spinning worker watches posts, and where one
	// loop was posted since it last looked, it enters hint without the
	// mutex (see worker). touch is written (under mu) as Do starts, so
	// that the line, which the spinning workers hold copies of, is on
	// its way to the caller's core while it sets the job up (with the
	// job's touch, two dies, alternating: a helper's start 1.05-1.07 →
	// 0.88-0.91 µs, a loop of 8 × 2 µs 10.59-10.71 → 10.44-10.50).
	_     [cacheLine]byte
	posts atomic.Int64
	hint  atomic.Pointer[forJob]
	touch uint64
	_     [cacheLine - 24]byte

	mu     sync.Mutex
	gen    uint64        // loops set up so far, under mu: each job's generation
	board  []*forJob     // loops whose callers have not finished them, under mu
	free   []*forJob     // jobs to reuse, under mu (never dropped, unlike a sync.Pool's)
	parked int           // workers waiting on wake, under mu
	wake   chan struct{} // one token per parked worker woken
	closed bool          // under mu; after Close, Do runs loops on the caller

	// startNs is a running average of how long after Do posts a loop a
	// spinning helper enters it through the hint, in nanoseconds (see
	// SharedCache); helpers write it once a loop, on a line of its own.
	_       [cacheLine]byte
	startNs atomic.Int64
	_       [cacheLine - 8]byte
}

// forJob is one call of Do. Its units are dealt into one contiguous run
// per taker (slots of them), so that the caller and each helper start on
// the same part of the work in every loop, which keeps a worker on the
// data it touched in the loop before. A run is claimed front to back in
// chunks of half the units it has left (see chunk); a taker that finishes
// its own run claims the chunks left in the others', by bumping next[s].
//
// A job is reused loop after loop. Its counters are not reset for a new
// loop, which would take each counter's line from the core that last
// bumped it: a slot's count is tagged with the loop's generation gen,
// and a count of an older generation reads as zero.
type forJob struct {
	_ [cacheLine]byte
	// state counts the workers inside the job (inside) and those that
	// entered it (entries: a helper's taker is its count of entry), plus
	// jobRetired once its caller has finished its own part (no worker
	// enters it after), plus jobParked once the caller, having spun for a
	// while, waits on done; the last worker out of a parked job sends on
	// done. The loop's own fields share its line, which a helper entering
	// the job then reads with its state in one transfer.
	state atomic.Int64
	task  kern.Task
	n     int
	slots int
	gen   uint64 // the loop's generation: Pool.gen when it was posted
	touch uint64 // written as Do returns: brings the line back for the next post
	at    int64  // when the loop was posted (monotonic ns, see nowNs)
	_     [cacheLine - 64]byte
	next  []slotCounter // per slot, chunks claimed of it (tagged with gen)
	done  chan struct{}
}

// cacheLine is the size that keeps counters written by different cores
// on lines of their own: two 64-byte lines, as the adjacent-line
// prefetchers of x86 cores fetch lines in pairs.
const cacheLine = 128

// slotCounter is a slot's count of chunks claimed, gen<<countBits | count,
// alone on its lines: a taker bumps its own slot's for every chunk, and
// with the counters side by side each bump took the line from the other
// core's cache.
type slotCounter struct {
	atomic.Uint64
	_ [cacheLine - 8]byte
}

// countBits holds a slot's count of chunks claimed: a run of L units has
// about log₂ L + 1 chunks.
const countBits = 16

// The fields of forJob.state: inside in its low bits, entries above.
const (
	entryShift = 20
	insideMask = 1<<entryShift - 1
	entryOne   = 1 << entryShift
	entryMask  = insideMask << entryShift
)

// jobRetired marks a job whose caller has finished its part: far above
// any worker count.
const jobRetired = 1 << 40

// jobParked marks a retired job whose caller waits on done.
const jobParked = 1 << 41

// spinFor is how long an idle worker keeps looking for a new loop before
// it parks.
const spinFor = 200 * time.Microsecond

// MaxThreads returns the most worker goroutines a Pool (and so a
// Program) runs: max(64, 4·NumCPU). Kernels are CPU-bound, so workers
// beyond one per core only add scheduling and per-worker scratch memory;
// four per core leaves room to oversubscribe on purpose (cores shared
// with other work), and the floor of 64 lets any count up to 64 run as
// asked on every machine, where chunk boundaries, which depend on the
// worker count, come out the same. A larger request is clamped to it;
// Workers (Program.Threads) says what a pool got.
func MaxThreads() int { return max(64, 4*goruntime.NumCPU()) }

// NewPool returns a pool that runs loops on up to workers goroutines
// (counting the caller). workers < 1 is taken as 1, and workers above
// MaxThreads() as MaxThreads().
func NewPool(workers int) *Pool {
	workers = min(max(workers, 1), MaxThreads())
	p := &Pool{workers: workers}
	p.startNs.Store(startClampNs)
	return p
}

// job returns a job to reuse, or a new one; p.mu must be held.
func (p *Pool) job() *forJob {
	if n := len(p.free); n > 0 {
		j := p.free[n-1]
		p.free = p.free[:n-1]
		return j
	}
	j := &forJob{done: make(chan struct{}, 1), next: make([]slotCounter, p.workers)}
	j.state.Store(jobRetired) // no worker enters it before it is posted
	return j
}

func (p *Pool) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.wake = make(chan struct{}, p.workers)
	for i := 1; i < p.workers; i++ {
		go p.worker()
	}
}

// worker claims chunks of posted loops until the pool closes, spinning
// between loops and parking when none comes for spinFor.
//
// Where one loop was posted since the worker last looked, it is the
// hint, which the worker enters directly: the post's line and the job's
// state line come from the caller's core, its own slot's count is in its
// cache already. Where several were, or the worker was parked, it looks
// through the board under the mutex, and again after each loop found
// there, until the board has nothing for it. BenchmarkPoolStart, two
// vCPUs on two dies of a Zen 5 (a line's round trip 495 ns): with every
// loop found under the mutex and the counters reset for each loop, a
// helper started 1.09-1.14 µs after the call of Do and a loop took
// 10.69-10.86 µs; entering the hint, 0.70-0.87 and 9.98-10.04. Two
// threads, the two pools alternating in one process: the networks with
// the most loops a millisecond gain (DenseNet-121 0.991 of its time,
// EfficientNet-B0 0.981, RegNet-Y 0.980), the ResNets 0.995-1.000.
func (p *Pool) worker() {
	var looked int64 // the posts whose loops the worker has looked for
	for {
		seen := p.posts.Load()
		if seen == looked+1 {
			j := p.hint.Load()
			if p.posts.Load() == seen { // j is loop seen's job (which may since run a later loop)
				looked = seen
				if taker, ok := j.enter(); ok {
					p.noteStart(nowNs() - j.at)
					j.run(taker)
				}
				continue
			}
		}
		if seen != looked {
			j, taker, closed := p.claim()
			if closed {
				return
			}
			if j != nil {
				j.run(taker)
				continue
			}
			looked = seen
		}
		if p.spin(seen) {
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		if p.posts.Load() != seen {
			p.mu.Unlock()
			continue
		}
		p.parked++
		p.mu.Unlock()
		if _, ok := <-p.wake; !ok {
			return
		}
	}
}

// epoch is nowNs's origin.
var epoch = time.Now()

// nowNs returns the monotonic time in nanoseconds since epoch.
func nowNs() int64 { return int64(time.Since(epoch)) }

// The helpers' start times (Pool.startNs): a sample is clamped to
// startClampNs (a helper that was parked or descheduled says nothing
// about the caches) and weighs 1/16 of the average, which starts at
// startClampNs, so a pool says its workers share a cache only after a
// few dozen loops have shown it.
const (
	startClampNs  = 2000
	sharedStartNs = 250
)

// noteStart adds a helper's start, d ns after its loop was posted, to the
// pool's running average.
func (p *Pool) noteStart(d int64) {
	d = min(max(d, 0), startClampNs)
	avg := p.startNs.Load()
	p.startNs.Store(avg + (d-avg)/16)
}

// SharedCache reports whether the pool's helpers lately entered the loops
// Do posted within sharedStartNs on average: their cores then share a
// cache, the cache lines that announce a loop crossing between them in
// tens of nanoseconds. On a 2-core Zen 4 VM the average read 141 ns with
// its vCPUs behind one cache (a line's round trip 62-72 ns) and 359 behind
// two (359-369 ns); its host moved them between the two every few
// minutes, so the answer can change from one Run to the next. Kernels use
// it only to choose between cuts of their work that give the same values
// (kern.CacheSharer). A pool of one worker, or one whose helpers have not
// yet entered a few dozen loops, reports false.
func (p *Pool) SharedCache() bool {
	return p.workers > 1 && p.startNs.Load() < sharedStartNs
}

// claim enters the first posted loop that has chunks left and returns
// it with the worker's taker, or returns nil (and whether the pool is
// closed).
func (p *Pool) claim() (*forJob, int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, true
	}
	for _, j := range p.board {
		if j.unclaimed() {
			if taker, ok := j.enter(); ok {
				return j, taker, false
			}
		}
	}
	return nil, 0, false
}

// enter adds a worker to j unless j is retired, and returns its taker:
// its count of entry into the loop (the caller is 0).
func (j *forJob) enter() (int, bool) {
	for {
		v := j.state.Load()
		if v&jobRetired != 0 {
			return 0, false
		}
		if j.state.CompareAndSwap(v, v+entryOne+1) {
			return int(v&entryMask>>entryShift) + 1, true
		}
	}
}

// run works on j as taker, then leaves it, waking its caller if it is
// the last worker out of a parked job.
func (j *forJob) run(taker int) {
	j.work(taker)
	if v := j.state.Add(-1); v&insideMask == 0 && v&jobParked != 0 {
		j.done <- struct{}{}
	}
}

// spin waits up to spinFor for a loop to be posted after the count seen;
// it reports whether one was.
func (p *Pool) spin(seen int64) bool {
	return spinUntil(func() bool { return p.posts.Load() != seen })
}

// spinUntil calls ready until it reports true, for up to spinFor, letting
// other goroutines of the process have the core every 64 calls; it
// reports whether ready did.
func spinUntil(ready func() bool) bool {
	deadline := time.Now().Add(spinFor)
	for i := 1; ; i++ {
		if ready() {
			return true
		}
		if i%64 == 0 {
			if time.Now().After(deadline) {
				return false
			}
			goruntime.Gosched()
		}
	}
}

// Close stops the worker goroutines; those inside a loop finish their
// chunk first. It is safe to call more than once and concurrently with
// Do: a Do after Close runs its loop on the calling goroutine alone.
func (p *Pool) Close() {
	p.once.Do(func() {}) // no workers start after this
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.wake != nil {
			close(p.wake)
		}
	}
	p.mu.Unlock()
}

// Workers returns the number of goroutines a loop may run on.
func (p *Pool) Workers() int { return p.workers }

// Do splits [0, n) into min(n, Workers()) contiguous runs, one a worker,
// each cut into chunks that its worker claims one at a time, front to
// back, and a worker done with its own run claims from the others' (see
// forJob.chunk); it runs each chunk through kern.RunChunk with the taker
// of the goroutine that claimed it (the caller's 0, a helper's its count
// of entry into the loop). Chunk boundaries depend only on n and
// Workers(), so results are reproducible for a given worker count. Do
// allocates nothing.
func (p *Pool) Do(n int, t kern.Task) {
	if n <= 0 {
		return
	}
	slots := min(n, p.workers)
	if slots == 1 {
		kern.RunChunk(t, 0, n, 0)
		return
	}
	p.once.Do(p.start)
	p.mu.Lock()
	p.touch++
	j := p.job()
	p.gen++
	j.task, j.n, j.slots, j.gen = t, n, slots, p.gen
	posted := !p.closed
	if posted {
		// A worker may enter j from here on: through a hint it kept of
		// the loop j ran before (j is then this loop, which it may work
		// on as well as any), the board or the hint.
		j.at = nowNs() // before the store that opens j to helpers
		j.state.Store(0)
		p.board = append(p.board, j)
		p.hint.Store(j)
		p.posts.Add(1)
		// Wake parked workers for the helpers the loop can use; spinning
		// ones see the post by themselves.
		for range min(slots-1, p.parked) {
			p.parked--
			p.wake <- struct{}{}
		}
	}
	p.mu.Unlock()
	// A closed pool has no workers: the caller runs every chunk itself,
	// with the same boundaries.
	j.work(0)
	if posted {
		// No worker enters j now; wait for those inside, which are at
		// most one chunk from done: spin first, as parking the caller
		// would cost more than the wait.
		if j.state.Add(jobRetired)&insideMask != 0 {
			j.wait()
		}
	}
	j.task = nil
	j.touch++
	p.mu.Lock()
	if posted {
		for i, b := range p.board {
			if b == j {
				p.board = append(p.board[:i], p.board[i+1:]...)
				break
			}
		}
	}
	p.free = append(p.free, j)
	p.mu.Unlock()
}

// wait returns once the workers inside the retired job j have left it:
// it spins on j.state for up to spinFor, then marks the job parked and
// takes the token the last worker out then sends.
func (j *forJob) wait() {
	if spinUntil(func() bool { return j.state.Load()&insideMask == 0 }) {
		return
	}
	for {
		v := j.state.Load()
		if v&insideMask == 0 {
			return
		}
		if j.state.CompareAndSwap(v, v|jobParked) {
			<-j.done
			return
		}
	}
}

// unclaimed reports whether j has chunks no taker has claimed.
func (j *forJob) unclaimed() bool {
	for s := range j.slots {
		if _, _, ok := j.chunk(s, j.claimed(j.next[s].Load())); ok {
			return true
		}
	}
	return false
}

// claimed returns the chunks of a slot claimed in j's loop from its
// counter c: none where c is of an older loop.
func (j *forJob) claimed(c uint64) int {
	if c>>countBits != j.gen {
		return 0
	}
	return int(c & (1<<countBits - 1))
}

// claimChunk claims the next chunk of slot s.
func (j *forJob) claimChunk(s int) (lo, hi int, ok bool) {
	c := &j.next[s]
	for {
		v := c.Load()
		k := j.claimed(v)
		if lo, hi, ok = j.chunk(s, k); !ok {
			return 0, 0, false
		}
		if c.CompareAndSwap(v, j.gen<<countBits|uint64(k+1)) {
			return lo, hi, true
		}
	}
}

// chunk returns the units [lo, hi) of chunk k of slot s, or false when the
// slot has no chunk k. Slot s holds the units [s·n/slots, (s+1)·n/slots);
// each chunk takes half of those its predecessors left, rounded up, so a
// run of L units is cut into ⌈L/2⌉, then half the rest, ... and single
// units at its end (8 units: 4, 2, 1, 1). A worker finishing its own run
// early then takes what is left of another's in pieces that shrink as the
// loop ends, and waits at the end for at most one unit of the other's
// instead of a quarter of its run (fixed chunks of n/(4·workers)): two
// threads, alternating in one process, ResNet-18 0.965-0.983 of its time,
// ResNet-50 0.973-0.994, DenseNet-121 0.99-1.00, MobileNetV2 1.00. The
// price: a run's first chunk, half of it (a quarter before), stays with
// the worker that claimed it, however slowly that worker then runs.
func (j *forJob) chunk(s, k int) (lo, hi int, ok bool) {
	lo, hi = s*j.n/j.slots, (s+1)*j.n/j.slots
	for ; k > 0 && lo < hi; k-- {
		lo += (hi - lo + 1) / 2
	}
	if lo >= hi {
		return 0, 0, false
	}
	return lo, lo + (hi-lo+1)/2, true
}

// work claims and runs chunks until none is left: first those of slot
// taker mod slots, then the others'. taker is the caller's 0 or a
// helper's count of entry into j, below the pool's worker count (one
// helper goroutine a worker after the caller, each entering j once).
func (j *forJob) work(taker int) {
	for k := range j.slots {
		s := (taker + k) % j.slots
		for {
			lo, hi, ok := j.claimChunk(s)
			if !ok {
				break
			}
			kern.RunChunk(j.task, lo, hi, taker)
		}
	}
}
