// FlashAttention-2-style forward kernel on mma.sync (fp16 / bf16 in and out, fp32 accumulation).
//
// Idea it adds over the fp32 progression: the whole tile computation runs on tensor cores through
// warp-level mma.sync.m16n8k16, and the probabilities never leave registers: the fp32 accumulator
// fragment of S = Q K^T has exactly the lane layout of the A operand of the next mma, so P is packed
// to 16-bit in registers and multiplied by V straight away (FlashAttention-2's trick).
//
// Work split: one CTA per (query tile of BR rows, head, batch); NW warps each own BR/NW query rows,
// so row statistics (running max m, running sum l) stay inside one warp (a 4-lane shuffle).
// Shared memory: Q tile [BR x D], one K tile and one V tile [BC x D], 16-bit, XOR-swizzled in
// 16-byte chunks (conflict-free ldmatrix). Loads are cp.async (16 B per thread, coalesced);
// V(j) is fetched while S(j) is computed and K(j+1) while P(j) V(j) is computed.
// Masking: keys >= seqlen_k; causal uses the bottom-right diagonal (query i sees key j when
// j <= i + seqlen_k - seqlen_q), rows that see no key give 0. Variable lengths: cu_seqlens.
// GQA/MQA: query head h reads key/value head h / (hq / hkv).
#include "common.cuh"

namespace infernav {
namespace {

struct FwdArgs {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  int64_t q_b, q_h, q_s, k_b, k_h, k_s, v_b, v_h, v_s, o_b, o_h, o_s;  // element strides
  const int* cu_q;  // nullptr: fixed lengths, batch strides used
  const int* cu_k;
  int seqlen_q, seqlen_k, hq, hkv;
  float scale_log2;  // softmax scale * log2(e)
};

// Copy ROWS rows of a [*, D] tile (rows row0.. of a row-major matrix with row stride `stride`) into
// swizzled shared memory; rows >= nrows are zero-filled.
template <typename T, int ROWS, int D, int NT>
INFERNAV_DEVICE void load_tile(uint32_t sbase, const T* base, int64_t stride, int row0, int nrows,
                               int tid) {
  constexpr int CPR = D / 8;
  static_assert((ROWS * CPR) % NT == 0, "tile rows must split evenly over the threads");
#pragma unroll
  for (int it = 0; it < ROWS * CPR / NT; ++it) {
    const int i = tid + it * NT;
    const int r = i / CPR, c = i % CPR;
    const bool ok = row0 + r < nrows;
    const T* src = base + (ok ? (int64_t)(row0 + r) * stride + c * 8 : 0);
    cp_async_16(sbase + swz<D * 2>(r, c), src, ok);
  }
}

template <typename T, int D, int BR, int BC, int NW, int MINB, bool CAUSAL>
__global__ void __launch_bounds__(NW * 32, MINB) fa2_fwd_kernel(const FwdArgs a) {
  constexpr int NT = NW * 32;
  constexpr int MT = BR / (NW * 16);  // m16 tiles per warp
  constexpr int NS = BC / 8;          // n8 tiles of S
  constexpr int NO = D / 8;           // n8 tiles of O
  constexpr int ROWB = D * 2;
  constexpr int CPR = D / 8;
  static_assert(MT >= 1 && BR % (NW * 16) == 0 && BC % 16 == 0 && D % 64 == 0, "tile shape");

  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* sQ = smem;
  const uint32_t sQa = smem_u32(smem);
  const uint32_t sKa = sQa + BR * ROWB;
  const uint32_t sVa = sKa + BC * ROWB;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int b = blockIdx.z, h = blockIdx.y;
  int q0 = 0, k0 = 0, sq = a.seqlen_q, sk = a.seqlen_k;
  if (a.cu_q != nullptr) {
    q0 = a.cu_q[b];
    sq = a.cu_q[b + 1] - q0;
    k0 = a.cu_k[b];
    sk = a.cu_k[b + 1] - k0;
  }
  // Causal: hand the longest rows (last tiles) to the first CTAs so the tail is short.
  const int tile = CAUSAL ? (int)(gridDim.x - 1 - blockIdx.x) : (int)blockIdx.x;
  const int m0 = tile * BR;
  if (m0 >= sq) return;
  const int hk = h / (a.hq / a.hkv);
  const bool varlen = a.cu_q != nullptr;
  const T* Q = static_cast<const T*>(a.q) + (varlen ? (int64_t)q0 * a.q_s : (int64_t)b * a.q_b) +
               (int64_t)h * a.q_h;
  const T* K = static_cast<const T*>(a.k) + (varlen ? (int64_t)k0 * a.k_s : (int64_t)b * a.k_b) +
               (int64_t)hk * a.k_h;
  const T* V = static_cast<const T*>(a.v) + (varlen ? (int64_t)k0 * a.v_s : (int64_t)b * a.v_b) +
               (int64_t)hk * a.v_h;
  T* O = static_cast<T*>(a.o) + (varlen ? (int64_t)q0 * a.o_s : (int64_t)b * a.o_b) +
         (int64_t)h * a.o_h;

  const int diag = sk - sq;  // bottom-right causal alignment
  int n_end = sk;
  if (CAUSAL) n_end = min(sk, m0 + BR + diag);
  const int num_kt = n_end > 0 ? (n_end + BC - 1) / BC : 0;

  const int wrow = warp * MT * 16;  // first row of this warp inside the tile
  const float sl2 = a.scale_log2;

  float o[MT][NO][4];
  float m_run[MT][2], l_run[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int n = 0; n < NO; ++n) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.f;
    m_run[mt][0] = m_run[mt][1] = -INFINITY;
    l_run[mt][0] = l_run[mt][1] = 0.f;
  }

