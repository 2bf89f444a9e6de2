package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bnrun/bnrun/kern"
)

// The kernel tests run each kernel on small, awkward shapes (odd channel
// counts, tiles cut short, padding, strides, groups, batches) and compare
// it with the kernel library's reference (kern.Reference, kern's
// activations and softmax lanes) or, where kern has none, a plain Go one,
// at the repository's default tolerance. The kernels whose meaning is an
// operator's (global pools, binary operators with broadcasting, Pad) are
// tested against ops' CPU steps instead, by TestLowerRuns in package
// lower.
// TestKernels runs them on a real GPU; TestKernelsEmulated on
// testdata/fakecuda, a CPU stand-in for the driver.

const (
	atol = 1e-4
	rtol = 1e-4
)

// gpuEnv is a context, its kernels and a stream, with helpers that free
// what they allocate when the test ends.
type gpuEnv struct {
	t *testing.T
	c *Context
	k *Kernels
	s *Stream
}

// newGPUEnv loads the kernels in c and makes a stream.
func newGPUEnv(t *testing.T, c *Context) *gpuEnv {
	t.Helper()
	k, err := c.Kernels()
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return &gpuEnv{t: t, c: c, k: k, s: s}
}

// alloc allocates n float32s, freed at the end of the test.
func (e *gpuEnv) alloc(n int) Buffer {
	e.t.Helper()
	b, err := e.c.Alloc(4 * n)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := e.c.Free(b); err != nil {
			e.t.Error(err)
		}
	})
	return b
}

