package kern

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// c3Case is a 3-D convolution: the geometry's fields, with the output
// sizes derived from the trailing pads (pk, pb, pr) as ONNX derives them,
//
//	OD = (D + pf + pk - dd·(KD-1) - 1)/sd + 1
//
// and a fusion: fuse 1 is a prologue (per-channel affine and Relu), 2 an
// epilogue (residual and Clip), 3 both.
type c3Case struct {
	n, c, m, d, h, w int
	kd, kh, kw       int
	sd, sh, sw       int
	dd, dh, dw       int
	pf, pt, pl       int
	pk, pb, pr       int
	group            int
	bias             bool
	fuse             int
}

func (tc c3Case) geom() *Conv3DGeom {
	out := func(in, k, s, d, p0, p1 int) int { return (in+p0+p1-d*(k-1)-1)/s + 1 }
	return &Conv3DGeom{N: tc.n, C: tc.c, D: tc.d, H: tc.h, W: tc.w, M: tc.m, KD: tc.kd, KH: tc.kh, KW: tc.kw,
		OD: out(tc.d, tc.kd, tc.sd, tc.dd, tc.pf, tc.pk), OH: out(tc.h, tc.kh, tc.sh, tc.dh, tc.pt, tc.pb),
		OW:   out(tc.w, tc.kw, tc.sw, tc.dw, tc.pl, tc.pr),
		PadF: tc.pf, PadT: tc.pt, PadL: tc.pl, SD: tc.sd, SH: tc.sh, SW: tc.sw, DD: tc.dd, DH: tc.dh, DW: tc.dw,
		Group: tc.group}
}

func (tc c3Case) String() string {
	return fmt.Sprintf("N%d C%d M%d in%dx%dx%d k%dx%dx%d s%d,%d,%d d%d,%d,%d pads %d,%d,%d,%d,%d,%d g%d bias=%v fuse=%d",
		tc.n, tc.c, tc.m, tc.d, tc.h, tc.w, tc.kd, tc.kh, tc.kw, tc.sd, tc.sh, tc.sw, tc.dd, tc.dh, tc.dw,
		tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.group, tc.bias, tc.fuse)
}

// c3 is a case with strides and dilations 1 and no padding, to be
// changed field by field.
func c3(n, c, m, d, h, w, kd, kh, kw, group int) c3Case {
	return c3Case{n: n, c: c, m: m, d: d, h: h, w: w, kd: kd, kh: kh, kw: kw,
		sd: 1, sh: 1, sw: 1, dd: 1, dh: 1, dw: 1, group: group}
}