  // (a tile whose rows see no key loads nothing: its epilogue writes zeros into sQ, and an
  // in-flight copy of Q issued by another warp's threads would race with that)
  if (num_kt > 0) {
    load_tile<T, BR, D, NT>(sQa, Q, a.q_s, m0, sq, tid);
    load_tile<T, BC, D, NT>(sKa, K, a.k_s, 0, sk, tid);
  }
  cp_async_commit();

  for (int kt = 0; kt < num_kt; ++kt) {
    const int n0 = kt * BC;
    cp_async_wait<0>();
    __syncthreads();  // K(kt) (and Q) landed; every warp is done with V(kt-1)
    load_tile<T, BC, D, NT>(sVa, V, a.v_s, n0, sk, tid);
    cp_async_commit();

    // ---- S = Q K^T (fp32 accumulators)
    float s[MT][NS][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int n = 0; n < NS; ++n) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.f;
#pragma unroll 2
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t qa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
        ldsm_x4(qa[mt][0], qa[mt][1], qa[mt][2], qa[mt][3],
                sQa + swz<ROWB>(wrow + mt * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
      for (int np = 0; np < NS / 2; ++np) {
        uint32_t b0, b1, b2, b3;
        ldsm_x4(b0, b1, b2, b3,
                sKa + swz<ROWB>(np * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          Mma<T>::run(s[mt][2 * np], qa[mt], b0, b1);
          Mma<T>::run(s[mt][2 * np + 1], qa[mt], b2, b3);
        }
      }
    }

    // ---- mask (only tiles that cross seqlen_k or the causal diagonal)
    const bool need_mask = (n0 + BC > sk) || (CAUSAL && n0 + BC - 1 > m0 + diag);
    if (need_mask) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int n = 0; n < NS; ++n)
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int row = m0 + wrow + mt * 16 + (lane >> 2) + 8 * (i >> 1);
            const int col = n0 + n * 8 + 2 * (lane & 3) + (i & 1);
            if (col >= sk || (CAUSAL && col > row + diag)) s[mt][n][i] = -INFINITY;
          }
    }

