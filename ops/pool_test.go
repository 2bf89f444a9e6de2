package ops

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

func seqF32(shape ...int) *Tensor {
	t := NewF32(shape, nil)
	for i := range t.F32 {
		t.F32[i] = float32(i + 1)
	}
	return t
}

func TestMaxPoolKnownAnswers(t *testing.T) {
	x := seqF32(1, 1, 5, 5) // 1..25
	tests := []struct {
		name  string
		attrs []*Attr
		shape []int
		want  []float32
		idx   []int64 // Indices, nil to skip
	}{
		{"2x2 s2", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2)},
			[]int{1, 1, 2, 2}, []float32{7, 9, 17, 19}, []int64{6, 8, 16, 18}},
		{"2x2 s2 column-major", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2), nnInt("storage_order", 1)},
			[]int{1, 1, 2, 2}, []float32{7, 9, 17, 19}, []int64{6, 16, 8, 18}},
		{"2x2 s2 ceil", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2), nnInt("ceil_mode", 1)},
			[]int{1, 1, 3, 3}, []float32{7, 9, 10, 17, 19, 20, 22, 24, 25}, []int64{6, 8, 9, 16, 18, 19, 21, 23, 24}},
		{"3x3 s2 same upper", []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2), nnStr("auto_pad", "SAME_UPPER")},
			[]int{1, 1, 3, 3}, []float32{7, 9, 10, 17, 19, 20, 22, 24, 25}, nil},
		{"3x3 pads", []*Attr{nnInts("kernel_shape", 3, 3), nnInts("pads", 2, 0, 0, 1)},
			[]int{1, 1, 5, 4}, []float32{3, 4, 5, 5, 8, 9, 10, 10, 13, 14, 15, 15, 18, 19, 20, 20, 23, 24, 25, 25}, nil},
		{"2x2 dilated", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("dilations", 2, 2)},
			[]int{1, 1, 3, 3}, []float32{13, 14, 15, 18, 19, 20, 23, 24, 25}, []int64{12, 13, 14, 17, 18, 19, 22, 23, 24}},
		{"valid s3", []*Attr{nnInts("kernel_shape", 2, 1), nnInts("strides", 3, 3), nnStr("auto_pad", "VALID")},
			[]int{1, 1, 2, 2}, []float32{6, 9, 21, 24}, nil},
	}
	for _, tt := range tests {
		nOut := 1
		if tt.idx != nil {
			nOut = 2
		}
		out := mustRun(t, nnNode("MaxPool", 12, nOut, tt.attrs...), x)
		if !SameShape(out[0].Shape, tt.shape) {
			t.Fatalf("%s: shape %v, want %v", tt.name, out[0].Shape, tt.shape)
		}
		kerntest.Check(t, tt.name, out[0].F32, tt.want, 0)
		if tt.idx != nil {
			if out[1].DType != Int64 || fmt.Sprint(out[1].I64) != fmt.Sprint(tt.idx) {
				t.Fatalf("%s: indices %v, want %v", tt.name, out[1].I64, tt.idx)
			}
		}
	}
	// SAME_* with stride 1 and an even kernel: the odd pad goes last
	// (UPPER) or first (LOWER).
	x3 := seqF32(1, 1, 3, 3)
	out := mustRun(t, nnNode("MaxPool", 12, 1, nnInts("kernel_shape", 2, 2), nnStr("auto_pad", "SAME_UPPER")), x3)
	kerntest.Check(t, "same upper", out[0].F32, []float32{5, 6, 6, 8, 9, 9, 8, 9, 9}, 0)
	out = mustRun(t, nnNode("MaxPool", 12, 1, nnInts("kernel_shape", 2, 2), nnStr("auto_pad", "SAME_LOWER")), x3)
	kerntest.Check(t, "same lower", out[0].F32, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0)
}

