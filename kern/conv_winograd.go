package kern

import (
	"math"
	"unsafe"
)

// Winograd F(4×4, 3×3) for 3×3, stride-1, undilated, ungrouped
// convolutions on the blocked tiers. The output is cut into 4×4 tiles; tile
// (th, tw) reads the 6×6 patch d of the padded input at rows 4·th.., columns
// 4·tw.., and
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// summed over input channels, with the matrices of the interpolation
// points 0, ±3/2, ±2/3 and ∞ (Toom-Cook: Aᵀ's columns are the points'
// powers, G's rows those over Π(p - q), Bᵀ's rows the coefficients of
// M(x)/(x - p) for M(x) = Π(x - q)):
//
//	Bᵀ = | 1    0   -97/36   0    1  0 |   G = |    1       0      0    |
//	     | 0  -2/3   -4/9   3/2   1  0 |       |  8/65   12/65  18/65   |
//	     | 0   2/3   -4/9  -3/2   1  0 |       |  8/65  -12/65  18/65   |
//	     | 0  -3/2   -9/4   2/3   1  0 |       | -81/130 -27/65 -18/65  |
//	     | 0   3/2   -9/4  -2/3   1  0 |       | -81/130  27/65 -18/65  |
//	     | 0    1     0   -97/36  0  1 |       |    0       0      1    |
//
//	Aᵀ = | 1   1     1     1     1    0 |
//	     | 0  3/2  -3/2   2/3  -2/3   0 |
//	     | 0  9/4   9/4   4/9   4/9   0 |
//	     | 0  27/8 -27/8  8/27 -8/27  1 |
//
// Lavin and Gray's points 0, ±1, ±2 (integer matrices, A's entries up to
// 8) make the 36 sums over the channels cancel more: their float32
// rounding, magnified by Aᵀ, left ResNet-50's output 2.2e-4 from PyTorch
// at 64×64 (ONNX Runtime 1.0e-4), 7 to 9 times a direct convolution's
// error on one tile of 256 channels; these points leave about twice its
// error (models/winograd_points.py's search over sets of small fractions;
// numpy, ReLU'd inputs, 64 and 256 channels: 8.8e-7 and 1.5e-6
// relative, against 2.1e-6 and 5.4e-6 with Lavin and Gray's, direct 5.3e-7
// and 7.8e-7). The transforms cost a few more operations (multiplications
// by constants that are not powers of 2).
//
// 36 products per tile and channel pair instead of 144, in three stages:
//
//  1. Input transform, per channel c and tile j = th·TW + tw: V[ξ][c][j] =
//     (Bᵀ d_j B)[ξ] with vector arithmetic over runs of tiles (winoIn;
//     WinoInKernel), d_j read from a padded copy of the channel (Hp×Wp,
//     made by phasePlanes with the prologue applied) at the tile's offset
//     4th·Wp + 4tw. The copy is the worker's, one channel at a time, so it
//     stays in the L1 cache between its making and its transform.
//  2. Products, per ξ: P[ξ][m][j] = Σ_c U[ξ][m][c]·V[ξ][c][j], U = G g Gᵀ
//     packed once per plan by packConv, on the micro-kernels, reading V in
//     place (tileOffs).
//  3. Output transform, per output channel m and tile j: Q[m][s][j] =
//     (Aᵀ P_j A)[s] (winoOut; WinoOutKernel), then y[m][4th + s/4][4tw +
//     s%4] = act(Q[m][s][j] + bias[m] + Z), skipping positions past the
//     output.
//
// The rows of V, P and Q hold the Ncol = TH·TW tiles, rounded up to Ncp, a
// multiple of 16, so that the transforms run on whole vectors; the tiles
// past Ncol repeat tile 0 and are dropped. A batch's images may go through
// the stages two at a time, image i's tiles from column i·Ncol of longer
// rows (winoGroup). Tiles that overhang an output whose sides are not
// multiples of 4 are stored through masks of their positions inside it
// (winoMask), where the tier has WinoStoreMask.

// winoBT, winoG and winoAT are the transform matrices above.
var (
	winoBT = [6][6]float64{
		{1, 0, -97.0 / 36, 0, 1, 0},
		{0, -2.0 / 3, -4.0 / 9, 3.0 / 2, 1, 0},
		{0, 2.0 / 3, -4.0 / 9, -3.0 / 2, 1, 0},
		{0, -3.0 / 2, -9.0 / 4, 2.0 / 3, 1, 0},
		{0, 3.0 / 2, -9.0 / 4, -2.0 / 3, 1, 0},
		{0, 1, 0, -97.0 / 36, 0, 1},
	}
	winoG = [6][3]float64{
		{1, 0, 0},
		{8.0 / 65, 12.0 / 65, 18.0 / 65},
		{8.0 / 65, -12.0 / 65, 18.0 / 65},
		{-81.0 / 130, -27.0 / 65, -18.0 / 65},
		{-81.0 / 130, 27.0 / 65, -18.0 / 65},
		{0, 0, 1},
	}
	winoAT = [4][6]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 3.0 / 2, -3.0 / 2, 2.0 / 3, -2.0 / 3, 0},
		{0, 9.0 / 4, 9.0 / 4, 4.0 / 9, 4.0 / 9, 0},
		{0, 27.0 / 8, -27.0 / 8, 8.0 / 27, -8.0 / 27, 1},
	}
)

// The transforms' constants in float32, each the nearest to its fraction
// (3/2, 9/4 and 27/8 exactly); the amd64 kernels use the same values.
const (
	wino32  = float32(3.0 / 2)
	wino23  = float32(2.0 / 3)
	wino94  = float32(9.0 / 4)
	wino49  = float32(4.0 / 9)
	wino278 = float32(27.0 / 8)
	wino827 = float32(8.0 / 27)
	wino97  = float32(97.0 / 36)
)

