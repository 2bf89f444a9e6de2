package kern

// Micro-kernels of the generic SGEMM. Each computes one row of C against
// one packed panel of B: a 1×w tile, w = 12, 8 or 4. Go keeps scalars in
// the 15 usable XMM registers (X15 is reserved), so the tile is one row
// wide: 12 accumulators, two A values and one product temporary fill them
// exactly, and every B value is loaded once per use straight from the
// panel, which sits in L1.

// kern12 is the 1×12 micro-kernel: for j < 12 it sets
//
//	acc[j] = -sum_{p<k} a[p*as] * b[p*12+j]
//
// where b is a panel from the packers in gemm_generic.go (12 values per
// k step, stored negated). Because the panel is negated, acc holds
// +sum(op(A)*op(B)), and each step can be written as c -= a*b, whose
// non-commutative subtraction keeps every accumulator in its own register.
//
// The loop is written so that the phi values (the accumulators and the
// next two A values) and all arithmetic sit in one basic block: the
// bounds-checked loads for the next step come after the arithmetic. The
// compiler then schedules each product next to its subtraction instead of
// hoisting all products, and no accumulator spills. k must be >= 1, a must
// hold (k-1)*as+1 values and b k*12 values.
func kern12(k int, a []float32, as int, b []float32, acc *[nr]float32) {
	var c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 float32
	pa, pb := 0, 0
	n := k
	if n >= 2 {
		a0, a1 := a[0], a[as]
		bb := (*[24]float32)(b[0:24])
		// c[j] -= a[p*as] * b[p*12+j], two steps p per iteration
		for {
			c0 -= a0 * bb[0]
			c1 -= a0 * bb[1]
			c2 -= a0 * bb[2]
			c3 -= a0 * bb[3]
			c4 -= a0 * bb[4]
			c5 -= a0 * bb[5]
			c6 -= a0 * bb[6]
			c7 -= a0 * bb[7]
			c8 -= a0 * bb[8]
			c9 -= a0 * bb[9]
			c10 -= a0 * bb[10]
			c11 -= a0 * bb[11]
			c0 -= a1 * bb[12]
			c1 -= a1 * bb[13]
			c2 -= a1 * bb[14]
			c3 -= a1 * bb[15]
			c4 -= a1 * bb[16]
			c5 -= a1 * bb[17]
			c6 -= a1 * bb[18]
			c7 -= a1 * bb[19]
			c8 -= a1 * bb[20]
			c9 -= a1 * bb[21]
			c10 -= a1 * bb[22]
			c11 -= a1 * bb[23]
			n -= 2
			pa += 2 * as
			pb += 24
			if n < 2 {
				break
			}
			a0, a1 = a[pa], a[pa+as]
			bb = (*[24]float32)(b[pb : pb+24])
		}
	}
	if n == 1 {
		a0 := a[pa]
		bb := (*[12]float32)(b[pb : pb+12])
		// c[j] -= a[p*as] * b[p*12+j] for the last, odd step p
		c0 -= a0 * bb[0]
		c1 -= a0 * bb[1]
		c2 -= a0 * bb[2]
		c3 -= a0 * bb[3]
		c4 -= a0 * bb[4]
		c5 -= a0 * bb[5]
		c6 -= a0 * bb[6]
		c7 -= a0 * bb[7]
		c8 -= a0 * bb[8]
		c9 -= a0 * bb[9]
		c10 -= a0 * bb[10]
		c11 -= a0 * bb[11]
	}
	acc[0], acc[1], acc[2], acc[3] = c0, c1, c2, c3
	acc[4], acc[5], acc[6], acc[7] = c4, c5, c6, c7
	acc[8], acc[9], acc[10], acc[11] = c8, c9, c10, c11
}

