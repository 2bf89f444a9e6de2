// bnrun's CUDA kernels, compiled at run time by NVRTC (see doc.go).
//
// Conventions:
//   - float32 tensors, NCHW, row-major, densely packed;
//   - indexes are 32-bit ints: the host checks that every tensor has fewer
//     than 2^31 elements;
//   - no fast-math intrinsics: divisions and expf/tanhf are the IEEE /
//     CUDA-math-library versions, so results stay close to the CPU tiers;
//   - every kernel is extern "C" so that its PTX entry keeps its name;
//   - outputs may alias an input read at the same index by the same thread
//     (in-place Relu, a residual added into its own buffer): pointers that
//     may alias carry no __restrict__;
//   - the source uses nothing beyond standard C++ and the CUDA built-ins
//     threadIdx, blockIdx, blockDim, gridDim, __shared__ and __syncthreads,
//     so that testdata/fakecuda can run it on the CPU.

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

// Activation codes: the same order as kern.ActKind. p0 and p1 are the
// activation's parameters: LeakyRelu's alpha in p0, Clip's min and max in p0
// and p1.
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_CLIP 3
#define ACT_SIGMOID 4
#define ACT_TANH 5
#define ACT_SILU 6
#define ACT_HARD_SIGMOID 7
#define ACT_HARD_SWISH 8
#define ACT_GELU 9
#define ACT_GELU_TANH 10

// activate_transcendental returns sigmoid(v) = 1 / (1 + exp(-v)), tanh(v),
// v·sigmoid(v), or Gelu in either form:
//
//   ACT_GELU       v/2·(1 + erf(v/√2)) = v/2·erfc(-v/√2)
//   ACT_GELU_TANH  v/2·(1 + tanh(u)) = v/(1 + exp(-2u)),  u = √(2/π)·(v + 0.044715·v³)
//
// (the forms kern.GeluF32 and GeluTanhF32 compute, which lose nothing where
// the parenthesis nears 0). It is kept out of line so that the unrolled
// epilogues stay small.
__device__ __noinline__ float activate_transcendental(float v, int act)
{
    if (act == ACT_SIGMOID) {
        return 1.0f / (1.0f + expf(-v));
    }
    if (act == ACT_SILU) {
        return v * (1.0f / (1.0f + expf(-v)));
    }
    if (act == ACT_GELU) {
        return 0.5f * v * erfcf(-v * 0.707106781f);
    }
    if (act == ACT_GELU_TANH) {
        const float u = 0.797884561f * (v + 0.044715f * v * v * v);
        return v / (1.0f + expf(-2.0f * u));
    }
    return tanhf(v);
}

// hard_sigmoid returns max(0, min(1, alpha*v + beta)) with the product
// rounded before the sum (__fmul_rn is never contracted into an FMA), as
// the CPU's kernels round it; a NaN stays NaN.
__device__ __forceinline__ float hard_sigmoid(float v, float alpha, float beta)
{
    float s = __fadd_rn(__fmul_rn(alpha, v), beta);
    if (s != s) {
        return s;
    }
    return s < 0.0f ? 0.0f : (s > 1.0f ? 1.0f : s);
}

// activate returns act(v). Comparisons are written so that a NaN input
// stays NaN, as Go's min and max keep it on the CPU.
__device__ __forceinline__ float activate(float v, int act, float p0, float p1)
{
    switch (act) {
    case ACT_NONE:
        return v;
    case ACT_RELU: // max(v, 0)
        return v < 0.0f ? 0.0f : v;
    case ACT_LEAKY_RELU: // v >= 0 ? v : alpha*v
        return v < 0.0f ? p0 * v : v;
    case ACT_CLIP: // min(max(v, lo), hi)
        return v < p0 ? p0 : (v > p1 ? p1 : v);
    case ACT_HARD_SIGMOID: // max(0, min(1, alpha*v + beta)), product and sum each rounded
        return hard_sigmoid(v, p0, p1);
    case ACT_HARD_SWISH: // v * max(0, min(1, v/6 + 1/2)), 1/6 rounded to float
        return v * hard_sigmoid(v, 1.0f / 6.0f, 0.5f);
    default: // ACT_SIGMOID, ACT_TANH, ACT_SILU, ACT_GELU, ACT_GELU_TANH
        return activate_transcendental(v, act);
    }
}

// ---------------------------------------------------------------------------
// Tiled matrix product shared by conv_igemm and gemm.
//
// A block of 256 threads computes a TILE_M x TILE_N tile of
// Y = A * B, walking the reduction dimension in slices of TILE_K: each
// slice of A (TILE_M x TILE_K, stored transposed in As) and of B
// (TILE_K x TILE_N, in Bs) is staged in shared memory, then every thread
// (ty, tx) = (tid / 16, tid % 16) accumulates its 4x4 micro-tile: rows
// ty + 16*i and columns tx + 16*j, i, j in 0..3. The strided micro-tile
// makes neighbouring threads read neighbouring Bs columns (no bank
// conflicts) and write neighbouring output columns (coalesced stores).
// ---------------------------------------------------------------------------

#define TILE_M 64
#define TILE_N 64
#define TILE_K 16
#define TILE_THREADS 256
#define MICRO 4

// tile_accumulate adds As^T * Bs for one shared-memory slice into acc.
__device__ __forceinline__ void tile_accumulate(const float (*As)[TILE_M + 4], const float (*Bs)[TILE_N],
                                                float acc[MICRO][MICRO], int ty, int tx)
{
#pragma unroll
    for (int kk = 0; kk < TILE_K; kk++) {
        float a[MICRO], b[MICRO];
#pragma unroll
        for (int i = 0; i < MICRO; i++) {
            a[i] = As[kk][ty + 16 * i];
            b[i] = Bs[kk][tx + 16 * i];
        }
#pragma unroll
        for (int i = 0; i < MICRO; i++) {
#pragma unroll
            for (int j = 0; j < MICRO; j++) {
                acc[i][j] += a[i] * b[j];
            }
        }
    }
}

