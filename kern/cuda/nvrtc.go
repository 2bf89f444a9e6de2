package cuda

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// LibnvrtcEnv names the environment variable that, when set, is the path
// (or file name) of the NVRTC library to load instead of the default
// names.
const LibnvrtcEnv = "BNRUN_LIBNVRTC"

// libnvrtcNames are NVRTC's names, newest first: a newer NVRTC knows
// newer architectures. Debian's libnvrtc11.2 package installs
// libnvrtc.so.11.2 (NVRTC 11.8 in bookworm), CUDA 12 toolkits
// libnvrtc.so.12.
var libnvrtcNames = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}

// nvrtcAPI holds the NVRTC functions; each returns an nvrtcResult (0 is
// success) and nvrtcProgram is a handle (uintptr).
type nvrtcAPI struct {
	lib string

	version        func(major, minor *int32) int32
	createProgram  func(prog *uintptr, src, name *byte, numHeaders int32, headers, includeNames unsafe.Pointer) int32
	compileProgram func(prog uintptr, numOptions int32, options unsafe.Pointer) int32
	getPTXSize     func(prog uintptr, size *uintptr) int32
	getPTX         func(prog uintptr, ptx *byte) int32
	getLogSize     func(prog uintptr, size *uintptr) int32
	getLog         func(prog uintptr, log *byte) int32
	destroyProgram func(prog *uintptr) int32
	getErrorString func(code int32) string

	// Since NVRTC 11.2; nil when absent.
	getNumSupportedArchs func(n *int32) int32
	getSupportedArchs    func(archs *int32) int32
}

// NVRTCError is a failed NVRTC call, e.g.
// "cuda: nvrtcCompileProgram: NVRTC_ERROR_COMPILATION (6)".
type NVRTCError struct {
	Func string // the NVRTC function
	Code int    // its nvrtcResult
	Name string // NVRTC's description of the code
}

// Error formats the failure.
func (e *NVRTCError) Error() string {
	return fmt.Sprintf("cuda: %s: %s (%d)", e.Func, e.Name, e.Code)
}

// check turns the result r of function fn into an error (nil on success).
func (n *nvrtcAPI) check(fn string, r int32) error {
	if r == 0 {
		return nil
	}
	return &NVRTCError{Func: fn, Code: int(r), Name: n.getErrorString(r)}
}

// loadNVRTC opens the first of names that loads and binds its functions.
func loadNVRTC(names []string, env string) (*nvrtcAPI, error) {
	h, lib, err := dlopen(names)
	if err != nil {
		return nil, &LibraryError{Lib: "libnvrtc", Tried: names, Env: env, Err: err}
	}
	n := &nvrtcAPI{lib: lib}
	for _, s := range []struct {
		name string
		fptr any
	}{
		{"nvrtcVersion", &n.version},
		{"nvrtcCreateProgram", &n.createProgram},
		{"nvrtcCompileProgram", &n.compileProgram},
		{"nvrtcGetPTXSize", &n.getPTXSize},
		{"nvrtcGetPTX", &n.getPTX},
		{"nvrtcGetProgramLogSize", &n.getLogSize},
		{"nvrtcGetProgramLog", &n.getLog},
		{"nvrtcDestroyProgram", &n.destroyProgram},
		{"nvrtcGetErrorString", &n.getErrorString},
	} {
		if err := bind(h, lib, s.name, s.fptr); err != nil {
			return nil, &LibraryError{Lib: "libnvrtc", Tried: []string{lib}, Env: env, Err: err}
		}
	}
	if bind(h, lib, "nvrtcGetNumSupportedArchs", &n.getNumSupportedArchs) != nil ||
		bind(h, lib, "nvrtcGetSupportedArchs", &n.getSupportedArchs) != nil {
		n.getNumSupportedArchs, n.getSupportedArchs = nil, nil
	}
	return n, nil
}

// lazyNVRTC loads NVRTC once, on first use.
type lazyNVRTC struct {
	once sync.Once
	api  *nvrtcAPI
	err  error
}

// get returns NVRTC, loading it on the first call from $BNRUN_LIBNVRTC or
// the default names; a failure is kept and returned by every call.
func (l *lazyNVRTC) get() (*nvrtcAPI, error) {
	l.once.Do(func() {
		names, env := libnvrtcNames, ""
		if p := os.Getenv(LibnvrtcEnv); p != "" {
			names, env = []string{p}, LibnvrtcEnv
		}
		l.api, l.err = loadNVRTC(names, env)
	})
	return l.api, l.err
}

