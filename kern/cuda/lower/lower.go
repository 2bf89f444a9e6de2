// Package lower is where an operator's GPU kernel is chosen: it turns the
// device description of one step of a plan (an ops.Step's Dev: ops.ConvDev,
// ops.DwBlockDev, ops.GemmDev, ...) into launches of package cuda's
// kernels. It knows no graph and no plan: a step's buffers are indices
// into the list of device buffers that a Run passes to every launch.
//
// runtime calls Lower once per step when it makes a plan runnable on the
// device (runtime/cuda.go, behind the nocuda build tag); a descriptor it
// has no kernel for is an error naming the operator, on which runtime
// runs the model on a CPU tier and says why. The package imports ops for
// the descriptors' types and geometry and package cuda for the kernels;
// it must not import runtime, fold, loader or the root package.
package lower

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/cuda"
	"github.com/bnrun/bnrun/ops"
)

// Launch queues one step's kernels on a stream, given every device buffer
// of the Run by index.
type Launch func(s *cuda.Stream, b []cuda.Buffer) error

// Step is what lowering a step needs besides its descriptor.
type Step struct {
	// K are the device's kernels.
	K *cuda.Kernels
	// OpType names the step's operator in errors.
	OpType string
	// In and Out are the buffer indices of the step's inputs (-1 for an
	// absent optional input) and outputs.
	In, Out []int
	// OutLen is output 0's element count and OutF32 whether it is
	// float32 (a copy step's).
	OutLen int
	OutF32 bool
	// Scratch is the index of the Run's step scratch buffer, at least as
	// long as the largest Reserve asked for.
	Scratch int
	// Upload copies host data that a step's launches read (a constant it
	// makes, such as BatchNormalization's affine) to a new device buffer
	// that the caller keeps for the plan's life.
	Upload func(x []float32) (cuda.Buffer, error)
	// Reserve asks for n float32 values of step scratch.
	Reserve func(n int)
}

// opt returns buffer i of the step's inputs, or none when it is absent.
func (st *Step) opt(b []cuda.Buffer, i int) cuda.Buffer {
	if i < len(st.In) && st.In[i] >= 0 {
		return b[st.In[i]]
	}
	return cuda.Buffer{}
}

