package ops

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bnrun/bnrun/kern"
	"github.com/bnrun/bnrun/kern/kerntest"
)

// dwBlockCase is one bnrun.DwBlock: c0 = 0 has no expansion, c2 = 0 no
// projection.
type dwBlockCase struct {
	n, c0, c1, h, w, k, s, pad, dil, c2 int
	resid                               bool
	actE, actD, act                     string
}

func (bc dwBlockCase) String() string {
	return fmt.Sprintf("n%d_%d-%d-%d_%dx%d_k%ds%dp%dd%d_res%v_%s-%s-%s", bc.n, bc.c0, bc.c1, bc.c2, bc.h, bc.w,
		bc.k, bc.s, bc.pad, bc.dil, bc.resid, bc.actE, bc.actD, bc.act)
}

var dwBlockCases = []dwBlockCase{
	// MobileNetV2's blocks, shrunk: stride 2 with 16-channel blocks, a
	// residual at batch 2, no expansion.
	{1, 16, 96, 23, 21, 3, 2, 1, 1, 24, false, "Clip", "Clip", ""},
	{2, 12, 40, 17, 19, 3, 1, 1, 1, 12, true, "Clip", "Clip", ""},
	{1, 0, 32, 20, 18, 3, 1, 1, 1, 16, false, "", "Clip", ""},
	// MnasNet's 5×5 stride 2 over 72 channels (a half block of 16).
	{1, 8, 72, 15, 16, 5, 2, 2, 1, 24, false, "Relu", "Relu", ""},
	// EfficientNet's expansion and depthwise layer (a gate follows).
	{1, 8, 24, 14, 14, 3, 1, 1, 1, 0, false, "Silu", "Silu", ""},
	// Odd channels, dilation, an activation after the residual.
	{2, 5, 13, 9, 11, 3, 1, 2, 2, 7, true, "Clip", "Relu", "Relu"},
	// Planes of 56×56 and more, which the AVX2 tier runs in one pass:
	// several bands, the rows of two workers, no projection.
	{1, 24, 144, 58, 56, 3, 1, 1, 1, 24, true, "Clip", "Clip", ""},
	{1, 16, 48, 60, 57, 3, 2, 1, 1, 0, false, "Clip", "Clip", ""},
	{1, 0, 24, 57, 59, 3, 2, 1, 1, 40, false, "", "Relu", "Clip"},
	// One pass on AVX-512's 16-channel depthwise rows: 40 channels (e's
	// pixels of 32, the last block of 16 half used), 5×5 at stride 2 and
	// rows of 29 outputs (the four- and one-pixel steps), a residual at
	// batch 2; and stride 1 with rows of 57.
	{2, 12, 40, 57, 58, 5, 2, 2, 1, 20, true, "Relu", "Clip", ""},
	{1, 7, 56, 56, 57, 5, 1, 2, 1, 0, false, "Clip", "Relu", ""},
	// Batches of 3 on small planes, run image by image: without a
	// projection (the depthwise layer writes the output), and without an
	// expansion, with a residual.
	{3, 8, 24, 9, 10, 3, 2, 1, 1, 0, false, "Relu", "Relu", ""},
	{3, 0, 16, 8, 7, 5, 1, 2, 1, 24, true, "", "Clip", "Relu"},
	// Small planes in one pass image by image, a block of channels at a
	// time (dwBlockSmall, where the images are at least the workers): a
	// 5×5 window on 7×7 with a residual, batch 3; stride 2 from 14×13
	// with two blocks and a half of e's channels, batch 2 (three workers
	// run it layer by layer); 13 channels, an activation after the
	// residual, rows of 5.
	{3, 24, 72, 7, 7, 5, 1, 2, 1, 24, true, "Relu", "Relu", ""},
	{2, 16, 80, 14, 13, 3, 2, 1, 1, 24, false, "Clip", "Clip", ""},
	{3, 5, 13, 6, 5, 3, 1, 1, 1, 7, true, "Clip", "Relu", "Relu"},
	// Small planes with fewer images than workers, the image's blocks of
	// e's channels split among them and the projection's partial sums
	// added (dwBlockSplit): 392 channels (blocks of 32 and a last of 8),
	// 5×5 with a residual; stride 2 from 14×13 into 36 channels (a half
	// panel); an activation after the residual, 7 channels out, batch 2
	// (split on three workers).
	{1, 24, 392, 7, 7, 5, 1, 2, 1, 40, true, "Relu", "Relu", ""},
	{1, 20, 264, 14, 13, 3, 2, 1, 1, 36, false, "Clip", "Clip", ""},
	{2, 9, 264, 9, 11, 3, 1, 1, 1, 7, true, "Clip", "Relu", "Relu"},
}

// actAttrs sets a fused activation's attributes on n with the prefix.
func actAttrs(n *Node, prefix, act string) {
	if act == "" {
		return
	}
	n.Attrs[prefix+"activation"] = nnStr(prefix+"activation", act)
	n.Attrs[prefix+"clip_min"] = nnFloat(prefix+"clip_min", -0.5)
	n.Attrs[prefix+"clip_max"] = nnFloat(prefix+"clip_max", 0.75)
}