// conv_igemm: a 2-D or 3-D convolution as an implicit GEMM, with the fold
// pass's prologue and epilogue, the body of conv2d_igemm (VOL false: no
// depth, D = KD = OD = 1, its arithmetic compiled out) and conv3d_igemm
// (VOL true):
//
//   x'[n,c,d,h,w] = in_relu ? max(s[c]*x + t[c], 0) : s[c]*x + t[c]   (or x
//                 when in_scale is null), for positions inside the input;
//                 the zero padding around it is not transformed
//   y[n,m,od,oh,ow] = act( sum_{c,kd,kh,kw} w[m,c,kd,kh,kw] *
//                        x'[n, g*Cg + c, od*sd - pd + kd*dd, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
//                       + bias[m] + residual[n,m,od,oh,ow] )
//
// with g = m / Mg the group of output channel m, Cg = C/groups input and
// Mg = M/groups output channels per group, w of shape [M, Cg, KD, KH, KW].
// bias, residual, in_scale/in_shift may be null (absent).
//
// Per group g the product is Y_g[m][p] = sum_k W_g[m][k] * B_g[k][p] with
// rows m in 0..Mg-1, columns p = (n, od, oh, ow) over the batch and the
// output volume, and k = (c, kd, kh, kw) in 0..Cg*KD*KH*KW-1; B_g is never
// materialised: each thread gathers its elements straight from x while
// staging a slice in Bs, the weights' in As (the kernel's shared arrays).
template <bool VOL>
__device__ __forceinline__ void conv_igemm(
    float (*As)[TILE_M + 4], float (*Bs)[TILE_N],
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* residual, const float* __restrict__ in_scale, const float* __restrict__ in_shift,
    float* y,
    int N, int C, int D, int H, int W, int M, int KD, int KH, int KW, int OD, int OH, int OW, int groups,
    int pad_d, int pad_h, int pad_w, int stride_d, int stride_h, int stride_w, int dil_d, int dil_h, int dil_w,
    int in_relu, int act, float act_p0, float act_p1)
{
    const int g = blockIdx.z;
    const int Cg = C / groups, Mg = M / groups;
    const int KHW = KH * KW;
    const int KV = VOL ? KD * KHW : KHW; // taps per input channel
    const int K = Cg * KV;
    const int HW = H * W;
    const int DHW = VOL ? D * HW : HW;
    const int OHW = OH * OW;
    const int OV = VOL ? OD * OHW : OHW; // outputs per channel
    const int P = N * OV;
    const int m0 = blockIdx.y * TILE_M, p0 = blockIdx.x * TILE_N;
    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;

    // Staging A: this thread loads column a_k of the slice, rows
    // a_m + 16*i (consecutive threads read consecutive weights).
    const int a_k = tid % TILE_K, a_m = tid / TILE_K;
    const float* wg = w + g * Mg * K;

    // Staging B: this thread loads column b_p of the slice (one output
    // position, decoded once here), rows b_k + 4*i.
    const int b_p = tid % TILE_N, b_k = tid / TILE_N;
    const int pb = p0 + b_p;
    const bool pb_ok = pb < P;
    int id0 = 0, ih0 = 0, iw0 = 0;
    const float* xg = x;
    if (pb_ok) {
        const int n = pb / OV;
        int r = pb - n * OV;
        if (VOL) {
            const int od = r / OHW;
            r -= od * OHW;
            id0 = od * stride_d - pad_d;
        }
        const int oh = r / OW;
        const int ow = r - oh * OW;
        ih0 = oh * stride_h - pad_h;
        iw0 = ow * stride_w - pad_w;
        xg = x + (n * C + g * Cg) * DHW; // channel 0 of group g in image n
    }

    float acc[MICRO][MICRO];
#pragma unroll
    for (int i = 0; i < MICRO; i++) {
#pragma unroll
        for (int j = 0; j < MICRO; j++) {
            acc[i][j] = 0.0f;
        }
    }

    for (int k0 = 0; k0 < K; k0 += TILE_K) {
        // As[kk][mm] = w[g*Mg + m0 + mm][k0 + kk], zero outside the matrix.
#pragma unroll
        for (int i = 0; i < TILE_M / 16; i++) {
            const int mm = a_m + 16 * i;
            const int m = m0 + mm, k = k0 + a_k;
            As[a_k][mm] = (m < Mg && k < K) ? wg[m * K + k] : 0.0f;
        }
        // Bs[kk][b_p] = x'[n, g*Cg + c, id0 + kd*dd, ih0 + kh*dh, iw0 + kw*dw]
        // for k0 + kk = (c, kd, kh, kw), zero in the padding and outside the
        // matrix.
#pragma unroll
        for (int i = 0; i < TILE_K / 4; i++) {
            const int kk = b_k + 4 * i;
            const int k = k0 + kk;
            float v = 0.0f;
            if (pb_ok && k < K) {
                const int c = k / KV;
                int r = k - c * KV;
                int id = 0;
                bool in = true;
                if (VOL) {
                    const int kd = r / KHW;
                    r -= kd * KHW;
                    id = id0 + kd * dil_d;
                    in = id >= 0 && id < D;
                }
                const int kh = r / KW;
                const int kw = r - kh * KW;
                const int ih = ih0 + kh * dil_h, iw = iw0 + kw * dil_w;
                if (in && ih >= 0 && ih < H && iw >= 0 && iw < W) {
                    v = xg[c * DHW + (id * H + ih) * W + iw];
                    if (in_scale != 0) {
                        const int ca = g * Cg + c;
                        v = in_scale[ca] * v + in_shift[ca];
                    }
                    if (in_relu && v < 0.0f) {
                        v = 0.0f;
                    }
                }
            }
            Bs[kk][b_p] = v;
        }
        __syncthreads();
        tile_accumulate(As, Bs, acc, ty, tx);
        __syncthreads();
    }

    // Epilogue: y = act(acc + bias[m] + residual).
#pragma unroll
    for (int j = 0; j < MICRO; j++) {
        const int p = p0 + tx + 16 * j;
        if (p >= P) {
            continue;
        }
        const int n = p / OV;
        const int pix = p - n * OV; // (od*OH + oh)*OW + ow
#pragma unroll
        for (int i = 0; i < MICRO; i++) {
            const int m = m0 + ty + 16 * i;
            if (m >= Mg) {
                continue;
            }
            const int ma = g * Mg + m; // absolute output channel
            const int idx = (n * M + ma) * OV + pix;
            float v = acc[i][j];
            if (bias != 0) {
                v += bias[ma];
            }
            if (residual != 0) {
                v += residual[idx];
            }
            y[idx] = activate(v, act, act_p0, act_p1);
        }
    }
}

// conv2d_igemm: conv_igemm over NCHW data (no depth).
//
// Launch: block TILE_THREADS, grid (ceil(N*OH*OW / TILE_N),
// ceil(Mg / TILE_M), groups).
extern "C" __global__ void conv2d_igemm(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* residual, const float* __restrict__ in_scale, const float* __restrict__ in_shift,
    float* y,
    int N, int C, int H, int W, int M, int KH, int KW, int OH, int OW, int groups,
    int pad_h, int pad_w, int stride_h, int stride_w, int dil_h, int dil_w,
    int in_relu, int act, float act_p0, float act_p1)
{
    __shared__ float As[TILE_K][TILE_M + 4]; // As[k][m]: padded against bank conflicts
    __shared__ float Bs[TILE_K][TILE_N];     // Bs[k][p]
    conv_igemm<false>(As, Bs, x, w, bias, residual, in_scale, in_shift, y,
                      N, C, 1, H, W, M, 1, KH, KW, 1, OH, OW, groups,
                      0, pad_h, pad_w, 1, stride_h, stride_w, 1, dil_h, dil_w,
                      in_relu, act, act_p0, act_p1);
}

