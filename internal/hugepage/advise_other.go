//go:build !linux

package hugepage

// advise does nothing where large pages are not asked for per range.
func advise(raw, run []byte) {}
