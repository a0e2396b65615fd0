"""Scheduler benchmark: the full differential run against the real vLLM scheduler, and the
simulator's two showcases (continuous vs static batching; swap vs recompute under pressure).

    .venv/bin/python bench/scheduler_bench.py [--traces 1000] [--out bench/out]

Prints markdown tables (docs/dev/scheduler.md quotes them) and writes PNG plots to --out.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORACLE = REPO / "tests" / "oracle"


def oracle_run(traces: int) -> dict:
    spec = importlib.util.spec_from_file_location("bv", ORACLE / "build_venv.py")
    bv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bv)
    stamp = bv.ensure()
    cmd = [stamp["python"], str(ORACLE / "scheduler_differential.py"), "--vllm-root", stamp["vllm_root"],
           "--seeds", f"0:{traces}"]
    t = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=bv.oracle_env(), check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s"] = round(time.monotonic() - t, 1)
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=1000)
    ap.add_argument("--out", default=str(REPO / "bench" / "out"))
    ap.add_argument("--skip-oracle", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from infernav.reimpl.scheduler.sim import CostModel, build_strategy, format_table, make_trace, plot, simulate

    if not args.skip_oracle:
        r = oracle_run(args.traces)
        print(f"## differential vs vLLM 0.14.1 Scheduler\n\nseeds 0:{args.traces}: {r['traces']} traces, "
              f"{r['disagreements']} disagreements, {r['steps_compared']} steps compared, "
              f"{r['wall_s']} s\n\ncoverage: {json.dumps(r['coverage'])}\n", flush=True)
    cost = CostModel.load()
    print(f"cost model: {cost.source}\n")
    trace = make_trace(n=300, rate=100, seed=1)
    res = [simulate(build_strategy(n, num_blocks=2000, max_batch_size=64), trace, cost)
           for n in ("static", "vllm", "ksana-swap")]
    print("## continuous vs static: 300 requests, Poisson 100/s, prompts 64-1024, outputs 16-512, "
          "half with one of 4 shared 256-token prefixes; 2000 blocks x 16 tokens, batch 64\n")
    print(format_table(res), "\n")
    plot(res, out / "sim_continuous_vs_static.png", 2000)
    trace = make_trace(n=200, rate=50, prompt_len=(256, 2048), output_len=(128, 1024), seed=3)
    rows = []
    strategies = []
    for n in ("vllm", "ksana-swap", "ksana-recompute"):
        s = build_strategy(n, num_blocks=500, max_batch_size=64)
        rows.append(simulate(s, trace, cost))
        strategies.append(s)
    print("## swap vs recompute under memory pressure: 200 requests, Poisson 50/s, prompts 256-2048, "
          "outputs 128-1024; 500 blocks x 16 tokens (8,000 tokens of KV), batch 64\n")
    print(format_table(rows), "\n")
    for s in strategies[1:]:
        print(f"{s.name}: {s.stats}")
    plot(rows, out / "sim_swap_vs_recompute.png", 500)
    print(f"\nplots: {out / 'sim_continuous_vs_static.png'}, {out / 'sim_swap_vs_recompute.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