// winoGeom is a Winograd convolution's tiling.
type winoGeom struct {
	th, tw int       // tiles down and across
	ncol   int       // TH·TW
	ncp    int       // Ncol rounded up to winoLanes: the rows of V, P and Q
	ldv    int       // V's stride from one ξ to the next: C·Ncp + winoSkew
	ldp    int       // P's: M·Ncp + winoSkew
	pg     ConvGeom  // the padded input's geometry: Hp = 4·TH+2, Wp = 4·TW+2
	ph     phaseGeom // its layout, one phase of Hp×Wp per channel
}

// winoLanes is the widest vector the transforms run on; their runs of
// tiles are multiples of it.
const winoLanes = 16

// winoSkew pads the stride between the 36 matrices of V and of P by a
// cache line: the transforms touch one vector of each of them in turn, and
// with a stride that is a multiple of 4 KiB (C·Ncp often is) all 36 fall
// into one set of the L1 cache and evict each other.
const winoSkew = 16

func winoGeomOf(g *ConvGeom) winoGeom {
	th, tw := CeilDiv(g.OH, 4), CeilDiv(g.OW, 4)
	pg := *g
	// Patches reach 4·TH+2 rows and 4·TW+2 columns of padded input; the
	// rows and columns past the convolution's own padding are zeros too.
	pg.PadB = 4*th + 2 - g.H - g.PadT
	pg.PadR = 4*tw + 2 - g.W - g.PadL
	wg := winoGeom{th: th, tw: tw, pg: pg}
	wg.ncol = th * tw
	wg.ncp = CeilDiv(wg.ncol, winoLanes) * winoLanes
	wg.ldv, wg.ldp = g.C*wg.ncp+winoSkew, g.M*wg.ncp+winoSkew
	wg.ph = phasesOf(&pg)
	return wg
}

// winogradOK reports whether conv runs g with Winograd.
func (bl *blocked) winogradOK(g *ConvGeom) bool {
	if bl.Offs == nil || g.KH != 3 || g.KW != 3 || g.SH != 1 || g.SW != 1 ||
		g.DH != 1 || g.DW != 1 || g.Group != 1 || g.C < 8 || g.M < 8 {
		return false
	}
	if bl.pixNarrow(g) && bl.pixOK(g) {
		return false // the pixel-tile path's
	}
	if g.C < bl.WinogradMinC {
		return false
	}
	wg := winoGeomOf(g)
	if bl.WinogradMinCols <= 0 || wg.ncol < bl.WinogradMinCols || wg.pg.PadB < 0 || wg.pg.PadR < 0 {
		return false
	}
	// Offsets are int32: the largest is a channel's phase planes (stage
	// 1) or C·Ncp (stage 2); slices of V and P reach 36 strides.
	return int64(36)*int64(max(wg.ldv, wg.ldp))+int64(wg.ph.plane) < math.MaxInt32
}

// WinoInKernel is Winograd's input transform over n tiles (n a multiple
// of the kernel's lanes): for j < n, with d the 6×6 patch of a plane wp
// wide at tile j's offset, d[6a + b] = x[toff[j] + a·wp + b],
//
//	v[ξ·ldv + j] = (Bᵀ d B)[ξ]
//
// computed as winoInGo does, bit for bit for finite values: winoBT6 along
// each row of d, the results stored in v, then winoBT6 down each column.
//
// The kernel reads x[toff[j] + a·wp + b] for b < 8.
type WinoInKernel func(n int, x *float32, toff *int32, wp int, v *float32, ldv int)

// WinoInNTKernel is WinoInKernel, computing the same values, with v
// written by non-temporal stores (v and 4·ldv multiples of the vector's
// bytes) and the rows' results kept in t (36 vectors) until the columns'
// pass. It does not fence its stores: a worker runs the tier's StoreFence
// after its last call, before the loop's end hands V to other cores.
type WinoInNTKernel func(n int, x *float32, toff *int32, wp int, v *float32, ldv int, t *float32)

// WinoStoreKernel is Winograd's output transform and the convolution's
// epilogue over tiles j < n (n ≥ 1): with P[ξ] = p[ξ·ldp + j] and
// O = Aᵀ P A, for s, u < 4 and i = yoff[j] + s·ldy + u,
//
//	y[i] = max(lo, (O[s·4+u] + bias) + z[i])
//
// where the residual z may be nil and lo is 0 when relu is not 0 (NaN and
// -0 kept, as VMAXPS keeps them), -Inf otherwise. It computes as
// winoStoreGo does, bit for bit for finite values: winoAT6 along each row
// of P, then winoAT6 down each of the first four columns of the results.
// p is only read (up to n rounded up to the kernel's lanes), its lines
// fetched ahead of use: on two or more workers half of them come from the
// other core's cache, where the products left them. The row sums go to t,
// scratch of 24 vectors, not back over P, whose lines a core would then
// have to take from the other core's cache too.
type WinoStoreKernel func(n int, p *float32, ldp int, t *float32, y *float32, yoff *int32, ldy int, bias float32, z *float32, relu int)

// WinoStoreMaskKernel is WinoStoreKernel for tiles that may overhang the
// output's right or bottom edge: tile j's position (s, u) is read from z
// and stored to y only where bit 4s + u of ymask[j] is set, so that an
// output whose sides are not multiples of 4 is stored in place with its
// whole epilogue. It computes as winoStoreGo does with the masks.
type WinoStoreMaskKernel func(n int, p *float32, ldp int, t *float32, y *float32, yoff *int32, ymask *int32, ldy int, bias float32, z *float32, relu int)