var c3Cases = func() []c3Case {
	var cs []c3Case
	add := func(tc c3Case, f func(*c3Case)) {
		if f != nil {
			f(&tc)
		}
		cs = append(cs, tc)
	}
	// A video stem (3×7×7, stride 1×2×2, padded), shrunk; odd channels.
	add(c3(1, 3, 5, 5, 13, 11, 3, 7, 7, 1), func(tc *c3Case) {
		tc.sh, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias = 2, 2, 1, 3, 3, 1, 3, 3, true
	})
	// 3×3×3 padded, batch 2, with each fusion.
	for fuse := range 4 {
		add(c3(2, 7, 6, 4, 5, 6, 3, 3, 3, 1), func(tc *c3Case) {
			tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias, tc.fuse = 1, 1, 1, 1, 1, 1, fuse != 2, fuse
		})
	}
	// Asymmetric pads, strides 1–3, dilations.
	add(c3(1, 5, 4, 7, 6, 9, 2, 3, 2, 1), func(tc *c3Case) {
		tc.sd, tc.sh, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr = 2, 3, 1, 0, 2, 1, 1, 0, 3
	})
	add(c3(2, 4, 3, 8, 7, 7, 2, 3, 2, 1), func(tc *c3Case) {
		tc.dd, tc.dh, tc.dw, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias, tc.fuse = 3, 2, 3, 2, 1, 2, 0, 2, 1, 3, true, 3
	})
	// Pads past the kernel's reach on one side (windows wholly in it).
	add(c3(1, 3, 2, 3, 4, 3, 2, 2, 2, 1), func(tc *c3Case) {
		tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias = 3, 0, 2, 0, 3, 1, true
	})
	// Groups: 2 and 3, depthwise, depthwise with a channel multiplier.
	add(c3(2, 6, 10, 4, 5, 5, 3, 3, 3, 2), func(tc *c3Case) {
		tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias, tc.fuse = 1, 1, 1, 1, 1, 1, true, 3
	})
	add(c3(1, 9, 6, 5, 4, 7, 1, 3, 1, 3), func(tc *c3Case) { tc.sh = 2 })
	for fuse := range 4 {
		add(c3(2, 8, 8, 5, 6, 7, 3, 3, 3, 8), func(tc *c3Case) {
			tc.sd, tc.sh, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias, tc.fuse = 1, 2, 2, 1, 1, 0, 1, 1, 2, true, fuse
		})
	}
	add(c3(1, 5, 10, 4, 9, 8, 3, 5, 3, 5), func(tc *c3Case) {
		tc.dd, tc.dw, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr = 2, 2, 3, 2, 2, 1, 2, 2, 1
	})
	// Pointwise (1×1×1): the input as the matrix, and with a prologue
	// built; strided, which builds it too.
	for fuse := range 4 {
		add(c3(2, 13, 7, 3, 5, 6, 1, 1, 1, 1), func(tc *c3Case) { tc.bias, tc.fuse = fuse == 1, fuse })
	}
	add(c3(1, 13, 7, 5, 6, 5, 1, 1, 1, 1), func(tc *c3Case) { tc.sd, tc.sh, tc.sw, tc.bias = 2, 2, 2, true })
	// Deep sums: several chunks of output positions, a partial last one.
	add(c3(1, 300, 9, 5, 6, 7, 3, 3, 3, 1), func(tc *c3Case) {
		tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias, tc.fuse = 1, 1, 1, 1, 1, 1, true, 3
	})
	// Pointwise over two chunks, the second partial, with a prologue (the
	// matrix built) and without (the input read in place).
	add(c3(1, 300, 6, 4, 15, 16, 1, 1, 1, 1), func(tc *c3Case) { tc.fuse, tc.bias = 1, true })
	add(c3(1, 300, 6, 4, 15, 16, 1, 1, 1, 1), func(tc *c3Case) { tc.fuse = 2 })
	// Wide chunks at a small depth (1×1×1 with a prologue, and 1×3×3),
	// and a factorised (2+1)-D pair.
	add(c3(1, 3, 4, 9, 30, 31, 1, 1, 1, 1), func(tc *c3Case) { tc.fuse, tc.bias = 1, true })
	add(c3(1, 2, 5, 9, 30, 17, 1, 3, 3, 1), func(tc *c3Case) { tc.pt, tc.pl, tc.pb, tc.pr = 1, 1, 1, 1 })
	add(c3(2, 6, 8, 6, 9, 9, 3, 1, 1, 1), func(tc *c3Case) { tc.pf, tc.pk, tc.bias = 1, 1, true })
	// D = 1: a 2-D convolution.
	add(c3(1, 4, 6, 1, 8, 9, 1, 3, 3, 2), func(tc *c3Case) { tc.pt, tc.pl, tc.pb, tc.pr, tc.bias = 1, 1, 1, 1, true })
	return cs
}()

// c3Operands returns tc's random x, w, b (nil without bias) and fusion
// (nil without one).
func c3Operands(tc c3Case, seed uint64) (g *Conv3DGeom, x, w, b []float32, f *ConvFusion) {
	g = tc.geom()
	x = kerntest.Rand(seed, g.N*g.C*g.D*g.H*g.W)
	w = kerntest.Rand(seed+1, g.M*(g.C/g.Group)*g.KD*g.KH*g.KW)
	if tc.bias {
		b = kerntest.Rand(seed+2, g.M)
	}
	if tc.fuse != 0 {
		f = &ConvFusion{}
		if tc.fuse&1 != 0 {
			f.PreScale, f.PreBias, f.PreAct = kerntest.Rand(seed+3, g.C), kerntest.Rand(seed+4, g.C), Activation{Kind: ActRelu}
		}
		if tc.fuse&2 != 0 {
			f.Residual = kerntest.Rand(seed+5, g.N*g.M*g.OD*g.OH*g.OW)
			f.Act = Activation{Kind: ActClip, Min: -0.5, Max: 0.75}
		}
	}
	return g, x, w, b, f
}