// dwBlockNode builds the bnrun.DwBlock node of bc.
func dwBlockNode(bc dwBlockCase) *Node {
	p := int64(bc.pad)
	n := nnNode("bnrun.DwBlock", 1, 1, nnInts("pads", p, p, p, p), nnInts("strides", int64(bc.s), int64(bc.s)),
		nnInts("dilations", int64(bc.dil), int64(bc.dil)), nnInt("group", int64(bc.c1)))
	actAttrs(n, "expand_", bc.actE)
	actAttrs(n, "dw_", bc.actD)
	actAttrs(n, "", bc.act)
	return n
}

// TestDwBlockMatchesLayers checks bnrun.DwBlock on every tier, with one
// worker, two and three and constant weights (which tiers pack, and run in one
// pass where they can) or not, against its convolutions one after the
// other on the reference kernels.
func TestDwBlockMatchesLayers(t *testing.T) {
	for i, bc := range dwBlockCases {
		t.Run(bc.String(), func(t *testing.T) {
			seed := uint64(50 * i)
			cin := bc.c1
			if bc.c0 > 0 {
				cin = bc.c0
			}
			x := nnRand(seed+1, bc.n, cin, bc.h, bc.w)
			ins := make([]*Tensor, 8)
			ins[0] = x
			if bc.c0 > 0 {
				ins[1], ins[2] = nnRand(seed+2, bc.c1, bc.c0, 1, 1), nnRand(seed+3, bc.c1)
			}
			ins[3], ins[4] = nnRand(seed+4, bc.c1, 1, bc.k, bc.k), nnRand(seed+5, bc.c1)
			oh := (bc.h+2*bc.pad-bc.dil*(bc.k-1)-1)/bc.s + 1
			ow := (bc.w+2*bc.pad-bc.dil*(bc.k-1)-1)/bc.s + 1
			if bc.c2 > 0 {
				ins[5], ins[6] = nnRand(seed+6, bc.c2, bc.c1, 1, 1), nnRand(seed+7, bc.c2)
				if bc.resid {
					ins[7] = nnRand(seed+8, bc.n, bc.c2, oh, ow)
				}
			}

			// The layers on the reference kernels.
			ref := nnEnv(kern.Reference, 1)
			layer := func(x, w, b *Tensor, group, k, s, pad, dil int, act string, z *Tensor) *Tensor {
				p := int64(pad)
				n := nnNode("bnrun.FusedConv", 1, 1, nnInts("pads", p, p, p, p), nnInts("strides", int64(s), int64(s)),
					nnInts("dilations", int64(dil), int64(dil)), nnInt("group", int64(group)))
				actAttrs(n, "", act)
				out, err := runOpEnv(ref, n, x, w, b, z)
				if err != nil {
					t.Fatal(err)
				}
				return out[0]
			}
			want := x
			if bc.c0 > 0 {
				want = layer(want, ins[1], ins[2], 1, 1, 1, 0, 1, bc.actE, nil)
			}
			want = layer(want, ins[3], ins[4], bc.c1, bc.k, bc.s, bc.pad, bc.dil, bc.actD, nil)
			if bc.c2 > 0 {
				want = layer(want, ins[5], ins[6], 1, 1, 1, 0, 1, bc.act, ins[7])
			}

			for _, tier := range append([]*kern.Tier{kern.Reference}, dwBlockTestTiers()...) {
				for _, workers := range []int{1, 2, 3} {
					for _, consts := range [][]int{nil, {1, 3, 5}} {
						out, err := runOpEnvConsts(nnEnv(tier, workers), dwBlockNode(bc), consts, ins...)
						if err != nil {
							t.Fatal(err)
						}
						kerntest.Check(t, fmt.Sprintf("%s workers=%d consts=%v", tier.Name, workers, consts), out[0].F32, want.F32, 1e-4)
					}
				}
			}
		})
	}
}

// dwBlockTestTiers is testTiers and, for each tier whose one pass depends
// on the level-2 cache's size (DwBlockL2), a variant without it, which
// takes the one pass on one worker too.
func dwBlockTestTiers() []*kern.Tier {
	tiers := testTiers()
	for _, k := range tiers {
		if spec, ok := k.Spec(); ok && spec.DwBlockL2 > 0 {
			spec.DwBlockL2 = 0
			spec.Name += "-onepass"
			tiers = append(tiers, kern.NewBlockedTier(spec))
		}
	}
	return tiers
}

