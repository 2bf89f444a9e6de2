package ops

import (
	"strings"

	"github.com/bnrun/bnrun/kern"
)

// Device descriptions. A backend that runs no host code (CUDA, through
// the runtime) cannot call Step.Run; it reads Step.Dev instead, which
// says in plain data what the step computes for its plan's shapes, its
// tensors being the step's inputs and outputs in node order. An op
// leaves Dev nil where it has no such description (int64 tensors,
// MaxPool's Indices, ops no device kernel covers), and the backend then
// refuses the plan, naming the node.

// ConvDev is a Conv or bnrun.FusedConv: inputs X, W, then B, Z,
// pre_scale, pre_bias where present (see ConvFusion):
//
//	y = Act(conv(PreAct(pre_scale*X + pre_bias), W) + B + Z)
type ConvDev struct {
	G           kern.ConvGeom
	Bias        bool // input 2
	Residual    bool // input 3
	Pre         bool // inputs 4 and 5
	Gate        bool // input 6: X scaled per image and channel first (gate*X, gate [N, C, 1, 1])
	PreAct, Act kern.Activation
}

// Conv3DDev is a 3-D Conv or bnrun.FusedConv (over 5-D tensors), with
// the inputs and fusion of a ConvDev.
type Conv3DDev struct {
	G           kern.Conv3DGeom
	Bias        bool // input 2
	Residual    bool // input 3
	Pre         bool // inputs 4 and 5
	PreAct, Act kern.Activation
}

// ConvTranspose3DDev is a 3-D ConvTranspose: inputs X, W and the optional
// B.
type ConvTranspose3DDev struct {
	G    kern.ConvTranspose3DGeom
	Bias bool // input 2
}

// ConvTransposeDev is a 1-D or 2-D ConvTranspose: inputs X, W and the
// optional B.
type ConvTransposeDev struct {
	G    kern.ConvTransposeGeom
	Bias bool // input 2
}

// DwBlockDev is a bnrun.DwBlock: inputs X, WE, BE, WD, BD, WP, BP, Z,
// the convolutions G (expansion, depthwise, projection; the first or the
// last absent when Expand or Project is false) with a bias where Bias
// says, each with its activation, the projection adding Z (Residual):
//
//	y = Act(conv(ActD(conv(ActE(conv(X, WE) + BE), WD) + BD), WP) + BP + Z)
type DwBlockDev struct {
	Expand, Project bool
	G               [3]kern.ConvGeom
	Bias            [3]bool
	Residual        bool
	ActE, ActD, Act kern.Activation
}

// GemmDev is a Gemm or bnrun.FusedGemm: inputs A, B and optional C,
//
//	Y = Act(Alpha·op(A)·op(B) + Beta·C)
//
// with C of shape CShape (nil when absent) broadcast to [M, N].
type GemmDev struct {
	M, N, K        int
	TransA, TransB bool
	Alpha, Beta    float32
	CShape         []int
	Act            kern.Activation
}

// PoolDev is a MaxPool (without Indices) or AveragePool over 3-D, 4-D or
// 5-D tensors, of geometry G (a 2-D pool's depth, and a 1-D pool's
// height too, kern.UnitPoolAxis).
type PoolDev struct {
	Max      bool
	CountPad bool // AveragePool's count_include_pad
	G        kern.PoolGeom
}

// GlobalPoolDev is a GlobalAveragePool or GlobalMaxPool over Planes
// planes of HW values.
type GlobalPoolDev struct {
	Max        bool
	Planes, HW int
}

// AffineDev is a per-channel affine step on X of shape [N, C, HW...]:
//
//	y[n][c][i] = Act(Scale[c]·x[n][c][i] + Bias[c])
//
// with Scale and Bias from inputs 1 and 2 (bnrun.Affine) or, when set
// here, constants computed at plan time (BatchNormalization).
type AffineDev struct {
	N, C, HW    int
	Scale, Bias []float32
	Act         kern.Activation
}

// BinaryDev is an elementwise Add, Sub, Mul, Div, Pow (float32 X to
// float32 powers), or a Max, Min or Sum of two inputs, of A (shape AShape) and
// B (BShape) with numpy broadcasting; Op names the operator.
type BinaryDev struct {
	Op             kern.BinaryOp
	AShape, BShape []int
}

// UnaryDev is an activation applied to each of N values.
type UnaryDev struct {
	N   int
	Act kern.Activation
}

// ConcatDev is a Concat: input i, of shape [Outer, Sizes[i], Inner],
// goes to [Outer, sum(Sizes), Inner] at offset sum(Sizes[:i]) along the
// middle axis.
type ConcatDev struct {
	Outer, Inner int
	Sizes        []int
}

// SoftmaxDev is a Softmax (or LogSoftmax when Log) of X, seen as [Outer,
// Dim, Inner], along the middle axis (see kern.SoftmaxLane).
type SoftmaxDev struct {
	Outer, Dim, Inner int
	Log               bool
}

// ReduceDev is a float32 reduction (Op: ReduceSum, ReduceMean, ReduceMax,
// ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum
// or ReduceLogSumExp, by kern.ReduceOp's rules) of X, InLen values: output
// element o, whose coordinates in Kept (row-major) are c, is the rule over
// the Count values at Σ_d c[d]·KeptStride[d] + Σ_e r[e]·RedStride[e] for
// every coordinate r of Red. Axes of size 1 are left out and neighbours
// contiguous in X merged; Kept is empty for a reduction to one value, Red
// never is.
type ReduceDev struct {
	Op               kern.ReduceOp
	Kept, KeptStride []int
	Red, RedStride   []int
	Count, InLen     int
}