func TestMaxPoolIndicesBatched(t *testing.T) {
	// Indices count the batch and channel planes before the spatial part.
	x := seqF32(2, 3, 2, 3)
	out := mustRun(t, nnNode("MaxPool", 12, 2, nnInts("kernel_shape", 2, 3)), x)
	kerntest.Check(t, "max", out[0].F32, []float32{6, 12, 18, 24, 30, 36}, 0)
	if fmt.Sprint(out[1].I64) != "[5 11 17 23 29 35]" {
		t.Fatalf("indices %v", out[1].I64)
	}
	out = mustRun(t, nnNode("MaxPool", 12, 2, nnInts("kernel_shape", 2, 3), nnInt("storage_order", 1)), x)
	// (1, 2) is 1 + 2·2 = 5 column-major too.
	if fmt.Sprint(out[1].I64) != "[5 11 17 23 29 35]" {
		t.Fatalf("column-major indices %v", out[1].I64)
	}
	// 1-D.
	x1 := NewF32([]int{1, 2, 5}, []float32{3, 1, 4, 1, 5, 9, 2, 6, 5, 3})
	out = mustRun(t, nnNode("MaxPool", 12, 2, nnInts("kernel_shape", 2), nnInts("strides", 2)), x1)
	kerntest.Check(t, "1-D", out[0].F32, []float32{3, 4, 9, 6}, 0)
	if fmt.Sprint(out[1].I64) != "[0 2 5 7]" {
		t.Fatalf("1-D indices %v", out[1].I64)
	}
}

func TestPoolCeilMode(t *testing.T) {
	x := NewF32([]int{1, 1, 6}, []float32{1, 2, 3, 4, 5, 6})
	tests := []struct {
		name  string
		op    string
		attrs []*Attr
		want  []float32
	}{
		// k3 s2: floor gives 2 windows; ceil adds one hanging off the end.
		{"max floor", "MaxPool", []*Attr{nnInts("kernel_shape", 3), nnInts("strides", 2)}, []float32{3, 5}},
		{"max ceil", "MaxPool", []*Attr{nnInts("kernel_shape", 3), nnInts("strides", 2), nnInt("ceil_mode", 1)}, []float32{3, 5, 6}},
		{"avg ceil", "AveragePool", []*Attr{nnInts("kernel_shape", 3), nnInts("strides", 2), nnInt("ceil_mode", 1)}, []float32{2, 4, 5.5}},
		// Pads 1, 1: windows start at -1, 1, 3, 5; the last one covers 5
		// and the end pad, and one position past the padding.
		{"avg ceil pad", "AveragePool", []*Attr{nnInts("kernel_shape", 3), nnInts("strides", 2), nnInts("pads", 1, 1), nnInt("ceil_mode", 1)},
			[]float32{1.5, 3, 5, 6}},
		{"avg ceil pad count", "AveragePool", []*Attr{nnInts("kernel_shape", 3), nnInts("strides", 2), nnInts("pads", 1, 1), nnInt("ceil_mode", 1), nnInt("count_include_pad", 1)},
			[]float32{1, 3, 5, 3}},
		// k2 s2 pads 1, 1 on 5 values: ceil would add a window starting
		// in the end padding, which is dropped.
		{"max ceil dropped", "MaxPool", []*Attr{nnInts("kernel_shape", 2), nnInts("strides", 2), nnInts("pads", 1, 1), nnInt("ceil_mode", 1)},
			[]float32{1, 3, 5, 6}},
		// Stride larger than the kernel: a ceil window would start past
		// the input.
		{"max ceil stride>kernel", "MaxPool", []*Attr{nnInts("kernel_shape", 1), nnInts("strides", 4), nnInt("ceil_mode", 1)},
			[]float32{1, 5}},
		{"max floor stride>kernel", "MaxPool", []*Attr{nnInts("kernel_shape", 1), nnInts("strides", 4)},
			[]float32{1, 5}},
	}
	for _, tt := range tests {
		out := mustRun(t, nnNode(tt.op, 12, 1, tt.attrs...), x)
		kerntest.Check(t, tt.name, out[0].F32, tt.want, 1e-7)
	}
	x5 := NewF32([]int{1, 1, 5}, []float32{1, 2, 3, 4, 5})
	out := mustRun(t, nnNode("MaxPool", 12, 1, nnInts("kernel_shape", 2), nnInts("strides", 2), nnInts("pads", 1, 1), nnInt("ceil_mode", 1)), x5)
	kerntest.Check(t, "5 values", out[0].F32, []float32{1, 3, 5}, 0)
}