// runC3 runs conv on tc's operands with workers workers and, when scratch
// is set, the scratch Conv3DScratch asks, and returns y with
// kerntest.Guard values around it; y starts as NaN.
func runC3(conv func(*Env, *Conv3DGeom, []float32, []float32, []float32, []float32, *ConvFusion), k *Tier, workers int, scratch bool, tc c3Case, seed uint64) []float32 {
	g, x, w, b, f := c3Operands(tc, seed)
	const pad = 7
	ny := g.N * g.M * g.OD * g.OH * g.OW
	buf := make([]float32, ny+2*pad)
	for i := range buf {
		buf[i] = kerntest.Guard
	}
	for i := pad; i < pad+ny; i++ {
		buf[i] = float32(math.NaN())
	}
	env := testEnv(k, workers)
	if scratch {
		env.Scratch = make([]float32, Conv3DScratch(g))
	}
	conv(env, g, x, w, b, buf[pad:pad+ny:pad+ny], f)
	return buf
}

// TestConv3DTiersMatchReference runs the product path on the Gemm of every
// tier, the reference's included, against the direct loop, with and
// without scratch and with several worker counts, guards included.
func TestConv3DTiersMatchReference(t *testing.T) {
	for i, tc := range c3Cases {
		seed := uint64(10 * i)
		want := runC3(conv3DRef, Reference, 1, false, tc, seed)
		// 1e-5, growing past 512 terms in a sum
		tol := 1e-5 * max(1, float64(tc.c/tc.group*tc.kd*tc.kh*tc.kw)/512)
		for _, k := range append([]*Tier{Reference}, testTiers()...) {
			for _, workers := range []int{1, 2, 3, 8} {
				got := runC3(conv3DGemm, k, workers, workers%2 == 0, tc, seed)
				kerntest.Check(t, fmt.Sprintf("%v %s workers=%d", tc, k.Name, workers), got, want, tol)
			}
		}
	}
}

// TestConv3DDeterministic checks that each tier's result does not depend
// on the worker count, bit for bit.
func TestConv3DDeterministic(t *testing.T) {
	for _, i := range []int{1, 4, 10, 20, 22} {
		tc := c3Cases[i]
		for _, k := range append([]*Tier{Reference}, testTiers()...) {
			first := runC3(Conv3D, k, 1, true, tc, 3)
			for _, workers := range []int{2, 5} {
				got := runC3(Conv3D, k, workers, workers == 2, tc, 3)
				kerntest.SameBits(t, fmt.Sprintf("%v %s workers=%d", tc, k.Name, workers), got, first)
			}
		}
	}
}

// TestConv3DFlatIsConv2D checks the 3-D direct loop against the 2-D one on
// volumes of depth 1 (KD = 1, and KD = 3 with one slice of padding on each
// side, whose outer taps read only padding): the same sums in the same
// order, so the same bits.
func TestConv3DFlatIsConv2D(t *testing.T) {
	for i, tc := range []c3Case{c3Cases[0], c3Cases[6], c3Cases[9], c3Cases[len(c3Cases)-1]} {
		tc.d, tc.kd, tc.sd, tc.dd, tc.pf, tc.pk = 1, 1, 1, 1, 0, 0
		for _, kd := range []int{1, 3} {
			tc.kd, tc.pf, tc.pk = kd, kd/2, kd/2
			g, x, w, b, f := c3Operands(tc, uint64(i))
			got := make([]float32, g.N*g.M*g.OD*g.OH*g.OW)
			conv3DRef(nil, g, x, w, b, got, f)
			// the 2-D weights: the middle slice of each kernel
			w2 := make([]float32, 0, len(w)/kd)
			khw := g.KH * g.KW
			for i := 0; i < len(w); i += kd * khw {
				w2 = append(w2, w[i+kd/2*khw:i+(kd/2+1)*khw]...)
			}
			g2 := &ConvGeom{N: g.N, C: g.C, H: g.H, W: g.W, M: g.M, KH: g.KH, KW: g.KW, OH: g.OH, OW: g.OW,
				PadT: g.PadT, PadL: g.PadL, SH: g.SH, SW: g.SW, DH: g.DH, DW: g.DW, Group: g.Group}
			want := make([]float32, len(got))
			convRef(nil, g2, x, w2, b, want, f)
			kerntest.SameBits(t, fmt.Sprintf("%v kd=%d", tc, kd), got, want)
		}
	}
}

