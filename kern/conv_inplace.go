package kern

import (
	"math"
	"unsafe"
)

// The blocked tiers' convolution without im2col packing. The padded input
// xp (Hp×Wp per channel) is split into SH·SW phases, phase (a, b) holding
// the Hq×Wq plane xq[c][a][b][i][j] = xp[c][i·SH + a][j·SW + b], with Hq =
// ceil(Hp/SH) and Wq = ceil(Wp/SW); with stride 1 there is one phase, xp
// itself. Row p = (c, kh, kw) of the im2col matrix, taken over the columns
// j' = oh·Wq + ow of an output laid out Wq wide, is then one contiguous
// run of a phase plane:
//
//	B[p][j'] = xp[c][oh·SH + kh·DH][ow·SW + kw·DW]
//	         = xq[c][kh·DH mod SH][kw·DW mod SW][oh + kh·DH/SH][ow + kw·DW/SW]
//
// so the micro-kernels read B straight from xq through a table of K
// offsets, boff[p]. Columns with ow >= OW are computed and dropped. The
// phase copy is made once per call, with the fusion's prologue applied
// (phases no tap reads are skipped); an unpadded stride-1 1×1 convolution
// without a prologue reads its input in place and writes its output
// directly (Wq = OW). When OW is a multiple of the panel width (the stem's
// 112 on AVX2), panels never straddle two output rows: product column j =
// oh·OW + ow reads B at phase column oh·Wq + ow, and the output is written
// directly too. Any other goes through a Wq-wide output buffer that is then
// compacted, with the residual and activation applied.

// phaseGeom is the layout of the phase copy for a geometry.
type phaseGeom struct {
	hq, wq int // a phase plane's size
	plane  int // one channel's phases: SH·SW·Hq·Wq
}

// phasesOf returns the phase copy's layout for g. A 1×1 window reads
// phase (0, 0) only, so a channel's phases are that one plane: a strided
// 1×1 convolution's copy is its input subsampled, compact (ResNet's and
// ResNeXt's stride-2 downsampling: 1024 → 2048 channels at 7×7 read a
// quarter of a 14×14 input once instead of once per block of output
// channels, 57 → 77 GFLOP/s on one thread).
func phasesOf(g *ConvGeom) phaseGeom {
	hq := CeilDiv(g.H+g.PadT+g.PadB, g.SH)
	wq := CeilDiv(g.W+g.PadL+g.PadR, g.SW)
	phases := g.SH * g.SW
	if g.KH == 1 && g.KW == 1 {
		phases = 1
	}
	return phaseGeom{hq: hq, wq: wq, plane: phases * hq * wq}
}

// inPlaceOK reports whether conv can take the in-place path for g.
func (bl *blocked) inPlaceOK(g *ConvGeom) bool {
	if bl.Offs == nil || g.C/g.Group == 1 {
		return false
	}
	ph := phasesOf(g)
	// Offsets are int32, and the garbage columns of the last row read up
	// to (KW-1)·DW past the last plane.
	return int64(g.C/g.Group)*int64(ph.plane)+int64(g.KW*g.DW) < math.MaxInt32
}