func TestAveragePoolKnownAnswers(t *testing.T) {
	x := seqF32(1, 1, 3, 3) // 1..9
	// 2×2, pads 1 all round, stride 2: corners of the padded grid.
	out := mustRun(t, nnNode("AveragePool", 11, 1, nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2), nnInts("pads", 1, 1, 1, 1)), x)
	kerntest.Check(t, "exclude pad", out[0].F32, []float32{1, 2.5, 5.5, 7}, 1e-7)
	out = mustRun(t, nnNode("AveragePool", 11, 1, nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2), nnInts("pads", 1, 1, 1, 1), nnInt("count_include_pad", 1)), x)
	kerntest.Check(t, "include pad", out[0].F32, []float32{0.25, 1.25, 2.75, 7}, 1e-7)
	out = mustRun(t, nnNode("AveragePool", 11, 1, nnInts("kernel_shape", 3, 3), nnStr("auto_pad", "SAME_UPPER")), x)
	kerntest.Check(t, "same", out[0].F32, []float32{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}, 1e-6)
	out = mustRun(t, nnNode("AveragePool", 19, 1, nnInts("kernel_shape", 2, 2), nnInts("dilations", 2, 2)), x)
	kerntest.Check(t, "dilated", out[0].F32, []float32{5}, 0)
}

// poolBrute pools x (N×C×H×W) by padding it explicitly with NaN markers
// and scanning every window of the padded grid, as the spec describes.
func poolBrute(x *Tensor, isMax, countPad bool, k, s, d, pads []int, out []int) []float32 {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ph, pw := h+pads[0]+pads[2], w+pads[1]+pads[3]
	var y []float32
	for p := range n * c {
		grid := make([]float64, ph*pw)
		for i := range grid {
			grid[i] = math.NaN()
		}
		for i := range h {
			for j := range w {
				grid[(i+pads[0])*pw+j+pads[1]] = float64(x.F32[p*h*w+i*w+j])
			}
		}
		for oh := range out[0] {
			for ow := range out[1] {
				best, sum, cnt := math.Inf(-1), 0.0, 0
				for kh := range k[0] {
					for kw := range k[1] {
						i, j := oh*s[0]+kh*d[0], ow*s[1]+kw*d[1]
						if i >= ph || j >= pw {
							continue // past the padding (ceil mode)
						}
						v := grid[i*pw+j]
						if math.IsNaN(v) {
							if countPad {
								cnt++
							}
							continue
						}
						best = math.Max(best, v)
						sum += v
						cnt++
					}
				}
				if isMax {
					y = append(y, float32(best))
				} else {
					y = append(y, float32(sum/float64(cnt)))
				}
			}
		}
	}
	return y
}

