// v3 of the fp32 teaching progression: tensor cores through WMMA (16x16x16, fp16 operands, fp32
// accumulation), fp32 in and out, any d <= 1024, non-causal.
//
// Idea it adds: Q, K, V and P are converted to fp16 while being staged in shared memory, and both
// products run on tensor cores. The output block [32 x d] is accumulated in fp32 in shared memory
// (d up to 1024 does not fit in registers): per key tile it is rescaled by the online-softmax
// factor, then each warp loads its 16x16 accumulator fragments, adds P V and stores them back.
// CTA: 4 warps, 32 query rows, key tiles of 32, d staged in chunks of 64.
#include <mma.h>

#include "common.cuh"

namespace infernav {
namespace {

using namespace nvcuda;

constexpr int BR = 32, BC = 32, DC = 64, LDH = DC + 8, LDS = BC + 4, LDP = BC + 8;

__global__ void __launch_bounds__(128) wmma_kernel(const float* __restrict__ Q, const float* __restrict__ K,
                                                   const float* __restrict__ V, float* __restrict__ O, int N,
                                                   int M, int d, float scale, int ldo) {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  float* sO = reinterpret_cast<float*>(smem_raw);                  // [BR][ldo]
  __half* sQh = reinterpret_cast<__half*>(sO + BR * ldo);          // [BR][LDH]
  __half* sKh = sQh + BR * LDH;                                     // [BC][LDH] (K, then V)
  float* sS = reinterpret_cast<float*>(sKh + BC * LDH);            // [BR][LDS]
  __half* sP = reinterpret_cast<__half*>(sS + BR * LDS);           // [BR][LDP]
  float* sM = reinterpret_cast<float*>(sP + BR * LDP);             // [BR]
  float* sL = sM + BR;
  float* sA = sL + BR;

  const int tid = threadIdx.x, warp = tid >> 5;
  const int64_t bh = blockIdx.y;
  const int r0 = blockIdx.x * BR;
  Q += bh * N * d;
  K += bh * M * d;
  V += bh * M * d;
  O += bh * N * d;
  const int nch = (d + DC - 1) / DC;
  const int dpad = nch * DC;

  for (int x = tid; x < BR * ldo; x += 128) sO[x] = 0.f;
  if (tid < BR) {
    sM[tid] = -INFINITY;
    sL[tid] = 0.f;
  }
  const int wr = warp >> 1, wc = warp & 1;  // this warp's 16x16 block of S

  for (int j0 = 0; j0 < M; j0 += BC) {
    // ---- S = Q K^T on tensor cores, d in chunks of 64 converted to fp16 in shared memory
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> sacc;
    wmma::fill_fragment(sacc, 0.f);
    for (int ch = 0; ch < nch; ++ch) {
      const int c0 = ch * DC;
      __syncthreads();
      for (int x = tid; x < BR * DC; x += 128) {
        const int r = x / DC, c = x % DC;
        sQh[r * LDH + c] = __float2half_rn((r0 + r < N && c0 + c < d) ? Q[(int64_t)(r0 + r) * d + c0 + c] : 0.f);
        sKh[r * LDH + c] = __float2half_rn((j0 + r < M && c0 + c < d) ? K[(int64_t)(j0 + r) * d + c0 + c] : 0.f);
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < DC; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;  // K^T
        wmma::load_matrix_sync(fa, sQh + wr * 16 * LDH + kk, LDH);
        wmma::load_matrix_sync(fb, sKh + wc * 16 * LDH + kk, LDH);
        wmma::mma_sync(sacc, fa, fb, sacc);
      }
    }
    wmma::store_matrix_sync(sS + wr * 16 * LDS + wc * 16, sacc, LDS, wmma::mem_row_major);
    __syncthreads();

    // ---- online softmax: 4 threads per row, 8 columns each
    {
      const int r = tid >> 2, part = tid & 3;
      float x[8], mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int col = part * 8 + j;
        x[j] = (j0 + col < M) ? sS[r * LDS + col] * scale : -INFINITY;
        mx = fmaxf(mx, x[j]);
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_old = sM[r];
      const float m_new = fmaxf(m_old, mx);
      float ps = 0.f;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float p = expf(x[j] - m_new);
        sP[r * LDP + part * 8 + j] = __float2half_rn(p);
        ps += p;
      }
      ps += __shfl_xor_sync(0xffffffffu, ps, 1);
      ps += __shfl_xor_sync(0xffffffffu, ps, 2);
      __syncwarp();  // every lane of the row has read sM[r] before lane 0 rewrites it (racecheck)
      if (part == 0) {
        const float alpha = expf(m_old - m_new);
        sA[r] = alpha;
        sL[r] = sL[r] * alpha + ps;
        sM[r] = m_new;
      }
    }
    __syncthreads();
    for (int x = tid; x < BR * dpad; x += 128) {
      const int r = x / dpad, c = x % dpad;
      sO[r * ldo + c] *= sA[r];
    }

    // ---- O += P V, V staged as fp16 in chunks of 64 columns
    for (int ch = 0; ch < nch; ++ch) {
      const int c0 = ch * DC;
      __syncthreads();
      for (int x = tid; x < BC * DC; x += 128) {
        const int r = x / DC, c = x % DC;
        sKh[r * LDH + c] = __float2half_rn((j0 + r < M && c0 + c < d) ? V[(int64_t)(j0 + r) * d + c0 + c] : 0.f);
      }
      __syncthreads();
      // 32 x 64 output block = 2 x 4 fragments; warp w takes row block w/2, column blocks 2(w%2)+{0,1}
#pragma unroll
      for (int t = 0; t < 2; ++t) {
        const int ct = (warp & 1) * 2 + t;
        float* optr = sO + (warp >> 1) * 16 * ldo + c0 + ct * 16;
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> oacc;
        wmma::load_matrix_sync(oacc, optr, ldo, wmma::mem_row_major);
#pragma unroll
        for (int kk = 0; kk < BC; kk += 16) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
          wmma::load_matrix_sync(fa, sP + (warp >> 1) * 16 * LDP + kk, LDP);
          wmma::load_matrix_sync(fb, sKh + kk * LDH + ct * 16, LDH);
          wmma::mma_sync(oacc, fa, fb, oacc);
        }
        wmma::store_matrix_sync(optr, oacc, ldo, wmma::mem_row_major);
      }
    }
  }
  __syncthreads();
  for (int x = tid; x < BR * d; x += 128) {
    const int r = x / d, c = x % d;
    if (r0 + r < N) O[(int64_t)(r0 + r) * d + c] = sO[r * ldo + c] / sL[r];
  }
}

}  // namespace
}  // namespace infernav

extern "C" size_t infernav_fp32_wmma_smem(int d) {
  using namespace infernav;
  const int dpad = (d + DC - 1) / DC * DC, ldo = dpad + 8;
  return (size_t)BR * ldo * 4 + (size_t)(BR + BC) * LDH * 2 + (size_t)BR * LDS * 4 + (size_t)BR * LDP * 2 +
         3 * BR * 4;
}

extern "C" int infernav_fp32_wmma(const float* q, const float* k, const float* v, float* o, int bh, int n, int m,
                                  int d, float scale, void* stream) {
  using namespace infernav;
  if (bh <= 0 || n <= 0 || m <= 0 || d <= 0 || d > 1024) return (int)cudaErrorInvalidValue;
  const int dpad = (d + DC - 1) / DC * DC, ldo = dpad + 8;
  const size_t smem = infernav_fp32_wmma_smem(d);
  cudaError_t e = cudaFuncSetAttribute(wmma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  wmma_kernel<<<dim3((n + BR - 1) / BR, bh), 128, smem, static_cast<cudaStream_t>(stream)>>>(q, k, v, o, n, m, d,
                                                                                              scale, ldo);
  INFERNAV_RETURN_LAUNCH_STATUS();
}
