// Hopper forward attention in the FlashAttention-3 design (written from the paper's description):
// fp16/bf16, D in {64, 128, 256}, causal or not, variable lengths, GQA; same semantics as fa2.cu.
//
// What it adds over fa3.cu (wgmma with cp.async loads and a CTA barrier per tile):
//  * Warp specialization. Warpgroup 0 is the producer: one thread issues bulk tensor copies (TMA,
//    cp.async.bulk.tensor with 128-byte swizzle, the layout wgmma reads) of Q once and of K and V
//    tiles into NS-stage rings. Each stage has a "full" mbarrier (the copy engine completes the
//    transaction bytes on it) and an "empty" one (each consumer warp arrives once it has finished
//    reading the stage). No CTA barrier in the main loop, so the two consumer warpgroups drift.
//  * Register reallocation: the producer warpgroup drops to 40 registers (setmaxnreg.dec), the two
//    consumer warpgroups (64 query rows each) rise to 232 (setmaxnreg.inc).
//  * Intra-warpgroup overlap: in iteration j a consumer issues S_j = Q K_j^T and O += P_{j-1} V_{j-1}
//    back to back, waits for S_j only, and runs the softmax of S_j while P_{j-1} V_{j-1} is still on
//    the tensor cores; O is rescaled once that product is done.
//  * Inter-warpgroup ping-pong (cfg 0): two named barriers make the warpgroups issue their GEMMs in
//    turn, so one warpgroup's softmax overlaps the other's GEMMs.
#include <cuda.h>
#include <cudaTypedefs.h>

#include <type_traits>

#include "common.cuh"
#include "hopper.cuh"
#include "wgmma.cuh"

namespace infernav {
namespace {

struct WsArgs {
  void* o;
  int64_t o_b, o_h, o_s;
  const int* cu_q;
  const int* cu_k;
  int seqlen_q, seqlen_k, hq, hkv;
  float scale_log2;
};

// NWG consumer warpgroups of 64 query rows each (BR = 64 NWG rows per CTA) and one producer warpgroup.
// Registers per thread after setmaxnreg: NWG = 2: producer 40, consumers 232; NWG = 3: 24 and 160
// (128 x 40 + 256 x 232 and 128 x 24 + 384 x 160 both fit the 64 K registers of an SM).
template <int NWG>
struct WsShape {
  static constexpr int BR = 64 * NWG, NTHR = 128 * (NWG + 1);
  static constexpr int PREGS = NWG == 2 ? 40 : 24, CREGS = NWG == 2 ? 232 : 160;
};
static_assert(128 * WsShape<2>::PREGS + 256 * WsShape<2>::CREGS <= 65536 &&
                  128 * WsShape<3>::PREGS + 384 * WsShape<3>::CREGS <= 65536,
              "setmaxnreg budgets must fit an SM's 64 K registers");

[[maybe_unused]] INFERNAV_DEVICE uint64_t desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFF) << 16) |
         ((uint64_t)((sbo >> 4) & 0x3FFF) << 32) | ((uint64_t)1 << 62);
}

template <typename T, int N>
INFERNAV_DEVICE void mma_ss(float (&d)[N / 2], uint64_t a, uint64_t b, int sc) {
  static_assert(N == 64 || N == 128 || N == 176, "S tile width");
  if constexpr (std::is_same<T, __half>::value) {
    if constexpr (N == 64) wg::ss_Half_n64(d, a, b, sc);
    else if constexpr (N == 128) wg::ss_Half_n128(d, a, b, sc);
    else wg::ss_Half_n176(d, a, b, sc);
  } else {
    if constexpr (N == 64) wg::ss_Bf16_n64(d, a, b, sc);
    else if constexpr (N == 128) wg::ss_Bf16_n128(d, a, b, sc);
    else wg::ss_Bf16_n176(d, a, b, sc);
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

template <int N>
INFERNAV_DEVICE void fence_u32(uint32_t (&r)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) asm volatile("" : "+r"(r[i][j])::"memory");
}

// S (64 x BC, this warpgroup's rows) = Q K^T; the first k step overwrites the accumulators
template <typename T, int D, int BC, int BR>
INFERNAV_DEVICE void gemm_qk(float (&s)[BC / 2], uint32_t sQ, uint32_t sK, int wgi) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint64_t da = desc(sQ + (kk >> 2) * (BR * 128) + wgi * 64 * 128 + (kk & 3) * 32, 16, 1024);
    const uint64_t db = desc(sK + (kk >> 2) * (BC * 128) + (kk & 3) * 32, 16, 1024);
    mma_ss<T, BC>(s, da, db, kk > 0);
  }
}