func TestPoolMatchesBruteForce(t *testing.T) {
	type pc struct {
		in, k, s, d, pads []int
		ceil              bool
	}
	cases := []pc{
		{[]int{7, 9}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1, 1, 1}, false},
		{[]int{7, 9}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1, 1, 1}, true},
		{[]int{8, 8}, []int{2, 3}, []int{3, 2}, []int{1, 1}, []int{0, 2, 1, 0}, true},
		{[]int{10, 6}, []int{3, 2}, []int{2, 1}, []int{2, 3}, []int{1, 0, 2, 1}, true},
		{[]int{5, 11}, []int{5, 4}, []int{1, 3}, []int{1, 1}, []int{2, 1, 2, 3}, false},
		{[]int{12, 13}, []int{7, 7}, []int{3, 3}, []int{1, 1}, []int{3, 3, 3, 3}, true},
		// rows wide enough for the vector kernels, with tails of every kind
		{[]int{9, 37}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1, 1, 1}, false},
		{[]int{6, 112}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1, 1, 1}, false},
		{[]int{5, 53}, []int{2, 2}, []int{2, 2}, []int{1, 1}, []int{0, 0, 0, 0}, true},
		{[]int{7, 33}, []int{3, 2}, []int{1, 1}, []int{2, 1}, []int{2, 0, 1, 1}, false},
		// 3×3 stride-2 planes (maxPlane3s2): windows past the right edge
		// (ceil_mode), no padding, two columns of padding, one row, two
		{[]int{8, 38}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1, 1, 1}, true},
		{[]int{9, 40}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{0, 0, 0, 0}, false},
		{[]int{7, 45}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 2, 1, 2}, false},
		{[]int{1, 40}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1, 1, 1}, false},
		{[]int{2, 33}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1, 1, 1}, true},
		// two rows of padding: rows of one window row, and poolRowFast's
		{[]int{6, 40}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{2, 1, 2, 1}, false},
	}
	for _, k := range testTiers() {
		for i, cc := range cases {
			x := nnRand(uint64(i), 2, 3, cc.in[0], cc.in[1])
			for _, op := range []string{"MaxPool", "AveragePool"} {
				for _, countPad := range []bool{false, true} {
					if op == "MaxPool" && countPad {
						continue
					}
					attrs := []*Attr{nnInts("kernel_shape", int64(cc.k[0]), int64(cc.k[1])),
						nnInts("strides", int64(cc.s[0]), int64(cc.s[1])),
						nnInts("dilations", int64(cc.d[0]), int64(cc.d[1])),
						nnInts("pads", int64(cc.pads[0]), int64(cc.pads[1]), int64(cc.pads[2]), int64(cc.pads[3]))}
					if cc.ceil {
						attrs = append(attrs, nnInt("ceil_mode", 1))
					}
					if countPad {
						attrs = append(attrs, nnInt("count_include_pad", 1))
					}
					out, err := runOpEnv(nnEnv(k, 3), nnNode(op, 19, 1, attrs...), x)
					if err != nil {
						t.Fatalf("%s %s %v: %v", k.Name, op, cc, err)
					}
					want := poolBrute(x, op == "MaxPool", countPad, cc.k, cc.s, cc.d, cc.pads, out[0].Shape[2:])
					kerntest.Check(t, fmt.Sprintf("%s %s %v countPad=%v", k.Name, op, cc, countPad), out[0].F32, want, 1e-6)
				}
			}
		}
	}
}

// TestMaxPoolNaN checks on every tier that a NaN anywhere in a window
// makes that window's maximum NaN (the vector kernels included: rows of
// 53 values), and that the other windows are untouched by it.
func TestMaxPoolNaN(t *testing.T) {
	const h, w = 6, 53
	x := nnRand(7, 1, 2, h, w)
	nan := float32(math.NaN())
	for _, at := range [][3]int{{0, 0, 0}, {0, 3, 17}, {0, 5, 52}, {1, 2, 31}, {1, 4, 48}} {
		x.F32[(at[0]*h+at[1])*w+at[2]] = nan
	}
	clean := NewF32(x.Shape, append([]float32(nil), x.F32...))
	for i, v := range clean.F32 {
		if v != v {
			clean.F32[i] = -1e30
		}
	}
	attrs := []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2), nnInts("pads", 1, 1, 1, 1)}
	for _, k := range testTiers() {
		out, err := runOpEnv(nnEnv(k, 2), nnNode("MaxPool", 12, 1, attrs...), x)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := runOpEnv(nnEnv(k, 2), nnNode("MaxPool", 12, 1, attrs...), clean)
		if err != nil {
			t.Fatal(err)
		}
		oh, ow := out[0].Shape[2], out[0].Shape[3]
		for p := range 2 {
			for i := range oh {
				for j := range ow {
					// window rows 2i-1..2i+1, columns 2j-1..2j+1
					hasNaN := false
					for di := -1; di <= 1; di++ {
						for dj := -1; dj <= 1; dj++ {
							r, c := 2*i+di, 2*j+dj
							if r >= 0 && r < h && c >= 0 && c < w && x.F32[(p*h+r)*w+c] != x.F32[(p*h+r)*w+c] {
								hasNaN = true
							}
						}
					}
					got, want := out[0].F32[(p*oh+i)*ow+j], ref[0].F32[(p*oh+i)*ow+j]
					if hasNaN && got == got || !hasNaN && got != want {
						t.Fatalf("%s: y[%d][%d][%d] = %v, want %v (NaN in window: %v)", k.Name, p, i, j, got, want, hasNaN)
					}
				}
			}
		}
	}
}

