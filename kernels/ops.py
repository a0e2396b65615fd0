"""PyTorch-facing wrappers of the CUDA kernels (thin: checks, output allocation, ctypes call).

Every function takes an optional ``out=`` tensor so tests can poison the output before a run.
Layouts:
  * flash_attn: q [B, Hq, N, D], k/v [B, Hkv, M, D] ("bhsd", as scaled_dot_product_attention) or,
    with layout="bshd", [B, N, H, D]; any strides with the last dim contiguous (16-byte aligned).
  * flash_attn_varlen: q [total_q, Hq, D], k/v [total_k, Hkv, D], cu_seqlens int32 [B + 1].
  * paged_decode: q [S, Hq, D]; k_cache/v_cache [num_blocks, Hkv, block_size, D] (q's dtype, or
    float8_e4m3fn with float32 per-KV-head scales); block_tables int32 [S, max_blocks]; seq_lens int32 [S].
  * attention_fp32: q [B, H, N, d], k/v [B, H, M, d], float32, contiguous; non-causal.
"""
from __future__ import annotations

import ctypes
import math

import torch

from . import build

_DTYPES = {torch.float16: 0, torch.bfloat16: 1}
FP32_VARIANTS = ("naive3", "minimal", "v1", "v2", "v3", "fast")


def _lib():
    return build.load()


def _stream() -> ctypes.c_void_p:
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def _check(code: int, what: str) -> None:
    if code != 0:
        raise RuntimeError(f"{what}: CUDA error {code}")


def _ptr(t: torch.Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(0 if t is None else t.data_ptr())


def _check_16b(t: torch.Tensor, name: str) -> None:
    if t.stride(-1) != 1:
        raise ValueError(f"{name}: last dimension must be contiguous")
    if t.data_ptr() % 16 or any(s % 8 for s in t.stride()[:-1]):
        raise ValueError(f"{name}: needs 16-byte aligned rows (pointer and strides multiples of 8 elements)")


BACKENDS = ("auto", "fa3ws", "fa3", "fa2")
# fa3ws's default config per head dim, from the H200 runs (docs/dev/kernels.md): three consumer
# warpgroups at D = 64 (cfg 4), two warpgroups with ping-pong and conditional rescaling otherwise (cfg 0);
# at D = 128 with >= 4096 keys the 176-key tiles (cfg 5, fa3ws_default_cfg): the fastest in steady state
# (sustained clock) on all four [4,16,8192,8192,128] rows in two calls (bench/results/attention_h200_fwd_repeat.json,
# attention_h200_fwd_steady.json); cfg 0 had looked fastest in runs 5-6 only because the bench timed it first,
# after an idle gap, at the burst clock.
FA3WS_DEFAULT_CFG = {64: 4, 128: 0, 256: 0}
FA3WS_LONG_KEYS = 4096  # D = 128: cfg 5 from this many keys on


def fa3ws_default_cfg(d: int, seqlen_k: int) -> int:
    """The config `cfg=None` runs for head dim d and seqlen_k keys (the longest sequence for varlen)."""
    if d == 128 and seqlen_k >= FA3WS_LONG_KEYS:
        return 5
    return FA3WS_DEFAULT_CFG.get(d, 0)


def _pick_backend(backend: str, d: int, device: torch.device) -> str:
    """'fa3ws' (TMA + warp specialization, sm_90, D 64/128/256), 'fa3' (wgmma, sm_90, D 64/128),
    'fa2' (mma.sync, any sm_80+), or 'auto': fa3ws on sm_90, else fa2."""
    hopper = torch.cuda.get_device_capability(device) == (9, 0)
    if backend == "auto":
        return "fa3ws" if hopper else "fa2"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}")
    if backend == "fa3ws" and not hopper:
        raise ValueError("backend 'fa3ws' needs an sm_90 GPU")
    if backend == "fa3" and (not hopper or d not in (64, 128)):
        raise ValueError("backend 'fa3' needs an sm_90 GPU and D in {64, 128}")
    return backend