// upload copies x to a new buffer; nil gives the null Buffer.
func (e *gpuEnv) upload(x []float32) Buffer {
	e.t.Helper()
	if x == nil {
		return Buffer{}
	}
	b := e.alloc(len(x))
	if err := e.s.CopyIn(b, x); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// download waits for the stream and copies n float32s out of b.
func (e *gpuEnv) download(b Buffer, n int) []float32 {
	e.t.Helper()
	y := make([]float32, n)
	if err := e.s.CopyOut(y, b); err != nil {
		e.t.Fatal(err)
	}
	return y
}

// must fails the test on a launch error.
func (e *gpuEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// compare checks got against want elementwise: |got - want| <= atol +
// rtol*|want|, NaNs matching NaNs.
func compare(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if !(math.Abs(g-w) <= atol+rtol*math.Abs(w)) {
			if bad < 5 {
				t.Errorf("%s: [%d] = %g, want %g", what, i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(want))
	}
}

// randn returns n pseudo-random values in [-1, 1) from seed.
func randn(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(2*r.Float64() - 1)
	}
	return x
}

// convCase is a convolution test: the geometry with both paddings, and
// which fusions to use.
type convCase struct {
	name                     string
	n, c, h, w, m, kh, kw    int
	groups                   int
	pt, pl, pb, pr           int // top, left, bottom, right padding
	sh, sw, dh, dw           int
	bias, residual, prologue bool
	inRelu                   bool
	act                      kern.Activation
}

// convRef computes the convolution of ConvArgs with the kernel library's
// reference tier (kern.Reference), whose fusion is the same: x' =
// PreAct(sc·x + sf) read for x (Relu as PreAct when inRelu; sc = 1 and sf
// = 0 for a Relu alone), then y = Act(conv(x', w) + bias + res).
func convRef(sh kern.ConvGeom, x, w, bias, res, sc, sf []float32, inRelu bool, act kern.Activation) []float32 {
	y := make([]float32, sh.N*sh.M*sh.OH*sh.OW)
	kern.Reference.Conv(&kern.Env{K: kern.Reference, Par: kern.Serial{}}, &sh, x, w, bias, y, refFusion(sh.C, res, sc, sf, inRelu, act))
	return y
}

// refFusion returns ConvArgs's fusions as the reference tier takes them,
// for c input channels.
func refFusion(c int, res, sc, sf []float32, inRelu bool, act kern.Activation) *kern.ConvFusion {
	f := &kern.ConvFusion{Residual: res, Act: act}
	if sc != nil || inRelu {
		f.PreScale, f.PreBias = sc, sf
		if sc == nil {
			f.PreScale, f.PreBias = make([]float32, c), make([]float32, c)
			for i := range f.PreScale {
				f.PreScale[i] = 1
			}
		}
		if inRelu {
			f.PreAct = kern.Activation{Kind: kern.ActRelu}
		}
	}
	return f
}

// testConv3D runs 3-D convolutions (the implicit GEMM and the depthwise
// kernel) against the kernel library's reference tier (kern.Reference's
// direct loop, with the same fusions): odd sizes, strides, dilations,
// asymmetric and depth padding, groups, batches, prologue and residual.
func testConv3D(t *testing.T, e *gpuEnv) {
	type c3 struct {
		name                              string
		n, c, d, h, w, m, kd, kh, kw, grp int
		pf, pt, pl                        int // leading pads; the trailing ones below
		pb                                [3]int
		sd, sh, sw, dd, dh, dw            int
		bias, residual, prologue, inRelu  bool
		act                               kern.Activation
	}
	relu := kern.Activation{Kind: kern.ActRelu}
	for i, c := range []c3{
		{name: "3x3x3 pad 1", n: 1, c: 3, d: 4, h: 5, w: 6, m: 5, kd: 3, kh: 3, kw: 3, grp: 1, pf: 1, pt: 1, pl: 1, pb: [3]int{1, 1, 1},
			sd: 1, sh: 1, sw: 1, dd: 1, dh: 1, dw: 1, bias: true},
		{name: "strided batch 2 asymmetric pads relu", n: 2, c: 5, d: 5, h: 9, w: 7, m: 7, kd: 3, kh: 3, kw: 3, grp: 1, pf: 1, pt: 0, pl: 1, pb: [3]int{0, 1, 0},
			sd: 2, sh: 2, sw: 1, dd: 1, dh: 1, dw: 1, bias: true, act: relu},
		{name: "grouped dilated (a video net's)", n: 1, c: 4, d: 5, h: 7, w: 6, m: 6, kd: 2, kh: 3, kw: 3, grp: 2, pf: 1, pt: 0, pl: 2, pb: [3]int{1, 0, 2},
			sd: 1, sh: 2, sw: 1, dd: 2, dh: 1, dw: 2},
		{name: "1x1x1 many channels residual", n: 2, c: 33, d: 2, h: 3, w: 5, m: 70, kd: 1, kh: 1, kw: 1, grp: 1,
			sd: 1, sh: 1, sw: 1, dd: 1, dh: 1, dw: 1, bias: true, residual: true, act: relu},
		{name: "prologue affine relu, padding", n: 1, c: 6, d: 3, h: 5, w: 4, m: 4, kd: 3, kh: 3, kw: 3, grp: 1, pf: 1, pt: 1, pl: 1, pb: [3]int{1, 1, 1},
			sd: 1, sh: 1, sw: 1, dd: 1, dh: 1, dw: 1, prologue: true, inRelu: true, act: kern.Activation{Kind: kern.ActClip, Min: -0.5, Max: 0.5}},
		{name: "depthwise multiplier 2", n: 2, c: 4, d: 4, h: 5, w: 5, m: 8, kd: 3, kh: 3, kw: 3, grp: 4, pf: 1, pt: 1, pl: 1, pb: [3]int{1, 1, 1},
			sd: 1, sh: 1, sw: 1, dd: 1, dh: 1, dw: 1, bias: true, residual: true, act: relu},
		{name: "depthwise strided dilated prologue", n: 1, c: 3, d: 6, h: 7, w: 8, m: 3, kd: 2, kh: 3, kw: 3, grp: 3, pf: 0, pt: 2, pl: 1, pb: [3]int{1, 2, 1},
			sd: 2, sh: 1, sw: 2, dd: 1, dh: 2, dw: 1, prologue: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := kern.Conv3DGeom{N: c.n, C: c.c, D: c.d, H: c.h, W: c.w, M: c.m, KD: c.kd, KH: c.kh, KW: c.kw,
				OD: kern.WindowOut(c.d, c.kd, c.pf, c.pb[0], c.sd, c.dd, false), OH: kern.WindowOut(c.h, c.kh, c.pt, c.pb[1], c.sh, c.dh, false),
				OW: kern.WindowOut(c.w, c.kw, c.pl, c.pb[2], c.sw, c.dw, false), PadF: c.pf, PadT: c.pt, PadL: c.pl,
				SD: c.sd, SH: c.sh, SW: c.sw, DD: c.dd, DH: c.dh, DW: c.dw, Group: c.grp}
			seed := uint64(700 + 10*i)
			x := randn(seed, c.n*c.c*c.d*c.h*c.w)
			w := randn(seed+1, c.m*(c.c/c.grp)*c.kd*c.kh*c.kw)
			ny := c.n * c.m * g.OD * g.OH * g.OW
			var bias, res, sc, sf []float32
			if c.bias {
				bias = randn(seed+2, c.m)
			}
			if c.residual {
				res = randn(seed+3, ny)
			}
			if c.prologue {
				sc, sf = randn(seed+4, c.c), randn(seed+5, c.c)
				for j := range sf {
					sf[j] += 0.5 // a shift that would show if the padding were transformed
				}
			}
			want := make([]float32, ny)
			kern.Conv3D(&kern.Env{K: kern.Reference, Par: kern.Serial{}}, &g, x, w, bias, want, refFusion(c.c, res, sc, sf, c.inRelu, c.act))
			y := e.alloc(ny)
			e.must(e.k.Conv3D(e.s, g, ConvArgs{X: e.upload(x), W: e.upload(w), Y: y, Bias: e.upload(bias), Residual: e.upload(res),
				InScale: e.upload(sc), InShift: e.upload(sf), InRelu: c.inRelu, Act: c.act}))
			compare(t, c.name, e.download(y, ny), want)
		})
	}
}

// testConv runs the convolution cases.
func testConv(t *testing.T, e *gpuEnv) {
	cases := []convCase{
		{name: "3x3 pad 1", n: 1, c: 3, h: 7, w: 7, m: 5, kh: 3, kw: 3, groups: 1, pt: 1, pl: 1, pb: 1, pr: 1, sh: 1, sw: 1, dh: 1, dw: 1},
		{name: "odd channels stride 2 asymmetric pads batch 2", n: 2, c: 5, h: 9, w: 11, m: 7, kh: 3, kw: 3, groups: 1, pt: 1, pl: 0, pb: 0, pr: 1, sh: 2, sw: 2, dh: 1, dw: 1, bias: true},
		{name: "several tiles, K not a multiple of 16", n: 2, c: 20, h: 10, w: 10, m: 70, kh: 3, kw: 3, groups: 1, pt: 1, pl: 1, pb: 1, pr: 1, sh: 1, sw: 1, dh: 1, dw: 1, bias: true, act: kern.Activation{Kind: kern.ActRelu}},
		{name: "groups 3 dilation 2", n: 2, c: 6, h: 8, w: 9, m: 9, kh: 3, kw: 3, groups: 3, pt: 2, pl: 2, pb: 2, pr: 2, sh: 1, sw: 1, dh: 2, dw: 2, bias: true},
		{name: "1x3 kernel stride 1x2", n: 1, c: 4, h: 5, w: 12, m: 6, kh: 1, kw: 3, groups: 1, pt: 0, pl: 1, pb: 0, pr: 1, sh: 1, sw: 2, dh: 1, dw: 1},
		{name: "1x1 residual relu", n: 2, c: 33, h: 5, w: 6, m: 65, kh: 1, kw: 1, groups: 1, sh: 1, sw: 1, dh: 1, dw: 1, bias: true, residual: true, act: kern.Activation{Kind: kern.ActRelu}},
		{name: "prologue affine relu with padding, residual, relu", n: 2, c: 7, h: 6, w: 5, m: 9, kh: 3, kw: 3, groups: 1, pt: 1, pl: 1, pb: 1, pr: 1, sh: 1, sw: 1, dh: 1, dw: 1, bias: true, residual: true, prologue: true, inRelu: true, act: kern.Activation{Kind: kern.ActRelu}},
		{name: "prologue affine, stride 2, clip", n: 1, c: 10, h: 9, w: 9, m: 12, kh: 3, kw: 3, groups: 2, pt: 1, pl: 1, pb: 1, pr: 1, sh: 2, sw: 2, dh: 1, dw: 1, prologue: true, act: kern.Activation{Kind: kern.ActClip, Min: -0.5, Max: 0.75}},
		{name: "prologue relu only, leaky relu", n: 1, c: 3, h: 6, w: 6, m: 4, kh: 3, kw: 3, groups: 1, pt: 1, pl: 1, pb: 1, pr: 1, sh: 1, sw: 1, dh: 1, dw: 1, inRelu: true, act: kern.Activation{Kind: kern.ActLeakyRelu, Alpha: 0.1}},
		{name: "depthwise stride 2", n: 2, c: 8, h: 9, w: 10, m: 8, kh: 3, kw: 3, groups: 8, pt: 1, pl: 1, pb: 1, pr: 1, sh: 2, sw: 2, dh: 1, dw: 1, bias: true, act: kern.Activation{Kind: kern.ActClip, Min: 0, Max: 6}},
		{name: "depthwise multiplier 2, prologue, residual", n: 2, c: 5, h: 7, w: 6, m: 10, kh: 3, kw: 3, groups: 5, pt: 1, pl: 1, pb: 1, pr: 1, sh: 1, sw: 1, dh: 1, dw: 1, bias: true, residual: true, prologue: true, inRelu: true, act: kern.Activation{Kind: kern.ActRelu}},
		{name: "depthwise 5x5 dilation 2", n: 1, c: 3, h: 11, w: 11, m: 3, kh: 5, kw: 5, groups: 3, pt: 4, pl: 4, pb: 4, pr: 4, sh: 1, sw: 1, dh: 2, dw: 2},
	}
	for i, cc := range cases {
		t.Run(cc.name, func(t *testing.T) {
			sh := kern.ConvGeom{
				N: cc.n, C: cc.c, H: cc.h, W: cc.w, M: cc.m, KH: cc.kh, KW: cc.kw, Group: cc.groups,
				PadT: cc.pt, PadL: cc.pl, PadB: cc.pb, PadR: cc.pr, SH: cc.sh, SW: cc.sw, DH: cc.dh, DW: cc.dw,
				OH: kern.WindowOut(cc.h, cc.kh, cc.pt, cc.pb, cc.sh, cc.dh, false),
				OW: kern.WindowOut(cc.w, cc.kw, cc.pl, cc.pr, cc.sw, cc.dw, false),
			}
			seed := uint64(100 * i)
			x := randn(seed+1, sh.N*sh.C*sh.H*sh.W)
			w := randn(seed+2, sh.M*(sh.C/sh.Group)*sh.KH*sh.KW)
			ny := sh.N * sh.M * sh.OH * sh.OW
			var bias, res, sc, sf []float32
			if cc.bias {
				bias = randn(seed+3, sh.M)
			}
			if cc.residual {
				res = randn(seed+4, ny)
			}
			if cc.prologue {
				sc = randn(seed+5, sh.C)
				sf = randn(seed+6, sh.C)
				for j := range sf {
					sf[j] += 0.5 // a shift that would show if the padding were transformed
				}
			}
			want := convRef(sh, x, w, bias, res, sc, sf, cc.inRelu, cc.act)
			y := e.alloc(ny)
			e.must(e.k.Conv(e.s, sh, ConvArgs{
				X: e.upload(x), W: e.upload(w), Y: y, Bias: e.upload(bias), Residual: e.upload(res),
				InScale: e.upload(sc), InShift: e.upload(sf), InRelu: cc.inRelu, Act: cc.act,
			}))
			compare(t, cc.name, e.download(y, ny), want)
		})
	}
	t.Run("residual in place", func(t *testing.T) {
		sh := kern.ConvGeom{N: 1, C: 4, H: 5, W: 5, M: 6, KH: 3, KW: 3, Group: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
			OH: 5, OW: 5, SH: 1, SW: 1, DH: 1, DW: 1}
		x, w, res := randn(1, 100), randn(2, 6*4*9), randn(3, 150)
		want := convRef(sh, x, w, nil, res, nil, nil, false, kern.Activation{Kind: kern.ActRelu})
		y := e.upload(res)
		e.must(e.k.Conv(e.s, sh, ConvArgs{X: e.upload(x), W: e.upload(w), Y: y, Residual: y, Act: kern.Activation{Kind: kern.ActRelu}}))
		compare(t, "in place", e.download(y, 150), want)
	})
}

// gemmRef computes GemmArgs's product with the kernel library's reference
// tier: Y = Act(alpha·op(A)·op(B) + beta·C); c is C already broadcast to
// [M,N] (or nil).
func gemmRef(m, n, k int, a, b, c []float32, ta, tb bool, alpha, beta float32, act kern.Activation) []float32 {
	y := make([]float32, m*n)
	lda, ldb := k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	if c == nil {
		beta = 0
	} else {
		copy(y, c)
	}
	kern.Reference.Gemm(&kern.Env{K: kern.Reference, Par: kern.Serial{}}, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, y, n)
	act.Apply(y)
	return y
}

// testGemm runs Gemm with every transposition and shape of C.
func testGemm(t *testing.T, e *gpuEnv) {
	const m, n, k = 70, 65, 33
	i := 0
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			for _, cs := range [][]int{nil, {}, {n}, {m, 1}, {m, n}} {
				i++
				name := fmt.Sprintf("transA=%v transB=%v C=%v", ta, tb, cs)
				t.Run(name, func(t *testing.T) {
					a, b := randn(uint64(i), m*k), randn(uint64(i+50), k*n)
					var c, cFull []float32
					if cs != nil {
						nc := 1
						for _, d := range cs {
							nc *= d
						}
						c = randn(uint64(i+90), nc)
						rs, cols, err := gemmCStrides(cs, m, n)
						if err != nil {
							t.Fatal(err)
						}
						cFull = make([]float32, m*n)
						for r := range m {
							for q := range n {
								cFull[r*n+q] = c[r*rs+q*cols]
							}
						}
					}
					act := kern.Activation{Kind: kern.ActRelu}
					if i%2 == 0 {
						act = kern.Activation{}
					}
					want := gemmRef(m, n, k, a, b, cFull, ta, tb, 0.5, 1.5, act)
					y := e.alloc(m * n)
					e.must(e.k.Gemm(e.s, GemmArgs{A: e.upload(a), B: e.upload(b), C: e.upload(c), Y: y, CShape: cs,
						M: m, N: n, K: k, TransA: ta, TransB: tb, Alpha: 0.5, Beta: 1.5, Act: act}))
					compare(t, name, e.download(y, m*n), want)
				})
			}
		}
	}
}

