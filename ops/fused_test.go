package ops

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// fusedCase is one fused convolution on awkward shapes.
type fusedCase struct {
	n, c, h, w, m, k, stride, pad, group int
	pre, resid                           bool
	act                                  string
}

func (fc fusedCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_m%d_k%d_s%d_p%d_g%d_pre%v_res%v_%s",
		fc.n, fc.c, fc.h, fc.w, fc.m, fc.k, fc.stride, fc.pad, fc.group, fc.pre, fc.resid, fc.act)
}

var fusedCases = []fusedCase{
	{1, 1, 28, 28, 6, 5, 1, 0, 1, false, false, "Sigmoid"}, // LeNet's first conv (direct path)
	{2, 6, 12, 12, 16, 5, 1, 0, 1, false, false, "Sigmoid"},
	{1, 13, 9, 11, 17, 3, 1, 1, 1, true, true, "Relu"},
	{3, 13, 9, 11, 17, 3, 2, 1, 1, false, true, "Relu"},
	{1, 16, 7, 7, 33, 1, 1, 0, 1, true, false, ""},           // DenseNet's 1x1 after norm1+relu1
	{2, 15, 8, 5, 15, 3, 1, 1, 15, true, true, "Clip"},       // depthwise
	{1, 12, 10, 10, 9, 3, 1, 2, 3, true, false, "LeakyRelu"}, // grouped, wide padding
	{1, 64, 14, 14, 64, 3, 1, 1, 1, false, true, "Tanh"},     // several depth blocks
	{2, 160, 6, 6, 35, 1, 1, 0, 1, true, true, "Relu"},
	{1, 40, 12, 13, 24, 3, 1, 1, 1, false, true, "Relu"}, // full micro-tiles, epilogue in registers
	{2, 24, 9, 9, 16, 1, 1, 0, 1, false, true, "Clip"},
	{1, 20, 10, 10, 17, 3, 1, 1, 1, true, false, "Relu"},
	{1, 24, 30, 28, 20, 3, 1, 1, 1, true, true, "Relu"}, // Winograd, with prologue and residual
	{2, 16, 28, 28, 16, 3, 1, 1, 1, false, true, "Clip"},
	// Winograd with the output stored tile by tile (sides multiples of 4):
	// prologue, residual and Relu, a last vector of tiles part-filled;
	// with C ≥ 2M the tiles cut into a part per worker (DenseNet's
	// growth layers), parts of unequal sizes.
	{2, 21, 40, 36, 19, 3, 1, 1, 1, true, true, "Relu"},
	{1, 8, 56, 56, 24, 3, 1, 1, 1, false, true, "Relu"},
	{2, 48, 40, 36, 19, 3, 1, 1, 1, true, true, "Relu"},
	{1, 64, 56, 56, 24, 3, 1, 1, 1, true, false, ""},
	// Sides not multiples of 4, stored in place through the tiles' masks
	// on tiers with WinoStoreMask: 14×14 (ResNet's third stage, 16
	// tiles), and parts over 64 tiles whose last column and row overhang.
	{2, 40, 14, 14, 24, 3, 1, 1, 1, false, true, "Relu"},
	// Batches of 3: 49 tiles an image, one image at a time; 16 tiles an
	// image on tiers that take 14×14, two images through the stages
	// together, then one (winoGroup: U of 1.4 MB).
	{3, 24, 28, 28, 20, 3, 1, 1, 1, true, true, "Relu"},
	{3, 96, 14, 14, 100, 3, 1, 1, 1, true, true, "Relu"},
	{3, 24, 28, 28, 20, 3, 1, 1, 1, false, true, "Tanh"},
	{2, 48, 30, 29, 19, 3, 1, 1, 1, true, true, "Relu"},
	// Small planes with many output channels: prologue with padding,
	// residual, activations, batch 2.
	{1, 70, 7, 7, 130, 3, 1, 1, 1, true, true, "Relu"},
	{2, 33, 4, 4, 64, 3, 1, 1, 1, true, false, "Tanh"},
	{1, 48, 14, 14, 96, 3, 2, 1, 1, false, true, "Clip"},
	{2, 5, 9, 96, 7, 3, 2, 1, 1, true, true, "Relu"}, // output 48 wide: panels within rows
	// Stems whose output rows are not a multiple of the widest panel:
	// each row's last panel on a narrower offsets kernel (112 wide: 16 or
	// 8 columns on the assembly tiers, 16 on the twin) or gathered (60
	// wide), rows of output channels past the last whole group.
	{2, 3, 9, 224, 13, 7, 2, 3, 1, false, true, "Relu"},
	{1, 3, 7, 120, 10, 7, 2, 3, 1, false, false, "Relu"},
	{1, 300, 3, 3, 65, 1, 1, 0, 1, true, true, "LeakyRelu"},
	// 1×1 windows with at least twice as many input channels as outputs,
	// split by input channels among the 3 workers (pixSplitK): the
	// prologue applied by each worker's copy of its channels, with a
	// stride, a last run of 1 channel, the residual and activation after
	// the runs' sums are added.
	{1, 200, 7, 7, 40, 1, 1, 0, 1, true, true, "Relu"},
	{2, 97, 14, 14, 24, 1, 2, 0, 1, true, false, "Clip"},
	{1, 130, 13, 13, 48, 1, 1, 0, 1, false, false, "Silu"},
	// Depthwise, 8 channels at a time in bands of rows: the activation
	// before the channels go back to planes, the residual after.
	{2, 16, 13, 11, 16, 3, 2, 1, 16, false, true, "Clip"},
	{1, 20, 12, 9, 20, 3, 1, 1, 20, false, false, "Clip"},
	// Depthwise on the planes as they lie (stride 1, 3×3 and 5×5): rows
	// ending inside a vector, wider than one, planes shorter than a step
	// of rows; the clip in the kernel, other activations and the
	// residual after it.
	{2, 7, 5, 37, 7, 3, 1, 1, 7, false, true, "Clip"},
	{1, 9, 19, 17, 9, 5, 1, 2, 9, false, false, "Relu"},
	{3, 5, 3, 33, 5, 5, 1, 2, 5, false, true, "Silu"},
	{1, 6, 22, 9, 6, 3, 1, 0, 6, false, false, "HardSwish"},
	// SiLU (EfficientNet): after a dense conv with a residual, after a
	// depthwise one, and on a 7×7 plane (the pixel path).
	{2, 12, 9, 8, 20, 3, 1, 1, 1, false, true, "Silu"},
	{1, 24, 10, 10, 24, 5, 2, 2, 24, false, false, "Silu"},
	{1, 40, 7, 7, 48, 1, 1, 0, 1, false, false, "Silu"},
	// MobileNetV3's activations: HardSwish after a dense conv with a
	// residual, a depthwise one and on a 7×7 plane; HardSigmoid (its
	// squeeze-excitation gate, default slope and offset).
	{2, 12, 9, 8, 20, 3, 1, 1, 1, false, true, "HardSwish"},
	{1, 24, 10, 10, 24, 5, 2, 2, 24, false, false, "HardSwish"},
	{1, 40, 7, 7, 48, 1, 1, 0, 1, true, false, "HardSwish"},
	{2, 16, 5, 5, 24, 1, 1, 0, 1, false, false, "HardSigmoid"},
	// Squeeze-excitation convolutions on 1×1 planes (the matrix-vector
	// path on the blocked tiers): a gate, a residual, a prologue (another
	// path), more images than the path takes.
	{1, 40, 1, 1, 24, 1, 1, 0, 1, false, false, "HardSigmoid"},
	{3, 37, 1, 1, 19, 1, 1, 0, 1, false, true, "Relu"},
	{2, 24, 1, 1, 40, 1, 1, 0, 1, true, false, ""},
	{5, 16, 1, 1, 33, 1, 1, 0, 1, false, true, "HardSwish"},
	// 1×1 on small planes, read pixel-major: channels not a multiple of
	// 8, a last block of 4 or 3 channels, a stride, padding, groups, a
	// depth of several blocks, the clip in the kernels or after them.
	{3, 13, 5, 7, 20, 1, 1, 0, 1, true, true, "Clip"},
	{2, 24, 13, 13, 35, 1, 2, 0, 1, false, false, "Relu"},
	{1, 1100, 4, 4, 24, 1, 1, 0, 1, false, false, "Clip"},
	{2, 16, 6, 6, 8, 1, 1, 0, 2, false, false, "Clip"},
	{2, 9, 5, 5, 24, 1, 1, 1, 1, true, false, "Relu"},
	{1, 32, 3, 5, 16, 1, 1, 0, 1, false, false, ""},
	// Planes of 256 values: packed panels, with a residual and the Relu in
	// the kernels' epilogue.
	{2, 40, 16, 16, 30, 1, 1, 0, 1, false, true, "Relu"},
	// DenseNet's bottleneck on larger planes: the prologue applied as the
	// panels are packed, a last narrow panel, depth in several blocks,
	// groups, batch 2.
	{2, 37, 15, 17, 50, 1, 1, 0, 1, true, true, "Relu"},
	{1, 300, 20, 20, 40, 1, 1, 0, 1, true, false, ""},
	{2, 20, 16, 16, 24, 1, 1, 0, 2, true, false, "Relu"},
}

