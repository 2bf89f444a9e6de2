package cuda

import (
	_ "embed"
	"fmt"
	"sync"
)

// kernelSource is the CUDA C source of every kernel.
//
//go:embed kernels.cu
var kernelSource string

// kernelNames are the kernels of kernels.cu.
var kernelNames = []string{
	"conv2d_igemm",
	"conv2d_depthwise",
	"conv3d_igemm",
	"conv3d_depthwise",
	"gemm",
	"maxpool3d",
	"avgpool3d",
	"global_pool",
	"affine_act",
	"unary_act",
	"binary_bcast",
	"concat_copy",
	"softmax",
	"pad_nd",
	"conv_transpose2d",
	"conv_transpose3d",
	"resize_axis",
	"resize_hw",
	"strided_copy",
	"reduce_thread",
	"reduce_block",
}

// ptxEntry is kernels.cu compiled for one architecture.
type ptxEntry struct {
	once sync.Once
	ptx  []byte
	err  error
}

// ptxCache maps an architecture ("compute_80") to its *ptxEntry: each is
// compiled once per process.
var ptxCache sync.Map

// KernelPTX returns kernels.cu compiled by NVRTC for arch (e.g.
// "compute_80"), compiling it on the first call for that arch.
func KernelPTX(arch string) ([]byte, error) {
	e, _ := ptxCache.LoadOrStore(arch, &ptxEntry{})
	ent := e.(*ptxEntry)
	ent.once.Do(func() {
		var log string
		ent.ptx, log, ent.err = Compile(kernelSource, "kernels.cu", arch)
		if ent.err != nil && log != "" {
			ent.err = fmt.Errorf("%w\n%s", ent.err, log)
		}
	})
	return ent.ptx, ent.err
}

// Arch returns the virtual architecture to compile for on device d: its
// own (compute_86 for 8.6) when NVRTC supports it, else the newest one
// NVRTC supports below it, whose PTX the driver JIT-compiles for d. It
// fails when NVRTC cannot load or knows no architecture up to d's.
func Arch(d Device) (string, error) {
	want := 10*d.Major + d.Minor
	archs, err := NVRTCArchs()
	if err != nil {
		return "", err
	}
	if archs == nil { // an NVRTC too old to tell: try the device's own
		return fmt.Sprintf("compute_%d", want), nil
	}
	best := 0
	for _, a := range archs {
		if a <= want {
			best = a
		}
	}
	if best == 0 {
		return "", fmt.Errorf("cuda: NVRTC supports none of the architectures up to compute_%d (it has %v)", want, archs)
	}
	return fmt.Sprintf("compute_%d", best), nil
}

// Kernels are kernels.cu's functions, loaded in one context. Its methods
// (in ops.go) launch them.
type Kernels struct {
	Arch string // the architecture the PTX was compiled for
	mod  *module
	fn   map[string]Function
}

// Kernels compiles (once per process and architecture) and loads (once
// per context) the kernels.
func (c *Context) Kernels() (*Kernels, error) {
	c.kernelsOnce.Do(func() { c.kernels, c.kernelsErr = c.loadKernels() })
	return c.kernels, c.kernelsErr
}

// loadKernels compiles kernels.cu for the device and loads its functions.
func (c *Context) loadKernels() (*Kernels, error) {
	arch, err := Arch(c.dev)
	if err != nil {
		return nil, err
	}
	ptx, err := KernelPTX(arch)
	if err != nil {
		return nil, err
	}
	mod, err := c.loadModule(ptx)
	if err != nil {
		return nil, err
	}
	k := &Kernels{Arch: arch, mod: mod, fn: make(map[string]Function, len(kernelNames))}
	for _, name := range kernelNames {
		f, err := mod.function(name)
		if err != nil {
			_ = mod.unload()
			return nil, err
		}
		k.fn[name] = f
	}
	return k, nil
}
