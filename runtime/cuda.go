//go:build !nocuda

package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/cuda"
	"github.com/bnrun/bnrun/ops"
)

// cudaBuilt says whether this build has the CUDA backend (the nocuda
// build tag leaves it out).
const cudaBuilt = true

// gpu is a program's CUDA device: its primary context and kernels.
type gpu struct {
	ctx *cuda.Context
	k   *cuda.Kernels
}

// openGPU opens device 0 and loads the kernels (compiling them with NVRTC
// on the first use in the process).
func openGPU() (*gpu, error) {
	ctx, err := cuda.Open(0)
	if err != nil {
		return nil, err
	}
	k, err := ctx.Kernels()
	if err != nil {
		_ = ctx.Close()
		return nil, err
	}
	return &gpu{ctx: ctx, k: k}, nil
}

// String describes the device, e.g. "NVIDIA H100 80GB HBM3 (compute
// capability 9.0, 132 SMs)".
func (g *gpu) String() string { return g.ctx.Device().String() }

// close releases the context.
func (g *gpu) close() { _ = g.ctx.Close() }

// gpuPlan is a Plan made runnable on the device: every constant it reads
// uploaded once, each step turned into its kernel launches, and the
// device arenas (the plan's arena layout in device memory, plus the
// graph inputs and a stream) kept for reuse, one per concurrent Run.
type gpuPlan struct {
	g      *gpu
	consts map[int]cuda.Buffer // float32 constant slots
	extra  []cuda.Buffer       // constants made for steps (BatchNormalization's affine)
	steps  []gpuStep
	// scratch is how many float32 values of scratch the steps need
	// (bnrun.DwBlock's intermediates): each arena holds that much, its
	// buffer after the slots' (at index len(slots)).
	scratch int
	up      *cuda.Stream // the uploads' stream, while build runs

	mu      sync.Mutex
	free    []*gpuArena
	all     []*gpuArena
	users   int
	evicted bool
}

// gpuStep is one step's launches, given the buffer of every slot.
type gpuStep struct {
	c   *cnode
	run func(s *cuda.Stream, b []cuda.Buffer) error
}

// gpuArena is the device memory of one Run.
type gpuArena struct {
	mem    cuda.Buffer   // the plan's float32 arena
	sc     cuda.Buffer   // the steps' scratch (gpuPlan.scratch), or none
	ins    []cuda.Buffer // per graph input slot, by slot
	bufs   []cuda.Buffer // every slot's data
	stream *cuda.Stream
}

// newGPUPlan prepares pl for the device, or says which node cannot run
// there.
func newGPUPlan(g *gpu, p *Program, pl *Plan) (*gpuPlan, error) {
	gp := &gpuPlan{g: g, consts: map[int]cuda.Buffer{}}
	if err := gp.build(p, pl); err != nil {
		gp.release()
		return nil, err
	}
	return gp, nil
}

// build fills gp for pl.
func (gp *gpuPlan) build(p *Program, pl *Plan) (err error) {
	if gp.up, err = gp.g.ctx.NewStream(); err != nil {
		return err
	}
	defer func() {
		if e := gp.up.Close(); err == nil {
			err = e
		}
		gp.up = nil
	}()
	for i := range pl.steps {
		st := &pl.steps[i]
		if st.view {
			continue
		}
		run, err := gp.stepFor(pl, st)
		if err != nil {
			return nodeError(st.c.node, "cuda: ", err)
		}
		gp.steps = append(gp.steps, gpuStep{c: st.c, run: run})
	}
	// read[s]: a device step reads slot s, or a view of it, or it is a
	// graph output.
	read := make([]bool, len(pl.slots))
	for _, st := range gp.steps {
		for _, in := range st.c.in {
			if in >= 0 {
				read[in] = true
				if pl.slots[in].kind == slotView {
					read[pl.slots[in].root] = true
				}
			}
		}
	}
	for _, s := range p.outSlot {
		read[s] = true
		if pl.slots[s].kind == slotView {
			read[pl.slots[s].root] = true
		}
	}
	// Every float32 constant the device reads is uploaded now; int64
	// tensors are refused unless no step needs them on the device.
	for s := range pl.slots {
		sp := &pl.slots[s]
		if sp.kind != slotConst || sp.dtype != ops.Float32 || !read[s] {
			continue
		}
		b, err := gp.upload(sp.c.F32)
		if err != nil {
			return err
		}
		gp.consts[s] = b
	}
	for i, s := range p.inputSlot {
		if pl.slots[s].kind == slotInput && pl.slots[s].dtype != ops.Float32 && read[s] {
			return fmt.Errorf("cuda: graph input %q is %s; the device runs float32 tensors only",
				p.graph.Inputs[i].Name, pl.slots[s].dtype)
		}
	}
	for _, s := range p.outSlot {
		if sp := &pl.slots[s]; sp.dtype != ops.Float32 && sp.kind != slotConst {
			return fmt.Errorf("cuda: graph output %q is %s; the device runs float32 tensors only",
				p.slotNames[s], sp.dtype)
		}
	}
	return nil
}

