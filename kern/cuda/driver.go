package cuda

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// LibcudaEnv names the environment variable that, when set, is the path
// (or file name) of the CUDA driver library to load instead of
// libcuda.so.1 or libcuda.so.
const LibcudaEnv = "BNRUN_LIBCUDA"

// libcudaNames are the driver library's names, in the order tried.
var libcudaNames = []string{"libcuda.so.1", "libcuda.so"}

// Device attributes (CUdevice_attribute) read by Devices.
const (
	attrMultiprocessorCount    = 16
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
)

// driverAPI holds the driver functions bound from libcuda. Each field's
// signature mirrors its C prototype: CUdevice is int32, CUcontext,
// CUstream, CUmodule and CUfunction are handles (uintptr), CUdeviceptr is
// uint64 and size_t is uintptr.
type driverAPI struct {
	lib string // the library loaded

	cuInit                    func(flags uint32) Result
	cuDriverGetVersion        func(version *int32) Result
	cuDeviceGetCount          func(count *int32) Result
	cuDeviceGet               func(dev *int32, ordinal int32) Result
	cuDeviceGetName           func(name *byte, size int32, dev int32) Result
	cuDeviceGetAttribute      func(value *int32, attr int32, dev int32) Result
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) Result
	cuDevicePrimaryCtxRelease func(dev int32) Result
	cuCtxSetCurrent           func(ctx uintptr) Result
	cuMemAlloc                func(dptr *uint64, size uintptr) Result
	cuMemFree                 func(dptr uint64) Result
	cuMemcpyHtoDAsync         func(dst uint64, src unsafe.Pointer, size uintptr, stream uintptr) Result
	cuMemcpyDtoHAsync         func(dst unsafe.Pointer, src uint64, size uintptr, stream uintptr) Result
	cuMemsetD32Async          func(dst uint64, value uint32, count uintptr, stream uintptr) Result
	cuStreamCreate            func(stream *uintptr, flags uint32) Result
	cuStreamSynchronize       func(stream uintptr) Result
	cuStreamDestroy           func(stream uintptr) Result
	cuModuleLoadDataEx        func(mod *uintptr, image unsafe.Pointer, numOptions uint32, options unsafe.Pointer, values unsafe.Pointer) Result
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name *byte) Result
	cuModuleUnload            func(mod uintptr) Result
	cuLaunchKernel            func(fn uintptr, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) Result
	cuGetErrorName            func(code Result, name **byte) Result
	cuGetErrorString          func(code Result, desc **byte) Result
}

// symbols lists the functions to bind: each field with the symbol names
// to try, in order (versioned names first).
func (d *driverAPI) symbols() []struct {
	names []string
	fptr  any
} {
	type sym = struct {
		names []string
		fptr  any
	}
	return []sym{
		{[]string{"cuGetErrorName"}, &d.cuGetErrorName},
		{[]string{"cuGetErrorString"}, &d.cuGetErrorString},
		{[]string{"cuInit"}, &d.cuInit},
		{[]string{"cuDriverGetVersion"}, &d.cuDriverGetVersion},
		{[]string{"cuDeviceGetCount"}, &d.cuDeviceGetCount},
		{[]string{"cuDeviceGet"}, &d.cuDeviceGet},
		{[]string{"cuDeviceGetName"}, &d.cuDeviceGetName},
		{[]string{"cuDeviceGetAttribute"}, &d.cuDeviceGetAttribute},
		{[]string{"cuDevicePrimaryCtxRetain"}, &d.cuDevicePrimaryCtxRetain},
		{[]string{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, &d.cuDevicePrimaryCtxRelease},
		{[]string{"cuCtxSetCurrent"}, &d.cuCtxSetCurrent},
		{[]string{"cuMemAlloc_v2"}, &d.cuMemAlloc},
		{[]string{"cuMemFree_v2"}, &d.cuMemFree},
		{[]string{"cuMemcpyHtoDAsync_v2"}, &d.cuMemcpyHtoDAsync},
		{[]string{"cuMemcpyDtoHAsync_v2"}, &d.cuMemcpyDtoHAsync},
		{[]string{"cuMemsetD32Async"}, &d.cuMemsetD32Async},
		{[]string{"cuStreamCreate"}, &d.cuStreamCreate},
		{[]string{"cuStreamSynchronize"}, &d.cuStreamSynchronize},
		{[]string{"cuStreamDestroy_v2", "cuStreamDestroy"}, &d.cuStreamDestroy},
		{[]string{"cuModuleLoadDataEx"}, &d.cuModuleLoadDataEx},
		{[]string{"cuModuleGetFunction"}, &d.cuModuleGetFunction},
		{[]string{"cuModuleUnload"}, &d.cuModuleUnload},
		{[]string{"cuLaunchKernel"}, &d.cuLaunchKernel},
	}
}

// check turns the status r of driver function fn into an error (nil on
// success), named by the driver when it can.
func (d *driverAPI) check(fn string, r Result) error {
	if r == Success {
		return nil
	}
	e := &Error{Func: fn, Code: r, Name: resultNames[r]}
	if d != nil && d.cuGetErrorName != nil {
		var p *byte
		if d.cuGetErrorName(r, &p) == Success && p != nil {
			e.Name = goString(p, 256)
		}
		if d.cuGetErrorString(r, &p) == Success && p != nil {
			e.Desc = goString(p, 1024)
		}
	}
	if e.Name == "" {
		e.Name = fmt.Sprintf("CUresult(%d)", int32(r))
	}
	return e
}

// loadDriver opens the first of names that loads, binds every function
// and initialises the driver (cuInit). env is the variable the names came
// from, or "".
func loadDriver(names []string, env string) (*driverAPI, error) {
	h, lib, err := dlopen(names)
	if err != nil {
		return nil, &LibraryError{Lib: "libcuda", Tried: names, Env: env, Err: err}
	}
	d := &driverAPI{lib: lib}
	for _, s := range d.symbols() {
		for i, name := range s.names {
			err = bind(h, lib, name, s.fptr)
			if err == nil || i == len(s.names)-1 {
				break
			}
		}
		if err != nil {
			return nil, &LibraryError{Lib: "libcuda", Tried: []string{lib}, Env: env, Err: err}
		}
	}
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return nil, err
	}
	return d, nil
}