    // ---- online softmax (rows g and g+8 of each m16 tile; a row lives in 4 lanes)
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        float mx = m_run[mt][hh];
#pragma unroll
        for (int n = 0; n < NS; ++n) mx = fmaxf(mx, fmaxf(s[mt][n][2 * hh], s[mt][n][2 * hh + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mu = (mx == -INFINITY) ? 0.f : mx * sl2;
        const float alpha = fast_exp2(m_run[mt][hh] * sl2 - mu);
        m_run[mt][hh] = mx;
        float rs = 0.f;
#pragma unroll
        for (int n = 0; n < NS; ++n) {
          const float p0 = fast_exp2(fmaf(s[mt][n][2 * hh], sl2, -mu));
          const float p1 = fast_exp2(fmaf(s[mt][n][2 * hh + 1], sl2, -mu));
          s[mt][n][2 * hh] = p0;
          s[mt][n][2 * hh + 1] = p1;
          rs += p0 + p1;
        }
        l_run[mt][hh] = l_run[mt][hh] * alpha + rs;
#pragma unroll
        for (int n = 0; n < NO; ++n) {
          o[mt][n][2 * hh] *= alpha;
          o[mt][n][2 * hh + 1] *= alpha;
        }
      }

    cp_async_wait<0>();
    __syncthreads();  // V(kt) landed; every warp is done with K(kt)
    if (kt + 1 < num_kt) load_tile<T, BC, D, NT>(sKa, K, a.k_s, n0 + BC, sk, tid);
    cp_async_commit();

    // ---- O += P V (P packed to 16-bit in registers: C-fragment layout == A-fragment layout)
#pragma unroll
    for (int kk = 0; kk < BC / 16; ++kk) {
      uint32_t pa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        pa[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        pa[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        pa[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        pa[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b0, b1, b2, b3;
        ldsm_x4_t(b0, b1, b2, b3,
                  sVa + swz<ROWB>(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), dp * 2 + (lane >> 4)));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          Mma<T>::run(o[mt][2 * dp], pa[mt], b0, b1);
          Mma<T>::run(o[mt][2 * dp + 1], pa[mt], b2, b3);
        }
      }
    }
  }

  // ---- epilogue: O / l, staged through this warp's own Q rows for 16-byte coalesced stores
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      float l = l_run[mt][hh];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int r = wrow + mt * 16 + (lane >> 2) + 8 * hh;
#pragma unroll
      for (int n = 0; n < NO; ++n)
        *reinterpret_cast<uint32_t*>(sQ + swz<ROWB>(r, n) + 4 * (lane & 3)) =
            pack2<T>(o[mt][n][2 * hh] * inv, o[mt][n][2 * hh + 1] * inv);
    }
  __syncwarp();
#pragma unroll
  for (int i = lane; i < MT * 16 * CPR; i += 32) {
    const int r = wrow + i / CPR, c = i % CPR;
    if (m0 + r < sq)
      *reinterpret_cast<uint4*>(O + (int64_t)(m0 + r) * a.o_s + c * 8) =
          *reinterpret_cast<const uint4*>(sQ + swz<ROWB>(r, c));
  }
}

template <typename T, int D, int BR, int BC, int NW, int MINB>
int launch(const FwdArgs& a, int batch, int causal, cudaStream_t stream) {
  const dim3 grid((a.seqlen_q + BR - 1) / BR, a.hq, batch);
  const size_t smem = (size_t)(BR + 2 * BC) * D * sizeof(T);
  auto kern = causal ? fa2_fwd_kernel<T, D, BR, BC, NW, MINB, true>
                     : fa2_fwd_kernel<T, D, BR, BC, NW, MINB, false>;
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (e != cudaSuccess) return (int)e;
  kern<<<grid, NW * 32, smem, stream>>>(a);
  INFERNAV_RETURN_LAUNCH_STATUS();
}

// Tile configurations (BR query rows, BC keys, NW warps, min CTAs per SM for the register cap).
// cfg 0 is the default; the others exist so the benchmark can compare them.
template <typename T>
int dispatch(const FwdArgs& a, int d, int cfg, int batch, int causal, cudaStream_t s) {
  if (d == 64) {
    if (cfg == 1) return launch<T, 64, 128, 128, 4, 2>(a, batch, causal, s);
    if (cfg == 2) return launch<T, 64, 128, 64, 8, 2>(a, batch, causal, s);
    return launch<T, 64, 128, 64, 4, 2>(a, batch, causal, s);
  }
  if (d == 128) {
    if (cfg == 1) return launch<T, 128, 128, 32, 4, 2>(a, batch, causal, s);
    if (cfg == 2) return launch<T, 128, 128, 64, 8, 1>(a, batch, causal, s);
    return launch<T, 128, 128, 64, 4, 2>(a, batch, causal, s);
  }
  if (d == 256) {
    if (cfg == 1) return launch<T, 256, 64, 64, 4, 2>(a, batch, causal, s);
    return launch<T, 256, 128, 64, 8, 1>(a, batch, causal, s);
  }
  return (int)cudaErrorInvalidValue;
}

}  // namespace
}  // namespace infernav

// dtype: 0 fp16, 1 bf16. strides: 12 element strides (q b,h,s; k b,h,s; v b,h,s; o b,h,s).
// cu_q/cu_k: device int32 arrays of batch+1 offsets, or null for fixed lengths.
extern "C" int infernav_fa2_fwd(int dtype, int d, int cfg, const void* q, const void* k, const void* v, void* o,
                                const int64_t* strides, const int* cu_q, const int* cu_k, int batch,
                                int hq, int hkv, int seqlen_q, int seqlen_k, float scale, int causal,
                                void* stream) {
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
  return dtype == 0 ? dispatch<__half>(a, d, cfg, batch, causal, s)
                    : dispatch<__nv_bfloat16>(a, d, cfg, batch, causal, s);
}