// winoBT6 is Bᵀ·d for one 6-vector d, in this order of float32 operations
// (each product by a constant rounded before the sum it enters):
//
//	e1 = d4 - (4/9)·d2     o1 = (3/2)·d3 - (2/3)·d1
//	e3 = d4 - (9/4)·d2     o3 = (2/3)·d3 - (3/2)·d1
//	r0 = (d0 + d4) - (97/36)·d2    r1 = e1 + o1    r2 = e1 - o1
//	r3 = e3 + o3    r4 = e3 - o3   r5 = (d1 + d5) - (97/36)·d3
func winoBT6(d *[6]float32) (r [6]float32) {
	e1 := d[4] - float32(wino49*d[2])
	o1 := float32(wino32*d[3]) - float32(wino23*d[1])
	e3 := d[4] - float32(wino94*d[2])
	o3 := float32(wino23*d[3]) - float32(wino32*d[1])
	r[0] = (d[0] + d[4]) - float32(wino97*d[2])
	r[1], r[2] = e1+o1, e1-o1
	r[3], r[4] = e3+o3, e3-o3
	r[5] = (d[1] + d[5]) - float32(wino97*d[3])
	return r
}

// winoAT6 is Aᵀ·p for one 6-vector p, in this order of float32 operations
// (each product by a constant rounded before the sum it enters):
//
//	s12 = p1 + p2, d12 = p1 - p2, s34 = p3 + p4, d34 = p3 - p4
//	o0 = (p0 + s12) + s34        o1 = (3/2)·d12 + (2/3)·d34
//	o2 = (9/4)·s12 + (4/9)·s34   o3 = ((27/8)·d12 + (8/27)·d34) + p5
func winoAT6(p *[6]float32) (o [4]float32) {
	s12, d12 := p[1]+p[2], p[1]-p[2]
	s34, d34 := p[3]+p[4], p[3]-p[4]
	o[0] = (p[0] + s12) + s34
	o[1] = float32(wino32*d12) + float32(wino23*d34)
	o[2] = float32(wino94*s12) + float32(wino49*s34)
	o[3] = (float32(wino278*d12) + float32(wino827*d34)) + p[5]
	return o
}

// winoInGo is the portable WinoInKernel, on slices.
func winoInGo(n int, x []float32, toff []int32, wp int, v []float32, ldv int) {
	for j := range n {
		var d [6]float32
		for a := range 6 {
			copy(d[:], x[int(toff[j])+a*wp:])
			r := winoBT6(&d)
			for k := range 6 {
				v[(a*6+k)*ldv+j] = r[k]
			}
		}
		for k := range 6 {
			for a := range 6 {
				d[a] = v[(a*6+k)*ldv+j]
			}
			r := winoBT6(&d)
			for i := range 6 {
				v[(i*6+k)*ldv+j] = r[i]
			}
		}
	}
}

// winoStoreGo is the portable WinoStoreKernel and, with masks ymask
// (nil: every position), WinoStoreMaskKernel, on slices.
func winoStoreGo(n int, p []float32, ldp int, y []float32, yoff []int32, ymask []int32, ldy int, bias float32, z []float32, relu bool) {
	for j := range n {
		var d [6]float32
		var t [24]float32 // t[4r+u]: row r's sum u, then O[4s+u]
		for r := range 6 {
			for c := range 6 {
				d[c] = p[(r*6+c)*ldp+j]
			}
			o := winoAT6(&d)
			copy(t[4*r:4*r+4], o[:])
		}
		for u := range 4 {
			for r := range 6 {
				d[r] = t[4*r+u]
			}
			o := winoAT6(&d)
			for s := range 4 {
				t[4*s+u] = o[s]
			}
		}
		for s := range 4 {
			for u := range 4 {
				if ymask != nil && ymask[j]>>(4*s+u)&1 == 0 {
					continue // past the output
				}
				// y[i] = max(lo, (O + bias) + z[i])
				i := int(yoff[j]) + s*ldy + u
				v := t[4*s+u] + bias
				if z != nil {
					v += z[i]
				}
				if relu && 0 > v {
					v = 0 // NaN and -0 kept
				}
				y[i] = v
			}
		}
	}
}

// winoNTAligned reports whether WinoInNT can write V at v with rows ldv
// apart: v's first value and every row (4·ldv bytes apart) on a vector of
// lanes float32, channel c's at c·Ncp (a multiple of winoLanes) from it.
func winoNTAligned(v []float32, ldv, lanes int) bool {
	return len(v) > 0 && uintptr(unsafe.Pointer(&v[0]))%uintptr(4*lanes) == 0 && ldv%lanes == 0
}

// winoIn runs the tier's input transform on tiles toff[:n], n a multiple
// of winoLanes, hi the largest of toff[:n]; x must hold hi+5·wp+8 values
// and v 35·ldv+n. With a scratch t it writes v past the caches
// (WinoInNT; the caller has checked winoNTAligned).
func (bl *blocked) winoIn(n int, x []float32, toff []int32, hi, wp int, v []float32, ldv int, t *[36 * 16]float32) {
	if bl.WinoIn == nil {
		winoInGo(n, x, toff, wp, v, ldv)
		return
	}
	_, _ = x[hi+5*wp+7], v[35*ldv+n-1] // the kernel's reach
	if t != nil {
		bl.WinoInNT(n, &x[0], &toff[0], wp, &v[0], ldv, &t[0])
		return
	}
	bl.WinoIn(n, &x[0], &toff[0], wp, &v[0], ldv)
}

// winoStore runs the tier's output transform and store on tiles yoff[:n],
// through the masks ymask[:n] when not nil (the tier's WinoStoreMask); hi
// is the last value of y and z a tile's mask reaches (the largest of
// yoff[:n] + 3·ldy + 3 without masks), t the kernel's scratch; p must hold
// 35·ldp + Ncp values, y and z (when not nil) hi + 1.
func (bl *blocked) winoStore(n int, p []float32, ldp int, y []float32, yoff []int32, ymask []int32, hi, ldy int, bias float32, z []float32, relu bool, t *[36 * 16]float32) {
	if bl.WinoStore == nil {
		winoStoreGo(n, p, ldp, y, yoff, ymask, ldy, bias, z, relu)
		return
	}
	_, _ = p[35*ldp+CeilDiv(n, winoLanes)*winoLanes-1], y[hi] // the kernel's reach
	var zp *float32
	if z != nil {
		_ = z[hi]
		zp = &z[0]
	}
	r := 0
	if relu {
		r = 1
	}
	if ymask != nil {
		_ = ymask[n-1]
		bl.WinoStoreMask(n, &p[0], ldp, &t[0], &y[0], &yoff[0], &ymask[0], ldy, bias, zp, r)
		return
	}
	bl.WinoStore(n, &p[0], ldp, &t[0], &y[0], &yoff[0], ldy, bias, zp, r)
}

