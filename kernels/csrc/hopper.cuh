// Hopper (sm_90) PTX wrappers for the warp-specialized forward: mbarriers, bulk tensor copies (TMA),
// named barriers and register reallocation. Written from the PTX ISA manual. Bodies compile to
// nothing outside sm_90a builds (the callers are sm_90a-only kernels whose bodies are empty there).
#pragma once
#include <stdint.h>

#include "wgmma.cuh"  // INFERNAV_WGMMA

namespace infernav {
namespace hop {

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
#ifdef INFERNAV_WGMMA
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}
// make the initialised barriers visible to the async proxy (TMA completes transactions on them)
__device__ __forceinline__ void fence_barrier_init() {
#ifdef INFERNAV_WGMMA
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
#ifdef INFERNAV_WGMMA
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
#endif
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
#ifdef INFERNAV_WGMMA
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}
// Wait until the phase with this parity has completed (a fresh barrier counts parity 1 as done).
// A wait that spins for seconds is a deadlock (a missing arrival): trap, so the launch fails with an
// error instead of hanging the GPU.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#ifdef INFERNAV_WGMMA
  // the whole loop in PTX: a C++ loop around the try_wait changed the consumers' register allocation
  // (spills of P in the main loop, seen in SASS)
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      ".reg .u32 n;\n"
      "mov.u32 n, 0;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@p bra DONE;\n"
      "add.u32 n, n, 1;\n"
      "setp.lt.u32 p, n, 67108864;\n"
      "@p bra WAIT;\n"
      "trap;\n"
      "DONE:\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
#endif
}

// 4-D tiled bulk tensor copy global -> shared, completing `bytes` on the mbarrier
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2,
                                            int c3) {
#ifdef INFERNAV_WGMMA
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], "
      "[%2];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(tmap)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
#endif
}
__device__ __forceinline__ void prefetch_tmap(const void* tmap) {
#ifdef INFERNAV_WGMMA
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)) : "memory");
#endif
}

// named barriers (0 is __syncthreads): `n` threads take part, a multiple of 32
__device__ __forceinline__ void bar_sync(int id, int n) {
#ifdef INFERNAV_WGMMA
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory");
#endif
}
__device__ __forceinline__ void bar_arrive(int id, int n) {
#ifdef INFERNAV_WGMMA
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory");
#endif
}

// register reallocation between warpgroups (needs a register cap at entry: __launch_bounds__(n, 1))
template <int N>
__device__ __forceinline__ void reg_dealloc() {
#ifdef INFERNAV_WGMMA
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}
template <int N>
__device__ __forceinline__ void reg_alloc() {
#ifdef INFERNAV_WGMMA
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}

}  // namespace hop
}  // namespace infernav