func TestGlobalPools(t *testing.T) {
	x := seqF32(2, 2, 2, 3) // planes 1..6, 7..12, ...
	out := mustRun(t, nnNode("GlobalAveragePool", 1, 1), x)
	if !SameShape(out[0].Shape, []int{2, 2, 1, 1}) {
		t.Fatalf("shape %v", out[0].Shape)
	}
	kerntest.Check(t, "gap", out[0].F32, []float32{3.5, 9.5, 15.5, 21.5}, 0)
	out = mustRun(t, nnNode("GlobalMaxPool", 1, 1), x)
	kerntest.Check(t, "gmp", out[0].F32, []float32{6, 12, 18, 24}, 0)
	x1 := NewF32([]int{1, 2, 3}, []float32{-1, -5, -3, 2, float32(nanF()), 1})
	out = mustRun(t, nnNode("GlobalMaxPool", 1, 1), x1)
	if !SameShape(out[0].Shape, []int{1, 2, 1}) || out[0].F32[0] != -1 || !math.IsNaN(float64(out[0].F32[1])) {
		t.Fatalf("gmp 1-D: %v %v", out[0].Shape, out[0].F32)
	}
	x3 := seqF32(1, 1, 2, 2, 2)
	out = mustRun(t, nnNode("GlobalAveragePool", 1, 1), x3)
	if !SameShape(out[0].Shape, []int{1, 1, 1, 1, 1}) || out[0].F32[0] != 4.5 {
		t.Fatalf("gap 3-D: %v %v", out[0].Shape, out[0].F32)
	}
	wantErr(t, "rank at least 3", nnNode("GlobalAveragePool", 1, 1), NewF32([]int{2, 3}, nil))
	wantErr(t, "rank at least 3", nnNode("GlobalMaxPool", 1, 1), NewI64([]int{2, 3, 1}, nil))
}

func TestPoolErrors(t *testing.T) {
	x := NewF32([]int{1, 1, 4, 4}, nil)
	tests := []struct {
		op, sub string
		attrs   []*Attr
		x       *Tensor
	}{
		{"MaxPool", "kernel_shape is required", nil, x},
		{"MaxPool", "or 5 (3-D)", []*Attr{nnInts("kernel_shape", 2, 2, 2, 2)}, NewF32([]int{1, 1, 4, 4, 4, 4}, nil)},
		{"AveragePool", "kernel_shape [2 2] has 2 values, want 3", []*Attr{nnInts("kernel_shape", 2, 2)}, NewF32([]int{1, 1, 4, 4, 4}, nil)},
		{"MaxPool", "must be smaller than the window's extent 2", []*Attr{nnInts("kernel_shape", 2, 2, 2), nnInts("pads", 0, 0, 0, 2, 0, 0)}, NewF32([]int{1, 1, 4, 4, 4}, nil)},
		{"MaxPool", "on spatial axis 2", []*Attr{nnInts("kernel_shape", 2, 2, 2), nnInts("dilations", 1, 1, 5), nnInts("pads", 0, 0, 3, 0, 0, 3)}, NewF32([]int{1, 1, 4, 4, 1}, nil)},
		{"MaxPool", "kernel_shape [2] has 1 values", []*Attr{nnInts("kernel_shape", 2)}, x},
		{"MaxPool", "larger than the padded input", []*Attr{nnInts("kernel_shape", 5, 2)}, x},
		{"MaxPool", "must be smaller than the window", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("pads", 2, 0, 0, 0)}, x},
		{"MaxPool", "entirely in the padding", []*Attr{nnInts("kernel_shape", 1, 2), nnInts("dilations", 1, 5), nnInts("strides", 1, 1), nnInts("pads", 0, 3, 0, 3)}, NewF32([]int{1, 1, 4, 1}, nil)},
		{"MaxPool", "storage_order 2", []*Attr{nnInts("kernel_shape", 2, 2), nnInt("storage_order", 2)}, x},
		{"AveragePool", "count_include_pad 3", []*Attr{nnInts("kernel_shape", 2, 2), nnInt("count_include_pad", 3)}, x},
		{"AveragePool", "ceil_mode 2", []*Attr{nnInts("kernel_shape", 2, 2), nnInt("ceil_mode", 2)}, x},
		{"MaxPool", "rank 3", []*Attr{nnInts("kernel_shape", 2)}, NewF32([]int{4, 4}, nil)},
		{"MaxPool", "float32", []*Attr{nnInts("kernel_shape", 2)}, NewI64([]int{1, 1, 4}, nil)},
	}
	for _, tt := range tests {
		wantErr(t, tt.sub, nnNode(tt.op, 12, 1, tt.attrs...), tt.x)
	}
	wantErr(t, "one output", nnNode("AveragePool", 12, 2, nnInts("kernel_shape", 2, 2)), x)
}