// kern8 is the 1×8 micro-kernel: for j < 8 it sets
//
//	acc[j] = -sum_{p<k} a[p*as] * b[p*8+j]
//
// where b is a panel from the packers in gemm_generic.go (8 values per
// k step, stored negated). Because the panel is negated, acc holds
// +sum(op(A)*op(B)), and each step can be written as c -= a*b, whose
// non-commutative subtraction keeps every accumulator in its own register.
//
// The loop is written so that the phi values (the accumulators and the
// next two A values) and all arithmetic sit in one basic block: the
// bounds-checked loads for the next step come after the arithmetic. The
// compiler then schedules each product next to its subtraction instead of
// hoisting all products, and no accumulator spills. k must be >= 1, a must
// hold (k-1)*as+1 values and b k*8 values.
func kern8(k int, a []float32, as int, b []float32, acc *[nr]float32) {
	var c0, c1, c2, c3, c4, c5, c6, c7 float32
	pa, pb := 0, 0
	n := k
	if n >= 2 {
		a0, a1 := a[0], a[as]
		bb := (*[16]float32)(b[0:16])
		// c[j] -= a[p*as] * b[p*8+j], two steps p per iteration
		for {
			c0 -= a0 * bb[0]
			c1 -= a0 * bb[1]
			c2 -= a0 * bb[2]
			c3 -= a0 * bb[3]
			c4 -= a0 * bb[4]
			c5 -= a0 * bb[5]
			c6 -= a0 * bb[6]
			c7 -= a0 * bb[7]
			c0 -= a1 * bb[8]
			c1 -= a1 * bb[9]
			c2 -= a1 * bb[10]
			c3 -= a1 * bb[11]
			c4 -= a1 * bb[12]
			c5 -= a1 * bb[13]
			c6 -= a1 * bb[14]
			c7 -= a1 * bb[15]
			n -= 2
			pa += 2 * as
			pb += 16
			if n < 2 {
				break
			}
			a0, a1 = a[pa], a[pa+as]
			bb = (*[16]float32)(b[pb : pb+16])
		}
	}
	if n == 1 {
		a0 := a[pa]
		bb := (*[8]float32)(b[pb : pb+8])
		// c[j] -= a[p*as] * b[p*8+j] for the last, odd step p
		c0 -= a0 * bb[0]
		c1 -= a0 * bb[1]
		c2 -= a0 * bb[2]
		c3 -= a0 * bb[3]
		c4 -= a0 * bb[4]
		c5 -= a0 * bb[5]
		c6 -= a0 * bb[6]
		c7 -= a0 * bb[7]
	}
	acc[0], acc[1], acc[2], acc[3] = c0, c1, c2, c3
	acc[4], acc[5], acc[6], acc[7] = c4, c5, c6, c7
}

// kern4 is the 1×4 micro-kernel: for j < 4 it sets
//
//	acc[j] = -sum_{p<k} a[p*as] * b[p*4+j]
//
// where b is a panel from the packers in gemm_generic.go (4 values per
// k step, stored negated). Because the panel is negated, acc holds
// +sum(op(A)*op(B)), and each step can be written as c -= a*b, whose
// non-commutative subtraction keeps every accumulator in its own register.
//
// The loop is written so that the phi values (the accumulators and the
// next two A values) and all arithmetic sit in one basic block: the
// bounds-checked loads for the next step come after the arithmetic. The
// compiler then schedules each product next to its subtraction instead of
// hoisting all products, and no accumulator spills. k must be >= 1, a must
// hold (k-1)*as+1 values and b k*4 values.
func kern4(k int, a []float32, as int, b []float32, acc *[nr]float32) {
	var c0, c1, c2, c3 float32
	pa, pb := 0, 0
	n := k
	if n >= 2 {
		a0, a1 := a[0], a[as]
		bb := (*[8]float32)(b[0:8])
		// c[j] -= a[p*as] * b[p*4+j], two steps p per iteration
		for {
			c0 -= a0 * bb[0]
			c1 -= a0 * bb[1]
			c2 -= a0 * bb[2]
			c3 -= a0 * bb[3]
			c0 -= a1 * bb[4]
			c1 -= a1 * bb[5]
			c2 -= a1 * bb[6]
			c3 -= a1 * bb[7]
			n -= 2
			pa += 2 * as
			pb += 8
			if n < 2 {
				break
			}
			a0, a1 = a[pa], a[pa+as]
			bb = (*[8]float32)(b[pb : pb+8])
		}
	}
	if n == 1 {
		a0 := a[pa]
		bb := (*[4]float32)(b[pb : pb+4])
		// c[j] -= a[p*as] * b[p*4+j] for the last, odd step p
		c0 -= a0 * bb[0]
		c1 -= a0 * bb[1]
		c2 -= a0 * bb[2]
		c3 -= a0 * bb[3]
	}
	acc[0], acc[1], acc[2], acc[3] = c0, c1, c2, c3
}
