package kern

import (
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// TestPhaseRowsMatchDefinition checks phaseRows, whole and in bands of
// rows, on every tier's Pick2 against the phase planes' definition (see
// phasePlanes): for each phase (a, b) a tap reads,
//
//	dst[(a·SW + b)·Hq·Wq + i·Wq + j] = x'[i·SH + a - PadT][j·SW + b - PadL]
//
// and 0 outside x, x' being x through the prologue when there is one;
// phases no tap reads are left as they were. Strides 1 to 5, windows of 1
// to 7 rows, dilations, uneven pads and odd sizes.
func TestPhaseRowsMatchDefinition(t *testing.T) {
	const sentinel = float32(-7.5)
	for _, name := range []string{"ref", "generic", "avx2", "avx512"} {
		k := TierByName(name)
		if k == nil {
			continue
		}
		for ci, cs := range []struct{ h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int }{
			{17, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
			{23, 21, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},
			{9, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
			{11, 10, 3, 2, 3, 2, 1, 1, 2, 0, 1, 2},
			{15, 15, 3, 3, 2, 3, 2, 2, 2, 1, 0, 2},
			{8, 9, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},
			{10, 7, 2, 3, 2, 1, 2, 1, 0, 1, 1, 0},
			{26, 23, 5, 5, 5, 4, 1, 1, 2, 2, 2, 2}, // 20 phases: more than phaseRows takes row by row
		} {
			g := ConvGeom{N: 1, C: 2, H: cs.h, W: cs.w, M: 1, KH: cs.kh, KW: cs.kw, SH: cs.sh, SW: cs.sw,
				DH: cs.dh, DW: cs.dw, PadT: cs.pt, PadL: cs.pl, PadB: cs.pb, PadR: cs.pr, Group: 1}
			g.OH = (cs.h+cs.pt+cs.pb-cs.dh*(cs.kh-1)-1)/cs.sh + 1
			g.OW = (cs.w+cs.pl+cs.pr-cs.dw*(cs.kw-1)-1)/cs.sw + 1
			ph := phasesOf(&g)
			x := kerntest.Rand(uint64(ci), g.C*g.H*g.W)
			for _, pre := range []bool{false, true} {
				var f *ConvFusion
				if pre {
					f = &ConvFusion{PreScale: []float32{0.5, -1.25}, PreBias: []float32{0.25, 0.125}, PreAct: Activation{Kind: ActRelu}}
				}
				for _, bands := range []int{1, 3} {
					dst := make([]float32, g.C*ph.plane)
					for i := range dst {
						dst[i] = sentinel
					}
					for c := range g.C {
						for b := range bands {
							i0, i1 := b*ph.hq/bands, (b+1)*ph.hq/bands
							phaseRows(k, dst[c*ph.plane:(c+1)*ph.plane], x[c*g.H*g.W:(c+1)*g.H*g.W], &g, ph, f, c, i0, i1)
						}
					}
					want := phaseDefinition(&g, ph, x, f, sentinel)
					for i := range want {
						if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s case %d pre=%v bands=%d: dst[%d] = %v, want %v", name, ci, pre, bands, i, dst[i], want[i])
						}
					}
				}
			}
		}
	}
}

// phaseDefinition computes the phase copy of x's planes from its
// definition, one value at a time (see TestPhaseRowsMatchDefinition).
func phaseDefinition(g *ConvGeom, ph phaseGeom, x []float32, f *ConvFusion, untouched float32) []float32 {
	want := make([]float32, g.C*ph.plane)
	for c := range g.C {
		for a := range g.SH {
			for b := range g.SW {
				hit := tapHits(a, g.SH, g.KH, g.DH) && tapHits(b, g.SW, g.KW, g.DW)
				if g.KH == 1 && g.KW == 1 && (a > 0 || b > 0) {
					continue // a 1×1 window's copy is phase (0, 0) alone
				}
				for i := range ph.hq {
					for j := range ph.wq {
						o := c*ph.plane + ((a*g.SW+b)*ph.hq+i)*ph.wq + j
						if !hit {
							want[o] = untouched
							continue
						}
						ih, iw := i*g.SH+a-g.PadT, j*g.SW+b-g.PadL
						v := float32(0)
						if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
							v = x[(c*g.H+ih)*g.W+iw]
							switch {
							case f.hasPre() && g.SW <= 2:
								// as AffineRow: the product rounded, then the sum
								v = f.PreAct.One(float32(v*f.PreScale[c]) + f.PreBias[c])
							case f.hasPre():
								// as ConvFusion.pre (a fused multiply-add where Go fuses)
								v = f.pre(c, v)
							}
						}
						want[o] = v
					}
				}
			}
		}
	}
	return want
}