// convInPlace is blocked.conv for geometries inPlaceOK accepts.
func (bl *blocked) convInPlace(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	cg, mg := g.C/g.Group, g.M/g.Group
	k := cg * g.KH * g.KW
	ph := phasesOf(g)
	ncol := g.OH * ph.wq // product columns per image and group
	compact := ph.wq == g.OW
	pw := bl.Widths[0]
	// rowPanels: columns compact, each panel within one output row, the
	// last of a row narrower unless pw divides OW (read in place by
	// OffsNarrow where the tier has one that wide), so that the product is
	// the output and needs no compaction pass. Rows of at least two full
	// panels only, where the narrow ones are a small part of the work:
	// ResNet's stem, 112 = 48 + 48 + 16 columns, 181-187 → 188-192
	// GFLOP/s on one thread (Zen 5, alternating runs).
	rowPanels := !compact && (g.OW%pw == 0 || g.OW >= 2*pw)
	panels := CeilDiv(ncol, pw)
	if rowPanels {
		ncol = g.OH * g.OW
		panels = g.OH * CeilDiv(g.OW, pw)
	}
	// Without a copy, only a compact stride-1 product stays inside x.
	copyIn := f.hasPre() || g.PadT+g.PadB+g.PadL+g.PadR > 0 || !compact || g.SH*g.SW > 1
	pack := bl.inPlacePack(g)
	prePack := bl.prologueInPack(g, f)
	if prePack {
		// The panels are packed, the prologue applied on the way, from x.
		copyIn, pack = false, true
	}
	par := ParOf(env)

	sc := bl.scratch.Get(hintOf(env))
	defer bl.scratch.Put(hintOf(env), sc)
	src := bl.inPlaceSource(env, g, x, f, ph, sc, copyIn)
	out, ldo := y, g.OH*g.OW
	if !compact && !rowPanels {
		out, ldo = sc.yp.Grow(g.N*g.M*ncol), ncol
	}
	boff := bl.tables.get(offsetKey{path: offsInPlace, g: *g}, k, func(t []int32) { inPlaceOffsets(g, ph, t) })

	tt := TaskOf[inPlaceTask](env)
	*tt = inPlaceTask{bl: bl, env: env, g: g, f: f, w: w, b: b, out: out, src: src, boff: boff,
		ncol: ncol, ldo: ldo, plane: ph.plane, direct: compact || rowPanels,
		pack: pack, prePack: prePack,
		t: tilingFor(g.N*g.Group, mg, panels, k, par.Workers(), pw, bl.MR, bl.mc)}
	if rowPanels {
		tt.bw, tt.bq = g.OW, ph.wq
	}
	runTask(env, tt.t.all, tt)

	if compact || rowPanels {
		return
	}
	ct := TaskOf[compactTask](env)
	*ct = compactTask{k: TierOf(env), g: g, f: f, out: out, y: y, ncol: ncol, wq: ph.wq,
		post: f.hasPost() && (f.Residual != nil || f.Act.Kind != ActRelu)}
	runTask(env, g.N*g.M, ct)
}

// inPlaceSource returns what the in-place products read as B: x itself,
// or, when copyIn is set, the phase copy of x (see phasePlanes) made in
// sc.xp, with room after it for the garbage columns' reads.
func (bl *blocked) inPlaceSource(env *Env, g *ConvGeom, x []float32, f *ConvFusion, ph phaseGeom, sc *bigBufs, copyIn bool) []float32 {
	if !copyIn {
		return x
	}
	slack := g.KW*g.DW + maxPanel
	src := sc.xp.Grow(g.N*g.C*ph.plane + slack)
	clear(src[g.N*g.C*ph.plane:])
	pt := TaskOf[phaseTask](env)
	*pt = phaseTask{k: TierOf(env), dst: src, x: x, g: g, ph: ph, f: f, bands: phaseBands(g, ph, ParOf(env).Workers())}
	runTask(env, g.N*g.C*pt.bands, pt)
	return src
}

// phaseBands returns into how many bands of rows inPlaceSource cuts each
// phase copy for workers: one per worker where the planes are fewer than
// phaseBandPlanes a worker (an image's 3 channels in front of a stem,
// which left one of two workers copying two of them), else 1.
func phaseBands(g *ConvGeom, ph phaseGeom, workers int) int {
	if workers < 2 || g.N*g.C >= phaseBandPlanes*workers {
		return 1
	}
	return max(1, min(workers, ph.hq))
}

// phaseBandPlanes is the fewest planes a worker that phaseBands leaves
// whole.
const phaseBandPlanes = 4

// inPlaceOffsets fills boff (one entry per row p = (c·KH + kh)·KW + kw of
// a group's im2col matrix) with where row p starts in the phase planes:
//
//	boff[p] = c·plane + ((kh·DH mod SH)·SW + kw·DW mod SW)·Hq·Wq + (kh·DH/SH)·Wq + kw·DW/SW
func inPlaceOffsets(g *ConvGeom, ph phaseGeom, boff []int32) {
	p := 0
	for c := range g.C / g.Group {
		for kh := range g.KH {
			for kw := range g.KW {
				dh, dw := kh*g.DH, kw*g.DW
				phase := dh%g.SH*g.SW + dw%g.SW
				boff[p] = int32(c*ph.plane + phase*ph.hq*ph.wq + dh/g.SH*ph.wq + dw/g.SW)
				p++
			}
		}
	}
}

// phaseTask makes the phase copy of x (see phasePlanes) in units of a band
// of rows of a plane: unit u is band u / P of plane u mod P (P = N·C),
// band b holding rows [b·Hq/bands, (b+1)·Hq/bands) of each phase; plane p
// is channel p mod C.
type phaseTask struct {
	k      *Tier
	dst, x []float32
	g      *ConvGeom
	ph     phaseGeom
	f      *ConvFusion
	bands  int
}

