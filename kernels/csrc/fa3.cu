// Hopper forward attention on wgmma (FlashAttention-3 style, simplified): fp16/bf16, D in {64, 128},
// causal or not, variable lengths and GQA exactly as fa2.cu (same arguments, same semantics).
//
// Idea it adds over fa2.cu: the two products run as warpgroup MMAs (wgmma.mma_async, sm_90a):
// a warpgroup of 4 warps computes a 64-row block, S = Q K^T with both operands read by the tensor
// cores straight from shared memory (no ldmatrix, no register copies of Q or K), and O += P V with
// P from registers and V read from shared memory transposed by the hardware (MN-major operand).
// Tiles live in shared memory in the 128-byte-swizzle layout the tensor cores expect (rows of
// 64 elements, 16-byte chunk c of row r at c ^ (r % 8), 8-row groups 1024 bytes apart, wider
// head dims as several 64-column regions). K and V are double-buffered: tile j+1 is fetched with
// cp.async while tile j is computed; one barrier per tile.
// CTA: 2 warpgroups (256 threads), 128 query rows, key tiles of 128. Not done (FA3 proper): TMA
// loads, a producer warpgroup with setmaxnreg, ping-pong scheduling of the two warpgroups.
#include <type_traits>

#include "common.cuh"
#include "wgmma.cuh"

namespace infernav {
namespace {

struct FwdArgs {  // same layout as fa2.cu's
  const void* q;
  const void* k;
  const void* v;
  void* o;
  int64_t q_b, q_h, q_s, k_b, k_h, k_s, v_b, v_h, v_s, o_b, o_h, o_s;
  const int* cu_q;
  const int* cu_k;
  int seqlen_q, seqlen_k, hq, hkv;
  float scale_log2;
};

constexpr int BR = 128, BC = 128, NT = 256;

// smem matrix descriptor, 128-byte swizzle
[[maybe_unused]] INFERNAV_DEVICE uint64_t desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFF) << 16) |
         ((uint64_t)((sbo >> 4) & 0x3FFF) << 32) | ((uint64_t)1 << 62);
}

template <typename T, int N>
INFERNAV_DEVICE void mma_ss(float (&d)[N / 2], uint64_t a, uint64_t b, int sc) {
  if constexpr (std::is_same<T, __half>::value) {
    if constexpr (N == 64) wg::ss_Half_n64(d, a, b, sc); else wg::ss_Half_n128(d, a, b, sc);
  } else {
    if constexpr (N == 64) wg::ss_Bf16_n64(d, a, b, sc); else wg::ss_Bf16_n128(d, a, b, sc);
  }
}
template <typename T, int N>
INFERNAV_DEVICE void mma_rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t b, int sc) {
  if constexpr (std::is_same<T, __half>::value) {
    if constexpr (N == 64) wg::rs_Half_n64_tb(d, a, b, sc); else wg::rs_Half_n128_tb(d, a, b, sc);
  } else {
    if constexpr (N == 64) wg::rs_Bf16_n64_tb(d, a, b, sc); else wg::rs_Bf16_n128_tb(d, a, b, sc);
  }
}

// ROWS x D tile -> 128B-swizzled regions of 64 columns (region stride ROWS * 128 bytes)
template <typename T, int ROWS, int D>
INFERNAV_DEVICE void load_sw128(uint32_t sbase, const T* base, int64_t stride, int row0, int nrows, int tid) {
  constexpr int CPR = D / 8;
  static_assert((ROWS * CPR) % NT == 0, "even split");
#pragma unroll
  for (int it = 0; it < ROWS * CPR / NT; ++it) {
    const int i = tid + it * NT, r = i / CPR, c = i % CPR;
    const bool ok = row0 + r < nrows;
    const T* src = base + (ok ? (int64_t)(row0 + r) * stride + c * 8 : 0);
    cp_async_16(sbase + (c >> 3) * (ROWS * 128) + swz<128>(r, c & 7), src, ok);
  }
}

template <int N>
INFERNAV_DEVICE void fence_u32(uint32_t (&r)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) asm volatile("" : "+r"(r[i][j])::"memory");
}

