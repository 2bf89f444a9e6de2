// fakecuda: a CPU stand-in for libcuda.so.1, for testing kern/cuda without a
// GPU. It implements the driver functions kern/cuda binds and runs
// kernels.cu's kernels on the CPU: each launch runs its blocks one after
// another on the calling thread, each CUDA thread of a block a coroutine
// (ucontext) with a stack of its own, __syncthreads handing control back
// to the block's scheduler, which resumes every thread in turn once all
// have reached the barrier; __shared__ arrays become function statics.
// Blocks after the first of a kernel that never synchronises run their
// threads one after another, without coroutines (see cuLaunchKernel).
//
// Memory is checked a little: every allocation ends at an inaccessible
// page (an overrun crashes) and starts filled with NaNs (an output left
// unwritten shows), modules must be PTX that declares the kernels asked
// for, and a launch must pass exactly the kernel's number of parameters
// (kern/cuda ends its parameter array with a null pointer). A block whose
// threads do not all reach the same number of __syncthreads aborts.
//
// Build (TestKernelsEmulated does this when g++ is present):
//
//   g++ -std=c++17 -O1 -shared -fPIC -pthread -o libfakecuda.so fakecuda.cpp
//
// and point BNRUN_LIBCUDA at libfakecuda.so.

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

// ---- The CUDA built-ins kernels.cu uses -------------------------------------

struct dim3 {
    unsigned x, y, z;
};

static dim3 emu_thread_idx, emu_block_idx;
static dim3 emu_block_dim, emu_grid_dim;

// A block's threads as coroutines: emu_ctx[t] is thread t's context,
// emu_sched the scheduler's, emu_current the thread running.
static std::vector<ucontext_t> emu_ctx;
static ucontext_t emu_sched;
static unsigned emu_current;
// emu_syncs counts the __syncthreads calls of a launch's first block;
// emu_serial is set while the launch's other blocks run their threads one
// after another without coroutines, where a barrier cannot be met.
static long emu_syncs;
static bool emu_serial;

#define threadIdx emu_thread_idx
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim
#define __global__
#define __device__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __shared__ static

static inline void __syncthreads()
{
    if (emu_serial) {
        fprintf(stderr, "fakecuda: __syncthreads in a block after the first, which called none: not emulated\n");
        abort();
    }
    emu_syncs++;
    swapcontext(&emu_ctx[emu_current], &emu_sched); // wait at the barrier
}

// __fmul_rn and __fadd_rn: one IEEE operation each, rounded to nearest
// (this file is built without FMA, so nothing is contracted).
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }

#include "../../kernels.cu"

// ---- Kernel table ---------------------------------------------------------------

typedef void (*Runner)(void** params);

// run_impl calls kernel f with its parameters read through params, as the
// driver does.
template <typename... A, size_t... I>
static void run_impl(void (*f)(A...), void** params, std::index_sequence<I...>)
{
    f(*static_cast<A*>(params[I])...);
}

// arity returns a kernel's number of parameters.
template <typename... A>
static constexpr size_t arity(void (*)(A...)) { return sizeof...(A); }