// fusedConvNode builds a bnrun.FusedConv node for fc.
func fusedConvNode(fc fusedCase) *Node {
	n := nnNode("bnrun.FusedConv", 1, 1,
		nnInts("pads", int64(fc.pad), int64(fc.pad), int64(fc.pad), int64(fc.pad)),
		nnInts("strides", int64(fc.stride), int64(fc.stride)),
		nnInt("group", int64(fc.group)))
	if fc.act != "" {
		n.Attrs["activation"] = nnStr("activation", fc.act)
		n.Attrs["activation_alpha"] = nnFloat("activation_alpha", 0.2)
		n.Attrs["clip_min"] = nnFloat("clip_min", -0.5)
		n.Attrs["clip_max"] = nnFloat("clip_max", 0.75)
	}
	if fc.pre {
		n.Attrs["pre_activation"] = nnStr("pre_activation", "Relu")
	}
	return n
}

// TestFusedConvMatchesUnfused checks bnrun.FusedConv on every tier against
// the unfused chain Affine+Relu -> Conv -> Add -> activation run with the
// reference kernels: the reference tier must match it to rounding, and the
// fast tiers within a tolerance that grows with the depth of the sums.
func TestFusedConvMatchesUnfused(t *testing.T) {
	for i, fc := range fusedCases {
		t.Run(fc.String(), func(t *testing.T) {
			seed := uint64(100 * i)
			x := nnRand(seed+1, fc.n, fc.c, fc.h, fc.w)
			w := nnRand(seed+2, fc.m, fc.c/fc.group, fc.k, fc.k)
			b := nnRand(seed+3, fc.m)
			oh := (fc.h+2*fc.pad-fc.k)/fc.stride + 1
			ow := (fc.w+2*fc.pad-fc.k)/fc.stride + 1
			var z, ps, pb *Tensor
			if fc.resid {
				z = nnRand(seed+4, fc.n, fc.m, oh, ow)
			}
			if fc.pre {
				ps, pb = nnRand(seed+5, fc.c), nnRand(seed+6, fc.c)
			}

			// The unfused chain on the reference kernels.
			ref := nnEnv(kern.Reference, 1)
			xin := x
			if fc.pre {
				aff := nnNode("bnrun.Affine", 1, 1, nnStr("activation", "Relu"))
				out, err := runOpEnv(ref, aff, x, ps, pb)
				if err != nil {
					t.Fatal(err)
				}
				xin = out[0]
			}
			conv := nnNode("Conv", 11, 1,
				nnInts("pads", int64(fc.pad), int64(fc.pad), int64(fc.pad), int64(fc.pad)),
				nnInts("strides", int64(fc.stride), int64(fc.stride)),
				nnInt("group", int64(fc.group)))
			out, err := runOpEnv(ref, conv, xin, w, b)
			if err != nil {
				t.Fatal(err)
			}
			want := out[0]
			if fc.resid {
				out, err = runOpEnv(ref, nnNode("Add", 14, 1), want, z)
				if err != nil {
					t.Fatal(err)
				}
				want = out[0]
			}
			if fc.act != "" {
				act := fusedConvNode(fc)
				a, err := ParseActivation(act, "")
				if err != nil {
					t.Fatal(err)
				}
				want = want.Clone()
				a.Apply(want.F32)
			}

			// Tiers differ from the reference in summation order and in
			// fused multiply-adds, so the tolerance grows with the depth.
			tol := 1e-5 * float64(max(1, fc.c/fc.group*fc.k*fc.k/64))
			if fc.k == 3 && fc.stride == 1 && fc.group == 1 {
				tol = max(tol, 1e-4) // Winograd on the blocked tiers
			}
			for _, tier := range append([]*kern.Tier{kern.Reference}, testTiers()...) {
				for _, workers := range []int{1, 3} {
					// With 3 workers W is a plan-time constant, which tiers may pack.
					constW := -1
					if workers == 3 {
						constW = 1
					}
					got, err := runOpEnvConst(nnEnv(tier, workers), fusedConvNode(fc), constW, x, w, b, z, ps, pb)
					if err != nil {
						t.Fatal(err)
					}
					kerntest.Check(t, fmt.Sprintf("%s/%d workers", tier.Name, workers), got[0].F32, want.F32, tol)
				}
			}
		})
	}
}