// OVERLAP = false: per key tile, S = Q K^T; softmax; O += P V, each product waited for.
// OVERLAP = true (FlashAttention-3's intra-warpgroup pipelining): per tile j, S_j = Q K_j^T and
// O += P_{j-1} V_{j-1} are issued together; the softmax of S_j runs while the P V product is still
// on the tensor cores; only then is O rescaled. K and V have separate 2-stage rings, V one tile
// behind K, so the shared memory is the same as without overlap.
template <typename T, int D, bool CAUSAL, bool OVERLAP>
__global__ void __launch_bounds__(NT, 1) fa3_fwd_kernel(const FwdArgs a) {
#ifdef INFERNAV_WGMMA
  constexpr int QB = (D / 64) * BR * 128;  // bytes of Q
  constexpr int KB = (D / 64) * BC * 128;  // bytes of one K or V tile
  constexpr int NS = BC / 8, NO = D / 8;
  extern __shared__ unsigned char smem_raw[];
  uint32_t base = smem_u32(smem_raw);
  const uint32_t pad = (1024u - (base & 1023u)) & 1023u;  // swizzle atoms need 1024-byte alignment
  base += pad;
  unsigned char* gsm = smem_raw + pad;
  const uint32_t sQ = base, sKV = base + QB;  // stage s: K at sKV + 2 s KB, V at sKV + (2 s + 1) KB

  const int tid = threadIdx.x, wgi = tid >> 7, wl = (tid >> 5) & 3, lane = tid & 31;
  const int b = blockIdx.z, h = blockIdx.y;
  int q0 = 0, k0 = 0, sq = a.seqlen_q, sk = a.seqlen_k;
  const bool varlen = a.cu_q != nullptr;
  if (varlen) {
    q0 = a.cu_q[b];
    sq = a.cu_q[b + 1] - q0;
    k0 = a.cu_k[b];
    sk = a.cu_k[b + 1] - k0;
  }
  const int tile = CAUSAL ? (int)(gridDim.x - 1 - blockIdx.x) : (int)blockIdx.x;
  const int m0 = tile * BR;
  if (m0 >= sq) return;
  const int hk = h / (a.hq / a.hkv);
  const T* Q = static_cast<const T*>(a.q) + (varlen ? (int64_t)q0 * a.q_s : (int64_t)b * a.q_b) + (int64_t)h * a.q_h;
  const T* K = static_cast<const T*>(a.k) + (varlen ? (int64_t)k0 * a.k_s : (int64_t)b * a.k_b) + (int64_t)hk * a.k_h;
  const T* V = static_cast<const T*>(a.v) + (varlen ? (int64_t)k0 * a.v_s : (int64_t)b * a.v_b) + (int64_t)hk * a.v_h;
  T* O = static_cast<T*>(a.o) + (varlen ? (int64_t)q0 * a.o_s : (int64_t)b * a.o_b) + (int64_t)h * a.o_h;

  const int diag = sk - sq;
  int n_end = sk;
  if (CAUSAL) n_end = min(sk, m0 + BR + diag);
  const int num_kt = n_end > 0 ? (n_end + BC - 1) / BC : 0;
  const float sl2 = a.scale_log2;
  const int rbase = wgi * 64 + wl * 16 + (lane >> 2);  // this thread's first row in the tile (+8: second)

  float o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};

  if constexpr (OVERLAP) {
    // smem: Q | K stage 0 | K stage 1 | V stage 0 | V stage 1
    const uint32_t sKr = sKV, sVr = sKV + 2 * KB;
    if (num_kt > 0) {
      load_sw128<T, BR, D>(sQ, Q, a.q_s, m0, sq, tid);
      load_sw128<T, BC, D>(sKr, K, a.k_s, 0, sk, tid);
    }
    cp_async_commit();
    uint32_t pa[BC / 16][4];  // P of the previous tile (16-bit, A-fragment layout)
    float alpha[2] = {1.f, 1.f};
    for (int kt = 0; kt <= num_kt; ++kt) {
      cp_async_wait<0>();
      wg::fence_proxy_async();
      __syncthreads();  // K(kt) and V(kt-1) landed; K(kt-1) and V(kt-2) are no longer read
      if (kt == num_kt) {  // drain: O += P V for the last tile
        if (kt > 0) {
          wg::fence_regs(o);
          fence_u32(pa);
          wg::fence();
#pragma unroll
          for (int kk = 0; kk < BC / 16; ++kk)
            mma_rs<T, D>(o, pa[kk], desc(sVr + ((kt - 1) & 1) * KB + kk * 16 * 128, BC * 128, 1024), 1);
          wg::commit();
          wg::wait<0>();
          wg::fence_regs(o);
        }
        break;
      }
      const int n0 = kt * BC;
      if (kt + 1 < num_kt) load_sw128<T, BC, D>(sKr + ((kt + 1) & 1) * KB, K, a.k_s, n0 + BC, sk, tid);
      load_sw128<T, BC, D>(sVr + (kt & 1) * KB, V, a.v_s, n0, sk, tid);
      cp_async_commit();

      float s[BC / 2];
#pragma unroll
      for (int i = 0; i < BC / 2; ++i) s[i] = 0.f;
      wg::fence_regs(o);
      fence_u32(pa);
      wg::fence();
      const uint32_t sK = sKr + (kt & 1) * KB;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const uint64_t da = desc(sQ + (kk >> 2) * (BR * 128) + wgi * 64 * 128 + (kk & 3) * 32, 16, 1024);
        const uint64_t db = desc(sK + (kk >> 2) * (BC * 128) + (kk & 3) * 32, 16, 1024);
        mma_ss<T, BC>(s, da, db, 1);
      }
      wg::commit();
      if (kt > 0) {
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk)
          mma_rs<T, D>(o, pa[kk], desc(sVr + ((kt - 1) & 1) * KB + kk * 16 * 128, BC * 128, 1024), 1);
      }
      wg::commit();
      wg::wait<1>();  // S(kt) is done; P(kt-1) V(kt-1) may still run
      wg::fence_regs(s);

      const bool need_mask = (n0 + BC > sk) || (CAUSAL && n0 + BC - 1 > m0 + diag);
      if (need_mask) {
#pragma unroll
        for (int n = 0; n < NS; ++n)
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int row = m0 + rbase + 8 * (i >> 1);
            const int col = n0 + n * 8 + 2 * (lane & 3) + (i & 1);
            if (col >= sk || (CAUSAL && col > row + diag)) s[4 * n + i] = -INFINITY;
          }
      }
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        float mx = m_run[hh];
#pragma unroll
        for (int n = 0; n < NS; ++n) mx = fmaxf(mx, fmaxf(s[4 * n + 2 * hh], s[4 * n + 2 * hh + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mu = (mx == -INFINITY) ? 0.f : mx * sl2;
        alpha[hh] = fast_exp2(m_run[hh] * sl2 - mu);
        m_run[hh] = mx;
        float rs = 0.f;
#pragma unroll
        for (int n = 0; n < NS; ++n) {
          const float p0 = fast_exp2(fmaf(s[4 * n + 2 * hh], sl2, -mu));
          const float p1 = fast_exp2(fmaf(s[4 * n + 2 * hh + 1], sl2, -mu));
          s[4 * n + 2 * hh] = p0;
          s[4 * n + 2 * hh + 1] = p1;
          rs += p0 + p1;
        }
        l_run[hh] = l_run[hh] * alpha[hh] + rs;
      }
      wg::wait<0>();  // P(kt-1) V(kt-1) is done: O and the old P may be touched
      wg::fence_regs(o);
      fence_u32(pa);
#pragma unroll
      for (int hh = 0; hh < 2; ++hh)
#pragma unroll
        for (int n = 0; n < NO; ++n) {
          o[4 * n + 2 * hh] *= alpha[hh];
          o[4 * n + 2 * hh + 1] *= alpha[hh];
        }
#pragma unroll
      for (int kk = 0; kk < BC / 16; ++kk) {
        pa[kk][0] = pack2<T>(s[8 * kk + 0], s[8 * kk + 1]);
        pa[kk][1] = pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
        pa[kk][2] = pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
        pa[kk][3] = pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
      }
    }
  } else {
  if (num_kt > 0) {
    load_sw128<T, BR, D>(sQ, Q, a.q_s, m0, sq, tid);
    load_sw128<T, BC, D>(sKV, K, a.k_s, 0, sk, tid);
    load_sw128<T, BC, D>(sKV + KB, V, a.v_s, 0, sk, tid);
  }
  cp_async_commit();

  for (int kt = 0; kt < num_kt; ++kt) {
    const int n0 = kt * BC, st = kt & 1;
    const uint32_t sK = sKV + 2 * st * KB, sV = sK + KB;
    cp_async_wait<0>();
    wg::fence_proxy_async();
    __syncthreads();  // tile kt landed and is visible to the tensor cores; tile kt-1's buffers are free
    if (kt + 1 < num_kt) {
      const uint32_t nK = sKV + 2 * (st ^ 1) * KB;
      load_sw128<T, BC, D>(nK, K, a.k_s, n0 + BC, sk, tid);
      load_sw128<T, BC, D>(nK + KB, V, a.v_s, n0 + BC, sk, tid);
    }
    cp_async_commit();

    // ---- S = Q K^T (64 x 128 per warpgroup)
    float s[BC / 2];
#pragma unroll
    for (int i = 0; i < BC / 2; ++i) s[i] = 0.f;
    wg::fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint64_t da = desc(sQ + (kk >> 2) * (BR * 128) + wgi * 64 * 128 + (kk & 3) * 32, 16, 1024);
      const uint64_t db = desc(sK + (kk >> 2) * (BC * 128) + (kk & 3) * 32, 16, 1024);
      mma_ss<T, BC>(s, da, db, 1);
    }
    wg::commit();
    wg::wait<0>();
    wg::fence_regs(s);

    // ---- mask + online softmax (same fragment layout as mma.sync)
    const bool need_mask = (n0 + BC > sk) || (CAUSAL && n0 + BC - 1 > m0 + diag);
    if (need_mask) {
#pragma unroll
      for (int n = 0; n < NS; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int row = m0 + rbase + 8 * (i >> 1);
          const int col = n0 + n * 8 + 2 * (lane & 3) + (i & 1);
          if (col >= sk || (CAUSAL && col > row + diag)) s[4 * n + i] = -INFINITY;
        }
    }
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      float mx = m_run[hh];
#pragma unroll
      for (int n = 0; n < NS; ++n) mx = fmaxf(mx, fmaxf(s[4 * n + 2 * hh], s[4 * n + 2 * hh + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float mu = (mx == -INFINITY) ? 0.f : mx * sl2;
      const float alpha = fast_exp2(m_run[hh] * sl2 - mu);
      m_run[hh] = mx;
      float rs = 0.f;
#pragma unroll
      for (int n = 0; n < NS; ++n) {
        const float p0 = fast_exp2(fmaf(s[4 * n + 2 * hh], sl2, -mu));
        const float p1 = fast_exp2(fmaf(s[4 * n + 2 * hh + 1], sl2, -mu));
        s[4 * n + 2 * hh] = p0;
        s[4 * n + 2 * hh + 1] = p1;
        rs += p0 + p1;
      }
      l_run[hh] = l_run[hh] * alpha + rs;
#pragma unroll
      for (int n = 0; n < NO; ++n) {
        o[4 * n + 2 * hh] *= alpha;
        o[4 * n + 2 * hh + 1] *= alpha;
      }
    }
    uint32_t pa[BC / 16][4];
#pragma unroll
    for (int kk = 0; kk < BC / 16; ++kk) {
      pa[kk][0] = pack2<T>(s[8 * kk + 0], s[8 * kk + 1]);
      pa[kk][1] = pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
      pa[kk][2] = pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
      pa[kk][3] = pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
    }

    // ---- O += P V (P from registers, V transposed from shared memory)
    wg::fence_regs(o);
    wg::fence();
#pragma unroll
    for (int kk = 0; kk < BC / 16; ++kk) {
      const uint64_t db = desc(sV + kk * 16 * 128, BC * 128, 1024);
      mma_rs<T, D>(o, pa[kk], db, 1);
    }
    wg::commit();
    wg::wait<0>();
    wg::fence_regs(o);
  }
  }  // OVERLAP

  // ---- epilogue: O / l through this warp's own Q rows, then 16-byte coalesced stores
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    float l = l_run[hh];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int r = rbase + 8 * hh;
#pragma unroll
    for (int n = 0; n < NO; ++n)
      *reinterpret_cast<uint32_t*>(gsm + (n >> 3) * (BR * 128) + swz<128>(r, n & 7) + 4 * (lane & 3)) =
          pack2<T>(o[4 * n + 2 * hh] * inv, o[4 * n + 2 * hh + 1] * inv);
  }
  __syncwarp();
  constexpr int CPR = D / 8;
  const int wrow = wgi * 64 + wl * 16;