// upload queues a copy of host data, which must stay unchanged until
// build ends, to a new device buffer on the uploads' stream.
func (gp *gpuPlan) upload(x []float32) (cuda.Buffer, error) {
	b, err := gp.g.ctx.Alloc(4 * max(1, len(x)))
	if err != nil {
		return b, err
	}
	gp.extra = append(gp.extra, b)
	if len(x) > 0 {
		err = gp.up.CopyIn(b, x)
	}
	return b, err
}

// binaryOps maps ops.BinaryDev's operators to the kernel's.
var binaryOps = map[string]cuda.BinaryOp{"Add": cuda.OpAdd, "Sub": cuda.OpSub, "Mul": cuda.OpMul, "Div": cuda.OpDiv}

// padModes maps ops.PadDev's modes to the kernel's.
var padModes = map[string]cuda.PadMode{"constant": cuda.PadConstant, "reflect": cuda.PadReflect, "edge": cuda.PadEdge}

// stepFor turns a step's device description into its launches.
func (gp *gpuPlan) stepFor(pl *Plan, st *stepPlan) (func(*cuda.Stream, []cuda.Buffer) error, error) {
	k := gp.g.k
	in, out := st.c.in, st.c.out
	opt := func(b []cuda.Buffer, i int) cuda.Buffer {
		if i < len(in) && in[i] >= 0 {
			return b[in[i]]
		}
		return cuda.Buffer{}
	}
	switch d := st.step.Dev.(type) {
	case *ops.ConvDev:
		sh := convShape(d.G)
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			a := cuda.ConvArgs{X: b[in[0]], W: b[in[1]], Y: b[out[0]], Act: d.Act, InRelu: d.PreAct.Kind == kern.ActRelu}
			if d.Bias {
				a.Bias = opt(b, 2)
			}
			if d.Residual {
				a.Residual = opt(b, 3)
			}
			if d.Pre {
				a.InScale, a.InShift = opt(b, 4), opt(b, 5)
			}
			return k.Conv(s, sh, a)
		}, nil
	case *ops.DwBlockDev:
		return gp.dwBlock(pl, d, in, out, opt), nil
	case *ops.GemmDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			a := cuda.GemmArgs{A: b[in[0]], B: b[in[1]], Y: b[out[0]], M: d.M, N: d.N, K: d.K,
				TransA: d.TransA, TransB: d.TransB, Alpha: d.Alpha, Beta: d.Beta, Act: d.Act}
			if d.CShape != nil {
				a.C, a.CShape = opt(b, 2), d.CShape
			}
			return k.Gemm(s, a)
		}, nil
	case *ops.PoolDev:
		ps := cuda.PoolShape{NC: d.Planes, H: d.H, W: d.W, OH: d.OH, OW: d.OW, KH: d.KH, KW: d.KW,
			PadH: d.PadT, PadW: d.PadL, PadHEnd: d.PadB, PadWEnd: d.PadR,
			StrideH: d.SH, StrideW: d.SW, DilH: d.DH, DilW: d.DW}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			if d.Max {
				return k.MaxPool(s, ps, b[in[0]], b[out[0]])
			}
			return k.AvgPool(s, ps, d.CountPad, b[in[0]], b[out[0]])
		}, nil
	case *ops.GlobalPoolDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.GlobalPool(s, d.Planes, d.HW, d.Max, b[in[0]], b[out[0]])
		}, nil
	case *ops.AffineDev:
		if d.Scale != nil {
			sc, err := gp.upload(d.Scale)
			if err != nil {
				return nil, err
			}
			bi, err := gp.upload(d.Bias)
			if err != nil {
				return nil, err
			}
			return func(s *cuda.Stream, b []cuda.Buffer) error {
				return k.Affine(s, d.N, d.C, d.HW, b[in[0]], sc, bi, b[out[0]], d.Act)
			}, nil
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Affine(s, d.N, d.C, d.HW, b[in[0]], b[in[1]], b[in[2]], b[out[0]], d.Act)
		}, nil
	case *ops.BinaryDev:
		op, ok := binaryOps[d.Op]
		if !ok {
			return nil, fmt.Errorf("no kernel for the binary operator %s", d.Op)
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Binary(s, op, d.AShape, d.BShape, b[in[0]], b[in[1]], b[out[0]])
		}, nil
	case *ops.UnaryDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Unary(s, d.N, b[in[0]], b[out[0]], d.Act)
		}, nil
	case *ops.ConcatDev:
		total := 0
		for _, c := range d.Sizes {
			total += c
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			y, off := b[out[0]], 0
			for i, c := range d.Sizes {
				x := b[in[i]]
				// An input the planner placed in its part of the output
				// (one outer slice) needs no copy.
				inPlace := d.Outer == 1 && x.Ptr() == y.Ptr()+uint64(4*off*d.Inner)
				if !inPlace && c > 0 {
					if err := k.Concat(s, d.Outer, d.Inner, x, c, y, total, off); err != nil {
						return err
					}
				}
				off += c
			}
			return nil
		}, nil
	case *ops.SoftmaxDev:
		if d.Log {
			return nil, fmt.Errorf("no LogSoftmax kernel")
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Softmax(s, d.Outer, d.Dim, d.Inner, b[in[0]], b[out[0]])
		}, nil
	case *ops.PadDev:
		mode, ok := padModes[d.Mode]
		if !ok {
			return nil, fmt.Errorf("no kernel for pad mode %q", d.Mode)
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Pad(s, d.In, d.Out, d.Begin, mode, d.Value, b[in[0]], b[out[0]])
		}, nil
	case *ops.Conv3DDev:
		return nil, errNo3D("3-D convolutions")
	case *ops.ConvTranspose3DDev:
		return nil, errNo3D("3-D transposed convolutions")
	case *ops.Pool3DDev:
		return nil, errNo3D("3-D pooling")
	case *ops.CopyDev:
		n := ops.NumElems(pl.slots[out[0]].shape)
		if pl.slots[out[0]].dtype != ops.Float32 {
			return nil, fmt.Errorf("the device copies float32 tensors only")
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			x, y := b[in[0]], b[out[0]]
			if x.Ptr() == y.Ptr() || n == 0 {
				return nil
			}
			return k.Concat(s, 1, n, x, 1, y, 1, 0)
		}, nil
	}
	return nil, fmt.Errorf("no CUDA kernel for this %s", st.c.node.OpType)
}