// Range copies units [lo, hi).
func (t *phaseTask) Range(lo, hi int) {
	hw := t.g.H * t.g.W
	planes := t.g.N * t.g.C
	for u := lo; u < hi; u++ {
		b, p := u/planes, u%planes
		i0, i1 := b*t.ph.hq/t.bands, (b+1)*t.ph.hq/t.bands
		phaseRows(t.k, t.dst[p*t.ph.plane:(p+1)*t.ph.plane], t.x[p*hw:(p+1)*hw], t.g, t.ph, t.f, p%t.g.C, i0, i1)
	}
}

// inPlaceTask is convInPlace's product: units of t, each a range of row
// blocks and column panels of one image and group.
type inPlaceTask struct {
	bl             *blocked
	env            *Env
	g              *ConvGeom
	f              *ConvFusion
	t              tiling
	w, b, out, src []float32
	boff           []int32
	ncol, ldo      int
	plane          int  // a channel's span in src
	direct         bool // the product is the output, OH·OW wide
	pack           bool // copy each panel of B before its products (packConflicts)
	prePack        bool // and apply the prologue to it (prologueInPack)
	bw, bq         int  // rowPanels: B's column j is src column (j/bw)·bq + j%bw
}

// Range computes units [lo, hi) as taker 0.
func (tt *inPlaceTask) Range(lo, hi int) { tt.RangeTaker(lo, hi, 0) }

// RangeTaker computes units [lo, hi) in taker's buffers (takerHint).
func (tt *inPlaceTask) RangeTaker(lo, hi, taker int) {
	bl, g, f, t := tt.bl, tt.g, tt.f, &tt.t
	cg, mg := g.C/g.Group, g.M/g.Group
	k := cg * g.KH * g.KW
	ncol, ldo, out := tt.ncol, tt.ldo, tt.out
	hint := takerHint(hintOf(tt.env), taker)
	buf := bl.bufs.Get(hint)
	for u := lo; u < hi; u++ {
		o, i0, i1, p0, p1 := t.unit(u)
		n, grp := o/g.Group, o%g.Group
		op := gemmOp{m: mg, n: ncol, k: k, a: groupRows(tt.w, grp, mg*k), lda: k,
			c: out[(n*g.M+grp*mg)*ldo : (n*g.M+grp*mg+mg)*ldo], ldc: ldo, alpha: 1}
		if tt.b != nil {
			op.bias = tt.b[grp*mg : grp*mg+mg]
		}
		switch {
		case tt.direct && f.hasPost():
			op.act = f.Act
			if f.Residual != nil {
				op.resid = f.Residual[(n*g.M+grp*mg)*ldo : (n*g.M+grp*mg+mg)*ldo]
			}
		case f.hasPost() && f.Residual == nil && f.Act.Kind == ActRelu:
			op.act = f.Act
		}
		op.apack = bl.packedGroup(tt.env, g, grp)
		op.bw, op.bq = tt.bw, tt.bq
		if tt.prePack {
			op.preScale, op.preBias = f.PreScale[grp*cg:(grp+1)*cg], f.PreBias[grp*cg:(grp+1)*cg]
			op.preRelu = f.PreAct.Kind == ActRelu
		}
		xs := tt.src[(n*g.C+grp*cg)*tt.plane:]
		bl.tileOffs(&op, xs, tt.boff, i0, i1, p0, p1, buf, tt.pack)
	}
	bl.bufs.Put(hint, buf)
}

// compactTask copies output planes [lo, hi) from the Wq-wide product to
// y, applying what the product's epilogue left out:
// y[n][m][oh][ow] = act(yp[n][m][oh·Wq + ow] + Z[n][m][oh][ow]), the bias
// (and a Relu without residual) having been applied already.
type compactTask struct {
	k        *Tier
	g        *ConvGeom
	f        *ConvFusion
	out, y   []float32
	ncol, wq int
	post     bool
}

// Range compacts planes [lo, hi).
func (t *compactTask) Range(lo, hi int) {
	g, f := t.g, t.f
	ohw := g.OH * g.OW
	for u := lo; u < hi; u++ {
		yp := t.out[u*t.ncol : (u+1)*t.ncol]
		yr := t.y[u*ohw : (u+1)*ohw]
		for oh := range g.OH {
			copy(yr[oh*g.OW:(oh+1)*g.OW], yp[oh*t.wq:oh*t.wq+g.OW])
		}
		if !t.post {
			continue
		}
		var z []float32
		if f.Residual != nil {
			z = f.Residual[u*ohw : (u+1)*ohw]
		}
		residualAct(t.k, yr, z, f.Act)
	}
}

