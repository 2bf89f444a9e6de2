package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// conv3DCases are 3-D convolutions (5-D tensors) with the output's
// spatial sizes each must have.
var conv3DCases = []struct {
	convCase
	want []int
}{
	// A video stem, shrunk: 3×7×7, stride 1×2×2, padding 1×3×3, batch 2.
	{convCase{n: 2, c: 3, m: 8, in: []int{5, 17, 15}, k: []int{3, 7, 7}, group: 1, strides: []int64{1, 2, 2},
		pads: []int64{1, 3, 3, 1, 3, 3}, bias: true}, []int{5, 9, 8}},
	// 3×3×3 padded; odd channels.
	{convCase{n: 1, c: 7, m: 5, in: []int{4, 6, 5}, k: []int{3, 3, 3}, group: 1, pads: []int64{1, 1, 1, 1, 1, 1}}, []int{4, 6, 5}},
	// Asymmetric pads, strides 1–3, dilations.
	{convCase{n: 2, c: 5, m: 4, in: []int{7, 6, 9}, k: []int{2, 3, 2}, group: 1, strides: []int64{2, 3, 1},
		pads: []int64{0, 2, 1, 1, 0, 3}, bias: true}, []int{4, 2, 12}},
	{convCase{n: 1, c: 4, m: 6, in: []int{8, 7, 7}, k: []int{2, 3, 2}, group: 2, dils: []int64{3, 2, 3},
		strides: []int64{1, 1, 2}, pads: []int64{1, 2, 0, 2, 1, 3}}, []int{8, 6, 4}},
	// Groups, depthwise, depthwise with a channel multiplier.
	{convCase{n: 2, c: 6, m: 9, in: []int{4, 5, 5}, k: []int{3, 3, 3}, group: 3, pads: []int64{1, 1, 1, 1, 1, 1}, bias: true}, []int{4, 5, 5}},
	{convCase{n: 2, c: 8, m: 8, in: []int{5, 7, 6}, k: []int{3, 3, 3}, group: 8, strides: []int64{1, 2, 2},
		pads: []int64{1, 1, 1, 1, 1, 1}, bias: true}, []int{5, 4, 3}},
	{convCase{n: 1, c: 4, m: 8, in: []int{6, 5, 9}, k: []int{3, 1, 3}, group: 4, dils: []int64{2, 1, 2},
		pads: []int64{2, 0, 1, 2, 0, 3}}, []int{6, 5, 9}},
	// auto_pad: SAME_UPPER, SAME_LOWER (the odd pad at the start), VALID.
	{convCase{n: 1, c: 3, m: 5, in: []int{5, 10, 9}, k: []int{2, 3, 4}, group: 1, strides: []int64{2, 2, 2},
		autoPad: "SAME_UPPER", bias: true}, []int{3, 5, 5}},
	{convCase{n: 2, c: 3, m: 5, in: []int{5, 10, 9}, k: []int{2, 3, 4}, group: 1, strides: []int64{2, 2, 2},
		autoPad: "SAME_LOWER"}, []int{3, 5, 5}},
	{convCase{n: 1, c: 3, m: 5, in: []int{5, 10, 9}, k: []int{2, 3, 4}, group: 1, strides: []int64{1, 2, 3},
		autoPad: "VALID", bias: true}, []int{4, 4, 2}},
	// Pointwise, and a deep sum over several chunks of output positions.
	{convCase{n: 2, c: 13, m: 7, in: []int{3, 5, 6}, k: []int{1, 1, 1}, group: 1, bias: true}, []int{3, 5, 6}},
	{convCase{n: 1, c: 200, m: 9, in: []int{5, 6, 7}, k: []int{3, 3, 3}, group: 1, pads: []int64{1, 1, 1, 1, 1, 1}, bias: true}, []int{5, 6, 7}},
}

