// Paged decode v3: tensor cores, split-KV sized to the machine, a private cp.async ring per warp,
// and an fp8 (e4m3) KV cache with per-head scales. Same cache layout and semantics as
// paged_decode.cu (HND pages [num_blocks, hkv, block_size, D], block tables, seq_lens, GQA).
//
// What it changes over v1/v2 (paged_decode.cu), and why:
//  * The G query heads of a KV head are the M side of mma.sync.m16n8k16 (rows >= G are zero), so
//    S = Q K^T costs D/16 tensor-core instructions per 8 keys whatever G is; v2 did G*D FMAs per key
//    plus shuffles on the CUDA cores and became instruction-bound at G = 8 (49 % of the H200 copy).
//  * O^T = V^T P^T puts D on the M side and the heads on N: P's accumulator fragment of S is the
//    B operand of the second product with no data movement, and V needs no ldmatrix.trans: every
//    thread reads 16-byte chunks of V rows from shared memory and interleaves two keys with prmt.
//    The dot products are invariant under a permutation of D, so K and Q are read in a permuted
//    order that makes every shared-memory read a 16-byte, conflict-free vector (K swizzle
//    chunk ^ 4*(row&1), V swizzle chunk ^ (row&7)).
//  * Every warp streams its own tiles (tiles w, w+4, ... of the CTA's key range) through its own
//    NST-stage cp.async ring: no CTA barrier in the main loop, (NST-1) x 8 KB in flight per warp.
//    A tile is 8 KB of K+V whatever the element size: 16 keys at 16-bit D=128, 32 keys otherwise.
//  * Split-KV sized to the machine: the host picks `splits` so that seqs x hkv x splits CTAs fill
//    the SMs (occupancy x SM count); each CTA writes (m, l, o) of its range, and the last CTA of a
//    (seq, kv head) to finish (an atomic ticket) combines them, so there is no second launch.
//  * fp8 e4m3 K/V: 1 byte per element, converted to f16 in registers (cvt.f16x2.e4m3x2, exact);
//    the products run in f16 with the query converted to f16; S is scaled by k_scale[kv head] and
//    the output by v_scale[kv head].
#include <cuda_fp8.h>

#include <type_traits>

#include "common.cuh"

namespace infernav {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxSplits = 64;

struct TcArgs {
  void* out;
  const void* q;
  const unsigned char* k_cache;
  const unsigned char* v_cache;
  const float* k_scale;  // [hkv] or null (fp8 only)
  const float* v_scale;
  const int* block_tables;
  const int* seq_lens;
  float* tmp_o;   // [seqs, hq, splits, D]
  float* tmp_ml;  // [seqs, hq, splits, 2]: m (log2 domain), l
  int* counters;  // [seqs, hkv], zero, left zero
  int hq, hkv, g, log2_bs, max_blocks, splits, tiles_per_split;
  int n_items;  // persistent kernel: seqs x hkv x splits
  float scale_log2;
};

INFERNAV_DEVICE uint4 lds128(uint32_t addr) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr));
  return v;
}
INFERNAV_DEVICE uint32_t word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

// two e4m3 values (low byte first) -> f16x2 (low half first); exact
INFERNAV_DEVICE uint32_t e4m3x2_to_f16x2(uint32_t x16) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(x16 & 0xffffu), __NV_E4M3);
  return static_cast<uint32_t>(h.x) | (static_cast<uint32_t>(h.y) << 16);
#else
  (void)x16;
  return 0u;  // fp8 path is rejected on the host below sm_89
#endif
}

// two e4m3 values (low byte first) -> f16x2 on the integer pipe, no F2FP: the byte's 7 magnitude bits
// are placed at f16 bits 7..13 and its sign at bit 15, which is exactly the f16 of value * 2^-8 for
// every finite e4m3 (normals and subnormals; e4m3's NaN becomes 480 * 2^-8, never produced by the
// quantizer). Callers fold the 2^8 into the softmax scale (K) and the output scale (V).
INFERNAV_DEVICE uint32_t e4m3x2_to_f16x2_scaled(uint32_t x16) {
  const uint32_t h = __byte_perm(x16, 0u, 0x1404u);  // byte b0 -> bits 8..15, b1 -> bits 24..31
  return ((h >> 1) & 0x3fff3fffu) | (h & 0x80008000u);
}
template <bool BT>
INFERNAV_DEVICE uint32_t e4m3x2_cv(uint32_t x16) {
  if constexpr (BT) {
    return e4m3x2_to_f16x2_scaled(x16);
  } else {
    return e4m3x2_to_f16x2(x16);
  }
}
// what the BT conversion's results must be multiplied by
template <bool BT>
constexpr float kCvFold = BT ? 256.f : 1.f;

template <typename T>
INFERNAV_DEVICE uint32_t pair_as(float a, float b) {
  return pack2<T>(a, b);
}

// KVT: 0 fp16, 1 bf16, 2 e4m3.  TQ: query/output type.  MT: the mma operand type.
// 16-byte cp.async that asks L2 to fetch the surrounding 256 bytes (the rest of the page row(s))
INFERNAV_DEVICE void cp_async_16_l2_256(uint32_t dst, const void* src, bool pred) {
  const int n = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}

