"""Attention kernel benchmark: builds the kernels, checks each against the float64 definition on the
benchmark's own inputs, and times them next to PyTorch's paths. One call on the GPU machine:

    python bench/attention_bench.py [--out DIR] [--quick] [--only fp32,lowp,decode]

Prints markdown tables (the last thing printed) and writes DIR/attention_bench.json. Medians of
CUDA-event timings after a warm-up (the forward in steady state, and after 1 s idle for the default and
cuDNN: time_steady / time_burst; nvidia-smi's clocks recorded per timed window); inputs are random (never zeros) and larger than L2 where it
matters. Ceilings measured first: a device-to-device copy (bytes read + written) and a bf16 GEMM.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile as _tempfile
import time
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F

try:
    import infernav.kernels  # noqa: F401  (installed: pip install -e .)
except ImportError:  # a bare checkout (the GPU machine): expose kernels/ as infernav.kernels
    import tempfile

    _shim = Path(tempfile.mkdtemp(prefix="infernav-shim-"))
    (_shim / "infernav").mkdir()
    (_shim / "infernav" / "__init__.py").write_text("")
    (_shim / "infernav" / "kernels").symlink_to(Path(__file__).resolve().parent.parent / "kernels")
    sys.path.insert(0, str(_shim))
from infernav.kernels import build, ops  # noqa: E402
from infernav.kernels import reference as R  # noqa: E402

T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


def time_cuda(fn, target_ms: float = 200.0, min_reps: int = 3, max_reps: int = 50, warmup: int = 1) -> tuple[float, int]:
    """Median milliseconds of `fn` over reps chosen to fill about target_ms; returns (median, reps)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    fn()
    e.record()
    e.synchronize()
    first = s.elapsed_time(e)
    reps = max(min_reps, min(max_reps, int(target_ms / max(first, 1e-3))))
    if first > 1000:  # very slow teaching kernels: that one run is the measurement
        return first, 1
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) for a, b in zip(starts, ends)), reps


def time_steady(fn, warm_ms: float = 250.0, target_ms: float = 250.0, max_reps: int = 200) -> dict:
    """Steady state: `warm_ms` of back-to-back launches first, then time_cuda's median over ~target_ms.
    On the H200 the SM clock stays at 1980 MHz for the first ~0.1-0.2 s of a burst after idle and then
    settles near 1700 MHz with the software power cap active (nvidia-smi's clocks_event_reasons 0x4;
    the issue-19 call of bench/fwd_steady.py, bench/results/attention_h200_fwd_steady.json): a short
    timing after an idle gap measures the burst clock, this one the sustained one. Returns ms, reps and the
    wall-clock window of the timed part (for CLOCKS.window)."""
    t_end = time.time() + warm_ms / 1e3
    while time.time() < t_end:
        for _ in range(4):
            fn()
        torch.cuda.synchronize()
    t0 = time.time()
    ms, reps = time_cuda(fn, target_ms=target_ms, max_reps=max_reps, warmup=0)
    return {"ms": ms, "reps": reps, "t0": t0, "t1": time.time()}


def preheat(kernel, seconds: float = 0.15) -> None:
    """Untimed: `seconds` of bf16 GEMMs, then as long of `kernel`, before a decode row's timings
    (the row's setup leaves the GPU idle; see decode_table)."""
    ga = torch.randn((4096, 4096), device="cuda", dtype=torch.bfloat16)
    for fn in (lambda: ga @ ga, kernel):
        t_end = time.time() + seconds
        while time.time() < t_end:
            fn()
            torch.cuda.synchronize()


def time_burst(fn, idle_s: float = 1.0) -> dict:
    """The timing of the bench up to run 6 (one warm-up launch, then ~150 ms of reps, at most 30), after
    `idle_s` of an idle GPU: the clock is still at its burst value."""
    torch.cuda.synchronize()
    time.sleep(idle_s)
    t0 = time.time()
    ms, reps = time_cuda(fn, target_ms=150, max_reps=30)
    return {"ms": ms, "reps": reps, "t0": t0, "t1": time.time()}