// phasePlanes writes channel c's plane x (H×W) into dst as the phase
// planes of its padded form (see the top of this file), padding as zeros,
// with the fusion's prologue, if any, applied to the values of x:
//
//	dst[(a·SW + b)·Hq·Wq + i·Wq + j] = x'[i·SH + a - PadT][j·SW + b - PadL]
//
// where x' = PreAct(PreScale[c]·x + PreBias[c]), and 0 outside x. Phases
// that no kernel tap reads are left as they are.
func phasePlanes(k *Tier, dst, x []float32, g *ConvGeom, ph phaseGeom, f *ConvFusion, c int) {
	phaseRows(k, dst, x, g, ph, f, c, 0, ph.hq)
}

// phaseRows is phasePlanes for rows [i0, i1) of each phase plane only.
func phaseRows(k *Tier, dst, x []float32, g *ConvGeom, ph phaseGeom, f *ConvFusion, c, i0, i1 int) {
	var sc, bi float32
	if f.hasPre() {
		sc, bi = f.PreScale[c], f.PreBias[c]
	}
	if g.SH == 1 && g.SW == 1 && g.PadT+g.PadB+g.PadL+g.PadR == 0 {
		// One phase laid out as x itself (Hq = H, Wq = W): the rows are
		// one run, dst[i] = x'[i] (DenseNet's BN+Relu before a 1×1 conv).
		d, s := dst[i0*g.W:i1*g.W], x[i0*g.W:i1*g.W]
		switch {
		case !f.hasPre():
			copy(d, s)
		case f.PreAct.Kind == ActRelu || f.PreAct.Kind == ActNone:
			// d[i] = [max(0,] PreScale[c]·x[i] + PreBias[c][)]
			AffineRow(k, d, s, sc, bi, f.PreAct.Kind == ActRelu)
		default:
			// d[i] = PreAct(PreScale[c]·x[i] + PreBias[c])
			for i := range d {
				d[i] = f.PreAct.One(sc*s[i] + bi)
			}
		}
		return
	}
	// Where a window reads more than one phase row (a stride and a taller
	// window), the rows go one at a time, each row's phases in turn, so
	// that x's rows are read in order. Phase by phase, a stride-2 copy
	// read every other row of a plane in each of two passes, which the
	// cores' prefetchers followed badly where x is not in the caches, as
	// a stem's input is not in a network: the 3 → 32 stem from 224×224
	// cold 230-256 → 197-215 µs (BenchmarkStems), hot as before; in the
	// network, one thread, alternating, RegNet-Y 800MF's stem copy 114 →
	// 70 µs and ResNet-18's 135 → 91 (in a slower spell 166 → 145 and
	// 130; MobileNetV2's 107 → 77). Otherwise (one phase row) a phase's
	// rows are in order already and go as one run. Either way a phase's
	// taps and columns are worked out once a call, not once a row: once
	// a row, they cost DenseNet-121 2 % of its time (its many padded
	// planes), and a stride-2 copy as much as its rows.
	rows := 0 // the phase rows a tap reads
	for a := range g.SH {
		if tapHits(a, g.SH, g.KH, g.DH) {
			rows++
		}
	}
	// the phases the taps read, with their columns that read x
	var cut [16]phaseCut
	if rows < 2 || g.SH*g.SW > len(cut) {
		// phase by phase (with more phases than cut holds, strides above
		// 4, too)
		for a := range g.SH {
			for b := range g.SW {
				if q, jlo, jhi, ok := phaseOf(dst, g, ph, a, b); ok {
					phaseRun(k, q, x, g, ph, f, sc, bi, a, b, jlo, jhi, i0, i1)
				}
			}
		}
		return
	}
	n := 0
	for a := range g.SH {
		for b := range g.SW {
			if q, jlo, jhi, ok := phaseOf(dst, g, ph, a, b); ok {
				cut[n] = phaseCut{q: q, a: a, b: b, jlo: jlo, jhi: jhi}
				n++
			}
		}
	}
	for i := i0; i < i1; i++ {
		for _, c := range cut[:n] {
			phaseRun(k, c.q, x, g, ph, f, sc, bi, c.a, c.b, c.jlo, c.jhi, i, i+1)
		}
	}
}

// phaseCut is a phase (a, b) of a phase copy that a tap reads: its plane q
// and its columns [jlo, jhi) that read x (see phaseOf).
type phaseCut struct {
	q              []float32
	a, b, jlo, jhi int
}

// phaseOf returns phase (a, b)'s plane of a channel's phase copy dst and
// the phase's columns j that read x (j·SW + b - PadL in [0, W)), or false
// where no tap reads the phase.
func phaseOf(dst []float32, g *ConvGeom, ph phaseGeom, a, b int) (q []float32, jlo, jhi int, ok bool) {
	if !tapHits(a, g.SH, g.KH, g.DH) || !tapHits(b, g.SW, g.KW, g.DW) {
		return nil, 0, 0, false
	}
	jlo, jhi = validRange(b-g.PadL, g.SW, g.W, ph.wq)
	return dst[(a*g.SW+b)*ph.hq*ph.wq : (a*g.SW+b+1)*ph.hq*ph.wq], jlo, jhi, true
}