template <typename TQ, int KVT, int D, int NST, int TB, bool L2P, bool BT = false>
__global__ void __launch_bounds__(kThreads) paged_decode_tc_kernel(const TcArgs a) {
  constexpr bool FP8 = KVT == 2;
  using MT = typename std::conditional<FP8, __half, TQ>::type;
  constexpr int EB = FP8 ? 1 : 2;     // bytes per element
  constexpr int ROWB = D * EB;        // bytes per key row
  constexpr int CPR = ROWB / 16;      // 16-byte chunks per row
  constexpr int KT = TB / (2 * ROWB);  // keys per tile
  constexpr int NB = KT / 8;          // n8 blocks of S per tile
  constexpr int KS = D / 16;          // k16 steps of S
  constexpr int MB = D / 16;          // m16 blocks of O^T
  constexpr int STAGE = TB;
  constexpr int CPL = KT * CPR / 32;  // 16-byte copies per lane per tile, for each of K and V
  static_assert(CPR >= 8 && KT % 16 == 0 && (KT * CPR) % 32 == 0, "tile shape");

  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ int s_last;
  const int split = blockIdx.x, kvh = blockIdx.y, seq = blockIdx.z;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int G = a.g;
  const int L = a.seq_lens[seq];
  const int kbeg = split * a.tiles_per_split * KT;
  const int kend = min(L, kbeg + a.tiles_per_split * KT);
  const int ntiles = kend > kbeg ? (kend - kbeg + KT - 1) / KT : 0;
  const int bs = 1 << a.log2_bs, bmask = bs - 1;
  const int* bt = a.block_tables + (int64_t)seq * a.max_blocks;
  const int64_t page_bytes = (int64_t)a.hkv * bs * ROWB;
  const unsigned char* Kh = a.k_cache + (int64_t)kvh * bs * ROWB;
  const unsigned char* Vh = a.v_cache + (int64_t)kvh * bs * ROWB;
  float sl2 = a.scale_log2 * (FP8 ? kCvFold<BT> : 1.f);
  if (FP8 && a.k_scale) sl2 *= a.k_scale[kvh];

  // ---- Q as the A operand: rows g < G are query heads kvh*G + g, the rest zero. Element order of
  // k step kk (a0 = elements e0, e0+1; a2 = e0+2, e0+3) matches the order K is read in below.
  uint32_t qa0[KS], qa2[KS];
  {
    const TQ* qrow = static_cast<const TQ*>(a.q) + ((int64_t)seq * a.hq + kvh * G + min(g, G - 1)) * D;
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) {
      const int e0 = FP8 ? 64 * (kk / 4) + 16 * t + 4 * (kk % 4) : 32 * (kk / 2) + 8 * t + 4 * (kk % 2);
      const uint2 raw = *reinterpret_cast<const uint2*>(qrow + e0);
      if constexpr (std::is_same<MT, TQ>::value) {
        qa0[kk] = raw.x;
        qa2[kk] = raw.y;
      } else {
        const float2 x = unpack2<TQ>(raw.x), y = unpack2<TQ>(raw.y);
        qa0[kk] = pair_as<MT>(x.x, x.y);
        qa2[kk] = pair_as<MT>(y.x, y.y);
      }
      if (g >= G) qa0[kk] = qa2[kk] = 0u;
    }
  }

  const uint32_t ring = smem_u32(smem) + warp * NST * STAGE;
  const int my_tiles = ntiles > warp ? (ntiles - warp + kWarps - 1) / kWarps : 0;

  auto issue = [&](int i) {  // tile i of this warp -> stage i % NST
    const int tok0 = kbeg + (warp + i * kWarps) * KT;
    const uint32_t sK = ring + (i % NST) * STAGE, sV = sK + KT * ROWB;
#pragma unroll
    for (int it = 0; it < CPL; ++it) {
      const int idx = it * 32 + lane, r = idx / CPR, c = idx % CPR;
      const int tok = tok0 + r;
      const bool ok = tok < kend;
      int64_t off = 0;
      if (ok) off = (int64_t)__ldg(bt + (tok >> a.log2_bs)) * page_bytes + (tok & bmask) * ROWB + c * 16;
      if constexpr (L2P) {
        cp_async_16_l2_256(sK + r * ROWB + ((c ^ ((r & 1) << 2)) << 4), Kh + off, ok);
        cp_async_16_l2_256(sV + r * ROWB + ((c ^ (r & 7)) << 4), Vh + off, ok);
      } else {
        cp_async_16(sK + r * ROWB + ((c ^ ((r & 1) << 2)) << 4), Kh + off, ok);
        cp_async_16(sV + r * ROWB + ((c ^ (r & 7)) << 4), Vh + off, ok);
      }
    }
  };

  float o[MB][4];
#pragma unroll
  for (int i = 0; i < MB; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m_run = -INFINITY, l_run = 0.f;

#pragma unroll
  for (int i = 0; i < NST - 1; ++i) {
    if (i < my_tiles) issue(i);
    cp_async_commit();
  }
  for (int i = 0; i < my_tiles; ++i) {
    cp_async_wait<NST - 2>();
    __syncwarp();  // tile i visible to the whole warp; every lane is done with tile i-1's stage
    if (i + NST - 1 < my_tiles) issue(i + NST - 1);
    cp_async_commit();
    const uint32_t sK = ring + (i % NST) * STAGE, sV = sK + KT * ROWB;
    const int tok0 = kbeg + (warp + i * kWarps) * KT;

    // ---- S = Q K^T for KT keys: block b holds keys 8b + (0..7); this thread's C fragment has
    // head g at keys 8b + 2t, 8b + 2t + 1 (c0, c1); c2, c3 are the zero rows.
    float s[NB][4];
#pragma unroll
    for (int b = 0; b < NB; ++b) {
      s[b][0] = s[b][1] = s[b][2] = s[b][3] = 0.f;
      const int r = 8 * b + g;
#pragma unroll
      for (int p = 0; p < (FP8 ? D / 64 : D / 32); ++p) {
        const uint4 w = lds128(sK + r * ROWB + (((4 * p + t) ^ ((r & 1) << 2)) << 4));
        if constexpr (FP8) {
#pragma unroll
          for (int i4 = 0; i4 < 4; ++i4) {
            const uint32_t x = word(w, i4);
            const uint32_t qa[4] = {qa0[4 * p + i4], 0u, qa2[4 * p + i4], 0u};
            Mma<MT>::run(s[b], qa, e4m3x2_cv<BT>(x), e4m3x2_cv<BT>(x >> 16));
          }
        } else {
          const uint32_t qa_lo[4] = {qa0[2 * p], 0u, qa2[2 * p], 0u};
          const uint32_t qa_hi[4] = {qa0[2 * p + 1], 0u, qa2[2 * p + 1], 0u};
          Mma<MT>::run(s[b], qa_lo, w.x, w.y);
          Mma<MT>::run(s[b], qa_hi, w.z, w.w);
        }
      }
    }

    // ---- online softmax (log2 domain) over the tile, head g; 4 lanes share a head
    float x[NB][2];
    float mx = -INFINITY;
#pragma unroll
    for (int b = 0; b < NB; ++b)
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        x[b][j] = s[b][j] * sl2;
        if (tok0 + KT > kend && tok0 + 8 * b + 2 * t + j >= kend) x[b][j] = -INFINITY;
        mx = fmaxf(mx, x[b][j]);
      }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(m_run, mx);
    const float m_use = m_new == -INFINITY ? 0.f : m_new;
    const float alpha = fast_exp2(m_run - m_use);
    m_run = m_new;
    uint32_t pb[NB];
    float rs = 0.f;
#pragma unroll
    for (int b = 0; b < NB; ++b) {
      const float p0 = fast_exp2(x[b][0] - m_use), p1 = fast_exp2(x[b][1] - m_use);
      rs += p0 + p1;
      pb[b] = pack2<MT>(p0, p1);
    }
    l_run = l_run * alpha + rs;
    // O^T's columns are heads 2t and 2t+1: their alphas live in lanes 8t and 8t+4
    if (__any_sync(0xffffffffu, alpha != 1.f)) {
      const float a0 = __shfl_sync(0xffffffffu, alpha, 8 * t);
      const float a1 = __shfl_sync(0xffffffffu, alpha, 8 * t + 4);
#pragma unroll
      for (int mb = 0; mb < MB; ++mb) {
        o[mb][0] *= a0;
        o[mb][1] *= a1;
        o[mb][2] *= a0;
        o[mb][3] *= a1;
      }
    }

    // ---- O^T += V^T P^T, one k16 step per 16 keys. A fragment of m16 block mb: rows (d) g and
    // g+8 map to this thread's chunk elements; keys 2t, 2t+1 (a0, a1) and 2t+8, 2t+9 (a2, a3).
#pragma unroll
    for (int ks = 0; ks < KT / 16; ++ks) {
      const int r0 = 16 * ks + 2 * t, r1 = r0 + 1, r2 = r0 + 8, r3 = r0 + 9;
#pragma unroll
      for (int h = 0; h < (FP8 ? 1 : D / 64); ++h) {
        const int c = FP8 ? g : 8 * h + g;
        const uint4 A0 = lds128(sV + r0 * ROWB + ((c ^ (r0 & 7)) << 4));
        const uint4 A1 = lds128(sV + r1 * ROWB + ((c ^ (r1 & 7)) << 4));
        const uint4 B0 = lds128(sV + r2 * ROWB + ((c ^ (r2 & 7)) << 4));
        const uint4 B1 = lds128(sV + r3 * ROWB + ((c ^ (r3 & 7)) << 4));
#pragma unroll
        for (int i4 = 0; i4 < 4; ++i4) {
          const uint32_t wa0 = word(A0, i4), wa1 = word(A1, i4), wb0 = word(B0, i4), wb1 = word(B1, i4);
          if constexpr (FP8) {
#pragma unroll
            for (int sub = 0; sub < 2; ++sub) {
              const uint32_t sel = sub ? 0x7362u : 0x5140u;
              const uint32_t xa = __byte_perm(wa0, wa1, sel), xb = __byte_perm(wb0, wb1, sel);
              const uint32_t va[4] = {e4m3x2_cv<BT>(xa), e4m3x2_cv<BT>(xa >> 16), e4m3x2_cv<BT>(xb),
                                      e4m3x2_cv<BT>(xb >> 16)};
              Mma<MT>::run(o[2 * i4 + sub], va, pb[2 * ks], pb[2 * ks + 1]);
            }
          } else {
            const uint32_t va[4] = {__byte_perm(wa0, wa1, 0x5410u), __byte_perm(wa0, wa1, 0x7632u),
                                    __byte_perm(wb0, wb1, 0x5410u), __byte_perm(wb0, wb1, 0x7632u)};
            Mma<MT>::run(o[4 * h + i4], va, pb[2 * ks], pb[2 * ks + 1]);
          }
        }
      }
    }
  }
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 1);
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 2);

  // ---- combine the 4 warps through shared memory (the rings are free after the barrier)
  cp_async_wait<0>();
  __syncthreads();
  float* s_o = reinterpret_cast<float*>(smem);  // [warp][8 heads][D]
  float* s_ml = s_o + kWarps * 8 * D;           // [warp][8][2]
  if (t == 0) {
    s_ml[(warp * 8 + g) * 2] = m_run;
    s_ml[(warp * 8 + g) * 2 + 1] = l_run;
  }
  // element j of this thread's D/8 output columns: m block j/2, row half j%2 (c0,c1 or c2,c3)
