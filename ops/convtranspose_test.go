package ops

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// ctOpCase is one ConvTranspose node and its input shapes.
type ctOpCase struct {
	n, c, m      int   // batch, input channels, output channels
	in, k        []int // spatial input and kernel sizes (1 or 2 values)
	group        int
	strides      []int64
	dils, pads   []int64
	outPad       []int64
	outShape     []int64
	autoPad      string
	bias         bool
	want         []int // the output's spatial sizes
	opset1, kAtt bool  // opset 1; kernel_shape given
}

func (cc ctOpCase) String() string {
	return fmt.Sprintf("N%d C%d M%d in%v k%v g%d s%v d%v p%v op%v os%v %s bias=%v",
		cc.n, cc.c, cc.m, cc.in, cc.k, cc.group, cc.strides, cc.dils, cc.pads, cc.outPad, cc.outShape, cc.autoPad, cc.bias)
}

func (cc ctOpCase) node() *Node {
	opset := 11
	if cc.opset1 {
		opset = 1
	}
	n := nnNode("ConvTranspose", opset, 1)
	set := func(name string, v []int64) {
		if v != nil {
			n.Attrs[name] = nnInts(name, v...)
		}
	}
	if cc.group != 1 {
		n.Attrs["group"] = nnInt("group", int64(cc.group))
	}
	set("strides", cc.strides)
	set("dilations", cc.dils)
	set("pads", cc.pads)
	set("output_padding", cc.outPad)
	set("output_shape", cc.outShape)
	if cc.kAtt {
		var k []int64
		for _, d := range cc.k {
			k = append(k, int64(d))
		}
		set("kernel_shape", k)
	}
	if cc.autoPad != "" {
		n.Attrs["auto_pad"] = nnStr("auto_pad", cc.autoPad)
	}
	return n
}

func (cc ctOpCase) inputs(seed uint64) []*Tensor {
	xs := append([]int{cc.n, cc.c}, cc.in...)
	ws := append([]int{cc.c, cc.m / cc.group}, cc.k...)
	ins := []*Tensor{nnRand(seed, xs...), nnRand(seed+1, ws...)}
	if cc.bias {
		ins = append(ins, nnRand(seed+2, cc.m))
	}
	return ins
}