// phaseRun writes rows [i0, i1) of phase (a, b) of the plane x into the
// phase's plane q, whose columns [jlo, jhi) read x (see phaseOf): rows
// that fall in the padding as zeros, the others by phaseRow.
func phaseRun(k *Tier, q, x []float32, g *ConvGeom, ph phaseGeom, f *ConvFusion, sc, bi float32, a, b, jlo, jhi, i0, i1 int) {
	if g.SW == 1 && !f.hasPre() && jlo < jhi {
		// The rows inside x, [ia, ib), in one call (padRows): row i
		// reads x's row i·SH + a - PadT from column jlo + b - PadL on.
		// A row at a time from Go (phaseRow's padding stores and copy
		// call, about 11 ns a row) cost more than the values' moves:
		// ResNet-18's Winograd input copies, one thread, a Run's, 56×56
		// 228 → 125 µs (hot 184 → 75), 28×28 134 → 64, 14×14 173 → 88;
		// alternating runs, one thread / two: ResNet-18 0.97 / 0.96-0.97
		// of its time, ResNet-34 0.96 / 0.90-0.95, DenseNet-121 0.97 /
		// 0.98, ResNet-50 0.99-1.00 / 0.94-0.98, ResNeXt-50 0.98, the
		// depthwise networks within noise.
		ia := max(i0, CeilDiv(max(g.PadT-a, 0), g.SH))
		ib := min(i1, CeilDiv(g.H+g.PadT-a, g.SH))
		if ia < ib {
			clear(q[i0*ph.wq : ia*ph.wq])
			clear(q[ib*ph.wq : i1*ph.wq])
			x0 := (ia*g.SH+a-g.PadT)*g.W + jlo + b - g.PadL
			padRows(k, q[ia*ph.wq:ib*ph.wq], ph.wq, x[x0:], g.SH*g.W, ib-ia, jhi-jlo, jlo)
			return
		}
	}
	for i := i0; i < i1; i++ {
		row := q[i*ph.wq : (i+1)*ph.wq]
		ih := i*g.SH + a - g.PadT
		if ih < 0 || ih >= g.H || jlo >= jhi {
			clear(row)
			continue
		}
		phaseRow(k, row, x[ih*g.W:(ih+1)*g.W], g, f, sc, bi, b, jlo, jhi)
	}
}

// phaseRow writes row, a row of phase column b of the padded input's
// phase planes (see phasePlanes), from xr, the input row it reads: the
// columns [jlo, jhi) read xr, those outside it are padding (0):
//
//	row[j] = x'[j·SW + b - PadL] for jlo <= j < jhi, else 0
//
// with x' the fusion's prologue applied to xr (PreScale and PreBias the
// channel's sc and bi). Rows at column stride 1 without a prologue do not
// come here: phaseRun copies them in one call (padRows).
func phaseRow(k *Tier, row, xr []float32, g *ConvGeom, f *ConvFusion, sc, bi float32, b, jlo, jhi int) {
	// the padding columns, a few each side: stores, not the
	// two memclr calls that cost more than a row's copy
	for j := 0; j < jlo; j++ {
		row[j] = 0
	}
	for j := jhi; j < len(row); j++ {
		row[j] = 0
	}
	d := row[jlo:jhi]
	x0 := jlo*g.SW + b - g.PadL
	s := xr[x0 : x0+(len(d)-1)*g.SW+1]
	switch {
	case !f.hasPre() && g.SW == 2:
		// d[j] = xr[x0 + 2j]
		pick2Row(k, d, s)
	case !f.hasPre():
		// d[j] = xr[x0 + j·SW]
		for j := range d {
			d[j] = s[j*g.SW]
		}
	case g.SW == 2 && (f.PreAct.Kind == ActRelu || f.PreAct.Kind == ActNone):
		// d[j] = [max(0,] PreScale[c]·xr[x0+2j] + PreBias[c][)]
		pick2Row(k, d, s)
		AffineRow(k, d, d, sc, bi, f.PreAct.Kind == ActRelu)
	case g.SW == 1 && (f.PreAct.Kind == ActRelu || f.PreAct.Kind == ActNone):
		// d[j] = [max(0,] PreScale[c]·xr[x0+j] + PreBias[c][)]
		AffineRow(k, d, s, sc, bi, f.PreAct.Kind == ActRelu)
	default:
		// d[j] = PreAct(PreScale[c]·xr[x0 + j·SW] + PreBias[c])
		for j := range d {
			d[j] = f.PreAct.One(sc*s[j*g.SW] + bi)
		}
	}
}