#pragma unroll
  for (int j = 0; j < D / 8; ++j) {
    const int d = FP8 ? 16 * g + j : 64 * (j / 8) + 8 * g + (j % 8);
    s_o[(warp * 8 + 2 * t) * D + d] = o[j / 2][2 * (j % 2)];
    s_o[(warp * 8 + 2 * t + 1) * D + d] = o[j / 2][2 * (j % 2) + 1];
  }
  __syncthreads();
  const float vs = FP8 ? (a.v_scale ? a.v_scale[kvh] : 1.f) * kCvFold<BT> : 1.f;
  const bool split_mode = a.splits > 1;
  for (int i = tid; i < G * D; i += kThreads) {
    const int hh = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, s_ml[(w * 8 + hh) * 2]);
    float lsum = 0.f, acc = 0.f;
    if (M != -INFINITY) {
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const float f = fast_exp2(s_ml[(w * 8 + hh) * 2] - M);
        lsum += f * s_ml[(w * 8 + hh) * 2 + 1];
        acc += f * s_o[(w * 8 + hh) * D + d];
      }
    }
    const float val = lsum > 0.f ? acc / lsum * vs : 0.f;
    const int head = kvh * G + hh;
    if (!split_mode) {
      static_cast<TQ*>(a.out)[((int64_t)seq * a.hq + head) * D + d] = from_float<TQ>(val);
    } else {
      const int64_t row = ((int64_t)seq * a.hq + head) * a.splits + split;
      a.tmp_o[row * D + d] = val;
      if (d == 0) {
        a.tmp_ml[2 * row] = M;
        a.tmp_ml[2 * row + 1] = lsum;
      }
    }
  }
  if (!split_mode) return;

  // ---- split-KV: the last CTA of this (seq, kv head) combines every split's (m, l, o)
  __threadfence();
  __syncthreads();
  if (tid == 0) {
    const int prev = atomicAdd(a.counters + seq * a.hkv + kvh, 1);
    s_last = prev == a.splits - 1;
  }
  __syncthreads();
  if (!s_last) return;
  __threadfence();
  float* s_w = s_o;  // [splits][8] weights
  if (tid < G) {
    const int64_t row0 = ((int64_t)seq * a.hq + kvh * G + tid) * a.splits;
    float M = -INFINITY;
    for (int sp = 0; sp < a.splits; ++sp) M = fmaxf(M, __ldcg(a.tmp_ml + 2 * (row0 + sp)));
    float tot = 0.f;
    for (int sp = 0; sp < a.splits; ++sp) {
      const float m = __ldcg(a.tmp_ml + 2 * (row0 + sp)), l = __ldcg(a.tmp_ml + 2 * (row0 + sp) + 1);
      const float w = (M == -INFINITY || l == 0.f) ? 0.f : l * fast_exp2(m - M);
      s_w[sp * 8 + tid] = w;
      tot += w;
    }
    const float inv = tot > 0.f ? 1.f / tot : 0.f;
    for (int sp = 0; sp < a.splits; ++sp) s_w[sp * 8 + tid] *= inv;
  }
  __syncthreads();
  for (int i = tid; i < G * D; i += kThreads) {
    const int hh = i / D, d = i % D, head = kvh * G + hh;
    const int64_t row0 = ((int64_t)seq * a.hq + head) * a.splits;
    float acc = 0.f;
    for (int sp = 0; sp < a.splits; ++sp) {
      const float w = s_w[sp * 8 + hh];
      if (w != 0.f) acc = fmaf(w, __ldcg(a.tmp_o + (row0 + sp) * D + d), acc);
    }
    static_cast<TQ*>(a.out)[((int64_t)seq * a.hq + head) * D + d] = from_float<TQ>(acc);
  }
  if (tid == 0) a.counters[seq * a.hkv + kvh] = 0;  // ready for the next launch
}

