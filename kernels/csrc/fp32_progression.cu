// The fp32 teaching progression (fp32 in, fp32 out, fp32 arithmetic, any head dim d <= 1024,
// non-causal). Layout: q [BH, N, d], k/v [BH, M, d], o [BH, N, d], contiguous; scale = 1/sqrt(d)
// is passed in. Each kernel adds one idea; docs/dev/kernels.md lists their resources and timings.
//
//   naive3   three kernels: S = scale Q K^T (16x16 shared-memory tiled GEMM) into a BH x N x M
//            scratch in device memory, a row softmax over it, O = P V (same tiled GEMM).
//   minimal  one thread per query row, K/V tiles staged in shared memory, the online softmax,
//            and the output row accumulated in device memory (read-modify-write per tile).
//   v1       one warp per query row: lanes split the keys of a 32-key tile for Q K^T and the
//            output columns for P V; the output row lives in registers (d/32 per lane).
//   v2       shared-memory reuse: one warp per 4 query rows, so every K and V value read from
//            shared memory serves 4 rows, and 16-byte (float4) shared-memory reads.
#include "common.cuh"

namespace infernav {
namespace {

constexpr int kMaxD = 1024;

// ------------------------------------------------------------------ naive3
// C[bh][i][j] = alpha * sum_k A[bh][i][k] * B[bh][j][k]   (B_T: B stored row-major as [cols][K])
// or        = alpha * sum_k A[bh][i][k] * B[bh][k][j]     (!B_T)
template <bool B_T>
__global__ void __launch_bounds__(256) naive_gemm(const float* __restrict__ A, const float* __restrict__ B,
                                                  float* __restrict__ C, int rows, int cols, int kdim,
                                                  float alpha) {
  __shared__ float As[16][17], Bs[16][17];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t bh = blockIdx.z;
  const int i = blockIdx.y * 16 + ty, j = blockIdx.x * 16 + tx;
  A += bh * rows * kdim;
  B += bh * cols * kdim;
  C += bh * rows * cols;
  float acc = 0.f;
  for (int k0 = 0; k0 < kdim; k0 += 16) {
    As[ty][tx] = (i < rows && k0 + tx < kdim) ? A[(int64_t)i * kdim + k0 + tx] : 0.f;
    if (B_T) {
      const int jj = blockIdx.x * 16 + ty;  // Bs[key][k]
      Bs[ty][tx] = (jj < cols && k0 + tx < kdim) ? B[(int64_t)jj * kdim + k0 + tx] : 0.f;
    } else {
      Bs[ty][tx] = (k0 + ty < kdim && j < cols) ? B[(int64_t)(k0 + ty) * cols + j] : 0.f;  // Bs[k][col]
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < 16; ++kk) acc += As[ty][kk] * (B_T ? Bs[tx][kk] : Bs[kk][tx]);
    __syncthreads();
  }
  if (i < rows && j < cols) C[(int64_t)i * cols + j] = acc * alpha;
}

__global__ void __launch_bounds__(256) naive_softmax(float* __restrict__ S, int M) {
  __shared__ float red[8];
  __shared__ float bc;
  float* p = S + (int64_t)blockIdx.x * M;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  float m = -INFINITY;
  for (int j = tid; j < M; j += 256) m = fmaxf(m, p[j]);
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  if (tid == 0) {
    float x = red[0];
    for (int w = 1; w < 8; ++w) x = fmaxf(x, red[w]);
    bc = x;
  }
  __syncthreads();
  m = bc;
  float s = 0.f;
  for (int j = tid; j < M; j += 256) {
    const float e = expf(p[j] - m);
    p[j] = e;
    s += e;
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  __syncthreads();
  if (lane == 0) red[warp] = s;
  __syncthreads();
  if (tid == 0) {
    float x = 0.f;
    for (int w = 0; w < 8; ++w) x += red[w];
    bc = x;
  }
  __syncthreads();
  const float inv = 1.f / bc;
  for (int j = tid; j < M; j += 256) p[j] *= inv;
}

// ------------------------------------------------------------------ minimal
constexpr int kMinRows = 64;  // threads (= query rows) per CTA

__global__ void __launch_bounds__(kMinRows) minimal_kernel(const float* __restrict__ Q, const float* __restrict__ K,
                                                           const float* __restrict__ V, float* __restrict__ O,
                                                           int N, int M, int d, float scale, int bc) {
  extern __shared__ float sm[];
  float* sK = sm;           // [bc][d]
  float* sV = sK + bc * d;  // [bc][d]
  float* sS = sV + bc * d;  // [kMinRows][bc + 1]
  const int64_t bh = blockIdx.y;
  const int tid = threadIdx.x, i = blockIdx.x * kMinRows + tid;
  Q += bh * N * d;
  K += bh * M * d;
  V += bh * M * d;
  O += bh * N * d;
  float* s = sS + tid * (bc + 1);
  float m = -INFINITY, l = 0.f;
  if (i < N)
    for (int c = 0; c < d; ++c) O[(int64_t)i * d + c] = 0.f;
  for (int j0 = 0; j0 < M; j0 += bc) {
    const int nb = min(bc, M - j0);
    __syncthreads();
    for (int x = tid; x < nb * d; x += kMinRows) {
      sK[x] = K[(int64_t)j0 * d + x];
      sV[x] = V[(int64_t)j0 * d + x];
    }
    __syncthreads();
    if (i < N) {
      float mx = m;
      for (int j = 0; j < nb; ++j) {
        float acc = 0.f;
        for (int c = 0; c < d; ++c) acc += Q[(int64_t)i * d + c] * sK[j * d + c];
        acc *= scale;
        s[j] = acc;
        mx = fmaxf(mx, acc);
      }
      const float alpha = expf(m - mx);  // m = -inf on the first tile: alpha = 0
      float ls = 0.f;
      for (int j = 0; j < nb; ++j) {
        const float p = expf(s[j] - mx);
        s[j] = p;
        ls += p;
      }
      l = l * alpha + ls;
      m = mx;
      for (int c = 0; c < d; ++c) {
        float acc = O[(int64_t)i * d + c] * alpha;
        for (int j = 0; j < nb; ++j) acc += s[j] * sV[j * d + c];
        O[(int64_t)i * d + c] = acc;
      }
    }
  }
  if (i < N) {
    const float inv = 1.f / l;
    for (int c = 0; c < d; ++c) O[(int64_t)i * d + c] *= inv;
  }
}

// ------------------------------------------------------------------ v1 / v2
// One warp per RPW query rows; keys in tiles of 32 (lane = key for Q K^T), d in chunks of 64
// staged in shared memory; the output rows in registers: lane owns columns lane + 32 c.
// RPW = 1 is v1 (scalar shared-memory reads), RPW = 4 is v2 (each K/V value read once serves 4
// rows; float4 reads, rows padded to 68 floats so 8 lanes x 16 B hit 32 different banks).
template <int RPW>
__global__ void __launch_bounds__(256, 1) warp_rows_kernel(const float* __restrict__ Q, const float* __restrict__ K,
                                                        const float* __restrict__ V, float* __restrict__ O,
                                                        int N, int M, int d, float scale) {
  constexpr int NW = 8, ROWS = NW * RPW, DC = 64, LDK = DC + 4, NCH = kMaxD / DC;
  __shared__ __align__(16) float sQ[ROWS][DC];
  __shared__ __align__(16) float sK[32][LDK];  // K chunk, later V chunk
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int64_t bh = blockIdx.y;
  const int r0 = blockIdx.x * ROWS;
  Q += bh * N * d;
  K += bh * M * d;
  V += bh * M * d;
  O += bh * N * d;
  const int nch = (d + DC - 1) / DC;

  float acc[RPW][2 * NCH];
#pragma unroll
  for (int r = 0; r < RPW; ++r)
#pragma unroll
    for (int c = 0; c < 2 * NCH; ++c) acc[r][c] = 0.f;
  float m[RPW], l[RPW];
#pragma unroll
  for (int r = 0; r < RPW; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
  }

  for (int j0 = 0; j0 < M; j0 += 32) {
    // ---- scores: lane = key j0 + lane
    float s[RPW];
#pragma unroll
    for (int r = 0; r < RPW; ++r) s[r] = 0.f;
    for (int ch = 0; ch < nch; ++ch) {
      const int c0 = ch * DC;
      __syncthreads();
      for (int x = tid; x < ROWS * DC; x += 256) {
        const int r = x / DC, c = x % DC;
        sQ[r][c] = (r0 + r < N && c0 + c < d) ? Q[(int64_t)(r0 + r) * d + c0 + c] : 0.f;
      }
      for (int x = tid; x < 32 * DC; x += 256) {
        const int r = x / DC, c = x % DC;
        sK[r][c] = (j0 + r < M && c0 + c < d) ? K[(int64_t)(j0 + r) * d + c0 + c] : 0.f;
      }
      __syncthreads();
      if (RPW == 1) {
#pragma unroll 16
        for (int c = 0; c < DC; ++c) s[0] += sQ[warp][c] * sK[lane][c];
      } else {
#pragma unroll 4
        for (int c = 0; c < DC; c += 4) {
          const float4 kv = *reinterpret_cast<const float4*>(&sK[lane][c]);
#pragma unroll
          for (int r = 0; r < RPW; ++r) {
            const float4 qv = *reinterpret_cast<const float4*>(&sQ[warp * RPW + r][c]);
            s[r] += qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
          }
        }
      }
    }
    // ---- online softmax across the warp
    float p[RPW], alpha[RPW];
#pragma unroll
    for (int r = 0; r < RPW; ++r) {
      const float x = (j0 + lane < M) ? s[r] * scale : -INFINITY;
      float mx = x;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      mx = fmaxf(mx, m[r]);
      alpha[r] = expf(m[r] - mx);
      p[r] = expf(x - mx);
      float ps = p[r];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, o);
      l[r] = l[r] * alpha[r] + ps;
      m[r] = mx;
    }
    // ---- O = alpha O + P V, chunk by chunk (fully unrolled so acc[] indices are constants)
#pragma unroll
    for (int ch = 0; ch < NCH; ++ch) {
      if (ch < nch) {
        const int c0 = ch * DC;
        __syncthreads();
        for (int x = tid; x < 32 * DC; x += 256) {
          const int r = x / DC, c = x % DC;
          sK[r][c] = (j0 + r < M && c0 + c < d) ? V[(int64_t)(j0 + r) * d + c0 + c] : 0.f;
        }
        __syncthreads();
        float a0[RPW], a1[RPW];
#pragma unroll
        for (int r = 0; r < RPW; ++r) {
          a0[r] = acc[r][2 * ch] * alpha[r];
          a1[r] = acc[r][2 * ch + 1] * alpha[r];
        }
#pragma unroll 8
        for (int jj = 0; jj < 32; ++jj) {
          const float v0 = sK[jj][lane], v1 = sK[jj][lane + 32];
#pragma unroll
          for (int r = 0; r < RPW; ++r) {
            const float pj = __shfl_sync(0xffffffffu, p[r], jj);
            a0[r] += pj * v0;
            a1[r] += pj * v1;
          }
        }
#pragma unroll
        for (int r = 0; r < RPW; ++r) {
          acc[r][2 * ch] = a0[r];
          acc[r][2 * ch + 1] = a1[r];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < RPW; ++r) {
    const int i = r0 + warp * RPW + r;
    if (i >= N) continue;
    const float inv = 1.f / l[r];
#pragma unroll
    for (int ch = 0; ch < NCH; ++ch) {
      const int c = ch * DC + lane;
      if (c < d) O[(int64_t)i * d + c] = acc[r][2 * ch] * inv;
      if (c + 32 < d) O[(int64_t)i * d + c + 32] = acc[r][2 * ch + 1] * inv;
    }
  }
}

}  // namespace
}  // namespace infernav

// variant: 0 naive3 (needs `scratch` of bh*n*m floats), 1 minimal, 2 v1, 3 v2.
extern "C" int infernav_fp32_progression(int variant, const float* q, const float* k, const float* v, float* o,
                                         float* scratch, int bh, int n, int m, int d, float scale,
                                         void* stream) {
  using namespace infernav;
  if (bh <= 0 || n <= 0 || m <= 0 || d <= 0 || d > kMaxD) return (int)cudaErrorInvalidValue;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (variant) {
    case 0: {
      if (scratch == nullptr) return (int)cudaErrorInvalidValue;
      const dim3 blk(16, 16);
      naive_gemm<true><<<dim3((m + 15) / 16, (n + 15) / 16, bh), blk, 0, s>>>(q, k, scratch, n, m, d, scale);
      naive_softmax<<<(unsigned)((int64_t)bh * n), 256, 0, s>>>(scratch, m);
      naive_gemm<false><<<dim3((d + 15) / 16, (n + 15) / 16, bh), blk, 0, s>>>(scratch, v, o, n, d, m, 1.f);
      break;
    }
    case 1: {
      int bc = 5120 / d;  // 2 * bc * d * 4 bytes of K/V tiles within the 48 KB default
      bc = bc < 1 ? 1 : (bc > 32 ? 32 : bc);
      const size_t smem = (size_t)(2 * bc * d + kMinRows * (bc + 1)) * sizeof(float);
      minimal_kernel<<<dim3((n + kMinRows - 1) / kMinRows, bh), kMinRows, smem, s>>>(q, k, v, o, n, m, d, scale, bc);
      break;
    }
    case 2:
      warp_rows_kernel<1><<<dim3((n + 7) / 8, bh), 256, 0, s>>>(q, k, v, o, n, m, d, scale);
      break;
    case 3:
      warp_rows_kernel<4><<<dim3((n + 31) / 32, bh), 256, 0, s>>>(q, k, v, o, n, m, d, scale);
      break;
    default:
      return (int)cudaErrorInvalidValue;
  }
  INFERNAV_RETURN_LAUNCH_STATUS();
}
