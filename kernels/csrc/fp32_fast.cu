// The fast fp32-in / fp32-out attention of the progression, for Hopper (runs on sm_80 too):
// tensor cores (mma.sync m16n8k16, fp16 operands, fp32 accumulation), any d <= 1024 with d % 4 == 0,
// M (keys) <= 1024, non-causal.
//
// What limits v3 and what this does instead:
// * Large d: an output block of 64 x 1024 fp32 does not fit in registers, and keeping it in shared
//   memory (v3) costs a read-modify-write per key tile. Here the CTA first computes all of
//   P = exp(S - m) for its 64 query rows and ALL keys (phase 1) and keeps P in shared memory as
//   fp16 (64 x M x 2 bytes: 128 KB at M = 1024); then (phase 2) the output is produced 128 columns
//   at a time, O[:, c:c+128] = P V[:, c:c+128] / l, each column block finished before the next, so
//   only 16 x 64 fp32 accumulators per warp are ever live. Q K^T and P V are each computed once.
// * Softmax without a second pass over S: each warp keeps its own running max per row and the max
//   of every 64-key block it wrote (exp taken against that block max, so P is in [0, 1]); after
//   phase 1 one pass rescales each block by 2^(m_block - m_row) in shared memory.
// * Inputs are read once as fp32 with 16-byte coalesced loads into registers, one stage ahead of
//   the tensor-core work, converted to fp16 and stored to XOR-swizzled tiles (conflict-free ldmatrix
//   and stores); one barrier per stage.
// CTA: 8 warps, 64 query rows. Phase 1 tiles: 128 keys x 64 d; warp (wr, wc) owns rows 16 wr..,
// keys 64 wc.. . Phase 2 tiles: 64 keys x 128 columns; warp (wr, wc) owns rows 16 wr.., columns 64 wc.. .
#include <type_traits>

#include "common.cuh"

namespace infernav {
namespace {

constexpr int NT = 256;
constexpr int BR = 64;
constexpr int BC1 = 128;     // keys per phase-1 tile
constexpr int DC1 = 64;      // d per phase-1 stage
constexpr int BC2 = 64;      // keys per phase-2 stage
constexpr int DC2 = 128;     // output columns per phase-2 pass
constexpr int MAXM = 1024;
constexpr int QBYTES = BR * DC1 * 2;           // 8 KB
constexpr int KBYTES = BC1 * DC1 * 2;          // 16 KB
constexpr int STAGE1 = QBYTES + KBYTES;        // 24 KB
constexpr int STAGE2 = BC2 * DC2 * 2;          // 16 KB
constexpr int STAGE_REGION = 2 * STAGE1;       // 48 KB (two phase-1 or two phase-2 stages)

INFERNAV_DEVICE uint32_t swz_rt(int row, int chunk, int row_bytes) {
  return row * row_bytes + ((chunk ^ (row & 7)) << 4);
}

INFERNAV_DEVICE void st_shared_v2(uint32_t addr, uint32_t a, uint32_t b) {
  asm volatile("st.shared.v2.b32 [%0], {%1, %2};\n" ::"r"(addr), "r"(a), "r"(b));
}

INFERNAV_DEVICE float4 ld_f4(const float* p, bool ok) {
  return ok ? __ldg(reinterpret_cast<const float4*>(p)) : make_float4(0.f, 0.f, 0.f, 0.f);
}

INFERNAV_DEVICE void store_h4(uint32_t addr, const float4& x) {
  st_shared_v2(addr, pack2<__half>(x.x, x.y), pack2<__half>(x.z, x.w));
}

struct Smem {
  int mp;          // keys padded to a multiple of BC1
  int prow;        // bytes per P row
  uint32_t p;      // P [BR][mp] fp16, swizzled
  uint32_t stage;  // stage region
  float* bmax;     // [BR][mp / 64] per-(row, 64-key block) max (raw score units)
  float* st_m;     // [2][BR]
  float* st_l;     // [2][BR]
  float* fin_m;    // [BR]
  float* inv_l;    // [BR]
};

template <int N_>
using ic = std::integral_constant<int, N_>;

// PF: how many stages ahead the fp32 loads run (1: one register set, small enough for 2 CTAs per
// SM when P fits twice in shared memory; 2: two register sets, for the 1-CTA-per-SM case, M > 384).
template <int PF, int MINB>
__global__ void __launch_bounds__(NT, MINB) fp32_fast_kernel(const float* __restrict__ Q, const float* __restrict__ K,
                                                          const float* __restrict__ V, float* __restrict__ O, int N,
                                                          int M, int d, float scale_log2) {
  extern __shared__ __align__(128) unsigned char smem[];
  Smem S;
  S.mp = (M + BC1 - 1) / BC1 * BC1;
  S.prow = S.mp * 2;
  S.p = smem_u32(smem);
  S.stage = S.p + BR * S.prow;
  S.bmax = reinterpret_cast<float*>(smem + BR * S.prow + STAGE_REGION);
  S.st_m = S.bmax + BR * (S.mp / 64);
  S.st_l = S.st_m + 2 * BR;
  S.fin_m = S.st_l + 2 * BR;
  S.inv_l = S.fin_m + BR;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wr = warp & 3, wc = warp >> 2;
  const int64_t bh = blockIdx.y;
  const int m0 = blockIdx.x * BR;
  Q += bh * N * d;
  K += bh * M * d;
  V += bh * M * d;
  O += bh * N * d;
  const float sl2 = scale_log2;

  // ================= phase 1: P = exp(S - block max), running row statistics
  const int ndc = (d + DC1 - 1) / DC1;
  const int nkt = S.mp / BC1;
  const int nsteps1 = nkt * ndc;

  float4 rq[PF][4], rk[PF][8];
  auto load1 = [&](int step, auto SETC) {
    constexpr int SET = decltype(SETC)::value;
    const int kt = step / ndc, c0 = (step % ndc) * DC1;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = tid + i * NT, r = idx >> 4, col = c0 + (idx & 15) * 4;
      rq[SET][i] = ld_f4(Q + (int64_t)(m0 + r) * d + col, m0 + r < N && col < d);
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int idx = tid + i * NT, r = idx >> 4, col = c0 + (idx & 15) * 4;
      const int key = kt * BC1 + r;
      rk[SET][i] = ld_f4(K + (int64_t)key * d + col, key < M && col < d);
    }
  };
  auto store1 = [&](int buf, auto SETC) {
    constexpr int SET = decltype(SETC)::value;
    const uint32_t qb = S.stage + buf * STAGE1, kb = qb + QBYTES;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = tid + i * NT, r = idx >> 4, c4 = idx & 15;
      store_h4(qb + swz<DC1 * 2>(r, c4 >> 1) + (c4 & 1) * 8, rq[SET][i]);
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int idx = tid + i * NT, r = idx >> 4, c4 = idx & 15;
      store_h4(kb + swz<DC1 * 2>(r, c4 >> 1) + (c4 & 1) * 8, rk[SET][i]);
    }
  };

  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
  float s[8][4];

