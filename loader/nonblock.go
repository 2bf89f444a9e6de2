//go:build !js && !wasip1

package loader

import "syscall"

// openNonblock is the flag with which openRegular opens a file without
// waiting for a writer, should the path have become a named pipe.
const openNonblock = syscall.O_NONBLOCK
