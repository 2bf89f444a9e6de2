package ops

import "math"

// Winograd F(4×4, 3×3) for 3×3, stride-1, undilated, ungrouped
// convolutions on the blocked tiers. The output is cut into 4×4 tiles; tile
// (th, tw) reads the 6×6 patch d of the padded input at rows 4·th.., columns
// 4·tw.., and
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// summed over input channels, with (Lavin and Gray's matrices)
//
//	Bᵀ = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |   Aᵀ = | 1  1  1  1  1  0 |
//	     | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |        | 0  1 -1  2 -2  0 |
//	     | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |        | 0  1  1  4  4  0 |
//	     | 0 -2 -1  2  1  0 |       |  1/24  1/12  1/6  |        | 0  1 -1  8 -8  1 |
//	     | 0  2 -1 -2  1  0 |       |  1/24 -1/12  1/6  |
//	     | 0  4  0 -5  0  1 |       |   0     0     1   |
//
// 36 products per tile and channel pair instead of 144. All three stages
// run on the micro-kernels, reading their B operand in place (tileOffs):
//
//  1. Input transform, per channel c: V[ξ][c][j] = Σ_r K[ξ][r]·d_j[r], a
//     36×36 by 36×Ncol product, K = Bᵀ⊗Bᵀ. The padded input is split into
//     4×4 stride phases (phasePlanes) so that element r = (a, b) of every
//     patch, over the tiles j = th·Wq + tw, is one contiguous run.
//  2. Products, per ξ: P[ξ][m][j] = Σ_c U[ξ][m][c]·V[ξ][c][j], U = G g Gᵀ
//     packed once per plan by packConv.
//  3. Output transform, per output channel m: Q[m][s][j] = Σ_ξ AK[s][ξ]·
//     P[ξ][m][j], AK = Aᵀ⊗Aᵀ (16×36), then y[m][4th + s/4][4tw + s%4] =
//     act(Q[m][s][j] + bias[m] + Z), skipping positions past the output.
//
// Tiles are laid out Wq = TW+1 wide, the extra column being computed and
// dropped, as in convInPlace.

// winoBT, winoG and winoAT are the transform matrices above.
var (
	winoBT = [6][6]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	winoG = [6][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	winoAT = [4][6]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 2, -2, 0},
		{0, 1, 1, 4, 4, 0},
		{0, 1, -1, 8, -8, 1},
	}
)

// winoGeom is a Winograd convolution's tiling.
type winoGeom struct {
	th, tw int       // tiles down and across
	wq     int       // tile columns per tile row, TW+1
	ncol   int       // TH·Wq
	pg     ConvGeom  // the padded input as a 6×6, stride-4 phase copy
	ph     phaseGeom // its phase layout
}

func winoGeomOf(g *ConvGeom) winoGeom {
	th, tw := ceilDiv(g.OH, 4), ceilDiv(g.OW, 4)
	pg := *g
	// Patches reach 4·TH+2 rows and 4·TW+2 columns of padded input; the
	// rows and columns past the convolution's own padding are zeros too.
	pg.PadB = 4*th + 2 - g.H - g.PadT
	pg.PadR = 4*tw + 2 - g.W - g.PadL
	pg.SH, pg.SW, pg.KH, pg.KW = 4, 4, 6, 6
	wg := winoGeom{th: th, tw: tw, wq: tw + 1, pg: pg}
	wg.ncol = th * wg.wq
	wg.ph = phasesOf(&pg)
	return wg
}

// winogradOK reports whether conv runs g with Winograd.
func (bl *blocked) winogradOK(g *ConvGeom) bool {
	if bl.Offs == nil || g.KH != 3 || g.KW != 3 || g.SH != 1 || g.SW != 1 ||
		g.DH != 1 || g.DW != 1 || g.Group != 1 || g.C < 8 || g.M < 8 {
		return false
	}
	wg := winoGeomOf(g)
	if bl.WinogradMinCols <= 0 || wg.ncol < bl.WinogradMinCols || wg.pg.PadB < 0 || wg.pg.PadR < 0 {
		return false
	}
	// Offsets are int32: the largest is 35·M·Ncol (stage 3), or a
	// channel's phase planes (stage 1).
	return int64(36)*int64(max(g.M, g.C))*int64(wg.ncol)+int64(wg.ph.plane) < math.MaxInt32
}

// winoConsts are the packed transform matrices of one tier, made once.
type winoConsts struct {
	k  []float32 // Bᵀ⊗Bᵀ, 36×36, packed
	ak []float32 // Aᵀ⊗Aᵀ, 16×36, packed
}

// winoConstsFor packs the transform matrices for bl.
func (bl *blocked) winoConstsFor() *winoConsts {
	bl.winoOnce.Do(func() {
		bl.wino = &winoConsts{k: bl.packMatrix(kron(winoBT[:]), 36, 36), ak: bl.packMatrix(kron(winoAT[:]), 16, 36)}
	})
	return bl.wino
}