  // Invariant at the start of step s: stage buffer s % 2 holds step s (fp16), and the register
  // set for step s + 1 is loaded or in flight. Step s issues the loads of step s + PF, computes,
  // then converts step s + 1 into the other buffer; one barrier per step.
  load1(0, ic<0>{});
  if (PF == 2 && nsteps1 > 1) load1(1, ic<PF - 1>{});
  store1(0, ic<0>{});
  __syncthreads();
  auto step1 = [&](int step, auto SETC) {
    constexpr int SET = decltype(SETC)::value;
    constexpr int LSET = PF == 2 ? SET : 0, SSET = PF == 2 ? 1 - SET : 0;
    const int kt = step / ndc, dc = step % ndc;
    if (step + PF < nsteps1) load1(step + PF, ic<LSET>{});
    if (dc == 0) {
#pragma unroll
      for (int n = 0; n < 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
    }
    const uint32_t qb = S.stage + (step & 1) * STAGE1, kb = qb + QBYTES;
#pragma unroll
    for (int kk = 0; kk < DC1 / 16; ++kk) {
      uint32_t a[4];
      ldsm_x4(a[0], a[1], a[2], a[3], qb + swz<DC1 * 2>(wr * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        uint32_t b0, b1, b2, b3;
        ldsm_x4(b0, b1, b2, b3,
                kb + swz<DC1 * 2>(wc * 64 + np * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
        Mma<__half>::run(s[2 * np], a, b0, b1);
        Mma<__half>::run(s[2 * np + 1], a, b2, b3);
      }
    }
    if (dc == ndc - 1) {
      // tile epilogue: this warp's 16 rows x 64 keys are complete
      const int kb0 = kt * BC1 + wc * 64;
#pragma unroll
      for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i)
          if (kb0 + n * 8 + 2 * (lane & 3) + (i & 1) >= M) s[n][i] = -INFINITY;
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        float mx = -INFINITY;
#pragma unroll
        for (int n = 0; n < 8; ++n) mx = fmaxf(mx, fmaxf(s[n][2 * hh], s[n][2 * hh + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mu = (mx == -INFINITY) ? 0.f : mx * sl2;
        float rs = 0.f;
#pragma unroll
        for (int n = 0; n < 8; ++n) {
          const float p0 = fast_exp2(fmaf(s[n][2 * hh], sl2, -mu));
          const float p1 = fast_exp2(fmaf(s[n][2 * hh + 1], sl2, -mu));
          s[n][2 * hh] = p0;
          s[n][2 * hh + 1] = p1;
          rs += p0 + p1;
        }
        rs += __shfl_xor_sync(0xffffffffu, rs, 1);
        rs += __shfl_xor_sync(0xffffffffu, rs, 2);
        const float mnew = fmaxf(m_run[hh], mx);
        if (mnew != -INFINITY) {
          l_run[hh] = l_run[hh] * fast_exp2((m_run[hh] - mnew) * sl2) + rs * fast_exp2((mx - mnew) * sl2);
          m_run[hh] = mnew;
        }
        const int row = wr * 16 + (lane >> 2) + 8 * hh;
        if ((lane & 3) == 0) S.bmax[row * (S.mp / 64) + kt * 2 + wc] = mx;
#pragma unroll
        for (int n = 0; n < 8; ++n) {
          const int col = kb0 + n * 8;  // 8-aligned: one 16-byte chunk
          const uint32_t addr = S.p + swz_rt(row, col >> 3, S.prow) + 4 * (lane & 3);
          asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(pack2<__half>(s[n][2 * hh], s[n][2 * hh + 1])));
        }
      }
    }
    if (step + 1 < nsteps1) store1((step + 1) & 1, ic<SSET>{});
    __syncthreads();
  };
  for (int step = 0; step < nsteps1; step += 2) {
    step1(step, ic<0>{});
    if (step + 1 < nsteps1) step1(step + 1, ic<1>{});
  }

  // combine the two key halves of every row, then rescale each 64-key block of P
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    const int row = wr * 16 + (lane >> 2) + 8 * hh;
    if ((lane & 3) == 0) {
      S.st_m[wc * BR + row] = m_run[hh];
      S.st_l[wc * BR + row] = l_run[hh];
    }
  }
  __syncthreads();
  if (tid < BR) {
    const float ma = S.st_m[tid], mb = S.st_m[BR + tid];
    const float m = fmaxf(ma, mb);
    float l = 0.f;
    if (ma != -INFINITY) l += S.st_l[tid] * fast_exp2((ma - m) * sl2);
    if (mb != -INFINITY) l += S.st_l[BR + tid] * fast_exp2((mb - m) * sl2);
    S.fin_m[tid] = m;
    S.inv_l[tid] = 1.f / l;
  }
  __syncthreads();
  {
    const int cpr = S.mp / 8;  // 16-byte chunks per P row
    for (int idx = tid; idx < BR * cpr; idx += NT) {
      const int row = idx / cpr, c = idx % cpr;
      const float bm = S.bmax[row * (S.mp / 64) + (c >> 3)];
      const float f = (bm == -INFINITY) ? 0.f : fast_exp2((bm - S.fin_m[row]) * sl2);
      const uint32_t addr = S.p + swz_rt(row, c, S.prow);
      uint32_t w[4];
      asm volatile("ld.shared.v4.b32 {%0,%1,%2,%3}, [%4];\n" : "=r"(w[0]), "=r"(w[1]), "=r"(w[2]), "=r"(w[3]) : "r"(addr));
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float2 t = unpack2<__half>(w[j]);
        w[j] = pack2<__half>(t.x * f, t.y * f);
      }
      asm volatile("st.shared.v4.b32 [%0], {%1,%2,%3,%4};\n" ::"r"(addr), "r"(w[0]), "r"(w[1]), "r"(w[2]), "r"(w[3]));
    }
  }
  __syncthreads();

  // ================= phase 2: O[:, c:c+128] = P V[:, c:c+128] / l
  const int nkv = (M + BC2 - 1) / BC2;
  const int ndv = (d + DC2 - 1) / DC2;
  const int nsteps2 = nkv * ndv;
  float4 rv[PF][8];
  auto load2 = [&](int step, auto SETC) {
    constexpr int SET = decltype(SETC)::value;
    const int kv = step % nkv, c0 = (step / nkv) * DC2;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int idx = tid + i * NT, r = idx >> 5, col = c0 + (idx & 31) * 4;
      const int key = kv * BC2 + r;
      rv[SET][i] = ld_f4(V + (int64_t)key * d + col, key < M && col < d);
    }
  };
  auto store2 = [&](int buf, auto SETC) {
    constexpr int SET = decltype(SETC)::value;
    const uint32_t vb = S.stage + buf * STAGE2;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int idx = tid + i * NT, r = idx >> 5, c4 = idx & 31;
      store_h4(vb + swz<DC2 * 2>(r, c4 >> 1) + (c4 & 1) * 8, rv[SET][i]);
    }
  };
  float o[8][4];
#pragma unroll
  for (int n = 0; n < 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  load2(0, ic<0>{});
  if (PF == 2 && nsteps2 > 1) load2(1, ic<PF - 1>{});
  store2(0, ic<0>{});
  __syncthreads();
  auto step2 = [&](int step, auto SETC) {
    constexpr int SET = decltype(SETC)::value;
    constexpr int LSET = PF == 2 ? SET : 0, SSET = PF == 2 ? 1 - SET : 0;
    const int kv = step % nkv, c0 = (step / nkv) * DC2;
    if (step + PF < nsteps2) load2(step + PF, ic<LSET>{});
    const uint32_t vb = S.stage + (step & 1) * STAGE2;
#pragma unroll
    for (int kk = 0; kk < BC2 / 16; ++kk) {
      uint32_t a[4];
      ldsm_x4(a[0], a[1], a[2], a[3], S.p + swz_rt(wr * 16 + (lane & 15), ((kv * BC2 + kk * 16) >> 3) + (lane >> 4), S.prow));
#pragma unroll
      for (int dp = 0; dp < 4; ++dp) {
        uint32_t b0, b1, b2, b3;
        ldsm_x4_t(b0, b1, b2, b3,
                  vb + swz<DC2 * 2>(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), ((wc * 64 + dp * 16) >> 3) + (lane >> 4)));
        Mma<__half>::run(o[2 * dp], a, b0, b1);
        Mma<__half>::run(o[2 * dp + 1], a, b2, b3);
      }
    }
    if (kv == nkv - 1) {
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        const int row = wr * 16 + (lane >> 2) + 8 * hh;
        const float inv = S.inv_l[row];
        if (m0 + row < N) {
#pragma unroll
          for (int n = 0; n < 8; ++n) {
            const int col = c0 + wc * 64 + n * 8 + 2 * (lane & 3);
            if (col < d)
              *reinterpret_cast<float2*>(O + (int64_t)(m0 + row) * d + col) =
                  make_float2(o[n][2 * hh] * inv, o[n][2 * hh + 1] * inv);
          }
        }
      }
#pragma unroll
      for (int n = 0; n < 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
    }
    if (step + 1 < nsteps2) store2((step + 1) & 1, ic<SSET>{});
    __syncthreads();
  };
  for (int step = 0; step < nsteps2; step += 2) {
    step2(step, ic<0>{});
    if (step + 1 < nsteps2) step2(step + 1, ic<1>{});
  }
}

