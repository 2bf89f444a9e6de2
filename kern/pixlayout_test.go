package kern

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// pixMajorOf returns n images of c planes of hw values laid out
// pixel-major: out[(i·hw + q)·c + ch] = x[(i·c + ch)·hw + q].
func pixMajorOf(x []float32, n, c, hw int) []float32 {
	out := make([]float32, len(x))
	for i := range n {
		for ch := range c {
			for q := range hw {
				out[(i*hw+q)*c+ch] = x[(i*c+ch)*hw+q]
			}
		}
	}
	return out
}

// TestConvPixLayout runs every tier's convolutions that ConvPixLayout
// lets read or write pixel-major tensors (the 1×1 windows of convPix:
// wide and small planes, odd channel counts, groups, a stride, padding,
// batch 2; 3×3 windows on its blocked copy, grouped or not, strided or
// not, which write y so; a prologue, bias, residual and activations, one
// and two workers)
// with x, y and the residual laid out so, against the reference on
// planes, and against the same tier on planes: bit for bit where the
// depth is blocked alike (every case but the strided 1×1 ones read in
// place).
func TestConvPixLayout(t *testing.T) {
	type tc struct {
		n, c, m, h, w, s, pad, group int
		k                            int // the window's side
	}
	cases := []tc{
		{1, 320, 320, 14, 14, 1, 0, 1, 1}, // RegNet-Y's 14×14 layers (pixMajorWide)
		{2, 40, 72, 7, 7, 1, 0, 1, 1},
		{1, 37, 45, 5, 3, 1, 0, 1, 1},
		{2, 64, 48, 14, 14, 2, 0, 1, 1}, // a projection, strided, read in place
		{1, 64, 96, 7, 7, 1, 0, 2, 1},
		{1, 96, 40, 5, 5, 1, 1, 1, 1}, // padded: written pixel-major only
		{2, 24, 136, 4, 4, 1, 0, 1, 1},
		// wider windows on the blocked copy (pixBlocked): RegNet's
		// groups of 16 at stride 1 and 2, a window over 37 channels (a
		// block of 5), ResNet's 3×3 on 7×7
		{1, 64, 64, 7, 7, 1, 1, 4, 3},
		{2, 48, 48, 14, 14, 2, 1, 3, 3},
		{1, 37, 40, 6, 6, 1, 1, 1, 3},
		{2, 64, 64, 7, 7, 1, 1, 1, 3},
	}
	type fuse struct {
		bias, resid, pre bool
		act              Activation
	}
	fuses := []fuse{
		{},
		{bias: true, act: Activation{Kind: ActRelu}},
		{bias: true, resid: true, act: Activation{Kind: ActRelu}},
		{bias: true, pre: true},
		{bias: true, act: Activation{Kind: ActClip, Min: -0.5, Max: 0.75}},
		{resid: true, act: Activation{Kind: ActHardSwish}},
		{bias: true, act: Activation{Kind: ActSilu}},
	}
	took, tookWide := map[string]bool{}, map[string]bool{}
	for ci, c := range cases {
		kk := c.k
		oh, ow := (c.h+2*c.pad-kk)/c.s+1, (c.w+2*c.pad-kk)/c.s+1
		g := ConvGeom{N: c.n, C: c.c, H: c.h, W: c.w, M: c.m, KH: kk, KW: kk, OH: oh, OW: ow,
			PadT: c.pad, PadL: c.pad, PadB: c.pad, PadR: c.pad, SH: c.s, SW: c.s, DH: 1, DW: 1, Group: c.group}
		seed := uint64(100 + ci)
		x := kerntest.Rand(seed, c.n*c.c*c.h*c.w)
		w := kerntest.Rand(seed+1, c.m*c.c/c.group*kk*kk)
		bias := kerntest.Rand(seed+2, c.m)
		z := kerntest.Rand(seed+3, c.n*c.m*oh*ow)
		ps, pb := kerntest.Rand(seed+4, c.c), kerntest.Rand(seed+5, c.c)
		for fi, fu := range fuses {
			f := ConvFusion{Act: fu.act}
			var b []float32
			if fu.bias {
				b = bias
			}
			if fu.resid {
				f.Residual = z
			}
			if fu.pre {
				f.PreScale, f.PreBias, f.PreAct = ps, pb, Activation{Kind: ActRelu}
			}
			ref := make([]float32, c.n*c.m*oh*ow)
			convRef(nil, &g, x, w, b, ref, &f)
			for _, k := range testTiers() {
				if k.ConvPixLayout == nil {
					continue
				}
				in, out := k.ConvPixLayout(&g, fu.pre)
				if !in && !out {
					continue
				}
				for _, workers := range []int{1, 2} {
					what := fmt.Sprintf("%s, %d workers, case %d %+v, fusion %d (in %v, out %v)", k.Name, workers, ci, c, fi, in, out)
					plain := make([]float32, len(ref))
					k.Conv(testEnv(k, workers), &g, x, w, b, plain, &f)
					fp := f
					fp.PixIn, fp.PixOut = in, out
					xp := x
					if in {
						xp = pixMajorOf(x, c.n, c.c, c.h*c.w)
					}
					if out && f.Residual != nil {
						fp.Residual = pixMajorOf(z, c.n, c.m, oh*ow)
					}
					y := make([]float32, len(ref))
					for i := range y {
						y[i] = float32(i%7) - 3 // whatever was there before
					}
					k.Conv(testEnv(k, workers), &g, xp, w, b, y, &fp)
					want := ref
					wantPlain := plain
					if out {
						want, wantPlain = pixMajorOf(ref, c.n, c.m, oh*ow), pixMajorOf(plain, c.n, c.m, oh*ow)
					}
					kerntest.Check(t, what, y, want, 2e-5)
					if (c.s == 1 || kk > 1) && !slices.Equal(y, wantPlain) {
						t.Errorf("%s: not bit for bit the tier's result on planes", what)
					}
					took[k.Name] = took[k.Name] || in && out
					tookWide[k.Name] = tookWide[k.Name] || out && kk > 1
				}
			}
		}
	}
	for _, k := range testTiers() {
		if k.spec != nil && len(k.spec.Pix) > 0 && k.spec.PixMajor && (!took[k.Name] || !tookWide[k.Name]) {
			t.Errorf("tier %s, with pixel kernels, read and wrote no 1×1 case (%v) or wrote no wider one (%v) pixel-major",
				k.Name, took[k.Name], tookWide[k.Name])
		}
	}
}