// ---------------------------------------------------------------------------------------------
// Persistent variant (issue 19, the 512-token row): the grid is one wave (SMs x occupancy CTAs of
// 4 warps) and every warp owns whole work items, item = (seq, kv head, split), taking items
// gw, gw + W, gw + 2W, ... (gw its global warp index, W the number of warps). Its cp.async ring is
// one stream across its items: the tiles of the next item are in flight while the last tiles of
// the current one are computed, so a short item no longer exposes a ring fill, a CTA barrier, a
// 4-warp combine and a CTA launch (in the kernel above each of these costs a few % when the CTA
// streams only 8 tiles per warp). A warp writes its item's output itself; with splits > 1 it
// writes (m, l, o) and the last warp of a (seq, kv head) to finish (an atomic ticket) combines.
constexpr int kMaxSplitsP = 32;

template <typename TQ, int KVT, int D, int NST, int TB, bool BT>
__global__ void __launch_bounds__(kThreads) paged_decode_tcp_kernel(const TcArgs a) {
  constexpr bool FP8 = KVT == 2;
  using MT = typename std::conditional<FP8, __half, TQ>::type;
  constexpr int EB = FP8 ? 1 : 2;
  constexpr int ROWB = D * EB;
  constexpr int CPR = ROWB / 16;
  constexpr int KT = TB / (2 * ROWB);
  constexpr int NB = KT / 8;
  constexpr int KS = D / 16;
  constexpr int MB = D / 16;
  constexpr int STAGE = TB;
  constexpr int CPL = KT * CPR / 32;
  static_assert(CPR >= 8 && KT % 16 == 0 && (KT * CPR) % 32 == 0, "tile shape");
  constexpr float fold = FP8 ? kCvFold<BT> : 1.f;

  extern __shared__ __align__(128) unsigned char smem[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int G = a.g;
  const int W = gridDim.x * kWarps;
  const int gw = blockIdx.x * kWarps + warp;
  const int bs = 1 << a.log2_bs, bmask = bs - 1;
  const int64_t page_bytes = (int64_t)a.hkv * bs * ROWB;
  const uint32_t ring = smem_u32(smem) + warp * NST * STAGE;
  float* s_w = reinterpret_cast<float*>(smem + kWarps * NST * STAGE) + warp * kMaxSplitsP * 8;

  auto item = [&](int it, int& seq, int& kvh, int& split, int& kbeg, int& kend) {
    split = it % a.splits;
    const int pair = it / a.splits;
    kvh = pair % a.hkv;
    seq = pair / a.hkv;
    kbeg = split * a.tiles_per_split * KT;
    kend = min(a.seq_lens[seq], kbeg + a.tiles_per_split * KT);
  };

  // ---- the issue cursor: the next tile of this warp's stream to copy (item i_it, tokens from i_tok)
  int i_it = gw, i_seq = 0, i_kvh = 0, i_tok = 0, i_kend = 0;
  if (i_it < a.n_items) {
    int sp;
    item(i_it, i_seq, i_kvh, sp, i_tok, i_kend);
  }
  auto seek = [&]() {  // skip exhausted (and empty) items
    while (i_it < a.n_items && i_tok >= i_kend) {
      i_it += W;
      if (i_it < a.n_items) {
        int sp;
        item(i_it, i_seq, i_kvh, sp, i_tok, i_kend);
      }
    }
  };
  seek();
  int n_issued = 0;
  auto issue = [&]() {
    const uint32_t sK = ring + (n_issued % NST) * STAGE, sV = sK + KT * ROWB;
    const int* bt = a.block_tables + (int64_t)i_seq * a.max_blocks;
    const unsigned char* Kh = a.k_cache + (int64_t)i_kvh * bs * ROWB;
    const unsigned char* Vh = a.v_cache + (int64_t)i_kvh * bs * ROWB;
#pragma unroll
    for (int it = 0; it < CPL; ++it) {
      const int idx = it * 32 + lane, r = idx / CPR, c = idx % CPR;
      const int tok = i_tok + r;
      const bool ok = tok < i_kend;
      int64_t off = 0;
      if (ok) off = (int64_t)__ldg(bt + (tok >> a.log2_bs)) * page_bytes + (tok & bmask) * ROWB + c * 16;
      cp_async_16(sK + r * ROWB + ((c ^ ((r & 1) << 2)) << 4), Kh + off, ok);
      cp_async_16(sV + r * ROWB + ((c ^ (r & 7)) << 4), Vh + off, ok);
    }
    ++n_issued;
    i_tok += KT;
    seek();
  };

#pragma unroll
  for (int i = 0; i < NST - 1; ++i) {
    if (i_it < a.n_items) issue();
    cp_async_commit();
  }
  int n_comp = 0;
  for (int it = gw; it < a.n_items; it += W) {
    int seq, kvh, split, kbeg, kend;
    item(it, seq, kvh, split, kbeg, kend);
    const int ntiles = kend > kbeg ? (kend - kbeg + KT - 1) / KT : 0;
    float sl2 = a.scale_log2 * fold;
    if (FP8 && a.k_scale) sl2 *= a.k_scale[kvh];

    uint32_t qa0[KS], qa2[KS];
    {
      const TQ* qrow = static_cast<const TQ*>(a.q) + ((int64_t)seq * a.hq + kvh * G + min(g, G - 1)) * D;
#pragma unroll
      for (int kk = 0; kk < KS; ++kk) {
        const int e0 = FP8 ? 64 * (kk / 4) + 16 * t + 4 * (kk % 4) : 32 * (kk / 2) + 8 * t + 4 * (kk % 2);
        const uint2 raw = *reinterpret_cast<const uint2*>(qrow + e0);
        if constexpr (std::is_same<MT, TQ>::value) {
          qa0[kk] = raw.x;
          qa2[kk] = raw.y;
        } else {
          const float2 x = unpack2<TQ>(raw.x), y = unpack2<TQ>(raw.y);
          qa0[kk] = pair_as<MT>(x.x, x.y);
          qa2[kk] = pair_as<MT>(y.x, y.y);
        }
        if (g >= G) qa0[kk] = qa2[kk] = 0u;
      }
    }
    float o[MB][4];
#pragma unroll
    for (int i = 0; i < MB; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float m_run = -INFINITY, l_run = 0.f;

    for (int i = 0; i < ntiles; ++i) {
      cp_async_wait<NST - 2>();
      __syncwarp();
      if (i_it < a.n_items) issue();
      cp_async_commit();
      const uint32_t sK = ring + (n_comp % NST) * STAGE, sV = sK + KT * ROWB;
      ++n_comp;
      const int tok0 = kbeg + i * KT;

      float s[NB][4];
#pragma unroll
      for (int b = 0; b < NB; ++b) {
        s[b][0] = s[b][1] = s[b][2] = s[b][3] = 0.f;
        const int r = 8 * b + g;
#pragma unroll
        for (int p = 0; p < (FP8 ? D / 64 : D / 32); ++p) {
          const uint4 w = lds128(sK + r * ROWB + (((4 * p + t) ^ ((r & 1) << 2)) << 4));
          if constexpr (FP8) {
#pragma unroll
            for (int i4 = 0; i4 < 4; ++i4) {
              const uint32_t x = word(w, i4);
              const uint32_t qa[4] = {qa0[4 * p + i4], 0u, qa2[4 * p + i4], 0u};
              Mma<MT>::run(s[b], qa, e4m3x2_cv<BT>(x), e4m3x2_cv<BT>(x >> 16));
            }
          } else {
            const uint32_t qa_lo[4] = {qa0[2 * p], 0u, qa2[2 * p], 0u};
            const uint32_t qa_hi[4] = {qa0[2 * p + 1], 0u, qa2[2 * p + 1], 0u};
            Mma<MT>::run(s[b], qa_lo, w.x, w.y);
            Mma<MT>::run(s[b], qa_hi, w.z, w.w);
          }
        }
      }
      float x[NB][2];
      float mx = -INFINITY;
#pragma unroll
      for (int b = 0; b < NB; ++b)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          x[b][j] = s[b][j] * sl2;
          if (tok0 + KT > kend && tok0 + 8 * b + 2 * t + j >= kend) x[b][j] = -INFINITY;
          mx = fmaxf(mx, x[b][j]);
        }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m_run, mx);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      const float alpha = fast_exp2(m_run - m_use);
      m_run = m_new;
      uint32_t pb[NB];
      float rs = 0.f;
#pragma unroll
      for (int b = 0; b < NB; ++b) {
        const float p0 = fast_exp2(x[b][0] - m_use), p1 = fast_exp2(x[b][1] - m_use);
        rs += p0 + p1;
        pb[b] = pack2<MT>(p0, p1);
      }
      l_run = l_run * alpha + rs;
      if (__any_sync(0xffffffffu, alpha != 1.f)) {
        const float a0 = __shfl_sync(0xffffffffu, alpha, 8 * t);
        const float a1 = __shfl_sync(0xffffffffu, alpha, 8 * t + 4);
#pragma unroll
        for (int mb = 0; mb < MB; ++mb) {
          o[mb][0] *= a0;
          o[mb][1] *= a1;
          o[mb][2] *= a0;
          o[mb][3] *= a1;
        }
      }
#pragma unroll
      for (int ks = 0; ks < KT / 16; ++ks) {
        const int r0 = 16 * ks + 2 * t, r1 = r0 + 1, r2 = r0 + 8, r3 = r0 + 9;
#pragma unroll
        for (int h = 0; h < (FP8 ? 1 : D / 64); ++h) {
          const int c = FP8 ? g : 8 * h + g;
          const uint4 A0 = lds128(sV + r0 * ROWB + ((c ^ (r0 & 7)) << 4));
          const uint4 A1 = lds128(sV + r1 * ROWB + ((c ^ (r1 & 7)) << 4));
          const uint4 B0 = lds128(sV + r2 * ROWB + ((c ^ (r2 & 7)) << 4));
          const uint4 B1 = lds128(sV + r3 * ROWB + ((c ^ (r3 & 7)) << 4));
#pragma unroll
          for (int i4 = 0; i4 < 4; ++i4) {
            const uint32_t wa0 = word(A0, i4), wa1 = word(A1, i4), wb0 = word(B0, i4), wb1 = word(B1, i4);
            if constexpr (FP8) {
#pragma unroll
              for (int sub = 0; sub < 2; ++sub) {
                const uint32_t sel = sub ? 0x7362u : 0x5140u;
                const uint32_t xa = __byte_perm(wa0, wa1, sel), xb = __byte_perm(wb0, wb1, sel);
                const uint32_t va[4] = {e4m3x2_cv<BT>(xa), e4m3x2_cv<BT>(xa >> 16), e4m3x2_cv<BT>(xb),
                                        e4m3x2_cv<BT>(xb >> 16)};
                Mma<MT>::run(o[2 * i4 + sub], va, pb[2 * ks], pb[2 * ks + 1]);
              }
            } else {
              const uint32_t va[4] = {__byte_perm(wa0, wa1, 0x5410u), __byte_perm(wa0, wa1, 0x7632u),
                                      __byte_perm(wb0, wb1, 0x5410u), __byte_perm(wb0, wb1, 0x7632u)};
              Mma<MT>::run(o[4 * h + i4], va, pb[2 * ks], pb[2 * ks + 1]);
            }
          }
        }
      }
    }

    // ---- the item's output, from this warp's registers: O^T columns are heads 2t and 2t+1,
    // whose (m, l) live in lanes 8t and 8t+4
    l_run += __shfl_xor_sync(0xffffffffu, l_run, 1);
    l_run += __shfl_xor_sync(0xffffffffu, l_run, 2);
    const float l0 = __shfl_sync(0xffffffffu, l_run, 8 * t), l1 = __shfl_sync(0xffffffffu, l_run, 8 * t + 4);
    const float m0 = __shfl_sync(0xffffffffu, m_run, 8 * t), m1 = __shfl_sync(0xffffffffu, m_run, 8 * t + 4);
    const float vs = FP8 ? (a.v_scale ? a.v_scale[kvh] : 1.f) * fold : 1.f;
    const float inv0 = l0 > 0.f ? vs / l0 : 0.f, inv1 = l1 > 0.f ? vs / l1 : 0.f;
    const int h0 = 2 * t, h1 = 2 * t + 1;
    const int64_t head0 = (int64_t)seq * a.hq + kvh * G;
    if (a.splits == 1) {
      TQ* out = static_cast<TQ*>(a.out);
#pragma unroll
      for (int j = 0; j < D / 8; j += 2) {
        const int d = FP8 ? 16 * g + j : 64 * (j / 8) + 8 * g + (j % 8);
        if (h0 < G)
          *reinterpret_cast<uint32_t*>(out + (head0 + h0) * D + d) = pack2<TQ>(o[j / 2][0] * inv0, o[j / 2][2] * inv0);
        if (h1 < G)
          *reinterpret_cast<uint32_t*>(out + (head0 + h1) * D + d) = pack2<TQ>(o[j / 2][1] * inv1, o[j / 2][3] * inv1);
      }
      continue;
    }
    const int64_t row0 = (head0 + h0) * a.splits + split, row1 = (head0 + h1) * a.splits + split;
#pragma unroll
    for (int j = 0; j < D / 8; j += 2) {
      const int d = FP8 ? 16 * g + j : 64 * (j / 8) + 8 * g + (j % 8);
      if (h0 < G) *reinterpret_cast<float2*>(a.tmp_o + row0 * D + d) = make_float2(o[j / 2][0] * inv0, o[j / 2][2] * inv0);
      if (h1 < G) *reinterpret_cast<float2*>(a.tmp_o + row1 * D + d) = make_float2(o[j / 2][1] * inv1, o[j / 2][3] * inv1);
    }
    if (g == 0) {
      if (h0 < G) *reinterpret_cast<float2*>(a.tmp_ml + 2 * row0) = make_float2(m0, l0);
      if (h1 < G) *reinterpret_cast<float2*>(a.tmp_ml + 2 * row1) = make_float2(m1, l1);
    }
    __threadfence();
    __syncwarp();
    int last = 0;
    if (lane == 0) last = atomicAdd(a.counters + seq * a.hkv + kvh, 1) == a.splits - 1;
    last = __shfl_sync(0xffffffffu, last, 0);
    if (!last) continue;
    __threadfence();
    if (lane < G) {
      const int64_t r0 = (head0 + lane) * a.splits;
      float M = -INFINITY;
      for (int sp = 0; sp < a.splits; ++sp) M = fmaxf(M, __ldcg(a.tmp_ml + 2 * (r0 + sp)));
      float tot = 0.f;
      for (int sp = 0; sp < a.splits; ++sp) {
        const float m = __ldcg(a.tmp_ml + 2 * (r0 + sp)), l = __ldcg(a.tmp_ml + 2 * (r0 + sp) + 1);
        const float w = (M == -INFINITY || l == 0.f) ? 0.f : l * fast_exp2(m - M);
        s_w[sp * 8 + lane] = w;
        tot += w;
      }
      const float inv = tot > 0.f ? 1.f / tot : 0.f;
      for (int sp = 0; sp < a.splits; ++sp) s_w[sp * 8 + lane] *= inv;
    }
    __syncwarp();
    for (int i = lane; i < G * D; i += 32) {
      const int hh = i / D, d = i % D;
      const int64_t r0 = (head0 + hh) * a.splits;
      float acc = 0.f;
#pragma unroll 4
      for (int sp = 0; sp < a.splits; ++sp) acc = fmaf(s_w[sp * 8 + hh], __ldcg(a.tmp_o + (r0 + sp) * D + d), acc);
      static_cast<TQ*>(a.out)[(head0 + hh) * D + d] = from_float<TQ>(acc);
    }
    if (lane == 0) a.counters[seq * a.hkv + kvh] = 0;  // ready for the next launch
    __syncwarp();  // s_w is rewritten by this warp's next combine
  }
  cp_async_wait<0>();
}