// conv3d_igemm: conv_igemm over NCDHW data.
//
// Launch: block TILE_THREADS, grid (ceil(N*OD*OH*OW / TILE_N),
// ceil(Mg / TILE_M), groups).
extern "C" __global__ void conv3d_igemm(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* residual, const float* __restrict__ in_scale, const float* __restrict__ in_shift,
    float* y,
    int N, int C, int D, int H, int W, int M, int KD, int KH, int KW, int OD, int OH, int OW, int groups,
    int pad_d, int pad_h, int pad_w, int stride_d, int stride_h, int stride_w, int dil_d, int dil_h, int dil_w,
    int in_relu, int act, float act_p0, float act_p1)
{
    __shared__ float As[TILE_K][TILE_M + 4];
    __shared__ float Bs[TILE_K][TILE_N];
    conv_igemm<true>(As, Bs, x, w, bias, residual, in_scale, in_shift, y,
                     N, C, D, H, W, M, KD, KH, KW, OD, OH, OW, groups,
                     pad_d, pad_h, pad_w, stride_d, stride_h, stride_w, dil_d, dil_h, dil_w,
                     in_relu, act, act_p0, act_p1);
}

// conv_depthwise: the convolution of conv_igemm for one input channel per
// group (Cg = 1: depthwise, with a channel multiplier Mg = M/C), one
// thread per output element, the body of conv2d_depthwise (VOL false) and
// conv3d_depthwise (VOL true):
//
//   y[n,m,od,oh,ow] = act( sum_{kd,kh,kw} w[m,0,kd,kh,kw] *
//                        x'[n, m/Mg, od*sd - pd + kd*dd, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
//                       + bias[m] + residual[n,m,od,oh,ow] )
//
// with x' the prologue-transformed input as in conv_igemm.
template <bool VOL>
__device__ __forceinline__ void conv_depthwise(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* residual, const float* __restrict__ in_scale, const float* __restrict__ in_shift,
    float* y,
    int N, int C, int D, int H, int W, int M, int KD, int KH, int KW, int OD, int OH, int OW,
    int pad_d, int pad_h, int pad_w, int stride_d, int stride_h, int stride_w, int dil_d, int dil_h, int dil_w,
    int in_relu, int act, float act_p0, float act_p1)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    const int OV = VOL ? OD * OH * OW : OH * OW;
    const int total = N * M * OV;
    if (idx >= total) {
        return;
    }
    const int ow = idx % OW;
    const int oh = (idx / OW) % OH;
    const int od = VOL ? (idx / (OW * OH)) % OD : 0;
    const int m = (idx / OV) % M;
    const int n = idx / (OV * M);
    const int c = m / (M / C);
    const int HW = H * W;
    const int KHW = KH * KW;
    const float* xc = x + (n * C + c) * (VOL ? D * HW : HW);
    const float* wm = w + m * (VOL ? KD * KHW : KHW);
    const float s = in_scale != 0 ? in_scale[c] : 1.0f;
    const float t = in_scale != 0 ? in_shift[c] : 0.0f;
    const int id0 = od * stride_d - pad_d, ih0 = oh * stride_h - pad_h, iw0 = ow * stride_w - pad_w;

    float acc = 0.0f;
    for (int kd = 0; kd < (VOL ? KD : 1); kd++) {
        const int id = VOL ? id0 + kd * dil_d : 0;
        if (VOL && (id < 0 || id >= D)) {
            continue;
        }
        for (int kh = 0; kh < KH; kh++) {
            const int ih = ih0 + kh * dil_h;
            if (ih < 0 || ih >= H) {
                continue;
            }
            for (int kw = 0; kw < KW; kw++) {
                const int iw = iw0 + kw * dil_w;
                if (iw < 0 || iw >= W) {
                    continue;
                }
                float v = xc[id * HW + ih * W + iw];
                if (in_scale != 0) {
                    v = s * v + t;
                }
                if (in_relu && v < 0.0f) {
                    v = 0.0f;
                }
                acc += wm[kd * KHW + kh * KW + kw] * v;
            }
        }
    }
    float v = acc + (bias != 0 ? bias[m] : 0.0f);
    if (residual != 0) {
        v += residual[idx];
    }
    y[idx] = activate(v, act, act_p0, act_p1);
}

// conv2d_depthwise: conv_depthwise over NCHW data (no depth).
//
// Launch: block 256, grid ceil(N*M*OH*OW / 256).
extern "C" __global__ void conv2d_depthwise(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* residual, const float* __restrict__ in_scale, const float* __restrict__ in_shift,
    float* y,
    int N, int C, int H, int W, int M, int KH, int KW, int OH, int OW,
    int pad_h, int pad_w, int stride_h, int stride_w, int dil_h, int dil_w,
    int in_relu, int act, float act_p0, float act_p1)
{
    conv_depthwise<false>(x, w, bias, residual, in_scale, in_shift, y,
                          N, C, 1, H, W, M, 1, KH, KW, 1, OH, OW,
                          0, pad_h, pad_w, 1, stride_h, stride_w, 1, dil_h, dil_w,
                          in_relu, act, act_p0, act_p1);
}

// conv3d_depthwise: conv_depthwise over NCDHW data.
//
// Launch: block 256, grid ceil(N*M*OD*OH*OW / 256).
extern "C" __global__ void conv3d_depthwise(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    const float* residual, const float* __restrict__ in_scale, const float* __restrict__ in_shift,
    float* y,
    int N, int C, int D, int H, int W, int M, int KD, int KH, int KW, int OD, int OH, int OW,
    int pad_d, int pad_h, int pad_w, int stride_d, int stride_h, int stride_w, int dil_d, int dil_h, int dil_w,
    int in_relu, int act, float act_p0, float act_p1)
{
    conv_depthwise<true>(x, w, bias, residual, in_scale, in_shift, y,
                         N, C, D, H, W, M, KD, KH, KW, OD, OH, OW,
                         pad_d, pad_h, pad_w, stride_d, stride_h, stride_w, dil_d, dil_h, dil_w,
                         in_relu, act, act_p0, act_p1);
}

