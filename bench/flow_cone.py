"""How much of vLLM's value flow one file's edit can reach (not a test): evidence for the
incremental solver NOTES "Python resolution" plans.

  python bench/flow_cone.py [FILE ...]      # paths inside vllm/, default: five files
  python bench/flow_cone.py --sample 60     # and 60 more, drawn at random (seed 0) from vLLM's Python files

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
        keep["state"] = _work_per_variable(self.s)
        release(self)

    flow._declare, flow._build, solver.var, flow.release = tag(declare), tag(build), tagged_var, keep_edges
    solver.add, solver.copy, solver.hook = traced_add, traced_copy, traced_hook
    try:
        _resolve(files, settings)
    finally:
        flow._declare, flow._build, solver.var, flow.release = declare, build, var, release
        solver.add, solver.copy, solver.hook = add, copy, hook
    return owner, keep["succ"], deps, keep["paths"], keep["state"]


def _work_per_variable(s) -> dict:
    """What re-solving a set of variables costs, per variable (hooks that fire again, values that
    arrive again), and which variables take part in container classes (whose unions a cone re-solve
    cannot undo one by one: a cone that holds any of them needs the classes rebuilt)."""
    hooks = {v: len(fns) for v, fns in s.hooks.items()}
    values = {v: len(p) for v, p in enumerate(s.pts) if p}
    classy = set(s._over) | set(s._has_cls)
    return {"hooks": hooks, "values": values, "classy": classy}


def cone(owner: list[int], graphs: list[dict], fi: int, reached: set | None = None) -> tuple[int, int, int]:
    """(own variables, variables reached over the union of `graphs`, modules they belong to);
    `reached`, if given, receives the variables reached."""
    start = [v for v, o in enumerate(owner) if o == fi]
    seen, queue = set(start), deque(start)
    while queue:
        v = queue.popleft()
        for g in graphs:
            for s in g.get(v, ()):
                if s not in seen:
                    seen.add(s)
                    queue.append(s)
    if reached is not None:
        reached.update(seen)
    return len(start), len(seen), len(Counter(owner[v] for v in seen))


def main() -> None:
    from infernav.analyzer import indexer, sources

    args = sys.argv[1:]
    sample = 0
    if args[:1] == ["--sample"]:
        sample, args = int(args[1]), args[2:]
    targets = args or DEFAULT
    ref = sources.parse_ref("vllm")
    conn = sqlite3.connect(indexer.index_path(ref))
    gc.disable()
    files = [marshal.loads(b) for (b,) in conn.execute("SELECT facts FROM files WHERE facts IS NOT NULL")]
    t = time.perf_counter()
    owner, succ, deps, paths, state = tagged_solve(files, ref.settings)
    all_hooks, all_values = sum(state["hooks"].values()), sum(state["values"].values())
    if sample:
        import random

        pool = sorted(p for p in paths if p.endswith(".py") and p not in targets)
        targets = targets + random.Random(0).sample(pool, sample)
    rows = []
    for target in targets:
        fi = paths.index(target)
        own, lower, lower_mods = cone(owner, [succ], fi)
        seen: set[int] = set()
        _, reached, modules = cone(owner, [succ, deps], fi, seen)
        hooks = sum(state["hooks"].get(v, 0) for v in seen)
        values = sum(state["values"].get(v, 0) for v in seen)
        rows.append({"file": target, "own_vars": own, "copy_cone_vars": lower, "copy_cone_modules": lower_mods,
                     "cone_vars": reached, "cone_share_pct": round(100 * reached / len(owner), 2),
                     "cone_modules": modules,
                     "cone_hooks_pct": round(100 * hooks / all_hooks, 2),
                     "cone_values_pct": round(100 * values / all_values, 2),
                     "cone_class_vars": len(seen & state["classy"])})
        print(f"{target}: {own} own variables; copy edges reach {lower} ({lower_mods} modules); with hook "
              f"dependencies {reached} ({rows[-1]['cone_share_pct']} % of {len(owner)}) in {modules} of "
              f"{len(paths)} modules; {rows[-1]['cone_hooks_pct']} % of the hooks, "
              f"{rows[-1]['cone_values_pct']} % of the values held; {rows[-1]['cone_class_vars']} variables "
              f"in container classes")
    out = Path(__file__).resolve().parent / "results" / "flow_cone.json"
    out.write_text(json.dumps({"framework": ref.key, "variables": len(owner), "modules": len(paths),
                               "hooks": all_hooks, "values_held": all_values,
                               "class_vars": len(state["classy"]),
                               "solve_s": round(time.perf_counter() - t, 2), "load_avg": os.getloadavg()[0],
                               "summary": _summary(rows), "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


def _summary(rows: list[dict]) -> dict:
    """Median and worst cone over the files measured, and how many cones reach container classes."""
    import statistics

    shares = sorted(r["cone_hooks_pct"] for r in rows)
    return {"files": len(rows), "median_cone_hooks_pct": statistics.median(shares), "max_cone_hooks_pct": shares[-1],
            "files_under_1pct_hooks": sum(1 for x in shares if x < 1),
            "cones_reaching_classes": sum(1 for r in rows if r["cone_class_vars"])}


if __name__ == "__main__":
    main()