// poolRef computes a max or average pool with the kernel library's plain
// loops (kern.MaxPoolPlane, kern.AvgPoolPlane: the CPU's definition).
func poolRef(g kern.PoolGeom, x []float32, isMax, countPad bool) []float32 {
	y := make([]float32, g.Planes*g.D.Out*g.H.Out*g.W.Out)
	for p := range g.Planes {
		if isMax {
			kern.MaxPoolPlane(&g, p, x, y, nil, false)
		} else {
			kern.AvgPoolPlane(&g, p, x, y, countPad)
		}
	}
	return y
}

// testPool runs max and average pools, 2-D and 3-D, with ceil_mode
// sizes, against the kernel library's plain loops.
func testPool(t *testing.T, e *gpuEnv) {
	for i, c := range []struct {
		name        string
		planes      int
		in, k, s, d [3]int
		p0, p1      [3]int
		ceil        bool
	}{
		{"3-D 3x3x3 stride 2 pad 1", 6, [3]int{5, 7, 6}, [3]int{3, 3, 3}, [3]int{2, 2, 2}, [3]int{1, 1, 1}, [3]int{1, 1, 1}, [3]int{1, 1, 1}, false},
		{"3-D 1x3x3 (a video net's)", 4, [3]int{3, 9, 8}, [3]int{1, 3, 3}, [3]int{1, 2, 2}, [3]int{1, 1, 1}, [3]int{0, 1, 1}, [3]int{0, 1, 1}, false},
		{"3-D dilated ceil", 3, [3]int{5, 7, 6}, [3]int{2, 3, 2}, [3]int{2, 2, 1}, [3]int{1, 2, 2}, [3]int{1, 1, 0}, [3]int{1, 1, 0}, true},
		{"3-D ceil past the end padding", 2, [3]int{6, 5, 7}, [3]int{3, 2, 3}, [3]int{2, 2, 2}, [3]int{1, 1, 1}, [3]int{1, 1, 1}, [3]int{1, 0, 1}, true},
	} {
		axis := func(j int) kern.PoolAxis {
			return kern.PoolAxis{In: c.in[j], Out: kern.WindowOut(c.in[j], c.k[j], c.p0[j], c.p1[j], c.s[j], c.d[j], c.ceil),
				K: c.k[j], S: c.s[j], Dil: c.d[j], Pad0: c.p0[j], Pad1: c.p1[j]}
		}
		p := kern.PoolGeom{Planes: c.planes, D: axis(0), H: axis(1), W: axis(2)}
		x := randn(uint64(250+i), c.planes*c.in[0]*c.in[1]*c.in[2])
		ny := p.Planes * p.D.Out * p.H.Out * p.W.Out
		for _, mode := range []string{"max", "avg", "avg count_include_pad"} {
			name := c.name + " " + mode
			t.Run(name, func(t *testing.T) {
				xb, y := e.upload(x), e.alloc(ny)
				if mode == "max" {
					e.must(e.k.MaxPool(e.s, p, xb, y))
				} else {
					e.must(e.k.AvgPool(e.s, p, mode != "avg", xb, y))
				}
				compare(t, name, e.download(y, ny), poolRef(p, x, mode == "max", mode != "avg"))
			})
		}
	}
	for i, c := range []struct {
		name                      string
		nc, h, w, k, s, d, p0, p1 int
		ceil                      bool
	}{
		{"3x3 stride 2 pad 1", 6, 9, 10, 3, 2, 1, 1, 1, false},
		{"2x2 stride 2", 5, 8, 8, 2, 2, 1, 0, 0, false},
		{"3x3 stride 2 ceil", 3, 8, 11, 3, 2, 1, 0, 0, true},
		{"3x3 stride 2 pad 1 ceil", 4, 10, 7, 3, 2, 1, 1, 1, true},
		{"3x3 dilation 2 pad 2", 2, 9, 9, 3, 1, 2, 2, 2, false},
		{"2x2 pads 0,1 ceil", 3, 6, 6, 2, 2, 1, 0, 1, true},
	} {
		axis := func(in int) kern.PoolAxis {
			return kern.PoolAxis{In: in, Out: kern.WindowOut(in, c.k, c.p0, c.p1, c.s, c.d, c.ceil),
				K: c.k, S: c.s, Dil: c.d, Pad0: c.p0, Pad1: c.p1}
		}
		p := kern.PoolGeom{Planes: c.nc, D: kern.UnitPoolAxis, H: axis(c.h), W: axis(c.w)}
		x := randn(uint64(200+i), c.nc*c.h*c.w)
		ny := p.Planes * p.H.Out * p.W.Out
		for _, mode := range []string{"max", "avg", "avg count_include_pad"} {
			name := c.name + " " + mode
			t.Run(name, func(t *testing.T) {
				xb, y := e.upload(x), e.alloc(ny)
				if mode == "max" {
					e.must(e.k.MaxPool(e.s, p, xb, y))
				} else {
					e.must(e.k.AvgPool(e.s, p, mode != "avg", xb, y))
				}
				compare(t, name, e.download(y, ny), poolRef(p, x, mode == "max", mode != "avg"))
			})
		}
	}
}