// gemm: ONNX Gemm with a fused activation,
//
//   Y[i,j] = act( alpha * sum_k A'[i,k] * B'[k,j] + beta * Cm[i*c_rs + j*c_cs] )
//
// with A' = transA ? A^T : A (A stored [M,K], or [K,M] when transposed),
// B' = transB ? B^T : B (B stored [K,N], or [N,K]), Y of shape [M,N].
// Cm is broadcast through its strides: (c_rs, c_cs) = (N, 1) for [M,N],
// (0, 1) for a bias [N], (1, 0) for [M,1], (0, 0) for a scalar; Cm may be
// null.
//
// Launch: block TILE_THREADS, grid (ceil(N / TILE_N), ceil(M / TILE_M)).
extern "C" __global__ void gemm(
    const float* __restrict__ A, const float* __restrict__ B, const float* Cm, float* Y,
    int M, int N, int K, int transA, int transB, float alpha, float beta,
    int c_rs, int c_cs, int act, float act_p0, float act_p1)
{
    __shared__ float As[TILE_K][TILE_M + 4]; // As[k][i] = A'[i0 + i][k0 + k]
    __shared__ float Bs[TILE_K][TILE_N];     // Bs[k][j] = B'[k0 + k][j0 + j]

    const int i0 = blockIdx.y * TILE_M, j0 = blockIdx.x * TILE_N;
    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;
    const int a_k = tid % TILE_K, a_i = tid / TILE_K;
    const int b_j = tid % TILE_N, b_k = tid / TILE_N;

    float acc[MICRO][MICRO];
#pragma unroll
    for (int i = 0; i < MICRO; i++) {
#pragma unroll
        for (int j = 0; j < MICRO; j++) {
            acc[i][j] = 0.0f;
        }
    }

    for (int k0 = 0; k0 < K; k0 += TILE_K) {
#pragma unroll
        for (int r = 0; r < TILE_M / 16; r++) {
            const int ii = a_i + 16 * r;
            const int i = i0 + ii, k = k0 + a_k;
            float v = 0.0f;
            if (i < M && k < K) {
                v = transA ? A[k * M + i] : A[i * K + k];
            }
            As[a_k][ii] = v;
        }
#pragma unroll
        for (int r = 0; r < TILE_K / 4; r++) {
            const int kk = b_k + 4 * r;
            const int k = k0 + kk, j = j0 + b_j;
            float v = 0.0f;
            if (k < K && j < N) {
                v = transB ? B[j * K + k] : B[k * N + j];
            }
            Bs[kk][b_j] = v;
        }
        __syncthreads();
        tile_accumulate(As, Bs, acc, ty, tx);
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < MICRO; r++) {
        const int i = i0 + ty + 16 * r;
        if (i >= M) {
            continue;
        }
#pragma unroll
        for (int s = 0; s < MICRO; s++) {
            const int j = j0 + tx + 16 * s;
            if (j >= N) {
                continue;
            }
            float v = alpha * acc[r][s];
            if (Cm != 0) {
                v += beta * Cm[i * c_rs + j * c_cs];
            }
            Y[i * N + j] = activate(v, act, act_p0, act_p1);
        }
    }
}

// ---------------------------------------------------------------------------
// Pooling. x is [planes, D, H, W], y is [planes, OD, OH, OW]: a 2-D pool
// has D = OD = KD = 1, a 1-D one H = OH = KH = 1 too. Output sizes
// (ceil_mode included) are the host's: a window may reach past the end
// padding, never out of the output.
// ---------------------------------------------------------------------------

// PoolAxis is a pool's window along one axis (kern.PoolAxis): in values
// pooled into out by windows of k taps, s apart, the taps dil apart, with
// pad0 positions of padding before the input and pad1 after it.
struct PoolAxis {
    int in, out, k, s, dil, pad0, pad1;
};

// PoolGeom is a pool's geometry (kern.PoolGeom): planes volumes, and the
// depth, height and width axes.
struct PoolGeom {
    int planes;
    PoolAxis d, h, w;
};

// pool_window decodes output index idx of g into its plane's input
// pointer (xp) and the starts of its window along each axis.
__device__ __forceinline__ const float* pool_window(const float* x, const PoolGeom& g, int idx, int* ds, int* hs, int* ws)
{
    const int ow = idx % g.w.out;
    const int oh = (idx / g.w.out) % g.h.out;
    const int od = (idx / (g.w.out * g.h.out)) % g.d.out;
    const int p = idx / (g.w.out * g.h.out * g.d.out);
    *ds = od * g.d.s - g.d.pad0;
    *hs = oh * g.h.s - g.h.pad0;
    *ws = ow * g.w.s - g.w.pad0;
    return x + p * g.d.in * g.h.in * g.w.in;
}

// maxpool3d: y[p,od,oh,ow] = max over kd, kh, kw of x[p, od*sd - pd +
// kd*dd, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw], over the positions
// inside the input (padding never wins). A NaN in the window is the
// result, as on the CPU.
//
// Launch: block 256, grid ceil(planes*OD*OH*OW / 256).
extern "C" __global__ void maxpool3d(const float* __restrict__ x, float* __restrict__ y, int total, PoolGeom g)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) {
        return;
    }
    int ds, hs, ws;
    const float* xp = pool_window(x, g, idx, &ds, &hs, &ws);
    float m = -INFINITY;
    for (int kd = 0; kd < g.d.k; kd++) {
        const int id = ds + kd * g.d.dil;
        if (id < 0 || id >= g.d.in) {
            continue;
        }
        for (int kh = 0; kh < g.h.k; kh++) {
            const int ih = hs + kh * g.h.dil;
            if (ih < 0 || ih >= g.h.in) {
                continue;
            }
            const float* row = xp + (id * g.h.in + ih) * g.w.in;
            for (int kw = 0; kw < g.w.k; kw++) {
                const int iw = ws + kw * g.w.dil;
                if (iw < 0 || iw >= g.w.in) {
                    continue;
                }
                const float v = row[iw];
                if (v > m || v != v) {
                    m = v;
                }
            }
        }
    }
    y[idx] = m;
}

// count_taps returns how many of the k taps start + t*d (t in 0..k-1) lie
// in [lo, hi).
__device__ __forceinline__ int count_taps(int start, int d, int k, int lo, int hi)
{
    int n = 0;
    for (int t = 0; t < k; t++) {
        const int v = start + t * d;
        if (v >= lo && v < hi) {
            n++;
        }
    }
    return n;
}

// pool_divisor returns how many taps of the window starting at start
// along a enter an average's divisor: those inside the input, or with
// count_include_pad those inside the padded input [-pad0, in + pad1)
// (positions past the end padding, which ceil_mode can add, never count).
__device__ __forceinline__ int pool_divisor(const PoolAxis& a, int start, int count_include_pad)
{
    if (count_include_pad) {
        return count_taps(start, a.dil, a.k, -a.pad0, a.in + a.pad1);
    }
    return count_taps(start, a.dil, a.k, 0, a.in);
}

