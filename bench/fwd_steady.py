"""Issue 19, the d=128 forward question: burst vs steady-state timing of the fa3ws configs and SDPA cuDNN.

Run 5 measured 671 TFLOP/s for bf16 [4,16,8192,8192,128] non-causal (cfg 0) and run 6 611 with the same
code; bench/fwd_repeat.py's rounds gave ~590-600 with a first round 4-15 % higher. This script times every
kernel two ways, interleaved over ROUNDS rounds:
  * burst: as the bench did up to run 6 (1 warm-up launch, then reps for ~150 ms, at most 30), after an
    idle gap of IDLE_S seconds (the bench's reference checks and allocations leave such gaps);
  * steady: WARM_MS of back-to-back launches of the same kernel first, then reps for ~300 ms.
Each timing records its wall-clock start and end, so that the nvidia-smi samples that the device script
takes in the background (SM clock, power, temperature, throttle reasons) can be matched to it.
With --fp8-splits it also times the fp8 decode at 8 x 32K (the row with no margin) for forced split counts.

    python bench/fwd_steady.py --out DIR [--rounds 3] [--cfgs 0,5,7,8] [--fp8-splits]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attention_bench as AB  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from infernav.kernels import ops  # noqa: E402
from infernav.kernels import reference as R  # noqa: E402


def steady(fn, warm_ms: float, target_ms: float = 300.0, max_reps: int = 200) -> tuple[float, int]:
    t_end = time.time() + warm_ms / 1e3
    while time.time() < t_end:
        for _ in range(8):
            fn()
        torch.cuda.synchronize()
    return AB.time_cuda(fn, target_ms=target_ms, max_reps=max_reps, warmup=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cfgs", default="0,5,7,8")
    ap.add_argument("--warm-ms", type=float, default=300.0)
    ap.add_argument("--idle-s", type=float, default=1.0)
    ap.add_argument("--fp8-splits", action="store_true")
    ns = ap.parse_args()
    B, H, N, d = 4, 16, 8192, 128
    res = {"device": torch.cuda.get_device_name(), "shape": [B, H, N, N, d], "rounds": ns.rounds,
           "warm_ms": ns.warm_ms, "idle_s": ns.idle_s, "rows": [], "t0_unix": time.time()}
    res["ceilings"] = AB.ceilings()
    cfgs = [int(c) for c in ns.cfgs.split(",")]
    cases = []
    for dtype in (torch.bfloat16, torch.float16):
        q, k, v = (AB.rand((B, H, N, d), dtype, s) for s in (41, 42, 43))
        out = torch.empty_like(q)
        for causal in (False, True):
            flops = 4.0 * B * H * N * N * d * (0.5 if causal else 1.0)
            ref = R.naive_attention(q[:1, :2], k[:1, :2], v[:1, :2], causal=causal)
            kernels = {f"fa3ws_cfg{c}": (lambda c=c, causal=causal, q=q, k=k, v=v, out=out:
                                          ops.flash_attn(q, k, v, causal=causal, out=out, backend="fa3ws", cfg=c))
                       for c in cfgs}

            def cudnn(causal=causal, q=q, k=k, v=v, out=out):
                with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.CUDNN_ATTENTION]):
                    out.copy_(F.scaled_dot_product_attention(q, k, v, is_causal=causal))
            kernels["sdpa_cudnn"] = cudnn
            errs = {}
            for name, fn in kernels.items():  # check each once, NaN-poisoned output first
                out.fill_(float("nan"))
                fn()
                torch.cuda.synchronize()
                errs[name] = R.rel_error(out[:1, :2], ref)
            cases.append((str(dtype).split(".")[-1], causal, flops, kernels, errs))
    samples = {(dt, c, name, mode): [] for dt, c, _, ks, _ in cases for name in ks for mode in ("burst", "steady")}
    for r in range(ns.rounds):
        for dt, causal, flops, kernels, _ in cases:
            for name, fn in kernels.items():
                for mode in ("burst", "steady"):
                    if mode == "burst":
                        torch.cuda.synchronize()
                        time.sleep(ns.idle_s)
                    t0 = time.time()
                    ms, reps = AB.time_cuda(fn, target_ms=150, max_reps=30) if mode == "burst" else steady(fn, ns.warm_ms)
                    samples[(dt, causal, name, mode)].append(
                        {"TFLOPs": flops / (ms * 1e-3) / 1e12, "ms": ms, "reps": reps, "t0": t0, "t1": time.time()})
        AB.log(f"round {r + 1} done")
    print(f"| dtype | causal | kernel | mode | TFLOP/s per round | median |")
    print("|---|---|---|---|---|---|")
    for dt, causal, flops, kernels, errs in cases:
        for name in kernels:
            for mode in ("burst", "steady"):
                xs = samples[(dt, causal, name, mode)]
                tf = [x["TFLOPs"] for x in xs]
                res["rows"].append({"dtype": dt, "causal": causal, "kernel": name, "mode": mode, "err": errs[name],
                                    "samples": xs, "median_TFLOPs": statistics.median(tf)})
                print(f"| {dt} | {'yes' if causal else 'no'} | {name} | {mode} | {' '.join(f'{x:.0f}' for x in tf)} | "
                      f"{statistics.median(tf):.0f} |")
    if ns.fp8_splits:
        res["fp8"] = fp8_splits()
    Path(ns.out).mkdir(parents=True, exist_ok=True)
    (Path(ns.out) / "attention_h200_fwd_steady.json").write_text(json.dumps(res, indent=1))


def fp8_splits() -> list[dict]:
    """fp8 and bf16 decode at 8 x 32K (32/8 heads, d 128, block 16): the bench's inputs, forced split counts."""
    S, ctx, hq, hkv, d, bs = 8, 32768, 32, 8, 128, 16
    nblk = S * ctx // bs
    g = torch.Generator(device="cuda")
    g.manual_seed(S * 7 + ctx)
    kc = torch.randn((nblk, hkv, bs, d), device="cuda", generator=g).to(torch.bfloat16)
    vc = torch.randn((nblk, hkv, bs, d), device="cuda", generator=g).to(torch.bfloat16)
    tables = torch.randperm(nblk, device="cuda", generator=g).to(torch.int32).view(S, ctx // bs)
    lens = torch.full((S,), ctx, dtype=torch.int32, device="cuda")
    q = AB.rand((S, hq, d), torch.bfloat16, 99)
    k8, ks = R.quantize_fp8_per_head(kc)
    v8, vs = R.quantize_fp8_per_head(vc)
    ref8 = R.paged_decode_naive(q[:2], R.dequantize_fp8_per_head(k8, ks), R.dequantize_fp8_per_head(v8, vs),
                                tables[:2], lens[:2])
    out = torch.empty_like(q)
    rows = []
    variants = [("bf16_default", None, 0, False)] + [(f"fp8_cfg{c}_s{sp}", c, sp, True)
                                                     for c in (0, 4) for sp in (0, 3, 4, 5, 6, 8, 9, 12, 16)]
    for rnd in range(2):
        for name, cfg, sp, fp8 in variants:
            if fp8:
                fn = lambda cfg=cfg, sp=sp: ops.paged_decode(q, k8, v8, tables, lens, max_seq_len=ctx, out=out,  # noqa: E731
                                                             k_scale=ks, v_scale=vs, cfg=cfg, splits=sp)
            else:
                fn = lambda: ops.paged_decode(q, kc, vc, tables, lens, max_seq_len=ctx, out=out, impl="tc")  # noqa: E731
            try:
                out.fill_(float("nan"))
                fn()
                torch.cuda.synchronize()
                err = R.rel_error(out[:2], ref8) if fp8 else None
                ms, _ = steady(fn, 150, target_ms=150, max_reps=1000)
                rows.append({"name": name, "round": rnd, "ms": ms, "err": err, "tokens_per_s": S / (ms * 1e-3)})
                AB.log(f"fp8 scan {name:16s} {ms:.4f} ms err {err}")
            except Exception as ex:  # noqa: BLE001
                rows.append({"name": name, "round": rnd, "error": repr(ex)[:200]})
    return rows


if __name__ == "__main__":
    main()