template <int D, int NST, int TB>
size_t smem_bytes() {
  const size_t ring = (size_t)kWarps * NST * TB;
  const size_t comb = (size_t)kWarps * 8 * D * 4 + kWarps * 8 * 2 * 4;
  return ring > comb ? ring : comb;
}

// Split count: one wave of CTAs when the (seq, kv head) pairs leave SMs idle; otherwise enough
// CTAs for >= 2.5 waves (measured on the H200: 1.3-1.9 waves of long CTAs lost ~10 % to the
// partial last wave), never below 32 tiles per CTA (short splits lose more to their prologue).
int choose_splits(int pairs, int tiles, int slots) {
  int s = 1;
  if (pairs <= slots) {
    s = slots / pairs;
  } else {
    while ((double)pairs * s < 2.5 * slots) ++s;
  }
  const int max_by_len = tiles / 32 > 0 ? tiles / 32 : 1;
  if (s > max_by_len) s = max_by_len;
  return s < 1 ? 1 : s;
}

template <typename TQ, int KVT, int D, int NST, int TB, bool L2P = false, bool BT = false>
int launch(TcArgs a, int num_seqs, int max_len, int splits, cudaStream_t s, int* splits_out) {
  auto kern = paged_decode_tc_kernel<TQ, KVT, D, NST, TB, L2P, BT>;
  const size_t smem = smem_bytes<D, NST, TB>();
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  constexpr int KT = TB / (2 * D * (KVT == 2 ? 1 : 2));
  const int tiles = max_len > 0 ? (max_len + KT - 1) / KT : 1;
  if (splits <= 0) {  // size the grid to the machine
    int dev = 0, sms = 0, per_sm = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, kThreads, smem);
    int slots = sms * (per_sm > 0 ? per_sm : 1);
    // fp8 (3 CTAs per SM): a one-wave plan is sized to 2 CTAs per SM, i.e. fewer, longer splits (issue 19,
    // bench/fwd_steady.py's forced split counts at 8 x 32K: 4 splits 0.137-0.140 ms vs 6 splits
    // 0.140-0.143 ms, 2 rounds each, two ring configs); the other decode rows plan the same either way
    if (KVT == 2 && per_sm > 2 && num_seqs * a.hkv <= 2 * sms) slots = 2 * sms;
    splits = choose_splits(num_seqs * a.hkv, tiles, slots);
  }
  if (splits > kMaxSplits) splits = kMaxSplits;
  if (splits > tiles) splits = tiles;
  if (splits < 1) splits = 1;
  if (splits_out) *splits_out = splits;
  if (a.out == nullptr) return 0;  // query only
  if (splits > 1 && (a.tmp_o == nullptr || a.tmp_ml == nullptr || a.counters == nullptr))
    return (int)cudaErrorInvalidValue;
  a.splits = splits;
  a.tiles_per_split = (tiles + splits - 1) / splits;
  kern<<<dim3(splits, a.hkv, num_seqs), kThreads, smem, s>>>(a);
  INFERNAV_RETURN_LAUNCH_STATUS();
}