// avgpool3d: y[p,od,oh,ow] = (sum of x over the window positions inside
// the input) / (the product of pool_divisor along each axis). The sum runs
// in the CPU's order (kd, then kh, then kw).
//
// Launch: block 256, grid ceil(planes*OD*OH*OW / 256).
extern "C" __global__ void avgpool3d(const float* __restrict__ x, float* __restrict__ y, int total, PoolGeom g,
                                     int count_include_pad)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) {
        return;
    }
    int ds, hs, ws;
    const float* xp = pool_window(x, g, idx, &ds, &hs, &ws);
    float s = 0.0f;
    for (int kd = 0; kd < g.d.k; kd++) {
        const int id = ds + kd * g.d.dil;
        if (id < 0 || id >= g.d.in) {
            continue;
        }
        for (int kh = 0; kh < g.h.k; kh++) {
            const int ih = hs + kh * g.h.dil;
            if (ih < 0 || ih >= g.h.in) {
                continue;
            }
            const float* row = xp + (id * g.h.in + ih) * g.w.in;
            for (int kw = 0; kw < g.w.k; kw++) {
                const int iw = ws + kw * g.w.dil;
                if (iw >= 0 && iw < g.w.in) {
                    s += row[iw];
                }
            }
        }
    }
    const int n = pool_divisor(g.d, ds, count_include_pad) * pool_divisor(g.h, hs, count_include_pad) *
                  pool_divisor(g.w, ws, count_include_pad);
    y[idx] = s / (float)n;
}

// block_reduce returns, in every thread, the sum (is_max = 0) or the
// maximum (is_max = 1) of v over the block, using buf[blockDim.x]; the
// block size must be a power of two. A NaN maximum stays NaN.
__device__ __forceinline__ float block_reduce(float v, float* buf, int is_max)
{
    const int tid = threadIdx.x;
    buf[tid] = v;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (tid < half) {
            const float a = buf[tid], b = buf[tid + half];
            if (is_max) {
                buf[tid] = (b > a || b != b) ? b : a;
            } else {
                buf[tid] = a + b;
            }
        }
        __syncthreads();
    }
    const float r = buf[0];
    __syncthreads(); // buf may be reused right after
    return r;
}

#define REDUCE_THREADS 256

// global_pool: y[p] = (1/(H*W)) * sum_i x[p,i] (is_max = 0) or
// max_i x[p,i] (is_max = 1) over each plane p of HW elements.
//
// Launch: block REDUCE_THREADS, grid NC (one block per plane).
extern "C" __global__ void global_pool(const float* __restrict__ x, float* __restrict__ y, int HW, int is_max)
{
    __shared__ float buf[REDUCE_THREADS];
    const float* xp = x + blockIdx.x * HW;
    float v = is_max ? -INFINITY : 0.0f;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
        const float e = xp[i];
        if (is_max) {
            if (e > v || e != e) {
                v = e;
            }
        } else {
            v += e;
        }
    }
    v = block_reduce(v, buf, is_max);
    if (threadIdx.x == 0) {
        y[blockIdx.x] = is_max ? v : v / (float)HW;
    }
}

// ---------------------------------------------------------------------------
// Elementwise kernels: one thread per output element.
// ---------------------------------------------------------------------------

// affine_act: y[n,c,i] = act(a[c] * x[n,c,i] + b[c]) over [N, C, HW]
// (a folded BatchNormalization, with its Relu).
//
// Launch: block 256, grid ceil(total / 256).
extern "C" __global__ void affine_act(
    const float* x, const float* __restrict__ a, const float* __restrict__ b, float* y,
    int total, int C, int HW, int act, float act_p0, float act_p1)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) {
        return;
    }
    const int c = (idx / HW) % C;
    y[idx] = activate(a[c] * x[idx] + b[c], act, act_p0, act_p1);
}

// unary_act: y[i] = act(x[i]).
//
// Launch: block 256, grid ceil(total / 256).
extern "C" __global__ void unary_act(const float* x, float* y, int total, int act, float act_p0, float act_p1)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) {
        return;
    }
    y[idx] = activate(x[idx], act, act_p0, act_p1);
}

#define MAX_DIMS 6

// Broadcast describes an output of shape dims[0..ndim-1] and, per
// dimension, the element strides of the two inputs in it: 0 on a dimension
// an input broadcasts along (numpy rules, shapes right-aligned).
struct Broadcast {
    int ndim;
    int dims[MAX_DIMS];
    int a_stride[MAX_DIMS];
    int b_stride[MAX_DIMS];
};

// Binary operator codes.
#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3
#define BIN_MAX 4
#define BIN_MIN 5
#define BIN_POW 6

// binary_bcast: y[i] = a[ia] op b[ib], with ia and ib the offsets of
// output index i's coordinates through the strides of s; max and min
// return NaN when either operand is NaN; pow is powf (IEEE pow's special
// cases: x^0 = 1, 1^y = 1, a negative x to a non-integer y is NaN).
//
// Launch: block 256, grid ceil(total / 256).
extern "C" __global__ void binary_bcast(const float* a, const float* b, float* y, int total, int op, Broadcast s)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) {
        return;
    }
    int rem = idx, ia = 0, ib = 0;
    for (int d = s.ndim - 1; d >= 0; d--) {
        const int coord = rem % s.dims[d];
        rem /= s.dims[d];
        ia += coord * s.a_stride[d];
        ib += coord * s.b_stride[d];
    }
    const float u = a[ia], v = b[ib];
    float r;
    switch (op) {
    case BIN_ADD:
        r = u + v;
        break;
    case BIN_SUB:
        r = u - v;
        break;
    case BIN_MUL:
        r = u * v;
        break;
    case BIN_DIV:
        r = u / v;
        break;
    case BIN_MAX:
        r = (u != u || v != v) ? u + v : (u > v ? u : v);
        break;
    case BIN_MIN:
        r = (u != u || v != v) ? u + v : (u < v ? u : v);
        break;
    default: // BIN_POW
        r = powf(u, v);
        break;
    }
    y[idx] = r;
}

// concat_copy writes input x, seen as [outer, inner_in], into its slot of
// the concatenated output y, seen as [outer, inner_out]:
//
//   y[o*inner_out + offset + r] = x[o*inner_in + r],  r in 0..inner_in-1
//
// For a concat along axis a: outer is the product of the dimensions before
// a, inner_in = x.shape[a] * inner and inner_out = y.shape[a] * inner with
// inner the product of those after a, offset = (channels before x) * inner.
//
// Launch: block 256, grid ceil(outer*inner_in / 256).
extern "C" __global__ void concat_copy(
    const float* __restrict__ x, float* __restrict__ y, int outer, int inner_in, int inner_out, int offset)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= outer * inner_in) {
        return;
    }
    const int o = idx / inner_in;
    const int r = idx - o * inner_in;
    y[o * inner_out + offset + r] = x[idx];
}

// PadGeom is a pad's geometry: output dims, input dims, and the leading
// pad of each dimension (negative crops); at most MAX_DIMS dimensions.
struct PadGeom {
    int ndim;
    int out_dims[MAX_DIMS];
    int in_dims[MAX_DIMS];
    int begin[MAX_DIMS];
};

// Pad modes.
#define PAD_CONSTANT 0
#define PAD_REFLECT 1
#define PAD_EDGE 2

