"""Issue 19's paged-decode variants on the bench's decode rows, in interleaved rounds (one device call).

    python bench/decode_sweep.py --out DIR [--rounds 3]

Same inputs as bench/attention_bench.py's decode table (same seeds, bf16 caches, block 16, shuffled
tables; fp8 caches quantized per KV head from them). Every variant is checked against float64 on two
sequences with a NaN-poisoned output first, then timed (median of CUDA events over ~150 ms) once per
round, the variants interleaved, so a drift of the clock or the memory shows as spread, not as a
difference between variants. The copy ceiling is measured in the same call, first and last. Writes
DIR/decode_sweep.json and prints a table: each variant's median % of copy over the rounds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attention_bench as B  # noqa: E402  (sets up the infernav.kernels import)
from attention_bench import R, ops  # noqa: E402

# name -> cfg (None: ops' default); 16-bit caches and fp8 caches
VARIANTS_16 = {"tc_default": None, "tc_cfg1": 1, "tc_cfg2": 2, "tcp_cfg10": 10, "tcp_cfg11": 11}
VARIANTS_16_D64 = {"tcp_cfg12": 12}
VARIANTS_FP8 = {"fp8_default": None, "fp8_cfg2": 2, "fp8_cfg7": 7, "fp8_cfg8": 8, "fp8_cfg9": 9, "fp8_cfg10": 10,
                "fp8_cfg11": 11, "fp8_cfg12": 12, "fp8_cfg13": 13, "fp8_cfg14": 14}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--rounds", type=int, default=3)
    ns = ap.parse_args()
    out_dir = Path(ns.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    res = {"device": f"{props.name}, {props.multi_processor_count} SMs", "torch": torch.__version__,
           "argv": sys.argv, "rounds": ns.rounds, "copy_TBps": B.copy_ceiling(), "rows": []}
    B.log(f"copy {res['copy_TBps']:.3f} TB/s")
    for (S, ctx, hq, hkv, d) in B.DECODE_CASES:
        bs = 16
        dtype = torch.bfloat16
        nblk = S * ctx // bs
        g = torch.Generator(device="cuda")
        g.manual_seed(S * 7 + ctx)
        kc = torch.randn((nblk, hkv, bs, d), device="cuda", generator=g).to(dtype)
        vc = torch.randn((nblk, hkv, bs, d), device="cuda", generator=g).to(dtype)
        tables = torch.randperm(nblk, device="cuda", generator=g).to(torch.int32).view(S, ctx // bs)
        lens = torch.full((S,), ctx, dtype=torch.int32, device="cuda")
        q = B.rand((S, hq, d), dtype, 99)
        kv_bytes = 2.0 * S * ctx * hkv * d * kc.element_size()
        small = 2.0 * q.numel() * q.element_size() + tables.numel() * 4
        nbytes16, nbytes8 = kv_bytes + small, kv_bytes / 2 + small + 2 * hkv * 4
        out = torch.empty_like(q)
        nchk = 2
        ref = R.paged_decode_naive(q[:nchk], kc, vc, tables[:nchk], lens[:nchk])
        fns = {}
        v16 = dict(VARIANTS_16, **(VARIANTS_16_D64 if d == 64 else {}))
        for name, cfg in v16.items():
            fns[name] = (lambda cfg=cfg: ops.paged_decode(q, kc, vc, tables, lens, max_seq_len=ctx, out=out,
                                                          impl="tc", cfg=cfg), nbytes16, ref, cfg, False)
        if d == 128:
            k8, ks = R.quantize_fp8_per_head(kc)
            v8, vs = R.quantize_fp8_per_head(vc)
            ref8 = R.paged_decode_naive(q[:nchk], R.dequantize_fp8_per_head(k8, ks), R.dequantize_fp8_per_head(v8, vs),
                                        tables[:nchk], lens[:nchk])
            for name, cfg in VARIANTS_FP8.items():
                fns[name] = (lambda cfg=cfg: ops.paged_decode(q, k8, v8, tables, lens, max_seq_len=ctx, out=out,
                                                              k_scale=ks, v_scale=vs, cfg=cfg), nbytes8, ref8, cfg, True)
        row = {"seqs": S, "ctx": ctx, "hq": hq, "hkv": hkv, "d": d, "block_size": bs, "bytes16": nbytes16,
               "bytes8": nbytes8, "variants": {}}
        for name, (fn, nb, rf, cfg, fp8) in fns.items():
            out.fill_(float("nan"))
            try:
                fn()
                torch.cuda.synchronize()
                key = (q.device, 1, 2 if fp8 else 1, d, cfg if cfg is not None else
                       ops.TC_DEFAULT_CFG["fp8" if fp8 else "16bit"], S, hkv, ctx, 0)
                row["variants"][name] = {"cfg": cfg, "err": R.rel_error(out[:nchk], rf), "ms": [],
                                         "splits": ops._TC_SPLITS.get(key)}
            except Exception as ex:  # noqa: BLE001
                row["variants"][name] = {"error": repr(ex)[:300]}
                B.log(f"{name} failed: {ex!r}"[:300])
        B.preheat(fns["tc_default"][0])      # as the bench does: bf16 GEMMs, then the default kernel
        for _ in range(ns.rounds):
            for name, (fn, nb, rf, cfg, fp8) in fns.items():
                v = row["variants"][name]
                if "error" in v:
                    continue
                ms, _ = B.time_cuda(fn, target_ms=150, max_reps=300)
                v["ms"].append(ms)
        for name, (fn, nb, rf, cfg, fp8) in fns.items():
            v = row["variants"][name]
            if "error" in v:
                continue
            v["ms_median"] = statistics.median(v["ms"])
            v["pct_copy"] = 100.0 * nb / (v["ms_median"] * 1e-3) / (res["copy_TBps"] * 1e12)
            v["pct_rounds"] = [100.0 * nb / (m * 1e-3) / (res["copy_TBps"] * 1e12) for m in v["ms"]]
            B.log(f"S={S} ctx={ctx} {hq}/{hkv} d={d} {name:12s} {v['ms_median']:.4f} ms {v['pct_copy']:5.1f}% "
                  f"rounds {' '.join(f'{x:.1f}' for x in v['pct_rounds'])} splits {v['splits']} err {v['err']:.1e}")
        res["rows"].append(row)
        del kc, vc, q, out
        k8 = v8 = None  # noqa: F841
        torch.cuda.empty_cache()
    res["copy_TBps_end"] = B.copy_ceiling()
    (out_dir / "decode_sweep.json").write_text(json.dumps(res, indent=1))
    print(f"\ncopy {res['copy_TBps']:.3f} TB/s, at the end {res['copy_TBps_end']:.3f}")
    for row in res["rows"]:
        vs = row["variants"]
        best16 = min((v["ms_median"] for k, v in vs.items() if not k.startswith("fp8") and "ms_median" in v),
                     default=None)
        cells = []
        for k, v in vs.items():
            if "ms_median" not in v:
                cells.append(f"{k}=ERR")
                continue
            c = f"{k}={v['pct_copy']:.1f}"
            if k.startswith("fp8") and best16:
                c += f"({best16 / v['ms_median']:.2f}x)"
            cells.append(c)
        print(f"S={row['seqs']} ctx={row['ctx']} {row['hq']}/{row['hkv']} d={row['d']}: " + " ".join(cells))


if __name__ == "__main__":
    main()