var ctOpCases = []ctOpCase{
	// 2× upsampling as FPN and U-Net heads have it, batch 2.
	{n: 2, c: 8, m: 4, in: []int{5, 6}, k: []int{2, 2}, group: 1, strides: []int64{2, 2}, bias: true, want: []int{10, 12}},
	{n: 1, c: 5, m: 3, in: []int{7, 4}, k: []int{4, 4}, group: 1, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, want: []int{14, 8}, kAtt: true},
	// Odd channels, strides 2 and 3, asymmetric pads, output padding.
	{n: 3, c: 7, m: 5, in: []int{3, 4}, k: []int{3, 3}, group: 1, strides: []int64{3, 2}, pads: []int64{1, 2, 0, 1},
		outPad: []int64{2, 1}, bias: true, want: []int{3*2 + 2 + 3 - 1, 2*3 + 1 + 3 - 3}},
	// Dilations (output padding below the dilation, not the stride).
	{n: 2, c: 6, m: 7, in: []int{6, 5}, k: []int{3, 2}, group: 1, dils: []int64{2, 3}, pads: []int64{2, 0, 1, 3},
		outPad: []int64{1, 0}, bias: true, want: []int{5 + 1 + 5 - 3, 4 + 4 - 3}},
	// Groups: 2, 3 and depthwise, the last with opset 1.
	{n: 2, c: 6, m: 10, in: []int{5, 6}, k: []int{3, 3}, group: 2, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1},
		outPad: []int64{1, 1}, bias: true, want: []int{10, 12}},
	{n: 1, c: 9, m: 6, in: []int{4, 7}, k: []int{3, 1}, group: 3, strides: []int64{2, 1}, want: []int{9, 7}},
	{n: 3, c: 5, m: 5, in: []int{6, 6}, k: []int{4, 4}, group: 5, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1},
		bias: true, want: []int{12, 12}, opset1: true},
	// output_shape: past the full output (negative pads), within it
	// (positive, odd), and with output padding.
	{n: 2, c: 3, m: 4, in: []int{3, 3}, k: []int{3, 3}, group: 1, strides: []int64{3, 2}, outShape: []int64{12, 9},
		bias: true, want: []int{12, 9}},
	{n: 1, c: 3, m: 2, in: []int{4, 5}, k: []int{3, 3}, group: 1, strides: []int64{2, 2}, outShape: []int64{8, 8},
		pads: []int64{5, 5, 5, 5}, want: []int{8, 8}},
	{n: 1, c: 1, m: 2, in: []int{3, 3}, k: []int{3, 3}, group: 1, strides: []int64{3, 2}, outShape: []int64{10, 8},
		outPad: []int64{1, 1}, want: []int{10, 8}},
	// auto_pad: the output is in·stride, the pads split both ways.
	{n: 1, c: 4, m: 3, in: []int{5, 4}, k: []int{3, 4}, group: 1, strides: []int64{2, 3}, autoPad: "SAME_UPPER", bias: true, want: []int{10, 12}},
	{n: 2, c: 4, m: 3, in: []int{5, 4}, k: []int{3, 4}, group: 1, strides: []int64{2, 3}, autoPad: "SAME_LOWER", want: []int{10, 12}},
	{n: 1, c: 4, m: 3, in: []int{5, 4}, k: []int{3, 2}, group: 1, strides: []int64{2, 1}, autoPad: "VALID", want: []int{11, 5}},
	// A plane wider than a chunk of the kernel's Cols matrix.
	{n: 1, c: 20, m: 70, in: []int{23, 17}, k: []int{3, 3}, group: 1, strides: []int64{2, 2}, pads: []int64{1, 1, 0, 0},
		bias: true, want: []int{46, 34}},
	// 1-D.
	{n: 2, c: 5, m: 7, in: []int{29}, k: []int{3}, group: 1, strides: []int64{2}, pads: []int64{1, 2}, outPad: []int64{1},
		bias: true, want: []int{2*28 + 1 + 3 - 3}},
	{n: 1, c: 4, m: 6, in: []int{17}, k: []int{5}, group: 2, dils: []int64{2}, autoPad: "SAME_LOWER", want: []int{17}},
	{n: 1, c: 3, m: 3, in: []int{9}, k: []int{4}, group: 1, strides: []int64{3}, outShape: []int64{31}, want: []int{31}},
	// 3-D: a 3-D U-Net's 2× upsampling, batch 2; odd channels, strides 2
	// and 3, asymmetric pads, output padding; dilations and groups;
	// depthwise; output_shape past the full output; auto_pad; a volume
	// over several chunks of the Cols matrix (the last case).
	{n: 2, c: 4, m: 6, in: []int{3, 4, 3}, k: []int{2, 2, 2}, group: 1, strides: []int64{2, 2, 2}, bias: true, want: []int{6, 8, 6}},
	{n: 1, c: 5, m: 3, in: []int{3, 3, 4}, k: []int{3, 3, 2}, group: 1, strides: []int64{2, 3, 2}, pads: []int64{1, 0, 1, 0, 1, 0},
		outPad: []int64{1, 2, 1}, want: []int{7, 10, 8}, kAtt: true},
	{n: 2, c: 6, m: 4, in: []int{4, 3, 5}, k: []int{2, 3, 2}, group: 2, dils: []int64{2, 1, 3}, pads: []int64{1, 1, 0, 0, 1, 2},
		bias: true, want: []int{5, 3, 6}},
	{n: 1, c: 4, m: 4, in: []int{3, 4, 4}, k: []int{3, 3, 3}, group: 4, strides: []int64{1, 2, 2}, pads: []int64{1, 1, 1, 1, 1, 1},
		outPad: []int64{0, 1, 1}, want: []int{3, 8, 8}},
	{n: 1, c: 3, m: 2, in: []int{2, 3, 3}, k: []int{3, 3, 3}, group: 1, strides: []int64{2, 2, 2}, outShape: []int64{6, 7, 8},
		bias: true, want: []int{6, 7, 8}},
	{n: 1, c: 3, m: 4, in: []int{3, 4, 2}, k: []int{2, 3, 3}, group: 1, strides: []int64{2, 1, 3}, autoPad: "SAME_UPPER", bias: true, want: []int{6, 4, 6}},
	{n: 1, c: 5, m: 40, in: []int{6, 9, 8}, k: []int{3, 3, 3}, group: 1, pads: []int64{1, 1, 1, 1, 1, 1}, bias: true, want: []int{6, 9, 8}},
}