func TestFusedGemmAndAffine(t *testing.T) {
	a, b, c := nnRand(1, 5, 7), nnRand(2, 3, 7), nnRand(3, 3)
	g := nnNode("Gemm", 13, 1, nnInt("transB", 1), nnFloat("alpha", 0.5))
	plain := mustRun(t, g, a, b, c)[0]
	fg := nnNode("bnrun.FusedGemm", 1, 1, nnInt("transB", 1), nnFloat("alpha", 0.5), nnStr("activation", "Relu"))
	got := mustRun(t, fg, a, b, c)[0]
	for i, v := range plain.F32 {
		if want := max(v, 0); got.F32[i] != want {
			t.Fatalf("FusedGemm[%d] = %v, want %v", i, got.F32[i], want)
		}
	}

	x, s, sh := nnRand(4, 2, 3, 5), NewF32([]int{3}, []float32{2, -1, 0.5}), NewF32([]int{3}, []float32{0, 1, -1})
	y := mustRun(t, nnNode("bnrun.Affine", 1, 1, nnStr("activation", "Sigmoid")), x, s, sh)[0]
	for i, v := range x.F32 {
		ch := i / 5 % 3
		want := s.F32[ch]*v + sh.F32[ch]
		want = kern.Activation{Kind: kern.ActSigmoid}.One(want)
		if y.F32[i] != want {
			t.Fatalf("Affine[%d] = %v, want %v", i, y.F32[i], want)
		}
	}
	wantErr(t, "a and b must be float32 [3]", nnNode("bnrun.Affine", 1, 1), x, NewF32([]int{2}, nil), sh)
	wantErr(t, `unknown fused activation "Swish"`, nnNode("bnrun.Affine", 1, 1, nnStr("activation", "Swish")), x, s, sh)
}