class Clocks:
    """nvidia-smi sampled every 100 ms in the background (SM clock, power, temperature, clock event
    reasons); window(t0, t1) summarises the samples taken in that wall-clock window."""

    def __init__(self) -> None:
        self.path = Path(_tempfile.mkstemp(prefix="infernav-smi-", suffix=".csv")[1])
        self.proc = None
        try:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_event_reasons.active",
                 "--format=csv,noheader,nounits", "-lms", "100"], stdout=self.path.open("w"), stderr=subprocess.DEVNULL)
        except OSError:
            self.proc = None

    def samples(self) -> list[tuple]:
        out = []
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return out
        for line in lines:
            p = [x.strip() for x in line.split(",")]
            try:  # nvidia-smi prints local time, as datetime.timestamp() reads a naive datetime
                ts = datetime.strptime(p[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
                out.append((ts, int(float(p[1])), float(p[2]), int(p[3]), p[4]))
            except (ValueError, IndexError):
                continue
        return out

    def window(self, t0: float, t1: float) -> dict | None:
        sel = [x for x in self.samples() if t0 - 0.05 <= x[0] <= t1 + 0.05]
        if not sel:
            return None
        mhz = [x[1] for x in sel]
        return {"n": len(sel), "sm_mhz_median": statistics.median(mhz), "sm_mhz_min": min(mhz), "sm_mhz_max": max(mhz),
                "power_w_max": max(x[2] for x in sel), "temp_c_max": max(x[3] for x in sel),
                "reasons": sorted({x[4] for x in sel})}

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()


CLOCKS: Clocks | None = None


def clock_window(t: dict) -> dict | None:
    return CLOCKS.window(t["t0"], t["t1"]) if CLOCKS is not None else None


def rand(shape, dtype, seed):
    g = torch.Generator(device="cuda")
    g.manual_seed(seed)
    return torch.randn(shape, device="cuda", dtype=torch.float32, generator=g).to(dtype)


# ------------------------------------------------------------------ ceilings
def copy_ceiling() -> float:
    """Device copy bandwidth, TB/s read + write, over 1 GiB buffers: the paged-decode rows' ceiling."""
    n = 1 << 30
    a = torch.randint(0, 255, (n,), device="cuda", dtype=torch.uint8)
    b = torch.empty_like(a)
    ms, _ = time_cuda(lambda: b.copy_(a), target_ms=300)
    return 2 * n / (ms * 1e-3) / 1e12


def ceilings() -> dict:
    copy_tbs = copy_ceiling()
    x, y = rand((8192, 8192), torch.bfloat16, 1), rand((8192, 8192), torch.bfloat16, 2)
    ms, _ = time_cuda(lambda: x @ y, target_ms=300)
    gemm = 2 * 8192**3 / (ms * 1e-3) / 1e12
    # the same GEMM after 1 s idle (burst clock) and in steady state (power-capped clock), as the forward rows
    tb = time_burst(lambda: x @ y)
    ts = time_steady(lambda: x @ y, warm_ms=500, target_ms=300)
    gemm_modes = {"burst": {"TFLOPs": 2 * 8192**3 / (tb["ms"] * 1e-3) / 1e12, "clock": clock_window(tb)},
                  "steady": {"TFLOPs": 2 * 8192**3 / (ts["ms"] * 1e-3) / 1e12, "clock": clock_window(ts)}}
    x32, y32 = x.float(), y.float()
    torch.backends.cuda.matmul.allow_tf32 = False
    ms, _ = time_cuda(lambda: x32 @ y32, target_ms=300)
    sgemm = 2 * 8192**3 / (ms * 1e-3) / 1e12
    torch.backends.cuda.matmul.allow_tf32 = True
    ms, _ = time_cuda(lambda: x32 @ y32, target_ms=300)
    tf32 = 2 * 8192**3 / (ms * 1e-3) / 1e12
    torch.backends.cuda.matmul.allow_tf32 = False
    return {"copy_TBps": copy_tbs, "bf16_gemm_TFLOPs": gemm, "fp32_gemm_TFLOPs": sgemm, "tf32_gemm_TFLOPs": tf32,
            "bf16_gemm_TFLOPs_burst": gemm_modes["burst"]["TFLOPs"], "bf16_gemm_TFLOPs_steady": gemm_modes["steady"]["TFLOPs"],
            "bf16_gemm_clock_burst": gemm_modes["burst"]["clock"], "bf16_gemm_clock_steady": gemm_modes["steady"]["clock"]}


# ------------------------------------------------------------------ fp32 table (the shapes)
FP32_SHAPES = [(32, 8, 256, 256, 256), (32, 8, 256, 256, 1024), (32, 8, 1024, 1024, 256), (32, 8, 1024, 1024, 1024)]


def torch_naive(q, k, v):
    s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    return torch.matmul(torch.softmax(s, dim=-1), v)


def fp32_table(quick: bool, budget_s: float) -> list[dict]:
    rows = []
    for si, (B, H, N, M, d) in enumerate(FP32_SHAPES[:2] if quick else FP32_SHAPES):
        q, k, v = rand((B, H, N, d), torch.float32, 10 + si), rand((B, H, M, d), torch.float32, 20 + si), \
            rand((B, H, M, d), torch.float32, 30 + si)
        flops = 4.0 * B * H * N * M * d
        ref = R.naive_attention(q, k, v)  # float64 on the GPU
        row = {"shape": [B, H, N, M, d], "flops": flops, "bytes_min": 4.0 * (2 * B * H * N * d + 2 * B * H * M * d)}
        out = torch.empty_like(q)

        def run(name, fn, allow=True):
            if not allow:
                row[name] = None
                return
            try:
                out.fill_(float("nan"))
                fn()
                torch.cuda.synchronize()
                err = R.rel_error(out, ref)
                ms, reps = time_cuda(fn, warmup=0 if name == "minimal" else 1)
                row[name] = {"ms": ms, "reps": reps, "err": err, "TFLOPs": flops / (ms * 1e-3) / 1e12}
                log(f"fp32 {row['shape']} {name:16s} {ms:10.3f} ms  err {err:.1e}")
            except Exception as ex:  # noqa: BLE001 - a failing kernel must not stop the table
                row[name] = {"error": repr(ex)[:300]}
                log(f"fp32 {row['shape']} {name} FAILED {ex!r}"[:400])

        torch.backends.cuda.matmul.allow_tf32 = False
        run("torch_naive_fp32", lambda: out.copy_(torch_naive(q, k, v)))
        with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.EFFICIENT_ATTENTION]):
            run("sdpa_efficient_fp32", lambda: out.copy_(F.scaled_dot_product_attention(q, k, v)))
        run("sdpa_default_fp32", lambda: out.copy_(F.scaled_dot_product_attention(q, k, v)))
        torch.backends.cuda.matmul.allow_tf32 = True
        run("torch_naive_tf32", lambda: out.copy_(torch_naive(q, k, v)))
        torch.backends.cuda.matmul.allow_tf32 = False
        for variant in ops.FP32_VARIANTS:
            slow = variant == "minimal" and si >= 2  # ~10 s per call at these sizes: left out like the origin's table
            late = time.time() - T0 > budget_s and variant in ("minimal", "naive3", "v1", "v2")
            run(variant, lambda: ops.attention_fp32(q, k, v, variant=variant, out=out), allow=not (slow or late))
        rows.append(row)
        del q, k, v, ref, out
        torch.cuda.empty_cache()
    return rows