// pad_nd: y[i] = x[j], with j the input coordinates of output index i's
// coordinates c shifted by begin: c - begin per dimension; where that lies
// outside the input, PAD_CONSTANT writes value, PAD_EDGE clamps to the
// nearest edge and PAD_REFLECT mirrors about the edge (without repeating
// it: -1 -> 1, n -> n-2).
//
// Launch: block 256, grid ceil(total / 256).
extern "C" __global__ void pad_nd(const float* __restrict__ x, float* __restrict__ y, int total, PadGeom g, int mode, float value)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) {
        return;
    }
    int rem = idx, src = 0, stride = 1;
    for (int d = g.ndim - 1; d >= 0; d--) {
        int c = rem % g.out_dims[d] - g.begin[d];
        rem /= g.out_dims[d];
        const int n = g.in_dims[d];
        if (c < 0 || c >= n) {
            if (mode == PAD_CONSTANT) {
                y[idx] = value;
                return;
            }
            if (mode == PAD_EDGE) {
                c = c < 0 ? 0 : n - 1;
            } else {
                c = c < 0 ? -c : 2 * (n - 1) - c;
            }
        }
        src += c * stride;
        stride *= n;
    }
    y[idx] = x[src];
}

// softmax: over [outer, dim, inner], for each lane (o, i) the dim elements
// x[o, j, i] (j in 0..dim-1) become
//
//   y[o,j,i] = exp(x[o,j,i] - m) / s,   or with log_out (LogSoftmax)
//   y[o,j,i] = (x[o,j,i] - m) - log(s),
//   s = sum_k exp(x[o,k,i] - m),  m = max_k x[o,k,i]
//
// (subtracting the maximum keeps exp from overflowing). inner = 1 is the
// last axis.
//
// Launch: block REDUCE_THREADS, grid outer*inner (one block per lane).
extern "C" __global__ void softmax(const float* __restrict__ x, float* __restrict__ y, int dim, int inner, int log_out)
{
    __shared__ float buf[REDUCE_THREADS];
    const int lane = blockIdx.x;
    const int base = (lane / inner) * dim * inner + lane % inner;
    const float* xl = x + base;
    float* yl = y + base;

    float m = -INFINITY;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) {
        const float v = xl[j * inner];
        if (v > m || v != v) {
            m = v;
        }
    }
    m = block_reduce(m, buf, 1);

    float s = 0.0f;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) {
        s += expf(xl[j * inner] - m);
    }
    s = block_reduce(s, buf, 0);

    if (log_out) {
        const float ls = logf(s);
        for (int j = threadIdx.x; j < dim; j += blockDim.x) {
            yl[j * inner] = (xl[j * inner] - m) - ls;
        }
        return;
    }
    for (int j = threadIdx.x; j < dim; j += blockDim.x) {
        yl[j * inner] = expf(xl[j * inner] - m) / s;
    }
}

// ---------------------------------------------------------------------------
// Reductions over any set of axes (ReduceSum, ReduceMean, ReduceMax,
// ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum,
// ReduceLogSumExp).
// ---------------------------------------------------------------------------

// Reduce is a reduction's geometry: output element o, whose coordinates in
// kept[0..nkept-1] (row-major) are c, reduces the count input values at
// sum_d c[d]*kept_stride[d] + sum_e r[e]*red_stride[e] over the
// coordinates r of red[0..nred-1] (the host's merged axes, at most
// MAX_DIMS each; nkept 0 for a reduction to one value).
struct Reduce {
    int nkept;
    int kept[MAX_DIMS];
    int kept_stride[MAX_DIMS];
    int nred;
    int red[MAX_DIMS];
    int red_stride[MAX_DIMS];
};

// Reduction codes: kern.ReduceOp's order.
#define RED_SUM 0
#define RED_MEAN 1
#define RED_MAX 2
#define RED_MIN 3
#define RED_PROD 4
#define RED_L1 5
#define RED_L2 6
#define RED_SUMSQUARE 7
#define RED_LOGSUM 8
#define RED_LOGSUMEXP 9

// reduce_offset returns sum_d c[d]*strides[d] for the coordinates c of
// index i in dims[0..n-1] (row-major).
__device__ __forceinline__ int reduce_offset(int i, int n, const int* dims, const int* strides)
{
    int off = 0;
    for (int d = n - 1; d >= 0; d--) {
        off += (i % dims[d]) * strides[d];
        i /= dims[d];
    }
    return off;
}

// reduce_start returns the accumulator over no values: -Inf for the
// maximum, +Inf for the minimum, 1 for the product, 0 for the sums.
__device__ __forceinline__ float reduce_start(int op)
{
    switch (op) {
    case RED_MAX: return -INFINITY;
    case RED_MIN: return INFINITY;
    case RED_PROD: return 1.0f;
    }
    return 0.0f;
}

// reduce_fold folds value v into acc by op's rule (m is LogSumExp's
// maximum):
//
//   Sum, Mean, LogSum: acc + v    L1: acc + |v|    L2, SumSquare: acc + v*v
//   Prod: acc * v    Max, Min: the larger or smaller, a NaN v wins
//   LogSumExp: acc + exp(v - m)
__device__ __forceinline__ float reduce_fold(float acc, float v, int op, float m)
{
    switch (op) {
    case RED_MAX: return (v > acc || v != v) ? v : acc;
    case RED_MIN: return (v < acc || v != v) ? v : acc;
    case RED_PROD: return acc * v;
    case RED_L1: return acc + fabsf(v);
    case RED_L2:
    case RED_SUMSQUARE: return acc + v * v;
    case RED_LOGSUMEXP: return acc + expf(v - m);
    }
    return acc + v;
}

// reduce_combine combines two partial accumulators of op: the product's
// product, the maximum's or minimum's larger or smaller (a NaN b wins),
// every sum's sum.
__device__ __forceinline__ float reduce_combine(float a, float b, int op)
{
    switch (op) {
    case RED_MAX: return (b > a || b != b) ? b : a;
    case RED_MIN: return (b < a || b != b) ? b : a;
    case RED_PROD: return a * b;
    }
    return a + b;
}

// reduce_final makes an output value from the accumulator over count
// values (m is LogSumExp's maximum):
//
//   Mean: acc / count    L2: sqrt(acc)    LogSum: log(acc)
//   LogSumExp: m + log(acc), or m itself when it is +-Inf or NaN
//   the others: acc
__device__ __forceinline__ float reduce_final(float acc, int op, int count, float m)
{
    switch (op) {
    case RED_MEAN: return acc / (float)count;
    case RED_L2: return sqrtf(acc);
    case RED_LOGSUM: return logf(acc);
    case RED_LOGSUMEXP:
        if (m != m || m == INFINITY || m == -INFINITY) {
            return m;
        }
        return m + logf(acc);
    }
    return acc;
}

// reduce_finite reports whether LogSumExp's maximum m leaves a sum to
// take (neither +-Inf nor NaN).
__device__ __forceinline__ bool reduce_finite(float m)
{
    return m == m && m != INFINITY && m != -INFINITY;
}