// winoFused reports whether Winograd's output stage applies f's whole
// epilogue as it stores the tiles: no activation after the residual but
// a Relu.
func winoFused(f *ConvFusion) bool {
	return !f.hasPost() || f.Act.Kind == ActRelu || f.Act.Kind == ActNone
}

// winoOverhangs reports whether g's last tiles overhang its output: a side
// that is not a multiple of 4.
func winoOverhangs(g *ConvGeom) bool { return g.OH%4 != 0 || g.OW%4 != 0 }

// winoMask returns the mask of output positions (bit 4s + u for row s,
// column u) of the tile at output row oh, column ow that lie inside an
// h × w plane.
func winoMask(oh, ow, h, w int) uint16 {
	var m uint16
	for s := range min(4, h-oh) {
		for u := range min(4, w-ow) {
			m |= 1 << (4*s + u)
		}
	}
	return m
}

// winoWeights returns U = G g Gᵀ for every output and input channel,
// packed per ξ: 36 consecutive matrices of M×C, each as packMatrix packs.
// It makes one row r of G g at a time (three values per channel pair, in
// float64) and from it the six matrices U[6r + s], each packed as it is
// made, so that what it holds besides the result is a fifth of it
// (fcn_resnet50's 3×3 head on 2048 channels: U 151 MB, which a whole
// unpacked copy doubled while the model opened).
func (bl *blocked) winoWeights(g *ConvGeom, w []float32) []float32 {
	return bl.winoWeightsInto(make([]float32, bl.winoPackLen(g)), g, w)
}

// winoPackLen is the length of winoWeights's result.
func (bl *blocked) winoPackLen(g *ConvGeom) int { return 36 * bl.padRows(g.M) * g.C }

// winoWeightsInto is winoWeights into out (of winoPackLen values), which
// it returns.
func (bl *blocked) winoWeightsInto(out []float32, g *ConvGeom, w []float32) []float32 {
	m, c := g.M, g.C
	n := bl.padRows(m) * c
	t := make([]float64, 3*m*c) // row r of G·g for each channel pair
	u := make([]float32, m*c)   // U[6r + s]
	for r := range 6 {
		// t = (G·g)[r], q for each column of g
		for k := range m * c {
			gk := w[k*9 : k*9+9]
			for q := range 3 {
				var v float64
				for p := range 3 {
					v += winoG[r][p] * float64(gk[p*3+q])
				}
				t[k*3+q] = v
			}
		}
		for s := range 6 {
			// U[6r + s] = t·Gᵀ[s]
			for k := range m * c {
				var v float64
				for q := range 3 {
					v += t[k*3+q] * winoG[s][q]
				}
				u[k] = float32(v)
			}
			xi := r*6 + s
			bl.packMatrixInto(out[xi*n:(xi+1)*n], u, m, c)
		}
	}
	return out
}

// convWinograd is blocked.conv for geometries winogradOK accepts.
func (bl *blocked) convWinograd(env *Env, g *ConvGeom, x, w, b, y []float32, f *ConvFusion) {
	wg := winoGeomOf(g)
	var kern *Tier
	var upack []float32
	if env != nil {
		kern, upack = env.K, env.PackedW
	}
	if upack == nil {
		upack = bl.winoWeights(g, w) // weights that are not constants
	}
	par := ParOf(env)
	pw := bl.Widths[0]
	mp := bl.padRows(g.M)
	nc, ncp := wg.ncol, wg.ncp

	sc := bl.scratch.Get(hintOf(env))
	defer bl.scratch.Put(hintOf(env), sc)
	// Tiles are stored in place, those that overhang the output through
	// masks, with the whole epilogue but an activation other than Relu,
	// which is applied row by row after the store. (Through a 4·TH × 4·TW
	// plane per channel, then compacted and finished row by row, ResNet-34's
	// eleven 256 → 256 layers at 14×14 took 1430 µs a Run in their output
	// stages on one thread, 1090 on two; masked, 470-490 and 390-450, Zen 5.)
	masked := winoOverhangs(g)
	fused := winoFused(f)
	if parts := winoParts(g, &wg, fused, par.Workers(), sharedCache(par)); parts > 1 {
		bl.convWinogradParts(env, kern, upack, g, wg, x, b, y, f, sc, parts)
		return
	}
	// The images go through the stages gi at a time, image i's tiles
	// the columns i·Ncol.. of rows ldr apart (see winoGroup).
	gi, ldr := winoGroup(g, &wg)
	wg.ldv, wg.ldp = g.C*ldr+winoSkew, g.M*ldr+winoSkew
	v := sc.yp.Grow(36 * wg.ldv)
	p := sc.wp.Grow(36 * wg.ldp)
	ldy := g.OW
	offs := bl.tables.get(offsetKey{path: offsWino, g: *g, a: ldr}, 3*ncp+g.C, func(t []int32) {
		toff, yoff, ymask, offMid := t[:ncp], t[ncp:2*ncp], t[2*ncp:3*ncp], t[3*ncp:]
		// Stage 1 reads tile j = th·TW + tw at 4th·Wp + 4tw of a channel's
		// plane (tiles past Ncol at tile 0's); stage 2 reads row c of V[ξ];
		// stage 3 stores the tile at 4th·ldy + 4tw, through the mask of
		// its positions inside the output when masked.
		for j := range nc {
			toff[j] = int32(j/wg.tw*4*wg.ph.wq + j%wg.tw*4)
			yoff[j] = int32(j/wg.tw*4*ldy + j%wg.tw*4)
			ymask[j] = int32(winoMask(j/wg.tw*4, j%wg.tw*4, g.OH, g.OW))
		}
		for c := range g.C {
			offMid[c] = int32(c * ldr)
		}
	})
	toff, yoff, offMid := offs[:ncp], offs[ncp:2*ncp], offs[3*ncp:]
	var ymask []int32
	yoffHi := int(yoff[nc-1]) + 3*ldy + 3 // the offsets grow with j
	if masked {
		ymask, yoffHi = offs[2*ncp:3*ncp], g.OH*g.OW-1
	}

	st := TaskOf[winoTask](env)
	*st = winoTask{bl: bl, k: kern, g: g, f: f, b: b, fused: fused, v: v, p: p, upack: upack,
		toff: toff, yoff: yoff, ymask: ymask, offMid: offMid, ldy: ldy,
		toffHi: int(toff[nc-1]), yoffHi: yoffHi,
		plane: wg.ph.plane, c: g.C, m: g.M, mp: mp, nc: nc, ncp: ncp, ldr: ldr, wg: wg, workers: par.Workers(),
		claim: fused && claimConv(par.Workers(), x, y, f), hint: hintOf(env)}
	chw, mhw := g.C*g.H*g.W, g.M*g.OH*g.OW
	for n := 0; n < g.N; n += gi {
		st.gn = min(gi, g.N-n) // the images of this group
		// Stage 1: V[ξ][c][i·Ncol + j] = (Bᵀ d B)[ξ] of image n+i, units of
		// channels
		st.stage = 1
		st.x = x[n*chw : (n+st.gn)*chw]
		par.Do(g.C, st)
		// Stage 2: P[ξ][m][j] = Σ_c U[ξ][m][c]·V[ξ][c][j] over the group's
		// tiles
		st.stage, st.t = 2, tilingFor(36, g.M, CeilDiv(st.gn*nc, pw), g.C, par.Workers(), pw, bl.MR, bl.mc)
		par.Do(st.t.all, st)
		// Stage 3: y[m] from (Aᵀ P A) and the epilogue, units of output
		// channels.
		st.stage = 3
		st.y = y[n*mhw : (n+st.gn)*mhw]
		st.z = nil
		if f.hasPost() && f.Residual != nil {
			st.z = f.Residual[n*mhw : (n+st.gn)*mhw]
		}
		par.Do(g.M, st)
	}
	*st = winoTask{}
}