// O (64 x D) += P V, P from registers (A-fragment layout), V read transposed from shared memory
template <typename T, int D, int BC>
INFERNAV_DEVICE void gemm_pv(float (&o)[D / 2], const uint32_t (&pa)[BC / 16][4], uint32_t sV) {
#pragma unroll
  for (int kk = 0; kk < BC / 16; ++kk) {
    if constexpr (D <= 128) {
      mma_rs<T, D>(o, pa[kk], desc(sV + kk * 16 * 128, BC * 128, 1024), 1);
    } else {  // D = 256: two n128 products over column regions {0,1} and {2,3}
      mma_rs<T, 128>(*reinterpret_cast<float(*)[64]>(&o[0]), pa[kk], desc(sV + kk * 16 * 128, BC * 128, 1024), 1);
      mma_rs<T, 128>(*reinterpret_cast<float(*)[64]>(&o[64]), pa[kk],
                     desc(sV + 2 * BC * 128 + kk * 16 * 128, BC * 128, 1024), 1);
    }
  }
}

template <typename T, int D, int BC, int NS, int NWG, bool CAUSAL, bool PP, bool COND>
__global__ void __launch_bounds__(WsShape<NWG>::NTHR, 1)
    fa3ws_kernel(const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                 const __grid_constant__ CUtensorMap tv, const WsArgs a) {
#ifdef INFERNAV_WGMMA
  constexpr int BR = WsShape<NWG>::BR;
  constexpr int QB = (D / 64) * BR * 128;  // bytes of Q
  constexpr int KB = (D / 64) * BC * 128;  // bytes of one K or V tile
  constexpr int NSB = BC / 8, NOB = D / 8;
  extern __shared__ unsigned char smem_raw[];
  uint32_t base = smem_u32(smem_raw);
  const uint32_t pad = (1024u - (base & 1023u)) & 1023u;  // 128-byte swizzle atoms: 1024-byte alignment
  base += pad;
  unsigned char* gsm = smem_raw + pad;
  const uint32_t sQ = base, sK = base + QB, sV = sK + NS * KB, sBar = sV + NS * KB;
  const uint32_t barQ = sBar;
  auto fullK = [&](int i) { return sBar + 8u * (1 + i); };
  auto emptyK = [&](int i) { return sBar + 8u * (1 + NS + i); };
  auto fullV = [&](int i) { return sBar + 8u * (1 + 2 * NS + i); };
  auto emptyV = [&](int i) { return sBar + 8u * (1 + 3 * NS + i); };

  const int tid = threadIdx.x, wg = tid >> 7, warp = tid >> 5, lane = tid & 31;
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
  const int diag = sk - sq;
  int n_end = sk;
  if (CAUSAL) n_end = min(sk, m0 + BR + diag);
  const int num_kt = n_end > 0 ? (n_end + BC - 1) / BC : 0;

  if (tid == 0) {
    hop::mbar_init(barQ, 1);
    for (int i = 0; i < NS; ++i) {
      hop::mbar_init(fullK(i), 1);
      hop::mbar_init(fullV(i), 1);
      hop::mbar_init(emptyK(i), 4 * NWG);  // one arrival per consumer warp
      hop::mbar_init(emptyV(i), 4 * NWG);
    }
    hop::fence_barrier_init();
  }
  __syncthreads();

  if (wg == 0) {
    // ------------------------------------------------------------ producer
    hop::reg_dealloc<WsShape<NWG>::PREGS>();
    if (tid == 0 && num_kt > 0) {
      hop::prefetch_tmap(&tq);
      hop::prefetch_tmap(&tk);
      hop::prefetch_tmap(&tv);
      const int bq = varlen ? 0 : b, qrow = (varlen ? q0 : 0) + m0, krow = varlen ? k0 : 0;
      hop::mbar_arrive_expect_tx(barQ, QB);
#pragma unroll
      for (int r = 0; r < D / 64; ++r) hop::tma_load_4d(sQ + r * BR * 128, &tq, barQ, 64 * r, qrow, h, bq);
      for (int j = 0; j < num_kt; ++j) {
        const int st = j % NS;
        const uint32_t ph = (j / NS) & 1;
        hop::mbar_wait(emptyK(st), ph ^ 1);
        hop::mbar_arrive_expect_tx(fullK(st), KB);
#pragma unroll
        for (int r = 0; r < D / 64; ++r)
          hop::tma_load_4d(sK + st * KB + r * BC * 128, &tk, fullK(st), 64 * r, krow + j * BC, hk, bq);
        hop::mbar_wait(emptyV(st), ph ^ 1);
        hop::mbar_arrive_expect_tx(fullV(st), KB);
#pragma unroll
        for (int r = 0; r < D / 64; ++r)
          hop::tma_load_4d(sV + st * KB + r * BC * 128, &tv, fullV(st), 64 * r, krow + j * BC, hk, bq);
      }
    }
  } else {
    // ------------------------------------------------------------ consumers
    hop::reg_alloc<WsShape<NWG>::CREGS>();
    const int wgi = wg - 1, wl = warp & 3;
    const int rbase = wgi * 64 + wl * 16 + (lane >> 2);  // this thread's first row in the tile (+8: second)
    const float sl2 = a.scale_log2;
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};

    if (num_kt > 0) {
      uint32_t pa[BC / 16][4];
      float s[BC / 2];
      float alpha[2];
      // ping-pong: warpgroup w issues its GEMMs after warpgroup w-1 (mod NWG) has issued its own; named
      // barrier 1+w is where w waits and w-1 arrives. The last warpgroup opens the chain and skips its
      // final arrival, so every barrier sees as many arrivals as waits.
      const int bar_me = 1 + wgi, bar_next = 1 + (wgi + 1) % NWG;
      const bool last_wg = wgi == NWG - 1;
      if (PP && last_wg) hop::bar_arrive(1, 256);
      hop::mbar_wait(barQ, 0);

      // mask and online softmax of tile j (log2 domain); s becomes P in place
      auto softmax = [&](int j) {
        const int n0 = j * BC;
        const bool need_mask = (n0 + BC > sk) || (CAUSAL && n0 + BC - 1 > m0 + diag);
        if (need_mask) {
#pragma unroll
          for (int n = 0; n < NSB; ++n)
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
          for (int n = 0; n < NSB; ++n) mx = fmaxf(mx, fmaxf(s[4 * n + 2 * hh], s[4 * n + 2 * hh + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float mu = (mx == -INFINITY) ? 0.f : mx * sl2;
          alpha[hh] = fast_exp2(m_run[hh] * sl2 - mu);
          m_run[hh] = mx;
          float rs = 0.f;
#pragma unroll
          for (int n = 0; n < NSB; ++n) {
            const float p0 = fast_exp2(fmaf(s[4 * n + 2 * hh], sl2, -mu));
            const float p1 = fast_exp2(fmaf(s[4 * n + 2 * hh + 1], sl2, -mu));
            s[4 * n + 2 * hh] = p0;
            s[4 * n + 2 * hh + 1] = p1;
            rs += p0 + p1;
          }
          l_run[hh] = l_run[hh] * alpha[hh] + rs;
        }
      };
      auto pack = [&]() {
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk) {
          pa[kk][0] = pack2<T>(s[8 * kk + 0], s[8 * kk + 1]);
          pa[kk][1] = pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
          pa[kk][2] = pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
          pa[kk][3] = pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
        }
      };

      // ---- tile 0: S_0 only
      hop::mbar_wait(fullK(0), 0);
      if (PP) hop::bar_sync(bar_me, 256);
      wg::fence();
      gemm_qk<T, D, BC, BR>(s, sQ, sK, wgi);
      wg::commit();
      if (PP && !(last_wg && num_kt == 1)) hop::bar_arrive(bar_next, 256);
      wg::wait<0>();
      wg::fence_regs(s);
      __syncwarp();
      if (lane == 0) hop::mbar_arrive(emptyK(0));
      softmax(0);
      pack();

      for (int j = 1; j < num_kt; ++j) {
        const int st = j % NS, sp = (j - 1) % NS;
        hop::mbar_wait(fullK(st), (j / NS) & 1);
        hop::mbar_wait(fullV(sp), ((j - 1) / NS) & 1);
        if (PP) hop::bar_sync(bar_me, 256);
        wg::fence_regs(o);
        fence_u32(pa);
        wg::fence();
        gemm_qk<T, D, BC, BR>(s, sQ, sK + st * KB, wgi);
        wg::commit();
        gemm_pv<T, D, BC>(o, pa, sV + sp * KB);
        wg::commit();
        if (PP && !(last_wg && j == num_kt - 1)) hop::bar_arrive(bar_next, 256);
        wg::wait<1>();  // S_j done; P_{j-1} V_{j-1} may still run
        wg::fence_regs(s);
        __syncwarp();
        if (lane == 0) hop::mbar_arrive(emptyK(st));
        softmax(j);
        wg::wait<0>();
        wg::fence_regs(o);
        fence_u32(pa);
        __syncwarp();
        if (lane == 0) hop::mbar_arrive(emptyV(sp));
        // rescale O only when some row of this warp saw a new maximum (exact: alpha == 1 otherwise);
        // after the first tiles of a long row that is rare, and it saves D/2 multiplies per thread
        if (!COND || __any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
          for (int hh = 0; hh < 2; ++hh)
#pragma unroll
            for (int n = 0; n < NOB; ++n) {
              o[4 * n + 2 * hh] *= alpha[hh];
              o[4 * n + 2 * hh + 1] *= alpha[hh];
            }
        }
        pack();
      }
      // ---- drain: O += P V for the last tile
      const int sp = (num_kt - 1) % NS;
      hop::mbar_wait(fullV(sp), ((num_kt - 1) / NS) & 1);
      wg::fence_regs(o);
      fence_u32(pa);
      wg::fence();
      gemm_pv<T, D, BC>(o, pa, sV + sp * KB);
      wg::commit();
      wg::wait<0>();
      wg::fence_regs(o);
      __syncwarp();
      if (lane == 0) hop::mbar_arrive(emptyV(sp));
    }

    // ---- epilogue: O / l through this warp's own Q rows (async-proxy reads of them are complete),
    // then 16-byte coalesced stores
    wg::fence_proxy_async();
    T* O = static_cast<T*>(a.o) + (varlen ? (int64_t)q0 * a.o_s : (int64_t)b * a.o_b) + (int64_t)h * a.o_h;
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      float l = l_run[hh];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int r = rbase + 8 * hh;
#pragma unroll
      for (int n = 0; n < NOB; ++n)
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
  }
#endif
}

// Persistent variant (issue 19, cfg 7 and 8 at D = 128): one CTA per SM loops over the output tiles
// t = blockIdx.x, blockIdx.x + gridDim.x, ... (query block fastest, then head, then batch: the CTAs of
// one wave share the K/V of one or two heads in L2, as in the one-CTA-per-tile grid). The K/V rings
// and their phases run on across tiles, and Q has its own "empty" mbarrier that the consumer warps
// arrive at once the tile's last S = Q K^T is done, so the producer loads the next tile's Q and first
// K/V tiles while the consumers finish the last softmax, the last P V and the epilogue. The epilogue
// writes O from registers straight to global memory (the Q buffer may already hold the next Q).
// Per tile the main loop is fa3ws_kernel's. Prediction (docs/dev/kernels.md): removes the per-CTA
// launch, barrier setup, Q and first-tile latency and unoverlapped epilogue of 32 waves of ~110 us
// CTAs at [4,16,8192,8192,128]: a few per cent.
template <typename T, int D, int BC, int NS, int NWG, bool CAUSAL, bool PP, bool COND>
__global__ void __launch_bounds__(WsShape<NWG>::NTHR, 1)
    fa3ws_persistent_kernel(const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk,
                            const __grid_constant__ CUtensorMap tv, const WsArgs a, int n_mb, int n_tiles) {
#ifdef INFERNAV_WGMMA
  constexpr int BR = WsShape<NWG>::BR;
  constexpr int QB = (D / 64) * BR * 128;  // bytes of Q
  constexpr int KB = (D / 64) * BC * 128;  // bytes of one K or V tile
  constexpr int NSB = BC / 8, NOB = D / 8;
  extern __shared__ unsigned char smem_raw[];
  uint32_t base = smem_u32(smem_raw);
  const uint32_t pad = (1024u - (base & 1023u)) & 1023u;
  base += pad;
  const uint32_t sQ = base, sK = base + QB, sV = sK + NS * KB, sBar = sV + NS * KB;
  const uint32_t barQ = sBar, emptyQ = sBar + 8u * (1 + 4 * NS);
  auto fullK = [&](int i) { return sBar + 8u * (1 + i); };
  auto emptyK = [&](int i) { return sBar + 8u * (1 + NS + i); };
  auto fullV = [&](int i) { return sBar + 8u * (1 + 2 * NS + i); };
  auto emptyV = [&](int i) { return sBar + 8u * (1 + 3 * NS + i); };

  const int tid = threadIdx.x, wg = tid >> 7, warp = tid >> 5, lane = tid & 31;
  const bool varlen = a.cu_q != nullptr;
  const int G = (int)gridDim.x;

  // tile t -> (batch, head, first query row, number of key tiles); 0 key tiles: nothing to load
  struct Tile { int b, h, m0, q0, k0, sq, sk, num_kt; };
  auto tile_of = [&](int t) {
    Tile r;
    int mb = t % n_mb;
    const int rest = t / n_mb;
    r.h = rest % a.hq;
    r.b = rest / a.hq;
    if (CAUSAL) mb = n_mb - 1 - mb;  // longest rows first within a head
    r.m0 = mb * BR;
    r.q0 = 0; r.k0 = 0; r.sq = a.seqlen_q; r.sk = a.seqlen_k;
    if (varlen) {
      r.q0 = a.cu_q[r.b];
      r.sq = a.cu_q[r.b + 1] - r.q0;
      r.k0 = a.cu_k[r.b];
      r.sk = a.cu_k[r.b + 1] - r.k0;
    }
    int n_end = r.sk;
    if (CAUSAL) n_end = min(r.sk, r.m0 + BR + (r.sk - r.sq));
    r.num_kt = (r.m0 < r.sq && n_end > 0) ? (n_end + BC - 1) / BC : 0;
    return r;
  };

  if (tid == 0) {
    hop::mbar_init(barQ, 1);
    hop::mbar_init(emptyQ, 4 * NWG);
    for (int i = 0; i < NS; ++i) {
      hop::mbar_init(fullK(i), 1);
      hop::mbar_init(fullV(i), 1);
      hop::mbar_init(emptyK(i), 4 * NWG);
      hop::mbar_init(emptyV(i), 4 * NWG);
    }
    hop::fence_barrier_init();
  }
  __syncthreads();

  if (wg == 0) {
    // ------------------------------------------------------------ producer
    hop::reg_dealloc<WsShape<NWG>::PREGS>();
    if (tid == 0) {
      hop::prefetch_tmap(&tq);
      hop::prefetch_tmap(&tk);
      hop::prefetch_tmap(&tv);
      int it = 0, qi = 0;  // key tiles and Q loads issued so far by this CTA
      for (int t = blockIdx.x; t < n_tiles; t += G) {
        const Tile w = tile_of(t);
        if (w.num_kt == 0) continue;
        const int bq = varlen ? 0 : w.b, qrow = (varlen ? w.q0 : 0) + w.m0, krow = varlen ? w.k0 : 0;
        const int hk = w.h / (a.hq / a.hkv);
        hop::mbar_wait(emptyQ, (qi & 1) ^ 1);
        hop::mbar_arrive_expect_tx(barQ, QB);
#pragma unroll
        for (int r = 0; r < D / 64; ++r) hop::tma_load_4d(sQ + r * BR * 128, &tq, barQ, 64 * r, qrow, w.h, bq);
        ++qi;
        for (int j = 0; j < w.num_kt; ++j, ++it) {
          const int st = it % NS;
          const uint32_t ph = (it / NS) & 1;
          hop::mbar_wait(emptyK(st), ph ^ 1);
          hop::mbar_arrive_expect_tx(fullK(st), KB);
#pragma unroll
          for (int r = 0; r < D / 64; ++r)
            hop::tma_load_4d(sK + st * KB + r * BC * 128, &tk, fullK(st), 64 * r, krow + j * BC, hk, bq);
          hop::mbar_wait(emptyV(st), ph ^ 1);
          hop::mbar_arrive_expect_tx(fullV(st), KB);
#pragma unroll
          for (int r = 0; r < D / 64; ++r)
            hop::tma_load_4d(sV + st * KB + r * BC * 128, &tv, fullV(st), 64 * r, krow + j * BC, hk, bq);
        }
      }
    }
  } else {
    // ------------------------------------------------------------ consumers
    hop::reg_alloc<WsShape<NWG>::CREGS>();
    const int wgi = wg - 1, wl = warp & 3;
    const int rbase = wgi * 64 + wl * 16 + (lane >> 2);
    const float sl2 = a.scale_log2;
    const int bar_me = 1 + wgi, bar_next = 1 + (wgi + 1) % NWG;
    const bool last_wg = wgi == NWG - 1;
    if (PP && last_wg) hop::bar_arrive(1, 256);
    int it = 0, qi = 0;
    // the last tile of this CTA that has keys: the last warpgroup skips its final ping-pong arrival there
    int t_last = -1;
    for (int t = blockIdx.x; t < n_tiles; t += G)
      if (tile_of(t).num_kt > 0) t_last = t;

    for (int t = blockIdx.x; t < n_tiles; t += G) {
      const Tile w = tile_of(t);
      const int m0 = w.m0, sk = w.sk, num_kt = w.num_kt, diag = w.sk - w.sq;
      if (w.m0 >= w.sq) continue;
      const bool fin = t == t_last;
      float o[D / 2];
#pragma unroll
      for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
      float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};

      if (num_kt > 0) {
        uint32_t pa[BC / 16][4];
        float s[BC / 2];
        float alpha[2];
        hop::mbar_wait(barQ, qi & 1);

        auto softmax = [&](int j) {
          const int n0 = j * BC;
          const bool need_mask = (n0 + BC > sk) || (CAUSAL && n0 + BC - 1 > m0 + diag);
          if (need_mask) {
#pragma unroll
            for (int n = 0; n < NSB; ++n)
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
            for (int n = 0; n < NSB; ++n) mx = fmaxf(mx, fmaxf(s[4 * n + 2 * hh], s[4 * n + 2 * hh + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mu = (mx == -INFINITY) ? 0.f : mx * sl2;
            alpha[hh] = fast_exp2(m_run[hh] * sl2 - mu);
            m_run[hh] = mx;
            float rs = 0.f;
#pragma unroll
            for (int n = 0; n < NSB; ++n) {
              const float p0 = fast_exp2(fmaf(s[4 * n + 2 * hh], sl2, -mu));
              const float p1 = fast_exp2(fmaf(s[4 * n + 2 * hh + 1], sl2, -mu));
              s[4 * n + 2 * hh] = p0;
              s[4 * n + 2 * hh + 1] = p1;
              rs += p0 + p1;
            }
            l_run[hh] = l_run[hh] * alpha[hh] + rs;
          }
        };
        auto pack = [&]() {
#pragma unroll
          for (int kk = 0; kk < BC / 16; ++kk) {
            pa[kk][0] = pack2<T>(s[8 * kk + 0], s[8 * kk + 1]);
            pa[kk][1] = pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
            pa[kk][2] = pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
            pa[kk][3] = pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
          }
        };

        // ---- tile 0: S_0 only
        {
          const int st = it % NS;
          hop::mbar_wait(fullK(st), (it / NS) & 1);
          if (PP) hop::bar_sync(bar_me, 256);
          wg::fence();
          gemm_qk<T, D, BC, BR>(s, sQ, sK + st * KB, wgi);
          wg::commit();
          if (PP && !(last_wg && fin && num_kt == 1)) hop::bar_arrive(bar_next, 256);
          wg::wait<0>();
          wg::fence_regs(s);
          __syncwarp();
          if (lane == 0) {
            hop::mbar_arrive(emptyK(st));
            if (num_kt == 1) hop::mbar_arrive(emptyQ);
          }
          softmax(0);
          pack();
        }

        for (int j = 1; j < num_kt; ++j) {
          const int st = (it + j) % NS, sp = (it + j - 1) % NS;
          hop::mbar_wait(fullK(st), ((it + j) / NS) & 1);
          hop::mbar_wait(fullV(sp), ((it + j - 1) / NS) & 1);
          if (PP) hop::bar_sync(bar_me, 256);
          wg::fence_regs(o);
          fence_u32(pa);
          wg::fence();
          gemm_qk<T, D, BC, BR>(s, sQ, sK + st * KB, wgi);
          wg::commit();
          gemm_pv<T, D, BC>(o, pa, sV + sp * KB);
          wg::commit();
          if (PP && !(last_wg && fin && j == num_kt - 1)) hop::bar_arrive(bar_next, 256);
          wg::wait<1>();
          wg::fence_regs(s);
          __syncwarp();
          if (lane == 0) {
            hop::mbar_arrive(emptyK(st));
            if (j == num_kt - 1) hop::mbar_arrive(emptyQ);
          }
          softmax(j);
          wg::wait<0>();
          wg::fence_regs(o);
          fence_u32(pa);
          __syncwarp();
          if (lane == 0) hop::mbar_arrive(emptyV(sp));
          if (!COND || __any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
            for (int hh = 0; hh < 2; ++hh)
#pragma unroll
              for (int n = 0; n < NOB; ++n) {
                o[4 * n + 2 * hh] *= alpha[hh];
                o[4 * n + 2 * hh + 1] *= alpha[hh];
              }
          }
          pack();
        }
        // ---- drain: O += P V for the last tile
        const int sp = (it + num_kt - 1) % NS;
        hop::mbar_wait(fullV(sp), ((it + num_kt - 1) / NS) & 1);
        wg::fence_regs(o);
        fence_u32(pa);
        wg::fence();
        gemm_pv<T, D, BC>(o, pa, sV + sp * KB);
        wg::commit();
        wg::wait<0>();
        wg::fence_regs(o);
        __syncwarp();
        if (lane == 0) hop::mbar_arrive(emptyV(sp));
        it += num_kt;
        ++qi;
      }

      // ---- epilogue: O / l from registers to global memory (4-byte stores; 4 lanes write 16
      // contiguous bytes of a row), rows past the end skipped
      T* O = static_cast<T*>(a.o) + (varlen ? (int64_t)w.q0 * a.o_s : (int64_t)w.b * a.o_b) + (int64_t)w.h * a.o_h;
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        float l = l_run[hh];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int r = m0 + rbase + 8 * hh;
        if (r < w.sq) {
          T* row = O + (int64_t)r * a.o_s + 2 * (lane & 3);
#pragma unroll
          for (int n = 0; n < NOB; ++n)
            *reinterpret_cast<uint32_t*>(row + 8 * n) = pack2<T>(o[4 * n + 2 * hh] * inv, o[4 * n + 2 * hh + 1] * inv);
        }
      }
    }
  }
#endif
}

// ---------------------------------------------------------------- host: tensor maps and launch
PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  if (fn == nullptr) {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) ==
            cudaSuccess &&
        q == cudaDriverEntryPointSuccess)
      fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }
  return fn;
}