// TestConv3DKnownAnswer checks the direct loop and every tier on a case
// small enough to work out by hand: a 2×2×2 volume holding 1 to 8, a
// 2×2×2 kernel of ones, one position of padding on each side, so that each
// output is the sum of the input values its window overlaps: a corner one
// value, the centre all of them, 36.
func TestConv3DKnownAnswer(t *testing.T) {
	g := &Conv3DGeom{N: 1, C: 1, D: 2, H: 2, W: 2, M: 1, KD: 2, KH: 2, KW: 2, OD: 3, OH: 3, OW: 3,
		PadF: 1, PadT: 1, PadL: 1, SD: 1, SH: 1, SW: 1, DD: 1, DH: 1, DW: 1, Group: 1}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1}
	want := []float32{
		1, 3, 2, 4, 10, 6, 3, 7, 4,
		6, 14, 8, 16, 36, 20, 10, 22, 12,
		5, 11, 6, 12, 26, 14, 7, 15, 8,
	}
	for _, k := range append([]*Tier{Reference}, testTiers()...) {
		y := make([]float32, 27)
		Conv3D(testEnv(k, 2), g, x, w, nil, y, nil)
		kerntest.Check(t, k.Name, y, want, 0)
	}
}

// c3tCase is a 3-D transposed convolution: the geometry's fields, with the
// output sizes derived from the trailing pads and the output padding as
// ONNX derives them:
//
//	OD = sd·(D-1) + opd + dd·(KD-1) + 1 - pf - pk
type c3tCase struct {
	n, c, m, d, h, w int
	kd, kh, kw       int
	sd, sh, sw       int
	dd, dh, dw       int
	pf, pt, pl       int
	pk, pb, pr       int
	opd, oph, opw    int
	group            int
	bias             bool
}

func (tc c3tCase) geom() *ConvTranspose3DGeom {
	out := func(in, k, s, d, p0, p1, op int) int { return s*(in-1) + op + d*(k-1) + 1 - p0 - p1 }
	return &ConvTranspose3DGeom{N: tc.n, C: tc.c, D: tc.d, H: tc.h, W: tc.w, M: tc.m, KD: tc.kd, KH: tc.kh, KW: tc.kw,
		OD: out(tc.d, tc.kd, tc.sd, tc.dd, tc.pf, tc.pk, tc.opd), OH: out(tc.h, tc.kh, tc.sh, tc.dh, tc.pt, tc.pb, tc.oph),
		OW:   out(tc.w, tc.kw, tc.sw, tc.dw, tc.pl, tc.pr, tc.opw),
		PadF: tc.pf, PadT: tc.pt, PadL: tc.pl, SD: tc.sd, SH: tc.sh, SW: tc.sw, DD: tc.dd, DH: tc.dh, DW: tc.dw,
		Group: tc.group}
}

func (tc c3tCase) String() string {
	return fmt.Sprintf("N%d C%d M%d in%dx%dx%d k%dx%dx%d s%d,%d,%d d%d,%d,%d pads %d,%d,%d,%d,%d,%d outpad %d,%d,%d g%d bias=%v",
		tc.n, tc.c, tc.m, tc.d, tc.h, tc.w, tc.kd, tc.kh, tc.kw, tc.sd, tc.sh, tc.sw, tc.dd, tc.dh, tc.dw,
		tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.opd, tc.oph, tc.opw, tc.group, tc.bias)
}

