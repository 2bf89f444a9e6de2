// Command _gen writes the AVX2 and AVX-512 kernels of package amd64
// (kern_amd64.s and its Go stubs) with avo: the SGEMM micro-kernels, the
// affine prologue, Winograd's transforms, and the elementwise (add, max,
// axpy, clip, stride-2 pick), pooling and reduction kernels. Run it
// through the go:generate line in ../doc.go.
package main

import (
	"fmt"
	"math"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// isa describes one vector instruction set for the generator.
type isa struct {
	name  string            // "AVX2" or "AVX512"
	lanes int               // float32 lanes per vector
	regs  []reg.VecPhysical // all vector registers, in order
}

// foldsBroadcast reports whether a kernel step whose broadcast input value
// feeds nv multiply-adds (one per vector of the tile's row) folds it into
// them, as AVX-512's embedded broadcast (VFMADD231PS.BCST m32) does: where
// nv is 1. A Zen 4 runs a 512-bit VBROADCASTSS from memory on its vector
// pipes beside the multiply-adds, not on its load ports alone, so a step
// with a broadcast a multiply-add ran at about three quarters of the
// pipes' rate (BenchmarkMicro's 8×16: 84 GFLOP/s against 115 for 8×32 and
// 8×48); folded, the load port broadcasts: 116. With two or more vectors
// a broadcast (8×32, 8×48) the folded form measured no faster. AVX2 has no
// embedded broadcast.
func (s isa) foldsBroadcast(nv int) bool { return s.lanes == 16 && nv == 1 }

var (
	avx2   = isa{name: "AVX2", lanes: 8, regs: ymms()}
	avx512 = isa{name: "AVX512", lanes: 16, regs: zmms()}
)

func ymms() []reg.VecPhysical {
	return []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}
}

func zmms() []reg.VecPhysical {
	return []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
}

func main() {
	ConstraintExpr("!purego")
	for _, nv := range []int{3, 2, 1} {
		kernel(avx512, 8, nv, false, 8)
	}
	kernel(avx512, 8, 3, true, 8)
	// A row's last, narrower panel of an in-place product (ResNet's stem:
	// 112 = 48 + 48 + 16 columns a row).
	kernel(avx512, 8, 1, true, 8)
	kernel(avx512, 8, 2, true, 8)
	// A last panel narrower than 16 columns, under a mask.
	kernelCols(avx512, 8, 1, true, 8, true)
	for mr := 1; mr < 8; mr++ {
		kernel(avx512, mr, 3, true, 8)
	}
	for _, nv := range []int{2, 1} {
		kernel(avx2, 6, nv, false, 6)
	}
	kernel(avx2, 6, 2, true, 6)
	kernel(avx2, 6, 1, true, 6)
	// The last rows of a product whose row count is not a multiple of 6:
	// A is still packed in groups of 6.
	for mr := 1; mr < 6; mr++ {
		kernel(avx2, mr, 2, true, 6)
	}
	affine(avx512)
	affine(avx2)
	winoConstTable()
	// Output tiles that overhang the output's right or bottom edge,
	// stored through masks.
	laneMaskTable()
	iota8Table()
	winoStore(avx512, true)
	winoStore(avx2, true)
	for _, s := range []isa{avx512, avx2} {
		add(s)
		mul(s)
		maxElem(s)
		sum(s)
		colSum(s)
		maxReduce(s)
		dot(s)
		winoIn(s, false)
		winoIn(s, true)
		winoStore(s, false)
		axpy(s)
		clip(s)
	}
	storeFence()
	pick2()
	for r := 1; r <= 6; r++ {
		pixKernel(avx2, r, 2, 16)
	}
	// A last block of at most 8 channels reads half of each 16-wide step.
	for r := 1; r <= 8; r++ {
		pixKernel(avx2, r, 1, 16)
	}
	// AVX-512: 32 channels (two vectors) × up to 8 pixels, and the last
	// block's 16 of 32.
	for r := 1; r <= 8; r++ {
		pixKernel(avx512, r, 2, 32)
	}
	for r := 1; r <= 8; r++ {
		pixKernel(avx512, r, 1, 32)
	}
	// AVX-512: rows of up to 16 pixels of 16 channels with 3-wide windows
	// at stride 1 and 2 (pixRowKernel).
	for _, sw := range []int{1, 2} {
		for r := 1; r <= 16; r++ {
			pixRowKernel(avx512, r, sw)
		}
	}
	dwTaps(avx2)
	for _, s := range []isa{avx2, avx512} {
		sigmoidTable(s)
		sigmoid(s, false)
		sigmoid(s, true)
	}
	hard(avx2)
	hard(avx512)
	clipTile(avx2)
	clipTile(avx512)
	dwRow8(avx2)
	dwRow8(avx512)
	dwRow16()
	transpose8(false)
	transpose8(true)
	gather8Rows()
	block8Rows()
	gather8RowsAffine()
	gather16Rows(false)
	gather16Rows(true)
	scatter16Epi()
	packRows(avx2, 2)
	packRows(avx512, 3)
	packRowsAffine(avx2, 2)
	packRowsAffine(avx512, 3)
	maxPool3s2()
	avgPool2s2()
	poolEvenTable()
	avgPool2s2Rows()
	maxPool3s2AVX512()
	maxPool3s2Rows()
	padRows()
	for g := 1; g <= 4; g++ {
		offsFew(g)
	}
	// Depthwise planes at stride 1 (at stride 2 the kernel, two loads
	// and a permutation a tap, measured no faster than the 8-channel
	// path: MobileNetV2's layers 0.9 to 1.4 times its time).
	dwPlane(3, 3)
	dwPlane(5, 5)
	Generate()
}

// kernel emits the mr×(nv·lanes) micro-kernel of one instruction set.
// With offs, B is not a packed panel: step p reads the nr values at
// b[boff[p]:], so that a convolution's input serves as B in place. A is
// packed in groups of ga ≥ mr rows, of which the first mr are computed
// (ga > mr: the kernel of a product's last rows, named ...Of<ga>).
func kernel(s isa, mr, nv int, offs bool, ga int) { kernelCols(s, mr, nv, offs, ga, false) }

// kernelCols is kernel; with cols (AVX-512, one vector wide, offsets), the
// kernel ...Mask computes only C's first cols columns (a last argument
// below the width), its loads of B, C and the residual and its stores
// masked, so that it reads and writes nothing past them: the last panel
// of an in-place product narrower than every kernel (ResNet's 14×14
// planes, 196 = 4·48 + 4 columns).
func kernelCols(s isa, mr, nv int, offs bool, ga int, cols bool) {
	nr := nv * s.lanes
	name := fmt.Sprintf("Kern%sx%dx%d", s.name, mr, nr)
	sig := "func(k int, a, b, c *float32, ldc int, bias, resid *float32, flags int, clip *float32)"
	bexpr := "b[p*" + fmt.Sprint(nr) + "+j]"
	if offs {
		name += "Offs"
		sig = "func(k int, a, b *float32, boff *int32, c *float32, ldc int, bias, resid *float32, flags int, clip *float32, groups int)"
		bexpr = "b[boff[p]+j]"
	}
	jn := fmt.Sprint(nr)
	if cols {
		if !offs || nv != 1 || s.lanes != 16 {
			panic("kernelCols: masked columns need an AVX-512 offsets kernel one vector wide")
		}
		name += "Mask"
		sig = strings.TrimSuffix(sig, ")") + ", cols int)"
		jn = "cols"
	}
	if ga != mr {
		name += fmt.Sprintf("Of%d", ga)
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	doc := []string{
		fmt.Sprintf("%s computes one %d×%d tile of C with %s, as this Go loop does", name, mr, nr, s.name),
		"(indices in elements; a and b are packed panels of k steps of " + fmt.Sprint(ga) + " and " + fmt.Sprint(nr) + " values):",
		"",
		"	for i := range " + fmt.Sprint(mr) + " {",
		"		for j := range " + jn + " {",
		"			var s float32",
		"			for p := range k {",
		"				s = fma(a[p*" + fmt.Sprint(ga) + "+i], " + bexpr + ", s) // rounded once",
		"			}",
		"			if flags&1 != 0 {",
		"				s += c[i*ldc+j]",
		"			}",
		"			if bias != nil {",
		"				s += bias[i]",
		"			}",
		"			if resid != nil {",
		"				s += resid[i*ldc+j]",
		"			}",
		"			if flags&2 != 0 && s < 0 { // flags&4 (offsets kernels): prefetch b[boff[p]+" + fmt.Sprint(nr) + ":] too",
		"				s = 0",
		"			}",
		"			if clip != nil && s == s { // clip[0] not NaN or -0, clip[1] not NaN or ±0",
		"				s = min(max(s, clip[0]), clip[1]) // a NaN s is kept as it is",
		"			}",
		"			c[i*ldc+j] = s",
		"		}",
		"	}",
	}
	if offs {
		doc = append(doc, "",
			fmt.Sprintf("It does so groups times, each time on the next %d rows of C, bias and resid and the", mr),
			fmt.Sprintf("next k·%d values of a (flags&4 on the first only).", ga))
	}
	if cols {
		doc = append(doc, "", "cols is 1 to 15; nothing past C's, b's and resid's first cols columns is read or",
			"written, and flags&4 is ignored.")
	}
	Doc(doc...)
	// The offsets kernels run a column of groups of rows; the loop's state
	// lives in the frame: the next group's A, C, bias and residual, the
	// groups left and the flags (the fetch bit cleared after the first).
	var la, lc, lb, lr, ln, lfl Mem
	frame := map[string]Mem{}
	if offs {
		la, lc, lb, lr, ln, lfl = AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
		for _, m := range []struct {
			param string
			at    Mem
		}{{"a", la}, {"c", lc}, {"bias", lb}, {"resid", lr}, {"flags", lfl}, {"groups", ln}} {
			t := Load(Param(m.param), GP64())
			MOVQ(t, m.at)
			frame[m.param] = m.at
		}
		t := GP64()
		MOVQ(ln, t)
		TESTQ(t, t)
		JZ(LabelRef("done"))
		Label("group")
	}
	// param loads a kernel argument, from the frame for the group loop's.
	param := func(name string) reg.GPVirtual {
		r := GP64()
		if m, ok := frame[name]; ok {
			MOVQ(m, r)
			return r
		}
		Load(Param(name), r)
		return r
	}
	k := Load(Param("k"), GP64())
	a := param("a")
	b := Load(Param("b"), GP64())
	var boff, off reg.GPVirtual
	if offs {
		boff = Load(Param("boff"), GP64()).(reg.GPVirtual)
		off = GP64()
	}

	if cols {
		Comment("K7: the first cols columns")
		n, all, m := GP32(), GP32(), GP32()
		Load(Param("cols"), n.As64())
		MOVL(U32(0xffff), all)
		BZHIL(n, all, m)
		KMOVW(m, reg.K7)
	}
	acc := make([][]reg.VecPhysical, mr)
	for i := range mr {
		acc[i] = s.regs[i*nv : i*nv+nv]
	}
	bv := s.regs[mr*nv : mr*nv+nv]
	tmp := s.regs[mr*nv+nv:]
	if len(tmp) < 2 {
		panic(name + ": not enough vector registers")
	}

	Comment("acc = 0")
	for i := range mr {
		for _, r := range acc[i] {
			VXORPS(r.AsX(), r.AsX(), r.AsX())
		}
	}
	// The tile of C (and of the residual) is stored after the k steps:
	// its lines are fetched now, so that the stores do not wait on them
	// (the rows are far apart, one stream each, which the hardware
	// prefetchers do not follow).
	Comment("prefetch the lines of C and of the residual")
	{
		pc := param("c")
		pr := param("resid")
		ld := Load(Param("ldc"), GP64())
		SHLQ(U8(2), ld)
		for i := range mr {
			for l := 0; l < 4*nr; l += 64 {
				PREFETCHT0(Mem{Base: pc, Disp: l})
			}
			if i < mr-1 {
				ADDQ(ld, pc)
			}
		}
		TESTQ(pr, pr)
		JZ(LabelRef("nopfresid"))
		for i := range mr {
			for l := 0; l < 4*nr; l += 64 {
				PREFETCHT0(Mem{Base: pr, Disp: l})
			}
			if i < mr-1 {
				ADDQ(ld, pr)
			}
		}
		Label("nopfresid")
	}
	// step emits one step p (u steps past the pointers' position).
	step := func(u int, pf bool) {
		Comment(fmt.Sprintf("acc[i][j] = fma(a[i][p+%d], b[p+%d][j], acc[i][j])", u, u))
		for v := range nv {
			if offs {
				if v == 0 {
					MOVLQSX(Mem{Base: boff, Disp: 4 * u}, off)
				}
				if cols {
					VMOVUPS_Z(Mem{Base: b, Index: off, Scale: 4}, reg.K7, bv[v])
					continue
				}
				VMOVUPS(Mem{Base: b, Index: off, Scale: 4, Disp: 4 * s.lanes * v}, bv[v])
				if pf {
					// the same row of the next panel, one line per vector
					PREFETCHT0(Mem{Base: b, Index: off, Scale: 4, Disp: 4 * (nr + s.lanes*v)})
				}
				continue
			}
			VMOVUPS(Mem{Base: b, Disp: 4 * (u*nr + s.lanes*v)}, bv[v])
		}
		for i := range mr {
			m := Mem{Base: a, Disp: 4 * (u*ga + i)}
			if s.foldsBroadcast(nv) {
				VFMADD231PS_BCST(m, bv[0], acc[i][0])
				continue
			}
			t := tmp[i%2]
			VBROADCASTSS(m, t)
			for v := range nv {
				VFMADD231PS(bv[v], t, acc[i][v])
			}
		}
	}
	// advance moves the pointers n steps on.
	advance := func(n int) {
		ADDQ(U32(4*ga*n), a)
		if offs {
			ADDQ(U8(4*n), boff)
		} else {
			ADDQ(U32(4*nr*n), b)
		}
	}
	// loop emits the k steps, two per iteration and an odd last one;
	// with pf, the offsets kernel also prefetches B for the next panel.
	loop := func(pf bool) {
		sfx := ""
		if pf {
			sfx = "_pf"
		}
		pairs := GP64()
		MOVQ(k, pairs)
		SHRQ(U8(1), pairs)
		JZ(LabelRef("odd" + sfx))
		Label("loop" + sfx)
		step(0, pf)
		step(1, pf)
		advance(2)
		DECQ(pairs)
		JNZ(LabelRef("loop" + sfx))
		Label("odd" + sfx)
		TESTQ(U32(1), k)
		JZ(LabelRef("store"))
		step(0, pf)
		JMP(LabelRef("store"))
	}
	if cols {
		loop(false)
	} else if offs {
		Comment("flags&4: prefetch the next panel of B")
		fl := param("flags")
		TESTQ(U32(4), fl)
		JNZ(LabelRef("prefetching"))
		loop(false)
		Label("prefetching")
		loop(true)
	} else {
		loop(false)
	}

	Label("store")
	c := param("c")
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flags := param("flags")
	p := GP64()

	Comment("flags&1: acc += C")
	TESTQ(U32(1), flags)
	JZ(LabelRef("noacc"))
	MOVQ(c, p)
	if cols {
		tileRows(s, acc, p, ldc, func(m Mem, a, dst reg.VecPhysical) {
			VMOVUPS_Z(m, reg.K7, tmp[0])
			VADDPS(tmp[0], a, dst)
		})
	} else {
		tileRows(s, acc, p, ldc, addRow)
	}
	Label("noacc")

	Comment("acc[i] += bias[i]")
	bias := param("bias")
	TESTQ(bias, bias)
	JZ(LabelRef("nobias"))
	for i := range mr {
		VBROADCASTSS(Mem{Base: bias, Disp: 4 * i}, tmp[0])
		for v := range nv {
			VADDPS(tmp[0], acc[i][v], acc[i][v])
		}
	}
	Label("nobias")

	Comment("acc += resid")
	resid := param("resid")
	TESTQ(resid, resid)
	JZ(LabelRef("noresid"))
	for i := range mr {
		for v := range nv {
			if cols {
				VMOVUPS_Z(Mem{Base: resid}, reg.K7, tmp[0])
				VADDPS(tmp[0], acc[i][v], acc[i][v])
				continue
			}
			VADDPS(Mem{Base: resid, Disp: 4 * s.lanes * v}, acc[i][v], acc[i][v])
		}
		if i < mr-1 {
			ADDQ(ldc, resid)
		}
	}
	Label("noresid")

	Comment("flags&2: acc = max(0, acc), NaN kept")
	TESTQ(U32(2), flags)
	JZ(LabelRef("norelu"))
	VXORPS(tmp[0], tmp[0], tmp[0])
	for i := range mr {
		for v := range nv {
			VMAXPS(acc[i][v], tmp[0], acc[i][v])
		}
	}
	Label("norelu")

	clipParam(s, acc, s.regs[mr*nv:], "noclip")

	Comment("C = acc")
	if !offs {
		tileRows(s, acc, c, ldc, func(m Mem, a, _ reg.VecPhysical) { VMOVUPS(a, m) })
		VZEROUPPER()
		RET()
		return
	}
	q := GP64()
	MOVQ(c, q)
	if cols {
		tileRows(s, acc, q, ldc, func(m Mem, a, _ reg.VecPhysical) { VMOVUPS(a, reg.K7, m) })
	} else {
		tileRows(s, acc, q, ldc, func(m Mem, a, _ reg.VecPhysical) { VMOVUPS(a, m) })
	}
	Comment(fmt.Sprintf("the next group: %d more rows of C, bias and resid, k·%d more values of a, no fetching", mr, ga))
	t := GP64()
	IMUL3Q(U8(uint8(4*ga)), k, t)
	ADDQ(t, la)
	IMUL3Q(U8(uint8(mr)), ldc, ldc)
	ADDQ(ldc, lc)
	bp := GP64()
	MOVQ(lb, bp)
	TESTQ(bp, bp)
	JZ(LabelRef("nextresid"))
	ADDQ(U8(uint8(4*mr)), bp)
	MOVQ(bp, lb)
	Label("nextresid")
	rp := GP64()
	MOVQ(lr, rp)
	TESTQ(rp, rp)
	JZ(LabelRef("nextflags"))
	ADDQ(ldc, rp)
	MOVQ(rp, lr)
	Label("nextflags")
	ANDQ(I8(^4), flags)
	MOVQ(flags, lfl)
	DECQ(ln)
	JNZ(LabelRef("group"))
	Label("done")
	VZEROUPPER()
	RET()
}

// affine emits the per-channel affine step with an optional Relu, the
// prologue of a convolution that follows a BatchNormalization.
func affine(s isa) {
	name := "Affine" + s.name
	TEXT(name, NOSPLIT, "func(dst, src *float32, n int, scale, bias float32, relu int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does:", name, s.lanes, s.lanes),
		"",
		"	for i := range n {",
		"		v := scale*src[i] + bias // rounded after the product and after the sum",
		"		if relu != 0 {",
		"			if v < 0 {",
		"				v = 0 // NaN and -0 are kept",
		"			}",
		"		}",
		"		dst[i] = v",
		"	}",
	)
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	r := s.regs
	broadcastParam("scale", r[0])
	broadcastParam("bias", r[1])
	VXORPS(r[2], r[2], r[2])
	relu := Load(Param("relu"), GP64())
	SHRQ(U8(log2(s.lanes)), n)
	JZ(LabelRef("done"))
	TESTQ(relu, relu)
	JNZ(LabelRef("relu"))
	Label("plain")
	Comment("dst = scale*src + bias")
	VMULPS(Mem{Base: src}, r[0], r[3])
	VADDPS(r[1], r[3], r[3])
	VMOVUPS(r[3], Mem{Base: dst})
	ADDQ(U8(4*s.lanes), src)
	ADDQ(U8(4*s.lanes), dst)
	DECQ(n)
	JNZ(LabelRef("plain"))
	JMP(LabelRef("done"))
	Label("relu")
	Comment("dst = max(0, scale*src + bias)")
	VMULPS(Mem{Base: src}, r[0], r[3])
	VADDPS(r[1], r[3], r[3])
	VMAXPS(r[3], r[2], r[3])
	VMOVUPS(r[3], Mem{Base: dst})
	ADDQ(U8(4*s.lanes), src)
	ADDQ(U8(4*s.lanes), dst)
	DECQ(n)
	JNZ(LabelRef("relu"))
	Label("done")
	VZEROUPPER()
	RET()
}

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

// stream emits a loop over the cnt vectors at the pointers ps (cnt may be
// 0; it is consumed), four vectors per iteration, then the last one to
// three in line, and jumps to done. body(v, disp) emits the work on vector
// v%4 of a group of four, at byte offset disp from the pointers: the
// vectors of x go through body(0..3) in turn, whatever n. Labels start
// with pfx.
func stream(s isa, pfx string, cnt reg.GPVirtual, ps []reg.GPVirtual, body func(v, disp int), done string) {
	blocks := GP64()
	MOVQ(cnt, blocks)
	SHRQ(U8(2), blocks)
	JZ(LabelRef(pfx + "tail"))
	Label(pfx + "loop")
	for v := range 4 {
		body(v, 4*s.lanes*v)
	}
	for _, p := range ps {
		ADDQ(U32(4*4*s.lanes), p)
	}
	DECQ(blocks)
	JNZ(LabelRef(pfx + "loop"))
	Label(pfx + "tail")
	ANDQ(U8(3), cnt)
	JZ(LabelRef(done))
	for v := range 3 {
		body(v, 4*s.lanes*v)
		if v < 2 {
			DECQ(cnt)
			JZ(LabelRef(done))
		}
	}
	JMP(LabelRef(done))
}

// vectors loads Param("n") and turns it into a count of vectors.
func vectors(s isa) reg.GPVirtual {
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	SHRQ(U8(log2(s.lanes)), n)
	return n
}