// TestImagesAsPixels checks that the pixel tiles' convolutions that run a
// batch as one image of all its pixels (imagesAsPixels: 1×1 layers read
// and written pixel-major, and squeeze-excitation layers on [N, C, 1, 1]
// planes) compute what the tier computes image by image, bit for bit:
// several images, odd channel counts, bias, residual and activations, one
// and two workers.
func TestImagesAsPixels(t *testing.T) {
	type tc struct{ n, c, m, h, w int }
	// (at most 63 channels in on one pixel, which one image alone takes
	// on the pixel tiles too, not as a matrix-vector product: gemvOK)
	cases := []tc{{5, 40, 196, 1, 1}, {7, 37, 45, 1, 1}, {3, 40, 72, 7, 7}, {2, 24, 136, 4, 3}}
	acts := []Activation{{}, {Kind: ActRelu}, {Kind: ActSilu}}
	took := map[string]bool{}
	for ci, c := range cases {
		g := ConvGeom{N: c.n, C: c.c, H: c.h, W: c.w, M: c.m, KH: 1, KW: 1, OH: c.h, OW: c.w,
			SH: 1, SW: 1, DH: 1, DW: 1, Group: 1}
		seed := uint64(300 + ci)
		x := kerntest.Rand(seed, c.n*c.c*c.h*c.w)
		w := kerntest.Rand(seed+1, c.m*c.c)
		b := kerntest.Rand(seed+2, c.m)
		z := kerntest.Rand(seed+3, c.n*c.m*c.h*c.w)
		for ai, act := range acts {
			f := ConvFusion{Act: act, PixIn: c.h*c.w > 1, PixOut: c.h*c.w > 1}
			if ai == 1 {
				f.Residual = z
			}
			for _, k := range testTiers() {
				if k.spec == nil || len(k.spec.Pix) == 0 || k.ConvPath == nil || k.ConvPath(&g, false) != "pixel tiles, pixel-major" {
					continue
				}
				if in, out := k.ConvPixLayout(&g, false); f.PixIn && (!in || !out) {
					continue
				}
				g1 := g
				g1.N = 1
				if k.ConvPath(&g1, false) != k.ConvPath(&g, false) {
					t.Fatalf("%s, case %+v: one image takes %q", k.Name, c, k.ConvPath(&g1, false))
				}
				for _, workers := range []int{1, 2} {
					what := fmt.Sprintf("%s, %d workers, case %+v, activation %d", k.Name, workers, c, ai)
					got := make([]float32, c.n*c.m*c.h*c.w)
					k.Conv(testEnv(k, workers), &g, x, w, b, got, &f)
					// image by image
					want := make([]float32, len(got))
					f1 := f
					in, out := c.c*c.h*c.w, c.m*c.h*c.w
					for i := range c.n {
						if f.Residual != nil {
							f1.Residual = z[i*out : (i+1)*out]
						}
						k.Conv(testEnv(k, workers), &g1, x[i*in:(i+1)*in], w, b, want[i*out:(i+1)*out], &f1)
					}
					kerntest.SameBits(t, what, got, want)
					took[k.Name] = true
				}
			}
		}
	}
	for _, k := range testTiers() {
		if k.spec != nil && len(k.spec.Pix) > 0 && k.spec.PixMajor && !took[k.Name] {
			t.Errorf("tier %s, with pixel kernels, ran no case", k.Name)
		}
	}
}
