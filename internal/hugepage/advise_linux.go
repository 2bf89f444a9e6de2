package hugepage

import (
	"syscall"
	"unsafe"
)

// smallPage is the page size madvise ranges are aligned to.
var smallPage = syscall.Getpagesize()

// advise asks Linux to back run, a page-aligned part of the new zeroed
// allocation raw, with transparent huge pages. The Go heap may hand out
// memory it used before, already backed by small pages (and zeroed by
// Go): raw's pages are dropped first (MADV_DONTNEED; they read as zeros
// again, and the parts outside run stay unbacked, as nothing touches
// them), so that run's first touches fault in huge pages. A kernel
// without them refuses the advice, and one set to use them never ignores
// it: run then stays in small pages, and nothing else changes.
func advise(raw, run []byte) {
	lo := (smallPage - int(uintptr(unsafe.Pointer(&raw[0])))%smallPage) % smallPage
	hi := lo + (len(raw)-lo)/smallPage*smallPage
	if hi > lo {
		_ = syscall.Madvise(raw[lo:hi], syscall.MADV_DONTNEED)
	}
	_ = syscall.Madvise(run, syscall.MADV_HUGEPAGE)
}