#define KERNEL(name) \
    { #name, { [](void** p) { run_impl(name, p, std::make_index_sequence<arity(name)>{}); }, arity(name) } }

struct Kernel {
    Runner run;
    size_t nparams;
};

static const std::map<std::string, Kernel> kernels = {
    KERNEL(conv2d_igemm), KERNEL(conv2d_depthwise), KERNEL(conv3d_igemm), KERNEL(conv3d_depthwise),
    KERNEL(gemm), KERNEL(maxpool3d), KERNEL(avgpool3d), KERNEL(global_pool), KERNEL(affine_act),
    KERNEL(unary_act), KERNEL(binary_bcast), KERNEL(concat_copy), KERNEL(softmax), KERNEL(pad_nd),
    KERNEL(conv_transpose2d), KERNEL(conv_transpose3d), KERNEL(resize_axis), KERNEL(resize_hw), KERNEL(strided_copy),
    KERNEL(reduce_thread), KERNEL(reduce_block),
};

// ---- Driver API -----------------------------------------------------------------

typedef int CUresult;
enum {
    OK = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    INVALID_PTX = 218,
    NOT_FOUND = 500,
    LAUNCH_FAILED = 719,
};

static CUresult fail(CUresult r, const char* what)
{
    fprintf(stderr, "fakecuda: %s\n", what);
    return r;
}

struct Module {
    std::string ptx;
};

struct Function {
    const Kernel* k;
    std::string name;
};

static std::mutex mu;
static std::map<uint64_t, std::pair<void*, size_t>> allocations; // ptr -> (mapping, length)

extern "C" {

CUresult cuGetErrorName(CUresult r, const char** s)
{
    switch (r) {
    case OK: *s = "CUDA_SUCCESS"; break;
    case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
    case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case INVALID_PTX: *s = "CUDA_ERROR_INVALID_PTX"; break;
    case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
    case LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
    default: return INVALID_VALUE;
    }
    return OK;
}

CUresult cuGetErrorString(CUresult r, const char** s)
{
    (void)r;
    *s = "reported by fakecuda";
    return OK;
}

CUresult cuInit(unsigned flags) { return flags == 0 ? OK : INVALID_VALUE; }
CUresult cuDriverGetVersion(int* v) { *v = 12000; return OK; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return OK; }
CUresult cuDeviceGet(int* d, int ordinal) { *d = ordinal; return ordinal == 0 ? OK : INVALID_VALUE; }

CUresult cuDeviceGetName(char* name, int len, int dev)
{
    snprintf(name, len, "fakecuda CPU emulator");
    return dev == 0 ? OK : INVALID_VALUE;
}

CUresult cuDeviceGetAttribute(int* v, int attr, int dev)
{
    switch (attr) {
    case 16: *v = 4; break;  // multiprocessors
    case 75: *v = 8; break;  // compute capability major
    case 76: *v = 0; break;  // minor
    default: return INVALID_VALUE;
    }
    return dev == 0 ? OK : INVALID_VALUE;
}

static int the_context;
CUresult cuDevicePrimaryCtxRetain(void** ctx, int dev) { *ctx = &the_context; return dev == 0 ? OK : INVALID_VALUE; }
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { return dev == 0 ? OK : INVALID_VALUE; }
CUresult cuCtxSetCurrent(void* ctx) { return ctx == &the_context ? OK : fail(INVALID_VALUE, "unknown context"); }

CUresult cuMemAlloc_v2(uint64_t* p, size_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t body = (size + page - 1) / page * page;
    char* m = (char*)mmap(nullptr, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        return OUT_OF_MEMORY;
    }
    mprotect(m + body, page, PROT_NONE); // the guard page
    char* start = m + body - size;       // the buffer ends at the guard
    memset(start, 0xff, size);           // NaNs
    std::lock_guard<std::mutex> g(mu);
    *p = (uint64_t)(uintptr_t)start;
    allocations[*p] = {m, body + page};
    return OK;
}

CUresult cuMemFree_v2(uint64_t p)
{
    std::lock_guard<std::mutex> g(mu);
    auto it = allocations.find(p);
    if (it == allocations.end()) {
        return fail(INVALID_VALUE, "cuMemFree_v2 of an unknown pointer");
    }
    munmap(it->second.first, it->second.second);
    allocations.erase(it);
    return OK;
}

CUresult cuMemcpyHtoDAsync_v2(uint64_t dst, const void* src, size_t n, void*)
{
    memcpy((void*)(uintptr_t)dst, src, n);
    return OK;
}

CUresult cuMemcpyDtoHAsync_v2(void* dst, uint64_t src, size_t n, void*)
{
    memcpy(dst, (const void*)(uintptr_t)src, n);
    return OK;
}

CUresult cuMemsetD32Async(uint64_t dst, unsigned v, size_t n, void*)
{
    unsigned* d = (unsigned*)(uintptr_t)dst;
    for (size_t i = 0; i < n; i++) {
        d[i] = v;
    }
    return OK;
}

static int a_stream;
CUresult cuStreamCreate(void** s, unsigned) { *s = &a_stream; return OK; }
CUresult cuStreamSynchronize(void*) { return OK; }
CUresult cuStreamDestroy_v2(void*) { return OK; }

CUresult cuModuleLoadDataEx(void** mod, const void* image, unsigned, int*, void**)
{
    const char* ptx = (const char*)image;
    if (strstr(ptx, ".version") == nullptr || strstr(ptx, ".target") == nullptr) {
        return fail(INVALID_PTX, "the module image is not PTX");
    }
    *mod = new Module{ptx};
    return OK;
}

CUresult cuModuleGetFunction(void** fn, void* mod, const char* name)
{
    Module* m = (Module*)mod;
    std::string entry = std::string(".entry ") + name + "(";
    auto it = kernels.find(name);
    if (m->ptx.find(entry) == std::string::npos || it == kernels.end()) {
        return fail(NOT_FOUND, (std::string("no kernel ") + name).c_str());
    }
    *fn = new Function{&it->second, name};
    return OK;
}

CUresult cuModuleUnload(void* mod)
{
    delete (Module*)mod;
    return OK;
}

// block_of returns the index of the b-th block of the grid, x fastest.
static dim3 block_of(unsigned b)
{
    unsigned gx = emu_grid_dim.x, gy = emu_grid_dim.y;
    return dim3{b % gx, (b / gx) % gy, b / (gx * gy)};
}

// thread_of returns the index of the t-th thread of a block, x fastest.
static dim3 thread_of(unsigned t)
{
    unsigned bx = emu_block_dim.x, by = emu_block_dim.y;
    return dim3{t % bx, (t / bx) % by, t / (bx * by)};
}

// The kernel and parameters of the launch that the coroutines run.
static const Kernel* emu_kernel;
static void** emu_params;

// coroutine_main runs the kernel as the current thread; returning resumes
// the scheduler (uc_link).
static void coroutine_main() { emu_kernel->run(emu_params); }

// emu_stack_size is each coroutine's stack.
static const size_t emu_stack_size = 256 << 10;
static std::vector<char> emu_stacks;

// run_block runs block b with n threads as coroutines: in each round every
// thread not yet done runs to its next __syncthreads or to its end; a round
// in which some ended and others wait at a barrier is a kernel error.
static void run_block(unsigned b, unsigned n)
{
    emu_block_idx = block_of(b);
    emu_ctx.resize(n);
    emu_stacks.resize(n * emu_stack_size);
    std::vector<bool> done(n);
    for (unsigned t = 0; t < n; t++) {
        getcontext(&emu_ctx[t]);
        emu_ctx[t].uc_stack.ss_sp = &emu_stacks[t * emu_stack_size];
        emu_ctx[t].uc_stack.ss_size = emu_stack_size;
        emu_ctx[t].uc_link = &emu_sched;
        makecontext(&emu_ctx[t], coroutine_main, 0);
    }
    for (unsigned left = n; left > 0;) {
        unsigned waiting = 0;
        for (unsigned t = 0; t < n; t++) {
            if (done[t]) {
                continue;
            }
            long before = emu_syncs;
            emu_current = t;
            emu_thread_idx = thread_of(t);
            swapcontext(&emu_sched, &emu_ctx[t]);
            if (emu_syncs == before) { // it returned
                done[t] = true;
                left--;
            } else {
                waiting++;
            }
        }
        if (waiting > 0 && waiting != left) {
            fprintf(stderr, "fakecuda: block (%u,%u,%u): some threads ended while others wait at __syncthreads\n",
                    emu_block_idx.x, emu_block_idx.y, emu_block_idx.z);
            abort();
        }
    }
}

CUresult cuLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void*, void** params, void** extra)
{
    Function* f = (Function*)fn;
    if (extra != nullptr || shared != 0) {
        return fail(INVALID_VALUE, "extra parameters and dynamic shared memory are not emulated");
    }
    for (size_t i = 0; i < f->k->nparams; i++) {
        if (params[i] == nullptr) {
            fprintf(stderr, "fakecuda: %s: parameter %zu missing (it takes %zu)\n", f->name.c_str(), i, f->k->nparams);
            return INVALID_VALUE;
        }
    }
    if (params[f->k->nparams] != nullptr) {
        fprintf(stderr, "fakecuda: %s: more than %zu parameters\n", f->name.c_str(), f->k->nparams);
        return INVALID_VALUE;
    }
    unsigned n = bx * by * bz;
    if (n == 0 || n > 1024 || gx == 0 || gy == 0 || gz == 0) {
        return fail(INVALID_VALUE, "bad launch size");
    }
    std::lock_guard<std::mutex> g(mu);
    emu_block_dim = dim3{bx, by, bz};
    emu_grid_dim = dim3{gx, gy, gz};
    emu_kernel = f->k;
    emu_params = params;
    unsigned blocks = gx * gy * gz;
    // The first block runs as coroutines. When it calls no __syncthreads,
    // its threads are independent (kernels.cu's kernels synchronise in
    // every block or in none), and the other blocks run thread after
    // thread, without switching contexts; a __syncthreads there aborts.
    emu_syncs = 0;
    run_block(0, n);
    if (emu_syncs > 0) {
        for (unsigned b = 1; b < blocks; b++) {
            run_block(b, n);
        }
        return OK;
    }
    emu_serial = true;
    for (unsigned b = 1; b < blocks; b++) {
        emu_block_idx = block_of(b);
        for (unsigned t = 0; t < n; t++) {
            emu_thread_idx = thread_of(t);
            f->k->run(params);
        }
    }
    emu_serial = false;
    return OK;
}

} // extern "C"