// winoGroupTiles is the most tiles convWinograd takes through its stages
// at once: the images of a batch whose planes have fewer tiles go
// together (ResNet's 14×14 layers, 16 tiles an image, in pairs), so that
// the products read the weights U once for the group, not once an image,
// and run on wider panels. U is 4 times the weights (36 values a channel
// pair for 9): a 256 → 256 layer's 9.4 MB at 14×14, which the products of
// one image's 16 tiles read from memory at about the rate they use it.
// BenchmarkWinogradBatch, that layer at batch 8 (Zen 5), µs an image: one
// worker 619-629 alone, 538-554 in pairs, 543-563 in threes, 599 in
// fours, 614-620 in eights (V and P then leave the L2 cache); two workers
// 469-492, 366-381, 363-376, 372-390, 345-364.
const winoGroupTiles = 32

// winoGroupMinU is the fewest bytes of U for which images are grouped:
// smaller, U stays in the caches from one image to the next (DenseNet's
// 128 → 32 layers at 14×14, 590 KB: batch 8 on two threads 1.01-1.02 of
// the time alone in pairs).
const winoGroupMinU = 1 << 20

// winoGroupBytes bounds the group's V and P together (float32 values of
// 36 matrices), beyond what one image needs.
const winoGroupBytes = 12 << 20

// winoGroup returns how many images convWinograd takes through its
// stages together, gi, and the stride ldr of the rows of V, P and Q, which
// hold the group's tiles, image i's at columns i·Ncol.. (the transforms of
// an image write up to Ncp columns from there, the next image's first,
// which that one then writes over, so ldr leaves room for the last one's).
// Groups of one image have rows of Ncp; convolutions whose U is smaller
// than winoGroupMinU take images one at a time.
func winoGroup(g *ConvGeom, wg *winoGeom) (gi, ldr int) {
	cols := func(gi int) int { return CeilDiv((gi-1)*wg.ncol+wg.ncp, winoLanes) * winoLanes }
	if int64(36*4)*int64(g.M)*int64(g.C) < winoGroupMinU {
		return 1, cols(1)
	}
	gi = max(1, min(g.N, winoGroupTiles/wg.ncol))
	for gi > 1 && (int64(36*4*(g.C+g.M))*int64(cols(gi)) > winoGroupBytes ||
		int64(36)*int64(max(g.C, g.M)*cols(gi)+winoSkew) >= math.MaxInt32) {
		gi--
	}
	return gi, cols(gi)
}

// winoTask is one of convWinograd's three stages on a group of gn images
// (winoGroup): stage 1 makes V from the images x over units of input
// channels, stage 2 P from U and V over the units of t, stage 3 the
// outputs from P (store) over units of output channels.
type winoTask struct {
	bl                            *blocked
	k                             *Tier
	g                             *ConvGeom
	f                             *ConvFusion
	stage                         int
	t                             tiling
	x, v, p, upack, b, y, z       []float32
	toff, yoff, ymask, offMid     []int32
	toffHi, yoffHi                int // the largest of toff, the last of y a tile reaches
	plane, c, m, mp, nc, ncp, ldy int
	ldr                           int      // the rows of V[ξ], P[ξ]: the group's tiles (winoGroup)
	gn                            int      // the images of the current group
	fused                         bool     // stage 3 applies the whole epilogue
	wg                            winoGeom // the call's geometry, which phaseTask points to
	workers                       int      // the loops' (stage 1 writes V past the caches on two or more)
	claim                         bool     // stage 3 clears each output plane first (ClaimLines)
	hint                          int      // the scratch lists' (Env.Hint)
}

