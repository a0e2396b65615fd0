"""Repeatability of the headline forward numbers: [4,16,8192,8192,128] fp16/bf16, causal or not, our fa3ws
configs and SDPA cuDNN, measured in ROUNDS interleaved rounds (each a median of CUDA-event timings), so
the spread across rounds shows clock and machine variation that one measurement hides.

    python bench/fwd_repeat.py --out DIR [--rounds 5]     -> DIR/attention_h200_fwd_repeat.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attention_bench as AB  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from infernav.kernels import ops  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--rounds", type=int, default=5)
    ns = ap.parse_args()
    B, H, N, d = 4, 16, 8192, 128
    res = {"device": torch.cuda.get_device_name(), "shape": [B, H, N, N, d], "rounds": ns.rounds, "rows": []}
    res["ceilings"] = AB.ceilings()
    cases = []
    for dtype in (torch.bfloat16, torch.float16):
        q, k, v = (AB.rand((B, H, N, d), dtype, s) for s in (41, 42, 43))
        out = torch.empty_like(q)
        for causal in (False, True):
            flops = 4.0 * B * H * N * N * d * (0.5 if causal else 1.0)
            kernels = {f"fa3ws_cfg{c}": (lambda c=c, causal=causal, q=q, k=k, v=v, out=out:
                                          ops.flash_attn(q, k, v, causal=causal, out=out, backend="fa3ws", cfg=c))
                       for c in (0, 1, 5)}
            kernels["sdpa_cudnn"] = (lambda causal=causal, q=q, k=k, v=v, out=out: out.copy_(
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)))
            cases.append((str(dtype).split(".")[-1], causal, flops, kernels))
    samples = {(dt, c, name): [] for dt, c, _, ks in cases for name in ks}
    for r in range(ns.rounds):
        for dt, causal, flops, kernels in cases:
            for name, fn in kernels.items():
                if name == "sdpa_cudnn":
                    with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.CUDNN_ATTENTION]):
                        ms, _ = AB.time_cuda(fn, target_ms=150, max_reps=30)
                else:
                    ms, _ = AB.time_cuda(fn, target_ms=150, max_reps=30)
                samples[(dt, causal, name)].append(flops / (ms * 1e-3) / 1e12)
        AB.log(f"round {r + 1} done")
    print(f"| dtype | causal | kernel | TFLOP/s per round ({ns.rounds} rounds) | median | min | max |")
    print("|---|---|---|---|---|---|---|")
    for (dt, causal, name), xs in samples.items():
        res["rows"].append({"dtype": dt, "causal": causal, "kernel": name, "TFLOPs": xs})
        print(f"| {dt} | {'yes' if causal else 'no'} | {name} | {' '.join(f'{x:.0f}' for x in xs)} | "
              f"{statistics.median(xs):.0f} | {min(xs):.0f} | {max(xs):.0f} |")
    Path(ns.out).mkdir(parents=True, exist_ok=True)
    (Path(ns.out) / "attention_h200_fwd_repeat.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
