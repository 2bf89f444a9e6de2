package kern

import (
	"fmt"
	"testing"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// gemmCase runs tier k's Gemm on random operands stored with padded leading
// dimensions, and returns C with its padding, which starts as kerntest.Guard.
func gemmCase(k *Tier, workers int, transA, transB bool, m, n, kk int, alpha, beta float32, seed uint64) []float32 {
	return gemmCaseOf(k, workers, false, transA, transB, m, n, kk, alpha, beta, seed)
}

// gemmCaseOf is gemmCase, with B packed first by the tier's PackGemm when
// packB is set.
func gemmCaseOf(k *Tier, workers int, packB, transA, transB bool, m, n, kk int, alpha, beta float32, seed uint64) []float32 {
	ar, ac := m, kk
	if transA {
		ar, ac = kk, m
	}
	br, bc := kk, n
	if transB {
		br, bc = n, kk
	}
	lda, ldb, ldc := ac+3, bc+1, n+5
	a := kerntest.Rand(seed, ar*lda)
	b := kerntest.Rand(seed+1, br*ldb)
	c := kerntest.Rand(seed+2, m*ldc)
	for i := range m {
		for j := n; j < ldc; j++ {
			c[i*ldc+j] = kerntest.Guard
		}
	}
	c = append(c, kerntest.Guard, kerntest.Guard, kerntest.Guard)
	env := testEnv(k, workers)
	if packB {
		env.PackedW = k.PackGemm(transB, kk, n, b, ldb)
	}
	k.Gemm(env, transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc)
	return c
}

// TestGemmPackedBMatchesUnpacked runs every tier that packs a constant B
// (PackGemm) with B packed once and without, bit for bit, guards
// included, on row counts past the matrix-vector path's and panels with
// awkward tails, and checks that a pack is really taken.
func TestGemmPackedBMatchesUnpacked(t *testing.T) {
	seed := uint64(7)
	tested := 0
	for _, k := range testTiers() {
		if k.PackGemm == nil {
			continue
		}
		// The product reads the pack, not B: with a pack of zeros, C = 0.
		m, n, kk := 9, 33, 300
		a, b, c := kerntest.Rand(1, m*kk), kerntest.Rand(2, n*kk), kerntest.Rand(3, m*n)
		env := testEnv(k, 1)
		env.PackedW = k.PackGemm(true, kk, n, make([]float32, n*kk), kk)
		k.Gemm(env, false, true, m, n, kk, 1, a, kk, b, kk, 0, c, n)
		kerntest.SameBits(t, k.Name+" from a pack of zeros", c, make([]float32, m*n))
		tested++
		for _, transB := range []bool{false, true} {
			for _, m := range []int{5, 13, 37} {
				for _, n := range []int{1, 7, 33, 100} {
					for _, kk := range []int{1, 300, 515} {
						for _, ab := range [][2]float32{{1, 0}, {0.5, 1}} {
							seed += 3
							for _, workers := range []int{1, 3} {
								want := gemmCaseOf(k, workers, false, false, transB, m, n, kk, ab[0], ab[1], seed)
								got := gemmCaseOf(k, workers, true, false, transB, m, n, kk, ab[0], ab[1], seed)
								name := fmt.Sprintf("%s transB=%v m=%d n=%d k=%d alpha=%v beta=%v workers=%d", k.Name, transB, m, n, kk, ab[0], ab[1], workers)
								kerntest.SameBits(t, name, got, want)
							}
						}
					}
				}
			}
		}
	}
	if tested == 0 {
		t.Fatal("no tier packs B")
	}
}

func TestGemmTiersMatchReference(t *testing.T) {
	sizes := []int{1, 7, 33, 100}
	seed := uint64(1)
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		for _, m := range sizes {
			for _, n := range sizes {
				for _, kk := range []int{1, 7, 33, 100, 300, 515} {
					for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
						seed += 3
						want := gemmCase(Reference, 1, tr[0], tr[1], m, n, kk, ab[0], ab[1], seed)
						for _, k := range testTiers() {
							for _, workers := range []int{1, 3} {
								got := gemmCase(k, workers, tr[0], tr[1], m, n, kk, ab[0], ab[1], seed)
								name := fmt.Sprintf("%s trans=%v m=%d n=%d k=%d alpha=%v beta=%v workers=%d", k.Name, tr, m, n, kk, ab[0], ab[1], workers)
								// Guards are compared too: they must be untouched.
								kerntest.Check(t, name, got, want, 1e-5*float64(kk))
							}
						}
					}
				}
			}
		}
	}
}