// c3t is a case with strides and dilations 1, no padding, to be changed
// field by field.
func c3t(n, c, m, d, h, w, kd, kh, kw, group int) c3tCase {
	return c3tCase{n: n, c: c, m: m, d: d, h: h, w: w, kd: kd, kh: kh, kw: kw,
		sd: 1, sh: 1, sw: 1, dd: 1, dh: 1, dw: 1, group: group}
}

var c3tCases = func() []c3tCase {
	var cs []c3tCase
	add := func(tc c3tCase, f func(*c3tCase)) {
		if f != nil {
			f(&tc)
		}
		cs = append(cs, tc)
	}
	// 2× upsampling of a 3-D U-Net's decoder, batch 2.
	add(c3t(2, 6, 4, 3, 4, 5, 2, 2, 2, 1), func(tc *c3tCase) { tc.sd, tc.sh, tc.sw, tc.bias = 2, 2, 2, true })
	// Odd channels, stride 3, pads, output padding.
	add(c3t(1, 7, 5, 3, 3, 4, 3, 3, 3, 1), func(tc *c3tCase) {
		tc.sd, tc.sh, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.opd, tc.oph, tc.opw, tc.bias = 2, 3, 2, 1, 1, 2, 0, 1, 2, 1, 2, 0, true
	})
	// Dilations, asymmetric pads, stride 1.
	add(c3t(2, 5, 6, 4, 5, 3, 2, 3, 2, 1), func(tc *c3tCase) {
		tc.dd, tc.dh, tc.dw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr = 2, 2, 3, 1, 2, 0, 0, 1, 3
	})
	// Groups: 2 and depthwise.
	add(c3t(1, 6, 10, 3, 4, 4, 3, 3, 3, 2), func(tc *c3tCase) {
		tc.sd, tc.sh, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.opd, tc.oph, tc.opw, tc.bias = 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, true
	})
	add(c3t(2, 5, 5, 3, 3, 4, 2, 4, 4, 5), func(tc *c3tCase) {
		tc.sh, tc.sw, tc.pt, tc.pl, tc.pb, tc.pr, tc.bias = 2, 2, 1, 1, 1, 1, true
	})
	// Negative pads (an output_shape past the full output).
	add(c3t(1, 3, 4, 2, 3, 3, 3, 3, 3, 1), func(tc *c3tCase) {
		tc.sd, tc.sh, tc.sw, tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias = 2, 2, 2, -1, -2, -1, -2, -1, -3, true
	})
	// Many input positions and deep rows: several chunks, a partial last.
	add(c3t(1, 5, 40, 6, 9, 8, 3, 3, 3, 1), func(tc *c3tCase) {
		tc.pf, tc.pt, tc.pl, tc.pk, tc.pb, tc.pr, tc.bias = 1, 1, 1, 1, 1, 1, true
	})
	add(c3t(1, 70, 9, 4, 6, 5, 2, 2, 2, 1), func(tc *c3tCase) { tc.sd, tc.sh, tc.sw = 2, 2, 2 })
	// D = 1.
	add(c3t(1, 4, 3, 1, 5, 6, 1, 3, 3, 1), func(tc *c3tCase) { tc.sh, tc.sw, tc.oph, tc.bias = 2, 2, 1, true })
	return cs
}()

// runC3T runs f on tc's random operands as runC3 does.
func runC3T(f func(*Env, *ConvTranspose3DGeom, []float32, []float32, []float32, []float32), k *Tier, workers int, scratch bool, tc c3tCase, seed uint64) []float32 {
	g := tc.geom()
	x := kerntest.Rand(seed, g.N*g.C*g.D*g.H*g.W)
	w := kerntest.Rand(seed+1, g.C*(g.M/g.Group)*g.KD*g.KH*g.KW)
	var b []float32
	if tc.bias {
		b = kerntest.Rand(seed+2, g.M)
	}
	const pad = 7
	ny := g.N * g.M * g.OD * g.OH * g.OW
	buf := make([]float32, ny+2*pad)
	for i := range buf {
		buf[i] = kerntest.Guard
	}
	for i := pad; i < pad+ny; i++ {
		buf[i] = float32(math.NaN())
	}
	env := testEnv(k, workers)
	if scratch {
		env.Scratch = make([]float32, ConvTranspose3DScratch(g))
	}
	f(env, g, x, w, b, buf[pad:pad+ny:pad+ny])
	return buf
}