// BenchmarkDenseNetConvs runs DenseNet-121's convolutions as the folded
// network has them, one image, one thread, every fast tier: the
// bottleneck 1×1 (C → 128, BN+Relu prologue, Relu) and the 3×3 growth
// layer (128 → 32) at each block's plane size, C the block's middle depth.
func BenchmarkDenseNetConvs(b *testing.B) {
	for i, fc := range []fusedCase{
		{1, 160, 56, 56, 128, 1, 1, 0, 1, true, false, "Relu"},
		{1, 320, 28, 28, 128, 1, 1, 0, 1, true, false, "Relu"},
		{1, 640, 14, 14, 128, 1, 1, 0, 1, true, false, "Relu"},
		{1, 768, 7, 7, 128, 1, 1, 0, 1, true, false, "Relu"},
		{1, 128, 56, 56, 32, 3, 1, 1, 1, false, false, ""},
		{1, 128, 28, 28, 32, 3, 1, 1, 1, false, false, ""},
		{1, 128, 14, 14, 32, 3, 1, 1, 1, false, false, ""},
		{1, 128, 7, 7, 32, 3, 1, 1, 1, false, false, ""},
	} {
		seed := uint64(100 * i)
		x, w, bias := nnRand(seed+1, fc.n, fc.c, fc.h, fc.w), nnRand(seed+2, fc.m, fc.c, fc.k, fc.k), nnRand(seed+3, fc.m)
		var ps, pb *Tensor
		if fc.pre {
			ps, pb = nnRand(seed+5, fc.c), nnRand(seed+6, fc.c)
		}
		ins := []*Tensor{x, w, bias, nil, ps, pb}
		vals, step, err := prepareOpConst(fusedConvNode(fc), 1, ins...)
		if err != nil {
			b.Fatal(err)
		}
		o := vals[0].Shape
		flops := 2 * float64(fc.c*fc.m*fc.k*fc.k*o[2]*o[3])
		benchLayer(b, fmt.Sprintf("%dx%dx%d²/k%d", fc.c, fc.m, fc.h, fc.k), step, ins, NewF32(o, nil), flops)
	}
}

