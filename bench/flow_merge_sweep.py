"""What MERGE_AT buys and costs (not a test): the call graph and resolve time per value of
python_solver.MERGE_AT, against the solve with containers never merged (MERGE_AT 10**9: every
variable keeps every container, the exact answer of this analysis and its most expensive run).

  python bench/flow_merge_sweep.py [ENGINE] [--merge-at 4,8,16,32]

Runs the whole resolution in-process on the stored facts of $INFERNAV_HOME's index (index it
first) once per value; counts call edges (caller, callee, line, via) present with merging and
absent unmerged ("extra": what uniting unrelated containers invents) and the reverse ("missing"),
the callees most of the extra ones go to, and each run's resolve time. Writes
bench/results/flow_merge_sweep.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "flow_merge_sweep.json"
UNMERGED = 10**9


def _edges(files: list, settings: dict) -> tuple[set, float]:
    from infernav.analyzer.resolve import resolve

    t = time.perf_counter()
    g = resolve(files, settings)
    secs = time.perf_counter() - t
    name = {i: s.name for i, s in enumerate(g.symbols)}
    return {(name[a], name[b], line, via) for a, b, line, _res, via in g.edges}, secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framework", nargs="?", default="vllm")
    ap.add_argument("--merge-at", default="4,8,16,32")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    from infernav.analyzer import indexer, sources, store
    from infernav.analyzer.resolve import python_solver

    try:
        ref = sources.parse_ref(args.framework)
    except sources.SourceError as exc:
        raise SystemExit(f"error: {exc}") from None
    path = indexer.index_path(ref)
    if not path.exists():
        raise SystemExit(f"error: no index at {path} (run: infernav index {args.framework})")
    files = store.all_facts(sqlite3.connect(path))
    default = python_solver.MERGE_AT
    rows = []
    try:
        python_solver.MERGE_AT = UNMERGED
        exact, exact_s = _edges(files, ref.settings)
        print(f"{ref.key}: unmerged {len(exact)} edges, resolve {exact_s:.2f} s")
        for k in [int(x) for x in args.merge_at.split(",") if x]:
            python_solver.MERGE_AT = k
            got, secs = _edges(files, ref.settings)
            extra, missing = got - exact, exact - got
            top = Counter(e[1] for e in extra).most_common(3)
            rows.append({"merge_at": k, "edges": len(got), "extra": len(extra), "missing": len(missing),
                         "extra_callees": top, "resolve_s": round(secs, 2)})
            print(f"  MERGE_AT {k}: {len(got)} edges, {len(extra)} extra, {len(missing)} missing, "
                  f"resolve {secs:.2f} s; extra mostly to {top}")
    finally:
        python_solver.MERGE_AT = default
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=HERE, capture_output=True,
                            text=True).stdout.strip()
    doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "framework": ref.key,
           "load_average": round(os.getloadavg()[0], 1), "default_merge_at": default,
           "unmerged": {"edges": len(exact), "resolve_s": round(exact_s, 2)}, "runs": rows}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