def _launch_fwd(backend, dtype, D, cfg, q, k, v, out, strides, cu_q, cu_k, B, Hq, Hkv, N, M, total_q, total_k,
                scale, causal, what):
    lib = _lib()
    if cfg is None:
        cfg = fa3ws_default_cfg(D, M) if backend == "fa3ws" else 0
    if backend == "fa3ws":
        code = lib.infernav_fa3ws_fwd(dtype, D, cfg, _ptr(q), _ptr(k), _ptr(v), _ptr(out), strides, _ptr(cu_q),
                                      _ptr(cu_k), B, Hq, Hkv, N, M, total_q, total_k, scale, int(causal), _stream())
    else:
        fn = lib.infernav_fa3_fwd if backend == "fa3" else lib.infernav_fa2_fwd
        code = fn(dtype, D, cfg, _ptr(q), _ptr(k), _ptr(v), _ptr(out), strides, _ptr(cu_q), _ptr(cu_k), B, Hq, Hkv,
                  N, M, scale, int(causal), _stream())
    _check(code, what)


def flash_attn(q, k, v, causal: bool = False, scale: float | None = None, layout: str = "bhsd",
               out: torch.Tensor | None = None, cfg: int | None = None, backend: str = "auto") -> torch.Tensor:
    """Forward attention (fp16/bf16, D in {64, 128, 256}); causal is bottom-right aligned.
    backend 'fa3ws': TMA + warp-specialized wgmma kernel (sm_90; cfg None picks FA3WS_DEFAULT_CFG[D], the
    others are listed in fa3ws.cu's by_cfg); 'fa3': wgmma kernel (sm_90, D 64/128); 'fa2': mma.sync kernel, tile
    config `cfg` (None: 0); 'auto': fa3ws on sm_90, else fa2."""
    if q.dtype not in _DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError("flash_attn: q, k, v must all be float16 or all bfloat16")
    if layout not in ("bhsd", "bshd"):
        raise ValueError("layout must be 'bhsd' or 'bshd'")
    if layout == "bhsd":
        B, Hq, N, D = q.shape
        Hkv, M = k.shape[1], k.shape[2]
        bi, hi, si = 0, 1, 2
    else:
        B, N, Hq, D = q.shape
        M, Hkv = k.shape[1], k.shape[2]
        bi, hi, si = 0, 2, 1
    if D not in (64, 128, 256) or k.shape[-1] != D or v.shape != k.shape or Hq % Hkv:
        raise ValueError(f"flash_attn: unsupported shapes q{tuple(q.shape)} k{tuple(k.shape)} v{tuple(v.shape)}")
    if out is None:
        out = torch.empty_like(q, memory_format=torch.contiguous_format)
    for t, n in ((q, "q"), (k, "k"), (v, "v"), (out, "out")):
        _check_16b(t, n)
    strides = (ctypes.c_int64 * 12)(*[t.stride(i) for t in (q, k, v, out) for i in (bi, hi, si)])
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    be = _pick_backend(backend, D, q.device)
    _launch_fwd(be, _DTYPES[q.dtype], D, cfg, q, k, v, out, strides, None, None, B, Hq, Hkv, N, M, 0, 0, scale,
                causal, f"flash_attn[{be}]")
    return out


def flash_attn_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q: int, max_seqlen_k: int,
                      causal: bool = False, scale: float | None = None, out: torch.Tensor | None = None,
                      cfg: int | None = None, backend: str = "auto") -> torch.Tensor:
    """Packed variable-length batch: sequence b is rows cu_seqlens[b]:cu_seqlens[b+1]."""
    if q.dtype not in _DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError("flash_attn_varlen: q, k, v must all be float16 or all bfloat16")
    _, Hq, D = q.shape
    Hkv = k.shape[1]
    if D not in (64, 128, 256) or Hq % Hkv or v.shape != k.shape:
        raise ValueError("flash_attn_varlen: unsupported shapes")
    for c in (cu_seqlens_q, cu_seqlens_k):
        if c.dtype != torch.int32 or not c.is_contiguous() or not c.is_cuda:
            raise TypeError("cu_seqlens must be contiguous int32 CUDA tensors")
    B = cu_seqlens_q.numel() - 1
    if out is None:
        out = torch.empty_like(q, memory_format=torch.contiguous_format)
    for t, n in ((q, "q"), (k, "k"), (v, "v"), (out, "out")):
        _check_16b(t, n)
    strides = (ctypes.c_int64 * 12)(*[x for t in (q, k, v, out) for x in (0, t.stride(1), t.stride(0))])
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    be = _pick_backend(backend, D, q.device)
    _launch_fwd(be, _DTYPES[q.dtype], D, cfg, q, k, v, out, strides, cu_seqlens_q, cu_seqlens_k, B, Hq, Hkv,
                int(max_seqlen_q), int(max_seqlen_k), q.shape[0], k.shape[0], scale, causal,
                f"flash_attn_varlen[{be}]")
    return out