// TestConvTransposeTiersMatchReference runs every case on every tier
// with 1 to 3 workers against the reference's direct loop, and checks the
// output shapes.
func TestConvTransposeTiersMatchReference(t *testing.T) {
	for i, cc := range ctOpCases {
		ins := cc.inputs(uint64(50 * i))
		want, err := runOpEnv(nnEnv(kern.Reference, 1), cc.node(), ins...)
		if err != nil {
			t.Fatalf("%v: reference: %v", cc, err)
		}
		wantShape := append([]int{cc.n, cc.m}, cc.want...)
		if !SameShape(want[0].Shape, wantShape) {
			t.Fatalf("%v: shape %v, want %v", cc, want[0].Shape, wantShape)
		}
		for _, k := range testTiers() {
			for _, workers := range []int{1, 2, 3} {
				got, err := runOpEnvConst(nnEnv(k, workers), cc.node(), 1, ins...)
				if err != nil {
					t.Fatalf("%v: %s: %v", cc, k.Name, err)
				}
				kerntest.Check(t, fmt.Sprintf("%v %s workers=%d", cc, k.Name, workers), got[0].F32, want[0].F32, 1e-5)
			}
		}
	}
}

func TestConvTransposeKnownAnswers(t *testing.T) {
	f := func(shape []int, v ...float32) *Tensor { return NewF32(shape, v) }
	ones := func(shape ...int) *Tensor {
		x := NewF32(shape, nil)
		for i := range x.F32 {
			x.F32[i] = 1
		}
		return x
	}
	x22 := f([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	w3 := f([]int{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	tests := []struct {
		name  string
		attrs []*Attr
		ins   []*Tensor
		shape []int
		want  []float32
	}{
		{
			// Stride 2, a 2×2 kernel of ones: each value fills its own
			// block; plus a bias of 10.
			name: "blocks", attrs: []*Attr{nnInts("strides", 2, 2)},
			ins:   []*Tensor{x22, ones(1, 1, 2, 2), f([]int{1}, 10)},
			shape: []int{1, 1, 4, 4},
			want:  []float32{11, 11, 12, 12, 11, 11, 12, 12, 13, 13, 14, 14, 13, 13, 14, 14},
		},
		{
			// Stride 2, a 3×3 kernel of ones: the 5×5 full output
			// [1 1 3 2 2; 1 1 3 2 2; 4 4 10 6 6; 3 3 7 4 4; 3 3 7 4 4];
			// SAME_UPPER keeps its first 4×4 (total padding 1, at the end).
			name: "same upper", attrs: []*Attr{nnInts("strides", 2, 2), nnStr("auto_pad", "SAME_UPPER")},
			ins:   []*Tensor{x22, ones(1, 1, 3, 3)},
			shape: []int{1, 1, 4, 4},
			want:  []float32{1, 1, 3, 2, 1, 1, 3, 2, 4, 4, 10, 6, 3, 3, 7, 4},
		},
		{
			// SAME_LOWER keeps the last 4×4.
			name: "same lower", attrs: []*Attr{nnInts("strides", 2, 2), nnStr("auto_pad", "SAME_LOWER")},
			ins:   []*Tensor{x22, ones(1, 1, 3, 3)},
			shape: []int{1, 1, 4, 4},
			want:  []float32{1, 3, 2, 2, 4, 10, 6, 6, 3, 7, 4, 4, 3, 7, 4, 4},
		},
		{
			// output_shape without auto_pad splits as SAME_LOWER, the
			// pads attribute ignored.
			name: "output_shape within", attrs: []*Attr{nnInts("strides", 2, 2), nnInts("output_shape", 4, 4), nnInts("pads", 0, 0, 0, 0)},
			ins:   []*Tensor{x22, ones(1, 1, 3, 3)},
			shape: []int{1, 1, 4, 4},
			want:  []float32{1, 3, 2, 2, 4, 10, 6, 6, 3, 7, 4, 4, 3, 7, 4, 4},
		},
		{
			// output_shape one past the full 3×3: total padding -1, the
			// start pad ⌈-1/2⌉ = 0, so the extra row and column come at
			// the end and hold the bias alone.
			name: "output_shape past", attrs: []*Attr{nnInts("output_shape", 4, 4)},
			ins:   []*Tensor{f([]int{1, 1, 1, 1}, 2), w3, f([]int{1}, 0.5)},
			shape: []int{1, 1, 4, 4},
			want:  []float32{2.5, 4.5, 6.5, 0.5, 8.5, 10.5, 12.5, 0.5, 14.5, 16.5, 18.5, 0.5, 0.5, 0.5, 0.5, 0.5},
		},
		{
			// SAME_UPPER's start pad ⌊-1/2⌋ = -1 puts them at the start.
			name: "output_shape past upper", attrs: []*Attr{nnInts("output_shape", 4, 4), nnStr("auto_pad", "SAME_UPPER")},
			ins:   []*Tensor{f([]int{1, 1, 1, 1}, 2), w3},
			shape: []int{1, 1, 4, 4},
			want:  []float32{0, 0, 0, 0, 0, 2, 4, 6, 0, 8, 10, 12, 0, 14, 16, 18},
		},
		{
			// Output padding adds a row and a column at the end.
			name: "output_padding", attrs: []*Attr{nnInts("strides", 2, 2), nnInts("output_padding", 1, 1)},
			ins:   []*Tensor{f([]int{1, 1, 1, 2}, 1, 2), f([]int{1, 1, 1, 1}, 1), f([]int{1}, 0.5)},
			shape: []int{1, 1, 2, 4},
			want:  []float32{1.5, 0.5, 2.5, 0.5, 0.5, 0.5, 0.5, 0.5},
		},
		{
			// Two groups of one channel each.
			name: "groups", attrs: []*Attr{nnInt("group", 2)},
			ins:   []*Tensor{f([]int{1, 2, 1, 1}, 1, -1), f([]int{2, 1, 1, 1}, 2, 3)},
			shape: []int{1, 2, 1, 1},
			want:  []float32{2, -3},
		},
		{
			// 1-D, dilation 2: x0 lands on 0 and 2, x1 on 1 and 3.
			name: "dilated 1-D", attrs: []*Attr{nnInts("dilations", 2)},
			ins:   []*Tensor{f([]int{1, 1, 2}, 1, 2), f([]int{1, 1, 2}, 1, 10)},
			shape: []int{1, 1, 4},
			want:  []float32{1, 2, 10, 20},
		},
		{
			// Pads crop the full output [1 3 5 3] to its middle.
			name: "pads 1-D", attrs: []*Attr{nnInts("pads", 1, 1)},
			ins:   []*Tensor{f([]int{1, 1, 3}, 1, 2, 3), f([]int{1, 1, 2}, 1, 1)},
			shape: []int{1, 1, 2},
			want:  []float32{3, 5},
		},
	}
	for _, tt := range tests {
		for _, k := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
			out, err := runOpEnv(nnEnv(k, 2), nnNode("ConvTranspose", 11, 1, tt.attrs...), tt.ins...)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.name, k.Name, err)
			}
			if !SameShape(out[0].Shape, tt.shape) {
				t.Fatalf("%s %s: shape %v, want %v", tt.name, k.Name, out[0].Shape, tt.shape)
			}
			kerntest.SameBits(t, tt.name+" "+k.Name, out[0].F32, tt.want)
		}
	}
}

func TestConvTransposeErrors(t *testing.T) {
	x := nnRand(1, 1, 4, 5, 5)
	w := nnRand(2, 4, 3, 3, 3)
	node := func(attrs ...*Attr) *Node { return nnNode("ConvTranspose", 11, 1, attrs...) }
	tests := []struct {
		sub  string
		n    *Node
		ins  []*Tensor
		wrap error
	}{
		{sub: "want rank 4", n: node(), ins: []*Tensor{x, nnRand(2, 4, 3, 3)}},
		{sub: "5 input channels, but X", n: node(), ins: []*Tensor{x, nnRand(2, 5, 3, 3, 3)}},
		{sub: "not a multiple of group 3", n: node(nnInt("group", 3)), ins: []*Tensor{x, w}},
		{sub: "group 0", n: node(nnInt("group", 0)), ins: []*Tensor{x, w}},
		{sub: "does not match W's shape", n: node(nnInts("kernel_shape", 3, 2)), ins: []*Tensor{x, w}},
		{sub: "output_shape [10] has 1 values, want 2", n: node(nnInts("output_shape", 10)), ins: []*Tensor{x, w}},
		{sub: "output_shape [1 2 10 10] has 4 values", n: node(nnInts("output_shape", 1, 2, 10, 10)), ins: []*Tensor{x, w}},
		{sub: "output_shape [0 7]", n: node(nnInts("output_shape", 0, 7)), ins: []*Tensor{x, w}},
		{sub: "pads [-1 0 0 0]", n: node(nnInts("pads", -1, 0, 0, 0)), ins: []*Tensor{x, w}},
		{sub: "cannot be used with auto_pad", n: node(nnInts("pads", 1, 1, 1, 1), nnStr("auto_pad", "SAME_UPPER")), ins: []*Tensor{x, w}},
		{sub: "leave no output", n: node(nnInts("pads", 4, 0, 3, 0)), ins: []*Tensor{x, w}},
		{sub: "must be less than the stride 2 or the dilation 1", n: node(nnInts("strides", 2, 2), nnInts("output_padding", 2, 0)), ins: []*Tensor{x, w}},
		{sub: "output_padding [1] has 1 values", n: node(nnInts("strides", 2, 2), nnInts("output_padding", 1)), ins: []*Tensor{x, w}},
		{sub: "output_padding [-1 0]", n: node(nnInts("output_padding", -1, 0)), ins: []*Tensor{x, w}},
		{sub: "strides [2] has 1 values", n: node(nnInts("strides", 2)), ins: []*Tensor{x, w}},
		{sub: "B has type float32 shape [4]", n: node(), ins: []*Tensor{x, w, nnRand(3, 4)}},
		{sub: "auto_pad \"SAME\"", n: node(nnStr("auto_pad", "SAME")), ins: []*Tensor{x, w}},
		{sub: "or 5 (3-D)", n: node(), ins: []*Tensor{nnRand(1, 1, 4, 3, 3, 3, 3), nnRand(2, 4, 1, 2, 2, 2, 2)}},
		{sub: "strides [2 2] has 2 values, want 3", n: node(nnInts("strides", 2, 2)), ins: []*Tensor{nnRand(1, 1, 4, 3, 3, 3), nnRand(2, 4, 1, 2, 2, 2)}},
		{sub: "want rank 3 (1-D), 4 (2-D) or 5 (3-D)", n: node(), ins: []*Tensor{nnRand(1, 4, 5), nnRand(2, 4, 5)}},
		{sub: "input X has type int64", n: node(), ins: []*Tensor{NewI64([]int{1, 4, 5, 5}, nil), w}},
		{sub: "got 1 inputs", n: node(), ins: []*Tensor{x}},
		{sub: "has one output", n: nnNode("ConvTranspose", 11, 2), ins: []*Tensor{x, w}},
		{sub: "with an empty spatial axis", n: node(), ins: []*Tensor{nnRand(1, 1, 4, 0, 5), w}},
		{sub: "more than 2^31-1 elements", n: node(nnInts("strides", 1<<20, 1<<20)), ins: []*Tensor{x, w}, wrap: ErrMemoryLimit},
		{sub: "exceeds 2^31-1", n: node(nnInts("strides", 1<<30, 1<<30)), ins: []*Tensor{nnRand(1, 1, 4, 5, 5000), w}, wrap: ErrMemoryLimit},
	}
	for _, tt := range tests {
		_, err := runOp(tt.n, tt.ins...)
		if err == nil {
			t.Errorf("%q: no error", tt.sub)
			continue
		}
		if !strings.Contains(err.Error(), tt.sub) || !strings.Contains(err.Error(), "ConvTranspose") {
			t.Errorf("error %q does not name the node or contain %q", err, tt.sub)
		}
		if tt.wrap != nil && !errors.Is(err, tt.wrap) {
			t.Errorf("error %q does not match %v", err, tt.wrap)
		}
	}
}

// TestConvTransposeRunAllocatesNothing runs a ConvTranspose step serially
// on every tier, with the scratch its step declares, and counts
// allocations after the first run.
func TestConvTransposeRunAllocatesNothing(t *testing.T) {
	cc := ctOpCases[13] // several chunks of the Cols matrix
	ins := cc.inputs(3)
	for _, k := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
		vals, step, err := prepareOpConst(cc.node(), 1, ins...)
		if err != nil {
			t.Fatal(err)
		}
		out := []*Tensor{NewF32(vals[0].Shape, nil)}
		env := &kern.Env{K: k, Par: kern.Serial{}, Scratch: make([]float32, step.Scratch)}
		run := func() {
			if err := step.Run(env, ins, out); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if got := testing.AllocsPerRun(3, run); got != 0 {
			t.Errorf("%s: %v allocations per Run, want 0", k.Name, got)
		}
	}
}

// TestConvTransposeRejectsBadTensors hands the step tensors that do not
// match its plan (a runtime bug): Run must report an error, not panic.
func TestConvTransposeRejectsBadTensors(t *testing.T) {
	cc := ctOpCases[0]
	ins := cc.inputs(1)
	vals, step, err := prepareOp(cc.node(), ins...)
	if err != nil {
		t.Fatal(err)
	}
	out := []*Tensor{NewF32(vals[0].Shape, nil)}
	short := NewF32([]int{3}, nil)
	for i, bad := range [][]*Tensor{
		{short, ins[1], ins[2]}, {ins[0], short, ins[2]}, {ins[0], ins[1], short},
	} {
		if err := step.Run(nnEnv(kern.Generic, 1), bad, out); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if err := step.Run(nnEnv(kern.Generic, 1), ins, []*Tensor{short}); err == nil {
		t.Errorf("short output: no error")
	}
}