// [batch][heads][rows][D] with element strides (s_b, s_h, s_r), box 64 columns x box_rows rows
int make_map(CUtensorMap* m, const void* ptr, int dtype, int d, int64_t rows, int64_t heads, int64_t batch,
             int64_t s_r, int64_t s_h, int64_t s_b, int box_rows) {
  auto fn = encode_fn();
  if (fn == nullptr) return (int)cudaErrorNotSupported;
  const cuuint64_t dims[4] = {(cuuint64_t)d, (cuuint64_t)rows, (cuuint64_t)heads, (cuuint64_t)batch};
  const cuuint64_t strides[3] = {(cuuint64_t)s_r * 2, (cuuint64_t)s_h * 2, (cuuint64_t)s_b * 2};
  const cuuint32_t box[4] = {64u, (cuuint32_t)box_rows, 1u, 1u};
  const cuuint32_t es[4] = {1u, 1u, 1u, 1u};
  const CUresult r = fn(m, dtype == 0 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4,
                        const_cast<void*>(ptr), dims, strides, box, es, CU_TENSOR_MAP_INTERLEAVE_NONE,
                        CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                        CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return r == CUDA_SUCCESS ? 0 : (int)cudaErrorInvalidValue;
}

// key tile BC and ring depth NS per head dim (cfg 5 at D = 128: BC = 176, FlashAttention-3's non-causal choice)
template <int D>
struct Cfg;
template <>
struct Cfg<64> { static constexpr int BC = 128, NS = 4; };
template <>
struct Cfg<128> { static constexpr int BC = 128, NS = 2; };
template <>
struct Cfg<256> { static constexpr int BC = 64, NS = 2; };
int bc_of(int d, int cfg) { return d == 256 ? 64 : (d == 128 && (cfg == 5 || cfg == 8)) ? 176 : 128; }

// cfg: 0 ping-pong + conditional rescale (default), 1 no ping-pong, 2 ping-pong + rescale every tile,
// 3 neither; 4 (D = 64): three consumer warpgroups (BR = 192) with ping-pong + conditional rescale;
// 5 (D = 128): key tiles of 176 with ping-pong + conditional rescale; 6 (D = 128): 3-stage K/V rings;
// 7, 8 (D = 128): the persistent kernel (fa3ws_persistent_kernel) with cfg 0's and cfg 5's tiles.
int nwg_of(int d, int cfg) { return d == 64 && cfg == 4 ? 3 : 2; }

template <typename T, int D, int NWG, bool PP, bool COND, int BC, int NS>
int launch(const CUtensorMap& tq, const CUtensorMap& tk, const CUtensorMap& tv, const WsArgs& a, int batch,
           int causal, cudaStream_t stream) {
  constexpr int BR = WsShape<NWG>::BR;
  const dim3 grid((a.seqlen_q + BR - 1) / BR, a.hq, batch);
  const size_t smem = (size_t)(D / 64) * 128 * (BR + 2 * NS * BC) + 8 * (1 + 4 * NS) + 1024;
  static_assert((size_t)(D / 64) * 128 * (BR + 2 * NS * BC) + 8 * (1 + 4 * NS) + 1024 <= 232448, "smem");
  auto kern = causal ? fa3ws_kernel<T, D, BC, NS, NWG, true, PP, COND> : fa3ws_kernel<T, D, BC, NS, NWG, false, PP, COND>;
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  kern<<<grid, WsShape<NWG>::NTHR, smem, stream>>>(tq, tk, tv, a);
  INFERNAV_RETURN_LAUNCH_STATUS();
}

// the persistent kernel (cfg 7, 8): one CTA per SM (never more CTAs than tiles); barriers: 1 + 4 NS + emptyQ
template <typename T, int D, int NWG, bool PP, bool COND, int BC, int NS>
int launch_persistent(const CUtensorMap& tq, const CUtensorMap& tk, const CUtensorMap& tv, const WsArgs& a, int batch,
                      int causal, cudaStream_t stream) {
  constexpr int BR = WsShape<NWG>::BR;
  const int n_mb = (a.seqlen_q + BR - 1) / BR;
  const long long tiles = (long long)n_mb * a.hq * batch;
  if (tiles > 0x7fffffff) return (int)cudaErrorInvalidValue;
  int dev = 0, sms = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  if (e != cudaSuccess) return (int)e;
  const int grid = (int)(tiles < sms ? tiles : sms);
  const size_t smem = (size_t)(D / 64) * 128 * (BR + 2 * NS * BC) + 8 * (2 + 4 * NS) + 1024;
  static_assert((size_t)(D / 64) * 128 * (BR + 2 * NS * BC) + 8 * (2 + 4 * NS) + 1024 <= 232448, "smem");
  auto kern = causal ? fa3ws_persistent_kernel<T, D, BC, NS, NWG, true, PP, COND>
                     : fa3ws_persistent_kernel<T, D, BC, NS, NWG, false, PP, COND>;
  e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  kern<<<grid, WsShape<NWG>::NTHR, smem, stream>>>(tq, tk, tv, a, n_mb, (int)tiles);
  INFERNAV_RETURN_LAUNCH_STATUS();
}

template <typename T, int D>
int by_cfg(const CUtensorMap& tq, const CUtensorMap& tk, const CUtensorMap& tv, const WsArgs& a, int cfg,
           int batch, int causal, cudaStream_t s) {
  constexpr int BC = Cfg<D>::BC, NS = Cfg<D>::NS;
  switch (cfg) {
    case 1: return launch<T, D, 2, false, true, BC, NS>(tq, tk, tv, a, batch, causal, s);
    case 2: return launch<T, D, 2, true, false, BC, NS>(tq, tk, tv, a, batch, causal, s);
    case 3: return launch<T, D, 2, false, false, BC, NS>(tq, tk, tv, a, batch, causal, s);
    case 4:
      if constexpr (D == 64) return launch<T, D, 3, true, true, BC, NS>(tq, tk, tv, a, batch, causal, s);
      return (int)cudaErrorInvalidValue;
    case 5:
      if constexpr (D == 128) return launch<T, D, 2, true, true, 176, 2>(tq, tk, tv, a, batch, causal, s);
      return (int)cudaErrorInvalidValue;
    case 6:  // 3-stage K/V rings at d=128 (224 KB of shared memory: the most a CTA may have)
      if constexpr (D == 128) return launch<T, D, 2, true, true, 128, 3>(tq, tk, tv, a, batch, causal, s);
      return (int)cudaErrorInvalidValue;
    case 7:  // persistent, 128-key tiles, 2 stages
      if constexpr (D == 128) return launch_persistent<T, D, 2, true, true, 128, 2>(tq, tk, tv, a, batch, causal, s);
      return (int)cudaErrorInvalidValue;
    case 8:  // persistent, 176-key tiles, 2 stages
      if constexpr (D == 128) return launch_persistent<T, D, 2, true, true, 176, 2>(tq, tk, tv, a, batch, causal, s);
      return (int)cudaErrorInvalidValue;
    default: return launch<T, D, 2, true, true, BC, NS>(tq, tk, tv, a, batch, causal, s);
  }
}

template <typename T>
int dispatch(const CUtensorMap& tq, const CUtensorMap& tk, const CUtensorMap& tv, const WsArgs& a, int d, int cfg,
             int batch, int causal, cudaStream_t s) {
  if (d == 64) return by_cfg<T, 64>(tq, tk, tv, a, cfg, batch, causal, s);
  if (d == 128) return by_cfg<T, 128>(tq, tk, tv, a, cfg, batch, causal, s);
  if (d == 256) return by_cfg<T, 256>(tq, tk, tv, a, cfg, batch, causal, s);
  return (int)cudaErrorInvalidValue;
}

}  // namespace
}  // namespace infernav