// Lower returns the launches of the step that dev describes, or an error
// when no kernel runs it.
func Lower(dev any, st Step) (Launch, error) {
	k := st.K
	in, out := st.In, st.Out
	if len(out) == 0 {
		return nil, fmt.Errorf("a %s step with no output", st.OpType)
	}
	switch d := dev.(type) {
	case *ops.ConvDev:
		if d.Gate {
			return gatedConv(d, &st), nil
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Conv(s, d.G, convArgs(&st, b, d.Bias, d.Residual, d.Pre, d.PreAct, d.Act))
		}, nil
	case *ops.DwBlockDev:
		return dwBlock(d, &st), nil
	case *ops.GemmDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			a := cuda.GemmArgs{A: b[in[0]], B: b[in[1]], Y: b[out[0]], M: d.M, N: d.N, K: d.K,
				TransA: d.TransA, TransB: d.TransB, Alpha: d.Alpha, Beta: d.Beta, Act: d.Act}
			if d.CShape != nil {
				a.C, a.CShape = st.opt(b, 2), d.CShape
			}
			return k.Gemm(s, a)
		}, nil
	case *ops.PoolDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			if d.Max {
				return k.MaxPool(s, d.G, b[in[0]], b[out[0]])
			}
			return k.AvgPool(s, d.G, d.CountPad, b[in[0]], b[out[0]])
		}, nil
	case *ops.AffinePoolDev:
		// the affine step into the step's scratch, then the pool from it
		nx := d.N * d.C * d.HW
		st.Reserve(nx)
		sc := st.Scratch
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			t := b[sc].Slice(0, 4*nx)
			if err := k.Affine(s, d.N, d.C, d.HW, b[in[0]], b[in[1]], b[in[2]], t, d.Act); err != nil {
				return err
			}
			return k.AvgPool(s, d.Pool.G, d.Pool.CountPad, t, b[out[0]])
		}, nil
	case *ops.GlobalPoolDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.GlobalPool(s, d.Planes, d.HW, d.Max, b[in[0]], b[out[0]])
		}, nil
	case *ops.AffineDev:
		if d.Scale != nil {
			sc, err := st.Upload(d.Scale)
			if err != nil {
				return nil, err
			}
			bi, err := st.Upload(d.Bias)
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
		if !d.Op.Valid() {
			return nil, fmt.Errorf("no kernel for the binary operator %s", d.Op)
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Binary(s, d.Op, d.AShape, d.BShape, b[in[0]], b[in[1]], b[out[0]])
		}, nil
	case *ops.UnaryDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Unary(s, d.N, b[in[0]], b[out[0]], d.Act)
		}, nil
	case *ops.ConcatDev:
		return concat(d, &st), nil
	case *ops.SoftmaxDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Softmax(s, d.Outer, d.Dim, d.Inner, d.Log, b[in[0]], b[out[0]])
		}, nil
	case *ops.ReduceDev:
		if !d.Op.Valid() {
			return nil, fmt.Errorf("no kernel for the reduction %s", d.Op)
		}
		if len(d.Kept) > 6 || len(d.Red) > 6 {
			return nil, fmt.Errorf("no kernel for a reduction over more than 6 kept or reduced runs of axes (%v, %v)", d.Kept, d.Red)
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Reduce(s, d.Op, d.Kept, d.KeptStride, d.Red, d.RedStride, b[in[0]], d.InLen, b[out[0]])
		}, nil
	case *ops.PadDev:
		if !d.Mode.Valid() {
			return nil, fmt.Errorf("no kernel for pad mode %s", d.Mode)
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Pad(s, d.In, d.Out, d.Begin, d.Mode, d.Value, b[in[0]], b[out[0]])
		}, nil
	case *ops.ConvTransposeDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			var bias cuda.Buffer
			if d.Bias {
				bias = st.opt(b, 2)
			}
			return k.ConvTranspose(s, d.G, b[in[0]], b[in[1]], bias, b[out[0]])
		}, nil
	case *ops.ResizeDev:
		return resize(d, &st)
	case *ops.StridedDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.StridedCopy(s, d.Dims, d.Strides, d.Offset, b[in[0]], d.InLen, b[out[0]])
		}, nil
	case *ops.SplitDev:
		if len(d.Parts) != len(out) {
			return nil, fmt.Errorf("a %s step of %d parts with %d outputs", st.OpType, len(d.Parts), len(out))
		}
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			for i, p := range d.Parts {
				if out[i] < 0 {
					continue // an output nothing reads
				}
				if err := k.StridedCopy(s, p.Dims, p.Strides, p.Offset, b[in[0]], p.InLen, b[out[i]]); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case *ops.Conv3DDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.Conv3D(s, d.G, convArgs(&st, b, d.Bias, d.Residual, d.Pre, d.PreAct, d.Act))
		}, nil
	case *ops.ConvTranspose3DDev:
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			var bias cuda.Buffer
			if d.Bias {
				bias = st.opt(b, 2)
			}
			return k.ConvTranspose3D(s, d.G, b[in[0]], b[in[1]], bias, b[out[0]])
		}, nil
	case *ops.CopyDev:
		if !st.OutF32 {
			return nil, fmt.Errorf("the device copies float32 tensors only")
		}
		n := st.OutLen
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			x, y := b[in[0]], b[out[0]]
			if x.Ptr() == y.Ptr() || n == 0 {
				return nil
			}
			return k.Concat(s, 1, n, x, 1, y, 1, 0)
		}, nil
	}
	return nil, fmt.Errorf("no CUDA kernel for this %s", st.OpType)
}