// theNVRTC is the process's NVRTC.
var theNVRTC = &lazyNVRTC{}

// NVRTCVersion returns NVRTC's version, e.g. 11, 8.
func NVRTCVersion() (major, minor int, err error) {
	n, err := theNVRTC.get()
	if err != nil {
		return 0, 0, err
	}
	var ma, mi int32
	if err := n.check("nvrtcVersion", n.version(&ma, &mi)); err != nil {
		return 0, 0, err
	}
	return int(ma), int(mi), nil
}

// NVRTCArchs returns the virtual architectures NVRTC can compile for, as
// 10*major + minor (80 for compute_80), ascending. It returns nil, nil
// when this NVRTC cannot tell (before 11.2).
func NVRTCArchs() ([]int, error) {
	n, err := theNVRTC.get()
	if err != nil {
		return nil, err
	}
	if n.getSupportedArchs == nil {
		return nil, nil
	}
	var count int32
	if err := n.check("nvrtcGetNumSupportedArchs", n.getNumSupportedArchs(&count)); err != nil {
		return nil, err
	}
	if count <= 0 {
		return nil, nil
	}
	raw := make([]int32, count)
	if err := n.check("nvrtcGetSupportedArchs", n.getSupportedArchs(&raw[0])); err != nil {
		return nil, err
	}
	archs := make([]int, len(raw))
	for i, a := range raw {
		archs[i] = int(a)
	}
	sort.Ints(archs)
	return archs, nil
}

// Compile compiles CUDA C source src (name is its file name in messages)
// to PTX for arch, a virtual architecture such as "compute_80". It
// returns the PTX, NUL excluded, and NVRTC's log, which explains a
// failed compilation. Floating-point stays IEEE: no --use_fast_math.
func Compile(src, name, arch string) (ptx []byte, log string, err error) {
	n, err := theNVRTC.get()
	if err != nil {
		return nil, "", err
	}
	return n.compile(src, name, arch)
}

// compile is Compile on n.
func (n *nvrtcAPI) compile(src, name, arch string) ([]byte, string, error) {
	csrc, cname := cString(src), cString(name)
	var prog uintptr
	err := n.check("nvrtcCreateProgram", n.createProgram(&prog, &csrc[0], &cname[0], 0, nil, nil))
	runtime.KeepAlive(csrc)
	runtime.KeepAlive(cname)
	if err != nil {
		return nil, "", err
	}
	defer n.destroyProgram(&prog)

	// options is a C array of C strings: pointers into Go byte slices,
	// pinned so that the array may hold them while NVRTC reads it.
	opts := []string{"--gpu-architecture=" + arch, "--fmad=true"}
	var pin runtime.Pinner
	defer pin.Unpin()
	ptrs := make([]uintptr, len(opts))
	for i, o := range opts {
		b := cString(o)
		pin.Pin(&b[0])
		ptrs[i] = uintptr(unsafe.Pointer(&b[0]))
	}
	cerr := n.check("nvrtcCompileProgram", n.compileProgram(prog, int32(len(ptrs)), unsafe.Pointer(&ptrs[0])))
	runtime.KeepAlive(ptrs)

	log, err := n.programLog(prog)
	if err != nil {
		return nil, "", err
	}
	if cerr != nil {
		return nil, log, fmt.Errorf("%w (%s for %s)", cerr, name, arch)
	}
	var size uintptr
	if err := n.check("nvrtcGetPTXSize", n.getPTXSize(prog, &size)); err != nil {
		return nil, log, err
	}
	buf := make([]byte, size+1)
	if err := n.check("nvrtcGetPTX", n.getPTX(prog, &buf[0])); err != nil {
		return nil, log, err
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return buf, log, nil
}

// programLog returns the compilation log of prog, trimmed.
func (n *nvrtcAPI) programLog(prog uintptr) (string, error) {
	var size uintptr
	if err := n.check("nvrtcGetProgramLogSize", n.getLogSize(prog, &size)); err != nil {
		return "", err
	}
	if size <= 1 {
		return "", nil
	}
	buf := make([]byte, size)
	if err := n.check("nvrtcGetProgramLog", n.getLog(prog, &buf[0])); err != nil {
		return "", err
	}
	return strings.TrimSpace(goString(&buf[0], len(buf))), nil
}
