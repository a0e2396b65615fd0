// PagedAttention decode (one new query token per sequence) over a paged KV cache, in the manner of
// vLLM's paged_attention_v1 / v2 (written from the idea, not the code).
//
// Cache layout ("HND" pages): k_cache, v_cache [num_blocks, hkv, block_size, D], 16-bit; a page of
// one KV head is one contiguous block_size x D slab, so a warp streams whole 256-byte rows.
// block_tables [num_seqs, max_blocks_per_seq] int32 maps logical page -> physical page;
// seq_lens [num_seqs] int32. q, out [num_seqs, hq, D]. GQA: the G = hq / hkv query heads of one KV
// head are handled by the same CTA, so every K/V byte is read once per KV head, not once per
// query head (the whole point for grouped-query models: the kernel is memory-bound).
//
// Split-K (v2): the context is cut into partitions of PART tokens; CTA (partition, kv head, seq)
// computes, for its G heads, the partition's max logit m, sum of exponentials l and normalised
// partial output, written to fp32 scratch; a second kernel combines the partitions
// (out = sum_p l_p 2^(m_p - M) o_p / sum_p l_p 2^(m_p - M)). With one partition (v1) the first
// kernel writes the output directly.
//
// Inside a CTA (128 threads): phase 1 computes logits with D/8 lanes per token, each lane holding
// 8 elements (one 16-byte load) and the G query slices in registers, reduced by shuffles; several
// tokens per lane are loaded before use (memory-level parallelism). Phase 2: max and exponentials
// over the partition in shared memory. Phase 3: P V with D/8 threads per token row (16-byte loads,
// coalesced) and 128/(D/8) rows in flight, reduced across rows through shared memory.
#include "common.cuh"