// convArgs returns the buffers and fusions of a Conv, FusedConv or 3-D
// Conv step (ops.ConvDev's inputs: X, W, then B, Z, pre_scale, pre_bias
// where present).
func convArgs(st *Step, b []cuda.Buffer, bias, residual, pre bool, preAct, act kern.Activation) cuda.ConvArgs {
	a := cuda.ConvArgs{X: b[st.In[0]], W: b[st.In[1]], Y: b[st.Out[0]], Act: act, InRelu: preAct.Kind == kern.ActRelu}
	if bias {
		a.Bias = st.opt(b, 2)
	}
	if residual {
		a.Residual = st.opt(b, 3)
	}
	if pre {
		a.InScale, a.InShift = st.opt(b, 4), st.opt(b, 5)
	}
	return a
}

// gatedConv returns the launches of a FusedConv with a gate (input 6):
// the product gate*X, the gate [N, C, 1, 1] broadcast over each plane,
// into the step scratch, then the convolution of that.
func gatedConv(d *ops.ConvDev, st *Step) Launch {
	k, in, g := st.K, st.In, d.G
	xShape, gShape := []int{g.N, g.C, g.H, g.W}, []int{g.N, g.C, 1, 1}
	nx := g.N * g.C * g.H * g.W
	st.Reserve(nx)
	sc := st.Scratch
	return func(s *cuda.Stream, b []cuda.Buffer) error {
		gx := b[sc].Slice(0, 4*nx)
		if err := k.Binary(s, kern.BinaryMul, xShape, gShape, b[in[0]], b[in[6]], gx); err != nil {
			return err
		}
		a := convArgs(st, b, d.Bias, d.Residual, d.Pre, d.PreAct, d.Act)
		a.X = gx
		return k.Conv(s, g, a)
	}
}

// resize returns a Resize's launches. When it changes only the last two
// axes (an image's height and width, every mode), one resize_hw pass
// computes it, an axis left as it is given taps of its own; otherwise
// each axis is a resize_axis pass in the CPU's order, the intermediates
// in the Run's step scratch. The taps are uploaded once, with the plan.
func resize(d *ops.ResizeDev, st *Step) (Launch, error) {
	k, in, out := st.K, st.In, st.Out
	r, total := len(d.In), ops.NumElems(d.Out)
	if total == 0 {
		return func(*cuda.Stream, []cuda.Buffer) error { return nil }, nil
	}
	if len(d.Axes) == 0 { // every axis as it is
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			x, y := b[in[0]], b[out[0]]
			if x.Ptr() == y.Ptr() {
				return nil
			}
			return k.Concat(s, 1, total, x, 1, y, 1, 0)
		}, nil
	}
	taps := make([]cuda.ResizeTaps, len(d.Axes))
	for i := range d.Axes {
		var err error
		if taps[i], err = uploadTaps(st, &d.Axes[i]); err != nil {
			return nil, err
		}
	}
	hw := r >= 2
	for _, ax := range d.Axes {
		hw = hw && ax.Axis >= r-2
	}
	if hw {
		// rows and columns: the pass of axis r-2 and of r-1, or taps that
		// leave the axis as it is
		var rc [2]cuda.ResizeTaps
		for j := range rc {
			a := r - 2 + j
			i := slices.IndexFunc(d.Axes, func(ax ops.ResizeAxisDev) bool { return ax.Axis == a })
			if i >= 0 {
				rc[j] = taps[i]
				continue
			}
			var err error
			if rc[j], err = identityTaps(st, d.In[a]); err != nil {
				return nil, err
			}
		}
		planes := ops.NumElems(d.In[:r-2])
		return func(s *cuda.Stream, b []cuda.Buffer) error {
			return k.ResizeHW(s, planes, rc[0], rc[1], d.Extrap, b[in[0]], b[out[0]])
		}, nil
	}
	// pass i writes the output when it is the last, else scratch half i%2
	half := 0
	for _, ax := range d.Axes[:len(d.Axes)-1] {
		half = max(half, ax.Outer*ax.OutLen*ax.Inner)
	}
	st.Reserve(2 * half)
	sc := st.Scratch
	return func(s *cuda.Stream, b []cuda.Buffer) error {
		x := b[in[0]]
		for i, ax := range d.Axes {
			y := b[out[0]]
			if i < len(d.Axes)-1 {
				y = b[sc].Slice(4*half*(i%2), 4*ax.Outer*ax.OutLen*ax.Inner)
			}
			if err := k.ResizeAxis(s, ax.Outer, ax.Inner, taps[i], d.Extrap, x, y); err != nil {
				return err
			}
			x = y
		}
		return nil
	}, nil
}