// TestDwBlockErrors checks that malformed blocks fail to plan with errors
// that name the node and the layer.
func TestDwBlockErrors(t *testing.T) {
	x := nnRand(1, 1, 8, 6, 6)
	dw := nnRand(2, 8, 1, 3, 3)
	pw := nnRand(3, 4, 8, 1, 1)
	for _, tc := range []struct {
		name string
		ins  []*Tensor
		want string
	}{
		{"no 1×1 layer", []*Tensor{x, nil, nil, dw}, "neither"},
		{"not depthwise", []*Tensor{x, nil, nil, nnRand(4, 8, 2, 3, 3), nil, pw}, "depthwise"},
		{"a 3×3 projection", []*Tensor{x, nil, nil, dw, nil, nnRand(5, 4, 8, 3, 3)}, "1×1"},
		{"residual without projection", []*Tensor{x, nnRand(6, 8, 8, 1, 1), nil, dw, nil, nil, nil, nnRand(7, 1, 8, 6, 6)}, "residual"},
		{"residual of another shape", []*Tensor{x, nil, nil, dw, nil, pw, nil, nnRand(8, 1, 4, 5, 6)}, "residual"},
	} {
		n := nnNode("bnrun.DwBlock", 1, 1, nnInts("pads", 1, 1, 1, 1), nnInt("group", 8))
		_, _, err := prepareOp(n, tc.ins...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), n.Name) {
			t.Errorf("%s: got %v, want an error naming %s and %q", tc.name, err, n.Name, tc.want)
		}
	}
}

// TestDwBlockGroupedMatchesLayers checks bnrun.DwBlock with a grouped
// middle layer (RegNet's expansion into groups of 16 channels, and groups
// of 8) on every tier, with one worker, two and three and constant
// weights or not, against its two convolutions on the reference kernels;
// and that on one worker with constant weights the tiers with the rows
// run the block in bands of rows where the expansion outgrows 1 MiB.
func TestDwBlockGroupedMatchesLayers(t *testing.T) {
	for i, bc := range []struct {
		n, c0, c1, cg, h, w, s int
		actE, actD             string
		rows                   bool // the rows take it on one worker
	}{
		{1, 12, 64, 16, 64, 66, 2, "Relu", "Relu", true},
		{2, 8, 64, 16, 65, 64, 1, "", "Relu", true},
		{1, 16, 48, 8, 9, 11, 2, "Relu", "Clip", false},
	} {
		name := fmt.Sprintf("n%d_%d-%d_g%d_%dx%d_s%d", bc.n, bc.c0, bc.c1, bc.cg, bc.h, bc.w, bc.s)
		t.Run(name, func(t *testing.T) {
			seed := uint64(70 * (i + 1))
			groups := bc.c1 / bc.cg
			ins := make([]*Tensor, 5)
			ins[0] = nnRand(seed+1, bc.n, bc.c0, bc.h, bc.w)
			ins[1], ins[2] = nnRand(seed+2, bc.c1, bc.c0, 1, 1), nnRand(seed+3, bc.c1)
			ins[3], ins[4] = nnRand(seed+4, bc.c1, bc.cg, 3, 3), nnRand(seed+5, bc.c1)
			ref := nnEnv(kern.Reference, 1)
			layer := func(x, w, b *Tensor, group, k, s, pad int, act string) *Tensor {
				p := int64(pad)
				n := nnNode("bnrun.FusedConv", 1, 1, nnInts("pads", p, p, p, p), nnInts("strides", int64(s), int64(s)), nnInt("group", int64(group)))
				actAttrs(n, "", act)
				out, err := runOpEnv(ref, n, x, w, b)
				if err != nil {
					t.Fatal(err)
				}
				return out[0]
			}
			want := layer(layer(ins[0], ins[1], ins[2], 1, 1, 1, 0, bc.actE), ins[3], ins[4], groups, 3, bc.s, 1, bc.actD)
			node := func() *Node {
				n := nnNode("bnrun.DwBlock", 1, 1, nnInts("pads", 1, 1, 1, 1), nnInts("strides", int64(bc.s), int64(bc.s)), nnInt("group", int64(groups)))
				actAttrs(n, "expand_", bc.actE)
				actAttrs(n, "dw_", bc.actD)
				return n
			}
			for _, tier := range append([]*kern.Tier{kern.Reference}, dwBlockTestTiers()...) {
				for _, workers := range []int{1, 2, 3} {
					for _, consts := range [][]int{nil, {1, 3}} {
						out, err := runOpEnvConsts(nnEnv(tier, workers), node(), consts, ins...)
						if err != nil {
							t.Fatal(err)
						}
						kerntest.Check(t, fmt.Sprintf("%s workers=%d consts=%v", tier.Name, workers, consts), out[0].F32, want.F32, 1e-4)
					}
				}
				if tier.DwRows == nil || !bc.rows {
					continue
				}
				if spec, ok := tier.Spec(); !ok || len(spec.Pix) == 0 || !spec.PixMajor {
					continue
				}
				_, step, err := prepareOpConsts(node(), []int{1, 3}, ins...)
				if err != nil {
					t.Fatal(err)
				}
				if got := KernelOf(tier, step, 1); !strings.Contains(got, "bands of rows") {
					t.Errorf("%s: one worker runs %q, want the bands of rows", tier.Name, got)
				}
			}
		})
	}
}