// TestConv3DTiersMatchReference runs every 3-D case on every tier with 1
// to 3 workers, W a run-time input and a constant, against the reference's
// direct loop, and checks the output shapes.
func TestConv3DTiersMatchReference(t *testing.T) {
	for i, cc := range conv3DCases {
		ins := cc.inputs(uint64(70 * i))
		want, err := runOpEnv(nnEnv(kern.Reference, 1), cc.node(), ins...)
		if err != nil {
			t.Fatalf("%v: reference: %v", cc, err)
		}
		if ws := append([]int{cc.n, cc.m}, cc.want...); !SameShape(want[0].Shape, ws) {
			t.Fatalf("%v: shape %v, want %v", cc, want[0].Shape, ws)
		}
		tol := 1e-5 * max(1, float64(cc.c/cc.group*cc.k[0]*cc.k[1]*cc.k[2])/512)
		for _, k := range testTiers() {
			for _, workers := range []int{1, 2, 3} {
				got, err := runOpEnvConst(nnEnv(k, workers), cc.node(), workers-2, ins...)
				if err != nil {
					t.Fatalf("%v: %s: %v", cc, k.Name, err)
				}
				kerntest.Check(t, fmt.Sprintf("%v %s workers=%d", cc, k.Name, workers), got[0].F32, want[0].F32, tol)
			}
		}
	}
}

// TestConv3DKnownAnswer: a 1×1×3×3×3 volume of ones, a 3×3×3 kernel of
// ones with padding 1: each output counts the input positions its window
// covers, 8 at a corner, 12 on an edge, 18 on a face, 27 in the centre;
// plus a bias of 0.5.
func TestConv3DKnownAnswer(t *testing.T) {
	ones := func(shape ...int) *Tensor {
		x := NewF32(shape, nil)
		for i := range x.F32 {
			x.F32[i] = 1
		}
		return x
	}
	n := nnNode("Conv", 11, 1, nnInts("pads", 1, 1, 1, 1, 1, 1))
	out := mustRun(t, n, ones(1, 1, 3, 3, 3), ones(1, 1, 3, 3, 3), NewF32([]int{1}, []float32{0.5}))
	want := make([]float32, 27)
	for i := range want {
		d, h, w := i/9, i/3%3, i%3
		side := func(v int) float32 { return float32(2 + v%2) } // 2 at the ends, 3 in the middle
		want[i] = side(d)*side(h)*side(w) + 0.5
	}
	if !SameShape(out[0].Shape, []int{1, 1, 3, 3, 3}) {
		t.Fatalf("shape %v", out[0].Shape)
	}
	kerntest.Check(t, "conv3d", out[0].F32, want, 0)
}

// TestFusedConv3D checks bnrun.FusedConv over 5-D tensors on every tier
// against its definition computed with the unfused operator: x' =
// Relu(pre_scale·x + pre_bias) per channel, then Conv (the reference's),
// + Z, then Clip.
func TestFusedConv3D(t *testing.T) {
	for i, cc := range []convCase{conv3DCases[1].convCase, conv3DCases[3].convCase, conv3DCases[5].convCase, conv3DCases[10].convCase} {
		ins := cc.inputs(uint64(10 * i))
		x := ins[0]
		ps, pb := nnRand(uint64(10*i+5), cc.c), nnRand(uint64(10*i+6), cc.c)
		xp := NewF32(x.Shape, nil)
		inner := NumElems(x.Shape[2:])
		for j, v := range x.F32 {
			c := j / inner % cc.c
			xp.F32[j] = max(0, ps.F32[c]*v+pb.F32[c])
		}
		ref, err := runOpEnv(nnEnv(kern.Reference, 1), cc.node(), append([]*Tensor{xp}, ins[1:]...)...)
		if err != nil {
			t.Fatal(err)
		}
		z := nnRand(uint64(10*i+7), ref[0].Shape...)
		want := make([]float32, len(z.F32))
		for j := range want {
			want[j] = min(max(ref[0].F32[j]+z.F32[j], -0.3), 0.6)
		}
		b := (*Tensor)(nil)
		if cc.bias {
			b = ins[2]
		}
		for _, k := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
			n := cc.node()
			n.OpType, n.Opset = "bnrun.FusedConv", 1
			n.Attrs["pre_activation"] = nnStr("pre_activation", "Relu")
			n.Attrs["activation"] = nnStr("activation", "Clip")
			n.Attrs["clip_min"] = nnFloat("clip_min", -0.3)
			n.Attrs["clip_max"] = nnFloat("clip_max", 0.6)
			got, err := runOpEnv(nnEnv(k, 2), n, x, ins[1], b, z, ps, pb)
			if err != nil {
				t.Fatalf("%v: %s: %v", cc, k.Name, err)
			}
			kerntest.Check(t, fmt.Sprintf("%v %s", cc, k.Name), got[0].F32, want, 1e-5)
		}
	}
}