// BenchmarkPool runs ResNet's stem MaxPool (64×112×112, 3×3, stride 2,
// padding 1) and DenseNet's transition AveragePool (128×56×56, 2×2,
// stride 2) on every tier, on one worker, and reports input GB/s.
func BenchmarkPool(b *testing.B) {
	cases := []struct {
		op    string
		c, hw int
		attrs []*Attr
	}{
		{"MaxPool", 64, 112, []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2), nnInts("pads", 1, 1, 1, 1)}},
		{"AveragePool", 128, 56, []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2)}},
	}
	for _, cc := range cases {
		x := nnRand(1, 1, cc.c, cc.hw, cc.hw)
		for _, k := range fastTiers() {
			b.Run(fmt.Sprintf("%s/%s", cc.op, k.Name), func(b *testing.B) {
				vals, step, err := prepareOpConst(nnNode(cc.op, 12, 1, cc.attrs...), 1, x)
				if err != nil {
					b.Fatal(err)
				}
				out := []*Tensor{NewF32(vals[0].Shape, nil)}
				env := nnEnv(k, 1)
				for b.Loop() {
					if err := step.Run(env, []*Tensor{x}, out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(4*float64(len(x.F32))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

// TestPoolRowKernelsMatchGeneric runs ResNet's 3×3 stride-2 max pooling
// and DenseNet's 2×2 stride-2 average pooling, whose rows have vector
// kernels on the assembly tiers, on every tier against the generic one,
// bit for bit: widths around the kernels' 8 outputs, odd ones, padding on
// one side, NaN payloads and signed zeros among the values.
func TestPoolRowKernelsMatchGeneric(t *testing.T) {
	special := []float32{float32(math.NaN()), math.Float32frombits(0x7fc01234), math.Float32frombits(0xffc04321),
		float32(math.Copysign(0, -1)), 0, float32(math.Inf(-1))}
	cases := []struct {
		op    string
		attrs []*Attr
	}{
		{"MaxPool", []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2), nnInts("pads", 1, 1, 1, 1)}},
		{"MaxPool", []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2), nnInts("pads", 0, 1, 1, 0)}},
		{"MaxPool", []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2)}},
		{"AveragePool", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2)}},
		{"AveragePool", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2), nnInts("pads", 1, 0, 0, 0), nnInt("count_include_pad", 1)}},
		{"AveragePool", []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2), nnInt("ceil_mode", 1)}},
	}
	generic := kern.TierByName("generic")
	for ci, cc := range cases {
		for _, w := range []int{5, 14, 16, 17, 33, 40, 57, 64, 65} {
			// 9 rows: a last row no 2×2 window reads; 8: whole planes
			// (AvgPool2s2Rows), with special values for every op
			h := 9
			if w%2 == 0 || w == 65 {
				h = 8
			}
			x := nnRand(uint64(w), 2, 3, h, w)
			for i := 0; i < len(x.F32); i += 7 {
				if cc.op == "MaxPool" || h == 8 {
					x.F32[i] = special[i/7%len(special)]
				}
			}
			node := nnNode(cc.op, 12, 1, cc.attrs...)
			vals, step, err := prepareOpConst(node, 1, x)
			if err != nil {
				t.Fatal(err)
			}
			want := NewF32(vals[0].Shape, nil)
			if err := step.Run(nnEnv(generic, 1), []*Tensor{x}, []*Tensor{want}); err != nil {
				t.Fatal(err)
			}
			for _, k := range fastTiers() {
				got := NewF32(vals[0].Shape, nil)
				if err := step.Run(nnEnv(k, 2), []*Tensor{x}, []*Tensor{got}); err != nil {
					t.Fatal(err)
				}
				kerntest.SameBits(t, fmt.Sprintf("case %d %s width %d on %s", ci, cc.op, w, k.Name), got.F32, want.F32)
			}
		}
	}
}