// TestFusedConvGate checks bnrun.FusedConv's gate (input 6) on every tier
// and worker count against the Mul it replaces followed by the same
// FusedConv without it: bit for bit for 1×1 windows (the prologue
// gate·x + (-0) is the Mul's product, and every 1×1 path sums as it does
// without a prologue), within rounding for 3×3 ones. The cases take the
// tiers' paths for a 1×1 layer (in place, pixel-major, split by input
// channels, strided), a padded 3×3 (direct and Winograd), a residual and
// an activation, batch 1 to 3, and gates with zeros of both signs,
// infinities and NaN (a NaN's payload may differ).
func TestFusedConvGate(t *testing.T) {
	type gc struct {
		n, c, h, w, m, k, pad, stride int
		resid                         bool
		act                           string
	}
	cases := []gc{
		{1, 24, 56, 56, 16, 1, 0, 1, true, ""},
		{2, 48, 28, 28, 24, 1, 0, 1, false, "Clip"},
		{3, 40, 14, 14, 36, 1, 0, 1, false, "Relu"},
		{1, 320, 7, 7, 40, 1, 0, 1, true, "Relu"},
		{2, 30, 13, 13, 70, 1, 0, 2, false, ""},
		{2, 17, 9, 11, 13, 3, 1, 1, false, "Clip"},
		{1, 16, 16, 16, 16, 3, 1, 1, true, "Relu"},
		{2, 12, 15, 15, 20, 3, 1, 2, false, ""},
	}
	for ci, tc := range cases {
		seed := uint64(700 + 10*ci)
		x := nnRand(seed+1, tc.n, tc.c, tc.h, tc.w)
		w := nnRand(seed+2, tc.m, tc.c, tc.k, tc.k)
		b := nnRand(seed+3, tc.m)
		g := nnRand(seed+4, tc.n, tc.c, 1, 1)
		// zeros of both signs in the first image; an infinity and a NaN,
		// which make the image's every output NaN, in the last of several
		g.F32[0], g.F32[1] = float32(math.Copysign(0, -1)), 0
		if tc.n > 1 {
			last := g.F32[(tc.n-1)*tc.c:]
			last[0], last[1] = float32(math.Inf(1)), float32(math.NaN())
		}
		oh := (tc.h+2*tc.pad-tc.k)/tc.stride + 1
		ow := (tc.w+2*tc.pad-tc.k)/tc.stride + 1
		var z *Tensor
		if tc.resid {
			z = nnRand(seed+5, tc.n, tc.m, oh, ow)
		}
		node := func() *Node {
			fc := fusedCase{n: tc.n, c: tc.c, h: tc.h, w: tc.w, m: tc.m, k: tc.k, pad: tc.pad, stride: tc.stride, group: 1, act: tc.act}
			return fusedConvNode(fc)
		}
		for _, k := range testTiers() {
			for _, workers := range []int{1, 3} {
				name := fmt.Sprintf("%s/%dx%dx%dx%d-%d-k%d-s%d/workers=%d", k.Name, tc.n, tc.c, tc.h, tc.w, tc.m, tc.k, tc.stride, workers)
				env := nnEnv(k, workers)
				mul, err := runOpEnv(env, nnNode("Mul", 14, 1), x, g)
				if err != nil {
					t.Fatal(err)
				}
				want, err := runOpEnv(env, node(), mul[0], w, b, z)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, err := runOpEnv(env, node(), x, w, b, z, nil, nil, g)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if tc.k == 1 {
					sameValues(t, name, got[0].F32, want[0].F32)
				} else {
					// a wider window may take another path with a prologue
					// (not the padded blocks of 8 channels): other sums
					kerntest.Check(t, name, got[0].F32, want[0].F32, 1e-5)
				}
			}
		}
	}
}

