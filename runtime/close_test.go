package runtime

import (
	"context"
	"errors"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/ops"
)

// rtBlock's Runs announce themselves on blockEntered and then wait for
// blockRelease; the test that uses it sets both first.
var blockEntered, blockRelease chan struct{}

func init() {
	// rtBlock: a copy that blocks until the test releases it.
	ops.Register("rtBlock", func(n *ir.Node) (ops.Kernel, error) {
		return ops.PrepareFunc(func(in []*ops.Value) ([]ops.Value, ops.Step, error) {
			return []ops.Value{{DType: ir.Float32, Shape: in[0].Shape}}, ops.Step{Run: func(env *kern.Env, in, out []*ir.Tensor) error {
				blockEntered <- struct{}{}
				<-blockRelease
				copy(out[0].F32, in[0].F32)
				return nil
			}}, nil
		}), nil
	})
}

// closeInput is the input of the Close tests: n rows of 3, so that every
// rtScale step splits into several chunks across the pool's workers.
func closeInput(n int) *ir.Tensor {
	x := ir.NewF32([]int{n, 3}, nil)
	for i := range x.F32 {
		x.F32[i] = float32(i % 11)
	}
	return x
}

// TestConcurrentRunsClose closes a program at a random moment while
// goroutines run it in a loop, again and again: every Run either gives
// the right result or fails with ErrClosed, never another error, and no
// Run that begins after Close has returned succeeds (before the gate, a
// Run failed with "internal error: send on closed channel" when Close
// closed the pool's queue under it, and Runs after Close succeeded).
func TestConcurrentRunsClose(t *testing.T) {
	const rounds, goroutines = 50, 6
	g := chainGraph(6)
	x := closeInput(64)
	want := func() []float32 {
		p := mustCompile(t, g, Options{Threads: 1})
		out, err := p.Run(context.Background(), []*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].F32
	}()
	var ok, closed atomic.Int64
	for round := range rounds {
		var closeReturned atomic.Bool
		p, err := Compile(g, Options{Kernels: &kern.Tier{Name: "test"}, Threads: 2 + round%3})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for gi := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				outs := make([]*ir.Tensor, 1)
				for i := 0; ; i++ {
					after := closeReturned.Load()
					var err error
					if (gi+i)%2 == 0 {
						err = p.RunInto(context.Background(), []*ir.Tensor{x}, outs)
					} else {
						outs, err = p.Run(context.Background(), []*ir.Tensor{x})
						if outs == nil {
							outs = make([]*ir.Tensor, 1)
						}
					}
					if errors.Is(err, ErrClosed) {
						closed.Add(1)
						return
					}
					if err != nil {
						t.Errorf("round %d: Run: %v", round, err)
						return
					}
					if after {
						t.Errorf("round %d: a Run after Close returned succeeded", round)
						return
					}
					for j, v := range want {
						if outs[0].F32[j] != v {
							t.Errorf("round %d: element %d = %v, want %v", round, j, outs[0].F32[j], v)
							return
						}
					}
					ok.Add(1)
				}
			}()
		}
		close(start)
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		if round%2 == 0 {
			p.Close()
		} else {
			// Close from several goroutines at once: each returns only
			// when the program is released.
			var cw sync.WaitGroup
			for range 3 {
				cw.Add(1)
				go func() { defer cw.Done(); p.Close() }()
			}
			cw.Wait()
		}
		closeReturned.Store(true)
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	t.Logf("%d Runs succeeded, %d failed with ErrClosed", ok.Load(), closed.Load())
	if closed.Load() != rounds*goroutines {
		t.Errorf("%d goroutines saw ErrClosed, want %d", closed.Load(), rounds*goroutines)
	}
}