// TestAffineAveragePoolMatchesUnfused runs bnrun.AffineAveragePool against
// bnrun.Affine followed by AveragePool on every tier, one worker and
// several, bit for bit: DenseNet's transition (2×2, stride 2), padded
// windows with and without count_include_pad, ceil_mode, a dilated 1-D
// pool and a 3-D one, batch 2, scales of both signs (the Relu's zeros
// inside the windows), NaN in the input.
func TestAffineAveragePoolMatchesUnfused(t *testing.T) {
	for i, tc := range []struct {
		shape []int
		relu  bool
		attrs []*Attr
	}{
		{[]int{2, 5, 8, 6}, true, []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2)}},
		{[]int{1, 7, 56, 56}, true, []*Attr{nnInts("kernel_shape", 2, 2), nnInts("strides", 2, 2)}},
		{[]int{2, 3, 7, 9}, false, []*Attr{nnInts("kernel_shape", 3, 3), nnInts("strides", 2, 2), nnInts("pads", 1, 1, 1, 1), nnInt("count_include_pad", 1)}},
		{[]int{1, 4, 9, 7}, true, []*Attr{nnInts("kernel_shape", 3, 2), nnInts("strides", 2, 2), nnInts("pads", 1, 0, 1, 1), nnInt("ceil_mode", 1)}},
		{[]int{2, 3, 30}, true, []*Attr{nnInts("kernel_shape", 3), nnInts("dilations", 2), nnInts("pads", 1, 2)}},
		{[]int{1, 2, 4, 5, 6}, true, []*Attr{nnInts("kernel_shape", 2, 2, 3), nnInts("strides", 2, 1, 2)}},
	} {
		c := tc.shape[1]
		x := nnRand(uint64(500+i), tc.shape...)
		x.F32[3] = float32(math.NaN())
		a, b := nnRand(uint64(600+i), c), nnRand(uint64(700+i), c)
		var affAttrs, fusedAttrs []*Attr
		if tc.relu {
			affAttrs = []*Attr{nnStr("activation", "Relu")}
			fusedAttrs = []*Attr{nnStr("pre_activation", "Relu")}
		}
		fused := nnNode("bnrun.AffineAveragePool", 1, 1, append(fusedAttrs, tc.attrs...)...)
		for _, k := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
			for _, workers := range []int{1, 3} {
				env := nnEnv(k, workers)
				mid, err := runOpEnv(env, nnNode("bnrun.Affine", 1, 1, affAttrs...), x, a, b)
				if err != nil {
					t.Fatal(err)
				}
				want, err := runOpEnv(env, nnNode("AveragePool", 19, 1, tc.attrs...), mid[0])
				if err != nil {
					t.Fatal(err)
				}
				got, err := runOpEnv(env, fused, x, a, b)
				if err != nil {
					t.Fatal(err)
				}
				if !SameShape(got[0].Shape, want[0].Shape) {
					t.Fatalf("case %d: shape %v, want %v", i, got[0].Shape, want[0].Shape)
				}
				for j := range got[0].F32 {
					if math.Float32bits(got[0].F32[j]) != math.Float32bits(want[0].F32[j]) {
						t.Fatalf("case %d %s workers=%d: [%d] = %v, want %v", i, k.Name, workers, j, got[0].F32[j], want[0].F32[j])
					}
				}
			}
		}
	}
}