// testAffineUnary runs the per-channel affine and the unary activations.
func testAffineUnary(t *testing.T, e *gpuEnv) {
	const n, c, hw = 2, 5, 13
	x, a, b := randn(1, n*c*hw), randn(2, c), randn(3, c)
	for i := range x {
		x[i] *= 4 // reach Clip's bounds and sigmoid's tails
	}
	acts := []kern.Activation{{}, {Kind: kern.ActRelu}, {Kind: kern.ActLeakyRelu, Alpha: 0.2}, {Kind: kern.ActClip, Min: -1, Max: 2}, {Kind: kern.ActSigmoid}, {Kind: kern.ActTanh}, {Kind: kern.ActSilu},
		{Kind: kern.ActHardSigmoid, Alpha: 0.3, Beta: 0.4}, {Kind: kern.ActHardSwish}, {Kind: kern.ActGelu}, {Kind: kern.ActGeluTanh}}
	for _, act := range acts {
		t.Run(fmt.Sprintf("affine act %d", act.Kind), func(t *testing.T) {
			want := make([]float32, len(x))
			for i, v := range x {
				ch := (i / hw) % c
				want[i] = act.One(a[ch]*v + b[ch])
			}
			y := e.alloc(len(x))
			e.must(e.k.Affine(e.s, n, c, hw, e.upload(x), e.upload(a), e.upload(b), y, act))
			compare(t, "affine", e.download(y, len(x)), want)
		})
		t.Run(fmt.Sprintf("unary act %d in place", act.Kind), func(t *testing.T) {
			want := make([]float32, len(x))
			for i, v := range x {
				want[i] = act.One(v)
			}
			xb := e.upload(x)
			e.must(e.k.Unary(e.s, len(x), xb, xb, act))
			compare(t, "unary", e.download(xb, len(x)), want)
		})
	}
}