// TestRunAfterClose: Run, RunInto and PlanFor on a closed program fail
// with ErrClosed, and Close may be called again.
func TestRunAfterClose(t *testing.T) {
	p, err := Compile(chainGraph(2), Options{Kernels: &kern.Tier{Name: "test"}, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := closeInput(8)
	if _, err := p.Run(context.Background(), []*ir.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	_, err = p.Run(context.Background(), []*ir.Tensor{x})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: got %v, want ErrClosed", err)
	}
	err = p.RunInto(context.Background(), []*ir.Tensor{x}, make([]*ir.Tensor, 1))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("RunInto after Close: got %v, want ErrClosed", err)
	}
	if _, err := p.PlanFor([][]int{{4, 3}}); !errors.Is(err, ErrClosed) {
		t.Errorf("PlanFor after Close: got %v, want ErrClosed", err)
	}
	if err != nil && err.Error() != "the model is closed" {
		t.Errorf("RunInto after Close: error %q, want %q", err, "the model is closed")
	}
}

// TestCloseWaitsForRuns: Close returns only after the Runs in flight have
// finished (and they succeed); a Run that starts while Close waits fails
// with ErrClosed at once.
func TestCloseWaitsForRuns(t *testing.T) {
	blockEntered, blockRelease = make(chan struct{}), make(chan struct{})
	g := chainGraph(2)
	g.Nodes[1].OpType = "rtBlock"
	p, err := Compile(g, Options{Kernels: &kern.Tier{Name: "test"}, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := closeInput(8)
	runErr := make(chan error, 1)
	go func() {
		_, err := p.Run(context.Background(), []*ir.Tensor{x})
		runErr <- err
	}()
	<-blockEntered
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	// Wait for Close to have marked the program closed.
	for deadline := time.Now().Add(10 * time.Second); p.gate.n.Load() < gateClosed; {
		if time.Now().After(deadline) {
			t.Fatal("Close did not mark the program closed")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := p.Run(context.Background(), []*ir.Tensor{x}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run while Close waits: got %v, want ErrClosed", err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a Run was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	close(blockRelease)
	if err := <-runErr; err != nil {
		t.Errorf("the Run in flight: %v", err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the Run in flight ended")
	}
}

// TestPoolDoCloseRace runs loops on a pool from several goroutines while
// another closes it: each loop still covers its range exactly once, and
// nothing panics (Do sent on the queue that Close closed).
func TestPoolDoCloseRace(t *testing.T) {
	for round := range 50 {
		p := NewPool(2 + round%3)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("round %d: Do panicked: %v", round, r)
					}
				}()
				seen := make([]int32, 64)
				for i := 0; i < 200; i++ {
					clear(seen)
					p.Do(len(seen), ops.RangeFunc(func(lo, hi int) {
						for k := lo; k < hi; k++ {
							atomic.AddInt32(&seen[k], 1)
						}
					}))
					for k, s := range seen {
						if s != 1 {
							t.Errorf("round %d: index %d visited %d times", round, k, s)
							return
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		p.Close()
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// TestThreadsClamped: a huge thread count is clamped to MaxThreads, so
// that the pool's queue, goroutines and per-worker scratch stay bounded;
// the program runs and says how many workers it has.
func TestThreadsClamped(t *testing.T) {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	p := mustCompile(t, chainGraph(3), Options{Threads: 1 << 30})
	if got, want := p.Threads(), MaxThreads(); got != want {
		t.Errorf("Threads() = %d, want %d", got, want)
	}
	if _, err := p.Run(context.Background(), []*ir.Tensor{closeInput(1000)}); err != nil {
		t.Fatal(err)
	}
	goruntime.ReadMemStats(&after)
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 64 {
		t.Errorf("compiling and running with 1<<30 threads allocated %d MiB", mb)
	}
	if max := MaxThreads(); max < 64 || max < 4*goruntime.NumCPU() {
		t.Errorf("MaxThreads() = %d, want at least max(64, 4·NumCPU)", max)
	}
	if got := NewPool(1 << 40).Workers(); got != MaxThreads() {
		t.Errorf("NewPool(1<<40).Workers() = %d, want %d", got, MaxThreads())
	}
	for _, n := range []int{-5, 0, 1} {
		if got := NewPool(n).Workers(); got != 1 {
			t.Errorf("NewPool(%d).Workers() = %d, want 1", n, got)
		}
	}
}