// uploadTaps uploads a resize pass's taps as the kernels read them: the
// indexes as int32s, -1 first for an output that is the extrapolation
// value, and the weights rounded to float32.
func uploadTaps(st *Step, ax *ops.ResizeAxisDev) (cuda.ResizeTaps, error) {
	t := cuda.ResizeTaps{In: ax.InLen, Out: ax.OutLen, K: ax.K}
	n := ax.OutLen * ax.K
	if len(ax.Idx) != n || len(ax.W) != n || len(ax.Ext) != ax.OutLen {
		return t, fmt.Errorf("resize axis %d: %d taps, %d weights and %d extrapolation marks for %d outputs of %d taps",
			ax.Axis, len(ax.Idx), len(ax.W), len(ax.Ext), ax.OutLen, ax.K)
	}
	idx, w := make([]int32, n), make([]float32, n)
	for i := range n {
		if ax.Idx[i] < 0 || ax.Idx[i] >= ax.InLen {
			return t, fmt.Errorf("resize axis %d: tap %d reads index %d of %d", ax.Axis, i, ax.Idx[i], ax.InLen)
		}
		idx[i], w[i] = int32(ax.Idx[i]), float32(ax.W[i])
	}
	for i, e := range ax.Ext {
		if e {
			idx[i*ax.K] = -1
		}
	}
	return uploadTapBufs(st, t, idx, w)
}

// identityTaps uploads the taps of an axis of n values left as it is:
// output i reads input i with weight 1.
func identityTaps(st *Step, n int) (cuda.ResizeTaps, error) {
	idx, w := make([]int32, n), make([]float32, n)
	for i := range n {
		idx[i], w[i] = int32(i), 1
	}
	return uploadTapBufs(st, cuda.ResizeTaps{In: n, Out: n, K: 1}, idx, w)
}

// uploadTapBufs uploads idx and w into t's buffers. The int32 indexes
// travel as their bits: the upload copies bytes.
func uploadTapBufs(st *Step, t cuda.ResizeTaps, idx []int32, w []float32) (cuda.ResizeTaps, error) {
	var err error
	if len(idx) > 0 {
		if t.Tap, err = st.Upload(unsafe.Slice((*float32)(unsafe.Pointer(&idx[0])), len(idx))); err != nil {
			return t, err
		}
	}
	t.W, err = st.Upload(w)
	return t, err
}

// concat returns a Concat's launches: each input written at its offset
// along the axis of the output, but for one the planner already placed
// there.
func concat(d *ops.ConcatDev, st *Step) Launch {
	k, in, out := st.K, st.In, st.Out
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
	}
}

// dwBlock returns the launches of a bnrun.DwBlock: its convolutions one
// after the other, the intermediates in the Run's step scratch.
func dwBlock(d *ops.DwBlockDev, st *Step) Launch {
	k, in, out, sc := st.K, st.In, st.Out, st.Scratch
	var ne, nd int // the intermediates' sizes
	if d.Expand {
		g := &d.G[0]
		ne = g.N * g.M * g.OH * g.OW
	}
	if d.Project {
		g := &d.G[1]
		nd = g.N * g.M * g.OH * g.OW
	}
	st.Reserve(ne + nd)
	shapes := d.G
	return func(s *cuda.Stream, b []cuda.Buffer) error {
		x := b[in[0]]
		// layer i of X into Y: weights at input 1+2i, bias after them
		layer := func(i int, x, y cuda.Buffer, a kern.Activation) error {
			args := cuda.ConvArgs{X: x, W: b[in[1+2*i]], Y: y, Act: a}
			if d.Bias[i] {
				args.Bias = st.opt(b, 2+2*i)
			}
			if i == 2 && d.Residual {
				args.Residual = st.opt(b, 7)
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