// testConcat concatenates three tensors along axis 1.
func testConcat(t *testing.T, e *gpuEnv) {
	const outer, inner = 2, 12
	chans := []int{3, 5, 2}
	cOut := 10
	y := e.alloc(outer * cOut * inner)
	want := make([]float32, outer*cOut*inner)
	off := 0
	for i, ci := range chans {
		x := randn(uint64(300+i), outer*ci*inner)
		for o := range outer {
			copy(want[(o*cOut+off)*inner:(o*cOut+off+ci)*inner], x[o*ci*inner:(o+1)*ci*inner])
		}
		e.must(e.k.Concat(e.s, outer, inner, e.upload(x), ci, y, cOut, off))
		off += ci
	}
	compare(t, "concat", e.download(y, len(want)), want)
}

// testPad checks that Pad refuses mismatched ranks (its results are
// TestLowerRuns's, in package lower, against the CPU's Pad).
func testPad(t *testing.T, e *gpuEnv) {
	if err := e.k.Pad(e.s, []int{2}, []int{3, 1}, []int{0}, kern.PadConstant, 0, Buffer{}, Buffer{}); err == nil {
		t.Error("Pad with mismatched ranks: no error")
	}
}

// testSoftmax runs softmax and its logarithm along the last and a middle
// axis against the kernel library's definition (kern.SoftmaxLane).
func testSoftmax(t *testing.T, e *gpuEnv) {
	for _, c := range []struct{ outer, dim, inner int }{{3, 10, 1}, {2, 300, 1}, {2, 5, 7}, {1, 1, 1}, {3, 257, 2}} {
		for _, log := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%d log=%v", c.outer, c.dim, c.inner, log)
			t.Run(name, func(t *testing.T) {
				x := randn(uint64(c.dim), c.outer*c.dim*c.inner)
				for i := range x {
					x[i] *= 20
				}
				want := make([]float32, len(x))
				for l := range c.outer * c.inner {
					kern.SoftmaxLane(want, x, (l/c.inner)*c.dim*c.inner+l%c.inner, c.dim, c.inner, log)
				}
				y := e.alloc(len(x))
				e.must(e.k.Softmax(e.s, c.outer, c.dim, c.inner, log, e.upload(x), y))
				compare(t, name, e.download(y, len(x)), want)
			})
		}
	}
}

