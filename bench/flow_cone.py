"""How much of vLLM's value flow one file's edit can reach (not a test): evidence for the
incremental solver NOTES "Python resolution" plans.

  python bench/flow_cone.py [FILE ...]      # paths inside vllm/, default: five files

Runs the whole resolution on the index's stored facts with each solver variable tagged by the
module whose declare/build pass created it, then, per FILE, walks the final copy edges (static
ones and those that hooks added while solving) forward from that module's variables. The cone is
a LOWER bound of what an edit of the file could change: a hook (a call site, an attribute load)
also makes a variable depend on the values of its trigger variable, and those dependencies are
not edges. Variables created by deferred work are tagged with the last module built. Writes
bench/results/flow_cone.json.
"""
from __future__ import annotations

import gc
import json
import marshal
import os
import sqlite3
import sys
import time
from collections import Counter, deque
from pathlib import Path

DEFAULT = ["vllm/v1/core/block_pool.py", "vllm/v1/core/sched/scheduler.py", "vllm/utils/__init__.py",
           "vllm/entrypoints/llm.py", "vllm/model_executor/models/llama.py"]


def tagged_solve(files: list, settings: dict) -> tuple[list[int], dict, list[str]]:
    """(owner module index per variable, the final copy edges, module paths)."""
    from infernav.analyzer.resolve import _resolve, python_flow, python_solver

    cur, owner, keep = [-1], [], {}
    flow, solver = python_flow.Flow, python_solver.Solver
    declare, build, var, release = flow._declare, flow._build, solver.var, flow.release

    def tag(step):
        def run(self, fi):
            cur[0] = fi
            step(self, fi)
        return run

    def tagged_var(self):
        owner.append(cur[0])
        return var(self)

    def keep_edges(self):
        keep["succ"], keep["paths"] = self.s.succ, [f["path"] for f in self.files]
        release(self)

    flow._declare, flow._build, solver.var, flow.release = tag(declare), tag(build), tagged_var, keep_edges
    try:
        _resolve(files, settings)
    finally:
        flow._declare, flow._build, solver.var, flow.release = declare, build, var, release
    return owner, keep["succ"], keep["paths"]


def cone(owner: list[int], succ: dict, fi: int) -> tuple[int, int, int]:
    start = [v for v, o in enumerate(owner) if o == fi]
    seen, queue = set(start), deque(start)
    while queue:
        for s in succ.get(queue.popleft(), ()):
            if s not in seen:
                seen.add(s)
                queue.append(s)
    return len(start), len(seen), len(Counter(owner[v] for v in seen))


def main() -> None:
    from infernav.analyzer import indexer, sources

    targets = sys.argv[1:] or DEFAULT
    ref = sources.parse_ref("vllm")
    conn = sqlite3.connect(indexer.index_path(ref))
    gc.disable()
    files = [marshal.loads(b) for (b,) in conn.execute("SELECT facts FROM files WHERE facts IS NOT NULL")]
    t = time.perf_counter()
    owner, succ, paths = tagged_solve(files, ref.settings)
    rows = []
    for target in targets:
        own, reached, modules = cone(owner, succ, paths.index(target))
        rows.append({"file": target, "own_vars": own, "cone_vars": reached,
                     "cone_share_pct": round(100 * reached / len(owner), 2), "cone_modules": modules})
        print(f"{target}: {own} own variables; forward cone {reached} variables "
              f"({rows[-1]['cone_share_pct']} % of {len(owner)}) in {modules} of {len(paths)} modules")
    out = Path(__file__).resolve().parent / "results" / "flow_cone.json"
    out.write_text(json.dumps({"framework": ref.key, "variables": len(owner), "modules": len(paths),
                               "solve_s": round(time.perf_counter() - t, 2), "load_avg": os.getloadavg()[0],
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