#pragma unroll
  for (int i = lane; i < 16 * CPR; i += 32) {
    const int r = wrow + i / CPR, c = i % CPR;
    if (m0 + r < sq)
      *reinterpret_cast<uint4*>(O + (int64_t)(m0 + r) * a.o_s + c * 8) =
          *reinterpret_cast<const uint4*>(gsm + (c >> 3) * (BR * 128) + swz<128>(r, c & 7));
  }
#endif
}

template <typename T, int D, bool OVERLAP>
int launch(const FwdArgs& a, int batch, int causal, cudaStream_t stream) {
  const dim3 grid((a.seqlen_q + BR - 1) / BR, a.hq, batch);
  const size_t smem = (size_t)(D / 64) * 128 * (BR + 4 * BC) + 1024;
  auto kern = causal ? fa3_fwd_kernel<T, D, true, OVERLAP> : fa3_fwd_kernel<T, D, false, OVERLAP>;
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  kern<<<grid, NT, smem, stream>>>(a);
  INFERNAV_RETURN_LAUNCH_STATUS();
}

// cfg 0: the plain sequence (default: measured faster, see docs/dev/kernels.md); cfg 1: overlapped softmax
template <typename T>
int dispatch(const FwdArgs& a, int d, int cfg, int batch, int causal, cudaStream_t s) {
  if (d == 64) return cfg == 1 ? launch<T, 64, true>(a, batch, causal, s) : launch<T, 64, false>(a, batch, causal, s);
  if (d == 128) return cfg == 1 ? launch<T, 128, true>(a, batch, causal, s) : launch<T, 128, false>(a, batch, causal, s);
  return (int)cudaErrorInvalidValue;
}

}  // namespace
}  // namespace infernav