// testConvTranspose runs transposed convolutions against the kernel
// library's reference tier (kern.Reference's direct scatter): strides,
// dilations, groups, negative and asymmetric padding, output padding
// (outputs past the last input's footprint), batches, 1-D; and 3-D ones
// against kern.ConvTranspose3D's reference, negative depth padding too.
func testConvTranspose(t *testing.T, e *gpuEnv) {
	for i, c := range []struct {
		name                      string
		n, c, h, w, m, kh, kw, gr int
		pt, pl, sh, sw, dh, dw    int
		extraH, extraW            int // output padding
		bias                      bool
	}{
		{"2x2 stride 2 (U-Net up)", 2, 6, 5, 7, 4, 2, 2, 1, 0, 0, 2, 2, 1, 1, 0, 0, true},
		{"3x3 stride 2 pad 1 output padding 1", 1, 5, 6, 5, 7, 3, 3, 1, 1, 1, 2, 2, 1, 1, 1, 1, true},
		{"4x4 stride 2 pad 1 groups 3", 2, 6, 4, 5, 9, 4, 4, 3, 1, 1, 2, 2, 1, 1, 0, 0, false},
		{"3x3 dilation 2 stride 1x3", 1, 3, 5, 4, 5, 3, 3, 1, 2, 1, 1, 3, 2, 2, 0, 2, true},
		{"depthwise 3x3 stride 2", 1, 4, 6, 6, 4, 3, 3, 4, 1, 1, 2, 2, 1, 1, 1, 0, true},
		{"negative padding", 1, 3, 4, 4, 2, 3, 3, 1, -1, -2, 2, 2, 1, 1, 0, 0, true},
		{"1-D stride 4", 2, 5, 1, 9, 3, 1, 5, 1, 0, 2, 1, 4, 1, 1, 0, 3, true},
		{"many input channels", 1, 70, 3, 3, 17, 2, 2, 1, 0, 0, 2, 2, 1, 1, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// ONNX: out = stride·(in-1) + output_padding + (k-1)·dil + 1 - pads (both ends
			// padded alike here, the end padding the same as the leading one)
			oh := c.sh*(c.h-1) + c.extraH + (c.kh-1)*c.dh + 1 - 2*c.pt
			ow := c.sw*(c.w-1) + c.extraW + (c.kw-1)*c.dw + 1 - 2*c.pl
			g := kern.ConvTransposeGeom{N: c.n, C: c.c, H: c.h, W: c.w, M: c.m, KH: c.kh, KW: c.kw, OH: oh, OW: ow,
				PadT: c.pt, PadL: c.pl, SH: c.sh, SW: c.sw, DH: c.dh, DW: c.dw, Group: c.gr}
			seed := uint64(500 + 10*i)
			x := randn(seed, c.n*c.c*c.h*c.w)
			w := randn(seed+1, c.c*(c.m/c.gr)*c.kh*c.kw)
			var b []float32
			if c.bias {
				b = randn(seed+2, c.m)
			}
			ny := c.n * c.m * oh * ow
			want := make([]float32, ny)
			kern.ConvTranspose(&kern.Env{K: kern.Reference, Par: kern.Serial{}}, &g, x, w, b, want)
			y := e.alloc(ny)
			e.must(e.k.ConvTranspose(e.s, g, e.upload(x), e.upload(w), e.upload(b), y))
			compare(t, c.name, e.download(y, ny), want)
		})
	}
	if err := e.k.ConvTranspose(e.s, kern.ConvTransposeGeom{N: 1, C: 3, H: 2, W: 2, M: 4, KH: 1, KW: 1, OH: 2, OW: 2, Group: 2},
		Buffer{}, Buffer{}, Buffer{}, Buffer{}); err == nil {
		t.Error("ConvTranspose with 3 channels in 2 groups: no error")
	}
	for i, g := range []kern.ConvTranspose3DGeom{
		{N: 2, C: 4, D: 3, H: 4, W: 3, M: 6, KD: 3, KH: 2, KW: 3, OD: 8, OH: 5, OW: 7, PadF: 1, PadT: 0, PadL: 1,
			SD: 2, SH: 1, SW: 2, DD: 1, DH: 2, DW: 1, Group: 2},
		{N: 1, C: 3, D: 2, H: 3, W: 2, M: 3, KD: 2, KH: 3, KW: 2, OD: 6, OH: 7, OW: 5, PadF: -1, PadT: 1, PadL: 0,
			SD: 3, SH: 2, SW: 2, DD: 1, DH: 1, DW: 1, Group: 3},
	} {
		t.Run(fmt.Sprintf("3-D %d", i), func(t *testing.T) {
			seed := uint64(700 + 10*i)
			x := randn(seed, g.N*g.C*g.D*g.H*g.W)
			w := randn(seed+1, g.C*(g.M/g.Group)*g.KD*g.KH*g.KW)
			b := randn(seed+2, g.M)
			ny := g.N * g.M * g.OD * g.OH * g.OW
			want := make([]float32, ny)
			kern.ConvTranspose3D(&kern.Env{K: kern.Reference, Par: kern.Serial{}}, &g, x, w, b, want)
			y := e.alloc(ny)
			e.must(e.k.ConvTranspose3D(e.s, g, e.upload(x), e.upload(w), e.upload(b), y))
			compare(t, "3-D", e.download(y, ny), want)
		})
	}
	for _, g := range []kern.ConvTranspose3DGeom{
		{N: 1, C: 3, D: 2, H: 2, W: 2, M: 4, KD: 1, KH: 1, KW: 1, OD: 2, OH: 2, OW: 2, Group: 2},
		{N: 1, C: 2, D: 2, H: 2, W: 2, M: 2, KD: 1, KH: 1, KW: 1, OD: 0, OH: 2, OW: 2},
	} {
		if err := e.k.ConvTranspose3D(e.s, g, Buffer{}, Buffer{}, Buffer{}, Buffer{}); err == nil {
			t.Errorf("ConvTranspose3D %+v: no error", g)
		}
	}
}