// As infernav_fa2_fwd, plus total_q / total_k: the rows of the packed varlen tensors (ignored for fixed
// lengths), which bound the tensor maps. cfg: see by_cfg (0 is the default).
// Needs an sm_90a device (the kernel body is empty elsewhere; ops.py checks).
extern "C" int infernav_fa3ws_fwd(int dtype, int d, int cfg, const void* q, const void* k, const void* v, void* o,
                                  const int64_t* strides, const int* cu_q, const int* cu_k, int batch, int hq,
                                  int hkv, int seqlen_q, int seqlen_k, int total_q, int total_k, float scale,
                                  int causal, void* stream) {
  using namespace infernav;
  if (hq <= 0 || hkv <= 0 || hq % hkv != 0 || batch <= 0) return (int)cudaErrorInvalidValue;
  if (d != 64 && d != 128 && d != 256) return (int)cudaErrorInvalidValue;
  if (seqlen_q <= 0) return 0;
  const bool varlen = cu_q != nullptr;
  const int box_kv = bc_of(d, cfg);
  CUtensorMap tq, tk, tv;
  // varlen: [1][heads][total rows][D]; the batch stride is unused (one batch entry). A tensor with
  // no rows gets a one-row map that is never read (every tile then sees no key, or has no query).
  int64_t rq = varlen ? total_q : seqlen_q, rk = varlen ? total_k : seqlen_k;
  if (rq < 1) rq = 1;
  if (rk < 1) rk = 1;
  const int64_t nb = varlen ? 1 : batch;
  if ((cfg == 4 && d != 64) || (cfg >= 5 && cfg <= 8 && d != 128)) return (int)cudaErrorInvalidValue;
  const int br = 64 * nwg_of(d, cfg);
  int e = make_map(&tq, q, dtype, d, rq, hq, nb, strides[2], strides[1], varlen ? strides[1] * hq : strides[0], br);
  if (!e) e = make_map(&tk, k, dtype, d, rk, hkv, nb, strides[5], strides[4], varlen ? strides[4] * hkv : strides[3], box_kv);
  if (!e) e = make_map(&tv, v, dtype, d, rk, hkv, nb, strides[8], strides[7], varlen ? strides[7] * hkv : strides[6], box_kv);
  if (e) return e;
  WsArgs a;
  a.o = o;
  a.o_b = strides[9]; a.o_h = strides[10]; a.o_s = strides[11];
  a.cu_q = cu_q; a.cu_k = cu_k;
  a.seqlen_q = seqlen_q; a.seqlen_k = seqlen_k; a.hq = hq; a.hkv = hkv;
  a.scale_log2 = scale * kLog2e;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return dtype == 0 ? dispatch<__half>(tq, tk, tv, a, d, cfg, batch, causal, s)
                    : dispatch<__nv_bfloat16>(tq, tk, tv, a, d, cfg, batch, causal, s);
}