// Range computes units [lo, hi) of the current stage.
func (s *winoTask) Range(lo, hi int) {
	bl, ncp := s.bl, s.ncp
	switch s.stage {
	case 1:
		// The patches read 8 values of each row, 2 past the plane.
		buf := bl.bufs.Get(s.hint)
		xq := buf.phase.Grow(s.plane + 8)
		clear(xq[s.plane:])
		hw := s.g.H * s.g.W
		// On two or more workers V goes past the caches (WinoInNT): half
		// of the lines a worker writes here were read by another in
		// stage 2 of the Winograd layer before (V is the call's scratch,
		// reused by every layer), and a core writes such a line only
		// once the other's copy is gone. With the two vCPUs of a Zen 5 VM
		// on two dies that took about 10 ns a line, streamed to memory
		// 1.5 (stage 2 then reads V from memory): two threads, alternating
		// in one process, ResNet-18 0.96-0.99 of its time, ResNet-34
		// 0.97-0.99, ResNet-50 0.99-1.00; on AVX2 0.99-1.01. The values
		// are WinoIn's.
		var nt *[36 * 16]float32
		if s.workers > 1 && bl.WinoInNT != nil && bl.StoreFence != nil && winoNTAligned(s.v, s.wg.ldv, bl.Lanes) {
			nt = &buf.wt
		}
		// Image i's transforms write Ncp columns from i·Ncol, past which
		// image i+1's then write over what spills: in place, not past the
		// caches, unless Ncol is whole vectors.
		if s.gn > 1 && s.nc%bl.Lanes != 0 {
			nt = nil
		}
		for c := lo; c < hi; c++ {
			for i := range s.gn {
				xc := s.x[(i*s.c+c)*hw : (i*s.c+c+1)*hw]
				phasePlanes(s.k, xq[:s.plane], xc, &s.wg.pg, s.wg.ph, s.f, c)
				bl.winoIn(ncp, xq, s.toff, s.toffHi, s.wg.ph.wq, s.v[c*s.ldr+i*s.nc:], s.wg.ldv, nt)
			}
		}
		// One fence for the chunk, not one a channel: at 14×14 a
		// channel is one vector of tiles, and each call waited for its
		// stores to reach memory (ResNet-18's stage 1 at 14×14 on two
		// threads: 221 → 129 µs a Run; the network 0.987 of its time,
		// ResNet-50 0.998).
		if nt != nil {
			bl.StoreFence()
		}
		bl.bufs.Put(s.hint, buf)
		return
	case 3:
		buf := bl.bufs.Get(s.hint)
		for m := lo; m < hi; m++ {
			for i := range s.gn {
				s.store(m, i, &buf.wt)
			}
		}
		bl.bufs.Put(s.hint, buf)
		return
	}
	buf := bl.bufs.Get(s.hint)
	for u := lo; u < hi; u++ {
		r, i0, i1, p0, p1 := s.t.unit(u) // r is an element ξ
		op := gemmOp{m: s.m, n: s.gn * s.nc, k: s.c, apack: s.upack[r*s.mp*s.c : (r+1)*s.mp*s.c],
			c: s.p[r*s.wg.ldp : r*s.wg.ldp+s.m*s.ldr], ldc: s.ldr, alpha: 1}
		bl.tileOffs(&op, s.v[r*s.wg.ldv:], s.offMid, i0, i1, p0, p1, buf, false)
	}
	bl.bufs.Put(s.hint, buf)
}

// store writes output channel m of stage 3: y[m][oh][ow] =
// act(O[m][(oh%4)·4 + ow%4][(oh/4)·TW + ow/4] + bias[m] + Z[m][oh][ow]),
// O = Aᵀ P A.
func (s *winoTask) store(m, i int, t *[36 * 16]float32) {
	g, f := s.g, s.f
	ohw := g.OH * g.OW
	ym := s.y[(i*s.m+m)*ohw : (i*s.m+m+1)*ohw]
	var z []float32
	if s.z != nil {
		z = s.z[i*s.m*ohw : (i+1)*s.m*ohw]
	}
	bias, zm := channelBiasResid(s.b, z, m, ohw)
	p := s.p[m*s.ldr+i*s.nc:]
	if s.claim {
		ClaimLines(ym)
	}
	if s.fused {
		s.bl.winoStore(s.nc, p, s.wg.ldp, ym, s.yoff, s.ymask, s.yoffHi, s.ldy, bias, zm, f.hasPost() && f.Act.Kind == ActRelu, t)
		return
	}
	s.bl.winoStore(s.nc, p, s.wg.ldp, ym, s.yoff, s.ymask, s.yoffHi, s.ldy, bias, nil, false, t)
	if !f.hasPost() {
		return
	}
	for oh := range g.OH {
		var zr []float32
		if zm != nil {
			zr = zm[oh*g.OW : (oh+1)*g.OW]
		}
		residualAct(s.k, ym[oh*g.OW:(oh+1)*g.OW], zr, f.Act)
	}
}

// winoPartMinVecs is the fewest vectors of tiles (winoLanes each) a part
// of convWinogradParts gets: fewer, and the products' panels and the
// transforms' vectors run mostly empty.
const winoPartMinVecs = 2

