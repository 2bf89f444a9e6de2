package cuda

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Context is a device's primary context, the one the CUDA runtime would
// use too. Its methods may be called from any goroutine: each call makes
// the context current on a locked OS thread first.
type Context struct {
	api *driverAPI
	dev Device
	h   int32   // CUdevice
	ctx uintptr // CUcontext

	kernelsOnce sync.Once
	kernels     *Kernels
	kernelsErr  error
}

// Open retains the primary context of device ordinal (0 is the first).
func Open(ordinal int) (*Context, error) {
	d, err := theDriver.get()
	if err != nil {
		return nil, err
	}
	return openWith(d, ordinal)
}

// openWith is Open on driver d.
func openWith(d *driverAPI, ordinal int) (*Context, error) {
	n, err := deviceCount(d)
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: no device %d (found %d)", ordinal, n)
	}
	dev, err := d.device(ordinal)
	if err != nil {
		return nil, err
	}
	c := &Context{api: d, dev: dev}
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&c.h, int32(ordinal))); err != nil {
		return nil, err
	}
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&c.ctx, c.h)); err != nil {
		return nil, err
	}
	return c, nil
}

// Device describes the context's device.
func (c *Context) Device() Device { return c.dev }

// Close unloads the kernels and releases the primary context. Buffers and
// streams must be freed first.
func (c *Context) Close() error {
	var err error
	c.kernelsOnce.Do(func() {}) // no loading after Close
	if c.kernels != nil {
		err = c.kernels.mod.unload()
	}
	c.kernels, c.kernelsErr = nil, errors.New("cuda: the context is closed")
	if e := c.api.check("cuDevicePrimaryCtxRelease", c.api.cuDevicePrimaryCtxRelease(c.h)); err == nil {
		err = e
	}
	return err
}

// do runs f with the context current on this goroutine's OS thread,
// locked for the duration: CUDA keeps the current context per thread.
func (c *Context) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := c.api.check("cuCtxSetCurrent", c.api.cuCtxSetCurrent(c.ctx)); err != nil {
		return err
	}
	return f()
}

// Buffer is a range of device memory. The zero Buffer is the null pointer,
// which kernels read as an absent optional input.
type Buffer struct {
	ptr  uint64 // CUdeviceptr
	size int    // bytes
}

// Ptr returns the device address.
func (b Buffer) Ptr() uint64 { return b.ptr }

// Size returns the size in bytes.
func (b Buffer) Size() int { return b.size }

// IsNil reports whether b is the null pointer.
func (b Buffer) IsNil() bool { return b.ptr == 0 }

// Slice returns the n bytes of b from byte off, which must lie within b
// (it panics otherwise, as slicing does).
func (b Buffer) Slice(off, n int) Buffer {
	if off < 0 || n < 0 || off+n > b.size {
		panic(fmt.Sprintf("cuda: Buffer.Slice(%d, %d) of a %d-byte buffer", off, n, b.size))
	}
	return Buffer{ptr: b.ptr + uint64(off), size: n}
}

// Alloc allocates bytes of device memory (uninitialised).
func (c *Context) Alloc(bytes int) (Buffer, error) {
	if bytes <= 0 {
		return Buffer{}, fmt.Errorf("cuda: Alloc(%d): size must be positive", bytes)
	}
	var p uint64
	err := c.do(func() error { return c.api.check("cuMemAlloc_v2", c.api.cuMemAlloc(&p, uintptr(bytes))) })
	if err != nil {
		return Buffer{}, err
	}
	return Buffer{ptr: p, size: bytes}, nil
}

// Free frees a buffer from Alloc; freeing the null Buffer does nothing.
func (c *Context) Free(b Buffer) error {
	if b.IsNil() {
		return nil
	}
	return c.do(func() error { return c.api.check("cuMemFree_v2", c.api.cuMemFree(b.ptr)) })
}

// Stream is a CUDA stream: work on it runs in order, asynchronously to the
// host, concurrently with other streams. Runs use one each.
type Stream struct {
	c *Context
	h uintptr // CUstream
}

// streamNonBlocking is CU_STREAM_NON_BLOCKING: no implicit
// synchronisation with the legacy default stream.
const streamNonBlocking = 1