// TestAffineAveragePoolErrors refuses a pre_activation other than Relu,
// parameters that are not [C], and a wrong input count.
func TestAffineAveragePoolErrors(t *testing.T) {
	x := nnRand(1, 1, 3, 4, 4)
	pool := []*Attr{nnInts("kernel_shape", 2, 2)}
	for _, tc := range []struct {
		attrs []*Attr
		ins   []*Tensor
		want  string
	}{
		{append([]*Attr{nnStr("pre_activation", "Sigmoid")}, pool...), []*Tensor{x, nnRand(2, 3), nnRand(3, 3)}, "only Relu"},
		{pool, []*Tensor{x, nnRand(2, 4), nnRand(3, 3)}, "pre_scale must be float32 [3]"},
		{pool, []*Tensor{x, nnRand(2, 3), nnRand(3, 1, 3)}, "pre_bias must be float32 [3]"},
		{pool, []*Tensor{x, nnRand(2, 3)}, "want 3"},
		{pool, []*Tensor{x, nil, nnRand(3, 3)}, "pre_scale is absent"},
	} {
		_, err := runOpEnv(nnEnv(kern.Reference, 1), nnNode("bnrun.AffineAveragePool", 1, 1, tc.attrs...), tc.ins...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

// TestGlobalPoolsPixelMajor checks GlobalAveragePool and GlobalMaxPool on
// a pixel-major X (Step.Layout) on every tier and one or two workers:
// means within float32 summing of the planes' results, maxima the same
// (a NaN included), every channel block and image written, and no Layout
// past pixGlobalPoolMax pixels or for other ranks.
func TestGlobalPoolsPixelMajor(t *testing.T) {
	for _, sh := range [][]int{{2, 300, 7, 7}, {1, 37, 14, 14}, {3, 5, 16, 16}, {1, 256, 1, 2}} {
		x := NewF32(sh, kerntest.Rand(uint64(sh[1]), NumElems(sh)))
		x.F32[1] = float32(nanF()) // image 0, channel 0, pixel 1
		n, c, hw := sh[0], sh[1], sh[2]*sh[3]
		xp := NewF32(sh, nil)
		for i := range n {
			for ch := range c {
				for q := range hw {
					xp.F32[(i*hw+q)*c+ch] = x.F32[(i*c+ch)*hw+q]
				}
			}
		}
		for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool"} {
			want := mustRun(t, nnNode(op, 1, 1), x)[0].F32
			for _, name := range kern.TierNames() {
				for _, workers := range []int{1, 2} {
					what := fmt.Sprintf("%s %v, %s, %d workers", op, sh, name, workers)
					node := nnNode(op, 1, 1)
					_, step, err := prepareOp(node, xp)
					if err != nil {
						t.Fatal(err)
					}
					if step.Layout == nil {
						t.Fatalf("%s: no Layout", what)
					}
					if in, out, tied := step.Layout.Can(kern.TierByName(name)); in != 0 || out || tied != -1 {
						t.Fatalf("%s: Can gives %d, %v, %d", what, in, out, tied)
					}
					step.Layout.Set(true, false)
					y := NewF32([]int{n, c, 1, 1}, nil)
					for i := range y.F32 {
						y.F32[i] = -7
					}
					if err := step.Run(nnEnv(kern.TierByName(name), workers), []*Tensor{xp}, []*Tensor{y}); err != nil {
						t.Fatal(err)
					}
					kerntest.Check(t, what, y.F32, want, 2e-6)
				}
			}
		}
	}
	for _, sh := range [][]int{{1, 4, 17, 16}, {1, 4, 5}, {1, 4, 2, 2, 2}} {
		if _, step, err := prepareOp(nnNode("GlobalAveragePool", 1, 1), NewF32(sh, nil)); err != nil || step.Layout != nil {
			t.Errorf("%v: Layout %v (err %v), want none", sh, step.Layout, err)
		}
	}
}