// devOrNil returns d as a Step.Dev: nil (not a typed nil) when d is nil.
func devOrNil[T any](d *T) any {
	if d == nil {
		return nil
	}
	return d
}

// PadDev is a float32 Pad: X of shape In to shape Out, Begin[d] the
// leading pad of axis d (negative crops); Mode is kern.PadConstant
// (filling with Value), PadReflect or PadEdge.
type PadDev struct {
	In, Out, Begin []int
	Mode           kern.PadMode
	Value          float32
}

// ResizeDev is a float32 Resize or Upsample of X, of shape In, to shape
// Out, as the CPU runs it: Axes are its passes in order (the last axis
// first), each resampling one axis with the taps the plan computed.
type ResizeDev struct {
	In, Out []int
	Axes    []ResizeAxisDev
	Extrap  float32 // tf_crop_and_resize's extrapolation_value
}

// ResizeAxisDev is one pass of a ResizeDev: the tensor seen as [Outer,
// InLen, Inner] resampled along its middle axis (axis Axis of X) to
// [Outer, OutLen, Inner]; output i is Σ_j W[i·K+j]·x[Idx[i·K+j]], or
// Extrap when Ext[i].
type ResizeAxisDev struct {
	Axis, K       int
	InLen, OutLen int
	Outer, Inner  int
	Idx           []int
	W             []float64
	Ext           []bool
}

// StridedDev is a float32 Slice or Transpose, or a part of a Split: the
// output element at coordinates c of Dims (row-major) is the input element
// Offset + Σ_d c[d]·Strides[d] (a stride may be negative) of its InLen.
type StridedDev struct {
	Dims, Strides []int
	Offset, InLen int
}

// SplitDev is a float32 Split: output i is Parts[i] of the input.
type SplitDev struct {
	Parts []StridedDev
}

// CopyDev is an op whose output is input 0's data under another shape
// (Step.View), or its values unchanged (a Cast from float32 to FLOAT or
// DOUBLE): its values copied, when the runtime does not alias them.
type CopyDev struct{}

// KernelOf names what tier k runs for step st on workers workers, from its
// description (Dev): the tier, and for a convolution the path its Conv
// takes (ConvPath), for a bnrun.DwBlock whether the tier runs it in one
// pass, or its convs in bands of rows or one after the other (each conv's
// path), and for a Gemm whether it is a matrix-vector product. It returns the tier's name alone for other
// steps, and "" for a step without Dev.
func KernelOf(k *kern.Tier, st Step, workers int) string {
	if k == nil || st.Dev == nil {
		return ""
	}
	path := func(g *kern.ConvGeom, pre bool) string {
		if k.ConvPath == nil {
			return "conv"
		}
		return k.ConvPath(g, pre)
	}
	switch d := st.Dev.(type) {
	case *ConvDev:
		return k.Name + " " + path(&d.G, d.Pre)
	case *DwBlockDev:
		p := kern.DwBlock{Expand: d.Expand, Project: d.Project, GE: d.G[0], GD: d.G[1], GP: d.G[2], ActE: d.ActE, ActD: d.ActD}
		rows := k.DwRowsOK != nil && k.DwRowsOK(&p, workers)
		if !rows && k.DwBlockOK != nil && k.DwBlockOK(&p, workers) {
			return k.Name + " one pass"
		}
		var parts []string
		for i, g := range d.G {
			if i == 0 && !d.Expand || i == 2 && !d.Project {
				continue
			}
			parts = append(parts, path(&g, false))
		}
		if rows && k.DwRowsPix != nil && k.DwRowsPix(&p, workers) {
			parts[0] = "pixel tiles into 8-channel blocks" // the expansion
		}
		if rows {
			return k.Name + " bands of rows: " + strings.Join(parts, " + ")
		}
		return k.Name + " " + strings.Join(parts, " + ")
	case *GemmDev:
		if kern.GemmSmallOK(d.TransA, d.M) {
			return k.Name + " matrix-vector"
		}
		return k.Name + " gemm"
	case *ConvTransposeDev:
		if k.ConvTranspose != nil {
			return k.Name + " direct scatter"
		}
		return k.Name + " gemm and col2im"
	case *Conv3DDev:
		switch {
		case k.Conv3D != nil:
			return k.Name + " 3-D direct"
		case d.G.C/d.G.Group == 1:
			return k.Name + " 3-D depthwise rows"
		}
		return k.Name + " 3-D im2col gemm"
	case *ConvTranspose3DDev:
		if k.ConvTranspose3D != nil {
			return k.Name + " 3-D direct scatter"
		}
		return k.Name + " 3-D gemm and col2im"
	}
	return k.Name
}

// AffinePoolDev is a bnrun.AffineAveragePool: the affine step y' =
// Act(a[c]·x + b[c]) over N images of C planes of HW values (a and b the
// step's inputs 1 and 2), then the average pooling Pool of y'.
type AffinePoolDev struct {
	Pool     PoolDev
	N, C, HW int
	Act      kern.Activation
}