// reduce_thread: y[o] = the rule over output o's count values, one thread
// per output element, each reading its values in order (LogSumExp twice:
// the maximum, then the sum of exp(v - maximum)).
//
// Launch: block 256, grid ceil(total / 256).
extern "C" __global__ void reduce_thread(const float* __restrict__ x, float* __restrict__ y, int total, int count,
                                         int op, Reduce g)
{
    const int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= total) {
        return;
    }
    const float* xo = x + reduce_offset(o, g.nkept, g.kept, g.kept_stride);
    float m = 0.0f;
    if (op == RED_LOGSUMEXP) {
        m = -INFINITY;
        for (int r = 0; r < count; r++) {
            m = reduce_fold(m, xo[reduce_offset(r, g.nred, g.red, g.red_stride)], RED_MAX, 0.0f);
        }
    }
    float acc = reduce_start(op);
    if (op != RED_LOGSUMEXP || reduce_finite(m)) {
        for (int r = 0; r < count; r++) {
            acc = reduce_fold(acc, xo[reduce_offset(r, g.nred, g.red, g.red_stride)], op, m);
        }
    }
    y[o] = reduce_final(acc, op, count, m);
}

// block_combine returns, in every thread, reduce_combine of v over the
// block by op, using buf[blockDim.x]; the block size must be a power of
// two.
__device__ __forceinline__ float block_combine(float v, float* buf, int op)
{
    const int tid = threadIdx.x;
    buf[tid] = v;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (tid < half) {
            buf[tid] = reduce_combine(buf[tid], buf[tid + half], op);
        }
        __syncthreads();
    }
    const float r = buf[0];
    __syncthreads(); // buf may be reused right after
    return r;
}

// reduce_block: reduce_thread's result, one block per output element, its
// threads each folding every blockDim.x-th value, then block_combine
// (LogSumExp: the block's maximum first, then the sum of exp(v - maximum)).
//
// Launch: block REDUCE_THREADS, grid total (one block per output).
extern "C" __global__ void reduce_block(const float* __restrict__ x, float* __restrict__ y, int count, int op, Reduce g)
{
    __shared__ float buf[REDUCE_THREADS];
    const float* xo = x + reduce_offset(blockIdx.x, g.nkept, g.kept, g.kept_stride);
    float m = 0.0f;
    if (op == RED_LOGSUMEXP) {
        m = -INFINITY;
        for (int r = threadIdx.x; r < count; r += blockDim.x) {
            m = reduce_fold(m, xo[reduce_offset(r, g.nred, g.red, g.red_stride)], RED_MAX, 0.0f);
        }
        m = block_combine(m, buf, RED_MAX);
    }
    float acc = reduce_start(op);
    if (op != RED_LOGSUMEXP || reduce_finite(m)) {
        for (int r = threadIdx.x; r < count; r += blockDim.x) {
            acc = reduce_fold(acc, xo[reduce_offset(r, g.nred, g.red, g.red_stride)], op, m);
        }
    }
    const float v = block_combine(acc, buf, op);
    if (threadIdx.x == 0) {
        y[blockIdx.x] = reduce_final(v, op, count, m);
    }
}

// ---------------------------------------------------------------------------
// Transposed convolution.
// ---------------------------------------------------------------------------

// conv_transpose2d: ONNX ConvTranspose over NCHW data, one thread per
// output element gathering the input pixels whose kernel taps land on it
// (kern.ConvTransposeGeom's geometry: input pixel (ih, iw) and tap (kh, kw)
// reach oh = ih*sh - pt + kh*dh, ow = iw*sw - pl + kw*dw):
//
//   y[n,m,oh,ow] = bias[m] + sum over c < Cg, kh, kw with
//                      ih = (oh + pt - kh*dh) / sh,  iw = (ow + pl - kw*dw) / sw
//                  whole numbers inside the input, of
//                  x[n, g*Cg + c, ih, iw] * w[g*Cg + c, m - g*Mg, kh, kw]
//
// with g = m / Mg the group of output channel m, Cg = C/groups input and
// Mg = M/groups output channels per group, w of shape [C, Mg, KH, KW].
// pt and pl may be negative; OH and OW are the host's (output_padding and
// output_shape choose them). bias may be null.
//
// Launch: block 256, grid ceil(N*M*OH*OW / 256).
extern "C" __global__ void conv_transpose2d(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    float* __restrict__ y,
    int N, int C, int H, int W, int M, int KH, int KW, int OH, int OW, int groups,
    int pad_t, int pad_l, int stride_h, int stride_w, int dil_h, int dil_w)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= N * M * OH * OW) {
        return;
    }
    const int ow = idx % OW;
    const int oh = (idx / OW) % OH;
    const int m = (idx / (OW * OH)) % M;
    const int n = idx / (OW * OH * M);
    const int Cg = C / groups, Mg = M / groups;
    const int g = m / Mg;
    const int HW = H * W, KHW = KH * KW;
    // channel 0 of group g in image n, and its weights for output channel m
    const float* xg = x + (n * C + g * Cg) * HW;
    const float* wm = w + (g * Cg * Mg + (m - g * Mg)) * KHW;

    float acc = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        const int th = oh + pad_t - kh * dil_h; // ih * stride_h
        if (th < 0 || th % stride_h != 0 || th / stride_h >= H) {
            continue;
        }
        const int ih = th / stride_h;
        for (int kw = 0; kw < KW; kw++) {
            const int tw = ow + pad_l - kw * dil_w; // iw * stride_w
            if (tw < 0 || tw % stride_w != 0 || tw / stride_w >= W) {
                continue;
            }
            const int iw = tw / stride_w;
            const float* xp = xg + ih * W + iw;
            const float* wp = wm + kh * KW + kw;
            for (int c = 0; c < Cg; c++) {
                acc += xp[c * HW] * wp[c * Mg * KHW];
            }
        }
    }
    y[idx] = acc + (bias != 0 ? bias[m] : 0.0f);
}