// sameValues fails the test unless got[i] and want[i] have the same bits,
// or are both NaN (whose payloads the order of an operation's operands
// decides), for every i.
func sameValues(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		g, w := got[i], want[i]
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, g, w)
		}
	}
}

// TestFusedConvGateErrors checks that a gate of the wrong shape, or beside
// pre_scale, is an error that names the node's input.
func TestFusedConvGateErrors(t *testing.T) {
	x, w := nnRand(1, 2, 4, 5, 5), nnRand(2, 3, 4, 1, 1)
	fc := fusedCase{n: 2, c: 4, h: 5, w: 5, m: 3, k: 1, group: 1, stride: 1}
	for _, c := range []struct {
		name   string
		ins    []*Tensor
		wanted string
	}{
		{"per channel only", []*Tensor{x, w, nil, nil, nil, nil, nnRand(3, 1, 4, 1, 1)}, "gate has type float32 shape [1,4,1,1], want float32 [2,4,1,1]"},
		{"per pixel", []*Tensor{x, w, nil, nil, nil, nil, nnRand(3, 2, 4, 5, 5)}, "want float32 [2,4,1,1]"},
		{"with pre_scale", []*Tensor{x, w, nil, nil, nnRand(4, 4), nnRand(5, 4), nnRand(3, 2, 4, 1, 1)}, "gate with pre_scale"},
	} {
		_, err := runOpEnv(nnEnv(kern.Generic, 1), fusedConvNode(fc), c.ins...)
		if err == nil || !strings.Contains(err.Error(), c.wanted) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.wanted)
		}
	}
}