// TestConvTranspose3DTiersMatchReference runs the col2im path on the Gemm
// of every tier against the direct scatter, as for 2-D.
func TestConvTranspose3DTiersMatchReference(t *testing.T) {
	for i, tc := range c3tCases {
		seed := uint64(10 * i)
		want := runC3T(convTranspose3DRef, Reference, 1, false, tc, seed)
		for _, k := range append([]*Tier{Reference}, testTiers()...) {
			for _, workers := range []int{1, 2, 3, 8} {
				got := runC3T(convTranspose3DGemm, k, workers, workers%2 == 0, tc, seed)
				kerntest.Check(t, fmt.Sprintf("%v %s workers=%d", tc, k.Name, workers), got, want, 1e-5)
			}
		}
	}
}

// TestConvTranspose3DDeterministic checks that each tier's result does not
// depend on the worker count, bit for bit.
func TestConvTranspose3DDeterministic(t *testing.T) {
	for _, tc := range []c3tCase{c3tCases[3], c3tCases[6], c3tCases[7]} {
		for _, k := range append([]*Tier{Reference}, testTiers()...) {
			first := runC3T(ConvTranspose3D, k, 1, true, tc, 3)
			for _, workers := range []int{2, 5} {
				got := runC3T(ConvTranspose3D, k, workers, workers == 2, tc, 3)
				kerntest.SameBits(t, fmt.Sprintf("%v %s workers=%d", tc, k.Name, workers), got, first)
			}
		}
	}
}

// TestConvTranspose3DFlatIsConvTranspose2D checks the 3-D direct scatter
// against the 2-D one on volumes of depth 1: the same sums in the same
// order.
func TestConvTranspose3DFlatIsConvTranspose2D(t *testing.T) {
	for i, tc := range c3tCases {
		tc.d, tc.kd, tc.sd, tc.dd, tc.pf, tc.pk, tc.opd = 1, 1, 1, 1, 0, 0, 0
		g := tc.geom()
		x := kerntest.Rand(uint64(i), g.N*g.C*g.H*g.W)
		w := kerntest.Rand(uint64(i)+1, g.C*(g.M/g.Group)*g.KH*g.KW)
		b := kerntest.Rand(uint64(i)+2, g.M)
		got := make([]float32, g.N*g.M*g.OH*g.OW)
		convTranspose3DRef(nil, g, x, w, b, got)
		g2 := &ConvTransposeGeom{N: g.N, C: g.C, H: g.H, W: g.W, M: g.M, KH: g.KH, KW: g.KW, OH: g.OH, OW: g.OW,
			PadT: g.PadT, PadL: g.PadL, SH: g.SH, SW: g.SW, DH: g.DH, DW: g.DW, Group: g.Group}
		want := make([]float32, len(got))
		convTransposeRef(nil, g2, x, w, b, want)
		kerntest.SameBits(t, tc.String(), got, want)
	}
}

// TestConvTranspose3DKnownAnswer: a 2×2×2 input, stride 2, a 2×2×2 kernel
// of ones, so that each input value fills its own 2×2×2 block, plus a bias
// of 10.
func TestConvTranspose3DKnownAnswer(t *testing.T) {
	g := &ConvTranspose3DGeom{N: 1, C: 1, D: 2, H: 2, W: 2, M: 1, KD: 2, KH: 2, KW: 2, OD: 4, OH: 4, OW: 4,
		SD: 2, SH: 2, SW: 2, DD: 1, DH: 1, DW: 1, Group: 1}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1}
	want := make([]float32, 64)
	for od := range 4 {
		for oh := range 4 {
			for ow := range 4 {
				want[(od*4+oh)*4+ow] = 10 + x[(od/2*2+oh/2)*2+ow/2]
			}
		}
	}
	for _, k := range append([]*Tier{Reference}, testTiers()...) {
		y := make([]float32, 64)
		ConvTranspose3D(testEnv(k, 3), g, x, w, []float32{10}, y)
		kerntest.Check(t, k.Name, y, want, 0)
	}
}
