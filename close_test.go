package bnrun_test

import (
	"context"
	"errors"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bnrun/bnrun"
	"github.com/bnrun/bnrun/runtime"
)

// closeModel is the small model of the Close tests.
const closeModel = "testdata/models/lenet_bn_op13/model.onnx"

// closeInputs is a batch-2 input of closeModel.
func closeInputs() []*bnrun.Tensor {
	x := bnrun.NewTensor([]int{2, 1, 28, 28}, nil)
	for i := range x.F32 {
		x.F32[i] = float32((i*37)%101) / 101
	}
	return []*bnrun.Tensor{x}
}

// TestConcurrentRunsClose closes a model at a random moment while several
// goroutines run it in a loop, round after round: each Run gives the
// sequential result or fails with ErrClosed, never another error or a
// panic, and none that begins after Close has returned succeeds. (Before
// Close waited for Runs, a Run failed with "internal error: send on closed
// channel", and Runs after Close succeeded.) CI runs it under the race
// detector.
func TestConcurrentRunsClose(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	hammerClose(t, "generic", rounds, 2, 3, 4)
}

// TestCUDAConcurrentRunsClose is TestConcurrentRunsClose on the GPU,
// where Close frees the plans' device memory: it must wait for the Runs
// that still use it (without the wait, the CPU stand-in for libcuda
// crashed on freed memory). Few rounds: on the stand-in a Run takes most
// of a second.
func TestCUDAConcurrentRunsClose(t *testing.T) {
	needCUDA(t)
	hammerClose(t, "cuda", 4, 2)
}

// hammerClose is TestConcurrentRunsClose with the given backend, each
// round opening the model with the next of the thread counts.
func hammerClose(t *testing.T, backend string, rounds int, threadCounts ...int) {
	const goroutines = 4
	in := closeInputs()
	wants := map[int][]float32{} // by thread count
	for _, threads := range threadCounts {
		m, err := bnrun.Open(closeModel, bnrun.WithThreads(threads), bnrun.WithBackend(backend))
		if err != nil {
			t.Fatal(err)
		}
		outs := make([]*bnrun.Tensor, 1)
		if err := m.RunInto(context.Background(), in, outs); err != nil {
			t.Fatal(err)
		}
		wants[threads] = outs[0].F32
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var ok, closed atomic.Int64
	for round := range rounds {
		threads := threadCounts[round%len(threadCounts)]
		m, err := bnrun.Open(closeModel, bnrun.WithThreads(threads), bnrun.WithBackend(backend))
		if err != nil {
			t.Fatal(err)
		}
		want := wants[threads]
		name := m.Inputs()[0].Name
		var closeReturned atomic.Bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				outs := make([]*bnrun.Tensor, 1)
				for i := 0; ; i++ {
					after := closeReturned.Load()
					var err error
					if (g+i)%2 == 0 {
						err = m.RunInto(context.Background(), in, outs)
					} else {
						var res map[string]*bnrun.Tensor
						res, err = m.Run(context.Background(), map[string]*bnrun.Tensor{name: in[0]})
						outs[0] = res[m.Outputs()[0].Name]
					}
					if errors.Is(err, bnrun.ErrClosed) {
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
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		var cw sync.WaitGroup
		for range 1 + round%2 {
			cw.Add(1)
			go func() {
				defer cw.Done()
				if err := m.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
		}
		cw.Wait()
		closeReturned.Store(true)
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	t.Logf("%s: %d Runs succeeded, %d failed with ErrClosed", backend, ok.Load(), closed.Load())
}

// TestRunAfterClose: Run and RunInto on a closed model fail with an error
// matching ErrClosed; Close again is harmless.
func TestRunAfterClose(t *testing.T) {
	m, err := bnrun.Open(closeModel, bnrun.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	in := closeInputs()
	outs := make([]*bnrun.Tensor, 1)
	if err := m.RunInto(context.Background(), in, outs); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	err = m.RunInto(context.Background(), in, outs)
	if !errors.Is(err, bnrun.ErrClosed) {
		t.Errorf("RunInto after Close: got %v, want ErrClosed", err)
	}
	if err != nil && err.Error() != "the model is closed" {
		t.Errorf("RunInto after Close: error %q", err)
	}
	_, err = m.Run(context.Background(), map[string]*bnrun.Tensor{m.Inputs()[0].Name: in[0]})
	if !errors.Is(err, bnrun.ErrClosed) {
		t.Errorf("Run after Close: got %v, want ErrClosed", err)
	}
}

// TestThreadsClamped: WithThreads(1<<30) opens and runs a model quickly
// and in bounded memory (it made a 64 Gi-entry work queue, 512 GB), with
// Threads() reporting the clamped count.
func TestThreadsClamped(t *testing.T) {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	begin := time.Now()
	m, err := bnrun.Open(closeModel, bnrun.WithThreads(1<<30), bnrun.WithBackend("generic"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, want := m.Threads(), runtime.MaxThreads(); got != want {
		t.Errorf("Threads() = %d, want the clamp %d", got, want)
	}
	outs := make([]*bnrun.Tensor, 1)
	if err := m.RunInto(context.Background(), closeInputs(), outs); err != nil {
		t.Fatal(err)
	}
	goruntime.ReadMemStats(&after)
	mb := (after.TotalAlloc - before.TotalAlloc) >> 20
	t.Logf("Open and Run with 1<<30 threads: %v, %d MiB allocated, %d workers", time.Since(begin), mb, m.Threads())
	if mb > 256 {
		t.Errorf("Open and Run with 1<<30 threads allocated %d MiB", mb)
	}
}
