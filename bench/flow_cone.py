"""How much of vLLM's value flow one file's edit can reach (not a test): evidence for the
incremental solver NOTES "Python resolution" plans.

  python bench/flow_cone.py [FILE ...]      # paths inside vllm/, default: five files

Runs the whole resolution on the index's stored facts with each solver variable tagged by the
module whose declare/build pass created it, then, per FILE, walks forward from that module's
variables over two kinds of dependency: the final copy edges (static ones and those hooks added
while solving), and hook dependencies (while a hook of variable u runs, every variable it adds
values or copy edges to depends on u: a call site on its callee, an attribute load on its base).
`copy_cone` uses the first only (a lower bound), `cone` both (what a cone re-solve would redo,
up to the decisions `at_fixpoint` runs, which have no trigger). Variables those decisions make are
tagged with the last module built. Writes bench/results/flow_cone.json.
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

    cur, owner, keep, trig, deps = [-1], [], {}, [-1], {}
    flow, solver = python_flow.Flow, python_solver.Solver
    declare, build, var, release = flow._declare, flow._build, solver.var, flow.release
    add, copy, hook, drain = solver.add, solver.copy, solver.hook, solver._drain

    def note(v):
        if trig[0] >= 0 and trig[0] != v:
            deps.setdefault(trig[0], set()).add(v)

    def traced_add(self, v, vals):
        note(v)
        add(self, v, vals)

    def traced_copy(self, src, dst):
        note(dst)
        copy(self, src, dst)

    def traced_hook(self, v, fn):
        def run(new, v=v, fn=fn):
            outer, trig[0] = trig[0], v
            try:
                fn(new)
            finally:
                trig[0] = outer
        hook(self, v, run)

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
    solver.add, solver.copy, solver.hook = traced_add, traced_copy, traced_hook
    try:
        _resolve(files, settings)
    finally:
        flow._declare, flow._build, solver.var, flow.release = declare, build, var, release
        solver.add, solver.copy, solver.hook = add, copy, hook
    return owner, keep["succ"], deps, keep["paths"]


def cone(owner: list[int], graphs: list[dict], fi: int) -> tuple[int, int, int]:
    """(own variables, variables reached over the union of `graphs`, modules they belong to)."""
    start = [v for v, o in enumerate(owner) if o == fi]
    seen, queue = set(start), deque(start)
    while queue:
        v = queue.popleft()
        for g in graphs:
            for s in g.get(v, ()):
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
    owner, succ, deps, paths = tagged_solve(files, ref.settings)
    rows = []
    for target in targets:
        fi = paths.index(target)
        own, lower, lower_mods = cone(owner, [succ], fi)
        _, reached, modules = cone(owner, [succ, deps], fi)
        rows.append({"file": target, "own_vars": own, "copy_cone_vars": lower, "copy_cone_modules": lower_mods,
                     "cone_vars": reached, "cone_share_pct": round(100 * reached / len(owner), 2),
                     "cone_modules": modules})
        print(f"{target}: {own} own variables; copy edges reach {lower} ({lower_mods} modules); with hook "
              f"dependencies {reached} ({rows[-1]['cone_share_pct']} % of {len(owner)}) in {modules} of "
              f"{len(paths)} modules")
    out = Path(__file__).resolve().parent / "results" / "flow_cone.json"
    out.write_text(json.dumps({"framework": ref.key, "variables": len(owner), "modules": len(paths),
                               "solve_s": round(time.perf_counter() - t, 2), "load_avg": os.getloadavg()[0],
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