// Split count for the persistent kernel: items = pairs x s over `warps` warps run in
// ceil(items / warps) rounds of ceil(tiles / s) tiles; pick the s with the fewest tile-times, a split
// costing its combine (about 4 tile-times once, 1 % on the rest); at least 32 tiles per item once split
// (decode_sweep run 1 allowed 8: 17-32 splits of 8-16 tiles ran at 15-72 % of copy, the one-warp
// combine and the partials dominating).
int choose_splits_p(int pairs, int tiles, int warps) {
  int best_s = 1;
  double best = 1e300;
  for (int s = 1; s <= kMaxSplitsP; ++s) {
    if (s > 1 && tiles / s < 32) break;
    const double items = (double)pairs * s;
    const double rounds = (double)(((long long)pairs * s + warps - 1) / warps);
    const double tps = (double)((tiles + s - 1) / s);
    const double cost = rounds * tps * (s > 1 ? 1.01 : 1.0) + (s > 1 ? 4.0 : 0.0);
    (void)items;
    if (cost < best - 1e-9) {
      best = cost;
      best_s = s;
    }
  }
  return best_s;
}

template <int D, int NST, int TB>
size_t smem_bytes_p() {
  return (size_t)kWarps * NST * TB + (size_t)kWarps * kMaxSplitsP * 8 * 4;
}

