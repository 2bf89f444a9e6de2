package kern

// AvgPool2s2RowsGo is the portable twin of Tier.AvgPool2s2Rows:
//
//	dst[r·ldd + j] = ((src[2r·lds + 2j] + src[(2r+1)·lds + 2j]) + (src[2r·lds + 2j+1] + src[(2r+1)·lds + 2j+1])) / div
//
// for r < rows, j < n, each operation rounded, in this order.
func AvgPool2s2RowsGo(dst []float32, ldd int, src []float32, lds, rows, n int, div float32) {
	for r := range rows {
		r0, r1 := src[2*r*lds:2*r*lds+2*n], src[(2*r+1)*lds:(2*r+1)*lds+2*n]
		d := dst[r*ldd : r*ldd+n]
		for j := range d {
			d[j] = ((r0[2*j] + r1[2*j]) + (r0[2*j+1] + r1[2*j+1])) / div
		}
	}
}