// errNo3D is the reason a step over 5-D tensors stays off the GPU.
func errNo3D(what string) error {
	return fmt.Errorf("no CUDA kernel for %s (over 5-D tensors); the CPU tiers run them", what)
}

// convShape is a convolution's geometry as the conv kernel takes it.
func convShape(g kern.ConvGeom) cuda.ConvShape {
	return cuda.ConvShape{N: g.N, C: g.C, H: g.H, W: g.W, M: g.M, KH: g.KH, KW: g.KW, OH: g.OH, OW: g.OW,
		Groups: g.Group, PadH: g.PadT, PadW: g.PadL, StrideH: g.SH, StrideW: g.SW, DilH: g.DH, DilW: g.DW}
}

// dwBlock returns the launches of a bnrun.DwBlock: its convolutions one
// after the other, the intermediates in the arena's step scratch (the
// buffer after the slots').
func (gp *gpuPlan) dwBlock(pl *Plan, d *ops.DwBlockDev, in, out []int, opt func([]cuda.Buffer, int) cuda.Buffer) func(*cuda.Stream, []cuda.Buffer) error {
	k := gp.g.k
	sc := len(pl.slots)
	var ne, nd int // the intermediates' sizes
	if d.Expand {
		g := &d.G[0]
		ne = g.N * g.M * g.OH * g.OW
	}
	if d.Project {
		g := &d.G[1]
		nd = g.N * g.M * g.OH * g.OW
	}
	gp.scratch = max(gp.scratch, ne+nd)
	var shapes [3]cuda.ConvShape
	for i := range shapes {
		shapes[i] = convShape(d.G[i])
	}
	return func(s *cuda.Stream, b []cuda.Buffer) error {
		x := b[in[0]]
		// layer i of X into Y: weights at input 1+2i, bias after them
		layer := func(i int, x, y cuda.Buffer, a kern.Activation) error {
			args := cuda.ConvArgs{X: x, W: b[in[1+2*i]], Y: y, Act: a}
			if d.Bias[i] {
				args.Bias = opt(b, 2+2*i)
			}
			if i == 2 && d.Residual {
				args.Residual = opt(b, 7)
			}
			return k.Conv(s, shapes[i], args)
		}
		if d.Expand {
			e := b[sc].Slice(0, 4*ne)
			if err := layer(0, x, e, d.ActE); err != nil {
				return err
			}
			x = e
		}
		if !d.Project {
			return layer(1, x, b[out[0]], d.ActD)
		}
		mid := b[sc].Slice(4*ne, 4*nd)
		if err := layer(1, x, mid, d.ActD); err != nil {
			return err
		}
		return layer(2, mid, b[out[0]], d.Act)
	}
}