template <typename TQ, int KVT, int D, int NST, int TB, bool BT = false>
int launch_p(TcArgs a, int num_seqs, int max_len, int splits, cudaStream_t s, int* splits_out) {
  auto kern = paged_decode_tcp_kernel<TQ, KVT, D, NST, TB, BT>;
  const size_t smem = smem_bytes_p<D, NST, TB>();
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  constexpr int KT = TB / (2 * D * (KVT == 2 ? 1 : 2));
  const int tiles = max_len > 0 ? (max_len + KT - 1) / KT : 1;
  int dev = 0, sms = 0, per_sm = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, kThreads, smem);
  const int slots = sms * (per_sm > 0 ? per_sm : 1);
  if (splits <= 0) splits = choose_splits_p(num_seqs * a.hkv, tiles, slots * kWarps);
  if (splits > kMaxSplitsP) splits = kMaxSplitsP;
  if (splits > tiles) splits = tiles;
  if (splits < 1) splits = 1;
  if (splits_out) *splits_out = splits;
  if (a.out == nullptr) return 0;  // query only
  if (splits > 1 && (a.tmp_o == nullptr || a.tmp_ml == nullptr || a.counters == nullptr))
    return (int)cudaErrorInvalidValue;
  a.splits = splits;
  a.tiles_per_split = (tiles + splits - 1) / splits;
  a.n_items = num_seqs * a.hkv * splits;
  const int ctas_needed = (a.n_items + kWarps - 1) / kWarps;
  const int grid = ctas_needed < slots ? ctas_needed : slots;
  kern<<<grid, kThreads, smem, s>>>(a);
  INFERNAV_RETURN_LAUNCH_STATUS();
}

template <typename K>
int slots_of(K kern, size_t smem) {
  int dev = 0, sms = 0, per_sm = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, kThreads, smem);
  return sms * (per_sm > 0 ? per_sm : 1);
}

// cfg 15, the default (ops.TC_DEFAULT_CFG), picks between the two kernels from the plan, by the rules
// that fit decode_sweep run 1 (bench/results/attention_h200_sweep1.json; docs/dev/kernels.md):
//  * 16-bit caches: the persistent kernel (3 stages of 8 KB, one split) when the (seq, kv head) pairs
//    fill every warp of its grid at least once and each is short (<= 64 tiles: 1024 tokens at D = 128),
//    i.e. when the CTA kernel would run many waves of short CTAs (256 x 512 tokens: 99 % vs 96 %);
//    otherwise the CTA kernel with 3 stages (cfg 2), as fast or faster on every long row.
//  * fp8: the persistent kernel (2 stages of 8 KB, cvt) when the CTA kernel would run more than one
//    wave with a last wave under 3/4 full, and the persistent plan needs <= 4 splits of >= 64 tiles
//    (64 x 8K: 95 % vs 92 %); otherwise the CTA kernel (cfg 0).
// A forced split count (splits > 0) keeps the CTA kernel, except a forced 1 on the 16-bit rule.
template <typename TQ, int KVT, int D>
int launch_auto(const TcArgs& a, int num_seqs, int max_len, int splits, cudaStream_t s, int* so) {
  constexpr bool FP8 = KVT == 2;
  constexpr int KT = 8192 / (2 * D * (FP8 ? 1 : 2));
  const int tiles = max_len > 0 ? (max_len + KT - 1) / KT : 1;
  const int pairs = num_seqs * a.hkv;
  if constexpr (!FP8) {
    const int warps = slots_of(paged_decode_tcp_kernel<TQ, KVT, D, 3, 8192, false>, smem_bytes_p<D, 3, 8192>()) *
                      kWarps;
    if (splits <= 1 && pairs >= warps && tiles <= 64) return launch_p<TQ, KVT, D, 3, 8192>(a, num_seqs, max_len, 1, s, so);
    return launch<TQ, KVT, D, 3, 8192>(a, num_seqs, max_len, splits, s, so);
  } else {
    if (splits <= 0) {
      TcArgs q = a;
      q.out = nullptr;  // plans only
      int s_old = 1, s_p = 1;
      launch<TQ, KVT, D, 2, 8192>(q, num_seqs, max_len, 0, s, &s_old);
      launch_p<TQ, KVT, D, 2, 8192, false>(q, num_seqs, max_len, 0, s, &s_p);
      const double waves = (double)pairs * s_old / slots_of(paged_decode_tc_kernel<TQ, KVT, D, 2, 8192, false, false>,
                                                             smem_bytes<D, 2, 8192>());
      const double frac = waves - (double)(long long)waves;
      const int tiles_item = (tiles + s_p - 1) / s_p;
      if (waves > 1.0 && frac > 0.0 && frac < 0.75 && s_p <= 4 && tiles_item >= 64)
        return launch_p<TQ, KVT, D, 2, 8192, false>(a, num_seqs, max_len, s_p, s, so);
    }
    return launch<TQ, KVT, D, 2, 8192>(a, num_seqs, max_len, splits, s, so);
  }
}

