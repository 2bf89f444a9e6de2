//go:build js || wasip1

package loader

// openNonblock is 0 where the syscall package has no O_NONBLOCK (js and
// wasip1): openRegular then relies on its checks of the file's kind before
// and after it opens it.
const openNonblock = 0
