package kern

import "testing"

// TestWinoClaimRows checks that the output rows a part of
// convWinogradParts clears before storing (claimRows) are written by its
// tiles alone, and that every tile row wholly its own is among them, for
// tile rows of 1 to 20 tiles cut into 2 to 5 parts.
func TestWinoClaimRows(t *testing.T) {
	for tw := 1; tw <= 20; tw++ {
		for th := 1; th <= 9; th++ {
			ncol := tw * th
			nvec := CeilDiv(ncol, winoLanes)
			for parts := 2; parts <= min(5, nvec); parts++ {
				s := &winoPartTask{g: &ConvGeom{OH: 4*th - 1}, wg: winoGeom{tw: tw, th: th, ncol: ncol}, nvec: nvec, parts: parts}
				for q := range parts {
					j0, j1 := s.part(q)
					ra, rb := s.claimRows(j0, j1)
					for r := ra; r < rb; r++ {
						if tr := r / 4; tr*tw < j0 || (tr+1)*tw > j1 {
							t.Fatalf("tw %d th %d parts %d: part %d (tiles [%d, %d)) claims row %d of tile row %d", tw, th, parts, q, j0, j1, r, tr)
						}
					}
					for tr := range th {
						if tr*tw >= j0 && (tr+1)*tw <= j1 && (4*tr < ra || min(4*tr+4, s.g.OH) > rb) {
							t.Fatalf("tw %d th %d parts %d: part %d (tiles [%d, %d)) leaves its tile row %d: rows [%d, %d)", tw, th, parts, q, j0, j1, tr, ra, rb)
						}
					}
				}
			}
		}
	}
}