// kron returns the Kronecker product p⊗p of an r×6 matrix p, an (r·r)×36
// row-major matrix: element ((i, j), (a, b)) is p[i][a]·p[j][b], so that
// applied to a 6×6 patch d (flattened by rows) it gives p·d·pᵀ.
func kron(p [][6]float64) []float32 {
	r := len(p)
	out := make([]float32, r*r*36)
	for i := range r {
		for j := range r {
			for a := range 6 {
				for b := range 6 {
					out[(i*r+j)*36+a*6+b] = float32(p[i][a] * p[j][b])
				}
			}
		}
	}
	return out
}

// winoWeights returns U = G g Gᵀ for every output and input channel,
// packed per ξ: 36 consecutive matrices of M×C, each as packMatrix packs.
func (bl *blocked) winoWeights(g *ConvGeom, w []float32) []float32 {
	m, c := g.M, g.C
	u := make([][]float32, 36)
	for xi := range u {
		u[xi] = make([]float32, m*c)
	}
	for o := range m {
		for i := range c {
			gk := w[(o*c+i)*9 : (o*c+i)*9+9]
			// t = G·g (6×3), then U = t·Gᵀ (6×6), in float64
			var t [6][3]float64
			for r := range 6 {
				for s := range 3 {
					for q := range 3 {
						t[r][s] += winoG[r][q] * float64(gk[q*3+s])
					}
				}
			}
			for r := range 6 {
				for s := range 6 {
					var v float64
					for q := range 3 {
						v += t[r][q] * winoG[s][q]
					}
					u[r*6+s][o*c+i] = float32(v)
				}
			}
		}
	}
	n := bl.padRows(m) * c
	out := make([]float32, 36*n)
	for xi := range u {
		bl.packMatrixInto(out[xi*n:(xi+1)*n], u[xi], m, c)
	}
	return out
}

// convWinograd is blocked.conv for geometries winogradOK accepts.
func (bl *blocked) convWinograd(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	wg := winoGeomOf(g)
	wc := bl.winoConstsFor()
	var kern *Kernels
	var upack []float32
	if env != nil {
		kern, upack = env.K, env.packedW
	}
	if upack == nil {
		upack = bl.winoWeights(g, w) // weights that are not constants
	}
	par := parOf(env)
	pw := bl.Widths[0]
	mp := bl.padRows(g.M)
	nc := wg.ncol

	sc := bl.scratch.get()
	defer bl.scratch.put(sc)
	xq := sc.xp.grow(g.C*wg.ph.plane + maxPanel + wg.wq)
	v := sc.yp.grow(36 * g.C * nc)
	p := sc.wp.grow(36 * g.M * nc)
	q := sc.qp.grow(16 * g.M * nc)
	offs := sc.offs(36 + g.C)
	offIn, offMid := offs[:36], offs[36:]
	offOut := sc.offs2(36)
	// Stage 1 reads element r = (a, b) of each patch at phase (a%4, b%4),
	// shifted by (a/4) tile rows and (b/4) tile columns; stage 2 reads row
	// c of V[ξ] and stage 3 row ξ of P[·][m].
	hqwq := wg.ph.hq * wg.ph.wq
	for a := range 6 {
		for bb := range 6 {
			offIn[a*6+bb] = int32((a%4*4+bb%4)*hqwq + a/4*wg.ph.wq + bb/4)
		}
	}
	for c := range g.C {
		offMid[c] = int32(c * nc)
	}
	for xi := range 36 {
		offOut[xi] = int32(xi * g.M * nc)
	}
	clear(xq[g.C*wg.ph.plane:])

	pt := taskOf[phaseTask](env)
	st := taskOf[winoTask](env)
	*st = winoTask{bl: bl, xq: xq, v: v, p: p, q: q, upack: upack, offIn: offIn, offMid: offMid, offOut: offOut,
		plane: wg.ph.plane, c: g.C, m: g.M, mp: mp, nc: nc, wc: wc, wg: wg}
	for n := range g.N {
		*pt = phaseTask{k: kern, dst: xq, x: x[n*g.C*g.H*g.W : (n+1)*g.C*g.H*g.W], g: &st.wg.pg, ph: wg.ph, f: f}
		par.Do(g.C, pt)
		// Stage 1: V[ξ][c][j] = Σ_r K[ξ][r]·xq[c][offIn[r] + j]
		st.stage, st.t = 1, tilingFor(g.C, 36, ceilDiv(nc, pw), 36, par.Workers(), pw, bl.MR, bl.mc)
		par.Do(st.t.all, st)
		// Stage 2: P[ξ][m][j] = Σ_c U[ξ][m][c]·V[ξ][c][j]
		st.stage, st.t = 2, tilingFor(36, g.M, ceilDiv(nc, pw), g.C, par.Workers(), pw, bl.MR, bl.mc)
		par.Do(st.t.all, st)
		// Stage 3: Q[m][s][j] = Σ_ξ AK[s][ξ]·P[ξ][m][j], then the output.
		st.stage, st.t = 3, tilingFor(g.M, 16, ceilDiv(nc, pw), 36, par.Workers(), pw, bl.MR, bl.mc)
		par.Do(st.t.all, st)
		wt := taskOf[winoStoreTask](env)
		*wt = winoStoreTask{k: kern, g: g, wg: &st.wg, q: q, y: y[n*g.M*g.OH*g.OW : (n+1)*g.M*g.OH*g.OW], b: b, f: f, nc: nc}
		if f.hasPost() && f.Residual != nil {
			wt.z = f.Residual[n*g.M*g.OH*g.OW : (n+1)*g.M*g.OH*g.OW]
		}
		runTask(env, g.M, wt)
	}
	*pt, *st = phaseTask{}, winoTask{}
}