// conv_transpose3d: conv_transpose2d over NCDHW data (kern.ConvTranspose3DGeom's
// geometry: input position (id, ih, iw) and tap (kd, kh, kw) reach
// od = id*sd - pf + kd*dd, oh = ih*sh - pt + kh*dh, ow = iw*sw - pl + kw*dw):
//
//   y[n,m,od,oh,ow] = bias[m] + sum over c < Cg, kd, kh, kw with
//                         id = (od + pf - kd*dd) / sd,  ih = (oh + pt - kh*dh) / sh,
//                         iw = (ow + pl - kw*dw) / sw
//                     whole numbers inside the input, of
//                     x[n, g*Cg + c, id, ih, iw] * w[g*Cg + c, m - g*Mg, kd, kh, kw]
//
// with w of shape [C, Mg, KD, KH, KW]; the pads may be negative, OD, OH and
// OW are the host's. bias may be null.
//
// Launch: block 256, grid ceil(N*M*OD*OH*OW / 256).
extern "C" __global__ void conv_transpose3d(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
    float* __restrict__ y,
    int N, int C, int D, int H, int W, int M, int KD, int KH, int KW, int OD, int OH, int OW, int groups,
    int pad_f, int pad_t, int pad_l, int stride_d, int stride_h, int stride_w, int dil_d, int dil_h, int dil_w)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= N * M * OD * OH * OW) {
        return;
    }
    const int ow = idx % OW;
    const int oh = (idx / OW) % OH;
    const int od = (idx / (OW * OH)) % OD;
    const int m = (idx / (OW * OH * OD)) % M;
    const int n = idx / (OW * OH * OD * M);
    const int Cg = C / groups, Mg = M / groups;
    const int g = m / Mg;
    const int DHW = D * H * W, KDHW = KD * KH * KW;
    // channel 0 of group g in image n, and its weights for output channel m
    const float* xg = x + (n * C + g * Cg) * DHW;
    const float* wm = w + (g * Cg * Mg + (m - g * Mg)) * KDHW;

    float acc = 0.0f;
    for (int kd = 0; kd < KD; kd++) {
        const int td = od + pad_f - kd * dil_d; // id * stride_d
        if (td < 0 || td % stride_d != 0 || td / stride_d >= D) {
            continue;
        }
        const int id = td / stride_d;
        for (int kh = 0; kh < KH; kh++) {
            const int th = oh + pad_t - kh * dil_h; // ih * stride_h
            if (th < 0 || th % stride_h != 0 || th / stride_h >= H) {
                continue;
            }
            const int ih = th / stride_h;
            for (int kw = 0; kw < KW; kw++) {
                const int tw = ow + pad_l - kw * dil_w; // iw * stride_w
                if (tw < 0 || tw % stride_w != 0 || tw / stride_w >= W) {
                    continue;
                }
                const int iw = tw / stride_w;
                const float* xp = xg + (id * H + ih) * W + iw;
                const float* wp = wm + (kd * KH + kh) * KW + kw;
                for (int c = 0; c < Cg; c++) {
                    acc += xp[c * DHW] * wp[c * Mg * KDHW];
                }
            }
        }
    }
    y[idx] = acc + (bias != 0 ? bias[m] : 0.0f);
}

// ---------------------------------------------------------------------------
// Resize. The host computes every axis's taps as the CPU's plan does (any
// mode, coordinate transformation and rounding): output i of an axis reads
// the k input indexes tap[i*k .. i*k+k-1] with weights wt[i*k .. i*k+k-1]
// (an axis the Resize leaves as it is has k = 1, tap[i] = i, weight 1), and
// tap[i*k] = -1 makes output i the extrapolation value (tf_crop_and_resize
// outside the input).
// ---------------------------------------------------------------------------

// resize_axis: one axis of a Resize, x seen as [outer, in, inner] and y as
// [outer, out, inner]:
//
//   y[o,i,q] = sum_{j < k} wt[i*k + j] * x[o, tap[i*k + j], q]   (ext when tap[i*k] = -1)
//
// Launch: block 256, grid ceil(outer*out*inner / 256).
extern "C" __global__ void resize_axis(
    const float* __restrict__ x, float* __restrict__ y,
    const int* __restrict__ tap, const float* __restrict__ wt,
    int outer, int in, int out, int inner, int k, float ext)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= outer * out * inner) {
        return;
    }
    const int q = idx % inner;
    const int i = (idx / inner) % out;
    const int o = idx / (inner * out);
    const int* t = tap + i * k;
    if (t[0] < 0) {
        y[idx] = ext;
        return;
    }
    const float* w = wt + i * k;
    const float* xo = x + o * in * inner + q;
    float acc = 0.0f;
    for (int j = 0; j < k; j++) {
        acc += w[j] * xo[t[j] * inner];
    }
    y[idx] = acc;
}

// resize_hw: the last two axes of a Resize in one pass, x seen as
// [planes, H, W] and y as [planes, OH, OW], with the rows' taps (th, wh,
// kh of them an output row) and the columns' (tw, ww, kw):
//
//   y[p,i,j] = sum_{a < kh} wh[i*kh + a] * r(a),
//   r(a)     = sum_{b < kw} ww[j*kw + b] * x[p, th[i*kh + a], tw[j*kw + b]]
//
// (each row resized first, as the CPU resizes the last axis first), ext
// when th[i*kh] or tw[j*kw] is -1.
//
// Launch: block 256, grid ceil(planes*OH*OW / 256).
extern "C" __global__ void resize_hw(
    const float* __restrict__ x, float* __restrict__ y,
    const int* __restrict__ th, const float* __restrict__ wh,
    const int* __restrict__ tw, const float* __restrict__ ww,
    int planes, int H, int W, int OH, int OW, int kh, int kw, float ext)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= planes * OH * OW) {
        return;
    }
    const int j = idx % OW;
    const int i = (idx / OW) % OH;
    const int p = idx / (OW * OH);
    const int* rt = th + i * kh;
    const int* ct = tw + j * kw;
    if (rt[0] < 0 || ct[0] < 0) {
        y[idx] = ext;
        return;
    }
    const float* rw = wh + i * kh;
    const float* cw = ww + j * kw;
    const float* xp = x + p * H * W;
    float acc = 0.0f;
    for (int a = 0; a < kh; a++) {
        const float* row = xp + rt[a] * W;
        float r = 0.0f;
        for (int b = 0; b < kw; b++) {
            r += cw[b] * row[ct[b]];
        }
        acc += rw[a] * r;
    }
    y[idx] = acc;
}

// ---------------------------------------------------------------------------
// Strided copies: Slice, Transpose, Split.
// ---------------------------------------------------------------------------

// Strided is a gather of a tensor's elements: an output of shape
// dims[0..ndim-1] whose element at coordinates c reads input element
// offset + sum_d c[d]*stride[d] (a stride may be negative or zero).
struct Strided {
    int ndim;
    int dims[MAX_DIMS];
    int stride[MAX_DIMS];
};

// strided_copy: y[i] = x[offset + sum_d c_d(i) * s.stride[d]], c(i) the
// coordinates of output index i in s.dims (the last fastest). A Slice's
// strides are the input's times its steps, a Transpose's the input's in
// the permuted order, a Split part's the input's with its offset.
//
// Launch: block 256, grid ceil(total / 256).
extern "C" __global__ void strided_copy(const float* __restrict__ x, float* __restrict__ y, int total, int offset, Strided s)
{
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) {
        return;
    }
    int rem = idx, src = offset;
    for (int d = s.ndim - 1; d >= 0; d--) {
        src += (rem % s.dims[d]) * s.stride[d];
        rem /= s.dims[d];
    }
    y[idx] = x[src];
}