// add emits dst = a + b with an optional Relu, the residual connection
// of a network.
func add(s isa) {
	name := "Add" + s.name
	TEXT(name, NOSPLIT, "func(dst, a, b *float32, n int, relu int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does", name, s.lanes, s.lanes),
		"(dst may be a or b; when a[i] and b[i] are both NaN, the sum is a[i] quieted, as with VADDPS):",
		"",
		"	for i := range n {",
		"		v := a[i] + b[i]",
		"		if relu != 0 && v < 0 {",
		"			v = 0 // NaN and -0 are kept",
		"		}",
		"		dst[i] = v",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	a := Load(Param("a"), GP64()).(reg.GPVirtual)
	b := Load(Param("b"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	relu := Load(Param("relu"), GP64())
	zero, t := s.regs[0], s.regs[1:5]
	VXORPS(zero.AsX(), zero.AsX(), zero.AsX())
	ps := []reg.GPVirtual{dst, a, b}
	TESTQ(relu, relu)
	JNZ(LabelRef("relu"))
	Comment("dst = a + b")
	stream(s, "plain", n, ps, func(v, disp int) {
		VMOVUPS(Mem{Base: a, Disp: disp}, t[v])
		VADDPS(Mem{Base: b, Disp: disp}, t[v], t[v])
		VMOVUPS(t[v], Mem{Base: dst, Disp: disp})
	}, "done")
	Label("relu")
	Comment("dst = max(0, a + b), NaN and -0 kept")
	stream(s, "relu", n, ps, func(v, disp int) {
		VMOVUPS(Mem{Base: a, Disp: disp}, t[v])
		VADDPS(Mem{Base: b, Disp: disp}, t[v], t[v])
		VMAXPS(t[v], zero, t[v]) // (0 > v) ? 0 : v
		VMOVUPS(t[v], Mem{Base: dst, Disp: disp})
	}, "done")
	Label("done")
	VZEROUPPER()
	RET()
}

// maxElem emits dst = max(a, b), the step of a max pooling, with the
// semantics of Go's builtin max as the amd64 compiler lowers it: negate
// both, take VMINPS twice and OR the results (a NaN's bits are ORed in, so
// NaN wins; for ±0 against ±0 the OR of the negated signs gives +0 unless
// both are -0), negate back.
func maxElem(s isa) {
	name := "Max" + s.name
	TEXT(name, NOSPLIT, "func(dst, a, b *float32, n int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does,", name, s.lanes, s.lanes),
		"bit for bit on amd64, NaN payloads included (dst may be a or b):",
		"",
		"	for i := range n {",
		"		dst[i] = max(a[i], b[i]) // NaN wins; max(-0, +0) = +0",
		"	}",
		"",
		"It computes the builtin's lowering: with x = -a[i] and y = -b[i], t = VMINPS(x, y) (y when",
		"either is NaN or both are zeros), u = VMINPS(t, x) (x likewise), dst[i] = -(t | u) bitwise.",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	a := Load(Param("a"), GP64()).(reg.GPVirtual)
	b := Load(Param("b"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	sign := s.regs[0]
	bits := GP32()
	MOVL(U32(0x80000000), bits)
	MOVD(bits, sign.AsX())
	VBROADCASTSS(sign.AsX(), sign)
	Comment("dst = -(min(-a, -b) | min(min(-a, -b), -a))")
	stream(s, "max", n, []reg.GPVirtual{dst, a, b}, func(v, disp int) {
		x, y, t := s.regs[1+3*v], s.regs[2+3*v], s.regs[3+3*v]
		VXORPS(Mem{Base: a, Disp: disp}, sign, x) // x = -a
		VXORPS(Mem{Base: b, Disp: disp}, sign, y) // y = -b
		VMINPS(y, x, t)                           // t = (x < y) ? x : y
		VMINPS(x, t, x)                           // x = (t < x) ? t : x
		VORPS(t, x, x)
		VXORPS(sign, x, x)
		VMOVUPS(x, Mem{Base: dst, Disp: disp})
	}, "done")
	Label("done")
	VZEROUPPER()
	RET()
}

// reduce emits the reduction of the four accumulators acc (the first
// s.regs) into the low lane of s.regs[0]: acc[0] = op(op(acc[0], acc[1]),
// op(acc[2], acc[3])), then lanes halved down to one, low half op high
// half. op(lo, hi, dst) emits dst = lo ⊕ hi for vectors of any width.
func reduce(s isa, op func(lo, hi, dst reg.VecPhysical)) {
	acc := s.regs[0:4]
	Comment("acc[0] = (acc[0] ⊕ acc[1]) ⊕ (acc[2] ⊕ acc[3])")
	op(acc[0], acc[1], acc[0])
	op(acc[2], acc[3], acc[2])
	op(acc[0], acc[2], acc[0])
	lo, hi := acc[0], acc[1]
	if s.lanes == 16 {
		Comment("lanes 0-7 ⊕= lanes 8-15")
		VEXTRACTF64X4(U8(1), lo, hi.AsY())
		op(lo.AsY().(reg.VecPhysical), hi.AsY().(reg.VecPhysical), lo.AsY().(reg.VecPhysical))
	}
	Comment("lanes 0-3 ⊕= lanes 4-7")
	VEXTRACTF128(U8(1), lo.AsY(), hi.AsX())
	lx, hx := lo.AsX().(reg.VecPhysical), hi.AsX().(reg.VecPhysical)
	op(lx, hx, lx)
	Comment("lanes 0-1 ⊕= lanes 2-3")
	VMOVHLPS(lx, lx, hx)
	op(lx, hx, lx)
	Comment("lane 0 ⊕= lane 1")
	VMOVSHDUP(lx, hx)
	op(lx, hx, lx)
}

// accumulate emits the four-accumulator loop of a reduction over
// Param("x") and Param("n"): vector v of x goes to acc[v%4], in order.
// step(acc, tmp, m) emits acc = acc ⊕ m, with tmp free.
func accumulate(s isa, step func(acc, tmp reg.VecPhysical, m Mem)) {
	x := Load(Param("x"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	acc, tmp := s.regs[0:4], s.regs[4:8]
	stream(s, "acc", n, []reg.GPVirtual{x}, func(v, disp int) {
		step(acc[v%4], tmp[v], Mem{Base: x, Disp: disp})
	}, "reduce")
	Label("reduce")
}

// sumLoopDoc is the Go loop of a sum over 4·lanes partial sums of term
// (an expression of i), then reduce's tree, for a kernel's doc comment.
func sumLoopDoc(s isa, term string) []string {
	L, L4 := fmt.Sprint(s.lanes), fmt.Sprint(4*s.lanes)
	return []string{
		"	var acc [" + L4 + "]float32",
		"	for i := range n {",
		"		acc[i%" + L4 + "] += " + term,
		"	}",
		"	for j := range " + L + " {",
		"		acc[j] = (acc[j] + acc[" + L + "+j]) + (acc[" + fmt.Sprint(2*s.lanes) + "+j] + acc[" + fmt.Sprint(3*s.lanes) + "+j])",
		"	}",
		"	for w := " + fmt.Sprint(s.lanes/2) + "; w >= 1; w /= 2 {",
		"		for j := range w {",
		"			acc[j] += acc[j+w]",
		"		}",
		"	}",
		"	return acc[0]",
	}
}

// sum emits the sum of a vector, the core of a global average pooling.
func sum(s isa) {
	name := "Sum" + s.name
	TEXT(name, NOSPLIT, "func(x *float32, n int) float32")
	Pragma("noescape")
	Doc(append([]string{
		fmt.Sprintf("%s returns the sum of x[0:n] (n must be a multiple of %d), accumulated in %d", name, s.lanes, 4*s.lanes),
		"partial sums, as this Go loop does, bit for bit (when both addends of an addition are",
		"NaN, the sum is the left one, quieted, as with VADDPS):",
		"",
	}, sumLoopDoc(s, "x[i]")...)...)
	Comment("acc = 0")
	for _, r := range s.regs[0:4] {
		VXORPS(r.AsX(), r.AsX(), r.AsX())
	}
	Comment("acc[v%4] += x[v] for each vector v of x")
	accumulate(s, func(acc, _ reg.VecPhysical, m Mem) {
		VADDPS(m, acc, acc)
	})
	reduce(s, func(lo, hi, dst reg.VecPhysical) {
		VADDPS(hi, lo, dst) // lo + hi
	})
	VZEROUPPER() // keeps lane 0
	Store(s.regs[0].AsX(), ReturnIndex(0))
	RET()
}

// colSum emits the column sums of rows of values ld apart: a global
// average pool's sums over a pixel-major tensor, each channel's values
// added pixel by pixel in order, four vectors of channels at a time in
// registers (layer by layer an addition a row through memory).
func colSum(s isa) {
	name := "ColSum" + s.name
	TEXT(name, NOSPLIT, "func(dst, src *float32, ld, rows, n int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d, rows at least 1), as this", name, s.lanes, s.lanes),
		"Go loop does, bit for bit (when both addends are NaN, the sum is the left one, quieted, as",
		"with VADDPS):",
		"",
		"	for j := range n {",
		"		s := src[j]",
		"		for q := 1; q < rows; q++ {",
		"			s += src[q*ld+j]",
		"		}",
		"		dst[j] = s",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	ld := Load(Param("ld"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ld) // bytes
	rows := Load(Param("rows"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	vb := 4 * s.lanes // bytes a vector
	p, r := GP64(), GP64()
	for _, nv := range []int{4, 1} {
		acc := s.regs[:nv]
		blk, more, store := fmt.Sprintf("cols%d", nv), fmt.Sprintf("rows%d", nv), fmt.Sprintf("store%d", nv)
		Label(blk)
		Comment(fmt.Sprintf("dst[j] = src[j] + src[ld+j] + ... for %d vectors of columns j", nv))
		CMPQ(n, U8(nv))
		if nv == 4 {
			JB(LabelRef("cols1"))
		} else {
			JB(LabelRef("done"))
		}
		MOVQ(src, p)
		for v := range nv {
			VMOVUPS(Mem{Base: p, Disp: v * vb}, acc[v])
		}
		MOVQ(rows, r)
		DECQ(r)
		JZ(LabelRef(store))
		Label(more)
		ADDQ(ld, p)
		for v := range nv {
			VADDPS(Mem{Base: p, Disp: v * vb}, acc[v], acc[v]) // acc + row
		}
		DECQ(r)
		JNZ(LabelRef(more))
		Label(store)
		for v := range nv {
			VMOVUPS(acc[v], Mem{Base: dst, Disp: v * vb})
		}
		ADDQ(U32(nv*vb), src)
		ADDQ(U32(nv*vb), dst)
		SUBQ(U8(nv), n)
		JMP(LabelRef(blk))
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// dot emits the dot product of two vectors, the core of a classifier's
// matrix-vector product at batch 1.
func dot(s isa) {
	name := "Dot" + s.name
	TEXT(name, NOSPLIT, "func(x, y *float32, n int) float32")
	Pragma("noescape")
	Doc(append([]string{
		fmt.Sprintf("%s returns the dot product of x[0:n] and y[0:n] (n must be a multiple of %d),", name, s.lanes),
		fmt.Sprintf("accumulated in %d partial sums, as this Go loop does, bit for bit (the conversion", 4*s.lanes),
		"rounds each product before it is added, as VMULPS does, and keeps Go from fusing the two;",
		"when both operands of an operation are NaN, the result is the left one, quieted):",
		"",
	}, sumLoopDoc(s, "float32(x[i] * y[i])")...)...)
	Comment("acc = 0")
	acc, tmp := s.regs[0:4], s.regs[4:8]
	for _, r := range acc {
		VXORPS(r.AsX(), r.AsX(), r.AsX())
	}
	x := Load(Param("x"), GP64()).(reg.GPVirtual)
	y := Load(Param("y"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	Comment("acc[v%4] += x[v] * y[v] for each vector v")
	stream(s, "acc", n, []reg.GPVirtual{x, y}, func(v, disp int) {
		VMOVUPS(Mem{Base: x, Disp: disp}, tmp[v])
		VMULPS(Mem{Base: y, Disp: disp}, tmp[v], tmp[v]) // x * y
		VADDPS(tmp[v], acc[v%4], acc[v%4])               // acc + x*y
	}, "reduce")
	Label("reduce")
	reduce(s, func(lo, hi, dst reg.VecPhysical) {
		VADDPS(hi, lo, dst) // lo + hi
	})
	VZEROUPPER() // keeps lane 0
	Store(s.regs[0].AsX(), ReturnIndex(0))
	RET()
}

// maxReduce emits the maximum of a vector, the core of a global max
// pooling. NaNs never enter the accumulators.
func maxReduce(s isa) {
	name := "MaxReduce" + s.name
	L, L4 := fmt.Sprint(s.lanes), fmt.Sprint(4*s.lanes)
	TEXT(name, NOSPLIT, "func(x *float32, n int) float32")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s returns the largest of x[0:n] (n must be a multiple of %d), ignoring NaNs", name, s.lanes),
		"(-Inf when n is 0 or all are NaN), as this Go loop does, bit for bit, zeros' signs",
		"included (mx is VMAXPS with v as the first source and m as the second):",
		"",
		"	mx := func(m, v float32) float32 {",
		"		if v > m { // false when v is NaN, and for ±0 against ±0",
		"			return v",
		"		}",
		"		return m",
		"	}",
		"	var m ["+L4+"]float32",
		"	for j := range m {",
		"		m[j] = float32(math.Inf(-1))",
		"	}",
		"	for i := range n {",
		"		m[i%"+L4+"] = mx(m[i%"+L4+"], x[i])",
		"	}",
		"	for j := range "+L+" {",
		"		m[j] = mx(mx(m[j], m["+L+"+j]), mx(m["+fmt.Sprint(2*s.lanes)+"+j], m["+fmt.Sprint(3*s.lanes)+"+j]))",
		"	}",
		"	for w := "+fmt.Sprint(s.lanes/2)+"; w >= 1; w /= 2 {",
		"		for j := range w {",
		"			m[j] = mx(m[j], m[j+w])",
		"		}",
		"	}",
		"	return m[0]",
	)
	Comment("acc = -Inf")
	acc := s.regs[0:4]
	inf := GP32()
	MOVL(U32(0xff800000), inf)
	VMOVD(inf, acc[0].AsX())
	VBROADCASTSS(acc[0].AsX(), acc[0])
	for _, r := range acc[1:] {
		VMOVAPS(acc[0], r)
	}
	Comment("acc[v%4] = (x[v] > acc[v%4]) ? x[v] : acc[v%4] for each vector v of x")
	accumulate(s, func(acc, tmp reg.VecPhysical, m Mem) {
		VMOVUPS(m, tmp)
		VMAXPS(acc, tmp, acc) // (x > acc) ? x : acc
	})
	reduce(s, func(lo, hi, dst reg.VecPhysical) {
		VMAXPS(lo, hi, dst) // (hi > lo) ? hi : lo
	})
	VZEROUPPER() // keeps lane 0
	Store(s.regs[0].AsX(), ReturnIndex(0))
	RET()
}

// broadcastParam loads float32 parameter name into every lane of r
// straight from the argument frame. (Loading it with avo's Load would
// emit a legacy-SSE MOVSS, which after VEX instructions that left the
// upper halves dirty costs an AVX-SSE transition: hundreds of cycles a
// call.)
func broadcastParam(name string, r reg.VecPhysical) {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(b.Addr, r)
}

// splat loads the float32 with the given bits into every lane of r.
func splat(r reg.VecPhysical, bits uint32) {
	t := GP32()
	MOVL(U32(bits), t)
	VMOVD(t, r.AsX())
	VBROADCASTSS(r.AsX(), r)
}

// The constants of Winograd's transforms (see kern.winoBT6 and
// kern.winoAT6), each the float32 nearest its fraction, in the order of
// winoConst's entries.
var winoConsts = []float64{3.0 / 2, 2.0 / 3, 9.0 / 4, 4.0 / 9, 27.0 / 8, 8.0 / 27, 97.0 / 36}

// The entries of winoConst.
const (
	w32 = iota
	w23
	w94
	w49
	w278
	w827
	w97
)

// winoConst is the table of winoConsts, each 16 times over (64 bytes, of
// which an AVX2 operand reads the first 32), made by winoConstTable.
var winoConst Mem

// winoConstTable emits winoConst.
func winoConstTable() {
	winoConst = GLOBL("winoconst", RODATA|NOPTR)
	for i, c := range winoConsts {
		for l := range 16 {
			DATA(64*i+4*l, U32(math.Float32bits(float32(c))))
		}
	}
}

// laneMask is the table of the 16 masks of 4 lanes, entry b (16 bytes)
// all ones in lane u where bit u of b is set: AVX2's VMASKMOVPS masks.
var laneMask Mem

// laneMaskTable emits laneMask.
func laneMaskTable() {
	laneMask = GLOBL("lanemask", RODATA|NOPTR)
	for b := range 16 {
		for u := range 4 {
			var v uint32
			if b>>u&1 != 0 {
				v = 0xffffffff
			}
			DATA(16*b+4*u, U32(v))
		}
	}
}

// wk returns the operand of winoConst's entry c in every lane.
func wk(c int) Mem { return winoConst.Offset(64 * c) }

// bt6 emits Winograd's Bᵀ·d on six vectors d (see kern.winoBT6 for the
// order of operations, which this follows exactly), calling out(k, r)
// for each result r_k; d is kept and tmp holds six scratch registers.
func bt6(d, tmp []reg.VecPhysical, out func(k int, r reg.VecPhysical)) {
	e1, o1, e3, o3, t, u := tmp[0], tmp[1], tmp[2], tmp[3], tmp[4], tmp[5]
	VMULPS(wk(w49), d[2], e1) // (4/9)·d2
	VSUBPS(e1, d[4], e1)      // e1 = d4 - (4/9)·d2
	VMULPS(wk(w32), d[3], o1) // (3/2)·d3
	VMULPS(wk(w23), d[1], t)  // (2/3)·d1
	VSUBPS(t, o1, o1)         // o1 = (3/2)·d3 - (2/3)·d1
	VMULPS(wk(w94), d[2], e3) // (9/4)·d2
	VSUBPS(e3, d[4], e3)      // e3 = d4 - (9/4)·d2
	VMULPS(wk(w23), d[3], o3) // (2/3)·d3
	VMULPS(wk(w32), d[1], t)  // (3/2)·d1
	VSUBPS(t, o3, o3)         // o3 = (2/3)·d3 - (3/2)·d1
	VADDPS(d[4], d[0], t)     // d0 + d4
	VMULPS(wk(w97), d[2], u)  // (97/36)·d2
	VSUBPS(u, t, t)           // r0 = (d0 + d4) - (97/36)·d2
	out(0, t)
	VADDPS(o1, e1, u) // r1 = e1 + o1
	out(1, u)
	VSUBPS(o1, e1, t) // r2 = e1 - o1
	out(2, t)
	VADDPS(o3, e3, u) // r3 = e3 + o3
	out(3, u)
	VSUBPS(o3, e3, t) // r4 = e3 - o3
	out(4, t)
	VADDPS(d[5], d[1], u)     // d1 + d5
	VMULPS(wk(w97), d[3], e1) // (97/36)·d3
	VSUBPS(e1, u, u)          // r5 = (d1 + d5) - (97/36)·d3
	out(5, u)
}

// at6 emits Winograd's Aᵀ·p on six vectors p (see kern.winoAT6 for the
// order of operations, which this follows exactly) and returns the four
// registers holding o0..o3; p is overwritten and tmp holds two scratch
// registers.
func at6(p, tmp []reg.VecPhysical) [4]reg.VecPhysical {
	s12, t := tmp[0], tmp[1]
	VADDPS(p[2], p[1], s12)      // s12 = p1 + p2
	VSUBPS(p[2], p[1], p[1])     // d12 = p1 - p2
	VADDPS(p[4], p[3], p[2])     // s34 = p3 + p4
	VSUBPS(p[4], p[3], p[3])     // d34 = p3 - p4
	VADDPS(s12, p[0], p[0])      // p0 + s12
	VADDPS(p[2], p[0], p[0])     // o0 = (p0 + s12) + s34
	VMULPS(wk(w32), p[1], p[4])  // (3/2)·d12
	VMULPS(wk(w23), p[3], t)     // (2/3)·d34
	VADDPS(t, p[4], p[4])        // o1 = (3/2)·d12 + (2/3)·d34
	VMULPS(wk(w94), s12, s12)    // (9/4)·s12
	VMULPS(wk(w49), p[2], t)     // (4/9)·s34
	VADDPS(t, s12, s12)          // o2 = (9/4)·s12 + (4/9)·s34
	VMULPS(wk(w278), p[1], p[1]) // (27/8)·d12
	VMULPS(wk(w827), p[3], p[3]) // (8/27)·d34
	VADDPS(p[3], p[1], p[1])     // (27/8)·d12 + (8/27)·d34
	VADDPS(p[5], p[1], p[1])     // o3 = ((27/8)·d12 + (8/27)·d34) + p5
	return [4]reg.VecPhysical{p[0], p[4], s12, p[1]}
}

// transpose4 emits the 4×4 transposes within 128-bit lanes of registers
// ld[0..3] into out (using tr for scratch): in each 128-bit lane, out[b] =
// [ld0[b], ld1[b], ld2[b], ld3[b]]. With fewer than 4 outputs, only the
// first len(out) columns are made.
func transpose4(ld, tr, out []reg.VecPhysical) {
	VUNPCKLPS(ld[1], ld[0], tr[0]) // ld0[0] ld1[0] ld0[1] ld1[1]
	if len(out) > 2 {
		VUNPCKHPS(ld[1], ld[0], tr[1]) // ld0[2] ld1[2] ld0[3] ld1[3]
	}
	VUNPCKLPS(ld[3], ld[2], tr[2])
	if len(out) > 2 {
		VUNPCKHPS(ld[3], ld[2], tr[3])
	}
	for b, o := range out {
		lo, hi := tr[b/2], tr[2+b/2]
		VSHUFPS(U8([]int{0x44, 0xee}[b%2]), hi, lo, o) // lo[2(b%2)], lo[2(b%2)+1], hi[2(b%2)], hi[2(b%2)+1]
	}
}

// storeFence emits StoreFence, an SFENCE alone: WinoInNT leaves its
// non-temporal stores unfenced, so that a run of calls (stage 1 on planes
// of 14×14, a vector of tiles a call) does not wait for memory after each
// one, and its caller fences once.
func storeFence() {
	TEXT("StoreFence", NOSPLIT, "func()")
	Doc("StoreFence orders every store before it, non-temporal ones (WinoInNT's) too, before",
		"every store after it (SFENCE).")
	SFENCE()
	RET()
}

// winoIn emits Winograd's input transform (kern.WinoInKernel): per vector
// of tiles, each row of their patches is gathered 4 values at a time and
// transposed into six vectors (one per column), put through bt6 and stored
// in v; then the six columns of v go through bt6 in place. With nt
// (kern.WinoInNTKernel) the rows' results go to the scratch t and the
// columns' to v by non-temporal stores.
//
// Lane t of a vector is tile j+t. Tile k + 4i's 4-value chunk goes to the
// 128-bit lane i of register k (k < 4), so that a transpose of 4×4 blocks
// within 128-bit lanes (VUNPCKLPS/VUNPCKHPS, then VSHUFPS) leaves column b
// of tiles j..j+lanes-1 in order in register b.
func winoIn(s isa, nt bool) {
	name := "WinoIn" + s.name
	sig := "func(n int, x *float32, toff *int32, wp int, v *float32, ldv int)"
	if nt {
		name = "WinoInNT" + s.name
		sig = "func(n int, x *float32, toff *int32, wp int, v *float32, ldv int, t *float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	doc := []string{
		fmt.Sprintf("%s is Winograd F(4×4, 3×3)'s input transform on %d tiles at a time (n must be a", name, s.lanes),
		fmt.Sprintf("multiple of %d), as this Go loop does, bit for bit for finite values (kern.winoBT6 is", s.lanes),
		"Bᵀ times a 6-vector in a fixed order of float32 operations); it reads x[toff[j] + a·wp + b]",
		"for b < 8:",
		"",
		"	for j := range n {",
		"		for a := range 6 { // rows of the patch",
		"			r := winoBT6(x[toff[j] + a·wp + 0], ..., x[toff[j] + a·wp + 5])",
		"			v[(6a+k)·ldv + j] = r[k] for k < 6",
		"		}",
		"		for k := range 6 { // columns, in place",
		"			r := winoBT6(v[(0+k)·ldv + j], v[(6+k)·ldv + j], ..., v[(30+k)·ldv + j])",
		"			v[(6i+k)·ldv + j] = r[i] for i < 6",
		"		}",
		"	}",
	}
	if nt {
		doc = append(doc, "",
			fmt.Sprintf("The rows' results go to t (36 vectors of %d) instead of v, and the columns' to v by", s.lanes),
			fmt.Sprintf("non-temporal stores (VMOVNTPS: v and 4·ldv must be multiples of %d bytes): each line of", 4*s.lanes),
			"v is written once, past the caches. The stores are not fenced: the caller runs StoreFence",
			"before v is read on another core.")
	}
	Doc(doc...)
	n := vectors(s)
	x := Load(Param("x"), GP64()).(reg.GPVirtual)
	toff := Load(Param("toff"), GP64()).(reg.GPVirtual)
	wp := Load(Param("wp"), GP64()).(reg.GPVirtual)
	v := Load(Param("v"), GP64()).(reg.GPVirtual)
	ldv := Load(Param("ldv"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldv) // bytes
	SHLQ(U8(2), wp)
	// tmp (bt6's) reuses ld and tr, which are dead by then.
	d, tmp := s.regs[0:6], s.regs[6:12]
	ld, tr := s.regs[6:10], s.regs[10:14]
	// at returns the byte offset of row ξ of v.
	at := func(xi int) reg.GPVirtual {
		r := GP64()
		IMUL3Q(U32(xi), ldv, r)
		return r
	}
	var t reg.GPVirtual
	if nt {
		t = Load(Param("t"), GP64()).(reg.GPVirtual)
	}
	// mid is where the rows' results go before the columns' pass: v
	// itself, or (nt) the scratch t, 36 vectors, so that v's lines are
	// written once, by non-temporal stores.
	mid := func(xi int) Mem {
		if nt {
			return Mem{Base: t, Disp: xi * 4 * s.lanes}
		}
		return Mem{Base: v, Index: at(xi), Scale: 1}
	}
	chunks := s.lanes / 4
	xa := GP64()
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	MOVQ(x, xa)
	for a := range 6 {
		Comment(fmt.Sprintf("row %d of the patches: xa = x + a·wp", a))
		if a > 0 {
			ADDQ(wp, xa)
		}
		// gather loads the 4-value chunks at disp of tiles k + 4i into
		// lane i of ld[k].
		gather := func(disp int) {
			for k := range 4 {
				for i := range chunks {
					o := GP64()
					MOVLQSX(Mem{Base: toff, Disp: 4 * (k + 4*i)}, o)
					m := Mem{Base: xa, Index: o, Scale: 4, Disp: disp}
					switch {
					case i == 0:
						VMOVUPS(m, ld[k].AsX())
					case s.lanes == 8:
						VINSERTF128(U8(i), m, ld[k], ld[k])
					default:
						VINSERTF32X4(U8(i), m, ld[k], ld[k])
					}
				}
			}
		}
		gather(0)
		transpose4(ld, tr, d[0:4])
		gather(16)
		transpose4(ld, tr, d[4:6])
		bt6(d, tmp, func(k int, r reg.VecPhysical) {
			VMOVUPS(r, mid(6*a+k))
		})
	}
	for k := range 6 {
		Comment(fmt.Sprintf("column %d, in place", k))
		for a := range 6 {
			VMOVUPS(mid(6*a+k), d[a])
		}
		bt6(d, tmp, func(i int, r reg.VecPhysical) {
			if nt {
				VMOVNTPS(r, Mem{Base: v, Index: at(6*i + k), Scale: 1})
				return
			}
			VMOVUPS(r, Mem{Base: v, Index: at(6*i + k), Scale: 1})
		})
	}
	ADDQ(U32(4*s.lanes), toff)
	ADDQ(U32(4*s.lanes), v)
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// winoStoreAhead is how far ahead of its loads winoStore fetches P's 36
// rows: four AVX-512 vectors of tiles. On two workers half of the P rows a
// worker transforms were written by the other, whose cache, on another
// die of a Zen 5, answers a load in hundreds of nanoseconds; the loop,
// which waited for its 36 lines a step, then took 0.3-0.5 µs per 16 tiles.
// Two threads, alternating in one process: ResNet-18's Winograd output
// stage at 56×56 0.73 of its time fetching two vectors ahead, and 293 µs
// a Run at four against 324 at eight; the network 0.971-0.987, ResNet-50
// 0.99; one thread 1.00.
const winoStoreAhead = 256

// winoStore emits Winograd's output transform with the convolution's
// epilogue (kern.WinoStoreKernel): per vector of tiles, P's 36 rows
// fetched winoStoreAhead bytes ahead, the six rows of P through at6, their
// first four sums stored in the scratch t, then those four columns
// through at6, stored over t's first four rows; then each output
// row s of the tiles (the four vectors t[s][0..3]) is transposed back
// within 128-bit lanes, which leaves tile k + 4i's four outputs in lane i
// of register k, and each tile's four values get the bias, the residual
// and the Relu and are stored at their place in y.
func winoStore(s isa, masked bool) {
	name := "WinoStore" + s.name
	sig := "func(n int, p *float32, ldp int, t *float32, y *float32, yoff *int32, ldy int, bias float32, z *float32, relu int)"
	cond, also := "", ""
	if masked {
		name = "WinoStoreMask" + s.name
		sig = "func(n int, p *float32, ldp int, t *float32, y *float32, yoff *int32, ymask *int32, ldy int, bias float32, z *float32, relu int)"
		cond, also = "			if ymask[j]>>(4s+u)&1 == 0 { continue } // past the output: neither z read nor y written", " through the masks ymask"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	lines := []string{
		fmt.Sprintf("%s is Winograd F(4×4, 3×3)'s output transform and store%s, %d tiles at a time,", name, also, s.lanes),
		"as this Go loop does, bit for bit for finite values (kern.winoAT6 is Aᵀ times a 6-vector in a",
		fmt.Sprintf("fixed order of float32 operations); p is only read, up to n rounded up to %d, and t", s.lanes),
		fmt.Sprintf("is scratch of 24·%d values for the %d tiles' row sums:", s.lanes, s.lanes),
		"",
		"	for j := range n {",
		"		for r := range 6 { // rows of P",
		"			o := winoAT6(p[(6r+0)·ldp + j], ..., p[(6r+5)·ldp + j])",
		"			t[4r+u][j] = o[u] for u < 4",
		"		}",
		"		for u := range 4 { // columns",
		"			o := winoAT6(t[0+u][j], t[4+u][j], ..., t[20+u][j])",
		"			t[4s+u][j] = o[s] for s < 4",
		"		}",
		"		for s, u := range 4×4 {",
	}
	if masked {
		lines = append(lines, cond)
	}
	lines = append(lines,
		"			i := yoff[j] + s·ldy + u",
		"			v := t[4s+u][j] + bias",
		"			if z != nil {",
		"				v += z[i]",
		"			}",
		"			if relu != 0 && 0 > v {",
		"				v = 0 // NaN and -0 kept",
		"			}",
		"			y[i] = v",
		"		}",
		"	}",
	)
	Doc(lines...)
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	p := Load(Param("p"), GP64()).(reg.GPVirtual)
	ldp := Load(Param("ldp"), GP64()).(reg.GPVirtual)
	tp := Load(Param("t"), GP64()).(reg.GPVirtual)
	y := Load(Param("y"), GP64()).(reg.GPVirtual)
	yoff := Load(Param("yoff"), GP64()).(reg.GPVirtual)
	var ymask reg.GPVirtual
	if masked {
		ymask = Load(Param("ymask"), GP64()).(reg.GPVirtual)
	}
	ldy := Load(Param("ldy"), GP64()).(reg.GPVirtual)
	z := Load(Param("z"), GP64()).(reg.GPVirtual)
	relu := Load(Param("relu"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldp) // bytes
	SHLQ(U8(2), ldy)
	d, tmp := s.regs[0:6], s.regs[6:8]
	ld, tr, out := s.regs[0:4], s.regs[4:8], s.regs[10:14]
	bv, lo := s.regs[14], s.regs[15]
	Comment("bv = bias in every lane; lo = 0 with relu, else -Inf (max(-Inf, v) = v)")
	broadcastParam("bias", bv)
	lb, zero := GP32(), GP32()
	MOVL(U32(0xff800000), lb)
	XORL(zero, zero)
	TESTQ(relu, relu)
	CMOVLNE(zero, lb)
	VMOVD(lb, lo.AsX())
	VBROADCASTSS(lo.AsX(), lo)
	row := func(i int) Mem {
		r := GP64()
		IMUL3Q(U32(i), ldp, r)
		return Mem{Base: p, Index: r, Scale: 1}
	}
	// The row sums go to t, not back over P: P's lines were often written
	// by another core (its products), and a store to such a line waits
	// for that core's copy to be dropped.
	sum := func(i int) Mem { return Mem{Base: tp, Disp: 4 * s.lanes * i} }

	chunks := s.lanes / 4
	ys, zs := GP64(), GP64()
	TESTQ(n, n)
	JLE(LabelRef("done"))
	Label("loop")
	Comment(fmt.Sprintf("fetch P's lines %d bytes ahead", winoStoreAhead))
	for i := range 36 {
		m := row(i)
		m.Disp = winoStoreAhead
		PREFETCHT0(m)
	}
	for r := range 6 {
		Comment(fmt.Sprintf("row %d of P", r))
		for c := range 6 {
			VMOVUPS(row(6*r+c), d[c])
		}
		o := at6(d, tmp)
		for u := range 4 {
			VMOVUPS(o[u], sum(4*r+u))
		}
	}
	for u := range 4 {
		Comment(fmt.Sprintf("column %d", u))
		for r := range 6 {
			VMOVUPS(sum(4*r+u), d[r])
		}
		o := at6(d, tmp)
		for s := range 4 {
			VMOVUPS(o[s], sum(4*s+u))
		}
	}
	MOVQ(y, ys)
	MOVQ(z, zs)
	for r := range 4 {
		Comment(fmt.Sprintf("output row %d of the tiles: ys = y + s·ldy, zs = z + s·ldy", r))
		if r > 0 {
			ADDQ(ldy, ys)
			ADDQ(ldy, zs)
		}
		for u := range 4 {
			VMOVUPS(sum(4*r+u), ld[u])
		}
		transpose4(ld, tr, out)
		for k := range 4 {
			VADDPS(bv, out[k], out[k]) // + bias
		}
		c := tr[0].AsX()
		for k := range 4 {
			for i := range chunks {
				t := k + 4*i
				skip := fmt.Sprintf("skip_%d_%d", r, t)
				if t > 0 {
					CMPQ(n, U32(t))
					JLE(LabelRef(skip)) // tile j+t is past n
				}
				o := GP64()
				MOVLQSX(Mem{Base: yoff, Disp: 4 * t}, o)
				switch {
				case i == 0:
					VMOVAPS(out[k].AsX(), c)
				case s.lanes == 8:
					VEXTRACTF128(U8(i), out[k], c)
				default:
					VEXTRACTF32X4(U8(i), out[k], c)
				}
				noz := fmt.Sprintf("noz_%d_%d", r, t)
				// with masks: bits 4r..4r+3 of tile j+t's mask, its row
				// r's columns inside the output, in K1 (AVX-512) or as
				// the lanes of xm (AVX2, from laneMask)
				xm, zt := s.regs[8].AsX(), s.regs[9].AsX()
				if masked {
					mk := GP32()
					MOVL(Mem{Base: ymask, Disp: 4 * t}, mk)
					if r > 0 {
						SHRL(U8(4*r), mk)
					}
					if s.lanes == 16 {
						KMOVW(mk, reg.K1)
					} else {
						ANDL(U32(15), mk)
						SHLL(U8(4), mk) // 16 bytes an entry
						tb := GP64()
						LEAQ(laneMask, tb)
						VMOVDQU(Mem{Base: tb, Index: mk.As64(), Scale: 1}, xm)
					}
				}
				TESTQ(z, z)
				JZ(LabelRef(noz))
				switch {
				case masked && s.lanes == 16:
					VADDPS(Mem{Base: zs, Index: o, Scale: 4}, c, reg.K1, c) // + z where K1
				case masked:
					VMASKMOVPS(Mem{Base: zs, Index: o, Scale: 4}, xm, zt) // z where xm, else 0
					VADDPS(zt, c, c)
				default:
					VADDPS(Mem{Base: zs, Index: o, Scale: 4}, c, c) // + z
				}
				Label(noz)
				VMAXPS(c, lo.AsX(), c) // (lo > v) ? lo : v
				switch {
				case masked && s.lanes == 16:
					VMOVUPS(c, reg.K1, Mem{Base: ys, Index: o, Scale: 4})
				case masked:
					VMASKMOVPS(c, xm, Mem{Base: ys, Index: o, Scale: 4})
				default:
					VMOVUPS(c, Mem{Base: ys, Index: o, Scale: 4})
				}
				if t > 0 {
					Label(skip)
				}
			}
		}
	}
	ADDQ(U32(4*s.lanes), p)
	ADDQ(U32(4*s.lanes), yoff)
	if masked {
		ADDQ(U32(4*s.lanes), ymask)
	}
	SUBQ(U32(s.lanes), n)
	JG(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// axpy emits dst += a·x, the step of a depthwise convolution: one tap of
// the kernel over a row of output. The product is rounded before the sum
// (VMULPS, then VADDPS), as Go computes the loop without fusing.
func axpy(s isa) {
	name := "Axpy" + s.name
	TEXT(name, NOSPLIT, "func(dst, x *float32, n int, a float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does,", name, s.lanes, s.lanes),
		"bit for bit for finite values (the conversion rounds the product, as VMULPS does, and",
		"keeps Go from fusing it with the sum):",
		"",
		"	for i := range n {",
		"		dst[i] += float32(a * x[i])",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	x := Load(Param("x"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	av := s.regs[0]
	broadcastParam("a", av)
	t := s.regs[1:5]
	Comment("dst += a·x")
	stream(s, "axpy", n, []reg.GPVirtual{dst, x}, func(v, disp int) {
		VMULPS(Mem{Base: x, Disp: disp}, av, t[v])     // a·x
		VADDPS(Mem{Base: dst, Disp: disp}, t[v], t[v]) // a·x + dst
		VMOVUPS(t[v], Mem{Base: dst, Disp: disp})
	}, "done")
	Label("done")
	VZEROUPPER()
	RET()
}

// clip emits dst = min(max(src, lo), hi) with the semantics of Go's
// builtins as the amd64 compiler lowers them: min(a, b) is VMINPS(a, b)
// OR VMINPS(b, a) bitwise (a NaN's bits are ORed in, so NaN wins; -0
// below +0), and max(a, b) = -min(-a, -b). This is Clip and ReLU6, the
// activation of MobileNets.
func clip(s isa) {
	name := "Clip" + s.name
	TEXT(name, NOSPLIT, "func(dst, src *float32, n int, lo, hi float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does,", name, s.lanes, s.lanes),
		"bit for bit on amd64, NaN payloads included (dst may be src):",
		"",
		"	for i := range n {",
		"		dst[i] = min(max(src[i], lo), hi)",
		"	}",
		"",
		"It computes the builtins' lowering: min(a, b) = VMINPS(a, b) | VMINPS(b, a) bitwise, and",
		"max(a, b) = -min(-a, -b).",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	sign, nlo, hi := s.regs[0], s.regs[1], s.regs[2]
	bits := GP32()
	MOVL(U32(0x80000000), bits)
	VMOVD(bits, sign.AsX())
	VBROADCASTSS(sign.AsX(), sign)
	broadcastParam("lo", nlo)
	VXORPS(sign, nlo, nlo) // -lo
	broadcastParam("hi", hi)
	t := s.regs[3:15]
	Comment("dst = min(max(src, lo), hi)")
	stream(s, "clip", n, []reg.GPVirtual{dst, src}, func(v, disp int) {
		x, a, b := t[3*v], t[3*v+1], t[3*v+2]
		VMOVUPS(Mem{Base: src, Disp: disp}, x)
		clipVec(x, a, b, sign, nlo, hi)
		VMOVUPS(b, Mem{Base: dst, Disp: disp})
	}, "done")
	Label("done")
	VZEROUPPER()
	RET()
}

// mul emits dst = a·b with either operand broadcast (a stride of 0): the
// Mul of a squeeze-excitation gate over its block's output, and SiLU
// where it is not fused.
func mul(s isa) {
	name := "Mul" + s.name
	TEXT(name, NOSPLIT, "func(dst, a, b *float32, n int, sa, sb int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does", name, s.lanes, s.lanes),
		"for strides sa and sb of 0 or 1, not both 0 (dst may be a or b; when a and b are both NaN,",
		"the product is a's quieted, as with MULSS):",
		"",
		"	for i := range n {",
		"		dst[i] = a[i*sa] * b[i*sb]",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	a := Load(Param("a"), GP64()).(reg.GPVirtual)
	b := Load(Param("b"), GP64()).(reg.GPVirtual)
	n := vectors(s)
	sa := Load(Param("sa"), GP64())
	sb := Load(Param("sb"), GP64())
	c, t := s.regs[0], s.regs[1:5]
	TESTQ(sa, sa)
	JZ(LabelRef("abcast"))
	TESTQ(sb, sb)
	JZ(LabelRef("bbcast"))
	Comment("dst = a · b")
	stream(s, "both", n, []reg.GPVirtual{dst, a, b}, func(v, disp int) {
		VMOVUPS(Mem{Base: a, Disp: disp}, t[v])
		VMULPS(Mem{Base: b, Disp: disp}, t[v], t[v])
		VMOVUPS(t[v], Mem{Base: dst, Disp: disp})
	}, "done")
	Label("bbcast")
	Comment("dst = a · b[0]")
	VBROADCASTSS(Mem{Base: b}, c)
	stream(s, "bb", n, []reg.GPVirtual{dst, a}, func(v, disp int) {
		VMOVUPS(Mem{Base: a, Disp: disp}, t[v])
		VMULPS(c, t[v], t[v]) // a·b[0], a first as in MULSS
		VMOVUPS(t[v], Mem{Base: dst, Disp: disp})
	}, "done")
	Label("abcast")
	Comment("dst = a[0] · b")
	VBROADCASTSS(Mem{Base: a}, c)
	stream(s, "ab", n, []reg.GPVirtual{dst, b}, func(v, disp int) {
		VMULPS(Mem{Base: b, Disp: disp}, c, t[v])
		VMOVUPS(t[v], Mem{Base: dst, Disp: disp})
	}, "done")
	Label("done")
	VZEROUPPER()
	RET()
}

// sigmoid emits dst = 1/(1 + exp(-src)) in float32 arithmetic, the
// operations of kern.sigmoidFast one for one (no FMA): x clamped to [-88,
// 87], exp(-x) = 2^-m · p(r) with m = round(x·log2e), r = m·ln2 - x in two
// parts (Cody and Waite), p the Taylor polynomial of degree 7 by Horner,
// 2^-m made in the exponent bits. With silu the result is multiplied by
// src (SiLU, x·sigmoid(x), as siluFast). The squeeze-excitation gates
// and activations of EfficientNet and RegNet run it; AVX2 only, the
// AVX-512 tier uses it too.
// sigmoidTab holds, per lane count, the table of the sigmoid kernels'
// constants, each broadcast to a vector (sigmoidConsts), made once by
// sigmoidTable.
var sigmoidTab = map[int]Mem{}

// sigmoidConsts are the sigmoid kernels' constants from memory, in the
// table's order: log2e, ln2 split in two, and the Taylor coefficients
// 1/7! .. 1/2! of exp.
var sigmoidConsts = func() []float32 {
	c := []float32{1.44269504, 0.693359375, -2.12194440e-4}
	fact := float32(1)
	var inv []float32
	for k := 2; k <= 7; k++ {
		fact *= float32(k)
		inv = append(inv, 1/fact)
	}
	for k := len(inv) - 1; k >= 0; k-- {
		c = append(c, inv[k])
	}
	return c
}()

// sigmoidTable emits the read-only table of sigmoidConsts for s, its
// lanes each.
func sigmoidTable(s isa) {
	name := "sigmoidconsts"
	if s.lanes != 8 {
		name += fmt.Sprint(s.lanes)
	}
	t := GLOBL(name, RODATA|NOPTR)
	for i, v := range sigmoidConsts {
		for l := range s.lanes {
			DATA(4*s.lanes*i+4*l, U32(math.Float32bits(v)))
		}
	}
	sigmoidTab[s.lanes] = t
}

// sigmoid emits Sigmoid<isa> (or, with silu, Silu<isa>): k vectors a step
// while they last (AVX2 3, AVX-512 4, their chains of dependent
// operations overlapping), then one.
func sigmoid(s isa, silu bool) {
	name, twin, last := "Sigmoid"+s.name, "sigmoidFast", "dst[i] = 1 / (1 + p*2^-m) // each operation rounded"
	if silu {
		name, twin, last = "Silu"+s.name, "siluFast", "dst[i] = src[i] * (1 / (1 + p*2^-m)) // each operation rounded"
	}
	lanes, vb := s.lanes, 4*s.lanes
	steps := 3
	if lanes == 16 {
		steps = 4
	}
	TEXT(name, NOSPLIT, "func(dst, src *float32, ld, rows, n int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as %s", name, lanes, lanes, twin),
		"in package kern does for each value, bit for bit but for NaN payloads, on rows ld apart",
		"(dst may be src: a tile of a product in place):",
		"",
		"	for r := range rows {",
		"		for j := range n {",
		"			i := r*ld + j",
		"			x := min(max(src[i], -88), 87) // a NaN kept",
		"			m := roundToEven(x * log2e)",
		"			r := fma(m, ln2lo, fma(m, ln2hi, -x)) // each rounded once",
		"			p := fma(fma(fma(fma(fma(fma(fma(c7, r, c6), r, c5), r, c4), r, c3), r, c2), r, 1), r, 1)",
		"			"+last,
		"		}",
		"	}",
		"",
		fmt.Sprintf("%d vectors a step: their chains of dependent operations overlap.", steps),
	)
	dst0 := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src0 := Load(Param("src"), GP64()).(reg.GPVirtual)
	ld := Load(Param("ld"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ld)
	rows := Load(Param("rows"), GP64()).(reg.GPVirtual)
	dst, src, n := GP64(), GP64(), GP64()
	r := s.regs
	lo, hi, one := r[0], r[1], r[2]
	bits := GP32()
	konst := func(v float32, dst reg.VecPhysical) {
		MOVL(U32(math.Float32bits(v)), bits)
		VMOVD(bits, dst.AsX())
		VBROADCASTSS(dst.AsX(), dst)
	}
	konst(-88, lo)
	konst(87, hi)
	konst(1, one)
	tab := func(i int) Mem { return sigmoidTab[lanes].Offset(vb * i) }
	// body emits k vectors, the i-th at byte offset 32i, each step of the
	// formula for every vector before the next step.
	body := func(k int) {
		x, m, rr, p := r[3:3+k], r[3+steps:3+steps+k], r[3+2*steps:3+2*steps+k], r[3+3*steps:3+3*steps+k]
		each := func(f func(i int)) {
			for i := range k {
				f(i)
			}
		}
		each(func(i int) { VMAXPS(Mem{Base: src, Disp: vb * i}, lo, x[i]) }) // lo > x ? lo : x, a NaN x kept
		each(func(i int) { VMINPS(x[i], hi, x[i]) })
		each(func(i int) { VMULPS(tab(0), x[i], m[i]) })
		if lanes == 16 {
			each(func(i int) { VRNDSCALEPS(U8(0), m[i], m[i]) }) // to nearest, ties to even
		} else {
			each(func(i int) { VROUNDPS(U8(0), m[i], m[i]) }) // to nearest, ties to even
		}
		each(func(i int) { VMOVAPS(x[i], rr[i]) })
		each(func(i int) { VFMSUB231PS(tab(1), m[i], rr[i]) }) // m·ln2hi - x
		each(func(i int) { VFMADD231PS(tab(2), m[i], rr[i]) }) // + m·ln2lo
		each(func(i int) { VMOVUPS(tab(3), p[i]) })            // c7
		for c := 4; c < len(sigmoidConsts); c++ {
			each(func(i int) { VFMADD213PS(tab(c), rr[i], p[i]) }) // p·r + c
		}
		for range 2 {
			each(func(i int) { VFMADD213PS(one, rr[i], p[i]) }) // p·r + 1
		}
		Comment("2^-m = bits(1) - m<<23")
		each(func(i int) { VCVTPS2DQ(m[i], m[i]) })
		each(func(i int) { VPSLLD(U8(23), m[i], m[i]) })
		each(func(i int) { VPSUBD(m[i], one, m[i]) })
		each(func(i int) { VMULPS(m[i], p[i], p[i]) })
		each(func(i int) { VADDPS(one, p[i], p[i]) })
		each(func(i int) { VDIVPS(p[i], one, x[i]) }) // 1 / (1 + e)
		if silu {
			each(func(i int) { VMULPS(Mem{Base: src, Disp: vb * i}, x[i], x[i]) }) // src · sigmoid
		}
		each(func(i int) { VMOVUPS(x[i], Mem{Base: dst, Disp: vb * i}) })
	}
	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	MOVQ(dst0, dst)
	MOVQ(src0, src)
	Load(Param("n"), n)
	SHRQ(U8(uint8(log2(lanes))), n)
	Label("three")
	CMPQ(n, U8(uint8(steps)))
	JL(LabelRef("one"))
	body(steps)
	ADDQ(U32(steps*vb), src)
	ADDQ(U32(steps*vb), dst)
	SUBQ(U8(uint8(steps)), n)
	JMP(LabelRef("three"))
	Label("one")
	TESTQ(n, n)
	JZ(LabelRef("next"))
	body(1)
	ADDQ(U32(vb), src)
	ADDQ(U32(vb), dst)
	DECQ(n)
	JMP(LabelRef("one"))
	Label("next")
	ADDQ(ld, dst0)
	ADDQ(ld, src0)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// hard emits Hard<isa>: HardSigmoid, or with swish HardSwish, on rows of
// a tile, a vector of lanes values, four vectors a step while they last.
func hard(s isa) {
	name := "Hard" + s.name
	lanes, vb := s.lanes, 4*s.lanes
	TEXT(name, NOSPLIT, "func(dst, src *float32, ld, rows, n int, alpha, beta float32, swish int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as HardSigmoidF32 and,", name, lanes, lanes),
		"when swish is not 0, HardSwishF32 (alpha = 1/6, beta = 1/2) in package kern do, bit for",
		"bit but for NaN payloads, on rows ld apart (dst may be src: a tile of a product in place),",
		"for beta not -0:",
		"",
		"	for r := range rows {",
		"		for j := range n {",
		"			x := src[r*ld+j]",
		"			s := max(0, min(1, float32(alpha*x)+beta)) // product and sum each rounded; NaN kept",
		"			if swish != 0 {",
		"				s = x * s",
		"			}",
		"			dst[r*ld+j] = s",
		"		}",
		"	}",
		"",
		"With beta not -0, alpha·x + beta is -0 for no x, so VMAXPS, which returns its second",
		"source when both are zeros or either is NaN, computes max(0, s) as the builtin does.",
	)
	dst0 := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src0 := Load(Param("src"), GP64()).(reg.GPVirtual)
	ld := Load(Param("ld"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ld)
	rows := Load(Param("rows"), GP64()).(reg.GPVirtual)
	swish := Load(Param("swish"), GP64()).(reg.GPVirtual)
	dst, src, n := GP64(), GP64(), GP64()
	r := s.regs
	alpha, beta, zero, one := r[0], r[1], r[2], r[3]
	broadcastParam("alpha", alpha)
	broadcastParam("beta", beta)
	VXORPS(zero, zero, zero)
	splat(one, math.Float32bits(1))
	// body emits k vectors at byte offsets vb·i; with sw, the swish product.
	body := func(k int, sw bool) {
		x, t := r[4:4+k], r[8:8+k]
		each := func(f func(i int)) {
			for i := range k {
				f(i)
			}
		}
		each(func(i int) { VMOVUPS(Mem{Base: src, Disp: vb * i}, x[i]) })
		each(func(i int) { VMULPS(x[i], alpha, t[i]) }) // alpha·x, rounded
		each(func(i int) { VADDPS(beta, t[i], t[i]) })  // + beta, rounded
		each(func(i int) { VMAXPS(t[i], zero, t[i]) })  // max(0, s): s when NaN
		each(func(i int) { VMINPS(t[i], one, t[i]) })   // min(1, s): s when NaN
		if sw {
			each(func(i int) { VMULPS(x[i], t[i], t[i]) }) // x·s
		}
		each(func(i int) { VMOVUPS(t[i], Mem{Base: dst, Disp: vb * i}) })
	}
	// loop emits the row loop for one value of swish.
	loop := func(sw bool, pre string) {
		Label(pre + "row")
		TESTQ(rows, rows)
		JZ(LabelRef("done"))
		MOVQ(dst0, dst)
		MOVQ(src0, src)
		Load(Param("n"), n)
		SHRQ(U8(uint8(log2(lanes))), n)
		Label(pre + "four")
		CMPQ(n, U8(4))
		JL(LabelRef(pre + "one"))
		body(4, sw)
		ADDQ(U32(4*vb), src)
		ADDQ(U32(4*vb), dst)
		SUBQ(U8(4), n)
		JMP(LabelRef(pre + "four"))
		Label(pre + "one")
		TESTQ(n, n)
		JZ(LabelRef(pre + "next"))
		body(1, sw)
		ADDQ(U32(vb), src)
		ADDQ(U32(vb), dst)
		DECQ(n)
		JMP(LabelRef(pre + "one"))
		Label(pre + "next")
		ADDQ(ld, dst0)
		ADDQ(ld, src0)
		DECQ(rows)
		JMP(LabelRef(pre + "row"))
	}
	TESTQ(swish, swish)
	JNZ(LabelRef("swrow"))
	loop(false, "hs")
	loop(true, "sw")
	Label("done")
	VZEROUPPER()
	RET()
}

// pick2 emits dst[i] = src[2i], the column split of a stride-2
// convolution's phase copy: two vectors of src, shuffled within 128-bit
// lanes (VSHUFPS) and put in order across them (VPERMPD). It is AVX2
// only; the AVX-512 tier uses it too.
func pick2() {
	name := "Pick2AVX2"
	TEXT(name, NOSPLIT, "func(dst, src *float32, n int)")
	Pragma("noescape")
	Doc(
		name+" computes, 8 values at a time (n must be a multiple of 8), as this Go loop does",
		"(it reads src[0:2n]):",
		"",
		"	for i := range n {",
		"		dst[i] = src[2*i]",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	SHRQ(U8(3), n)
	lo, hi, t := reg.Y0, reg.Y1, reg.Y2
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	VMOVUPS(Mem{Base: src}, lo)
	VMOVUPS(Mem{Base: src, Disp: 32}, hi)
	VSHUFPS(U8(0x88), hi, lo, t) // s0 s2 s8 s10 | s4 s6 s12 s14
	VPERMPD(U8(0xd8), t, t)      // s0 s2 s4 s6 s8 s10 s12 s14
	VMOVUPS(t, Mem{Base: dst})
	ADDQ(U32(64), src)
	ADDQ(U32(32), dst)
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// packRows16 emits the copy of a panel of B that the offsets kernels
// would read in place into a packed panel: k rows of 16 values from
// wherever boff puts them, fetching each row's next 16 values (the next
// panel's) on the way, so that the packed panel's products read one
// contiguous block (a 56×56 input's channel planes put a panel's rows in
// 16 of L1's 64 sets) and the next panel is on its way.
func packRows(s isa, nv int) {
	w := nv * s.lanes
	W := fmt.Sprint(w)
	name := "PackRows" + W + s.name
	TEXT(name, NOSPLIT, "func(dst, src *float32, boff *int32, k int)")
	Pragma("noescape")
	Doc(
		name+" computes, as this Go loop does (and fetches src[boff[p]+"+W+":][:"+W+"] into the cache):",
		"",
		"	for p := range k {",
		"		for j := range "+W+" {",
		"			dst[p*"+W+"+j] = src[boff[p]+j]",
		"		}",
		"	}",
	)
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	boff := Load(Param("boff"), GP64())
	k := Load(Param("k"), GP64())
	off := GP64()
	vb := 4 * s.lanes
	Label("row")
	TESTQ(k, k)
	JZ(LabelRef("done"))
	MOVLQSX(Mem{Base: boff}, off)
	for v := range nv {
		VMOVUPS(Mem{Base: src, Index: off, Scale: 4, Disp: vb * v}, s.regs[v])
	}
	for l := 0; l < 4*w; l += 64 {
		PREFETCHT0(Mem{Base: src, Index: off, Scale: 4, Disp: 4*w + l})
	}
	for v := range nv {
		VMOVUPS(s.regs[v], Mem{Base: dst, Disp: vb * v})
	}
	ADDQ(U8(4), boff)
	ADDQ(U32(4*w), dst)
	DECQ(k)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// packRowsAffine emits packRows with a per-row affine step and an
// optional Relu applied on the way: the prologue of a 1×1 convolution
// that reads its input through a BatchNormalization and Relu (DenseNet's
// bottlenecks), applied to a panel as it is packed into L1 instead of to
// the whole input in a pass of its own.
func packRowsAffine(s isa, nv int) {
	w := nv * s.lanes
	W := fmt.Sprint(w)
	name := "PackRowsAffine" + W + s.name
	TEXT(name, NOSPLIT, "func(dst, src *float32, boff *int32, k int, scale, bias *float32, relu int)")
	Pragma("noescape")
	Doc(
		name+" computes, as this Go loop does (and fetches src[boff[p]+"+W+":][:"+W+"] into the cache):",
		"",
		"	for p := range k {",
		"		for j := range "+W+" {",
		"			v := scale[p]*src[boff[p]+j] + bias[p] // rounded after the product and after the sum",
		"			if relu != 0 && v < 0 {",
		"				v = 0 // NaN and -0 are kept",
		"			}",
		"			dst[p*"+W+"+j] = v",
		"		}",
		"	}",
	)
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	boff := Load(Param("boff"), GP64())
	k := Load(Param("k"), GP64())
	scale := Load(Param("scale"), GP64())
	bias := Load(Param("bias"), GP64())
	relu := Load(Param("relu"), GP64())
	off := GP64()
	vb := 4 * s.lanes
	r := s.regs
	sc, bi, zero := r[nv], r[nv+1], r[nv+2]
	VXORPS(zero, zero, zero)
	loop := func(label string, withRelu bool) {
		Label(label)
		TESTQ(k, k)
		JZ(LabelRef("done"))
		MOVLQSX(Mem{Base: boff}, off)
		VBROADCASTSS(Mem{Base: scale}, sc)
		VBROADCASTSS(Mem{Base: bias}, bi)
		for v := range nv {
			VMULPS(Mem{Base: src, Index: off, Scale: 4, Disp: vb * v}, sc, r[v])
		}
		for l := 0; l < 4*w; l += 64 {
			PREFETCHT0(Mem{Base: src, Index: off, Scale: 4, Disp: 4*w + l})
		}
		for v := range nv {
			VADDPS(bi, r[v], r[v])
			if withRelu {
				VMAXPS(r[v], zero, r[v])
			}
			VMOVUPS(r[v], Mem{Base: dst, Disp: vb * v})
		}
		ADDQ(U8(4), boff)
		ADDQ(U8(4), scale)
		ADDQ(U8(4), bias)
		ADDQ(U32(4*w), dst)
		DECQ(k)
		JMP(LabelRef(label))
	}
	TESTQ(relu, relu)
	JNZ(LabelRef("relu"))
	Comment("dst = scale*src + bias")
	loop("plain", false)
	Comment("dst = max(0, scale*src + bias)")
	loop("relu", true)
	Label("done")
	VZEROUPPER()
	RET()
}

// tileStore emits the end of a pixel or row kernel's tile acc (rows of
// vectors, the registers after it free): with flags&1 add the tile of C
// at c (rows ldc bytes apart), add the bias param's vectors when it is
// not nil, clip by the clip param (clipParam), and store the tile at c.
// With blk, flags&8 (pixBlk8) lays C out in blocks of 8 channels instead:
// row i's channels j at c + 32i + (j/8)·ldc bytes (tileBlocks).
func tileStore(s isa, acc [][]reg.VecPhysical, c, ldc, flags reg.Register, blk bool) {
	var l3 reg.GPVirtual // 3·ldc, a zmm's second block pair's second block
	if blk && s.lanes == 16 && len(acc[0]) > 1 {
		l3 = GP64()
		IMUL3Q(U8(3), ldc, l3)
	}
	Comment("flags&1: acc += C")
	TESTQ(U32(1), flags)
	JZ(LabelRef("nocc"))
	if blk {
		TESTQ(U32(8), flags)
		JNZ(LabelRef("ccblk"))
	}
	p := GP64()
	MOVQ(c, p)
	tileRows(s, acc, p, ldc, addRow)
	if blk {
		JMP(LabelRef("nocc"))
		Label("ccblk")
		t := s.regs[len(acc)*len(acc[0])]
		tileBlocks(s, acc, c, ldc, l3, func(lo, hi Mem, a reg.VecPhysical) {
			if hi == (Mem{}) {
				VADDPS(lo, a, a)
				return
			}
			VMOVUPS(lo, t.AsY())
			VINSERTF64X4(U8(1), hi, t, t)
			VADDPS(t, a, a)
		})
	}
	Label("nocc")
	Comment("bias != nil: acc[i][j] += bias[j]")
	bp := Load(Param("bias"), GP64())
	TESTQ(bp, bp)
	JZ(LabelRef("nobias"))
	for i := range acc {
		for v, a := range acc[i] {
			VADDPS(Mem{Base: bp, Disp: 4 * s.lanes * v}, a, a)
		}
	}
	Label("nobias")
	clipParam(s, acc, s.regs[len(acc)*len(acc[0]):], "put")
	Comment("C = acc")
	if blk {
		TESTQ(U32(8), flags)
		JNZ(LabelRef("putblk"))
	}
	q := GP64()
	MOVQ(c, q)
	tileRows(s, acc, q, ldc, func(m Mem, a, _ reg.VecPhysical) { VMOVUPS(a, m) })
	if blk {
		JMP(LabelRef("stored"))
		Label("putblk")
		tileBlocks(s, acc, c, ldc, l3, func(lo, hi Mem, a reg.VecPhysical) {
			if hi == (Mem{}) {
				VMOVUPS(a, lo)
				return
			}
			VMOVUPS(a.AsY(), lo)
			VEXTRACTF64X4(U8(1), a, hi)
		})
		Label("stored")
	}
}

// tileBlocks emits op for each vector of each row of a tile whose C lies
// in blocks of 8 channels ldc bytes apart, row i 32 bytes on from row
// i-1: op(lo, hi, acc[i][v]) with lo and hi the places of the vector's
// two blocks on AVX-512 (l3 = 3·ldc where a row has two vectors), lo
// alone (hi the zero Mem) on AVX2, whose vectors are a block each.
func tileBlocks(s isa, acc [][]reg.VecPhysical, c, ldc, l3 reg.Register, op func(lo, hi Mem, a reg.VecPhysical)) {
	for i := range acc {
		d := 32 * i
		for v, a := range acc[i] {
			switch {
			case s.lanes == 8 && v == 0:
				op(Mem{Base: c, Disp: d}, Mem{}, a)
			case s.lanes == 8:
				op(Mem{Base: c, Index: ldc, Scale: 1, Disp: d}, Mem{}, a)
			case v == 0:
				op(Mem{Base: c, Disp: d}, Mem{Base: c, Index: ldc, Scale: 1, Disp: d}, a)
			default:
				op(Mem{Base: c, Index: ldc, Scale: 2, Disp: d}, Mem{Base: c, Index: l3, Scale: 1, Disp: d}, a)
			}
		}
	}
}

// tileEpilogueDoc ends the Go loop in the docs of pixKernel's and
// pixRowKernel's kernels: what their tiles do with a sum s.
var tileEpilogueDoc = []string{
	"				if flags&1 != 0 {",
	"					s += c[i*ldc+j]",
	"				}",
	"				if bias != nil {",
	"					s += bias[j]",
	"				}",
	"				if clip != nil && s == s { // clip[0] not NaN or -0, clip[1] not NaN or ±0",
	"					s = min(max(s, clip[0]), clip[1]) // a NaN s is kept as it is",
	"				}",
	"				c[i*ldc+j] = s",
	"			}",
	"		}",
	"	}",
}

// pixRowKernel emits KernPixRow{isa}x{r}S{sw}: r consecutive output
// pixels of one output row × one vector of output channels of a
// convolution with a 3-wide window at column stride sw, on an input in
// blocks of 8 channels, pixel-major (8 values a column, conv_pix.go's
// blocked copy). The pixel-tile kernels broadcast one input value for
// every multiply-add where the channels fill one vector (RegNet's groups
// of 16): a load a multiply-add, which bounds them at the load ports'
// rate. Along a row, one input value is a tap of up to three outputs
// (stride 1; 1.5 at stride 2), so this kernel walks each window row's
// input columns once, multiplying each by the three taps' weight vectors,
// kept in registers, into the outputs it reaches: 3 weight loads a window
// row, the rest broadcasts folded into the multiply-adds. Each output's
// sum runs over the steps p = row·3 + kw in order, as the pixel kernels'.
func pixRowKernel(s isa, r, sw int) {
	const kw, wld, col = 3, 32, 8 // window width, panel width, column stride
	name := fmt.Sprintf("KernPixRow%sx%dS%d", s.name, r, sw)
	TEXT(name, NOSPLIT, "func(rows int, w, src *float32, boff *int32, c *float32, ldc int, flags int, bias, clip *float32, tiles int)")
	Pragma("noescape")
	R, L, SW := fmt.Sprint(r), fmt.Sprint(s.lanes), fmt.Sprint(sw)
	Doc(append([]string{
		fmt.Sprintf("%s computes tiles of %d pixels of an output row × %d channels of a convolution", name, r, s.lanes),
		"with a 3-wide window at column stride " + SW + " with " + s.name + ", as this Go loop does (indices in elements;",
		"w is a packed panel of 3·rows steps of " + fmt.Sprint(wld) + " weights, of which the first " + L + " are read; an input",
		"column is " + fmt.Sprint(col) + " values from the next, and window row q starts at boff[3q]):",
		"",
		"	for t := range tiles {",
		"		for i := t * " + R + "; i < (t+1)*" + R + "; i++ {",
		"			for j := range " + L + " {",
		"				var s float32",
		"				for q := range rows {",
		"					for x := range 3 {",
		"						s = fma(src[boff[3*q]+(i*" + SW + "+x)*" + fmt.Sprint(col) + "], w[(3*q+x)*" + fmt.Sprint(wld) + "+j], s) // rounded once",
		"					}",
		"				}",
	}, tileEpilogueDoc...)...)
	lsrc, lc, ln := AllocLocal(8), AllocLocal(8), AllocLocal(8)
	{
		t := Load(Param("src"), GP64())
		MOVQ(t, lsrc)
		t = Load(Param("c"), GP64())
		MOVQ(t, lc)
		t = Load(Param("tiles"), GP64())
		MOVQ(t, ln)
		TESTQ(t, t)
		JZ(LabelRef("done"))
	}
	acc := make([][]reg.VecPhysical, r)
	for i := range r {
		acc[i] = s.regs[i : i+1]
	}
	wv := s.regs[r : r+kw]
	Label("tile")
	rows := Load(Param("rows"), GP64())
	w := Load(Param("w"), GP64())
	boff := Load(Param("boff"), GP64())
	src := GP64()
	MOVQ(lsrc, src)
	Comment("acc = 0")
	for i := range r {
		VXORPS(acc[i][0].AsX(), acc[i][0].AsX(), acc[i][0].AsX())
	}
	TESTQ(rows, rows)
	JZ(LabelRef("store"))
	off := GP64()
	Label("row")
	Comment("window row q: its input columns a = 0.. once each, a = i·" + SW + " + x for output i, tap x")
	MOVLQSX(Mem{Base: boff}, off)
	for x := range kw {
		VMOVUPS(Mem{Base: w, Disp: 4 * wld * x}, wv[x])
	}
	cols := (r-1)*sw + kw
	for a := range cols {
		// column a, broadcast into each of its multiply-adds
		// (VFMADD231PS.BCST; see foldsBroadcast): against one broadcast
		// into a register for its up to three taps, a Zen 4 ran RegNet's
		// stride-2 layers 80-83 → 86-94 GFLOP/s and the stride-1 ones
		// 88-105 → 94-106 (BenchmarkGroupedConvs, one thread)
		m := Mem{Base: src, Index: off, Scale: 4, Disp: 4 * col * a}
		for x := range kw {
			if i := (a - x) / sw; a >= x && (a-x)%sw == 0 && i < r {
				VFMADD231PS_BCST(m, wv[x], acc[i][0])
			}
		}
	}
	ADDQ(U8(4*kw), boff)
	ADDQ(U32(4*wld*kw), w)
	DECQ(rows)
	JNZ(LabelRef("row"))

	Label("store")
	c := GP64()
	MOVQ(lc, c)
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flags := Load(Param("flags"), GP64())
	tileStore(s, acc, c, ldc, flags, false)
	Comment("the next tile: r pixels on along the row, r more rows of C")
	IMUL3Q(U8(uint8(r)), ldc, ldc)
	ADDQ(ldc, c)
	MOVQ(c, lc)
	ADDQ(U32(4*col*sw*r), lsrc)
	DECQ(ln)
	JNZ(LabelRef("tile"))
	Label("done")
	VZEROUPPER()
	RET()
}

// pixKernel emits an r×(nv·lanes) tile kernel with the roles of a
// convolution's operands turned round: the tile's rows are r output pixels
// and its columns nv·lanes output channels, so that the channels fill the
// vectors and each input value is broadcast. Step p reads pixel i's input
// at src[boff[p]+pix[i]] (through one pointer per pixel) and the channels'
// weights as a packed panel w of k steps. Small planes (ResNet's 7×7),
// whose few pixels leave the usual pixel-wide panels mostly empty, run on
// it (see conv_pix.go). One call runs a row of tiles, each r more pixels
// and r more rows of C: a call from Go costs as much as 40 cycles, a
// third of a 24-step tile.
func pixKernel(s isa, r, nv, wld int) {
	nr := nv * s.lanes
	name := fmt.Sprintf("KernPix%sx%dx%d", s.name, r, nr)
	if wld != nr {
		name += fmt.Sprintf("Of%d", wld)
	}
	TEXT(name, NOSPLIT, "func(k int, w, src *float32, pix, boff *int32, c *float32, ldc int, flags int, bias, clip *float32, tiles int)")
	Pragma("noescape")
	R := fmt.Sprint(r)
	Doc(append(append([]string{
		fmt.Sprintf("%s computes tiles of %d pixels × %d channels of a convolution with %s, as this Go", name, r, nr, s.name),
		"loop does (indices in elements; w is a packed panel of k steps of " + fmt.Sprint(wld) + " weights, of which the first " + fmt.Sprint(nr) + " are read):",
		"",
		"	for t := range tiles {",
		"		for i := t * " + R + "; i < (t+1)*" + R + "; i++ {",
		"			for j := range " + fmt.Sprint(nr) + " {",
		"				var s float32",
		"				for p := range k {",
		"					s = fma(src[boff[p]+pix[i]], w[p*" + fmt.Sprint(wld) + "+j], s) // rounded once",
		"				}",
	}, tileEpilogueDoc...),
		"",
		"With flags&2 the first tile also fetches the k steps of weights after w into the cache;",
		"with flags&4 instead each tile fetches the next (flags>>8)&0xfff lines of them, a line",
		"every two steps, the first tile from line flags>>20 on. With flags&8 C lies in blocks",
		"of 8 channels ldc values apart: c[(j/8)*ldc+i*8+j%8] where the loop reads and writes c[i*ldc+j].",
	)...)
	// The tile loop's state lives in the frame: the pixel offsets and C of
	// the next tile, the tiles left and the flags (the fetch bit cleared
	// after the first tile).
	lpix, lc, ln, lfl := AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
	// flags&4: the byte, past the panel's end, that the next tile's
	// fetches start at, and the pairs of steps a tile runs after them
	lpf, lrest := AllocLocal(8), AllocLocal(8)
	{
		t := Load(Param("pix"), GP64())
		MOVQ(t, lpix)
		t = Load(Param("c"), GP64())
		MOVQ(t, lc)
		t = Load(Param("flags"), GP64())
		MOVQ(t, lfl)
		SHRQ(U8(20), t)
		SHLQ(U8(6), t)
		MOVQ(t, lpf)
		t = Load(Param("tiles"), GP64())
		MOVQ(t, ln)
		TESTQ(t, t)
		JZ(LabelRef("done"))
	}
	Label("tile")
	k := Load(Param("k"), GP64())
	w := Load(Param("w"), GP64())
	src := Load(Param("src"), GP64())
	pix := GP64()
	MOVQ(lpix, pix)
	boff := Load(Param("boff"), GP64())
	ptr := make([]reg.GPVirtual, r)
	for i := range r {
		ptr[i] = GP64()
		MOVLQSX(Mem{Base: pix, Disp: 4 * i}, ptr[i])
		LEAQ(Mem{Base: src, Index: ptr[i], Scale: 4}, ptr[i])
	}
	acc := make([][]reg.VecPhysical, r)
	for i := range r {
		acc[i] = s.regs[i*nv : i*nv+nv]
	}
	wv := s.regs[r*nv : r*nv+nv]
	bc := s.regs[r*nv+nv]
	Comment("acc = 0")
	for i := range r {
		for _, a := range acc[i] {
			VXORPS(a.AsX(), a.AsX(), a.AsX())
		}
	}
	off := GP64()
	step := func(u int) {
		Comment(fmt.Sprintf("acc[i][j] = fma(src[boff[p+%d]+pix[i]], w[p+%d][j], acc[i][j])", u, u))
		MOVLQSX(Mem{Base: boff, Disp: 4 * u}, off)
		for v := range nv {
			VMOVUPS(Mem{Base: w, Disp: 4 * (u*wld + s.lanes*v)}, wv[v])
		}
		for i := range r {
			m := Mem{Base: ptr[i], Index: off, Scale: 4}
			if s.foldsBroadcast(nv) {
				VFMADD231PS_BCST(m, wv[0], acc[i][0])
				continue
			}
			VBROADCASTSS(m, bc)
			for v := range nv {
				VFMADD231PS(wv[v], bc, acc[i][v])
			}
		}
	}
	pairs := GP64()
	// pairLoop emits a loop labelled label over the pairs of steps left,
	// each pair after fetch's instructions.
	pairLoop := func(label string, fetch func()) {
		Label(label)
		fetch()
		step(0)
		step(1)
		ADDQ(U32(8*wld), w)
		ADDQ(U8(8), boff)
		DECQ(pairs)
		JNZ(LabelRef(label))
	}
	MOVQ(k, pairs)
	SHRQ(U8(1), pairs)
	JZ(LabelRef("odd"))
	// flags&2: the first tile of a depth block also fetches the next
	// block's weights, k steps further, a line a step, while it runs.
	fl := GP64()
	MOVQ(lfl, fl)
	TESTQ(U32(4), fl)
	JNZ(LabelRef("spread"))
	TESTQ(U32(2), fl)
	JZ(LabelRef("loop"))
	ahead := GP64()
	MOVQ(k, ahead)
	SHLQ(U8(uint8(log2(4*wld))), ahead)
	pairLoop("prefetching", func() {
		for l := 0; l < 2*4*wld; l += 64 {
			PREFETCHT0(Mem{Base: w, Index: ahead, Scale: 1, Disp: l})
		}
	})
	JMP(LabelRef("odd"))
	// flags&4: the tile's first q = min(pairs, (flags>>8)&0xfff) pairs of
	// steps each fetch a line of the next panel, from byte lpf past w's
	// end on; lpf then moves q lines on for the next tile.
	Label("spread")
	SHRQ(U8(8), fl)
	ANDQ(U32(0xfff), fl)
	CMPQ(fl, pairs)
	CMOVQGT(pairs, fl)
	SUBQ(fl, pairs)
	MOVQ(pairs, lrest)
	MOVQ(fl, pairs)
	pf := GP64()
	MOVQ(k, pf)
	SHLQ(U8(uint8(log2(4*wld))), pf)
	ADDQ(lpf, pf)
	ADDQ(w, pf)
	SHLQ(U8(6), fl)
	ADDQ(fl, lpf)
	TESTQ(pairs, pairs)
	JZ(LabelRef("rest"))
	pairLoop("spreading", func() {
		PREFETCHT0(Mem{Base: pf})
		ADDQ(U8(64), pf)
	})
	Label("rest")
	MOVQ(lrest, pairs)
	TESTQ(pairs, pairs)
	JZ(LabelRef("odd"))
	pairLoop("loop", func() {})
	Label("odd")
	TESTQ(U32(1), k)
	JZ(LabelRef("store"))
	step(0)

	Label("store")
	c := GP64()
	MOVQ(lc, c)
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flags := GP64()
	MOVQ(lfl, flags)
	tileStore(s, acc, c, ldc, flags, true)
	Comment("the next tile: r more pixels and rows of C (flags&8: r·8 values), no fetching")
	TESTQ(U32(8), flags)
	JNZ(LabelRef("nextblk"))
	IMUL3Q(U8(uint8(r)), ldc, ldc)
	ADDQ(ldc, c)
	JMP(LabelRef("next"))
	Label("nextblk")
	ADDQ(U32(32*r), c)
	Label("next")
	MOVQ(c, lc)
	ADDQ(U8(uint8(4*r)), pix)
	MOVQ(pix, lpix)
	ANDQ(I8(^2), flags)
	MOVQ(flags, lfl)
	DECQ(ln)
	JNZ(LabelRef("tile"))
	Label("done")
	VZEROUPPER()
	RET()
}

// dwTaps emits a depthwise convolution's sum over its window for a run of
// outputs: every tap t reads its input at base[off[t]:], a plane of the
// phase copy shifted by the tap, so that one call computes a whole output
// plane laid out as wide as the phase planes (see convDirect). The weights
// are broadcast from memory, any number of taps; four vectors of outputs
// a step, then one.
func dwTaps(s isa) {
	name := "DwTaps" + s.name
	TEXT(name, NOSPLIT, "func(dst, base *float32, off *int32, w *float32, taps, n int, bias float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does:", name, s.lanes, s.lanes),
		"",
		"	for j := range n {",
		"		s := bias",
		"		for t := range taps {",
		"			s = fma(w[t], base[off[t]+j], s) // rounded once",
		"		}",
		"		dst[j] = s",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	base := Load(Param("base"), GP64()).(reg.GPVirtual)
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	bias := s.regs[0]
	broadcastParam("bias", bias)
	acc := s.regs[1:5]
	wt := s.regs[5]
	off, w, t, o := GP64(), GP64(), GP64(), GP64()
	// sweep emits one step of nv vectors at base+j: acc = bias, the taps,
	// the stores; j is the byte offset kept in base and dst themselves.
	sweep := func(label string, nv int) {
		Label(label)
		CMPQ(n, U8(nv*s.lanes))
		JL(LabelRef(label + "_done"))
		for v := range nv {
			VMOVAPS(bias, acc[v])
		}
		tapLoop(label, off, w, t, o, 4, func() {
			VBROADCASTSS(Mem{Base: w}, wt)
			for v := range nv {
				VFMADD231PS(Mem{Base: base, Index: o, Scale: 4, Disp: 4 * s.lanes * v}, wt, acc[v])
			}
		})
		for v := range nv {
			VMOVUPS(acc[v], Mem{Base: dst, Disp: 4 * s.lanes * v})
		}
		ADDQ(U32(4*s.lanes*nv), base)
		ADDQ(U32(4*s.lanes*nv), dst)
		SUBQ(U32(nv*s.lanes), n)
		JMP(LabelRef(label))
		Label(label + "_done")
	}
	sweep("four", 4)
	sweep("one", 1)
	VZEROUPPER()
	RET()
}

// clipTile emits Clip (ReLU6) on a tile of rows a stride apart, in place,
// with clip's exact semantics: the epilogue of a micro-kernel's tile in
// one call, where a call per row cost more than the clipping.
func clipTile(s isa) {
	name := "ClipTile" + s.name
	TEXT(name, NOSPLIT, "func(c *float32, ldc, rows, n int, lo, hi float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes, %d values at a time (n must be a multiple of %d), as this Go loop does,", name, s.lanes, s.lanes),
		"bit for bit on amd64 (see Clip"+s.name+"):",
		"",
		"	for r := range rows {",
		"		for j := range n {",
		"			c[r*ldc+j] = min(max(c[r*ldc+j], lo), hi)",
		"		}",
		"	}",
	)
	c := Load(Param("c"), GP64()).(reg.GPVirtual)
	ldc := Load(Param("ldc"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldc)
	rows := Load(Param("rows"), GP64()).(reg.GPVirtual)
	sign, nlo, hi := s.regs[0], s.regs[1], s.regs[2]
	bits := GP32()
	MOVL(U32(0x80000000), bits)
	VMOVD(bits, sign.AsX())
	VBROADCASTSS(sign.AsX(), sign)
	broadcastParam("lo", nlo)
	VXORPS(sign, nlo, nlo) // -lo
	broadcastParam("hi", hi)
	x, a, b := s.regs[3], s.regs[4], s.regs[5]
	p, j := GP64(), GP64()
	Comment("c = min(max(c, lo), hi), row by row")
	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	MOVQ(c, p)
	Load(Param("n"), j)
	SHRQ(U8(log2(s.lanes)), j)
	Label("vec")
	TESTQ(j, j)
	JZ(LabelRef("next"))
	VMOVUPS(Mem{Base: p}, x)
	clipVec(x, a, b, sign, nlo, hi)
	VMOVUPS(b, Mem{Base: p})
	ADDQ(U8(4*s.lanes), p)
	DECQ(j)
	JMP(LabelRef("vec"))
	Label("next")
	ADDQ(ldc, c)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// tapLoop emits the loop over a depthwise window's taps: off, w and t
// loaded from the parameters off, w and taps, then for each tap o =
// off[t] (sign-extended) and body, off advancing 4 bytes and w wstep; it
// ends at label_store.
func tapLoop(label string, off, w, t, o reg.GPVirtual, wstep uint8, body func()) {
	Load(Param("off"), off)
	Load(Param("w"), w)
	Load(Param("taps"), t)
	Label(label + "_tap")
	TESTQ(t, t)
	JZ(LabelRef(label + "_store"))
	MOVLQSX(Mem{Base: off}, o)
	body()
	ADDQ(U8(4), off)
	ADDQ(U8(wstep), w)
	DECQ(t)
	JMP(LabelRef(label + "_tap"))
	Label(label + "_store")
}

// dwRowLocals keeps the row loop's state of dwRow8 and dwRow16 in the
// frame: the next row's out and x, and the rows left.
func dwRowLocals() (lout, lx, lrows Mem) {
	lout, lx, lrows = AllocLocal(8), AllocLocal(8), AllocLocal(8)
	for _, m := range []struct {
		param string
		at    Mem
	}{{"out", lout}, {"x", lx}, {"rows", lrows}} {
		t := Load(Param(m.param), GP64())
		MOVQ(t, m.at)
	}
	return lout, lx, lrows
}

// dwRowHead emits the row loop's head (label "bounds": no rows goes to
// "done"; label "row": a row starts) and returns the row's out and x
// pointers, its pixel count n and its step in bytes.
func dwRowHead(lout, lx, lrows Mem) (out, x, n, step reg.GPVirtual) {
	Label("bounds")
	{
		t := GP64()
		MOVQ(lrows, t)
		TESTQ(t, t)
		JZ(LabelRef("done"))
	}
	Label("row")
	out, x = GP64(), GP64()
	MOVQ(lout, out)
	MOVQ(lx, x)
	n = Load(Param("n"), GP64()).(reg.GPVirtual)
	step = Load(Param("step"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), step)
	return out, x, n, step
}

// dwRowTail emits the row loop's end: the next row's out and x, ldo and
// ldx further, back to "row" while rows are left, then "done".
func dwRowTail(lout, lx, lrows Mem) {
	Comment("the next row")
	ldo := Load(Param("ldo"), GP64())
	SHLQ(U8(2), ldo)
	ADDQ(ldo, lout)
	ldx := Load(Param("ldx"), GP64())
	SHLQ(U8(2), ldx)
	ADDQ(ldx, lx)
	DECQ(lrows)
	JNZ(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// dwRowCtx is what the pixel loops of dwRow8 and dwRow16 share: the bytes
// of a pixel's vector (32: 8 channels, 64: 16), the bias, the row's
// registers and the clip step.
type dwRowCtx struct {
	vb              int
	bias            reg.VecPhysical
	n, x, out, step reg.GPVirtual
	offp, wp, t, o  reg.GPVirtual
	clipped         func(label string, acc []reg.VecPhysical)
}

// group emits nv pixels at any step, acc their sums, wv a tap's weights:
// p[k] = x + (j+k)·step, the taps, the stores.
func (d *dwRowCtx) group(label string, nv int, acc []reg.VecPhysical, wv reg.VecPhysical, p []reg.GPVirtual) {
	Label(label)
	CMPQ(d.n, U8(nv))
	JL(LabelRef(label + "_done"))
	MOVQ(d.x, p[0])
	for k := 1; k < nv; k++ {
		LEAQ(Mem{Base: p[k-1], Index: d.step, Scale: 1}, p[k])
	}
	for k := range nv {
		VMOVAPS(d.bias, acc[k])
	}
	tapLoop(label, d.offp, d.wp, d.t, d.o, uint8(d.vb), func() {
		VMOVUPS(Mem{Base: d.wp}, wv)
		for k := range nv {
			VFMADD231PS(Mem{Base: p[k], Index: d.o, Scale: 4}, wv, acc[k])
		}
	})
	d.clipped(label, acc[:nv])
	for k := range nv {
		VMOVUPS(acc[k], Mem{Base: d.out, Disp: d.vb * k})
	}
	ADDQ(imm(d.vb*nv), d.out)
	for range nv {
		ADDQ(d.step, d.x)
	}
	SUBQ(U8(nv), d.n)
	JMP(LabelRef(label))
	Label(label + "_done")
}

// wide emits eight pixels a step for a step of cs bytes known here, acc
// their sums, wv a tap's weights, fewer than eight left going to next:
// every address is x + off[t]·4 + k·cs, so one pointer serves the eight,
// and eight accumulators hide the FMA latency of a tap's chain.
func (d *dwRowCtx) wide(label string, cs int, acc []reg.VecPhysical, wv reg.VecPhysical, next string) {
	Label(label)
	CMPQ(d.n, U8(8))
	JL(LabelRef(next))
	for k := range 8 {
		VMOVAPS(d.bias, acc[k])
	}
	tapLoop(label, d.offp, d.wp, d.t, d.o, uint8(d.vb), func() {
		VMOVUPS(Mem{Base: d.wp}, wv)
		for k := range 8 {
			VFMADD231PS(Mem{Base: d.x, Index: d.o, Scale: 4, Disp: k * cs}, wv, acc[k])
		}
	})
	d.clipped(label, acc)
	for k := range 8 {
		VMOVUPS(acc[k], Mem{Base: d.out, Disp: d.vb * k})
	}
	ADDQ(U32(8*d.vb), d.out)
	ADDQ(U32(8*cs), d.x)
	SUBQ(U8(8), d.n)
	JMP(LabelRef(label))
}

// imm is v as an immediate: a byte where it fits.
func imm(v int) Op {
	if v < 256 {
		return U8(uint8(v))
	}
	return U32(uint32(v))
}

// dwRow8 emits one output row of a depthwise convolution in the
// channel-blocked layout: input and output pixels are vectors of 8
// channels (a block of channels transposed for the call, see conv_dw8.go),
// so that each tap is one vector FMA with the 8 channels' weights and no
// value is broadcast. Eight pixels a step share each tap's weights at
// strides 1 and 2, then four, then one at a time.
func dwRow8(s isa) {
	name := "DwRow8" + s.name
	TEXT(name, NOSPLIT, "func(out, x *float32, off *int32, w *float32, taps, n, step int, bias, clip *float32, rows, ldo, ldx int)")
	Pragma("noescape")
	Doc(
		name+" computes rows rows of n output pixels of 8 channels each, as this Go loop does",
		"(indices in elements; row r's pixel j's window starts at x[r*ldx+j*step:] and tap t",
		"reads it at off[t]):",
		"",
		"	for r := range rows {",
		"		for j := range n {",
		"			for c := range 8 {",
		"				s := bias[c]",
		"				for t := range taps {",
		"					s = fma(w[t*8+c], x[r*ldx+j*step+off[t]+c], s) // rounded once",
		"				}",
		"				if clip != nil && s == s { // clip[0] not NaN or -0, clip[1] not NaN or ±0",
		"					s = min(max(s, clip[0]), clip[1]) // a NaN s is kept as it is",
		"				}",
		"				out[r*ldo+j*8+c] = s",
		"			}",
		"		}",
		"	}",
	)
	// The pixels are vectors of 8 channels (AVX2's width); the AVX-512
	// kernel also runs stride 1 sixteen pixels a step, two a vector,
	// with the weights and bias repeated in both halves.
	z := s
	s = avx2
	lout, lx, lrows := dwRowLocals()
	bp := Load(Param("bias"), GP64()).(reg.GPVirtual)
	bias := s.regs[0]
	VMOVUPS(Mem{Base: bp}, bias)
	// With clip, lo and hi stay in the last registers, which neither loop
	// uses, and every pixel's sums are clipped before they are stored.
	clip := Load(Param("clip"), GP64()).(reg.GPVirtual)
	lo, hi, ct, cnan := s.regs[12], s.regs[13], s.regs[14], s.regs[15]
	// On AVX-512 the same in zmm registers past the ymm ones, the bias
	// in both halves.
	var zbias, zlo, zhi, zct reg.VecPhysical
	if z.lanes == 16 {
		zbias, zlo, zhi, zct = z.regs[16], z.regs[17], z.regs[18], z.regs[19]
		VBROADCASTF32X8(Mem{Base: bp}, zbias)
	}
	TESTQ(clip, clip)
	JZ(LabelRef("bounds"))
	VBROADCASTSS(Mem{Base: clip}, lo)
	VBROADCASTSS(Mem{Base: clip, Disp: 4}, hi)
	if z.lanes == 16 {
		VBROADCASTSS(Mem{Base: clip}, zlo)
		VBROADCASTSS(Mem{Base: clip, Disp: 4}, zhi)
	}
	out, x, n, step := dwRowHead(lout, lx, lrows)
	clipped := func(label string, acc []reg.VecPhysical) {
		TESTQ(clip, clip)
		JZ(LabelRef(label + "_put"))
		clipAcc(s, acc, lo, hi, ct, cnan)
		Label(label + "_put")
	}
	acc := s.regs[1:5]
	wv := s.regs[5]
	p := []reg.GPVirtual{GP64(), GP64(), GP64(), GP64()}
	offp, wp, t, o := GP64(), GP64(), GP64(), GP64()
	d := &dwRowCtx{vb: 32, bias: bias, n: n, x: x, out: out, step: step, offp: offp, wp: wp, t: t, o: o, clipped: clipped}
	group := func(label string, nv int) { d.group(label, nv, acc, wv, p) }
	wide := func(label string, cs int) { d.wide(label, cs, s.regs[1:9], s.regs[9], "four") }
	// zwide emits, on AVX-512, sixteen pixels a step at stride 1: pixels
	// 2k and 2k+1 are one vector at x + off[t]·4 + 64k.
	zwide := func(label string) {
		acc := z.regs[20:28]
		wv := z.regs[28]
		Label(label)
		CMPQ(n, U8(16))
		JL(LabelRef("s1"))
		for k := range 8 {
			VMOVAPS(zbias, acc[k])
		}
		tapLoop(label, offp, wp, t, o, 32, func() {
			VBROADCASTF32X8(Mem{Base: wp}, wv)
			for k := range 8 {
				VFMADD231PS(Mem{Base: x, Index: o, Scale: 4, Disp: 64 * k}, wv, acc[k])
			}
		})
		TESTQ(clip, clip)
		JZ(LabelRef(label + "_put"))
		clipAcc(z, acc, zlo, zhi, zct, zct)
		Label(label + "_put")
		for k := range 8 {
			VMOVUPS(acc[k], Mem{Base: out, Disp: 64 * k})
		}
		ADDQ(U32(512), out)
		ADDQ(U32(512), x)
		SUBQ(U8(16), n)
		JMP(LabelRef(label))
	}
	// Strides 1 and 2 (steps of 8 and 16 values) take the wide loops.
	CMPQ(step, U8(32))
	if z.lanes == 16 {
		JE(LabelRef("z1"))
	} else {
		JE(LabelRef("s1"))
	}
	CMPQ(step, U8(64))
	JE(LabelRef("s2"))
	JMP(LabelRef("four"))
	if z.lanes == 16 {
		zwide("z1")
	}
	wide("s1", 32)
	wide("s2", 64)
	group("four", 4)
	group("one", 1)
	dwRowTail(lout, lx, lrows)
}

// dwRow16 emits DwRow16AVX512: dwRow8 for pixels of 16 channels, one zmm
// vector each, as the one-pass depthwise blocks keep their expanded input
// (pixels of 32 channels on AVX-512, so a step of 32 or 64 values, where
// DwRow8's wide loops do not apply and a block of 8 channels would run at
// half the vector's width). Eight pixels a step share each tap's weights
// when the step is 16, 32 or 64 values, then four, then one at a time.
func dwRow16() {
	z := avx512
	name := "DwRow16AVX512"
	TEXT(name, NOSPLIT, "func(out, x *float32, off *int32, w *float32, taps, n, step int, bias, clip *float32, rows, ldo, ldx int)")
	Pragma("noescape")
	Doc(
		name+" computes rows rows of n output pixels of 16 channels each, as this Go loop does",
		"(indices in elements; row r's pixel j's window starts at x[r*ldx+j*step:] and tap t",
		"reads it at off[t]):",
		"",
		"	for r := range rows {",
		"		for j := range n {",
		"			for c := range 16 {",
		"				s := bias[c]",
		"				for t := range taps {",
		"					s = fma(w[t*16+c], x[r*ldx+j*step+off[t]+c], s) // rounded once",
		"				}",
		"				if clip != nil && s == s { // clip[0] not NaN or -0, clip[1] not NaN or ±0",
		"					s = min(max(s, clip[0]), clip[1]) // a NaN s is kept as it is",
		"				}",
		"				out[r*ldo+j*16+c] = s",
		"			}",
		"		}",
		"	}",
	)
	lout, lx, lrows := dwRowLocals()
	bp := Load(Param("bias"), GP64()).(reg.GPVirtual)
	bias := z.regs[0]
	VMOVUPS(Mem{Base: bp}, bias)
	// With clip, lo and hi stay in registers neither loop uses.
	clip := Load(Param("clip"), GP64()).(reg.GPVirtual)
	lo, hi, ct := z.regs[28], z.regs[29], z.regs[30]
	TESTQ(clip, clip)
	JZ(LabelRef("bounds"))
	VBROADCASTSS(Mem{Base: clip}, lo)
	VBROADCASTSS(Mem{Base: clip, Disp: 4}, hi)
	out, x, n, step := dwRowHead(lout, lx, lrows)
	clipped := func(label string, acc []reg.VecPhysical) {
		TESTQ(clip, clip)
		JZ(LabelRef(label + "_put"))
		clipAcc(z, acc, lo, hi, ct, ct)
		Label(label + "_put")
	}
	offp, wp, t, o := GP64(), GP64(), GP64(), GP64()
	p := []reg.GPVirtual{GP64(), GP64(), GP64(), GP64()}
	d := &dwRowCtx{vb: 64, bias: bias, n: n, x: x, out: out, step: step, offp: offp, wp: wp, t: t, o: o, clipped: clipped}
	wide := func(label string, cs int) { d.wide(label, cs, z.regs[1:9], z.regs[9], "four") }
	group := func(label string, nv int) { d.group(label, nv, z.regs[1:5], z.regs[5], p) }
	// Steps of 16, 32 and 64 values take the wide loops.
	for _, cs := range []int{64, 128, 256} {
		CMPQ(step, U32(uint32(cs)))
		JE(LabelRef(fmt.Sprintf("w%d", cs)))
	}
	JMP(LabelRef("four"))
	for _, cs := range []int{64, 128, 256} {
		wide(fmt.Sprintf("w%d", cs), cs)
	}
	group("four", 4)
	group("one", 1)
	dwRowTail(lout, lx, lrows)
}

// gather8Rows emits Gather8 into rows: the pixels of 8 planes, read in
// order across the planes' rows, land in rows of w pixels ldd values apart
// (the padded rows of the channel-blocked depthwise path), so that a
// plane whose width is not a multiple of 8 is moved in one pass instead
// of a transpose and a copy per row. Each pixel's vector is stored on its
// own, the store pointer jumping the gap after every w pixels.
func gather8Rows() {
	name := "Gather8RowsAVX2"
	TEXT(name, NOSPLIT, "func(dst, src *float32, lds, n, w, ldd int)")
	Pragma("noescape")
	Doc(
		name+" computes, 8 values of j at a time (n must be a multiple of 8), as this Go loop does:",
		"",
		"	for j := range n {",
		"		for i := range 8 {",
		"			dst[j/w*ldd+j%w*8+i] = src[i*lds+j]",
		"		}",
		"	}",
	)
	dst, src, ld, n := gatherParams()
	w := Load(Param("w"), GP64()).(reg.GPVirtual)
	gap := Load(Param("ldd"), GP64()).(reg.GPVirtual)
	// gap = (ldd - 8w)·4 bytes between a row's end and the next row
	t8 := GP64()
	MOVQ(w, t8)
	SHLQ(U8(3), t8)
	SUBQ(t8, gap)
	SHLQ(U8(2), gap)
	col := GP64()
	XORQ(col, col)
	r := avx2.regs[0:8]
	t := avx2.regs[8:16]
	p := GP64()
	Label("block")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("load 8 rows of 8")
	loadRows8(src, ld, p, r)
	transpose8x8(r, t)
	Comment("store the 8 pixels, jumping the gap after each row's last")
	for i := range 8 {
		VMOVUPS(t[i], Mem{Base: dst})
		ADDQ(U8(32), dst)
		INCQ(col)
		CMPQ(col, w)
		JNE(LabelRef(fmt.Sprintf("same%d", i)))
		ADDQ(gap, dst)
		XORQ(col, col)
		Label(fmt.Sprintf("same%d", i))
	}
	ADDQ(U8(32), src)
	DECQ(n)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// block8Rows emits Block8RowsAVX2: the padded copy of 8 channels that the
// grouped convolutions' kernels read (kern's blockRowsFrom), whole image
// rows with their padding columns in one call. Gather8Rows left a row run
// whose length is not a multiple of 8 to a Go loop and the padding to Go
// stores; here the run's last pixels are read under a mask (nothing past
// them is read, nothing past the last row's padding written) and the
// zeros of the padding columns are stored as the pixels pass: a row's left
// columns before its first pixel, its right ones after its last. Eight
// pixels within one row are stored without a test per pixel (a row of
// 112 is 14 such steps).
func block8Rows() {
	name := "Block8RowsAVX2"
	TEXT(name, NOSPLIT, "func(dst, src *float32, lds, rows, w, padl, padr int)")
	Pragma("noescape")
	Doc(
		name+" computes, as this Go loop does (rows·w ≥ 1, padl and padr ≥ 0, ld = (padl+w+padr)·8):",
		"",
		"	for r := range rows {",
		"		for i := range 8 {",
		"			for p := range padl {",
		"				dst[r*ld+p*8+i] = 0",
		"			}",
		"			for j := range w {",
		"				dst[r*ld+(padl+j)*8+i] = src[i*lds+r*w+j]",
		"			}",
		"			for p := range padr {",
		"				dst[r*ld+(padl+w+p)*8+i] = 0",
		"			}",
		"		}",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	ld := Load(Param("lds"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ld)
	n := Load(Param("rows"), GP64()).(reg.GPVirtual)
	w := Load(Param("w"), GP64()).(reg.GPVirtual)
	IMULQ(w, n) // pixels
	padl := Load(Param("padl"), GP64()).(reg.GPVirtual)
	padr := Load(Param("padr"), GP64()).(reg.GPVirtual)
	col, cnt, p := GP64(), GP64(), GP64()
	XORQ(col, col)
	r := avx2.regs[0:8]
	t := avx2.regs[8:16]
	zero := avx2.regs[0] // only while a pixel's zeros are stored (r is free then)
	// put stores t[i], the next pixel, with the zeros around it.
	put := func(i int, label string) {
		CMPQ(col, U8(0))
		JNE(LabelRef(label + "_in"))
		zeros(padl, cnt, zero, dst, label+"_l")
		Label(label + "_in")
		VMOVUPS(t[i], Mem{Base: dst})
		ADDQ(U8(32), dst)
		INCQ(col)
		CMPQ(col, w)
		JNE(LabelRef(label + "_next"))
		zeros(padr, cnt, zero, dst, label+"_r")
		XORQ(col, col)
		Label(label + "_next")
	}
	Label("block")
	CMPQ(n, U8(8))
	JB(LabelRef("tail"))
	Comment("load 8 rows of 8")
	loadRows8(src, ld, p, r)
	transpose8x8(r, t)
	ADDQ(U8(32), src)
	SUBQ(U8(8), n)
	Comment("8 pixels within one row (w - col ≥ 8): stored straight")
	MOVQ(w, p)
	SUBQ(col, p)
	CMPQ(p, U8(8))
	JB(LabelRef("split"))
	CMPQ(col, U8(0))
	JNE(LabelRef("whole_in"))
	zeros(padl, cnt, zero, dst, "whole_l")
	Label("whole_in")
	for i := range 8 {
		VMOVUPS(t[i], Mem{Base: dst, Disp: 32 * i})
	}
	ADDQ(U32(256), dst)
	ADDQ(U8(8), col)
	CMPQ(col, w)
	JNE(LabelRef("block"))
	zeros(padr, cnt, zero, dst, "whole_r")
	XORQ(col, col)
	JMP(LabelRef("block"))
	Comment("8 pixels across a row's end: a pixel at a time")
	Label("split")
	for i := range 8 {
		put(i, fmt.Sprintf("p%d", i))
	}
	JMP(LabelRef("block"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("the last n < 8 pixels: lanes j < n of each row (iota8 < n)")
	m := t[0]
	VMOVQ(n, m.AsX())
	VPBROADCASTD(m.AsX(), m)
	VPCMPGTD(iota8, m, m)
	MOVQ(src, p)
	for i := range 8 {
		VMASKMOVPS(Mem{Base: p}, m, r[i])
		if i < 7 {
			ADDQ(ld, p)
		}
	}
	transpose8x8(r, t)
	for i := range 7 {
		put(i, fmt.Sprintf("t%d", i))
		CMPQ(n, U8(i+1))
		JE(LabelRef("done"))
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// zeros emits the stores of count (a register, ≥ 0) pixels of 8 zeros at
// dst on, dst moved past them; c and z are scratch, label names the loop.
func zeros(count, c reg.GPVirtual, z reg.VecPhysical, dst reg.GPVirtual, label string) {
	MOVQ(count, c)
	TESTQ(c, c)
	JZ(LabelRef(label + "_end"))
	VXORPS(z, z, z)
	Label(label)
	VMOVUPS(z, Mem{Base: dst})
	ADDQ(U8(32), dst)
	DECQ(c)
	JNZ(LabelRef(label))
	Label(label + "_end")
}

// iota8 is the 8 lanes 0, 1, ..., 7 (int32): Block8RowsAVX2's tail masks.
var iota8 Mem

// iota8Table emits iota8.
func iota8Table() {
	iota8 = GLOBL("iota8", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(uint32(i)))
	}
}

// gather8RowsAffine emits Gather8RowsAffineAVX2: Gather8Rows with w = 1
// (pixel j at dst + j·ldd, the pixel-major copy of a 1×1 convolution) and
// an affine step per channel on the gathered pixels, rounded as Affine
// rounds (after the product and after the sum), and Relu's max(0, v) as
// Affine takes it, with a lower bound of -Inf (which changes nothing,
// NaN and -0 included) when relu is 0. The copy applies the convolution's
// prologue with it.
func gather8RowsAffine() {
	name := "Gather8RowsAffineAVX2"
	TEXT(name, NOSPLIT, "func(dst, src *float32, lds, n, ldd int, scale, bias *float32, relu int)")
	Pragma("noescape")
	Doc(
		name+" computes, 8 values of j at a time (n must be a multiple of 8), as this Go loop does:",
		"",
		"	for j := range n {",
		"		for i := range 8 {",
		"			v := float32(src[i*lds+j]*scale[i]) + bias[i] // rounded after the product and after the sum",
		"			if relu != 0 && v < 0 {",
		"				v = 0 // NaN and -0 are kept",
		"			}",
		"			dst[j*ldd+i] = v",
		"		}",
		"	}",
	)
	dst, src, ld, n := gatherParams()
	ldd := Load(Param("ldd"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldd)
	sc := Load(Param("scale"), GP64()).(reg.GPVirtual)
	bi := Load(Param("bias"), GP64()).(reg.GPVirtual)
	// lo: 0 with relu, -Inf (bits 0xff800000) without
	lo := GP32()
	MOVL(U32(0xff800000), lo)
	relu := Load(Param("relu"), GP64())
	TESTQ(relu, relu)
	JZ(LabelRef("bounds"))
	XORL(lo, lo)
	Label("bounds")
	r := avx2.regs[0:8]
	t := avx2.regs[8:16]
	p := GP64()
	Label("block")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("load 8 rows of 8")
	loadRows8(src, ld, p, r)
	transpose8x8(r, t)
	Comment("v = max(lo, pixel·scale + bias), the 8 pixels ldd apart")
	VMOVUPS(Mem{Base: sc}, r[0])
	VMOVUPS(Mem{Base: bi}, r[1])
	VMOVD(lo, r[2].AsX())
	VBROADCASTSS(r[2].AsX(), r[2])
	for i := range 8 {
		VMULPS(r[0], t[i], t[i])
		VADDPS(r[1], t[i], t[i])
		VMAXPS(t[i], r[2], t[i])
		VMOVUPS(t[i], Mem{Base: dst})
		ADDQ(ldd, dst)
	}
	ADDQ(U8(32), src)
	DECQ(n)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// transpose16x16 emits the 16×16 transpose of the rows r into r itself,
// r[c][i] = the old r[i][c], with t as scratch: unpacks of row pairs and
// shuffles within the 128-bit lanes (each lane then holds a column of
// four rows), and two rounds of lane shuffles across four registers.
func transpose16x16(r, t []reg.VecPhysical) {
	Comment("transpose 16×16: unpacks of row pairs, shuffles within lanes, then across lanes")
	for q := 0; q < 16; q += 2 {
		VUNPCKLPS(r[q+1], r[q], t[q])   // per lane: r[q][0] r[q+1][0] r[q][1] r[q+1][1]
		VUNPCKHPS(r[q+1], r[q], t[q+1]) // per lane: r[q][2] r[q+1][2] r[q][3] r[q+1][3]
	}
	for h := 0; h < 16; h += 4 {
		// lane L of r[h+c] holds column 4L+c of rows h..h+3
		VSHUFPS(U8(0x44), t[h+2], t[h], r[h])
		VSHUFPS(U8(0xee), t[h+2], t[h], r[h+1])
		VSHUFPS(U8(0x44), t[h+3], t[h+1], r[h+2])
		VSHUFPS(U8(0xee), t[h+3], t[h+1], r[h+3])
	}
	for c := range 4 {
		// the lanes of r[c], r[4+c], r[8+c], r[12+c] (rows 0..3, 4..7,
		// 8..11, 12..15 of columns c, 4+c, 8+c, 12+c) transposed as a 4×4
		VSHUFF32X4(U8(0x44), r[4+c], r[c], t[c])
		VSHUFF32X4(U8(0xee), r[4+c], r[c], t[4+c])
		VSHUFF32X4(U8(0x44), r[12+c], r[8+c], t[8+c])
		VSHUFF32X4(U8(0xee), r[12+c], r[8+c], t[12+c])
		VSHUFF32X4(U8(0x88), t[8+c], t[c], r[c])
		VSHUFF32X4(U8(0xdd), t[8+c], t[c], r[4+c])
		VSHUFF32X4(U8(0x88), t[12+c], t[4+c], r[8+c])
		VSHUFF32X4(U8(0xdd), t[12+c], t[4+c], r[12+c])
	}
}

// gather16Rows emits Gather16RowsAVX512 (affine false) and
// Gather16RowsAffineAVX512: the pixel-major copy of 16 planes, 16 pixels
// a step, each pixel's 16 values one line (Gather8Rows with w = 1 writes
// half a line a pixel, a block of 8 channels at a time); the affine one
// applies the per-channel affine step and Relu bound as
// Gather8RowsAffineAVX2 does.
func gather16Rows(affine bool) {
	name := "Gather16RowsAVX512"
	sig := "func(dst, src *float32, lds, n, ldd int)"
	body := []string{"			dst[j*ldd+i] = src[i*lds+j]"}
	if affine {
		name = "Gather16RowsAffineAVX512"
		sig = "func(dst, src *float32, lds, n, ldd int, scale, bias *float32, relu int)"
		body = []string{
			"			v := float32(src[i*lds+j]*scale[i]) + bias[i] // rounded after the product and after the sum",
			"			if relu != 0 && v < 0 {",
			"				v = 0 // NaN and -0 are kept",
			"			}",
			"			dst[j*ldd+i] = v",
		}
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	doc := []string{
		name + " computes, 16 values of j at a time (n must be a multiple of 16), as this Go loop does:",
		"",
		"	for j := range n {",
		"		for i := range 16 {",
	}
	doc = append(doc, body...)
	doc = append(doc, "		}", "	}")
	Doc(doc...)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	ld := Load(Param("lds"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ld)
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	SHRQ(U8(4), n)
	ldd := Load(Param("ldd"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldd)
	z := avx512.regs
	r, t := z[0:16], z[16:32]
	var sc, bi reg.GPVirtual
	lo := GP32()
	if affine {
		sc = Load(Param("scale"), GP64()).(reg.GPVirtual)
		bi = Load(Param("bias"), GP64()).(reg.GPVirtual)
		// lo: 0 with relu, -Inf (bits 0xff800000) without
		MOVL(U32(0xff800000), lo)
		relu := Load(Param("relu"), GP64())
		TESTQ(relu, relu)
		JZ(LabelRef("bounds"))
		XORL(lo, lo)
		Label("bounds")
	}
	p := GP64()
	Label("block")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("load 16 rows of 16")
	MOVQ(src, p)
	for i := range 16 {
		VMOVUPS(Mem{Base: p}, r[i])
		if i < 15 {
			ADDQ(ld, p)
		}
	}
	transpose16x16(r, t)
	if affine {
		Comment("v = max(lo, pixel·scale + bias)")
		VMOVUPS(Mem{Base: sc}, t[0])
		VMOVUPS(Mem{Base: bi}, t[1])
		VMOVD(lo, t[2].AsX())
		VBROADCASTSS(t[2].AsX(), t[2])
		for i := range 16 {
			VMULPS(t[0], r[i], r[i])
			VADDPS(t[1], r[i], r[i])
			VMAXPS(r[i], t[2], r[i])
		}
	}
	Comment("store the 16 pixels, ldd apart")
	for i := range 16 {
		VMOVUPS(r[i], Mem{Base: dst})
		ADDQ(ldd, dst)
	}
	ADDQ(U8(64), src)
	DECQ(n)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// scatter16Epi emits Scatter16EpiAVX512: the pixel-major tile of a
// pixel-tile convolution back into 16 planes, 16 pixels a step, with the
// epilogue the planes would otherwise get in passes of their own after
// it: the bias (where the kernels did not add it), the residual and Relu.
func scatter16Epi() {
	name := "Scatter16EpiAVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds, n int, bias, resid *float32, relu int)")
	Pragma("noescape")
	Doc(
		name+" computes, 16 values of j at a time (n must be a multiple of 16), as this Go loop does",
		"(each sum rounded; when both terms of a sum are NaN, the first is kept, quieted):",
		"",
		"	for i := range 16 {",
		"		for j := range n {",
		"			v := src[j*lds+i]",
		"			if bias != nil {",
		"				v += bias[i]",
		"			}",
		"			if resid != nil {",
		"				v += resid[i*ldd+j]",
		"			}",
		"			if relu != 0 && v < 0 {",
		"				v = 0 // NaN and -0 are kept",
		"			}",
		"			dst[i*ldd+j] = v",
		"		}",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	ldd := Load(Param("ldd"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldd)
	lds := Load(Param("lds"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), lds)
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	SHRQ(U8(4), n)
	bias := Load(Param("bias"), GP64()).(reg.GPVirtual)
	resid := Load(Param("resid"), GP64()).(reg.GPVirtual)
	relu := Load(Param("relu"), GP64()).(reg.GPVirtual)
	z := avx512.regs
	r, t := z[0:16], z[16:32]
	p, q := GP64(), GP64()
	step := GP64() // 16 pixels of src, in bytes
	MOVQ(lds, step)
	SHLQ(U8(4), step)
	Label("block")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("load the 16 pixels' 16 values")
	MOVQ(src, p)
	for i := range 16 {
		VMOVUPS(Mem{Base: p}, r[i])
		if i < 15 {
			ADDQ(lds, p)
		}
	}
	transpose16x16(r, t)
	Comment("r[i] += bias[i]")
	TESTQ(bias, bias)
	JZ(LabelRef("nobias"))
	for i := range 16 {
		VBROADCASTSS(Mem{Base: bias, Disp: 4 * i}, t[i])
		VADDPS(t[i], r[i], r[i])
	}
	Label("nobias")
	Comment("r[i] += resid[i·ldd + j]")
	TESTQ(resid, resid)
	JZ(LabelRef("noresid"))
	MOVQ(resid, q)
	for i := range 16 {
		VADDPS(Mem{Base: q}, r[i], r[i])
		if i < 15 {
			ADDQ(ldd, q)
		}
	}
	ADDQ(U8(64), resid)
	Label("noresid")
	Comment("relu: r = (0 > r) ? 0 : r")
	TESTQ(relu, relu)
	JZ(LabelRef("store"))
	VXORPS(t[0], t[0], t[0])
	for i := range 16 {
		VMAXPS(r[i], t[0], r[i])
	}
	Label("store")
	MOVQ(dst, p)
	for i := range 16 {
		VMOVUPS(r[i], Mem{Base: p})
		if i < 15 {
			ADDQ(ldd, p)
		}
	}
	ADDQ(U8(64), dst)
	ADDQ(step, src)
	DECQ(n)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// gatherParams loads the parameters the gathers of 8 rows share: dst,
// src, the rows' stride lds in bytes and the blocks of 8 values of n.
func gatherParams() (dst, src, ld, n reg.GPVirtual) {
	dst = Load(Param("dst"), GP64()).(reg.GPVirtual)
	src = Load(Param("src"), GP64()).(reg.GPVirtual)
	ld = Load(Param("lds"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ld)
	n = Load(Param("n"), GP64()).(reg.GPVirtual)
	SHRQ(U8(3), n)
	return dst, src, ld, n
}

// loadRows8 emits r[i] = the 8 values at src + i·ld bytes, i < 8, through
// the pointer p (src is left as it is).
func loadRows8(src, ld, p reg.GPVirtual, r []reg.VecPhysical) {
	MOVQ(src, p)
	for i := range 8 {
		VMOVUPS(Mem{Base: p}, r[i])
		if i < 7 {
			ADDQ(ld, p)
		}
	}
}

// transpose8x8 emits the 8×8 transpose of the rows r into t: t[c][i] =
// r[i][c]; r is overwritten.
func transpose8x8(r, t []reg.VecPhysical) {
	Comment("transpose: t = unpacks of row pairs, r = shuffles of those, t = lane swaps")
	for q := 0; q < 8; q += 2 {
		VUNPCKLPS(r[q+1], r[q], t[q])   // r[q][0] r[q+1][0] r[q][1] r[q+1][1] | 4 5
		VUNPCKHPS(r[q+1], r[q], t[q+1]) // r[q][2] r[q+1][2] r[q][3] r[q+1][3] | 6 7
	}
	for h := 0; h < 8; h += 4 {
		VSHUFPS(U8(0x44), t[h+2], t[h], r[h])     // column 0 | 4 of rows h..h+3
		VSHUFPS(U8(0xee), t[h+2], t[h], r[h+1])   // column 1 | 5
		VSHUFPS(U8(0x44), t[h+3], t[h+1], r[h+2]) // column 2 | 6
		VSHUFPS(U8(0xee), t[h+3], t[h+1], r[h+3]) // column 3 | 7
	}
	for c := range 4 {
		VPERM2F128(U8(0x20), r[4+c], r[c], t[c])   // column c
		VPERM2F128(U8(0x31), r[4+c], r[c], t[4+c]) // column c+4
	}
}

// transpose8 emits the move between 8 rows a stride apart and pixels of 8
// values: gather (scatter false) makes dst[j*8+i] = src[i*lds+j], scatter
// the inverse, dst[i*ldd+j] = src[j*8+i], for i < 8 and j < n, by 8×8
// transposes in registers (unpacks within 128-bit lanes, then shuffles,
// then lane swaps). The channel-blocked depthwise convolution moves its
// blocks of 8 channels in and out of that layout with them.
func transpose8(scatter bool) {
	name, sig := "Gather8AVX2", "func(dst, src *float32, lds, n int)"
	doc := []string{
		name + " computes, 8 values of j at a time (n must be a multiple of 8), as this Go loop does:",
		"",
		"	for j := range n {",
		"		for i := range 8 {",
		"			dst[j*8+i] = src[i*lds+j]",
		"		}",
		"	}",
	}
	if scatter {
		name, sig = "Scatter8AVX2", "func(dst *float32, ldd int, src *float32, lds, n int)"
		doc = []string{
			name + " computes, 8 values of j at a time (n must be a multiple of 8), as this Go loop does:",
			"",
			"	for j := range n {",
			"		for i := range 8 {",
			"			dst[i*ldd+j] = src[j*lds+i]",
			"		}",
			"	}",
		}
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc...)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	ld := GP64()
	if scatter {
		Load(Param("ldd"), ld)
	} else {
		Load(Param("lds"), ld)
	}
	SHLQ(U8(2), ld)
	var lds reg.GPVirtual
	if scatter {
		lds = Load(Param("lds"), GP64()).(reg.GPVirtual)
		SHLQ(U8(2), lds)
	}
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	SHRQ(U8(3), n)
	r := avx2.regs[0:8]
	t := avx2.regs[8:16]
	p := GP64()
	Label("block")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("load 8 rows of 8")
	if scatter {
		for i := range 8 {
			VMOVUPS(Mem{Base: src}, r[i])
			ADDQ(lds, src)
		}
	} else {
		loadRows8(src, ld, p, r)
	}
	transpose8x8(r, t)
	Comment("store 8 columns")
	if scatter {
		MOVQ(dst, p)
		for i := range 8 {
			VMOVUPS(t[i], Mem{Base: p})
			if i < 7 {
				ADDQ(ld, p)
			}
		}
		ADDQ(U8(32), dst)
	} else {
		for i := range 8 {
			VMOVUPS(t[i], Mem{Base: dst, Disp: 32 * i})
		}
		ADDQ(U32(256), dst)
		ADDQ(U8(32), src)
	}
	DECQ(n)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// negMax emits the builtin max's lowering in the negated domain: with x =
// -a and y = -b, dst = VMINPS(x, y) | VMINPS(VMINPS(x, y), x), which is
// -max(a, b) bit for bit (see maxElem); chaining it and negating once at
// the end is a chain of builtin max calls. dst may be x; t is scratch.
func negMax(x, y, t, dst reg.VecPhysical) {
	VMINPS(y, x, t)   // t = (x < y) ? x : y
	VMINPS(x, t, dst) // dst = (t < x) ? t : x
	VORPS(t, dst, dst)
}

// maxPool3s2Start emits the start of MaxPool3s2<isa>, whose vectors
// hold how: its declaration and doc, the parameters loaded, and sign, the
// sign bit in every lane of s.regs[0]; rowsAt emits v = -R[disp/4 + i]
// for the lanes i of a vector, R being the max over the three rows.
func maxPool3s2Start(s isa, how string) (dst reg.GPVirtual, r []reg.GPVirtual, n reg.GPVirtual, sign reg.VecPhysical, rowsAt func(disp int, v, t, u reg.VecPhysical)) {
	name := "MaxPool3s2" + s.name
	TEXT(name, NOSPLIT, "func(dst, r0, r1, r2 *float32, n int)")
	Pragma("noescape")
	Doc(
		name+" computes, "+how+", as this Go loop does",
		"(it reads r0, r1 and r2 [0:2n+1]), bit for bit on amd64, NaN payloads included:",
		"",
		"	for j := range n {",
		"		v := max(max(r0[2*j], r1[2*j]), r2[2*j])",
		"		for c := 2*j + 1; c <= 2*j+2; c++ {",
		"			v = max(v, max(max(r0[c], r1[c]), r2[c]))",
		"		}",
		"		dst[j] = v",
		"	}",
	)
	dst = Load(Param("dst"), GP64()).(reg.GPVirtual)
	r = []reg.GPVirtual{Load(Param("r0"), GP64()).(reg.GPVirtual), Load(Param("r1"), GP64()).(reg.GPVirtual), Load(Param("r2"), GP64()).(reg.GPVirtual)}
	n = Load(Param("n"), GP64()).(reg.GPVirtual)
	sign = s.regs[0]
	bits := GP32()
	MOVL(U32(0x80000000), bits)
	VMOVD(bits, sign.AsX())
	VBROADCASTSS(sign.AsX(), sign)
	rowsAt = func(disp int, v, t, u reg.VecPhysical) {
		VXORPS(Mem{Base: r[0], Disp: disp}, sign, v)
		VXORPS(Mem{Base: r[1], Disp: disp}, sign, u)
		negMax(v, u, t, v)
		VXORPS(Mem{Base: r[2], Disp: disp}, sign, u)
		negMax(v, u, t, v)
	}
	return dst, r, n, sign, rowsAt
}

// maxPool3s2 emits the inside windows of a 3×3 stride-2 max pooling
// (ResNet's and DenseNet's stem pool) for one output row, in the order
// of the portable pool's passes: the window's rows, then its columns left
// to right, each a builtin max.
func maxPool3s2() {
	dst, r, n, sign, rowsAt := maxPool3s2Start(avx2, "8 values at a time (n must be a multiple of 8)")
	SHRQ(U8(3), n)
	y := avx2.regs
	a, b, c, d := y[1], y[2], y[3], y[4]
	t, u := y[5], y[6]
	e, o, o2 := y[7], y[8], y[9]
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("-R at columns 0..15 and 1..16 of the 8 windows")
	rowsAt(0, a, t, u)
	rowsAt(32, b, t, u)
	rowsAt(4, c, t, u)
	rowsAt(36, d, t, u)
	Comment("e = R[2j], o = R[2j+1], o2 = R[2j+2]")
	VSHUFPS(U8(0x88), b, a, e)
	VPERMPD(U8(0xd8), e, e)
	VSHUFPS(U8(0xdd), b, a, o)
	VPERMPD(U8(0xd8), o, o)
	VSHUFPS(U8(0xdd), d, c, o2)
	VPERMPD(U8(0xd8), o2, o2)
	Comment("dst = max(max(e, o), o2)")
	negMax(e, o, t, e)
	negMax(e, o2, t, e)
	VXORPS(sign, e, e)
	VMOVUPS(e, Mem{Base: dst})
	ADDQ(U8(32), dst)
	for _, p := range r {
		ADDQ(U8(64), p)
	}
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// maxPool3s2AVX512 emits MaxPool3s2AVX512: maxPool3s2's windows sixteen
// a step, the even and odd columns split by VPERMI2PS (the table of
// avgPool2s2Rows), and a last step of eight. R, the maximum over the three
// rows, is made once per column: a step's 16 windows read R at columns
// 0..32, of which 0..15 (carried from the step before), 16..31 and 32
// (the first of the next step's, made now: the last step loads only that
// column, under a mask) are enough, the third rows' columns (2j+2) being
// the even ones moved down a lane (poolShift).
func maxPool3s2AVX512() {
	dst, r, n, sign, rowsAt := maxPool3s2Start(avx512, "16 values at a time and a last 8 (n must be a multiple of 8)")
	z := avx512.regs
	ie, io, is := z[1], z[2], z[3]
	VMOVUPS(poolEven, ie)
	VMOVUPS(poolEven.Offset(64), io)
	VMOVUPS(poolShift, is)
	a, b, c := z[4], z[5], z[6]
	t, u := z[7], z[8]
	e, o, o2 := z[9], z[10], z[11]
	one := GP32()
	MOVL(U32(1), one)
	KMOVW(one, reg.K2) // lane 0
	// rowsAtLane0 emits v = -R at column disp/4 in lane 0 (the other
	// lanes -0 or anything), reading only that column.
	rowsAtLane0 := func(disp int, v reg.VecPhysical) {
		VMOVUPS_Z(Mem{Base: r[0], Disp: disp}, reg.K2, v)
		VXORPS(sign, v, v)
		VMOVUPS_Z(Mem{Base: r[1], Disp: disp}, reg.K2, u)
		VXORPS(sign, u, u)
		negMax(v, u, t, v)
		VMOVUPS_Z(Mem{Base: r[2], Disp: disp}, reg.K2, u)
		VXORPS(sign, u, u)
		negMax(v, u, t, v)
	}
	// windows emits the windows from -R at columns 0..15 (a) and 16..31
	// (b), with -R at column 32 in lane 0 of c: e = R[2j], o = R[2j+1],
	// o2 = R[2j+2], then dst = max(max(e, o), o2), through the mask k when
	// not nil.
	windows := func(k reg.Register) {
		VMOVAPS(ie, e)
		VPERMI2PS(b, a, e)
		VMOVAPS(io, o)
		VPERMI2PS(b, a, o)
		VMOVAPS(is, o2)
		VPERMI2PS(c, e, o2)
		negMax(e, o, t, e)
		negMax(e, o2, t, e)
		VXORPS(sign, e, e)
		if k == nil {
			VMOVUPS(e, Mem{Base: dst})
		} else {
			VMOVUPS(e, k, Mem{Base: dst})
		}
	}
	Comment("-R at columns 0..15")
	rowsAt(0, a, t, u)
	Label("loop")
	CMPQ(n, U8(16))
	JL(LabelRef("eight"))
	Comment("-R at columns 16..31, and 32.. (all 16 but on the last step)")
	rowsAt(64, b, t, u)
	CMPQ(n, U8(16))
	JE(LabelRef("last"))
	rowsAt(128, c, t, u)
	JMP(LabelRef("step"))
	Label("last")
	rowsAtLane0(128, c)
	Label("step")
	windows(nil)
	VMOVAPS(c, a) // the next step's columns 0..15
	ADDQ(U8(64), dst)
	for _, p := range r {
		ADDQ(U32(128), p)
	}
	SUBQ(U8(16), n)
	JMP(LabelRef("loop"))
	Label("eight")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Comment("the last 8 windows: columns 0..16 only (column 16 in lane 0 of b, where the even lane 8 takes it)")
	rowsAtLane0(64, b)
	VXORPS(c, c, c)
	m := GP32()
	MOVL(U32(0xff), m)
	KMOVW(m, reg.K1)
	windows(reg.K1)
	Label("done")
	VZEROUPPER()
	RET()
}

// poolRowsStart loads the parameters the pooling kernels over runs of rows
// share (dst, ldd and lds in bytes, src, rows, and n cut into its whole
// vectors of 16 and the rem outputs past them) and sets the masks of a
// row's last rem outputs: K3 the outputs, K1 and K2 the first and second
// 16 of their 2·rem+extra input columns.
func poolRowsStart(extra int) (dst, src, ldd, lds, rows, n, rem reg.GPVirtual) {
	dst = Load(Param("dst"), GP64()).(reg.GPVirtual)
	src = Load(Param("src"), GP64()).(reg.GPVirtual)
	ldd = Load(Param("ldd"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldd)
	lds = Load(Param("lds"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), lds)
	rows = Load(Param("rows"), GP64()).(reg.GPVirtual)
	n = Load(Param("n"), GP64()).(reg.GPVirtual)
	rem = GP64()
	MOVQ(n, rem)
	ANDQ(U8(15), rem)
	SHRQ(U8(4), n)
	Comment(fmt.Sprintf("the masks of a row's last rem outputs: K1 and K2 its 2·rem+%d inputs, K3 its outputs", extra))
	all, c, t := GP32(), GP32(), GP32()
	MOVL(U32(0xffffffff), all)
	MOVL(rem.As32(), c)
	BZHIL(c, all, t)
	KMOVW(t, reg.K3)
	LEAL(Mem{Base: c, Index: c, Scale: 1, Disp: extra}, c) // 2·rem+extra
	MOVL(c, t)
	CMPL(t, U8(16))
	JLE(LabelRef("lo"))
	MOVL(U32(16), t)
	Label("lo")
	BZHIL(t, all, t)
	KMOVW(t, reg.K1)
	SUBL(U8(16), c)
	JGE(LabelRef("hi"))
	XORL(c, c)
	Label("hi")
	BZHIL(c, all, c)
	KMOVW(c, reg.K2)
	return
}

// maxPool3s2Rows emits MaxPool3s2RowsAVX512: the inside windows of a 3×3
// stride-2 max pooling for whole runs of output rows in one call (a call
// a row cost as much as the row's windows on ResNet's 64×112×112 stem
// output), 16 windows a step as MaxPool3s2AVX512 computes them, and a
// row's last windows (n not a multiple of 16) under masks.
func maxPool3s2Rows() {
	name := "MaxPool3s2RowsAVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds, rows, n int)")
	Pragma("noescape")
	Doc(
		name+" computes, as this Go loop does (it reads src rows 2r, 2r+1 and 2r+2",
		"[0:2n+1]), bit for bit on amd64, NaN payloads included:",
		"",
		"	for r := range rows {",
		"		r0, r1, r2 := src[2*r*lds:], src[(2*r+1)*lds:], src[(2*r+2)*lds:]",
		"		for j := range n {",
		"			v := max(max(r0[2*j], r1[2*j]), r2[2*j])",
		"			for c := 2*j + 1; c <= 2*j+2; c++ {",
		"				v = max(v, max(max(r0[c], r1[c]), r2[c]))",
		"			}",
		"			dst[r*ldd+j] = v",
		"		}",
		"	}",
	)
	z := avx512.regs
	sign, ie, io, is := z[0], z[1], z[2], z[3]
	bits := GP32()
	MOVL(U32(0x80000000), bits)
	VMOVD(bits, sign.AsX())
	VBROADCASTSS(sign.AsX(), sign)
	VMOVUPS(poolEven, ie)
	VMOVUPS(poolEven.Offset(64), io)
	VMOVUPS(poolShift, is)
	dst, src, ldd, lds, rows, n, rem := poolRowsStart(1)
	Comment("K4: lane 0")
	one := GP32()
	MOVL(U32(1), one)
	KMOVW(one, reg.K4)
	a, b, c, t, u := z[4], z[5], z[6], z[7], z[8]
	e, o, o2 := z[9], z[10], z[11]
	p0, p1, p2, d, j := GP64(), GP64(), GP64(), GP64(), GP64()
	r := []reg.GPVirtual{p0, p1, p2}
	// rowsAt emits v = -R at columns disp/4 + i (R the max over the three
	// rows, as MaxPool3s2AVX512's), through mask k when not nil (lanes
	// outside it 0 in each row, so anything in v).
	rowsAt := func(disp int, v reg.VecPhysical, k reg.Register) {
		for i, p := range r {
			dstv := u
			if i == 0 {
				dstv = v
			}
			if k == nil {
				VXORPS(Mem{Base: p, Disp: disp}, sign, dstv)
			} else {
				VMOVUPS_Z(Mem{Base: p, Disp: disp}, k, dstv)
				VXORPS(sign, dstv, dstv)
			}
			if i > 0 {
				negMax(v, u, t, v)
			}
		}
	}
	// windows emits the 16 windows at d from -R at columns 0..15 (a),
	// 16..31 (b) and 32 (lane 0 of c), under K3 when masked.
	windows := func(masked bool) {
		Comment("e = R[2j], o = R[2j+1], o2 = R[2j+2]; d = max(max(e, o), o2)")
		VMOVAPS(ie, e)
		VPERMI2PS(b, a, e)
		VMOVAPS(io, o)
		VPERMI2PS(b, a, o)
		VMOVAPS(is, o2)
		VPERMI2PS(c, e, o2)
		negMax(e, o, t, e)
		negMax(e, o2, t, e)
		VXORPS(sign, e, e)
		if masked {
			VMOVUPS(e, reg.K3, Mem{Base: d})
		} else {
			VMOVUPS(e, Mem{Base: d})
		}
	}
	// advance moves the pointers to the next 16 windows, and their
	// first columns' -R from c into a.
	advance := func() {
		VMOVAPS(c, a)
		for _, p := range r {
			ADDQ(U32(128), p)
		}
		ADDQ(U32(64), d)
	}
	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	MOVQ(src, p0)
	LEAQ(Mem{Base: src, Index: lds, Scale: 1}, p1)
	LEAQ(Mem{Base: src, Index: lds, Scale: 2}, p2)
	MOVQ(dst, d)
	MOVQ(n, j)
	Comment("-R at columns 0..15: all 16 before a whole step, the tail's K1 before the tail alone")
	TESTQ(j, j)
	JZ(LabelRef("firsttail"))
	rowsAt(0, a, nil)
	JMP(LabelRef("vec"))
	Label("firsttail")
	rowsAt(0, a, reg.K1)
	JMP(LabelRef("tail"))
	Comment("whole steps before another: columns 32..47 all read, the next step's 0..15")
	Label("vec")
	CMPQ(j, U8(1))
	JE(LabelRef("lastvec"))
	rowsAt(64, b, nil)
	rowsAt(128, c, nil)
	windows(false)
	advance()
	DECQ(j)
	JMP(LabelRef("vec"))
	Comment("the last whole step: column 32 alone, or the tail's K1 columns")
	Label("lastvec")
	rowsAt(64, b, nil)
	TESTQ(rem, rem)
	JNZ(LabelRef("lastk1"))
	rowsAt(128, c, reg.K4)
	JMP(LabelRef("lastwin"))
	Label("lastk1")
	rowsAt(128, c, reg.K1)
	Label("lastwin")
	windows(false)
	advance()
	Label("tail")
	TESTQ(rem, rem)
	JZ(LabelRef("next"))
	rowsAt(64, b, reg.K2)
	VXORPS(c, c, c) // column 32 is no tail window's
	windows(true)
	Label("next")
	LEAQ(Mem{Base: src, Index: lds, Scale: 2}, src)
	ADDQ(ldd, dst)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// avgPool2s2 emits a 2×2 stride-2 average pooling's output row (DenseNet's
// transitions) in the order of the portable pool's passes: the two rows
// added, then the two columns, then the division.
func avgPool2s2() {
	name := "AvgPool2s2AVX2"
	TEXT(name, NOSPLIT, "func(dst, r0, r1 *float32, n int, div float32)")
	Pragma("noescape")
	Doc(
		name+" computes, 8 values at a time (n must be a multiple of 8), as this Go loop does",
		"(it reads r0 and r1 [0:2n]):",
		"",
		"	for j := range n {",
		"		dst[j] = ((r0[2*j] + r1[2*j]) + (r0[2*j+1] + r1[2*j+1])) / div",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	r0 := Load(Param("r0"), GP64()).(reg.GPVirtual)
	r1 := Load(Param("r1"), GP64()).(reg.GPVirtual)
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	SHRQ(U8(3), n)
	y := avx2.regs
	dv := y[0]
	broadcastParam("div", dv)
	a, b, e, o := y[1], y[2], y[3], y[4]
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	VMOVUPS(Mem{Base: r0}, a)
	VADDPS(Mem{Base: r1}, a, a)
	VMOVUPS(Mem{Base: r0, Disp: 32}, b)
	VADDPS(Mem{Base: r1, Disp: 32}, b, b)
	VSHUFPS(U8(0x88), b, a, e)
	VPERMPD(U8(0xd8), e, e)
	VSHUFPS(U8(0xdd), b, a, o)
	VPERMPD(U8(0xd8), o, o)
	VADDPS(o, e, e)
	VDIVPS(dv, e, e)
	VMOVUPS(e, Mem{Base: dst})
	ADDQ(U8(32), dst)
	ADDQ(U8(64), r0)
	ADDQ(U8(64), r1)
	DECQ(n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// poolEven is the table of VPERMI2PS indices that split 32 columns into
// their 16 even ones (the first 64 bytes) and 16 odd ones (the next 64),
// made by poolEvenTable.
var poolEven Mem

// poolEvenTable emits poolEven and poolShift.
func poolEvenTable() {
	poolEven = GLOBL("pooleven", RODATA|NOPTR)
	for i := range 32 { // the even columns' indices, then the odd ones'
		DATA(4*i, U32(uint32(2*(i%16)+i/16)))
	}
	poolShift = GLOBL("poolshift", RODATA|NOPTR)
	for i := range 16 { // lanes 1..15 of the first table, lane 0 of the second
		DATA(4*i, U32(uint32(i+1)))
	}
}

// poolShift is the table of VPERMI2PS indices that move a vector down one
// lane and take the last lane from the second table's first (1, 2, ...,
// 16), made by poolEvenTable.
var poolShift Mem

// avgPool2s2Rows emits AvgPool2s2RowsAVX512: a 2×2 stride-2 average
// pooling of whole rows, 16 outputs a step from 32 columns of two input
// rows, the odd and even columns split by VPERMI2PS, and the last outputs
// of a row (n not a multiple of 16) under masks, so that a 7-wide row is
// one masked step.
func avgPool2s2Rows() {
	name := "AvgPool2s2RowsAVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds, rows, n int, div float32)")
	Pragma("noescape")
	Doc(
		name+" computes, as this Go loop does (it reads src rows 2r and 2r+1 [0:2n]):",
		"",
		"	for r := range rows {",
		"		r0, r1 := src[2*r*lds:], src[(2*r+1)*lds:]",
		"		for j := range n {",
		"			dst[r*ldd+j] = ((r0[2*j] + r1[2*j]) + (r0[2*j+1] + r1[2*j+1])) / div",
		"		}",
		"	}",
	)
	tab := poolEven
	z := avx512.regs
	dv, ie, io := z[0], z[1], z[2]
	broadcastParam("div", dv)
	VMOVUPS(tab, ie)
	VMOVUPS(tab.Offset(64), io)
	dst, src, ldd, lds, rows, n, rem := poolRowsStart(0)
	a, b, t, e, o := z[3], z[4], z[5], z[6], z[7]
	p0, p1, d, j := GP64(), GP64(), GP64(), GP64()
	// step emits 16 outputs at d from p0, p1; masked uses K1, K2, K3.
	step := func(masked bool) {
		if masked {
			VMOVUPS_Z(Mem{Base: p0}, reg.K1, a)
			VMOVUPS_Z(Mem{Base: p1}, reg.K1, t)
			VADDPS(t, a, a)
			VMOVUPS_Z(Mem{Base: p0, Disp: 64}, reg.K2, b)
			VMOVUPS_Z(Mem{Base: p1, Disp: 64}, reg.K2, t)
			VADDPS(t, b, b)
		} else {
			VMOVUPS(Mem{Base: p0}, a)
			VADDPS(Mem{Base: p1}, a, a)
			VMOVUPS(Mem{Base: p0, Disp: 64}, b)
			VADDPS(Mem{Base: p1, Disp: 64}, b, b)
		}
		Comment("e = the even columns' sums, o = the odd ones'")
		VMOVAPS(ie, e)
		VPERMI2PS(b, a, e)
		VMOVAPS(io, o)
		VPERMI2PS(b, a, o)
		VADDPS(o, e, e)
		VDIVPS(dv, e, e)
		if masked {
			VMOVUPS(e, reg.K3, Mem{Base: d})
		} else {
			VMOVUPS(e, Mem{Base: d})
		}
	}
	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	MOVQ(src, p0)
	LEAQ(Mem{Base: src, Index: lds, Scale: 1}, p1)
	MOVQ(dst, d)
	MOVQ(n, j)
	Label("vec")
	TESTQ(j, j)
	JZ(LabelRef("tail"))
	step(false)
	ADDQ(U32(128), p0)
	ADDQ(U32(128), p1)
	ADDQ(U32(64), d)
	DECQ(j)
	JMP(LabelRef("vec"))
	Label("tail")
	TESTQ(rem, rem)
	JZ(LabelRef("next"))
	step(true)
	Label("next")
	LEAQ(Mem{Base: src, Index: lds, Scale: 2}, src)
	ADDQ(ldd, dst)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// tileRows emits op(row's vector, acc[i][v]) for each vector of each row of
// a tile, the rows ldc bytes apart from p, which it advances: C's rows
// added to the accumulators (VADDPS) or the accumulators stored.
func tileRows(s isa, acc [][]reg.VecPhysical, p, ldc reg.Register, op func(m Mem, a, dst reg.VecPhysical)) {
	for i := range acc {
		for v, a := range acc[i] {
			op(Mem{Base: p, Disp: 4 * s.lanes * v}, a, a)
		}
		if i < len(acc)-1 {
			ADDQ(ldc, p)
		}
	}
}

// clipVec emits b = min(max(x, lo), hi) as Go's builtins compute it (see
// clip), given sign (the sign bit in every lane), nlo = -lo and hi; x and
// a are clobbered.
func clipVec(x, a, b, sign, nlo, hi reg.VecPhysical) {
	VXORPS(sign, x, x) // -v
	VMINPS(nlo, x, a)  // VMINPS(-v, -lo)
	VMINPS(x, nlo, b)  // VMINPS(-lo, -v)
	VORPS(b, a, a)     // min(-v, -lo)
	VXORPS(sign, a, a) // m = max(v, lo)
	VMINPS(hi, a, b)   // VMINPS(m, hi)
	VMINPS(a, hi, x)   // VMINPS(hi, m)
	VORPS(x, b, b)     // min(m, hi)
}

// clipParam emits, when the kernel's clip argument is not nil, the clip
// of every accumulator of the tile acc (clipAcc) with the bounds it
// points to, using four registers of free; label ends it.
func clipParam(s isa, acc [][]reg.VecPhysical, free []reg.VecPhysical, label string) {
	Comment("clip != nil: acc = min(max(acc, clip[0]), clip[1]), NaN kept")
	clip := Load(Param("clip"), GP64())
	TESTQ(clip, clip)
	JZ(LabelRef(label))
	lo, hi := free[0], free[1]
	VBROADCASTSS(Mem{Base: clip}, lo)
	VBROADCASTSS(Mem{Base: clip, Disp: 4}, hi)
	for _, row := range acc {
		clipAcc(s, row, lo, hi, free[2], free[3])
	}
	Label(label)
}

// clipAcc emits x = min(max(x, lo), hi) for each x of acc, NaN kept as
// it is, given lo and hi broadcast and two scratch registers. With bounds
// that are numbers and no zero that max or min would have to order by
// sign (lo not -0, hi not ±0), Go's min(max(s, lo), hi) of a number s is
// VMAXPS then VMINPS: VMAXPS returns lo for s = ±0 = lo, as Go's max does
// for lo = +0. A NaN s, for which VMAXPS returns lo, is blended back as it
// is (Go's max and min would OR the bounds' bits into it).
func clipAcc(s isa, acc []reg.VecPhysical, lo, hi, t, nan reg.VecPhysical) {
	for _, x := range acc {
		VMAXPS(lo, x, t)
		VMINPS(hi, t, t)
		if s.lanes == 16 {
			VCMPPS(U8(3), x, x, reg.K1) // unordered: x is NaN
			VBLENDMPS(x, t, reg.K1, x)
		} else {
			VCMPPS(U8(3), x, x, nan)
			VBLENDVPS(nan, x, t, x)
		}
	}
}

// addRow emits dst = m + a.
func addRow(m Mem, a, dst reg.VecPhysical) { VADDPS(m, a, dst) }

// dwPlane emits DwPlane{KH}x{KW}S1AVX512: a depthwise convolution at
// stride 1 on channel planes as they lie (NCHW), sixteen outputs of a row
// a vector, so that no block of channels is transposed in or out. A
// plane's KH·KW weights stay in registers for all its rows; each tap of a
// row is one masked load of the input row and one masked FMA, the masks
// (built in Go, one table for all planes) dropping the taps that fall in
// the padding, and a row's last vector is stored under a mask.
func dwPlane(kh, kw int) {
	const stride = 1
	name := fmt.Sprintf("DwPlane%dx%dS%dAVX512", kh, kw, stride)
	TEXT(name, NOSPLIT, "func(y, x, w, bias, clip *float32, masks *uint16, planes, h, wd, oh, ow, padT, padL, chunks int)")
	Pragma("noescape")
	nm := kw + 1 // the tap columns' masks and the store mask
	S, KW, T, NM := fmt.Sprint(stride), fmt.Sprint(kw), fmt.Sprint(kh*kw), fmt.Sprint(nm)
	Doc(
		name+" computes planes channel planes of a depthwise convolution with a "+fmt.Sprintf("%d×%d", kh, kw),
		"window and stride "+S+", as this Go loop does (indices in elements; masks holds "+NM+" entries",
		"a chunk of 16 outputs: bit l of masks[j*"+NM+"+b] says whether output 16j+l reads tap column b,",
		"bit l of masks[j*"+NM+"+"+fmt.Sprint(nm-1)+"] whether it is stored; see kern's dwPlaneMasks):",
		"",
		"	for c := range planes {",
		"		for j := range chunks {",
		"			m := masks[j*"+NM+":]",
		"			for r := range oh {",
		"				for l := range 16 {",
		"					if m["+fmt.Sprint(nm-1)+"]>>l&1 == 0 {",
		"						continue",
		"					}",
		"					o := 16*j + l",
		"					s := bias[c]",
		"					for a := range "+fmt.Sprint(kh)+" {",
		"						ih := r*"+S+" + a - padT",
		"						if ih < 0 || ih >= h {",
		"							continue",
		"						}",
		"						for b := range "+KW+" {",
		"							if m[b]>>l&1 != 0 {",
		"								s = fma(w[c*"+T+"+a*"+KW+"+b], x[(c*h+ih)*wd+o*"+S+"+b-padL], s) // rounded once",
		"							}",
		"						}",
		"					}",
		"					if clip != nil && s == s { // clip[0] not NaN or -0, clip[1] not NaN or ±0",
		"						s = min(max(s, clip[0]), clip[1]) // a NaN s is kept as it is",
		"					}",
		"					y[(c*oh+r)*ow+o] = s",
		"				}",
		"			}",
		"		}",
		"	}",
	)
	z := avx512.regs
	// Rows of outputs a step: each input row a step reads is loaded once
	// per tap column and feeds every output row whose window covers it
	// (rows independent sums, so the FMAs' latency overlaps), as many as
	// fit beside the weights (4 at 3×3, 3 at 5×5) and ta, lo, hi and ct.
	taps := kh * kw
	rows := 4
	for taps+rows+4 > len(z) && rows > 1 {
		rows--
	}
	if taps+rows+4 > len(z) || kw > 5 {
		panic(name + ": more taps than the registers or masks hold")
	}
	wr := z[:taps]
	acc := z[taps : taps+rows]
	ta, lo, hi, ct := z[taps+rows], z[taps+rows+1], z[taps+rows+2], z[taps+rows+3]
	// the tap columns' FMA masks; K1 is the clip's, K7 the store's.
	fm := []reg.OpmaskPhysical{reg.K2, reg.K3, reg.K4, reg.K5, reg.K6}
	// The plane and chunk loops' state lives in the frame.
	lx, ly, lw, lb, lplanes := AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
	lj, lxc, lyc, lm, lclip := AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
	for _, m := range []struct {
		param string
		at    Mem
	}{{"x", lx}, {"y", ly}, {"w", lw}, {"bias", lb}, {"planes", lplanes}, {"clip", lclip}} {
		t := Load(Param(m.param), GP64())
		MOVQ(t, m.at)
	}
	Comment("clip != nil: its bounds in lo and hi")
	{
		clip := Load(Param("clip"), GP64())
		TESTQ(clip, clip)
		JZ(LabelRef("bounds"))
		VBROADCASTSS(Mem{Base: clip}, lo)
		VBROADCASTSS(Mem{Base: clip, Disp: 4}, hi)
		Label("bounds")
	}
	Label("plane")
	{
		t := GP64()
		MOVQ(lplanes, t)
		TESTQ(t, t)
		JZ(LabelRef("done"))
		Comment("the plane's weights, broadcast")
		MOVQ(lw, t)
		for i, r := range wr {
			VBROADCASTSS(Mem{Base: t, Disp: 4 * i}, r)
		}
		Comment("chunk 0: its input columns start padL before the row, its masks at masks")
		XORQ(t, t)
		MOVQ(t, lj)
		MOVQ(lx, t)
		pl := Load(Param("padL"), GP64())
		SHLQ(U8(2), pl)
		SUBQ(pl, t)
		MOVQ(t, lxc)
		MOVQ(ly, t)
		MOVQ(t, lyc)
		Load(Param("masks"), t)
		MOVQ(t, lm)
	}
	Label("chunk")
	{
		t := GP64()
		MOVQ(lj, t)
		CMPQ(t, paramMem("chunks"))
		JGE(LabelRef("nextplane"))
	}
	{
		m := GP64()
		MOVQ(lm, m)
		Comment("the chunk's tap masks")
		for b := range kw {
			KMOVW(Mem{Base: m, Disp: 2 * b}, fm[b])
		}
		// rb: the first column of the input row of output row r's first
		// tap row (r - padT, ih); yr the output row; r the rows left.
		rb, ih, yr, r := GP64(), GP64(), GP64(), GP64()
		w4 := Load(Param("wd"), GP64())
		SHLQ(U8(2), w4)
		ow4 := Load(Param("ow"), GP64())
		SHLQ(U8(2), ow4)
		pt := Load(Param("padT"), GP64())
		MOVQ(pt, ih)
		NEGQ(ih)
		IMULQ(w4, pt)
		MOVQ(lxc, rb)
		SUBQ(pt, rb)
		MOVQ(lyc, yr)
		Load(Param("oh"), r)
		// step emits nr output rows from output row r on: nr + KH - 1
		// input rows, each (when in the plane) loaded once per tap column
		// and added to the rows whose windows it is in, in tap order.
		step := func(nr int, label string) {
			Label(label)
			CMPQ(r, U8(nr))
			JL(LabelRef(label + "_done"))
			p, i := GP64(), GP64()
			MOVQ(lb, p)
			for k := range nr {
				VBROADCASTSS(Mem{Base: p}, acc[k])
			}
			MOVQ(rb, p)
			MOVQ(ih, i)
			nin := nr - 1 + kh
			for q := range nin {
				skip := fmt.Sprintf("%s_skip%d", label, q)
				Comment(fmt.Sprintf("input row %d of the step, when in the plane", q))
				CMPQ(i, paramMem("h"))
				JAE(LabelRef(skip))
				for b := range kw {
					VMOVUPS_Z(Mem{Base: p, Disp: 4 * b}, fm[b], ta)
					for k := range nr {
						if a := q - k; a >= 0 && a < kh {
							VFMADD231PS(ta, wr[a*kw+b], fm[b], acc[k])
						}
					}
				}
				Label(skip)
				if q < nin-1 {
					ADDQ(w4, p)
					INCQ(i)
				}
			}
			{
				t := GP64()
				MOVQ(lclip, t)
				TESTQ(t, t)
				JZ(LabelRef(label + "_store"))
				clipAcc(avx512, acc[:nr], lo, hi, ct, ct)
			}
			Label(label + "_store")
			KMOVW(Mem{Base: m, Disp: 2 * (nm - 1)}, reg.K7)
			for k := range nr {
				VMOVUPS(acc[k], reg.K7, Mem{Base: yr})
				ADDQ(ow4, yr)
			}
			Comment("the next output rows")
			for range nr {
				ADDQ(w4, rb)
			}
			ADDQ(U8(nr), ih)
			SUBQ(U8(nr), r)
			JMP(LabelRef(label))
			Label(label + "_done")
		}
		// full steps, then the last rows (fewer than a step) in one
		step(rows, "rows")
		for nr := rows - 1; nr >= 1; nr-- {
			step(nr, fmt.Sprintf("rows%d", nr))
		}
	}
	Label("nextchunk")
	{
		t := GP64()
		MOVQ(lxc, t)
		ADDQ(U32(64), t)
		MOVQ(t, lxc)
		MOVQ(lyc, t)
		ADDQ(U8(64), t)
		MOVQ(t, lyc)
		MOVQ(lm, t)
		ADDQ(U32(2*nm), t)
		MOVQ(t, lm)
		INCQ(lj)
		JMP(LabelRef("chunk"))
	}
	Label("nextplane")
	{
		t := GP64()
		hw := Load(Param("h"), GP64())
		IMULQ(paramMem("wd"), hw)
		SHLQ(U8(2), hw)
		ADDQ(hw, lx)
		o := Load(Param("oh"), GP64())
		IMULQ(paramMem("ow"), o)
		SHLQ(U8(2), o)
		ADDQ(o, ly)
		MOVQ(lw, t)
		ADDQ(U32(4*taps), t)
		MOVQ(t, lw)
		MOVQ(lb, t)
		ADDQ(U8(4), t)
		MOVQ(t, lb)
		DECQ(lplanes)
		JMP(LabelRef("plane"))
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// paramMem returns the memory operand of the parameter name.
func paramMem(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// padRows emits PadRowsAVX512, the padded copy of a plane's rows that the
// in-place and Winograd paths read (kern's phaseRun at stride 1): each
// row's zeros and values in one call for all rows, where a row at a time
// from Go, its padding stores and a copy call cost about 11 ns, as much
// as the values' own moves (Winograd's input copies: 0.66 µs a 56×56
// plane, hot).
func padRows() {
	name := "PadRowsAVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds, rows, n, padL int)")
	Pragma("noescape")
	Doc(
		name+" computes, as this Go loop does (padL+n at most ldd; it reads src rows [0:n]",
		"and writes dst rows [0:ldd]):",
		"",
		"	for r := range rows {",
		"		row := dst[r*ldd : (r+1)*ldd]",
		"		clear(row)",
		"		copy(row[padL:padL+n], src[r*lds:r*lds+n])",
		"	}",
	)
	dst := Load(Param("dst"), GP64()).(reg.GPVirtual)
	src := Load(Param("src"), GP64()).(reg.GPVirtual)
	ldd := Load(Param("ldd"), GP64()).(reg.GPVirtual)
	lds := Load(Param("lds"), GP64()).(reg.GPVirtual)
	rows := Load(Param("rows"), GP64()).(reg.GPVirtual)
	n := Load(Param("n"), GP64()).(reg.GPVirtual)
	padL := Load(Param("padL"), GP64()).(reg.GPVirtual)
	Comment("K1: the last lanes of a row's zeros (ldd mod 16), K2 of its values (n mod 16)")
	all, c, t := GP32(), GP32(), GP32()
	MOVL(U32(0xffffffff), all)
	MOVL(ldd.As32(), c)
	ANDL(U8(15), c)
	BZHIL(c, all, t)
	KMOVW(t, reg.K1)
	MOVL(n.As32(), c)
	ANDL(U8(15), c)
	BZHIL(c, all, t)
	KMOVW(t, reg.K2)
	zfull, cfull := GP64(), GP64()
	MOVQ(ldd, zfull)
	SHRQ(U8(4), zfull)
	MOVQ(n, cfull)
	SHRQ(U8(4), cfull)
	SHLQ(U8(2), ldd)
	SHLQ(U8(2), lds)
	SHLQ(U8(2), padL)
	zero, v := avx512.regs[0], avx512.regs[1]
	VXORPS(zero, zero, zero)
	d, s, i := GP64(), GP64(), GP64()
	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	Comment("the row's zeros")
	MOVQ(dst, d)
	MOVQ(zfull, i)
	Label("zeros")
	TESTQ(i, i)
	JZ(LabelRef("zerotail"))
	VMOVUPS(zero, Mem{Base: d})
	ADDQ(U8(64), d)
	DECQ(i)
	JMP(LabelRef("zeros"))
	Label("zerotail")
	VMOVUPS(zero, reg.K1, Mem{Base: d})
	Comment("its values from padL on")
	LEAQ(Mem{Base: dst, Index: padL, Scale: 1}, d)
	MOVQ(src, s)
	MOVQ(cfull, i)
	Label("values")
	TESTQ(i, i)
	JZ(LabelRef("valuetail"))
	VMOVUPS(Mem{Base: s}, v)
	VMOVUPS(v, Mem{Base: d})
	ADDQ(U8(64), s)
	ADDQ(U8(64), d)
	DECQ(i)
	JMP(LabelRef("values"))
	Label("valuetail")
	VMOVUPS_Z(Mem{Base: s}, reg.K2, v)
	VMOVUPS(v, reg.K2, Mem{Base: d})
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// offsFew emits OffsFew<g>AVX512: the last columns of an offsets product
// (at most 4) for g groups of 8 rows, with the rows in the vectors (one
// 8-lane vector a group and column, 4·g accumulators) where the masked
// 16-column kernel puts the columns there and spends a whole vector on
// each row of one column (Winograd's products at 28×28: 49 tiles = 48 +
// 1, the last column as dear as 16). No bias, residual or clip: flags
// may only ask to accumulate.
func offsFew(g int) {
	name := fmt.Sprintf("OffsFew%dAVX512", g)
	TEXT(name, NOSPLIT, "func(k int, a, b *float32, boff *int32, c *float32, ldc int, flags, cols int)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes %d rows (%d groups of 8 packed rows of A, k·8 values apart) of C's first", name, 8*g, g),
		"cols columns (at most 4), as this Go loop does (indices in elements; it reads",
		"b[boff[p]+j] for j < 4 and writes only C's first cols columns):",
		"",
		fmt.Sprintf("	for i := range %d {", 8*g),
		"		for j := range cols {",
		"			var s float32",
		"			for p := range k {",
		"				s = fma32(a[(i/8)*k*8 + p*8 + i%8], b[boff[p]+j], s)",
		"			}",
		"			if flags&1 != 0 {",
		"				s += c[i*ldc+j]",
		"			}",
		"			c[i*ldc+j] = s",
		"		}",
		"	}",
	)
	k := Load(Param("k"), GP64()).(reg.GPVirtual)
	a := Load(Param("a"), GP64()).(reg.GPVirtual)
	b := Load(Param("b"), GP64()).(reg.GPVirtual)
	boff := Load(Param("boff"), GP64()).(reg.GPVirtual)
	ldc := Load(Param("ldc"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), ldc)
	gstride := GP64() // bytes from one group's A to the next: k·8·4
	MOVQ(k, gstride)
	SHLQ(U8(5), gstride)
	z := avx512.regs
	acc := z[0 : 4*g] // acc[4·gi + j]: group gi, column j, ymm
	bv := z[16:20]
	av := z[20:24]
	for _, r := range acc {
		VXORPS(r.AsY(), r.AsY(), r.AsY())
	}
	off, ap := GP64(), GP64()
	Label("step")
	TESTQ(k, k)
	JZ(LabelRef("sums"))
	MOVLQSX(Mem{Base: boff}, off)
	for j := range 4 {
		VBROADCASTSS(Mem{Base: b, Index: off, Scale: 4, Disp: 4 * j}, bv[j].AsY())
	}
	MOVQ(a, ap)
	for gi := range g {
		if gi > 0 {
			ADDQ(gstride, ap)
		}
		VMOVUPS(Mem{Base: ap}, av[gi].AsY())
	}
	for gi := range g {
		for j := range 4 {
			VFMADD231PS(bv[j].AsY(), av[gi].AsY(), acc[4*gi+j].AsY())
		}
	}
	ADDQ(U8(32), a)
	ADDQ(U8(4), boff)
	DECQ(k)
	JMP(LabelRef("step"))
	Label("sums")
	Comment("K1: C's first cols columns; the sums to rows of 4 columns, group by group")
	cols := Load(Param("cols"), GP64()).(reg.GPVirtual)
	all, t := GP32(), GP32()
	MOVL(U32(0xffffffff), all)
	BZHIL(cols.As32(), all, t)
	KMOVW(t, reg.K1)
	flags := Load(Param("flags"), GP64()).(reg.GPVirtual)
	c := Load(Param("c"), GP64()).(reg.GPVirtual)
	t0, t1, t2, t3 := z[24].AsY(), z[25].AsY(), z[26].AsY(), z[27].AsY()
	old := z[28].AsX()
	for gi := range g {
		c0, c1, c2, c3 := acc[4*gi].AsY(), acc[4*gi+1].AsY(), acc[4*gi+2].AsY(), acc[4*gi+3].AsY()
		Comment(fmt.Sprintf("group %d: lane i of column j to row i, lane j (in each 128-bit half: rows i and 4 + i)", gi))
		VUNPCKLPS(c1, c0, t0) // c0[0] c1[0] c0[1] c1[1] | c0[4] c1[4] c0[5] c1[5]
		VUNPCKHPS(c1, c0, t1) // c0[2] c1[2] c0[3] c1[3] | ...
		VUNPCKLPS(c3, c2, t2)
		VUNPCKHPS(c3, c2, t3)
		VSHUFPS(U8(0x44), t2, t0, c0) // row 0 | row 4
		VSHUFPS(U8(0xee), t2, t0, c1) // row 1 | row 5
		VSHUFPS(U8(0x44), t3, t1, c2) // row 2 | row 6
		VSHUFPS(U8(0xee), t3, t1, c3) // row 3 | row 7
		for i := range 8 {
			r := acc[4*gi+i%4]
			x := r.AsX()
			if i >= 4 {
				VEXTRACTF32X4(U8(1), r.AsY(), old)
				x = old
			}
			row := Mem{Base: c}
			Comment(fmt.Sprintf("row %d (the sum into another register: an xmm write clears its ymm's upper half)", 8*gi+i))
			plain, next := fmt.Sprintf("plain%d_%d", gi, i), fmt.Sprintf("next%d_%d", gi, i)
			TESTQ(U32(1), flags)
			JZ(LabelRef(plain))
			add := z[29].AsX()
			VMOVUPS_Z(row, reg.K1, add)
			VADDPS(add, x, add)
			VMOVUPS(add, reg.K1, row)
			JMP(LabelRef(next))
			Label(plain)
			VMOVUPS(x, reg.K1, row)
			Label(next)
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}