// lazyDriver loads the driver once, on first use.
type lazyDriver struct {
	once sync.Once
	api  *driverAPI
	err  error
}

// get returns the driver, loading it on the first call from $BNRUN_LIBCUDA
// or the default names; a failure is kept and returned by every call.
func (l *lazyDriver) get() (*driverAPI, error) {
	l.once.Do(func() {
		names, env := libcudaNames, ""
		if p := os.Getenv(LibcudaEnv); p != "" {
			names, env = []string{p}, LibcudaEnv
		}
		l.api, l.err = loadDriver(names, env)
	})
	return l.api, l.err
}

// theDriver is the process's driver. Tests replace it to load another
// library.
var theDriver = &lazyDriver{}

// Available reports whether CUDA is usable: libcuda loads, initialises
// and sees at least one device. It returns the reason when not, e.g.
// "cuda: cannot load libcuda from libcuda.so.1, libcuda.so: ..." or
// "cuda: cuInit: CUDA_ERROR_NO_DEVICE (100)".
func Available() error {
	d, err := theDriver.get()
	if err != nil {
		return err
	}
	_, err = deviceCount(d)
	return err
}

// deviceCount returns the number of devices, an error when there are none.
func deviceCount(d *driverAPI) (int, error) {
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, d.check("cuDeviceGetCount", ErrNoDevice)
	}
	return int(n), nil
}

// DriverVersion returns the CUDA version the driver supports, as
// 1000*major + 10*minor (12040 for 12.4).
func DriverVersion() (int, error) {
	d, err := theDriver.get()
	if err != nil {
		return 0, err
	}
	var v int32
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

// Device describes a CUDA device.
type Device struct {
	Ordinal      int    // the driver's device number
	Name         string // e.g. "NVIDIA H100 80GB HBM3"
	Major, Minor int    // compute capability, e.g. 9 and 0
	SMs          int    // streaming multiprocessors
}

// String returns e.g. "NVIDIA H100 80GB HBM3 (compute capability 9.0, 132 SMs)".
func (d Device) String() string {
	return fmt.Sprintf("%s (compute capability %d.%d, %d SMs)", d.Name, d.Major, d.Minor, d.SMs)
}

// Devices lists the CUDA devices, or returns why there are none usable.
func Devices() ([]Device, error) {
	d, err := theDriver.get()
	if err != nil {
		return nil, err
	}
	n, err := deviceCount(d)
	if err != nil {
		return nil, err
	}
	devs := make([]Device, n)
	for i := range devs {
		if devs[i], err = d.device(i); err != nil {
			return nil, err
		}
	}
	return devs, nil
}

// device describes device ordinal i.
func (d *driverAPI) device(i int) (Device, error) {
	var h int32
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&h, int32(i))); err != nil {
		return Device{}, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), h)); err != nil {
		return Device{}, err
	}
	dev := Device{Ordinal: i, Name: goString(&name[0], len(name))}
	for _, a := range []struct {
		attr int32
		dst  *int
	}{
		{attrComputeCapabilityMajor, &dev.Major},
		{attrComputeCapabilityMinor, &dev.Minor},
		{attrMultiprocessorCount, &dev.SMs},
	} {
		var v int32
		if err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&v, a.attr, h)); err != nil {
			return Device{}, err
		}
		*a.dst = int(v)
	}
	return dev, nil
}