// tapHits reports whether some tap k < n, at k·d along an axis of stride s,
// falls in phase a: k·d mod s = a.
func tapHits(a, s, n, d int) bool {
	for k := range n {
		if k*d%s == a {
			return true
		}
	}
	return false
}

// tileOffs is tile for the in-place path: B's row p for columns j0.. is
// src[boff[p]+j0:], or src[boff[p]+(j0/bw)·bq+j0%bw:] when op.bw > 0, when
// panel p is the (p mod ppr)-th of row p/ppr of bw columns, the last of a
// row narrower when pw does not divide bw (ppr = ceil(bw/pw)). Full
// panels run on the offsets micro-kernel; a narrower one (the product's
// last, or a row's) is gathered into a packed panel for the narrower
// kernels.
func (bl *blocked) tileOffs(op *gemmOp, src []float32, boff []int32, i0, i1, p0, p1 int, buf *blockBufs, pack bool) {
	op.kern = bl.kern
	mr, pw := bl.MR, bl.Widths[0]
	kc := bl.kBlock(op.k)
	// C[i][j] = sum_p A[i][p]·src[boff[p]+j] (+ bias[i]) (+ Z[i][j]), block by block of kc.
	for kb := 0; kb < op.k; kb += kc {
		kl := min(kc, op.k-kb)
		first, last := kb == 0, kb+kl == op.k
		ablk := bl.aBlock(op, buf, i0, i1, kb, kl)
		offs := boff[kb : kb+kl]
		for p := p0; p < p1; p++ {
			j0 := p * pw
			w := min(pw, op.n-j0)
			sj := j0 // B's column j0 in src
			if op.bw > 0 {
				ppr := CeilDiv(op.bw, pw)
				r, q := p/ppr, p%ppr
				j0, w = r*op.bw+q*pw, min(pw, op.bw-q*pw)
				sj = r*op.bq + q*pw
			}
			full := w == pw
			// B's rows as the kernels read them: in place, or the panel
			// packed (and the next one fetched) when pack is set
			srcp, offp := &src[sj], &offs[0]
			packed := full && pack
			switch {
			case packed && op.preScale != nil:
				bl.PackPanelAffine(&buf.b[0], &src[sj], &offs[0], kl, &op.preScale[kb], &op.preBias[kb], flag(op.preRelu))
				srcp, offp = &buf.b[0], &buf.seq[0]
			case packed:
				bl.PackPanel(&buf.b[0], &src[sj], &offs[0], kl)
				srcp, offp = &buf.b[0], &buf.seq[0]
			}
			var kern MicroKernel
			kw := pw
			var pan []float32
			start := i0 // the first row left to compute
			if !full {
				kern, kw = bl.kernFor(w)
				// A row's last panel, as wide as a narrower offsets
				// kernel, narrower than every kernel (196 = 4·48 + 4:
				// the masked one, OffsCols) or in pieces of those
				// (offsNarrowRun): read in place too, its whole groups
				// of rows in one call; rows past them below.
				if op.preScale == nil && !pack && bl.offsPieces(w) {
					ng := (i1 - i0) / mr
					if ng > 0 {
						bl.offsNarrowRun(op, kl, ablk, src, sj, offs, i0, ng, j0, w, first, last, buf)
					}
					if start = i0 + ng*mr; start == i1 {
						continue
					}
				}
				pan = buf.b[:kl*kw]
				for r, o := range offs {
					d := pan[r*kw : (r+1)*kw]
					// pan[r][j] = src[boff[kb+r] + j0 + j] for j < w, 0 after
					copy(d, src[int(o)+sj:int(o)+sj+w])
					clear(d[w:])
					if op.preScale != nil {
						// with the prologue: [max(0,] preScale·pan[r][j] + preBias[)]
						AffineRow(op.kern, d[:w], d[:w], op.preScale[kb+r], op.preBias[kb+r], op.preRelu)
					}
				}
			}
			for i := start; i < i1; i += mr {
				rows := min(mr, i1-i)
				a := &ablk[(i-i0)*kl]
				// The first row group fetches this panel of B into L1; it
				// also prefetches the next one, while the others reuse it.
				pf := 0
				if i == i0 && !packed {
					pf = microPrefetch
				}
				switch {
				case full && rows == mr:
					// every whole group of rows left in one call
					ng := (i1 - i) / mr
					c, bias, resid, flags := op.direct(i, ng*mr, j0, pw, first, last)
					bl.Offs(kl, a, srcp, offp, c, op.ldc, bias, resid, flags|pf, op.clipFor(buf, last), ng)
					op.directAct(i, ng*mr, j0, pw, last)
					i += (ng - 1) * mr
					continue
				case full && len(bl.OffsRows) > 0:
					c, bias, resid, flags := op.direct(i, rows, j0, pw, first, last)
					bl.OffsRows[rows-1](kl, a, srcp, offp, c, op.ldc, bias, resid, flags|pf, op.clipFor(buf, last), 1)
					op.directAct(i, rows, j0, pw, last)
					continue
				case full:
					bl.Offs(kl, a, srcp, offp, &buf.tmp[0], pw, nil, nil, pf, nil, 1)
				case w == kw && rows == mr:
					// a narrow panel a kernel's width: into C with the epilogue
					c, bias, resid, flags := op.direct(i, mr, j0, w, first, last)
					kern(kl, a, &pan[0], c, op.ldc, bias, resid, flags, op.clipFor(buf, last))
					op.directAct(i, mr, j0, w, last)
					continue
				default:
					kern(kl, a, &pan[0], &buf.tmp[0], kw, nil, nil, 0, nil)
				}
				for r := range rows {
					op.store(i+r, j0, w, buf.tmp[r*kw:], first, last)
				}
			}
		}
	}
}