// TestFusedConvOverResidual checks bnrun.FusedConv where a tier lets its
// output take the residual's memory (Step.Overwrite, through
// kern.ResidualInPlace): on every tier, one to three workers, Y written
// over Z holds bit for bit what a Y of its own holds. The cases take the
// paths that say so (Winograd's stores at 56×56 and at 14×14 and 30×29
// through masks, batch 2 in image groups; the in-place products compact
// with a narrow last panel, in rows of panels, with a Clip applied after
// the kernels, batch 2) and paths that do not (depth in two blocks, rows
// not a multiple of the kernels', pixel tiles, a prologue packed with the
// panels, an activation Winograd does not store); the vector tiers must
// say so for ResNet's layers, so that the test cannot pass on none, and
// a step must not offer Z where its tier does not say so.
func TestFusedConvOverResidual(t *testing.T) {
	cases := []struct {
		fc   fusedCase
		must bool // the vector tiers overwrite
	}{
		{fusedCase{1, 64, 56, 56, 256, 1, 1, 0, 1, false, true, "Relu"}, true},  // ResNet-50's 56×56 1×1
		{fusedCase{2, 128, 28, 28, 64, 1, 1, 0, 1, false, true, "Relu"}, false}, // 784 = 16·48 + 16, batch 2
		{fusedCase{1, 64, 56, 56, 64, 3, 1, 1, 1, false, true, "Relu"}, true},   // ResNet-18's 56×56 3×3
		{fusedCase{2, 32, 14, 14, 48, 3, 1, 1, 1, false, true, "Relu"}, false},  // masked stores, image groups
		{fusedCase{1, 24, 30, 29, 40, 3, 1, 1, 1, false, true, ""}, false},      // masked, overhanging tiles
		{fusedCase{1, 24, 30, 29, 40, 3, 1, 1, 1, false, true, "Sigmoid"}, false},
		{fusedCase{1, 3, 20, 200, 16, 3, 2, 1, 1, false, true, "Relu"}, false}, // rows of panels, 100 = 2·48 + 4
		{fusedCase{1, 16, 24, 24, 24, 1, 1, 0, 1, false, true, "Clip"}, false},
		{fusedCase{1, 256, 56, 56, 64, 1, 1, 0, 1, false, true, "Relu"}, false}, // depth 256: two blocks
		{fusedCase{2, 40, 16, 16, 30, 1, 1, 0, 1, false, true, "Relu"}, false},  // 30 rows
		{fusedCase{1, 40, 16, 16, 32, 1, 1, 0, 1, true, true, "Relu"}, false},   // prologue
		{fusedCase{1, 40, 15, 15, 32, 1, 1, 0, 1, true, true, "Relu"}, false},   // prologue, 225 = 4·48 + 33
		{fusedCase{1, 4, 20, 20, 16, 5, 1, 2, 1, false, true, "Relu"}, false},   // through a wider buffer
		{fusedCase{1, 64, 7, 7, 64, 1, 1, 0, 1, false, true, "Relu"}, false},    // pixel tiles
	}
	for i, tc := range cases {
		fc := tc.fc
		seed := uint64(300 + 10*i)
		x := nnRand(seed+1, fc.n, fc.c, fc.h, fc.w)
		w := nnRand(seed+2, fc.m, fc.c/fc.group, fc.k, fc.k)
		b := nnRand(seed+3, fc.m)
		oh := (fc.h+2*fc.pad-fc.k)/fc.stride + 1
		ow := (fc.w+2*fc.pad-fc.k)/fc.stride + 1
		z := nnRand(seed+4, fc.n, fc.m, oh, ow)
		var ps, pb *Tensor
		if fc.pre {
			ps, pb = nnRand(seed+5, fc.c), nnRand(seed+6, fc.c)
		}
		vals, step, err := prepareOpConst(fusedConvNode(fc), 1, x, w, b, z, ps, pb)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range testTiers() {
			what := fmt.Sprintf("%s on %s", fc, k.Name)
			over := -1
			if step.Overwrite != nil {
				over = step.Overwrite(k)
			}
			if over != -1 && over != 3 {
				t.Fatalf("%s: Overwrite offers input %d", what, over)
			}
			if tc.must && (k.Name == "avx512" || k.Name == "avx2") && over != 3 {
				t.Errorf("%s: does not write Y over Z", what)
			}
			if over != 3 {
				continue
			}
			for _, workers := range []int{1, 2, 3} {
				env := nnEnv(k, workers)
				want := NewF32(vals[0].Shape, nil)
				if err := step.Run(env, []*Tensor{x, w, b, z, ps, pb}, []*Tensor{want}); err != nil {
					t.Fatal(err)
				}
				zy := NewF32(z.Shape, append([]float32(nil), z.F32...))
				if err := step.Run(env, []*Tensor{x, w, b, zy, ps, pb}, []*Tensor{zy}); err != nil {
					t.Fatal(err)
				}
				kerntest.Check(t, fmt.Sprintf("%s, %d workers, Y over Z", what, workers), zy.F32, want.F32, 0)
			}
		}
	}
}