func TestGemmBetaZeroIgnoresC(t *testing.T) {
	// With beta = 0, C is not read: NaN in it must not leak into the result.
	for _, k := range append([]*Tier{Reference}, testTiers()...) {
		a := []float32{1, 2, 3, 4}
		b := []float32{5, 6, 7, 8}
		nan := float32(0)
		nan = nan / nan
		c := []float32{nan, nan, nan, nan}
		k.Gemm(testEnv(k, 1), false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
		kerntest.Check(t, k.Name, c, []float32{19, 22, 43, 50}, 0)
	}
}

func TestGemmKnownAnswer(t *testing.T) {
	// A = [1 2 3; 4 5 6], B = [1 0; 0 1; 1 1], C = [1 1; 1 1]:
	// A·B = [4 5; 10 11]; 2·A·B + 3·C = [11 13; 23 25].
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1, 1, 1}
	at := []float32{1, 4, 2, 5, 3, 6}
	bt := []float32{1, 0, 1, 0, 1, 1}
	for _, k := range append([]*Tier{Reference}, testTiers()...) {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			aa, lda, bb, ldb := a, 3, b, 2
			if tr[0] {
				aa, lda = at, 2
			}
			if tr[1] {
				bb, ldb = bt, 3
			}
			c := []float32{1, 1, 1, 1}
			k.Gemm(testEnv(k, 2), tr[0], tr[1], 2, 2, 3, 2, aa, lda, bb, ldb, 3, c, 2)
			kerntest.Check(t, fmt.Sprintf("%s %v", k.Name, tr), c, []float32{11, 13, 23, 25}, 0)
		}
	}
}

func TestGemmZeroK(t *testing.T) {
	for _, k := range append([]*Tier{Reference}, testTiers()...) {
		c := []float32{1, 2, 3, 4}
		k.Gemm(testEnv(k, 1), false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0.5, c, 2)
		kerntest.Check(t, k.Name, c, []float32{0.5, 1, 1.5, 2}, 0)
	}
}

// BenchmarkGemm measures every fast tier's SGEMM on square problems,
// single-threaded, in GFLOP/s.
func BenchmarkGemm(b *testing.B) {
	for _, bw := range benchTiers() {
		if bw.workers != 1 {
			continue
		}
		k := bw.k
		for _, size := range []int{64, 256, 512} {
			b.Run(fmt.Sprintf("%s/%d", k.Name, size), func(b *testing.B) {
				a := kerntest.Rand(1, size*size)
				bb := kerntest.Rand(2, size*size)
				c := make([]float32, size*size)
				env := testEnv(k, 1)
				b.ResetTimer()
				for range b.N {
					k.Gemm(env, false, false, size, size, size, 1, a, size, bb, size, 0, c, size)
				}
				b.ReportMetric(2*float64(size*size*size)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestGemmSmallRows checks the path for A of at most gemmSmallRows rows
// (gemmSmall) on every tier against the reference, with column counts
// around its block width and long sums, and that its results do not
// depend on the worker count, bit for bit.
func TestGemmSmallRows(t *testing.T) {
	seed := uint64(7000)
	for _, transB := range []bool{false, true} {
		for m := 1; m <= gemmSmallRows; m++ {
			for _, n := range []int{1, 63, 64, 65, 1000} {
				for _, kk := range []int{1, 7, 515, 2048} {
					for _, ab := range [][2]float32{{1, 0}, {-2, 0.25}} {
						seed += 3
						want := gemmCase(Reference, 1, false, transB, m, n, kk, ab[0], ab[1], seed)
						for _, k := range testTiers() {
							one := gemmCase(k, 1, false, transB, m, n, kk, ab[0], ab[1], seed)
							name := fmt.Sprintf("%s transB=%v m=%d n=%d k=%d alpha=%v beta=%v", k.Name, transB, m, n, kk, ab[0], ab[1])
							kerntest.Check(t, name, one, want, 1e-5*float64(kk))
							three := gemmCase(k, 3, false, transB, m, n, kk, ab[0], ab[1], seed)
							kerntest.Check(t, name+" workers=3 against workers=1", three, one, 0)
						}
					}
				}
			}
		}
	}
}