// bigBufs is a call's scratch for the in-place and Winograd paths, reused
// through a free list: the padded input, the wide output (or Winograd's
// transformed input, products and transformed output).
type bigBufs struct {
	xp, yp, wp, qp GrowBuf
	g1             ConvGeom  // a variant of the call's geometry (convPix)
	priv           []GrowBuf // the workers' own copies of an input (pixCopy, pixSplitKTask)
	privMade       []bool    // by worker: priv holds the call's copy (pixCopy)
	privCt         []GrowBuf // the workers' own sums (pixSplitKTask)
}

// GrowBuf is a float32 buffer that only grows.
type GrowBuf []float32

// grow returns n elements of the buffer, reallocating when it is smaller.
func (g *GrowBuf) Grow(n int) []float32 {
	if cap(*g) < n {
		*g = make([]float32, n)
	}
	return (*g)[:n]
}

// prologueInPack reports whether convInPlace applies f's prologue to the
// panels of B as it packs them (BlockedSpec.PackPanelAffine) rather than
// to a copy of the whole input made first: for a 1×1, stride-1, unpadded
// convolution whose prologue is an affine step with or without a Relu
// (DenseNet's BN+Relu before each bottleneck). Each panel is then
// transformed once per block of output rows instead of once, a few per
// cent of its products, and the input is read where it lies, not written
// and read again through the cache in a pass and a barrier of its own.
func (bl *blocked) prologueInPack(g *ConvGeom, f *ConvFusion) bool {
	return bl.PackPanelAffine != nil && f.hasPre() && (f.PreAct.Kind == ActRelu || f.PreAct.Kind == ActNone) &&
		g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PadT+g.PadB+g.PadL+g.PadR == 0
}

// inPlacePack reports whether convInPlace's products pack the panels of
// B (packConflicts, for 1×1 windows). The products read the phase planes
// (or x) where they lie, even where a plane is not a multiple of 16
// values (14×14's 196): a copy 16-aligned, one line for each panel row
// instead of two, measured faster on an older kernel but now costs more
// than it saves, most of all on two workers, where each writes half of
// the copy and then reads all of it (ResNet-50's 1024 → 256 at 14×14,
// Zen 5: one worker 547 → 520 µs, two 387 → 295; ResNet-50 and
// MobileNetV2 2-5 % faster on two threads, the same on one).
func (bl *blocked) inPlacePack(g *ConvGeom) bool {
	return g.KH*g.KW == 1 && bl.packConflicts(phasesOf(g).plane)
}

// packConflicts reports whether the in-place products of a 1×1
// convolution whose channel planes are plane values apart copy each panel
// of B before its products (BlockedSpec.PackPanel): planes a multiple of
// 256 values apart put the rows of a panel in at most 4 of L1's 64 sets
// (a 112×112 plane is 784 lines), 8 ways each, so the panel does not stay
// in L1 for the next group of rows. RegNet-Y 800MF's 32 → 64 1×1 on
// 112×112: 63 → 77 GFLOP/s on one thread; packing every 1×1 (56×56
// planes put a panel in 16 sets) made ResNet-50 4 % and MobileNetV2 3 %
// slower.
func (bl *blocked) packConflicts(plane int) bool {
	return bl.PackPanel != nil && plane%256 == 0
}