size_t smem_bytes(int m) {
  const int mp = (m + BC1 - 1) / BC1 * BC1;
  return (size_t)BR * mp * 2 + STAGE_REGION + (size_t)BR * (mp / 64) * 4 + (size_t)6 * BR * 4;
}

}  // namespace
}  // namespace infernav

extern "C" int infernav_fp32_fast(const float* q, const float* k, const float* v, float* o, int bh, int n, int m,
                                  int d, float scale, void* stream) {
  using namespace infernav;
  if (bh <= 0 || n <= 0 || m <= 0 || m > MAXM || d <= 0 || d > 1024 || d % 4 != 0) return (int)cudaErrorInvalidValue;
  const size_t smem = smem_bytes(m);
  // two CTAs per SM when two copies of P and the stages fit (M <= 384): one register stage;
  // otherwise one CTA per SM with registers to spare: loads run two stages ahead.
  const bool two = 2 * smem <= 227 * 1024;
  auto kern = two ? fp32_fast_kernel<1, 2> : fp32_fast_kernel<2, 1>;
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  kern<<<dim3((n + BR - 1) / BR, bh), NT, smem, static_cast<cudaStream_t>(stream)>>>(q, k, v, o, n, m, d,
                                                                                      scale * kLog2e);
  INFERNAV_RETURN_LAUNCH_STATUS();
}