# ------------------------------------------------------------------ fp16 / bf16 table
def fa3ws_cfgs(d: int, scan: bool) -> tuple[int, ...]:
    """fa3ws configs to run: 0 (default), 1 (no ping-pong), 4 (three consumer warpgroups, D = 64 only),
    5 (176-key tiles, D = 128 only), 6 (3-stage rings, D = 128), 7 and 8 (persistent, D = 128);
    with --scan also 2 and 3 (rescale O every tile). INFERNAV_FA3WS_CFGS (set by the device script
    from the smoke test) lists the configs allowed to run at all."""
    raw = os.environ.get("INFERNAV_FA3WS_CFGS", "0,1,2,3,4,5,6,7,8")
    ok = {int(x) for x in raw.split(",") if x.strip()}
    want = (0, 1, 2, 3, 4, 5, 6, 7, 8) if scan else (0, 1, 4, 5, 6, 7, 8)
    return tuple(c for c in want if c in ok and (c != 4 or d == 64) and (c not in (5, 6, 7, 8) or d == 128))


def lowp_table(quick: bool, lean: bool = False, fi=None, scan: bool = False) -> list[dict]:
    shapes = [(4, 16, 8192, 128), (4, 16, 8192, 64), (16, 16, 2048, 128), (4, 16, 8192, 256)]
    if quick:
        shapes = shapes[:1]
    backends = {
        "sdpa_flash": torch.nn.attention.SDPBackend.FLASH_ATTENTION,
        "sdpa_cudnn": torch.nn.attention.SDPBackend.CUDNN_ATTENTION,
        "sdpa_efficient": torch.nn.attention.SDPBackend.EFFICIENT_ATTENTION,
        "sdpa_math": torch.nn.attention.SDPBackend.MATH,
    }
    rows = []
    for (B, H, N, d) in shapes:
        for dtype in (torch.bfloat16, torch.float16):
            if d == 256 and dtype == torch.float16:
                continue
            for causal in (False, True):
                q, k, v = (rand((B, H, N, d), dtype, s) for s in (41, 42, 43))
                flops = 4.0 * B * H * N * N * d * (0.5 if causal else 1.0)
                # the reference on 2 heads of batch 0 (float64): enough to catch a wrong kernel
                ref = R.naive_attention(q[:1, :2], k[:1, :2], v[:1, :2], causal=causal)
                row = {"shape": [B, H, N, N, d], "dtype": str(dtype).split(".")[-1], "causal": causal, "flops": flops}
                out = torch.empty_like(q)

                # every variant in steady state (time_steady: the sustained, power-capped clock); the default
                # config and cuDNN also after 1 s idle (time_burst: the burst clock, the bench's timing up to run 6)
                def run(name, fn, post=None, burst=False):
                    try:
                        out.fill_(float("nan"))
                        fn()
                        if post is not None:
                            post()
                        torch.cuda.synchronize()
                        err = R.rel_error(out[:1, :2], ref)
                        t = time_steady(fn)
                        ms = t["ms"]
                        row[name] = {"ms": ms, "reps": t["reps"], "err": err, "TFLOPs": flops / (ms * 1e-3) / 1e12,
                                     "clock": clock_window(t)}
                        if burst:
                            tb = time_burst(fn)
                            row[name]["burst"] = {"ms": tb["ms"], "reps": tb["reps"],
                                                  "TFLOPs": flops / (tb["ms"] * 1e-3) / 1e12, "clock": clock_window(tb)}
                        bs = f" burst {row[name]['burst']['TFLOPs']:6.1f}" if burst else ""
                        log(f"{row['dtype']} {row['shape']} causal={causal} {name:14s} {ms:8.3f} ms "
                            f"{row[name]['TFLOPs']:6.1f} TFLOP/s{bs} err {err:.1e}")
                    except Exception as ex:  # noqa: BLE001
                        row[name] = {"error": repr(ex)[:200]}
                        log(f"{row['dtype']} {row['shape']} {name} n/a: {ex!r}"[:300])

                row["fa3ws_default_cfg"] = ops.fa3ws_default_cfg(d, N)
                for cfg in fa3ws_cfgs(d, scan):
                    run(f"ours_fa3ws_cfg{cfg}", lambda: ops.flash_attn(q, k, v, causal=causal, out=out,
                                                                       backend="fa3ws", cfg=cfg),
                        burst=cfg == row["fa3ws_default_cfg"])
                if d in (64, 128):
                    run("ours_fa3", lambda: ops.flash_attn(q, k, v, causal=causal, out=out, backend="fa3"))
                    if not lean:
                        run("ours_fa3_overlap", lambda: ops.flash_attn(q, k, v, causal=causal, out=out,
                                                                       backend="fa3", cfg=1))
                for cfg in ((0,) if lean else ((0, 1, 2) if d != 256 else (0, 1))):
                    run(f"ours_fa2_cfg{cfg}", lambda: ops.flash_attn(q, k, v, causal=causal, out=out, cfg=cfg,
                                                                     backend="fa2"))
                if fi is not None:
                    try:
                        fi_fn, fi_post = fi_prefill_prepare(fi, q, k, v, causal)
                        run("flashinfer", fi_fn, post=lambda: fi_post(out))
                    except Exception as ex:  # noqa: BLE001
                        row["flashinfer"] = {"error": repr(ex)[:300]}
                        log(f"flashinfer prefill n/a: {ex!r}"[:400])
                for name, be in backends.items():
                    if name == "sdpa_math" and (N > 2048 or lean):
                        continue
                    with torch.nn.attention.sdpa_kernel([be]):
                        run(name, lambda: out.copy_(F.scaled_dot_product_attention(q, k, v, is_causal=causal)),
                            burst=name == "sdpa_cudnn")
                rows.append(row)
                del q, k, v, out, ref
        torch.cuda.empty_cache()
    return rows


