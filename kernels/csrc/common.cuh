// Small device helpers shared by the attention kernels: PTX wrappers for cp.async, ldmatrix and
// mma.sync, fp16/bf16 packing, and the XOR swizzle used for every shared-memory tile.
// No torch headers anywhere under csrc/: nvcc compiles these files on machines without torch or GPU.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#define INFERNAV_DEVICE __device__ __forceinline__

namespace infernav {

// ---------------------------------------------------------------- addresses and async copies
INFERNAV_DEVICE uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy that bypasses L1; when `pred` is false nothing is read and the
// 16 destination bytes are zero-filled (src-size 0), so out-of-range rows become zeros, never junk.
INFERNAV_DEVICE void cp_async_16(uint32_t dst, const void* src, bool pred) {
  const int n = pred ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
INFERNAV_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
INFERNAV_DEVICE void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// ---------------------------------------------------------------- ldmatrix / mma.sync
INFERNAV_DEVICE void ldsm_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}
INFERNAV_DEVICE void ldsm_x4_t(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}

template <typename T>
struct Mma;
template <>
struct Mma<__half> {
  // D = A(16x16, row) * B(16x8, col) + D, fp16 operands, fp32 accumulators
  static INFERNAV_DEVICE void run(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};
template <>
struct Mma<__nv_bfloat16> {
  static INFERNAV_DEVICE void run(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

// ---------------------------------------------------------------- conversions
template <typename T>
INFERNAV_DEVICE uint32_t pack2(float lo, float hi);
template <>
INFERNAV_DEVICE uint32_t pack2<__half>(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <>
INFERNAV_DEVICE uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <typename T>
INFERNAV_DEVICE float2 unpack2(uint32_t v);
template <>
INFERNAV_DEVICE float2 unpack2<__half>(uint32_t v) {
  return __half22float2(*reinterpret_cast<__half2*>(&v));
}
template <>
INFERNAV_DEVICE float2 unpack2<__nv_bfloat16>(uint32_t v) {
  return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&v));
}
template <typename T>
INFERNAV_DEVICE T from_float(float x);
template <>
INFERNAV_DEVICE __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
INFERNAV_DEVICE __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

INFERNAV_DEVICE float to_float(__half x) { return __half2float(x); }
INFERNAV_DEVICE float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

// 2^x on the special-function unit (ex2.approx; exact enough for softmax, -inf -> +0).
INFERNAV_DEVICE float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// ---------------------------------------------------------------- swizzled tiles
// A tile row of ROW_BYTES bytes is split into 16-byte chunks; chunk c of row r is stored at
// chunk position c ^ (r & 7). ldmatrix reads 8 rows x 16 bytes at one logical chunk: the XOR
// spreads those 8 reads over 8 different 16-byte bank groups, so no bank conflicts, and every
// 16-byte chunk stays whole (cp.async and ldmatrix both move whole chunks).
template <int ROW_BYTES>
INFERNAV_DEVICE uint32_t swz(int row, int chunk) {
  static_assert(ROW_BYTES % 128 == 0, "rows must hold at least 8 chunks");
  return row * ROW_BYTES + ((chunk ^ (row & 7)) << 4);
}

constexpr float kLog2e = 1.4426950408889634f;

}  // namespace infernav

// Launch-error helper for the extern "C" entry points: returns the cudaError_t as int.
#define INFERNAV_RETURN_LAUNCH_STATUS() return static_cast<int>(cudaGetLastError())