// TestConv3DRunAllocatesNothing runs 3-D Conv steps (the product path,
// over several chunks, and the depthwise rows) serially on every tier,
// with the scratch the step declares, and counts allocations after the
// first run.
func TestConv3DRunAllocatesNothing(t *testing.T) {
	for _, cc := range []convCase{conv3DCases[11].convCase, conv3DCases[5].convCase} {
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
				t.Errorf("%v: %s: %v allocations per Run, want 0", cc, k.Name, got)
			}
		}
	}
}

// TestConv3DPathNames checks what profiles call the 3-D paths.
func TestConv3DPathNames(t *testing.T) {
	for _, tt := range []struct {
		cc   convCase
		k    *kern.Tier
		want string
	}{
		{conv3DCases[0].convCase, kern.Reference, "ref 3-D direct"},
		{conv3DCases[0].convCase, kern.Generic, "generic 3-D im2col gemm"},
		{conv3DCases[5].convCase, kern.Generic, "generic 3-D depthwise rows"},
	} {
		_, step, err := prepareOp(tt.cc.node(), tt.cc.inputs(1)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := KernelOf(tt.k, step, 1); got != tt.want {
			t.Errorf("%v on %s: %q, want %q", tt.cc, tt.k.Name, got, tt.want)
		}
	}
	cc := ctOpCases[len(ctOpCases)-1]
	_, step, err := prepareOp(cc.node(), cc.inputs(1)...)
	if err != nil {
		t.Fatal(err)
	}
	if got := KernelOf(kern.Generic, step, 1); got != "generic 3-D gemm and col2im" {
		t.Errorf("3-D ConvTranspose: %q", got)
	}
}

// pool3DBrute pools x (N×C×D×H×W) by padding it explicitly with NaN
// markers and scanning every window of the padded grid, as the spec
// describes; it returns the pooled values and, for a max pool, the flat
// index of each maximum (row-major spatial part; the first maximum in
// window order, a NaN winning).
func pool3DBrute(x *Tensor, isMax, countPad bool, k, s, d, pads, out []int) ([]float32, []int64) {
	n, c := x.Shape[0], x.Shape[1]
	in := x.Shape[2:]
	var pd [3]int
	for a := range 3 {
		pd[a] = in[a] + pads[a] + pads[a+3]
	}
	dhw := in[0] * in[1] * in[2]
	var y []float32
	var idx []int64
	for p := range n * c {
		grid := make([]float64, pd[0]*pd[1]*pd[2])
		at := make([]int, len(grid))
		for i := range grid {
			grid[i] = math.NaN()
			at[i] = -1
		}
		for i := range in[0] {
			for j := range in[1] {
				for l := range in[2] {
					g := ((i+pads[0])*pd[1]+j+pads[1])*pd[2] + l + pads[2]
					q := (i*in[1]+j)*in[2] + l
					grid[g] = float64(x.F32[p*dhw+q])
					at[g] = q
				}
			}
		}
		for od := range out[0] {
			for oh := range out[1] {
				for ow := range out[2] {
					best, bi, sum, cnt := math.Inf(-1), -1, 0.0, 0
					for kd := range k[0] {
						for kh := range k[1] {
							for kw := range k[2] {
								i, j, l := od*s[0]+kd*d[0], oh*s[1]+kh*d[1], ow*s[2]+kw*d[2]
								if i >= pd[0] || j >= pd[1] || l >= pd[2] {
									continue // past the padding (ceil mode)
								}
								g := (i*pd[1]+j)*pd[2] + l
								if at[g] < 0 {
									if countPad {
										cnt++
									}
									continue
								}
								v := grid[g]
								if bi < 0 || v > best || math.IsNaN(v) && !math.IsNaN(best) {
									best, bi = v, at[g]
								}
								sum += v
								cnt++
							}
						}
					}
					if isMax {
						y = append(y, float32(best))
						idx = append(idx, int64(p*dhw+bi))
					} else {
						y = append(y, float32(sum/float64(cnt)))
					}
				}
			}
		}
	}
	return y, idx
}

// TestPool3DMatchesBruteForce runs 3-D MaxPool (with Indices, in both
// storage orders) and AveragePool (with and without count_include_pad) on
// every tier with every attribute: pads (asymmetric), strides,
// dilations, ceil_mode, auto_pad; the output shapes are given.
func TestPool3DMatchesBruteForce(t *testing.T) {
	type pc struct {
		in, k, s, d, pads []int
		ceil              bool
		autoPad           string
		want              []int
	}
	cases := []pc{
		// MaxPool3d(3, stride 2, padding 1) and (1, 2, 2) as video nets have them
		{[]int{5, 9, 8}, []int{3, 3, 3}, []int{2, 2, 2}, []int{1, 1, 1}, []int{1, 1, 1, 1, 1, 1}, false, "", []int{3, 5, 4}},
		{[]int{4, 9, 8}, []int{1, 2, 2}, []int{1, 2, 2}, []int{1, 1, 1}, []int{0, 0, 0, 0, 0, 0}, false, "", []int{4, 4, 4}},
		// ceil_mode, with a last window that would start in the padding
		{[]int{5, 9, 8}, []int{3, 3, 3}, []int{2, 2, 2}, []int{1, 1, 1}, []int{1, 1, 1, 1, 1, 1}, true, "", []int{3, 5, 5}},
		{[]int{6, 7, 8}, []int{2, 3, 2}, []int{3, 2, 3}, []int{1, 1, 1}, []int{0, 1, 1, 1, 0, 1}, true, "", []int{2, 4, 3}},
		// asymmetric pads, dilations
		{[]int{7, 6, 9}, []int{3, 2, 2}, []int{2, 1, 3}, []int{2, 3, 2}, []int{2, 0, 1, 1, 2, 0}, false, "", []int{3, 5, 3}},
		{[]int{8, 5, 7}, []int{2, 2, 3}, []int{1, 2, 1}, []int{3, 1, 2}, []int{1, 1, 0, 2, 0, 3}, true, "", []int{8, 3, 6}},
		// auto_pad
		{[]int{5, 7, 6}, []int{2, 3, 3}, []int{2, 2, 1}, []int{1, 1, 1}, nil, false, "SAME_UPPER", []int{3, 4, 6}},
		{[]int{5, 7, 6}, []int{2, 3, 3}, []int{2, 2, 1}, []int{1, 1, 1}, nil, false, "SAME_LOWER", []int{3, 4, 6}},
		{[]int{5, 7, 6}, []int{2, 3, 3}, []int{2, 2, 1}, []int{1, 1, 1}, nil, false, "VALID", []int{2, 3, 4}},
	}
	// sameTotal splits an auto_pad's padding as the spec does: the odd
	// one at the end (SAME_UPPER) or the start (SAME_LOWER).
	autoPads := func(cc pc) []int {
		p := make([]int, 6)
		if cc.autoPad == "VALID" {
			return p
		}
		for a := range 3 {
			total := max(0, (cc.want[a]-1)*cc.s[a]+(cc.k[a]-1)*cc.d[a]+1-cc.in[a])
			p[a], p[a+3] = total/2, total-total/2
			if cc.autoPad == "SAME_LOWER" {
				p[a], p[a+3] = p[a+3], p[a]
			}
		}
		return p
	}
	ints := func(v []int) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	for i, cc := range cases {
		x := nnRand(uint64(i), 2, 3, cc.in[0], cc.in[1], cc.in[2])
		x.F32[17] = float32(math.NaN()) // one window or more with a NaN
		pads := cc.pads
		if cc.autoPad != "" {
			pads = autoPads(cc)
		}
		for _, op := range []string{"MaxPool", "AveragePool"} {
			for _, countPad := range []bool{false, true} {
				if op == "MaxPool" && countPad {
					continue
				}
				attrs := []*Attr{nnInts("kernel_shape", ints(cc.k)...), nnInts("strides", ints(cc.s)...),
					nnInts("dilations", ints(cc.d)...)}
				if cc.autoPad != "" {
					attrs = append(attrs, nnStr("auto_pad", cc.autoPad))
				} else {
					attrs = append(attrs, nnInts("pads", ints(cc.pads)...))
				}
				if cc.ceil {
					attrs = append(attrs, nnInt("ceil_mode", 1))
				}
				if countPad {
					attrs = append(attrs, nnInt("count_include_pad", 1))
				}
				want, wantIdx := pool3DBrute(x, op == "MaxPool", countPad, cc.k, cc.s, cc.d, pads, cc.want)
				for _, k := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
					nOut := 1
					if op == "MaxPool" {
						nOut = 2
					}
					for _, order := range []int64{0, 1} {
						if order == 1 && op != "MaxPool" {
							continue
						}
						n := nnNode(op, 19, nOut, append(attrs, nnInt("storage_order", order))...)
						if op != "MaxPool" {
							n = nnNode(op, 19, nOut, attrs...)
						}
						what := fmt.Sprintf("%s %s %v countPad=%v order=%d", k.Name, op, cc, countPad, order)
						out, err := runOpEnv(nnEnv(k, 3), n, x)
						if err != nil {
							t.Fatalf("%s: %v", what, err)
						}
						if ws := append([]int{2, 3}, cc.want...); !SameShape(out[0].Shape, ws) {
							t.Fatalf("%s: shape %v, want %v", what, out[0].Shape, ws)
						}
						kerntest.Check(t, what, out[0].F32, want, 1e-6)
						if op != "MaxPool" {
							continue
						}
						dd, hh, ww := cc.in[0], cc.in[1], cc.in[2]
						for j, v := range wantIdx {
							if order == 1 {
								// the spatial part column-major
								p, q := v/int64(dd*hh*ww), int(v%int64(dd*hh*ww))
								v = p*int64(dd*hh*ww) + int64(q/(hh*ww)+q/ww%hh*dd+q%ww*dd*hh)
							}
							if out[1].I64[j] != v {
								t.Fatalf("%s: Indices[%d] = %d, want %d", what, j, out[1].I64[j], v)
							}
						}
					}
				}
			}
		}
	}
}

// TestGlobalPools3D checks GlobalAveragePool and GlobalMaxPool over 5-D
// tensors (AdaptiveAvgPool3d(1) as PyTorch exports it).
func TestGlobalPools3D(t *testing.T) {
	x := nnRand(4, 2, 3, 4, 5, 6)
	for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool"} {
		out := mustRun(t, nnNode(op, 1, 1), x)
		if !SameShape(out[0].Shape, []int{2, 3, 1, 1, 1}) {
			t.Fatalf("%s: shape %v", op, out[0].Shape)
		}
		want := make([]float32, 6)
		for p := range want {
			plane := x.F32[p*120 : (p+1)*120]
			best, sum := math.Inf(-1), 0.0
			for _, v := range plane {
				best, sum = math.Max(best, float64(v)), sum+float64(v)
			}
			want[p] = float32(sum / 120)
			if op == "GlobalMaxPool" {
				want[p] = float32(best)
			}
		}
		kerntest.Check(t, op, out[0].F32, want, 1e-6)
	}
}