# ------------------------------------------------------------------ paged decode table
DECODE_CASES = [  # seqs, ctx, hq, hkv, d (block size 16)
    (8, 32768, 32, 8, 128), (32, 16384, 32, 8, 128), (64, 8192, 32, 8, 128), (128, 4096, 32, 8, 128),
    (32, 16384, 64, 8, 128), (32, 16384, 32, 32, 128), (64, 8192, 32, 8, 64), (256, 512, 32, 8, 128),
]
# with --scan: the same sizes with another block size (page bytes 4 KB at d=64, 2 KB at d=128)
DECODE_DIAG = [(64, 8192, 32, 8, 64, 32), (64, 8192, 32, 8, 128, 8)]


def decode_table(quick: bool, copy_tbps: float, scan: bool = False, fi=None) -> list[dict]:
    cases = [c + (16,) for c in (DECODE_CASES[1:2] if quick else DECODE_CASES)]
    if scan:
        cases += DECODE_DIAG
    rows = []
    for (S, ctx, hq, hkv, d, bs) in cases:
        diag = bs != 16
        dtype = torch.bfloat16
        nblk = S * ctx // bs
        g = torch.Generator(device="cuda")
        g.manual_seed(S * 7 + ctx)
        kc = torch.randn((nblk, hkv, bs, d), device="cuda", generator=g).to(dtype)
        vc = torch.randn((nblk, hkv, bs, d), device="cuda", generator=g).to(dtype)
        tables = torch.randperm(nblk, device="cuda", generator=g).to(torch.int32).view(S, ctx // bs)
        lens = torch.full((S,), ctx, dtype=torch.int32, device="cuda")
        q = rand((S, hq, d), dtype, 99)
        kv_bytes = 2.0 * S * ctx * hkv * d * kc.element_size()
        small = 2.0 * q.numel() * q.element_size() + tables.numel() * 4
        bytes_min = kv_bytes + small
        row = {"seqs": S, "ctx": ctx, "hq": hq, "hkv": hkv, "d": d, "block_size": bs, "bytes_min": bytes_min,
               "bytes_min_fp8": kv_bytes / 2 + small + 2 * hkv * 4}
        out = torch.empty_like(q)
        nchk = 2
        ref = R.paged_decode_naive(q[:nchk], kc, vc, tables[:nchk], lens[:nchk])

        def run(name, fn, nbytes=bytes_min, reference=ref):
            try:
                out.fill_(float("nan"))
                fn()
                torch.cuda.synchronize()
                err = R.rel_error(out[:nchk], reference)
                t0 = time.time()
                ms, _ = time_cuda(fn, target_ms=150, max_reps=300)
                row[name] = {"ms": ms, "err": err, "clock": clock_window({"t0": t0, "t1": time.time()}),
                             "GBps": nbytes / (ms * 1e-3) / 1e9,
                             "pct_copy": 100.0 * nbytes / (ms * 1e-3) / (copy_tbps * 1e12),
                             "tokens_per_s": S / (ms * 1e-3)}
                log(f"decode S={S} ctx={ctx} hq={hq} hkv={hkv} d={d} {name:18s} {ms:8.3f} ms "
                    f"{row[name]['GBps']:7.0f} GB/s ({row[name]['pct_copy']:.0f}% of copy) err {err:.1e}")
            except Exception as ex:  # noqa: BLE001
                row[name] = {"error": repr(ex)[:200]}
                log(f"decode {name} n/a: {ex!r}"[:300])

        # pre-heat: ~150 ms of bf16 GEMMs, then ~150 ms of this kernel, untimed. The first variant timed in
        # a row was up to ~10 % slower than the same variant timed again at the row's end (runs 1-4), most
        # at d = 64, the decode with the most instructions per byte; the row's setup leaves the GPU idle
        # for a second or so before it.
        tc = lambda: ops.paged_decode(q, kc, vc, tables, lens, max_seq_len=ctx, out=out, impl="tc")  # noqa: E731
        preheat(tc)
        run("ours_tc", tc)
        row["tc_splits"] = ops._TC_SPLITS.get((q.device, 1, 1, d, ops.TC_DEFAULT_CFG["16bit"], S, hkv, ctx, 0))
        row["tc_cfg"] = ops.TC_DEFAULT_CFG["16bit"]
        if diag:
            run("ours_tc_cfg5", lambda: ops.paged_decode(q, kc, vc, tables, lens, max_seq_len=ctx, out=out,
                                                         impl="tc", cfg=5))
            rows.append(row)
            del kc, vc, q, out
            torch.cuda.empty_cache()
            continue
        if scan:
            for cfg in (1, 2, 3, 4, 5, 10) if d == 64 else (1, 2, 3, 5, 10):
                run(f"ours_tc_cfg{cfg}", lambda: ops.paged_decode(q, kc, vc, tables, lens, max_seq_len=ctx, out=out,
                                                                  impl="tc", cfg=cfg))
            sp = row["tc_splits"] or 1
            for splits in sorted({max(1, sp // 2), sp * 2, sp * 4} - {sp}):
                run(f"ours_tc_splits{splits}", lambda: ops.paged_decode(q, kc, vc, tables, lens, max_seq_len=ctx,
                                                                        out=out, impl="tc", splits=splits))
        run("ours_v2", lambda: ops.paged_decode(q, kc, vc, tables, lens, max_seq_len=ctx, out=out, impl="v2"))
        if d == 128:
            k8, ks = R.quantize_fp8_per_head(kc)
            v8, vs = R.quantize_fp8_per_head(vc)
            ref8 = R.paged_decode_naive(q[:nchk], R.dequantize_fp8_per_head(k8, ks), R.dequantize_fp8_per_head(v8, vs),
                                        tables[:nchk], lens[:nchk])
            run("ours_tc_fp8", lambda: ops.paged_decode(q, k8, v8, tables, lens, max_seq_len=ctx, out=out,
                                                        k_scale=ks, v_scale=vs), nbytes=row["bytes_min_fp8"],
                reference=ref8)
            if scan:
                for cfg in (0, 2, 4, 6, 7, 10):
                    run(f"ours_tc_fp8_cfg{cfg}", lambda: ops.paged_decode(q, k8, v8, tables, lens, max_seq_len=ctx,
                                                                          out=out, k_scale=ks, v_scale=vs, cfg=cfg),
                        nbytes=row["bytes_min_fp8"], reference=ref8)
            if "ms" in row.get("ours_tc_fp8", {}):
                row["ours_tc_fp8"]["err_vs_bf16_cache"] = R.rel_error(out[:nchk], ref)
        if fi is not None:
            run("flashinfer", lambda: fi_decode(fi, q, kc, vc, tables, lens, out))
        # context: SDPA on an already-contiguous cache (no paging), q as [S, hq, 1, d]
        kk = kc[tables.long()].permute(0, 2, 1, 3, 4).reshape(S, hkv, ctx, d)
        vv = vc[tables.long()].permute(0, 2, 1, 3, 4).reshape(S, hkv, ctx, d)
        q4 = q.view(S, hq, 1, d)
        for name, be in (("sdpa_flash_contig", torch.nn.attention.SDPBackend.FLASH_ATTENTION),
                         ("sdpa_efficient_contig", torch.nn.attention.SDPBackend.EFFICIENT_ATTENTION),
                         ("sdpa_cudnn_contig", torch.nn.attention.SDPBackend.CUDNN_ATTENTION)):
            if name == "sdpa_efficient_contig" and hq != hkv:
                continue  # no GQA in that backend
            with torch.nn.attention.sdpa_kernel([be]):
                run(name, lambda: out.view(S, hq, 1, d).copy_(
                    F.scaled_dot_product_attention(q4, kk, vv, enable_gqa=hq != hkv)))
        if scan:
            run("ours_tc_repeat", tc)  # the default again, last: the run-to-run spread of one row
            if d == 128:
                run("ours_tc_fp8_repeat", lambda: ops.paged_decode(q, k8, v8, tables, lens, max_seq_len=ctx, out=out,
                                                                   k_scale=ks, v_scale=vs),
                    nbytes=row["bytes_min_fp8"], reference=ref8)
        rows.append(row)
        del kc, vc, kk, vv, q, out
        k8 = v8 = None
        torch.cuda.empty_cache()
    return rows


# ------------------------------------------------------------------ flashinfer (a peer, if importable)
def load_flashinfer():
    try:
        import flashinfer  # noqa: PLC0415
    except Exception as ex:  # noqa: BLE001
        log(f"flashinfer not importable: {ex!r}"[:300])
        return None
    log(f"flashinfer {getattr(flashinfer, '__version__', '?')}")
    return flashinfer


_FI_CACHE: dict = {}


def fi_decode(fi, q, kc, vc, tables, lens, out):
    """flashinfer's paged decode on the same cache: HND layout, page size = block size."""
    S, hq, d = q.shape
    _, hkv, bs, _ = kc.shape
    key = ("decode", S, hq, hkv, d, bs, tables.data_ptr())
    w = _FI_CACHE.get(key)
    if w is None:
        ws = torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device="cuda")
        w = fi.BatchDecodeWithPagedKVCacheWrapper(ws, kv_layout="HND")
        npages = tables.shape[1]
        indptr = torch.arange(0, S + 1, dtype=torch.int32, device="cuda") * npages
        last = (lens - 1) % bs + 1
        w.plan(indptr, tables.reshape(-1).contiguous(), last.to(torch.int32), hq, hkv, d, bs,
               q_data_type=q.dtype, kv_data_type=kc.dtype)
        _FI_CACHE.clear()
        _FI_CACHE[key] = w
    w.run(q, (kc, vc), out=out)


def fi_prefill_prepare(fi, q, k, v, causal):
    """flashinfer's ragged-batch prefill (its FA3 path on sm_90) on NHD copies of the inputs made once,
    outside the timing. Returns (timed call, call that copies its output into our layout)."""
    B, H, N, d = q.shape
    Hkv, M = k.shape[1], k.shape[2]
    ws = torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device="cuda")
    w = fi.BatchPrefillWithRaggedKVCacheWrapper(ws, kv_layout="NHD")
    qo = torch.arange(0, B + 1, dtype=torch.int32, device="cuda") * N
    kv = torch.arange(0, B + 1, dtype=torch.int32, device="cuda") * M
    w.plan(qo, kv, H, Hkv, d, causal=causal, q_data_type=q.dtype)
    qq = q.transpose(1, 2).reshape(B * N, H, d).contiguous()
    kk = k.transpose(1, 2).reshape(B * M, Hkv, d).contiguous()
    vv = v.transpose(1, 2).reshape(B * M, Hkv, d).contiguous()
    o = torch.empty_like(qq)
    return (lambda: w.run(qq, kk, vv, out=o)), (lambda out: out.copy_(o.view(B, N, H, d).transpose(1, 2)))


# ------------------------------------------------------------------ markdown
def fmt_ms(c):
    if c is None:
        return "-"
    if "error" in c:
        return "n/a"
    return f"{c['ms']:.3g} ms"


def print_tables(res: dict) -> None:
    """The fp32 table (the fp16/bf16 and decode tables come from render_kernel_tables.render)."""
    c = res["ceilings"]
    print(f"\n### Ceilings ({res['device']})\ncopy {c['copy_TBps']:.2f} TB/s (read+write); GEMM 8192^3: "
          f"bf16 {c['bf16_gemm_TFLOPs']:.0f}, tf32 {c['tf32_gemm_TFLOPs']:.0f}, fp32 {c['fp32_gemm_TFLOPs']:.1f} TFLOP/s")
    if res.get("fp32"):
        cols = ["torch_naive_fp32", "sdpa_default_fp32", "sdpa_efficient_fp32", "torch_naive_tf32",
                *ops.FP32_VARIANTS]
        print("\n### fp32 in/out, non-causal (time; fast kernel TFLOP/s; rel. error vs float64)\n")
        print("| [bs,nh,N,M,d] | " + " | ".join(cols) + " | fast TFLOP/s | fast vs our v3 (measured) | origin's published v3 (H100) / fast | "
              "fast vs best torch fp32 |")
        print("|---" * (len(cols) + 5) + "|")
        for r in res["fp32"]:
            cells = [fmt_ms(r.get(k)) for k in cols]
            f = r.get("fast") or {}
            v3 = r.get("v3") or {}
            best = min((r[k]["ms"] for k in ("torch_naive_fp32", "sdpa_default_fp32", "sdpa_efficient_fp32")
                        if r.get(k) and "ms" in r[k]), default=None)
            tf = f"{f['TFLOPs']:.0f}" if "ms" in f else "-"
            sp = f"{v3['ms'] / f['ms']:.1f}x" if "ms" in f and "ms" in v3 else "-"
            sb = f"{best / f['ms']:.2f}x" if "ms" in f and best else "-"
            ov = ORIGIN_V3_MS.get(tuple(r["shape"]))
            so = f"{ov / f['ms']:.1f}x" if "ms" in f and ov else "-"
            print(f"| {r['shape']} | " + " | ".join(cells) + f" | {tf} | {sp} | {so} | {sb} |")
        print("\nrel. error: | [bs,nh,N,M,d] | " + " | ".join(cols) + " |")
        for r in res["fp32"]:
            print(f"| {r['shape']} | " + " | ".join(
                f"{r[k]['err']:.1e}" if r.get(k) and "err" in r[k] else "-" for k in cols) + " |")


ORIGIN_V3_MS = {(32, 8, 256, 256, 256): 3.70, (32, 8, 256, 256, 1024): 14.0, (32, 8, 1024, 1024, 256): 58.1,
                (32, 8, 1024, 1024, 1024): 225.0}  # issue 7's table: the origin repo's published v3 times (H100); typed, not measured by us


def print_floors(res: dict) -> None:
    """Each benchmark row's two floors from the measured ceilings, next to what was achieved."""
    if not res.get("fp32"):
        return
    c = res["ceilings"]
    bw, tc, f32 = c["copy_TBps"] * 1e12, c["bf16_gemm_TFLOPs"] * 1e12, c["fp32_gemm_TFLOPs"] * 1e12
    print("\n### Floors (ms) from the measured ceilings: compute = flops / rate of the unit used; "
          "memory = minimum bytes / copy bandwidth\n")
    print("| kernel | shape | compute floor | memory floor | achieved | achieved / max(floors) |\n|---|---|---|---|---|---|")
    for r in res.get("fp32") or []:
        mem = r["bytes_min"] / bw * 1e3
        for k, rate in (("naive3", f32), ("minimal", f32), ("v1", f32), ("v2", f32), ("v3", tc), ("fast", tc)):
            x = r.get(k)
            if x and "ms" in x:
                comp = r["flops"] / rate * 1e3
                print(f"| fp32 {k} | {r['shape']} | {comp:.3g} | {mem:.3g} | {x['ms']:.3g} | {x['ms'] / max(comp, mem):.1f}x |")


def selfcheck(decode_only: bool = False) -> None:
    """Every kernel once on small odd shapes (for compute-sanitizer); prints rel. errors.
    decode_only (--selfcheck --only decode): the paged-decode kernels alone."""
    torch.manual_seed(0)
    for dtype in (torch.float16, torch.bfloat16):
        for d in (64, 128):
            if decode_only:
                break
            q, k, v = (torch.randn(1, 2, n, d, device="cuda").to(dtype) for n in (70, 133, 133))
            for be, cfg in (("fa2", 0), ("fa3", 0), ("fa3", 1), ("fa3ws", 0), ("fa3ws", 1)):
                out = ops.flash_attn(q, k, v, causal=True, backend=be, cfg=cfg)
                print(be, cfg, dtype, d, R.rel_error(out, R.naive_attention(q, k, v, causal=True)))
        # the persistent fa3ws kernel (cfg 7, 8) with more tiles (140 heads x 1) than CTAs (SMs), so CTAs loop
        for cfg in () if decode_only else (7, 8):
            q, k, v = (torch.randn(1, 140, n, 128, device="cuda").to(dtype) for n in (70, 133, 133))
            for causal in (False, True):
                out = ops.flash_attn(q, k, v, causal=causal, backend="fa3ws", cfg=cfg)
                print("fa3ws persistent", cfg, dtype, causal, R.rel_error(out, R.naive_attention(q, k, v, causal=causal)))
        q, k, v = (torch.randn(1, 2, n, 256, device="cuda").to(dtype) for n in (70, 300, 300))
        for be, cfg in () if decode_only else (("fa2", 0), ("fa3ws", 0), ("fa3ws", 1)):
            out = ops.flash_attn(q, k, v, causal=True, backend=be, cfg=cfg)
            print(be, cfg, dtype, 256, R.rel_error(out, R.naive_attention(q, k, v, causal=True)))
        kc, vc, tb, sl = R.make_paged_cache([5, 700, 1300], 2, 128, 16, dtype=dtype, device="cuda")
        q = torch.randn(3, 8, 128, device="cuda").to(dtype)
        ref = R.paged_decode_naive(q, kc, vc, tb, sl)
        print("paged v2", dtype, R.rel_error(ops.paged_decode(q, kc, vc, tb, sl, impl="v2"), ref))
        for splits in (0, 1, 3):
            print("paged tc", splits, dtype, R.rel_error(ops.paged_decode(q, kc, vc, tb, sl, impl="tc", splits=splits),
                                                         ref))
            for cfg in (10, 11):  # the persistent kernel
                print("paged tcp", cfg, splits, dtype, R.rel_error(
                    ops.paged_decode(q, kc, vc, tb, sl, impl="tc", splits=splits, cfg=cfg), ref))
        k8, ks = R.quantize_fp8_per_head(kc)
        v8, vs = R.quantize_fp8_per_head(vc)
        ref8 = R.paged_decode_naive(q, R.dequantize_fp8_per_head(k8, ks), R.dequantize_fp8_per_head(v8, vs), tb, sl)
        print("paged fp8", dtype, R.rel_error(ops.paged_decode(q, k8, v8, tb, sl, k_scale=ks, v_scale=vs, splits=3),
                                              ref8))
        for cfg in (7, 11, 13):  # integer-pipe e4m3 conversion; persistent kernel
            for splits in (0, 1, 3):
                print("paged fp8", cfg, splits, dtype, R.rel_error(
                    ops.paged_decode(q, k8, v8, tb, sl, k_scale=ks, v_scale=vs, splits=splits, cfg=cfg), ref8))
    q, k, v = (torch.randn(1, 1, n, 72, device="cuda") for n in (70, 300, 300))
    for variant in () if decode_only else ops.FP32_VARIANTS:
        print("fp32", variant, R.rel_error(ops.attention_fp32(q, k, v, variant=variant), R.naive_attention(q, k, v)))
    torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "bench/out"))
    ap.add_argument("--quick", action="store_true", help="one shape per table")
    ap.add_argument("--only", default="fp32,lowp,decode")
    ap.add_argument("--name", default=None, help="file stem of the JSON / Markdown written (default from --only)")
    ap.add_argument("--lean", action="store_true", help="forward: leave out fa2 cfg1/2, fa3 overlap, SDPA math")
    ap.add_argument("--scan", action="store_true", help="decode: also time the ring depths and split counts")
    ap.add_argument("--flashinfer", action="store_true", help="time flashinfer too, if it imports")
    ap.add_argument("--budget-s", type=float, default=420.0, help="skip slow teaching kernels after this")
    ap.add_argument("--selfcheck", action="store_true", help="run every kernel once on small shapes and exit")
    ns = ap.parse_args()
    if ns.selfcheck:
        selfcheck(decode_only=ns.only == "decode")
        return
    import signal  # noqa: PLC0415

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a time-out still writes the JSON (finally below)
    parts = set(ns.only.split(","))
    out_dir = Path(ns.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = build.build()
    log(f"library {lib}")
    props = torch.cuda.get_device_properties(0)
    res = {"device": f"{props.name}, {props.multi_processor_count} SMs", "torch": torch.__version__,
           "python": platform.python_version(), "argv": sys.argv}
    fi = load_flashinfer() if ns.flashinfer else None
    if fi is not None:
        res["flashinfer"] = getattr(fi, "__version__", "?")
    global CLOCKS
    CLOCKS = Clocks()
    res["timing"] = ("forward: time_steady (250 ms of launches, then the median of ~250 ms of CUDA-event timings) for "
                     "every variant, time_burst (1 s idle, 1 launch, then <= 30 reps over ~150 ms) for the fa3ws default "
                     "and cuDNN; decode: 150 ms of GEMMs and 150 ms of the kernel before each row, then ~150 ms per "
                     "variant; clocks: nvidia-smi every 100 ms, summarised per timed window")
    res["ceilings"] = ceilings()
    log(f"ceilings {res['ceilings']}")
    name = ns.name or ("attention_bench" + ("" if parts == {"fp32", "lowp", "decode"} else "_" + "_".join(sorted(parts))))
    try:
        if "decode" in parts:
            res["decode"] = decode_table(ns.quick, res["ceilings"]["copy_TBps"], scan=ns.scan, fi=fi)
        if "lowp" in parts:
            res["lowp"] = lowp_table(ns.quick, lean=ns.lean, fi=fi, scan=ns.scan)
        if "fp32" in parts:
            res["fp32"] = fp32_table(ns.quick, ns.budget_s)
        n = 1 << 30
        a = torch.randint(0, 255, (n,), device="cuda", dtype=torch.uint8)
        b = torch.empty_like(a)
        ms, _ = time_cuda(lambda: b.copy_(a), target_ms=300)
        res["ceilings"]["copy_TBps_end"] = 2 * n / (ms * 1e-3) / 1e12
        del a, b
    finally:
        if CLOCKS is not None:
            res["clock_samples"] = [list(x) for x in CLOCKS.samples()]
            CLOCKS.stop()
        res["wall_s"] = time.time() - T0
        (out_dir / f"{name}.json").write_text(json.dumps(res, indent=1))
        print_tables(res)
        print_floors(res)
        try:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from render_kernel_tables import render  # noqa: PLC0415

            md = render(res)
            (out_dir / f"{name}.md").write_text(md)
            print("\n" + md)
        except Exception as ex:  # noqa: BLE001
            log(f"render failed: {ex!r}")


if __name__ == "__main__":
    main()
