"""Release-diff benchmark (not a test, not pass/fail): the whole-engine diff of two indexed vLLM
versions, in-process (release_diff) and as a user runs it (the CLI, whole process, --json).

  python bench/diff_bench.py [--from vllm@0.14.1] [--to vllm@0.33.0] [--runs 3]

Both versions must be fetched and indexed already (`infernav fetch vllm@0.33.0 && infernav index
vllm@0.33.0`); the benchmark never builds an index. Writes bench/results/diff_bench.json: wall
and CPU seconds per run and per phase, the median, the machine's load average before and after
(the 2-core machine is shared, so wall time moves with the load, and CPU time too, less), the best
run, and the diff's totals.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
_exe = Path(sys.executable).with_name("infernav")
INFERNAV = [str(_exe)] if _exe.exists() else [sys.executable, "-m", "infernav.analyzer.cli"]


def _open(key: str):
    from infernav.analyzer import sources, store
    from infernav.analyzer.indexer import index_path
    from infernav.analyzer.query import Index

    ref = sources.parse_ref(key)
    try:
        return Index(index_path(ref))
    except store.IndexProblem as exc:
        sys.exit(f"{key}: {exc.reason}; run: infernav fetch {key} && infernav index {key}")


def _in_process(a_key: str, b_key: str, runs: int) -> tuple[list[dict], dict]:
    from infernav.analyzer.diff import release_diff

    out, totals = [], {}
    for _ in range(runs):
        a, b = _open(a_key), _open(b_key)          # a fresh open each run: nothing cached
        wall, cpu = time.perf_counter(), time.process_time()
        d = release_diff(a, b)
        out.append({"wall": round(time.perf_counter() - wall, 3), "cpu": round(time.process_time() - cpu, 3),
                    "phases": d.seconds})
        totals = d.totals
        a.close()
        b.close()
    return out, totals


def _cli(a_key: str, b_key: str, runs: int) -> list[dict]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        before = os.times()
        r = subprocess.run(INFERNAV + ["diff", a_key, b_key, "--json"], capture_output=True, text=True)
        after = os.times()
        if r.returncode not in (0, 1):
            sys.exit(f"infernav diff failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        out.append({"wall": round(time.perf_counter() - t0, 3),
                    "cpu": round((after.children_user - before.children_user)
                                 + (after.children_system - before.children_system), 3),
                    "stdout_bytes": len(r.stdout)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="a", default="vllm@0.14.1")
    ap.add_argument("--to", dest="b", default="vllm@0.33.0")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "diff_bench.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    inproc, totals = _in_process(args.a, args.b, args.runs)
    cli = _cli(args.a, args.b, args.runs)
    result = {
        "benchmark": "whole-engine release diff (infernav diff A B --json; analyzer.diff.release_diff)",
        "date": date.today().isoformat(),
        "infernav_commit": _commit(),
        "from": args.a, "to": args.b, "runs": args.runs, "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "in_process": _summary(inproc),
        "cli": _summary(cli),
        "totals": totals,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    ip, cl = result["in_process"], result["cli"]
    print(f"{args.a} -> {args.b}: in-process {ip['min_wall']} s wall best, {ip['median_wall']} median "
          f"({ip['min_cpu']} / {ip['median_cpu']} s CPU); CLI --json {cl['min_wall']} / {cl['median_wall']} s wall "
          f"({cl['min_cpu']} / {cl['median_cpu']} s CPU) (load {result['load_average_before'][0]} -> "
          f"{result['load_average_after'][0]} on {result['cores']} cores); wrote {args.out}")


def _summary(runs: list[dict]) -> dict:
    """Median and best of the runs (on a shared machine the best is the least disturbed one)."""
    return {"median_wall": statistics.median(r["wall"] for r in runs), "min_wall": min(r["wall"] for r in runs),
            "median_cpu": statistics.median(r["cpu"] for r in runs), "min_cpu": min(r["cpu"] for r in runs),
            "runs": runs}


def _commit() -> str:
    r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True)
    return r.stdout.strip()


if __name__ == "__main__":
    main()
