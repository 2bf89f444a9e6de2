package kern

import (
	"fmt"
	"math"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// packedGeoms are convolutions that take every path of the blocked tiers:
// depthwise (8-channel blocks and the window kernel), matrix-vector,
// Winograd, pixel tiles (plain, pixel-major, 8-channel blocks), in place
// (packed and not) and im2col tiles, grouped, strided and dilated, at
// batch 1 and 3.
func packedGeoms() []ConvGeom {
	geom := func(n, c, m, h, w, k, s, d, p, group int) ConvGeom {
		oh := (h+2*p-d*(k-1)-1)/s + 1
		ow := (w+2*p-d*(k-1)-1)/s + 1
		return ConvGeom{N: n, C: c, H: h, W: w, M: m, KH: k, KW: k, OH: oh, OW: ow,
			PadT: p, PadL: p, PadB: p, PadR: p, SH: s, SW: s, DH: d, DW: d, Group: group}
	}
	gs := []ConvGeom{
		geom(1, 16, 16, 9, 9, 3, 1, 1, 1, 16),   // depthwise
		geom(1, 16, 16, 5, 5, 3, 1, 1, 1, 16),   // depthwise, a small plane
		geom(1, 8, 8, 40, 40, 3, 2, 1, 1, 8),    // depthwise, a larger plane
		geom(1, 5, 5, 2, 3, 3, 3, 1, 40, 5),     // depthwise, huge padding
		geom(1, 70, 33, 1, 1, 1, 1, 1, 0, 1),    // 1×1 plane
		geom(1, 20, 18, 30, 29, 3, 1, 1, 1, 1),  // Winograd on most tiers
		geom(1, 70, 130, 7, 7, 3, 1, 1, 1, 1),   // small plane
		geom(1, 40, 100, 14, 13, 3, 2, 1, 1, 1), // strided
		geom(1, 24, 48, 6, 5, 3, 1, 1, 1, 3),    // grouped
		geom(1, 70, 40, 13, 14, 1, 2, 1, 0, 1),  // strided 1×1
		geom(1, 600, 65, 3, 3, 1, 1, 1, 0, 1),   // pointwise, small plane
		geom(1, 20, 13, 8, 8, 1, 1, 1, 0, 1),    // pointwise, a mid plane
		geom(1, 20, 13, 16, 16, 1, 1, 1, 0, 1),  // pointwise
		geom(1, 13, 21, 24, 30, 3, 1, 2, 2, 1),  // dilated
		geom(1, 3, 10, 20, 96, 7, 2, 1, 3, 1),   // a stem
		geom(1, 32, 40, 15, 17, 3, 2, 1, 1, 2),  // grouped, strided
		geom(1, 16, 24, 12, 12, 5, 1, 1, 2, 1),  // 5×5
		geom(1, 300, 5, 5, 3, 1, 1, 1, 0, 1),    // deep, few outputs
	}
	for _, g := range gs[:14] {
		g.N = 3
		gs = append(gs, g)
	}
	return gs
}

// TestConvReadsOnlyPack runs every tier that packs convolution weights
// (PackConv) on geometries of every path, with fusions, given the pack and
// the plain weights and given the pack alone (w nil), and checks that the
// results are the same bit for bit: a model may keep its weights only as
// packed. On the twin tier every path is taken.
func TestConvReadsOnlyPack(t *testing.T) {
	for _, k := range testTiers() {
		if k.PackConv == nil {
			continue
		}
		paths := map[string]bool{}
		for i, g := range packedGeoms() {
			g := g
			w := kerntest.Rand(uint64(i), g.M*g.C/g.Group*g.KH*g.KW)
			pack := k.PackConv(&g, w)
			if pack == nil {
				continue // Conv reads w as it lies
			}
			x := kerntest.Rand(uint64(100+i), g.N*g.C*g.H*g.W)
			b := kerntest.Rand(uint64(200+i), g.M)
			ny := g.N * g.M * g.OH * g.OW
			z := kerntest.Rand(uint64(300+i), ny)
			fusions := []*ConvFusion{nil,
				{Residual: z, Act: Activation{Kind: ActRelu}},
				{PreScale: kerntest.Rand(uint64(400+i), g.C), PreBias: kerntest.Rand(uint64(500+i), g.C), PreAct: Activation{Kind: ActRelu}},
			}
			for fi, f := range fusions {
				if k.ConvPath != nil {
					paths[k.ConvPath(&g, f.hasPre())] = true
				}
				for _, workers := range []int{1, 2} {
					run := func(w []float32) []float32 {
						env := testEnv(k, workers)
						if k.ConvScratch != nil {
							env.Scratch = make([]float32, k.ConvScratch(&g)*workers)
						}
						env.PackedW = pack
						y := make([]float32, ny)
						for j := range y {
							y[j] = float32(math.NaN())
						}
						k.Conv(env, &g, x, w, b, y, f)
						return y
					}
					what := fmt.Sprintf("%s %+v fusion %d workers %d", k.Name, g, fi, workers)
					kerntest.SameBits(t, what, run(nil), run(w))
				}
			}
		}
		t.Logf("%s: paths %v", k.Name, paths)
		if k == Twin && len(paths) < 8 {
			t.Errorf("twin: %d paths taken (%v), want every one", len(paths), paths)
		}
	}
}

// TestGemmReadsOnlyPack runs every tier that packs a constant B (PackGemm)
// given the pack and B and given the pack alone (b nil), past the
// matrix-vector products' row counts, bit for bit.
func TestGemmReadsOnlyPack(t *testing.T) {
	for _, k := range testTiers() {
		if k.PackGemm == nil {
			continue
		}
		for _, c := range []struct {
			transB  bool
			m, n, k int
		}{{false, 9, 33, 300}, {true, 5, 1000, 64}, {true, 17, 7, 5}, {false, 64, 50, 40}} {
			a := kerntest.Rand(1, c.m*c.k)
			b := kerntest.Rand(2, c.n*c.k)
			ldb := c.n
			if c.transB {
				ldb = c.k
			}
			pack := k.PackGemm(c.transB, c.k, c.n, b, ldb)
			for _, workers := range []int{1, 2} {
				run := func(b []float32) []float32 {
					env := testEnv(k, workers)
					env.PackedW = pack
					y := kerntest.Rand(3, c.m*c.n)
					k.Gemm(env, false, c.transB, c.m, c.n, c.k, 1.5, a, c.k, b, ldb, 0.5, y, c.n)
					return y
				}
				kerntest.SameBits(t, fmt.Sprintf("%s %+v workers %d", k.Name, c, workers), run(nil), run(b))
			}
		}
	}
}