// winoTask is one of convWinograd's three products, over the units of t:
// stage 1 makes V from xq, stage 2 P from U and V, stage 3 Q from P.
type winoTask struct {
	bl                    *blocked
	stage                 int
	t                     tiling
	xq, v, p, q, upack    []float32
	offIn, offMid, offOut []int32
	plane, c, m, mp, nc   int
	wc                    *winoConsts
	wg                    winoGeom // the call's geometry, which the other tasks point to
}

// Range computes units [lo, hi) of the current stage.
func (s *winoTask) Range(lo, hi int) {
	bl, nc := s.bl, s.nc
	buf := bl.bufs.get()
	for u := lo; u < hi; u++ {
		r, i0, i1, p0, p1 := s.t.unit(u)
		switch s.stage {
		case 1: // r is a channel c
			op := gemmOp{m: 36, n: nc, k: 36, apack: s.wc.k, c: s.v[r*nc:], ldc: s.c * nc, alpha: 1}
			bl.tileOffs(&op, s.xq[r*s.plane:], s.offIn, i0, i1, p0, p1, buf)
		case 2: // r is an element ξ
			op := gemmOp{m: s.m, n: nc, k: s.c, apack: s.upack[r*s.mp*s.c : (r+1)*s.mp*s.c],
				c: s.p[r*s.m*nc : (r+1)*s.m*nc], ldc: nc, alpha: 1}
			bl.tileOffs(&op, s.v[r*s.c*nc:], s.offMid, i0, i1, p0, p1, buf)
		default: // r is an output channel m
			op := gemmOp{m: 16, n: nc, k: 36, apack: s.wc.ak, c: s.q[r*16*nc : (r+1)*16*nc], ldc: nc, alpha: 1}
			bl.tileOffs(&op, s.p[r*nc:], s.offOut, i0, i1, p0, p1, buf)
		}
	}
	bl.bufs.put(buf)
}

// winoStoreTask writes output channels [lo, hi) of one image with
// winoStore.
type winoStoreTask struct {
	k          *Kernels
	g          *ConvGeom
	wg         *winoGeom
	q, y, z, b []float32
	f          *ConvFusion
	nc         int
}

// Range stores channels [lo, hi).
func (t *winoStoreTask) Range(lo, hi int) {
	for m := lo; m < hi; m++ {
		winoStore(t.k, t.g, t.wg, t.q[m*16*t.nc:(m+1)*16*t.nc], t.y, t.z, t.b, t.f, m)
	}
}

// winoStore writes output channel m from its transformed tiles qm (16
// rows of Ncol): y[m][oh][ow] = act(qm[(oh%4)·4 + ow%4][(oh/4)·Wq + ow/4]
// + bias[m] + Z[m][oh][ow]).
func winoStore(k *Kernels, g *ConvGeom, wg *winoGeom, qm, y, z, b []float32, f *ConvFusion, m int) {
	ohw := g.OH * g.OW
	ym := y[m*ohw : (m+1)*ohw]
	var bv float32
	if b != nil {
		bv = b[m]
	}
	for oh := range g.OH {
		row := ym[oh*g.OW : (oh+1)*g.OW]
		base := oh / 4 * wg.wq
		for s := range 4 {
			src := qm[(oh%4*4+s)*wg.ncol+base:]
			// y[oh][4·tw + s] = Q[(oh%4)·4 + s][(oh/4)·Wq + tw] + bias
			for tw, ow := 0, s; ow < g.OW; tw, ow = tw+1, ow+4 {
				row[ow] = src[tw] + bv
			}
		}
		if f.hasPost() {
			var zr []float32
			if z != nil {
				zr = z[m*ohw+oh*g.OW : m*ohw+(oh+1)*g.OW]
			}
			residualAct(k, row, zr, f.Act)
		}
	}
}
