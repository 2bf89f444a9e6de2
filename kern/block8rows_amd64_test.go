//go:build amd64 && !purego && unix

package kern

import (
	"fmt"
	"syscall"
	"testing"
	"unsafe"

	"github.com/bnrun/bnrun/kern/kerntest"
)

// TestBlock8RowsMatchesTwin runs the tiers' Block8Rows against
// block8RowsGo on rows of every width from 1 to 20 (whole vectors, tails
// of 1 to 7, runs that cross rows mid-vector) with 0 to 2 padding columns
// either side, one to four rows: every value equal, the padding 0 where
// it held -1 before, nothing written past the last row's padding and
// nothing read past the last pixel (the planes end there: a read beyond
// would fault on the page endOfPage leaves unreadable after them).
func TestBlock8RowsMatchesTwin(t *testing.T) {
	for _, k := range asmTiers {
		if TierByName(k.Name) == nil || k.spec.Block8Rows == nil {
			continue
		}
		for w := 1; w <= 20; w++ {
			for rows := 1; rows <= 4; rows++ {
				for pad := range 9 {
					padl, padr := pad%3, pad/3
					lds := rows*w + w%3 // planes with a gap between them
					src := endOfPage(t, 7*lds+rows*w)
					copy(src, kerntest.Rand(uint64(w*100+rows*10+pad), len(src)))
					ld := (padl + w + padr) * 8
					got := make([]float32, rows*ld+8)
					want := make([]float32, rows*ld+8)
					for i := range got {
						got[i], want[i] = -1, -1
					}
					k.spec.Block8Rows(&got[0], &src[0], lds, rows, w, padl, padr)
					block8RowsGo(want, src, lds, rows, w, padl, padr)
					kerntest.SameBits(t, fmt.Sprintf("%s block8rows w=%d rows=%d pads %d,%d", k.Name, w, rows, padl, padr), got, want)
				}
			}
		}
	}
}

// endOfPage returns n float32s that end where a page that cannot be read
// begins, so that a kernel reading past them faults.
func endOfPage(t *testing.T, n int) []float32 {
	ps := syscall.Getpagesize()
	size := (4*n + ps - 1) / ps * ps
	mem, err := syscall.Mmap(-1, 0, size+ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[size-4*n])), n)
}