// cfg 0: the default for the element size and D (measured best on the H200, docs/dev/kernels.md): 2 stages
// of 8 KB tiles per warp (3 CTAs per SM). 1..3: rings of 2, 3, 4 stages of 8 KB tiles per warp;
// 4: 4 KB tiles (16 keys at D = 64 or fp8 D = 128), 5 stages at D = 64, 3 at fp8 (4 CTAs per SM);
// 5: the default ring with the L2::256B prefetch hint; 6 (fp8): 4 KB tiles, 4 stages.
// fp8 only, e4m3 converted on the integer pipe (e4m3x2_to_f16x2_scaled): 7: 2 stages of 8 KB; 8: 3 stages
// of 8 KB; 9: 3 stages of 4 KB.
// The persistent kernel (paged_decode_tcp_kernel): 16-bit: 10: 3 stages of 8 KB, 11: 2 stages of 8 KB,
// 12 (D = 64): 5 stages of 4 KB; fp8: 10: 2 stages of 8 KB (cvt), 11: the same with the integer-pipe
// conversion, 12: 3 stages of 8 KB, 13: 3 stages of 4 KB, 14: 4 stages of 4 KB (12-14 integer-pipe).
// 15: the default, picks cfg 2 / 10 (16-bit) or 0 / 10 (fp8) from the plan (launch_auto).
template <typename TQ, int KVT>
int by_dim(const TcArgs& a, int d, int cfg, int num_seqs, int max_len, int splits, cudaStream_t s, int* so) {
  if (cfg == 15) {
    if (d == 128) return launch_auto<TQ, KVT, 128>(a, num_seqs, max_len, splits, s, so);
    if constexpr (KVT != 2) {
      if (d == 64) return launch_auto<TQ, KVT, 64>(a, num_seqs, max_len, splits, s, so);
    }
    return (int)cudaErrorInvalidValue;
  }
  if (d == 128) {
    if constexpr (KVT == 2) {
      switch (cfg) {
        case 7: return launch<TQ, KVT, 128, 2, 8192, false, true>(a, num_seqs, max_len, splits, s, so);
        case 8: return launch<TQ, KVT, 128, 3, 8192, false, true>(a, num_seqs, max_len, splits, s, so);
        case 9: return launch<TQ, KVT, 128, 3, 4096, false, true>(a, num_seqs, max_len, splits, s, so);
        case 10: return launch_p<TQ, KVT, 128, 2, 8192, false>(a, num_seqs, max_len, splits, s, so);
        case 11: return launch_p<TQ, KVT, 128, 2, 8192, true>(a, num_seqs, max_len, splits, s, so);
        case 12: return launch_p<TQ, KVT, 128, 3, 8192, true>(a, num_seqs, max_len, splits, s, so);
        case 13: return launch_p<TQ, KVT, 128, 3, 4096, true>(a, num_seqs, max_len, splits, s, so);
        case 14: return launch_p<TQ, KVT, 128, 4, 4096, true>(a, num_seqs, max_len, splits, s, so);
        default: break;
      }
    } else {
      if (cfg == 10) return launch_p<TQ, KVT, 128, 3, 8192>(a, num_seqs, max_len, splits, s, so);
      if (cfg == 11) return launch_p<TQ, KVT, 128, 2, 8192>(a, num_seqs, max_len, splits, s, so);
    }
    if constexpr (KVT == 2) {
      if (cfg == 4) return launch<TQ, KVT, 128, 3, 4096>(a, num_seqs, max_len, splits, s, so);
      if (cfg == 6) return launch<TQ, KVT, 128, 4, 4096>(a, num_seqs, max_len, splits, s, so);
    }
    switch (cfg) {
      case 2: return launch<TQ, KVT, 128, 3, 8192>(a, num_seqs, max_len, splits, s, so);
      case 3: return launch<TQ, KVT, 128, 4, 8192>(a, num_seqs, max_len, splits, s, so);
      case 5: return launch<TQ, KVT, 128, 2, 8192, true>(a, num_seqs, max_len, splits, s, so);
      default: return launch<TQ, KVT, 128, 2, 8192>(a, num_seqs, max_len, splits, s, so);  // 0, 1
    }
  }
  if constexpr (KVT != 2) {
    if (d != 64) return (int)cudaErrorInvalidValue;
    switch (cfg) {
      case 10: return launch_p<TQ, KVT, 64, 3, 8192>(a, num_seqs, max_len, splits, s, so);
      case 11: return launch_p<TQ, KVT, 64, 2, 8192>(a, num_seqs, max_len, splits, s, so);
      case 12: return launch_p<TQ, KVT, 64, 5, 4096>(a, num_seqs, max_len, splits, s, so);
      case 2: return launch<TQ, KVT, 64, 3, 8192>(a, num_seqs, max_len, splits, s, so);
      case 3: return launch<TQ, KVT, 64, 4, 8192>(a, num_seqs, max_len, splits, s, so);
      case 4: return launch<TQ, KVT, 64, 5, 4096>(a, num_seqs, max_len, splits, s, so);
      case 5: return launch<TQ, KVT, 64, 2, 8192, true>(a, num_seqs, max_len, splits, s, so);
      default: return launch<TQ, KVT, 64, 2, 8192>(a, num_seqs, max_len, splits, s, so);  // 0, 1
    }
  }
  return (int)cudaErrorInvalidValue;
}

}  // namespace
}  // namespace infernav

// q_dtype: 0 fp16, 1 bf16 (q and out). kv_dtype: 0 fp16, 1 bf16 (must equal q_dtype), 2 fp8 e4m3
// (k_scale / v_scale: float [hkv] device arrays, or null for 1). splits <= 0: chosen from the
// machine (SM count x occupancy); the number used is stored in *splits_used. With out == null the
// call only reports that number. splits > 1 needs tmp_o [seqs, hq, splits, D] and tmp_ml
// [seqs, hq, splits, 2] float32 scratch and counters: int32 [seqs, hkv], zeroed once (every launch
// leaves them zero). One launch at a time may use a counters buffer.
extern "C" int infernav_paged_decode_tc(int q_dtype, int kv_dtype, int d, int cfg, void* out, const void* q,
                                        const void* k_cache, const void* v_cache, const float* k_scale,
                                        const float* v_scale, const int* block_tables, const int* seq_lens,
                                        float* tmp_o, float* tmp_ml, int* counters, int num_seqs, int hq, int hkv,
                                        int block_size, int max_blocks, int max_len, int splits, float scale,
                                        int* splits_used, void* stream) {
  using namespace infernav;
  if (hkv <= 0 || hq % hkv != 0 || hq / hkv > 8 || block_size <= 0 || (block_size & (block_size - 1)) != 0)
    return (int)cudaErrorInvalidValue;
  if (kv_dtype != 2 && kv_dtype != q_dtype) return (int)cudaErrorInvalidValue;
  if (kv_dtype == 2) {
    int dev = 0, major = 0, minor = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    if (major * 10 + minor < 89) return (int)cudaErrorInvalidDeviceFunction;
  }
  if (num_seqs <= 0) return 0;
  TcArgs a;
  a.out = out; a.q = q;
  a.k_cache = static_cast<const unsigned char*>(k_cache);
  a.v_cache = static_cast<const unsigned char*>(v_cache);
  a.k_scale = k_scale; a.v_scale = v_scale;
  a.block_tables = block_tables; a.seq_lens = seq_lens;
  a.tmp_o = tmp_o; a.tmp_ml = tmp_ml; a.counters = counters;
  a.hq = hq; a.hkv = hkv; a.g = hq / hkv; a.max_blocks = max_blocks;
  a.log2_bs = 0;
  while ((1 << a.log2_bs) < block_size) ++a.log2_bs;
  a.splits = 1; a.tiles_per_split = 1; a.n_items = 0;
  a.scale_log2 = scale * kLog2e;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (q_dtype == 0) {
    return kv_dtype == 2 ? by_dim<__half, 2>(a, d, cfg, num_seqs, max_len, splits, s, splits_used)
                         : by_dim<__half, 0>(a, d, cfg, num_seqs, max_len, splits, s, splits_used);
  }
  return kv_dtype == 2 ? by_dim<__nv_bfloat16, 2>(a, d, cfg, num_seqs, max_len, splits, s, splits_used)
                       : by_dim<__nv_bfloat16, 1>(a, d, cfg, num_seqs, max_len, splits, s, splits_used);
}