// NewStream creates a stream.
func (c *Context) NewStream() (*Stream, error) {
	s := &Stream{c: c}
	err := c.do(func() error { return c.api.check("cuStreamCreate", c.api.cuStreamCreate(&s.h, streamNonBlocking)) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close waits for the stream's work and destroys it.
func (s *Stream) Close() error {
	return s.c.do(func() error {
		err := s.c.api.check("cuStreamSynchronize", s.c.api.cuStreamSynchronize(s.h))
		if e := s.c.api.check("cuStreamDestroy_v2", s.c.api.cuStreamDestroy(s.h)); err == nil {
			err = e
		}
		return err
	})
}

// Sync waits until the stream's work is done; a kernel's failure shows
// here.
func (s *Stream) Sync() error {
	return s.c.do(func() error { return s.c.api.check("cuStreamSynchronize", s.c.api.cuStreamSynchronize(s.h)) })
}

// CopyIn queues a copy of src into dst (whose size must be at least
// 4*len(src) bytes). Go memory is pageable, so the driver stages src
// before CopyIn returns: src may be reused at once.
func (s *Stream) CopyIn(dst Buffer, src []float32) error {
	n := 4 * len(src)
	if n == 0 {
		return nil
	}
	if n > dst.size {
		return fmt.Errorf("cuda: CopyIn of %d bytes into a %d-byte buffer", n, dst.size)
	}
	err := s.c.do(func() error {
		return s.c.api.check("cuMemcpyHtoDAsync_v2", s.c.api.cuMemcpyHtoDAsync(dst.ptr, unsafe.Pointer(&src[0]), uintptr(n), s.h))
	})
	runtime.KeepAlive(src)
	return err
}

// CopyOut copies len(dst) float32s from src into dst, after the stream's
// earlier work, and waits for the copy.
func (s *Stream) CopyOut(dst []float32, src Buffer) error {
	n := 4 * len(dst)
	if n == 0 {
		return nil
	}
	if n > src.size {
		return fmt.Errorf("cuda: CopyOut of %d bytes from a %d-byte buffer", n, src.size)
	}
	err := s.c.do(func() error {
		err := s.c.api.check("cuMemcpyDtoHAsync_v2", s.c.api.cuMemcpyDtoHAsync(unsafe.Pointer(&dst[0]), src.ptr, uintptr(n), s.h))
		if err != nil {
			return err
		}
		return s.c.api.check("cuStreamSynchronize", s.c.api.cuStreamSynchronize(s.h))
	})
	runtime.KeepAlive(dst)
	return err
}

// Fill queues setting every 32-bit word of b to v's bits (Fill(b, 0)
// zeroes it); b's size must be a multiple of 4.
func (s *Stream) Fill(b Buffer, v float32) error {
	if b.size%4 != 0 {
		return fmt.Errorf("cuda: Fill of a %d-byte buffer, not a multiple of 4", b.size)
	}
	return s.c.do(func() error {
		return s.c.api.check("cuMemsetD32Async", s.c.api.cuMemsetD32Async(b.ptr, math.Float32bits(v), uintptr(b.size/4), s.h))
	})
}

// module is a loaded PTX module.
type module struct {
	c *Context
	h uintptr // CUmodule
}

// JIT options (CUjit_option) for cuModuleLoadDataEx.
const (
	jitErrorLogBuffer     = 5
	jitErrorLogBufferSize = 6
)

// loadModule JIT-compiles PTX text for the device and loads it. A failure
// carries the JIT's error log.
func (c *Context) loadModule(ptx []byte) (*module, error) {
	image := make([]byte, len(ptx)+1) // NUL-terminated copy
	copy(image, ptx)
	logBuf := make([]byte, 8192)
	var pin runtime.Pinner
	pin.Pin(&logBuf[0])
	defer pin.Unpin()
	opts := []int32{jitErrorLogBuffer, jitErrorLogBufferSize}
	vals := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), uintptr(len(logBuf))}
	m := &module{c: c}
	err := c.do(func() error {
		r := c.api.cuModuleLoadDataEx(&m.h, unsafe.Pointer(&image[0]), uint32(len(opts)), unsafe.Pointer(&opts[0]), unsafe.Pointer(&vals[0]))
		return c.api.check("cuModuleLoadDataEx", r)
	})
	runtime.KeepAlive(image)
	runtime.KeepAlive(opts)
	runtime.KeepAlive(vals)
	if err != nil {
		if log := goString(&logBuf[0], len(logBuf)); log != "" {
			err = fmt.Errorf("%w\n%s", err, log)
		}
		return nil, err
	}
	return m, nil
}

// function looks up the kernel name in the module.
func (m *module) function(name string) (Function, error) {
	f := Function{name: name}
	cname := cString(name)
	err := m.c.do(func() error {
		return m.c.api.check("cuModuleGetFunction("+name+")", m.c.api.cuModuleGetFunction(&f.h, m.h, &cname[0]))
	})
	runtime.KeepAlive(cname)
	return f, err
}

// unload unloads the module.
func (m *module) unload() error {
	return m.c.do(func() error { return m.c.api.check("cuModuleUnload", m.c.api.cuModuleUnload(m.h)) })
}

// Function is a kernel of a loaded module.
type Function struct {
	h    uintptr // CUfunction
	name string
}

// Name returns the kernel's name.
func (f Function) Name() string { return f.name }

// Dim3 is a grid or block size; a zero Y or Z counts as 1.
type Dim3 struct{ X, Y, Z int }

// dims returns d's sizes with zeros as 1, checking that they are positive
// and fit in 32 bits.
func (d Dim3) dims() (x, y, z uint32, err error) {
	v := [3]int{d.X, d.Y, d.Z}
	for i := 1; i < 3; i++ {
		if v[i] == 0 {
			v[i] = 1
		}
	}
	for _, n := range v {
		if n <= 0 || n > math.MaxInt32 {
			return 0, 0, 0, fmt.Errorf("cuda: launch size %v out of range", d)
		}
	}
	return uint32(v[0]), uint32(v[1]), uint32(v[2]), nil
}

// Launch queues kernel f on grid × block threads with shared bytes of
// dynamic shared memory. args are the kernel's parameters, in order:
// Buffer (a pointer; the zero Buffer is null), int32, uint32, int (as a C
// int, which it must fit), bool (as a C int, 0 or 1), float32, uint64, or
// []int32 (a C struct of ints, passed by value).
func (s *Stream) Launch(f Function, grid, block Dim3, shared int, args ...any) error {
	gx, gy, gz, err := grid.dims()
	if err != nil {
		return err
	}
	bx, by, bz, err := block.dims()
	if err != nil {
		return err
	}
	vals, offs, err := packParams(args)
	if err != nil {
		return fmt.Errorf("cuda: launching %s: %w", f.name, err)
	}
	// The driver reads each parameter through a pointer: ptrs[i] points
	// at parameter i inside vals, pinned while the driver may read it.
	var pin runtime.Pinner
	pin.Pin(&vals[0])
	defer pin.Unpin()
	ptrs := make([]uintptr, len(args)+1)
	for i, o := range offs {
		ptrs[i] = uintptr(unsafe.Pointer(&vals[o]))
	}
	err = s.c.do(func() error {
		r := s.c.api.cuLaunchKernel(f.h, gx, gy, gz, bx, by, bz, uint32(shared), s.h, unsafe.Pointer(&ptrs[0]), nil)
		return s.c.api.check("cuLaunchKernel("+f.name+")", r)
	})
	runtime.KeepAlive(ptrs)
	runtime.KeepAlive(vals)
	return err
}

// packParams lays args out in 8-byte slots, each parameter starting a
// slot, and returns the slots and each parameter's first slot. Values
// narrower than 8 bytes sit in their slot's low bytes, which is where a
// little-endian machine (amd64, arm64) reads them.
func packParams(args []any) (vals []uint64, offs []int, err error) {
	offs = make([]int, len(args))
	n := 0
	for i, a := range args {
		offs[i] = n
		if v, ok := a.([]int32); ok {
			n += max(1, (len(v)+1)/2)
		} else {
			n++
		}
	}
	vals = make([]uint64, max(n, 1))
	for i, a := range args {
		o := offs[i]
		switch v := a.(type) {
		case Buffer:
			vals[o] = v.ptr
		case int32:
			vals[o] = uint64(uint32(v))
		case uint32:
			vals[o] = uint64(v)
		case int:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, nil, fmt.Errorf("parameter %d: %d does not fit in a C int", i, v)
			}
			vals[o] = uint64(uint32(int32(v)))
		case bool:
			if v {
				vals[o] = 1
			}
		case float32:
			vals[o] = uint64(math.Float32bits(v))
		case uint64:
			vals[o] = v
		case []int32:
			if len(v) > 0 {
				copy(unsafe.Slice((*int32)(unsafe.Pointer(&vals[o])), len(v)), v)
			}
		default:
			return nil, nil, fmt.Errorf("parameter %d has unsupported type %T", i, a)
		}
	}
	return vals, offs, nil
}