// offsPieces reports whether a panel w columns wide, narrower than
// Widths[0], runs in place on the offsets kernels (offsNarrowRun): as
// pieces of the narrower widths that have one and, last, fewer columns
// than the narrowest under OffsCols' masks.
func (bl *blocked) offsPieces(w int) bool {
	for w > 0 {
		_, n := bl.offsPiece(w)
		if n == 0 {
			return false
		}
		w -= n
	}
	return true
}

// offsPiece returns the kernel for the next piece of a panel with w
// columns left and the piece's width: the widest narrower offsets kernel
// that fits, or (nil, w) when w is under the narrowest width and the tier
// has OffsCols, or (nil, 0) when neither.
func (bl *blocked) offsPiece(w int) (MicroKernelOffs, int) {
	for _, nw := range bl.Widths[1:] {
		if w >= nw {
			if k := bl.offsNarrow(nw); k != nil {
				return k, nw
			}
		}
	}
	if bl.OffsCols != nil && w < bl.Widths[len(bl.Widths)-1] {
		return nil, w
	}
	return nil, 0
}

// offsNarrowRun computes rows [i0, i0 + ng·MR) of C's columns [j0, j0 + w)
// in place, for offsPieces(w): B's rows at src[boff[p] + sj:], in the
// pieces offsPiece cuts; every column's sum is the one the packed panel's
// kernel makes, in the same order, bit for bit. On AVX-512 (widths 48,
// 32, 16) a last panel of 40 columns is 32 + 8, one of 17 16 + 1: the
// 17-tile part of DenseNet-121's 28×28 Winograd layers on two workers,
// whose 36 products copied each panel into a 32-wide one before (those
// layers 0.92-0.98 of their time; the network 0.97-0.98 on two threads).
// BenchmarkOffsPieces, a 1×1 layer of that depth whose last of five
// panels is 17 wide: 0.90-0.95 of the packed panel's time.
func (bl *blocked) offsNarrowRun(op *gemmOp, kl int, ablk, src []float32, sj int, offs []int32, i0, ng, j0, w int, first, last bool, buf *blockBufs) {
	// (OffsFew reads 4 columns of B whatever w is: only where they lie in src)
	if w <= 4 && bl.OffsFew[0] != nil && sj+maxOffset(offs[:kl])+4 <= len(src) {
		c, bias, resid, flags := op.direct(i0, ng*bl.MR, j0, w, first, last)
		if bias == nil && resid == nil && flags&microRelu == 0 && op.clipFor(buf, last) == nil {
			// A few columns, the rows in the vectors, up to 4 groups a
			// call (OffsFew), where as a piece under a mask a column
			// cost as much as 16: Winograd's products at 28×28 (49
			// tiles, 48 + 1). One thread: BenchmarkWinograd's 128 → 128
			// at 28×28, hot, 495-500 → 440-459 µs; ResNet-18's three
			// such layers in the network 0.51-0.53 → 0.46-0.48 ms each
			// (at 56×56, 196 = 4·48 + 4 tiles, within noise).
			cs := unsafe.Slice(c, (ng*bl.MR-1)*op.ldc+w)
			for g := 0; g < ng; g += 4 {
				n := min(4, ng-g)
				bl.OffsFew[n-1](kl, &ablk[g*kl*bl.MR], &src[sj], &offs[0], &cs[g*bl.MR*op.ldc], op.ldc, flags&microAccumulate, w)
			}
			op.directAct(i0, ng*bl.MR, j0, w, last)
			return
		}
	}
	for off := 0; off < w; {
		kern, n := bl.offsPiece(w - off)
		c, bias, resid, flags := op.direct(i0, ng*bl.MR, j0+off, n, first, last)
		if kern != nil {
			kern(kl, &ablk[0], &src[sj+off], &offs[0], c, op.ldc, bias, resid, flags, op.clipFor(buf, last), ng)
		} else {
			bl.OffsCols(kl, &ablk[0], &src[sj+off], &offs[0], c, op.ldc, bias, resid, flags, op.clipFor(buf, last), ng, n)
		}
		op.directAct(i0, ng*bl.MR, j0+off, n, last)
		off += n
	}
}

// offsNarrow returns the tier's offsets kernel w columns wide, narrower
// than Widths[0], or nil if it has none.
func (bl *blocked) offsNarrow(w int) MicroKernelOffs {
	for i, k := range bl.OffsNarrow {
		if bl.Widths[len(bl.Widths)-1-i] == w {
			return k
		}
	}
	return nil
}