// winoParts returns how many parts convWinogradParts cuts the tiles of a
// convolution into for workers, or 1 where it does not apply: one worker,
// an output that is not stored tile by tile with its whole epilogue
// (fused), too few tiles for two parts of winoPartMinVecs vectors, weights
// U larger than V (M above Ncp), or, where the workers do not share a
// cache, one image or fewer than twice as many input channels as output
// channels.
//
// The parts pay where the transformed input V (36·C·Ncp values) is most
// of the data the three-stage split hands from one core to another and
// the weights U (36·M·C), which every part reads whole, are few:
// DenseNet's 128 → 32 channel layers, two workers, in the network (Zen 5,
// alternating runs): 563 → 529 µs at 56×56, 208 → 181 at 28×28. Where M
// is C (ResNet's 64 → 64 at 56×56, 128 → 128 at 28×28) they measured 6
// and 13 % slower, and the three-stage split stays; so it does where U
// outweighs V: fcn_resnet50's head (2048 → 512 at 28×28, U 151 MB, which
// each part read whole from memory), the network 0.95-0.96 of its time.
// For one image the three-stage split now pays (its input transform's
// stores past the caches, its output planes cleared first): with the
// two vCPUs on two dies (a line's round trip 516 ns), two threads,
// alternating, DenseNet-121 0.961-0.981 of its time without the parts,
// DenseNet-169 0.966-0.969 (the 56×56 layers most); at batch 8
// DenseNet-121 1.00-1.01, so batches keep them. With the workers behind
// one cache (shared), one image takes them too: on a 2-core Zen 4 whose
// host moved its vCPUs between one cache and two, DenseNet-121 on two
// threads, the two splits alternating, 0.975-0.979 of its time with the
// parts behind one (a line's round trip 59-65 ns) and 1.01-1.025 behind
// two (338-357 ns). There the C = M layers (ResNet's 64 → 64 at 56×56;
// larger ones have U above V) take them too behind one cache: ResNet-18
// 0.985-0.997 of its time on two threads (one round 1.015), ResNet-34
// 0.986-0.997, ResNet-50 0.991-0.997, batch 8 0.997-1.006; behind two
// ResNet-18 was 1.01-1.03 slower with them (ResNet-50 0.99).
func winoParts(g *ConvGeom, wg *winoGeom, fused bool, workers int, shared bool) int {
	if !fused || workers < 2 || g.M > wg.ncp || !shared && (g.N < 2 || g.C < 2*g.M) {
		return 1
	}
	return max(1, min(workers, wg.ncp/winoLanes/winoPartMinVecs))
}

// convWinogradParts is convWinograd on several workers with the tiles cut
// into parts, one contiguous run of whole vectors of tiles per worker,
// each part taken through all three stages by the worker that holds it:
// its input transform over every channel (from a padded copy of the rows
// its tiles read), its 36 products and its output transform and store.
// Every V and P a worker writes is read by it alone, so none moves from
// one core's cache to another's between the stages, and no stage waits
// for the others' workers (the three-stage split over channels does both,
// which makes two workers slower than one on the stages that only move
// data). A part's tiles are the same for every layer of an output size,
// so a worker reads mostly the rows its part of the layer before wrote.
// Every tile's arithmetic is the three-stage split's, so results are the
// same bit for bit.
func (bl *blocked) convWinogradParts(env *Env, kern *Tier, upack []float32, g *ConvGeom, wg winoGeom, x, b, y []float32, f *ConvFusion, sc *bigBufs, parts int) {
	nvec := wg.ncp / winoLanes
	// Each part's V[ξ] and P[ξ] rows hold ncq tiles: the largest part's.
	ncq := CeilDiv(nvec, parts) * winoLanes
	ldv, ldp := g.C*ncq+winoSkew, g.M*ncq+winoSkew
	st := TaskOf[winoPartTask](env)
	*st = winoPartTask{bl: bl, k: kern, g: g, wg: wg, f: f, b: b, upack: upack,
		v: sc.yp.Grow(parts * 36 * ldv), p: sc.wp.Grow(parts * 36 * ldp),
		ldv: ldv, ldp: ldp, ncq: ncq, nvec: nvec, parts: parts, mp: bl.padRows(g.M), hint: hintOf(env)}
	offs := bl.tables.get(offsetKey{path: offsWinoParts, g: *g, a: parts}, 3*wg.ncp+g.C, func(t []int32) {
		toff, yoff, ymask, offMid := t[:wg.ncp], t[wg.ncp:2*wg.ncp], t[2*wg.ncp:3*wg.ncp], t[3*wg.ncp:]
		// toff[j]: tile j's offset in its part's copy of padded rows
		// (tiles past Ncol: 0, the copy's first patch); yoff[j]: its
		// offset in the output plane, ymask[j] the mask of its positions
		// inside it; offMid[c]: row c of a part's V[ξ].
		for q := range parts {
			j0, j1 := st.part(q)
			r0 := j0 / wg.tw
			for j := j0; j < j1; j++ {
				toff[j] = int32((j/wg.tw-r0)*4*wg.ph.wq + j%wg.tw*4)
			}
		}
		for j := range wg.ncol {
			yoff[j] = int32(j/wg.tw*4*g.OW + j%wg.tw*4)
			ymask[j] = int32(winoMask(j/wg.tw*4, j%wg.tw*4, g.OH, g.OW))
		}
		for c := range g.C {
			offMid[c] = int32(c * ncq)
		}
	})
	st.toff, st.yoff, st.offMid = offs[:wg.ncp], offs[wg.ncp:2*wg.ncp], offs[3*wg.ncp:]
	if winoOverhangs(g) {
		st.ymask = offs[2*wg.ncp : 3*wg.ncp]
	}
	relu := f.hasPost() && f.Act.Kind == ActRelu
	st.relu = relu
	st.claim = claimConv(ParOf(env).Workers(), x, y, f)
	chw, mhw := g.C*g.H*g.W, g.M*g.OH*g.OW
	for n := range g.N {
		st.x, st.y, st.z = x[n*chw:(n+1)*chw], y[n*mhw:(n+1)*mhw], nil
		if f.hasPost() && f.Residual != nil {
			st.z = f.Residual[n*mhw : (n+1)*mhw]
		}
		ParOf(env).Do(parts, st)
	}
	*st = winoPartTask{}
}

// winoPartTask runs parts of convWinogradParts.
type winoPartTask struct {
	bl                 *blocked
	k                  *Tier
	g                  *ConvGeom
	wg                 winoGeom // the call's geometry (a copy: a pointer would move it to the heap)
	f                  *ConvFusion
	x, y, z, b, upack  []float32
	v, p               []float32 // parts·36 matrices each: part q's V[ξ] at (36q + ξ)·ldv
	toff, yoff, offMid []int32
	ymask              []int32 // the tiles' masks where the output's sides are not multiples of 4
	ldv, ldp, ncq      int
	nvec, parts, mp    int
	relu               bool
	claim              bool // stage 3 clears the rows a part alone writes (claimRows)
	hint               int  // the scratch lists' (Env.Hint)
}

