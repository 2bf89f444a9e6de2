package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"github.com/bnrun/bnrun/ops"
)

// Pool is a fixed set of worker goroutines that run the chunks of parallel
// loops. One Pool is shared by every Run of a session; loops from
// concurrent Runs interleave in its queue. The goroutine that calls Do
// always works on its own loop too, so a loop finishes even when every
// worker is busy elsewhere. Loops must not nest: a Task must not call Do.
type Pool struct {
	workers int
	queue   chan *forJob
	jobs    sync.Pool
	once    sync.Once
	// mu orders queueing against Close: Do holds it shared while it
	// queues a loop's helpers, Close exclusively while it closes the
	// queue, so that no send meets a closed queue.
	mu     sync.RWMutex
	closed bool // under mu
}

// forJob is one call of Do: chunks are claimed by atomically bumping next.
type forJob struct {
	task   ops.Task
	n      int
	chunks int
	next   atomic.Int64
	wg     sync.WaitGroup
}

// MaxThreads returns the most worker goroutines a Pool (and so a
// Program) runs: max(64, 4·NumCPU). Kernels are CPU-bound, so workers
// beyond one per core only add scheduling, queue space and per-worker
// scratch memory; four per core leaves room to oversubscribe on purpose
// (cores shared with other work), and the floor of 64 lets any count up to
// 64 run as asked on every machine, where chunk boundaries, which depend
// on the worker count, come out the same. A larger request is clamped to
// it; Workers (Program.Threads) says what a pool got.
func MaxThreads() int { return max(64, 4*goruntime.NumCPU()) }

// maxQueue bounds the pool's queue of loop helpers, whatever the worker
// count: a full queue only makes Do wait for a worker to take one.
const maxQueue = 4096

// NewPool returns a pool that runs loops on up to workers goroutines
// (counting the caller). workers < 1 is taken as 1, and workers above
// MaxThreads() as MaxThreads().
func NewPool(workers int) *Pool {
	workers = min(max(workers, 1), MaxThreads())
	p := &Pool{workers: workers}
	p.jobs.New = func() any { return new(forJob) }
	return p
}

func (p *Pool) start() {
	p.queue = make(chan *forJob, min(64*p.workers, maxQueue))
	for i := 1; i < p.workers; i++ {
		go func() {
			// After Close, the loops already queued are still run, so
			// that every Do waiting for its helpers returns.
			for j := range p.queue {
				j.work()
				j.wg.Done()
			}
		}()
	}
}

// Close stops the worker goroutines once they have run the loops already
// queued. It is safe to call more than once and concurrently with Do: a
// Do after Close runs its loop on the calling goroutine alone.
func (p *Pool) Close() {
	p.once.Do(func() {}) // no workers start after this
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.queue != nil {
			close(p.queue)
		}
	}
	p.mu.Unlock()
}

// Workers returns the number of goroutines a loop may run on.
func (p *Pool) Workers() int { return p.workers }

// chunksPerWorker is how many chunks Do makes per worker, so that a
// worker that finishes early (or whose core is busy elsewhere) is balanced
// by the others claiming the remaining chunks.
const chunksPerWorker = 4

// Do splits [0, n) into at most chunksPerWorker·Workers() contiguous
// chunks of nearly equal size, which the workers claim one at a time, and
// runs t.Range on each; chunk boundaries depend only on n and Workers(),
// so results are reproducible for a given worker count. Do allocates
// nothing.
func (p *Pool) Do(n int, t ops.Task) {
	if n <= 0 {
		return
	}
	chunks := 1
	if p.workers > 1 {
		chunks = min(chunksPerWorker*p.workers, n)
	}
	if chunks > 1 {
		p.once.Do(p.start)
	}
	if chunks == 1 {
		t.Range(0, n)
		return
	}
	j := p.jobs.Get().(*forJob)
	j.task, j.n, j.chunks = t, n, chunks
	j.next.Store(0)
	// A closed pool has no workers: the caller runs every chunk itself,
	// with the same boundaries.
	p.mu.RLock()
	if !p.closed && p.queue != nil {
		helpers := min(chunks, p.workers) - 1
		j.wg.Add(helpers)
		for range helpers {
			p.queue <- j
		}
	}
	p.mu.RUnlock()
	j.work()
	j.wg.Wait()
	j.task = nil
	p.jobs.Put(j)
}

// work claims and runs chunks until none is left.
func (j *forJob) work() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		// chunk c covers [c*n/chunks, (c+1)*n/chunks)
		lo := c * j.n / j.chunks
		hi := (c + 1) * j.n / j.chunks
		j.task.Range(lo, hi)
	}
}