namespace infernav {
namespace {

constexpr int kPart = 512;  // tokens per partition
constexpr int kThreads = 128;

struct PagedArgs {
  void* out;
  const void* q;
  const void* k_cache;
  const void* v_cache;
  const int* block_tables;
  const int* seq_lens;
  float* tmp_out;  // [num_seqs, hq, max_parts, D]
  float* tmp_m;    // [num_seqs, hq, max_parts], log2 domain
  float* tmp_l;
  int hq, hkv, log2_bs, max_blocks, max_parts;
  float scale_log2;
};

template <typename T>
INFERNAV_DEVICE void cvt8(const uint4& v, float* f) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 t = unpack2<T>(w[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}

template <typename T, int D, int G>
__global__ void __launch_bounds__(kThreads) paged_decode_kernel(const PagedArgs a) {
  constexpr int TG = D / 8;           // lanes per token (phase 1)
  constexpr int TPW = 32 / TG;        // tokens per warp per load
  constexpr int NWARP = kThreads / 32;
  constexpr int U1 = 4;               // loads in flight per lane, phase 1
  constexpr int DC = D / 8;           // threads per token row (phase 3)
  constexpr int TR = kThreads / DC;   // token rows in flight (phase 3)
  constexpr int U3 = 4;               // loads in flight per thread, phase 3
  constexpr int PBUF = (kPart > TR * D) ? kPart : TR * D;

  extern __shared__ __align__(16) float sm[];
  float* s_q = sm;              // [G][D], pre-scaled by scale*log2(e)
  float* s_p = s_q + G * D;     // [G][PBUF]: logits -> probabilities; later the phase-3 reduction
  __shared__ float s_red[NWARP][G];
  __shared__ float s_m[G], s_l[G];

  const int part = blockIdx.x, kvh = blockIdx.y, seq = blockIdx.z;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int L = a.seq_lens[seq];
  const int t0 = part * kPart;
  const bool split = a.max_parts > 1;
  if (t0 >= L) {
    if (part == 0 && !split) {  // empty sequence: defined as zeros
      T* out = static_cast<T*>(a.out) + ((int64_t)seq * a.hq + kvh * G) * D;
      for (int i = tid; i < G * D; i += kThreads) out[i] = from_float<T>(0.f);
    }
    return;
  }
  const int nt = min(L - t0, kPart);
  const int bs = 1 << a.log2_bs, bmask = bs - 1;
  const int* bt = a.block_tables + (int64_t)seq * a.max_blocks;
  const int64_t page_stride = (int64_t)a.hkv * bs * D;  // elements per physical page
  const T* Kh = static_cast<const T*>(a.k_cache) + (int64_t)kvh * bs * D;
  const T* Vh = static_cast<const T*>(a.v_cache) + (int64_t)kvh * bs * D;

  {
    const T* qp = static_cast<const T*>(a.q) + ((int64_t)seq * a.hq + kvh * G) * D;
    for (int i = tid; i < G * D; i += kThreads) s_q[i] = to_float(qp[i]) * a.scale_log2;
  }
  __syncthreads();

  // ---- phase 1: logits
  const int lig = lane % TG, tw = lane / TG;
  float qr[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int j = 0; j < 8; ++j) qr[g][j] = s_q[g * D + lig * 8 + j];

  for (int base = warp * TPW; base < nt; base += NWARP * TPW * U1) {
    uint4 kv[U1];
#pragma unroll
    for (int u = 0; u < U1; ++u) {
      const int t = base + u * NWARP * TPW + tw;
      kv[u] = make_uint4(0u, 0u, 0u, 0u);
      if (t < nt) {
        const int tok = t0 + t;
        const int blk = __ldg(bt + (tok >> a.log2_bs));
        kv[u] = __ldg(reinterpret_cast<const uint4*>(Kh + blk * page_stride + (tok & bmask) * D + lig * 8));
      }
    }
#pragma unroll
    for (int u = 0; u < U1; ++u) {
      const int t = base + u * NWARP * TPW + tw;
      float kf[8];
      cvt8<T>(kv[u], kf);
      float acc[G];
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float x = 0.f;
#pragma unroll
        for (int j = 0; j < 8; ++j) x = fmaf(qr[g][j], kf[j], x);
        acc[g] = x;
      }
#pragma unroll
      for (int off = TG / 2; off > 0; off >>= 1)
#pragma unroll
        for (int g = 0; g < G; ++g) acc[g] += __shfl_xor_sync(0xffffffffu, acc[g], off);
      if (lig == 0 && t < nt) {
#pragma unroll
        for (int g = 0; g < G; ++g) s_p[g * PBUF + t] = acc[g];
      }
    }
  }
  __syncthreads();

  // ---- phase 2: max and exponentials over the partition (log2 domain)
  float mx[G];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float m = -INFINITY;
    for (int t = tid; t < nt; t += kThreads) m = fmaxf(m, s_p[g * PBUF + t]);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if (lane == 0) s_red[warp][g] = m;
  }
  __syncthreads();
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float m = s_red[0][g];
#pragma unroll
    for (int w = 1; w < NWARP; ++w) m = fmaxf(m, s_red[w][g]);
    mx[g] = m;
  }
  __syncthreads();
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float sum = 0.f;
    for (int t = tid; t < nt; t += kThreads) {
      const float p = fast_exp2(s_p[g * PBUF + t] - mx[g]);
      s_p[g * PBUF + t] = p;
      sum += p;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) s_red[warp][g] = sum;
  }
  __syncthreads();
  if (tid < G) {
    float sum = 0.f;
#pragma unroll
    for (int w = 0; w < NWARP; ++w) sum += s_red[w][tid];
    s_l[tid] = sum;
    s_m[tid] = mx[tid];
  }

  // ---- phase 3: partial output = sum_t p_t v_t
  const int dc = tid % DC, tr = tid / DC;
  float acc[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[g][j] = 0.f;
  for (int base = tr; base < nt; base += TR * U3) {
    uint4 vv[U3];
#pragma unroll
    for (int u = 0; u < U3; ++u) {
      const int t = base + u * TR;
      vv[u] = make_uint4(0u, 0u, 0u, 0u);
      if (t < nt) {
        const int tok = t0 + t;
        const int blk = __ldg(bt + (tok >> a.log2_bs));
        vv[u] = __ldg(reinterpret_cast<const uint4*>(Vh + blk * page_stride + (tok & bmask) * D + dc * 8));
      }
    }
#pragma unroll
    for (int u = 0; u < U3; ++u) {
      const int t = base + u * TR;
      if (t < nt) {
        float vf[8];
        cvt8<T>(vv[u], vf);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float p = s_p[g * PBUF + t];
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[g][j] = fmaf(p, vf[j], acc[g][j]);
        }
      }
    }
  }
  __syncthreads();  // everyone is done reading s_p: reuse it for the cross-row reduction
  float* s_acc = s_p;  // [G][TR][D]
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int j = 0; j < 8; ++j) s_acc[(g * TR + tr) * D + dc * 8 + j] = acc[g][j];
  __syncthreads();
  for (int i = tid; i < G * D; i += kThreads) {
    const int g = i / D, d = i % D;
    float x = 0.f;
#pragma unroll
    for (int r = 0; r < TR; ++r) x += s_acc[(g * TR + r) * D + d];
    const float l = s_l[g];
    const int h = kvh * G + g;
    if (!split) {
      static_cast<T*>(a.out)[((int64_t)seq * a.hq + h) * D + d] = from_float<T>(x / l);
    } else {
      const int64_t row = ((int64_t)seq * a.hq + h) * a.max_parts + part;
      a.tmp_out[row * D + d] = x / l;
      if (d == 0) {
        a.tmp_m[row] = s_m[g];
        a.tmp_l[row] = l;
      }
    }
  }
}