// Same arguments as infernav_fa2_fwd (cfg: 0 plain, 1 overlapped softmax). Needs an sm_90a device: the kernel body is
// empty in builds for other targets, so the caller checks the device (ops.py does).
extern "C" int infernav_fa3_fwd(int dtype, int d, int cfg, const void* q, const void* k, const void* v, void* o,
                                const int64_t* strides, const int* cu_q, const int* cu_k, int batch, int hq, int hkv,
                                int seqlen_q, int seqlen_k, float scale, int causal, void* stream) {
  using namespace infernav;
  if (hq <= 0 || hkv <= 0 || hq % hkv != 0 || batch <= 0) return (int)cudaErrorInvalidValue;
  if (seqlen_q <= 0) return 0;
  FwdArgs a;
  a.q = q; a.k = k; a.v = v; a.o = o;
  a.q_b = strides[0]; a.q_h = strides[1]; a.q_s = strides[2];
  a.k_b = strides[3]; a.k_h = strides[4]; a.k_s = strides[5];
  a.v_b = strides[6]; a.v_h = strides[7]; a.v_s = strides[8];
  a.o_b = strides[9]; a.o_h = strides[10]; a.o_s = strides[11];
  a.cu_q = cu_q; a.cu_k = cu_k;
  a.seqlen_q = seqlen_q; a.seqlen_k = seqlen_k; a.hq = hq; a.hkv = hkv;
  a.scale_log2 = scale * kLog2e;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return dtype == 0 ? dispatch<__half>(a, d, cfg, batch, causal, s) : dispatch<__nv_bfloat16>(a, d, cfg, batch, causal, s);
}