def paged_partition_size() -> int:
    return int(_lib().infernav_paged_partition_size())


_TC_SPLITS: dict = {}
# paged_decode_tc.cu config per cache dtype, from the H200 runs (docs/dev/kernels.md): cfg 15 picks from
# the plan between the CTA kernel (3 stages of 8 KB per warp, cfg 2, for 16-bit caches; 2 stages, cfg 0,
# for fp8) and the persistent kernel (cfg 10: many short sequences at 16 bits; fp8 where the CTA grid
# would end on a partial wave); see launch_auto in paged_decode_tc.cu
TC_DEFAULT_CFG = {"16bit": 15, "fp8": 15}
_COUNTERS: dict = {}


def _counters(device: torch.device, n: int) -> torch.Tensor:
    """Zeroed int32 tickets for the split-KV combine (every launch leaves them zero again)."""
    buf = _COUNTERS.get(device)
    if buf is None or buf.numel() < n:
        buf = torch.zeros(max(n, 1024), dtype=torch.int32, device=device)
        _COUNTERS[device] = buf
    return buf


def paged_decode(q, k_cache, v_cache, block_tables, seq_lens, max_seq_len: int | None = None,
                 scale: float | None = None, split: bool | None = None,
                 out: torch.Tensor | None = None, impl: str = "auto", k_scale: torch.Tensor | None = None,
                 v_scale: torch.Tensor | None = None, splits: int = 0, cfg: int | None = None) -> torch.Tensor:
    """One decode step over a paged KV cache; max_seq_len defaults to max(seq_lens) (a host sync).

    impl 'tc' (paged_decode_tc.cu: tensor cores, split-KV sized to the machine, fp16/bf16 or fp8 e4m3
    caches with per-KV-head float32 scales k_scale/v_scale; `splits` > 0 forces the split count, `cfg`
    the ring (None: TC_DEFAULT_CFG; the others are listed in paged_decode_tc.cu's by_dim)), 'v2' (paged_decode.cu; split=None picks split-K when any sequence is longer than
    one partition), or 'auto': 'tc' where it applies (Hq/Hkv <= 8), else 'v2'."""
    S, Hq, D = q.shape
    Hkv, fp8 = _check_paged_inputs(q, k_cache, v_cache, block_tables, seq_lens)
    G = Hq // Hkv
    if impl == "auto":
        impl = "tc" if G <= 8 and (D == 128 or (D == 64 and not fp8)) else "v2"
    if max_seq_len is None:
        max_seq_len = int(seq_lens.max().item()) if S else 0
    if out is None:
        out = torch.empty_like(q)
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    if impl == "tc":
        _paged_decode_tc(q, k_cache, v_cache, block_tables, seq_lens, int(max_seq_len), scale, out,
                         k_scale, v_scale, splits, cfg)
        return out
    if impl != "v2":
        raise ValueError("impl must be 'auto', 'tc' or 'v2'")
    _paged_decode_v2(q, k_cache, v_cache, block_tables, seq_lens, max_seq_len, scale, split, out)
    return out


