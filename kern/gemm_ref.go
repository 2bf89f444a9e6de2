package kern

// gemmRef is Reference.Gemm: the triple loop of the definition, summed in
// float32 in order of k, with C not read when beta is 0. It is the oracle
// the faster tiers are tested against: keep it plain.
func gemmRef(_ *Env, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// C[i][j] = alpha * sum_p op(A)[i][p]*op(B)[p][j] + beta*C[i][j]
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