// kernelTests are the kernel tests, each run on a fresh environment.
var kernelTests = []struct {
	name string
	run  func(t *testing.T, e *gpuEnv)
}{
	{"Conv", testConv},
	{"Conv3D", testConv3D},
	{"Gemm", testGemm},
	{"Pool", testPool},
	{"AffineUnary", testAffineUnary},
	{"Concat", testConcat},
	{"Softmax", testSoftmax},
	{"Pad", testPad},
	{"ConvTranspose", testConvTranspose},
}

// runKernelTests runs every kernel test in context c.
func runKernelTests(t *testing.T, c *Context) {
	for _, kt := range kernelTests {
		t.Run(kt.name, func(t *testing.T) { kt.run(t, newGPUEnv(t, c)) })
	}
}

// TestKernels runs the kernel tests on the first GPU. It skips, saying
// why, only when no GPU is usable.
func TestKernels(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	c, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("device %v", c.Device())
	runKernelTests(t, c)
}

// fakeCUDAEnv, when set to 1, makes TestKernelsEmulated build
// testdata/fakecuda with g++ and run the kernel tests on it.
const fakeCUDAEnv = "BNRUN_TEST_FAKECUDA"

// TestKernelsEmulated runs the kernel tests on testdata/fakecuda, which
// executes kernels.cu on the CPU (kernels compiled by the real NVRTC
// still, and checked to be in its PTX). It needs g++ and NVRTC, and runs
// only when $BNRUN_TEST_FAKECUDA is 1.
func TestKernelsEmulated(t *testing.T) {
	if os.Getenv(fakeCUDAEnv) != "1" {
		t.Skipf("set %s=1 to run the kernels on the CPU emulator", fakeCUDAEnv)
	}
	needNVRTC(t)
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skipf("no g++ to build the emulator: %v", err)
	}
	lib := filepath.Join(t.TempDir(), "libfakecuda.so")
	cmd := exec.Command(gxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-pthread", "-o", lib, "testdata/fakecuda/fakecuda.cpp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the emulator: %v\n%s", err, out)
	}
	d, err := loadDriver([]string{lib}, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := openWith(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("device %v", c.Device())
	runKernelTests(t, c)
}