def _check_paged_inputs(q, k_cache, v_cache, block_tables, seq_lens) -> tuple[int, bool]:
    """paged_decode's checks common to both kernels: (Hkv, whether the caches are fp8)."""
    S, Hq, D = q.shape
    _, Hkv, bs, D2 = k_cache.shape
    fp8 = k_cache.dtype == torch.float8_e4m3fn
    if q.dtype not in _DTYPES:
        raise TypeError("paged_decode: q must be float16 or bfloat16")
    if fp8:
        if v_cache.dtype != k_cache.dtype:
            raise TypeError("paged_decode: k_cache and v_cache must share a dtype")
    elif k_cache.dtype != q.dtype or v_cache.dtype != q.dtype:
        raise TypeError("paged_decode: q and caches must share a 16-bit dtype (or the caches be float8_e4m3fn)")
    if D2 != D or v_cache.shape != k_cache.shape or Hq % Hkv:
        raise ValueError("paged_decode: shapes")
    if bs & (bs - 1):
        raise ValueError("paged_decode: block_size must be a power of two")
    for t in (q, k_cache, v_cache, block_tables, seq_lens):
        if not t.is_contiguous():
            raise ValueError("paged_decode: all inputs must be contiguous")
    if block_tables.dtype != torch.int32 or seq_lens.dtype != torch.int32:
        raise TypeError("block_tables and seq_lens must be int32")
    return Hkv, fp8


def _paged_decode_tc(q, k_cache, v_cache, block_tables, seq_lens, max_seq_len: int, scale: float, out,
                     k_scale, v_scale, splits: int, cfg: int | None) -> None:
    """paged_decode with impl='tc' (paged_decode_tc.cu), inputs already checked."""
    S, Hq, D = q.shape
    _, Hkv, bs, _ = k_cache.shape
    fp8 = k_cache.dtype == torch.float8_e4m3fn
    if Hq // Hkv > 8 or D not in (64, 128) or (fp8 and D != 128):
        raise ValueError("paged_decode[tc]: Hq/Hkv <= 8, D in {64, 128} (fp8: D = 128)")
    if fp8 and torch.cuda.get_device_capability(q.device) < (8, 9):
        raise ValueError("paged_decode[tc]: fp8 caches need sm_89 or newer")
    for sc in (k_scale, v_scale):
        if sc is not None and (sc.dtype != torch.float32 or sc.numel() != Hkv or not sc.is_contiguous()):
            raise ValueError("k_scale / v_scale: contiguous float32 [Hkv]")
    if not fp8 and (k_scale is not None or v_scale is not None):
        raise ValueError("k_scale / v_scale apply to fp8 caches only")
    lib = _lib()
    if cfg is None:
        cfg = TC_DEFAULT_CFG["fp8" if fp8 else "16bit"]
    qd, kd = _DTYPES[q.dtype], (2 if fp8 else _DTYPES[q.dtype])
    key = (q.device, qd, kd, D, cfg, S, Hkv, max_seq_len, int(splits))
    n = _TC_SPLITS.get(key)
    if n is None:
        used = ctypes.c_int(0)
        _check(lib.infernav_paged_decode_tc(qd, kd, D, cfg, None, None, None, None, None, None, None, None,
                                            None, None, None, S, Hq, Hkv, bs, block_tables.shape[1],
                                            max_seq_len, int(splits), scale, ctypes.byref(used), None),
               "paged_decode[tc] plan")
        n = _TC_SPLITS[key] = used.value
    tmp_o = tmp_ml = cnt = None
    if n > 1:
        tmp_o = torch.empty((S, Hq, n, D), device=q.device, dtype=torch.float32)
        tmp_ml = torch.empty((S, Hq, n, 2), device=q.device, dtype=torch.float32)
        cnt = _counters(q.device, S * Hkv)
    used = ctypes.c_int(0)
    # cfg 15 picks the kernel from the plan again (the same inputs give the same plan); a split count
    # passed in would count as forced and change its choice
    launch_splits = int(splits) if cfg == 15 else n
    _check(lib.infernav_paged_decode_tc(qd, kd, D, cfg, _ptr(out), _ptr(q), _ptr(k_cache), _ptr(v_cache),
                                        _ptr(k_scale), _ptr(v_scale), _ptr(block_tables), _ptr(seq_lens),
                                        _ptr(tmp_o), _ptr(tmp_ml), _ptr(cnt), S, Hq, Hkv, bs,
                                        block_tables.shape[1], max_seq_len, launch_splits, scale,
                                        ctypes.byref(used), _stream()), "paged_decode[tc]")
    if used.value != n:
        raise RuntimeError(f"paged_decode[tc]: planned {n} splits, launched {used.value}")


