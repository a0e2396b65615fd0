"""Smoke test of the newest kernels, one case at a time, before the test suite and the bench.

A kernel that deadlocks or traps leaves the CUDA context unusable, so each case runs in a worker
process; when the worker dies or hangs (per-case timeout), the case is marked failed and a fresh
worker takes the remaining cases. Prints one line per case and writes OUT/smoke.json; the device
script reads from it which fa3ws configs may run (INFERNAV_FA3WS_CFGS).

    python bench/kernel_smoke.py --out DIR
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CASES = [  # (name, kind, args)
    ("tc bf16 d128 g4", "tc", dict(d=128, hq=16, hkv=4, dtype="bfloat16")),
    ("tc fp16 d64 g8", "tc", dict(d=64, hq=32, hkv=4, dtype="float16")),
    ("tc fp8 d128 g8", "fp8", dict(d=128, hq=32, hkv=4, dtype="bfloat16")),
    ("fa3ws d128 cfg1", "fwd", dict(d=128, cfg=1)),
    ("fa3ws d128 cfg0", "fwd", dict(d=128, cfg=0)),
    ("fa3ws d64 cfg1", "fwd", dict(d=64, cfg=1)),
    ("fa3ws d64 cfg0", "fwd", dict(d=64, cfg=0)),
    ("fa3ws d256 cfg1", "fwd", dict(d=256, cfg=1)),
    ("fa3ws d256 cfg0", "fwd", dict(d=256, cfg=0)),
    ("fa3ws d128 cfg2", "fwd", dict(d=128, cfg=2)),
    ("fa3ws d128 cfg3", "fwd", dict(d=128, cfg=3)),
    ("fa3ws d64 cfg4", "fwd", dict(d=64, cfg=4)),
    ("fa3ws d128 cfg5", "fwd", dict(d=128, cfg=5)),
    ("fa3ws d128 cfg6", "fwd", dict(d=128, cfg=6)),
    ("fa3ws d128 cfg7", "fwd", dict(d=128, cfg=7)),
    ("fa3ws d128 cfg8", "fwd", dict(d=128, cfg=8)),
]


def worker(start: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import attention_bench  # noqa: F401,PLC0415  (sets up the infernav.kernels import)
    import torch  # noqa: PLC0415
    from infernav.kernels import ops  # noqa: PLC0415
    from infernav.kernels import reference as R  # noqa: PLC0415

    for i in range(start, len(CASES)):
        name, kind, a = CASES[i]
        print(f"START {i}", flush=True)
        torch.manual_seed(i)
        t0 = time.time()
        try:
            err = run_case(kind, a, torch, ops, R)
        except Exception as ex:  # noqa: BLE001
            print(f"DONE {i} FAIL {type(ex).__name__}: {str(ex)[:200]}", flush=True)
            sys.exit(3)  # the CUDA context may be unusable: a fresh worker takes the remaining cases
        tol = 1e-2
        print(f"DONE {i} {'PASS' if err <= tol else 'FAIL'} {err:.3e} {time.time() - t0:.1f}s", flush=True)


def run_case(kind, a, torch, ops, R) -> float:
    if kind == "fwd":
        errs = []
        for dtype in (torch.bfloat16, torch.float16):
            for causal in (False, True):
                for (B, hq, hkv, n, m) in ((1, 2, 1, 333, 333), (2, 4, 2, 130, 700)):
                    q = torch.randn(B, hq, n, a["d"], device="cuda").to(dtype)
                    k = torch.randn(B, hkv, m, a["d"], device="cuda").to(dtype)
                    v = torch.randn(B, hkv, m, a["d"], device="cuda").to(dtype)
                    out = torch.full_like(q, float("nan"))
                    ops.flash_attn(q, k, v, causal=causal, out=out, backend="fa3ws", cfg=a["cfg"])
                    torch.cuda.synchronize()
                    errs.append(R.rel_error(out, R.naive_attention(q, k, v, causal=causal)))
        return max(errs)
    else:
        dtype = getattr(torch, a["dtype"])
        kc, vc, tb, sl = R.make_paged_cache([1, 300, 1500, 0, 4097], a["hkv"], a["d"], 16,
                                            dtype=torch.float32 if kind == "fp8" else dtype, device="cuda")
        q = torch.randn(5, a["hq"], a["d"], device="cuda").to(dtype)
        errs = []
        if kind == "fp8":
            k8, ks = R.quantize_fp8_per_head(kc)
            v8, vs = R.quantize_fp8_per_head(vc)
            ref = R.paged_decode_naive(q, R.dequantize_fp8_per_head(k8, ks), R.dequantize_fp8_per_head(v8, vs),
                                       tb, sl)
            for splits in (0, 1, 3):
                out = ops.paged_decode(q, k8, v8, tb, sl, k_scale=ks, v_scale=vs, splits=splits)
                torch.cuda.synchronize()
                errs.append(R.rel_error(out, ref))
        else:
            ref = R.paged_decode_naive(q, kc, vc, tb, sl)
            for splits in (0, 1, 3):
                out = ops.paged_decode(q, kc, vc, tb, sl, impl="tc", splits=splits)
                torch.cuda.synchronize()
                errs.append(R.rel_error(out, ref))
    return max(errs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "bench/out"))
    ap.add_argument("--case-timeout", type=float, default=60.0)
    ap.add_argument("--worker", type=int, default=None)
    ns = ap.parse_args()
    if ns.worker is not None:
        worker(ns.worker)
        return
    import selectors  # noqa: PLC0415

    results: dict[str, str] = {}
    i = 0
    while i < len(CASES):
        spawned_at, cur, last = i, None, time.time()
        p = subprocess.Popen([sys.executable, __file__, "--worker", str(i)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        while True:
            if sel.select(timeout=1.0):
                line = p.stdout.readline()
                if not line:
                    break
                line = line.rstrip()
                if line.startswith("START "):
                    cur, last = int(line.split()[1]), time.time()
                elif line.startswith("DONE "):
                    parts = line.split()
                    k = int(parts[1])
                    results[CASES[k][0]] = " ".join(parts[2:])
                    print(f"{CASES[k][0]:20s} {' '.join(parts[2:])}", flush=True)
                    cur, i = None, k + 1
                else:
                    print("  | " + line, flush=True)
            elif time.time() - last > ns.case_timeout:
                p.kill()
                break
        p.wait()
        if cur is not None or i == spawned_at:
            k = cur if cur is not None else i
            results[CASES[k][0]] = f"FAIL (worker died or hung, rc={p.returncode})"
            print(f"{CASES[k][0]:20s} {results[CASES[k][0]]}", flush=True)
            i = k + 1
    Path(ns.out).mkdir(parents=True, exist_ok=True)
    (Path(ns.out) / "smoke.json").write_text(json.dumps(results, indent=1))
    ok = []
    for c in range(9):
        mine = [v for k, v in results.items() if k.startswith("fa3ws") and k.endswith(f"cfg{c}")]
        if mine and all(v.startswith("PASS") for v in mine):
            ok.append(c)
    print("FA3WS_OK=" + ",".join(map(str, ok)))


if __name__ == "__main__":
    main()
