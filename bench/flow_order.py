"""Does the call graph depend on the order files are built in? (not a test; the test is
tests/test_flow_order.py, on fixtures).

  python bench/flow_order.py [FRAMEWORK ...] [--shuffles N]     # default: every indexed engine, 2
  python bench/flow_order.py vllm --shuffles 1 --container-cap 0 --out bench/results/flow_order_uncapped.json

Resolves each framework's stored facts (index it first) once with the Python files' constraints
built in path order and N times in seeded random orders, and compares the Graphs: call edges
(with their labels), unresolved call sites (with their reasons) and override pairs. An
incremental re-solve builds in another order than a cold one, so this has to be 0 before a re-solve
can be identical to a cold index. Also reports the solver's bounds: how many containers were merged
into how many classes (python_solver.MERGE_AT), and `cut` (HARD_CAP, the one bound that could
still depend on order).
`--merge-at N` sets python_solver.MERGE_AT (bench/flow_merge_sweep.py compares values of it).
Writes bench/results/flow_order.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "flow_order.json"
ENGINES = ["vllm", "ksanallm", "sglang"]


def _graph_view(graph) -> dict[str, set]:
    name = {i: s.name for i, s in enumerate(graph.symbols)}
    return {
        "edges": {(name[a], name[b], line, res, via) for a, b, line, res, via in graph.edges},
        "unresolved": {(name[s], line, text, why, target, partial)
                       for s, line, text, why, target, partial in graph.unresolved_sites},
        "overrides": {(name[a], name[b]) for a, b in graph.overrides},
    }


_LAST: dict = {}     # the solver counters of the last Flow solved (run() patches Flow.release)


def run(framework: str, shuffles: int) -> dict | None:
    from infernav.analyzer import indexer, sources, store
    from infernav.analyzer.resolve import python_flow, resolve

    try:
        ref = sources.parse_ref(framework)
    except sources.SourceError as exc:
        raise SystemExit(f"error: {exc}") from None
    path = indexer.index_path(ref)
    if not path.exists():
        print(f"skip {framework}: no index at {path} (run: infernav index {framework})")
        return None
    files = store.all_facts(sqlite3.connect(path))
    release = python_flow.Flow.release

    def keep_stats(self) -> None:
        _LAST.update(self.stats())
        release(self)

    python_flow.Flow.release = keep_stats
    try:
        t = time.perf_counter()
        base = _graph_view(resolve(files, ref.settings))
        base_s = time.perf_counter() - t
        stats = dict(_LAST)
        runs = []
        for seed in range(1, shuffles + 1):
            def order(n: int, seed: int = seed) -> list[int]:
                out = list(range(n))
                random.Random(seed).shuffle(out)
                return out
            other = _graph_view(resolve(files, ref.settings, build_order=order))
            runs.append({"seed": seed, **{k: len(base[k] ^ other[k]) for k in base}})
    finally:
        python_flow.Flow.release = release
    return {"framework": ref.key, "edges": len(base["edges"]), "unresolved_sites": len(base["unresolved"]),
            "resolve_s": round(base_s, 2), "solver": stats, "shuffled": runs,
            "identical": all(all(r[k] == 0 for k in base) for r in runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("frameworks", nargs="*", default=ENGINES)
    ap.add_argument("--shuffles", type=int, default=2)
    ap.add_argument("--merge-at", type=int, default=None,
                    help="allocation sites one variable's containers may come from before they are merged "
                         "into one class (default: the solver's MERGE_AT)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    from infernav.analyzer.resolve import python_solver

    if args.merge_at is not None:
        python_solver.MERGE_AT = args.merge_at
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=HERE, capture_output=True,
                            text=True).stdout.strip()
    results = []
    for fw in args.frameworks:
        r = run(fw, args.shuffles)
        if r is None:
            continue
        results.append(r)
        diffs = "; ".join(f"seed {x['seed']}: " + ", ".join(f"{k} {x[k]}" for k in ("edges", "unresolved", "overrides"))
                          for x in r["shuffled"])
        print(f"{r['framework']}: {r['edges']} edges, {r['unresolved_sites']} unresolved sites; differing under "
              f"shuffled build orders: {diffs}; merged {r['solver'].get('merged')} containers in {r['solver'].get('classes')} classes, "
              f"cut {r['solver'].get('cut')}; resolve {r['resolve_s']} s")
    doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "load_average": round(os.getloadavg()[0], 1),
           "shuffles": args.shuffles, "merge_at": python_solver.MERGE_AT, "results": results}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