def _paged_decode_v2(q, k_cache, v_cache, block_tables, seq_lens, max_seq_len: int, scale: float,
                     split: bool | None, out) -> None:
    """paged_decode with impl='v2' (paged_decode.cu), inputs already checked."""
    S, Hq, D = q.shape
    _, Hkv, bs, _ = k_cache.shape
    if k_cache.dtype == torch.float8_e4m3fn:
        raise ValueError("paged_decode[v2]: fp8 caches need impl='tc'")
    if D not in (64, 128) or Hq // Hkv not in (1, 2, 4, 8):
        raise ValueError("paged_decode[v2]: D in {64,128}, Hq/Hkv in {1,2,4,8}")
    part = paged_partition_size()
    max_parts = max(1, -(-max_seq_len // part))
    if split is None:
        split = max_parts > 1
    if not split and max_parts > 1:
        raise ValueError("split=False needs every sequence within one partition")
    if split and max_parts == 1:
        max_parts = 2  # force the two-kernel path (exercised by tests); the second partition is empty
    tmp_out = tmp_m = tmp_l = None
    if split:
        tmp_out = torch.empty((S, Hq, max_parts, D), device=q.device, dtype=torch.float32)
        tmp_m = torch.empty((S, Hq, max_parts), device=q.device, dtype=torch.float32)
        tmp_l = torch.empty_like(tmp_m)
    _check(_lib().infernav_paged_decode(_DTYPES[q.dtype], D, _ptr(out), _ptr(q), _ptr(k_cache), _ptr(v_cache),
                                        _ptr(block_tables), _ptr(seq_lens), _ptr(tmp_out), _ptr(tmp_m), _ptr(tmp_l),
                                        S, Hq, Hkv, bs, block_tables.shape[1], max_parts if split else 1, scale,
                                        _stream()), "paged_decode")


def attention_fp32(q, k, v, variant: str = "fast", out: torch.Tensor | None = None,
                   scratch: torch.Tensor | None = None) -> torch.Tensor:
    """fp32-in/fp32-out attention, non-causal, scale 1/sqrt(d), by one kernel of the progression."""
    if variant not in FP32_VARIANTS:
        raise ValueError(f"variant must be one of {FP32_VARIANTS}")
    if q.dtype != torch.float32 or k.dtype != torch.float32 or v.dtype != torch.float32:
        raise TypeError("attention_fp32: float32 inputs")
    B, H, N, d = q.shape
    M = k.shape[2]
    if k.shape != (B, H, M, d) or v.shape != k.shape or d > 1024:
        raise ValueError("attention_fp32: q [B,H,N,d], k/v [B,H,M,d], d <= 1024")
    if not (q.is_contiguous() and k.is_contiguous() and v.is_contiguous()):
        raise ValueError("attention_fp32: contiguous inputs")
    if variant == "fast" and (M > 1024 or d % 4):
        raise ValueError("attention_fp32 'fast': M <= 1024 and d % 4 == 0")
    if out is None:
        out = torch.empty_like(q)
    scale = 1.0 / math.sqrt(d)
    lib, st, bh = _lib(), _stream(), B * H
    if variant == "v3":
        code = lib.infernav_fp32_wmma(_ptr(q), _ptr(k), _ptr(v), _ptr(out), bh, N, M, d, scale, st)
    elif variant == "fast":
        code = lib.infernav_fp32_fast(_ptr(q), _ptr(k), _ptr(v), _ptr(out), bh, N, M, d, scale, st)
    else:
        idx = ("naive3", "minimal", "v1", "v2").index(variant)
        if idx == 0 and scratch is None:
            scratch = torch.empty((bh, N, M), device=q.device, dtype=torch.float32)
        code = lib.infernav_fp32_progression(idx, _ptr(q), _ptr(k), _ptr(v), _ptr(out), _ptr(scratch), bh, N, M, d,
                                             scale, st)
    _check(code, f"attention_fp32[{variant}]")
    return out
