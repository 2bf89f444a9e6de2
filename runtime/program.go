package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bnrun/bnrun/ir"
	"github.com/bnrun/bnrun/kern"
)

// Options configure Compile.
type Options struct {
	// Kernels is the kernel tier; nil means kern.Best(), the fastest this
	// CPU runs.
	Kernels *kern.Tier
	// Threads is the number of worker goroutines; < 1 means one per CPU.
	// It is clamped to MaxThreads() (max(64, 4·NumCPU)); Program.Threads
	// says what the program got.
	Threads int
	// MaxPlans bounds how many distinct input-shape plans are cached;
	// 0 means 16. When full, a new plan replaces the least recently used.
	MaxPlans int
	// MaxTensorBytes caps the size of any one tensor the runtime
	// allocates; 0 means DefaultMaxTensorBytes. Planning fails with an
	// error naming the tensor when a shape exceeds it. When set, it caps
	// the initializers too (the loader applies the same limit to the
	// file's; this catches tensors made after loading, such as folded
	// constants).
	MaxTensorBytes int64
	// MaxTotalBytes caps the memory one Run's arena and scratch take; 0
	// means DefaultMaxTotalBytes. Planning fails before allocating when a
	// plan needs more. The constants a plan folds (computes while
	// planning, and keeps) count too.
	MaxTotalBytes int64
	// MaxConstBytes, when set below MaxTotalBytes, caps the constants one
	// plan folds more tightly (for plans made only to learn shapes).
	MaxConstBytes int64
	// Device says where plans run: on the CPU with Kernels (DeviceCPU,
	// the zero value), on an NVIDIA GPU (DeviceCUDA: Compile fails when
	// none is usable, planning when a node has no CUDA kernel), or on the
	// GPU when one is usable and every step of the plan has a CUDA
	// kernel, else on the CPU (DeviceAuto).
	Device DeviceMode
	// HoldWeights hands the float32 initializers that one node alone
	// reads to that node's kernel when it can hold them itself (see
	// ops.ConstTaker: convolutions and Gemms, which keep their weights in
	// the forms the tier packs them into, and let the plain values go once
	// a pack holds them exactly), so that the program keeps such weights
	// once. The graph's initializers (Graph().Initializers) are then
	// tensors of the same type and shape without data. Programs whose
	// plans may run on a GPU, which uploads the plain weights, hold none.
	HoldWeights bool
}

// DeviceMode is where a program's plans run (see Options.Device).
type DeviceMode int

// The device modes.
const (
	DeviceCPU DeviceMode = iota
	DeviceCUDA
	DeviceAuto
)

// Default memory limits (see Options).
const (
	DefaultMaxTensorBytes = 2 << 30
	DefaultMaxTotalBytes  = 8 << 30
)

// Program is a compiled graph: every node bound to its operator, ordered
// topologically, and pruned to what the outputs need. It is safe for
// concurrent use, Close included; plans for each distinct set of input
// shapes are made on first use and cached.
type Program struct {
	graph   *ir.Graph
	opts    Options
	kernels *kern.Tier
	pool    *Pool

	gate      gate      // the Runs in flight, for Close
	closeOnce sync.Once // Close's work

	slotNames []string
	slotIndex map[string]int
	inputSlot []int // per graph input
	outSlot   []int // per graph output
	consts    map[int]*ir.Tensor
	nodes     []*cnode // live nodes, topological order

	mu    sync.Mutex
	plans []*Plan
	slabs slabPool // the float32 memory of Runs, shared by the plans

	gpu    *gpu  // the CUDA device, when Options.Device asked for one and it opened
	gpuErr error // why Options.Device's CUDA device did not open, for DeviceAuto

	sep bool // the graph computes each image on its own (see separable)
	// sepIO: the graph's inputs and outputs are float32 batches (see
	// batchIO), so that its plans may compute images apart (separableAt);
	// sep implies it
	sepIO bool

	// takers are the nodes whose kernels hold weights (see HoldWeights);
	// plainAtGC, under reclaimMu, is how many bytes of them the kernels
	// held as they are at the last collection (see reclaimLetGo).
	takers    []*cnode
	reclaimMu sync.Mutex
	plainAtGC int64
}

// Inputs returns the graph's inputs.
func (p *Program) Inputs() []ir.ValueInfo { return p.graph.Inputs }

// Outputs returns the graph's outputs.
func (p *Program) Outputs() []ir.ValueInfo { return p.graph.Outputs }

// Graph returns the graph the program was compiled from.
func (p *Program) Graph() *ir.Graph { return p.graph }

// Kernels returns the kernel tier the program runs with.
func (p *Program) Kernels() *kern.Tier { return p.kernels }

// Threads returns the number of worker goroutines.
func (p *Program) Threads() int { return p.pool.Workers() }