// acquire counts a Run about to start on the plan (the program takes it
// when it hands the plan out, under its lock, so that an eviction in
// between cannot free the plan's memory); run ends it.
func (gp *gpuPlan) acquire() {
	gp.mu.Lock()
	gp.users++
	gp.mu.Unlock()
}

// arena returns a free device arena, making one if none is.
func (gp *gpuPlan) arena(p *Program, pl *Plan) (*gpuArena, error) {
	gp.mu.Lock()
	if n := len(gp.free); n > 0 {
		a := gp.free[n-1]
		gp.free = gp.free[:n-1]
		gp.mu.Unlock()
		return a, nil
	}
	gp.mu.Unlock()
	a, err := gp.newArena(p, pl)
	if err != nil {
		return nil, err
	}
	gp.mu.Lock()
	gp.all = append(gp.all, a)
	gp.mu.Unlock()
	return a, nil
}

// newArena allocates one Run's device memory and resolves every slot's
// buffer in it.
func (gp *gpuPlan) newArena(p *Program, pl *Plan) (a *gpuArena, err error) {
	ctx := gp.g.ctx
	a = &gpuArena{bufs: make([]cuda.Buffer, len(pl.slots)+1)}
	defer func() {
		if err != nil {
			gp.freeArena(a)
			a = nil
		}
	}()
	if a.mem, err = ctx.Alloc(4 * max(1, pl.f32Size)); err != nil {
		return nil, err
	}
	if gp.scratch > 0 {
		if a.sc, err = ctx.Alloc(4 * gp.scratch); err != nil {
			return nil, err
		}
		a.bufs[len(pl.slots)] = a.sc
	}
	for _, s := range p.inputSlot {
		sp := &pl.slots[s]
		if sp.kind != slotInput || sp.dtype != ops.Float32 {
			continue
		}
		b, err := ctx.Alloc(4 * max(1, ops.NumElems(sp.shape)))
		if err != nil {
			return nil, err
		}
		a.ins = append(a.ins, b)
		a.bufs[s] = b
	}
	for s := range pl.slots {
		sp := &pl.slots[s]
		n := ops.NumElems(sp.shape)
		switch {
		case sp.kind == slotConst:
			a.bufs[s] = gp.consts[s]
		case sp.kind == slotBuf && sp.dtype == ops.Float32:
			a.bufs[s] = a.mem.Slice(4*sp.off, 4*n)
		}
	}
	for s := range pl.slots {
		sp := &pl.slots[s]
		if sp.kind == slotView && sp.dtype == ops.Float32 && !a.bufs[sp.root].IsNil() {
			a.bufs[s] = a.bufs[sp.root].Slice(4*sp.at, 4*ops.NumElems(sp.shape))
		}
	}
	if a.stream, err = ctx.NewStream(); err != nil {
		return nil, err
	}
	return a, nil
}