// part returns the tiles [j0, j1) of part q: vectors q·nvec/parts on.
func (s *winoPartTask) part(q int) (j0, j1 int) {
	v0, v1 := q*s.nvec/s.parts, (q+1)*s.nvec/s.parts
	return v0 * winoLanes, min(s.wg.ncol, v1*winoLanes)
}

// Range runs parts [lo, hi).
func (s *winoPartTask) Range(lo, hi int) {
	for q := lo; q < hi; q++ {
		s.run(q)
	}
}

// run takes part q through the three stages.
func (s *winoPartTask) run(q int) {
	bl, g, wg := s.bl, s.g, &s.wg
	j0, j1 := s.part(q)
	n := j1 - j0
	nv := CeilDiv(n, winoLanes) * winoLanes
	v := s.v[36*q*s.ldv : 36*(q+1)*s.ldv]
	p := s.p[36*q*s.ldp : 36*(q+1)*s.ldp]
	buf := bl.bufs.Get(s.hint)
	defer bl.bufs.Put(s.hint, buf)

	// Stage 1: V[ξ][c][j] = (Bᵀ d_j B)[ξ] for the part's tiles, d_j read
	// from a copy of the padded rows [4·r0, 4·r1 + 6) of channel c, the
	// tile rows r0..r1 its tiles lie in.
	r0, r1 := j0/wg.tw, (j1-1)/wg.tw
	pg := &wg.pg
	lo, hi := 4*r0, 4*r1+6 // padded rows
	ih0 := min(pg.H, max(0, lo-pg.PadT))
	ih1 := max(ih0, min(pg.H, hi-pg.PadT))
	bg := *pg
	bg.PadT = max(0, pg.PadT-lo)
	bg.H = ih1 - ih0
	bg.PadB = hi - lo - bg.PadT - bg.H
	bph := phaseGeom{hq: hi - lo, wq: wg.ph.wq, plane: (hi - lo) * wg.ph.wq}
	xq := buf.phase.Grow(bph.plane + 8)
	clear(xq[bph.plane:]) // the patches read 8 values of each row, 2 past the plane
	toff := s.toff[j0 : j0+nv]
	toffHi := int(s.toff[j1-1])
	hw := g.H * g.W
	for c := range g.C {
		phasePlanes(s.k, xq[:bph.plane], s.x[c*hw+ih0*g.W:c*hw+ih1*g.W], &bg, bph, s.f, c)
		bl.winoIn(nv, xq, toff, toffHi, bph.wq, v[c*s.ncq:], s.ldv, nil)
	}

	// Stage 2: P[ξ][m][j] = Σ_c U[ξ][m][c]·V[ξ][c][j]
	pw := bl.Widths[0]
	panels := CeilDiv(n, pw)
	for r := range 36 {
		op := gemmOp{m: g.M, n: n, k: g.C, apack: s.upack[r*s.mp*g.C : (r+1)*s.mp*g.C],
			c: p[r*s.ldp : r*s.ldp+g.M*s.ncq], ldc: s.ncq, alpha: 1}
		for i0 := 0; i0 < g.M; i0 += bl.mc {
			bl.tileOffs(&op, v[r*s.ldv:], s.offMid, i0, min(g.M, i0+bl.mc), 0, panels, buf, false)
		}
	}

	// Stage 3: y[m] = act(Aᵀ P A + bias[m] + Z[m]) on the part's tiles,
	// the rows of the tile rows that are the part's alone cleared first
	// (claimRows).
	ohw := g.OH * g.OW
	yoff := s.yoff[j0:j1]
	yoffHi := int(s.yoff[j1-1]) + 3*g.OW + 3
	var ymask []int32
	if s.ymask != nil {
		ymask, yoffHi = s.ymask[j0:j1], ohw-1
	}
	ra, rb := 0, 0
	if s.claim {
		ra, rb = s.claimRows(j0, j1)
	}
	for m := range g.M {
		bias, zm := channelBiasResid(s.b, s.z, m, ohw)
		if rb > ra {
			ClaimLines(s.y[m*ohw+ra*g.OW : m*ohw+rb*g.OW])
		}
		bl.winoStore(n, p[m*s.ncq:], s.ldp, s.y[m*ohw:(m+1)*ohw], yoff, ymask, yoffHi, g.OW, bias, zm, s.relu, &buf.wt)
	}
}

// claimRows returns the output rows [ra, rb) that only tiles [j0, j1)
// write: those of the whole tile rows among them (a part's first and last
// tile rows may be shared with its neighbours'). Stage 3 of a part clears
// them in each output plane before storing (ClaimLines): the lines were
// last read on the other core, by the layers after this one in the Run
// before, and a store to such a line waits for the other core's copy to
// go, where clearing with a string store does not. Two threads (Zen 5):
// DenseNet-121's eighteen 128 → 32 layers' output stages 1128-1157 →
// 802-825 µs a Run (both workers' time); alternating runs, DenseNet-121
// 0.985 (0.96-1.03) of its time, DenseNet-169 0.985-0.994.
func (s *winoPartTask) claimRows(j0, j1 int) (ra, rb int) {
	tw := s.wg.tw
	fa, fb := CeilDiv(j0, tw), j1/tw // the whole tile rows [fa, fb)
	if fb <= fa {
		return 0, 0
	}
	return 4 * fa, min(s.g.OH, 4*fb)
}

// channelBiasResid returns output channel m's bias (0 when b is nil) and
// its plane of ohw values of the residual z (nil when z is).
func channelBiasResid(b, z []float32, m, ohw int) (float32, []float32) {
	var bias float32
	if b != nil {
		bias = b[m]
	}
	if z == nil {
		return bias, nil
	}
	return bias, z[m*ohw : (m+1)*ohw]
}