// Combine the partitions of one (sequence, query head).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) paged_reduce_kernel(const PagedArgs a) {
  extern __shared__ float w[];  // [max_parts]
  __shared__ float s_red[kThreads / 32];
  __shared__ float s_bc;
  const int h = blockIdx.x, seq = blockIdx.y, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int L = a.seq_lens[seq];
  const int np = (L + kPart - 1) / kPart;
  T* out = static_cast<T*>(a.out) + ((int64_t)seq * a.hq + h) * D;
  if (np <= 0) {
    for (int d = tid; d < D; d += kThreads) out[d] = from_float<T>(0.f);
    return;
  }
  const int64_t row0 = ((int64_t)seq * a.hq + h) * a.max_parts;
  float m = -INFINITY;
  for (int p = tid; p < np; p += kThreads) m = fmaxf(m, a.tmp_m[row0 + p]);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  if (lane == 0) s_red[warp] = m;
  __syncthreads();
  if (tid == 0) {
    float x = s_red[0];
    for (int i = 1; i < kThreads / 32; ++i) x = fmaxf(x, s_red[i]);
    s_bc = x;
  }
  __syncthreads();
  const float M = s_bc;
  float sum = 0.f;
  for (int p = tid; p < np; p += kThreads) {
    const float x = a.tmp_l[row0 + p] * fast_exp2(a.tmp_m[row0 + p] - M);
    w[p] = x;
    sum += x;
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  __syncthreads();
  if (lane == 0) s_red[warp] = sum;
  __syncthreads();
  if (tid == 0) {
    float x = 0.f;
    for (int i = 0; i < kThreads / 32; ++i) x += s_red[i];
    s_bc = x;
  }
  __syncthreads();
  const float inv = 1.f / s_bc;
  for (int d = tid; d < D; d += kThreads) {
    float x = 0.f;
    for (int p = 0; p < np; ++p) x = fmaf(w[p], a.tmp_out[(row0 + p) * D + d], x);
    out[d] = from_float<T>(x * inv);
  }
}

template <typename T, int D, int G>
int launch(const PagedArgs& a, int num_seqs, cudaStream_t s) {
  constexpr int DC = D / 8, TR = kThreads / DC;
  constexpr int PBUF = (kPart > TR * D) ? kPart : TR * D;
  const size_t smem = (size_t)(G * D + G * PBUF) * sizeof(float);
  auto kern = paged_decode_kernel<T, D, G>;
  if (smem > 48 * 1024) {
    cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
  }
  kern<<<dim3(a.max_parts, a.hkv, num_seqs), kThreads, smem, s>>>(a);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || a.max_parts == 1) return (int)e;
  paged_reduce_kernel<T, D><<<dim3(a.hq, num_seqs), kThreads, a.max_parts * sizeof(float), s>>>(a);
  INFERNAV_RETURN_LAUNCH_STATUS();
}

template <typename T, int D>
int by_group(const PagedArgs& a, int g, int num_seqs, cudaStream_t s) {
  switch (g) {
    case 1: return launch<T, D, 1>(a, num_seqs, s);
    case 2: return launch<T, D, 2>(a, num_seqs, s);
    case 4: return launch<T, D, 4>(a, num_seqs, s);
    case 8: return launch<T, D, 8>(a, num_seqs, s);
    default: return (int)cudaErrorInvalidValue;
  }
}

template <typename T>
int by_dim(const PagedArgs& a, int d, int g, int num_seqs, cudaStream_t s) {
  if (d == 64) return by_group<T, 64>(a, g, num_seqs, s);
  if (d == 128) return by_group<T, 128>(a, g, num_seqs, s);
  return (int)cudaErrorInvalidValue;
}

}  // namespace
}  // namespace infernav

extern "C" int infernav_paged_partition_size() { return infernav::kPart; }

// max_parts: partitions per sequence the scratch holds (>= ceil(max seq_len / partition size));
// 1 selects the single-pass (v1) path and the scratch pointers may be null.
extern "C" int infernav_paged_decode(int dtype, int d, void* out, const void* q, const void* k_cache,
                                     const void* v_cache, const int* block_tables, const int* seq_lens,
                                     float* tmp_out, float* tmp_m, float* tmp_l, int num_seqs, int hq,
                                     int hkv, int block_size, int max_blocks, int max_parts, float scale,
                                     void* stream) {
  using namespace infernav;
  if (hkv <= 0 || hq % hkv != 0 || block_size <= 0 || (block_size & (block_size - 1)) != 0 ||
      max_parts <= 0)
    return (int)cudaErrorInvalidValue;
  if (num_seqs <= 0) return 0;
  PagedArgs a;
  a.out = out; a.q = q; a.k_cache = k_cache; a.v_cache = v_cache;
  a.block_tables = block_tables; a.seq_lens = seq_lens;
  a.tmp_out = tmp_out; a.tmp_m = tmp_m; a.tmp_l = tmp_l;
  a.hq = hq; a.hkv = hkv; a.max_blocks = max_blocks; a.max_parts = max_parts;
  a.log2_bs = 0;
  while ((1 << a.log2_bs) < block_size) ++a.log2_bs;
  a.scale_log2 = scale * kLog2e;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int g = hq / hkv;
  return dtype == 0 ? by_dim<__half>(a, d, g, num_seqs, s) : by_dim<__nv_bfloat16>(a, d, g, num_seqs, s);
}