// freeArena frees what newArena allocated.
func (gp *gpuPlan) freeArena(a *gpuArena) {
	if a.stream != nil {
		_ = a.stream.Close()
	}
	for _, b := range a.ins {
		_ = gp.g.ctx.Free(b)
	}
	if !a.sc.IsNil() {
		_ = gp.g.ctx.Free(a.sc)
	}
	_ = gp.g.ctx.Free(a.mem)
}

// done returns a Run's arena (nil when it got none) and frees the plan's
// device memory if the plan was evicted and this was its last Run.
func (gp *gpuPlan) done(a *gpuArena) {
	gp.mu.Lock()
	if a != nil {
		gp.free = append(gp.free, a)
	}
	gp.users--
	last := gp.evicted && gp.users == 0
	gp.mu.Unlock()
	if last {
		gp.release()
	}
}

// evict marks the plan as dropped from the program's cache: its device
// memory is freed now, or when its last Run ends.
func (gp *gpuPlan) evict() {
	gp.mu.Lock()
	gp.evicted = true
	idle := gp.users == 0
	gp.mu.Unlock()
	if idle {
		gp.release()
	}
}

// release frees every device buffer and stream of the plan.
func (gp *gpuPlan) release() {
	gp.mu.Lock()
	all, extra := gp.all, gp.extra
	gp.all, gp.free, gp.extra = nil, nil, nil
	gp.mu.Unlock()
	for _, a := range all {
		gp.freeArena(a)
	}
	for _, b := range extra {
		_ = gp.g.ctx.Free(b)
	}
}

// run executes the plan on the device: one copy in per graph input, the
// steps' launches on the arena's stream, one copy out per graph output.
// It ends the Run that acquire counted.
func (gp *gpuPlan) run(ctx context.Context, p *Program, pl *Plan, inputs, outs []*ops.Tensor) (err error) {
	a, err := gp.arena(p, pl)
	if err != nil {
		gp.done(nil)
		return err
	}
	defer func() {
		if err != nil {
			_ = a.stream.Sync() // let queued work finish before reuse
		}
		gp.done(a)
	}()
	for i, s := range p.inputSlot {
		if pl.slots[s].kind == slotInput && pl.slots[s].dtype == ops.Float32 && len(inputs[i].F32) > 0 {
			if err := a.stream.CopyIn(a.bufs[s], inputs[i].F32); err != nil {
				return fmt.Errorf("copying input %q to the device: %w", p.graph.Inputs[i].Name, err)
			}
		}
	}
	for i := range gp.steps {
		st := &gp.steps[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := st.run(a.stream, a.bufs); err != nil {
			return nodeError(st.c.node, "cuda: ", err)
		}
	}
	for i, s := range p.outSlot {
		sp := &pl.slots[s]
		if sp.kind == slotConst {
			outs[i] = copyOut(outs[i], sp.c)
			continue
		}
		dst := outs[i]
		if dst == nil {
			dst = &ops.Tensor{}
		}
		n := ops.NumElems(sp.shape)
		dst.DType, dst.I64 = ops.Float32, nil
		dst.Shape = append(dst.Shape[:0], sp.shape...)
		if cap(dst.F32) < n {
			dst.F32 = make([]float32, n)
		}
		dst.F32 = dst.F32[:n]
		if n > 0 {
			if err := a.stream.CopyOut(dst.F32, a.bufs[s]); err != nil {
				return fmt.Errorf("copying output %q from the device: %w", p.slotNames[s], err)
			}
		}
		outs[i] = dst
	}
	return a.stream.Sync()
}
