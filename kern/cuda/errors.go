package cuda

import (
	"fmt"
	"strings"
	"unsafe"
)

// Result is a CUDA driver API status code (CUresult); 0 is success.
type Result int32

// The driver status codes this package names itself, for when the
// driver's own cuGetErrorName cannot be called.
const (
	Success           Result = 0
	ErrInvalidValue   Result = 1
	ErrOutOfMemory    Result = 2
	ErrNotInitialized Result = 3
	ErrStubLibrary    Result = 34
	ErrNoDevice       Result = 100
	ErrInvalidDevice  Result = 101
	ErrInvalidPTX     Result = 218
	ErrNotFound       Result = 500
	ErrLaunchFailed   Result = 719
)

// resultNames are the names of the codes above.
var resultNames = map[Result]string{
	Success:           "CUDA_SUCCESS",
	ErrInvalidValue:   "CUDA_ERROR_INVALID_VALUE",
	ErrOutOfMemory:    "CUDA_ERROR_OUT_OF_MEMORY",
	ErrNotInitialized: "CUDA_ERROR_NOT_INITIALIZED",
	ErrStubLibrary:    "CUDA_ERROR_STUB_LIBRARY",
	ErrNoDevice:       "CUDA_ERROR_NO_DEVICE",
	ErrInvalidDevice:  "CUDA_ERROR_INVALID_DEVICE",
	ErrInvalidPTX:     "CUDA_ERROR_INVALID_PTX",
	ErrNotFound:       "CUDA_ERROR_NOT_FOUND",
	ErrLaunchFailed:   "CUDA_ERROR_LAUNCH_FAILED",
}

// Error is a failed driver API call: the function and its status code,
// e.g. "cuda: cuInit: CUDA_ERROR_NO_DEVICE (100)".
type Error struct {
	Func string // the driver function, e.g. "cuInit"
	Code Result // its status
	Name string // the code's name, e.g. "CUDA_ERROR_NO_DEVICE"
	Desc string // the driver's description, when it gave one
}

// Error formats the failure.
func (e *Error) Error() string {
	s := fmt.Sprintf("cuda: %s: %s (%d)", e.Func, e.Name, int32(e.Code))
	if e.Desc != "" {
		s += ": " + e.Desc
	}
	return s
}

// LibraryError is a shared library (libcuda or libnvrtc) that could not be
// loaded or lacks a function bnrun needs.
type LibraryError struct {
	Lib   string   // "libcuda" or "libnvrtc"
	Tried []string // the file names or paths tried
	Env   string   // the environment variable that named them, if one did
	Err   error    // the dynamic loader's error
}

// Error formats the failure, naming the libraries tried.
func (e *LibraryError) Error() string {
	from := ""
	if e.Env != "" {
		from = " (from " + e.Env + ")"
	}
	return fmt.Sprintf("cuda: cannot load %s from %s%s: %v", e.Lib, strings.Join(e.Tried, ", "), from, e.Err)
}

// Unwrap returns the loader's error.
func (e *LibraryError) Unwrap() error { return e.Err }

// goString copies the NUL-terminated C string at p (at most max bytes).
func goString(p *byte, max int) string {
	if p == nil {
		return ""
	}
	n := 0
	for n < max && *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cString returns s as a NUL-terminated byte slice for a C call.
func cString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}
