package runtime

import (
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
	closed  atomic.Bool
}

// forJob is one call of Do: chunks are claimed by atomically bumping next.
type forJob struct {
	task   ops.Task
	n      int
	chunks int
	next   atomic.Int64
	wg     sync.WaitGroup
}

// NewPool returns a pool that runs loops on up to workers goroutines
// (counting the caller). workers < 1 is taken as 1.
func NewPool(workers int) *Pool {
	if workers < 1 {
		workers = 1
	}
	p := &Pool{workers: workers}
	p.jobs.New = func() any { return new(forJob) }
	return p
}

func (p *Pool) start() {
	p.queue = make(chan *forJob, 64*p.workers)
	for i := 1; i < p.workers; i++ {
		go func() {
			for j := range p.queue {
				j.work()
				j.wg.Done()
			}
		}()
	}
}

// Close stops the worker goroutines. Loops must not be started afterwards.
func (p *Pool) Close() {
	p.once.Do(func() {})
	if !p.closed.Swap(true) && p.queue != nil {
		close(p.queue)
	}
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
	if chunks == 1 || p.queue == nil || p.closed.Load() {
		t.Range(0, n)
		return
	}
	j := p.jobs.Get().(*forJob)
	j.task, j.n, j.chunks = t, n, chunks
	j.next.Store(0)
	helpers := min(chunks, p.workers) - 1
	j.wg.Add(helpers)
	for range helpers {
		p.queue <- j
	}
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