// Close releases the worker goroutines and the device's memory. Runs in
// flight when Close is called finish normally (with their results) and
// Close waits for them, so that no memory a Run may still use is freed or
// handed on (cancel their contexts to make them stop sooner); a Run,
// RunInto or PlanFor that begins once Close has begun fails with
// ErrClosed at once, without touching the program's memory.
// Close may be called more than once and from several goroutines: each
// call returns when the program is released.
func (p *Program) Close() {
	p.closeOnce.Do(func() {
		p.gate.close()
		p.pool.Close()
		p.mu.Lock()
		plans := p.plans
		p.plans = nil
		p.mu.Unlock()
		for _, pl := range plans {
			if pl.gpu != nil {
				pl.gpu.release()
			}
		}
		if p.gpu != nil {
			p.gpu.close()
		}
	})
}

// gate counts a program's Runs in flight, so that Close can refuse new
// ones and wait for the others. Entering and leaving are one atomic add
// each and allocate nothing.
type gate struct {
	// n is the number of Runs in flight, plus gateClosed once Close has
	// begun. A Run that finds gateClosed set takes its count back.
	n        atomic.Int64
	signaled atomic.Bool // drained has been closed
	// drained is made by close before it sets gateClosed (so every Run
	// that sees gateClosed sees it too), and closed once no Run is in.
	drained chan struct{}
}

// gateClosed marks a gate closed; far above any number of Runs.
const gateClosed = 1 << 62

// enter counts a Run in, or returns false when the gate is closed.
func (g *gate) enter() bool {
	if g.n.Add(1) >= gateClosed {
		g.leave()
		return false
	}
	return true
}

// leave counts a Run out; the last one out of a closed gate wakes Close.
func (g *gate) leave() {
	if g.n.Add(-1) == gateClosed {
		g.signal()
	}
}

// signal closes drained, once.
func (g *gate) signal() {
	if g.signaled.CompareAndSwap(false, true) {
		close(g.drained)
	}
}

// close closes the gate and waits until no Run is in; it is called once.
func (g *gate) close() {
	g.drained = make(chan struct{})
	if g.n.Add(gateClosed) == gateClosed {
		g.signal()
	}
	<-g.drained
}

// Device describes the GPU the program's plans may run on (name and
// compute capability), or returns "" when they run on the CPU; err says
// why no GPU was taken when Options.Device asked for one.
func (p *Program) Device() (desc string, err error) {
	if p.gpu == nil {
		return "", p.gpuErr
	}
	return p.gpu.String(), nil
}

// Run checks the inputs (one per graph input, in order) against the
// declared types and shapes, runs the plan for their shapes and returns
// one new tensor per graph output. It is safe for concurrent use. ctx is
// checked between nodes. On a closed program (see Close) it returns
// ErrClosed.
func (p *Program) Run(ctx context.Context, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	outs := make([]*ir.Tensor, len(p.outSlot))
	if err := p.RunInto(ctx, inputs, outs); err != nil {
		return nil, err
	}
	return outs, nil
}

// RunInto is Run writing into outs: an entry that is nil or whose buffer
// is too small is replaced by a new tensor; otherwise its buffer is reused
// and its shape updated, so a caller that keeps outs allocates nothing.
// On a closed program (see Close) it returns ErrClosed.
func (p *Program) RunInto(ctx context.Context, inputs []*ir.Tensor, outs []*ir.Tensor) error {
	if !p.gate.enter() {
		return ErrClosed
	}
	defer p.gate.leave()
	if len(outs) != len(p.outSlot) {
		return fmt.Errorf("got %d output places, the model has %d outputs", len(outs), len(p.outSlot))
	}
	plan, err := p.planForInputs(ctx, inputs, true)
	if err != nil {
		return err
	}
	first := !plan.ran.Load()
	err = plan.run(ctx, p, inputs, outs, nil)
	if first && plan.ran.CompareAndSwap(false, true) {
		p.reclaimLetGo()
	}
	return err
}

// reclaimLetGoBytes is how many bytes of plain weights the kernels must
// have let go (see Options.HoldWeights) for a Run to collect them.
const reclaimLetGoBytes = 32 << 20

// reclaimLetGo, called after a plan's first Run, collects garbage when the
// kernels have let go of at least reclaimLetGoBytes of plain weights since
// the program last did (as the first Runs of a large model do, packing its
// weights): what the next plans allocate then reuses that memory instead
// of growing the process.
func (p *Program) reclaimLetGo() {
	plain, _ := p.HeldWeightBytes()
	p.reclaimMu.Lock()
	defer p.reclaimMu.Unlock()
	if p.plainAtGC-plain >= reclaimLetGoBytes {
		goruntime.GC()
	}
	p.plainAtGC = min(p.plainAtGC, plain)
}

// DimsString formats declared dims, writing symbolic ones by name.
func DimsString(dims []ir.Dim) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range dims {
		if i > 0 {
			b.WriteByte(',')
		}
		switch {
		case d.Param != "":
			b.WriteString(d.Param)
		case d.Value < 0:
			b.WriteByte('?')
		default:
			fmt.Fprint(&b, d.Value)
		}
	}
	b.WriteByte(']')
	return b.String()
}
