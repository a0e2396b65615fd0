"""The value flow's provenance log on a real engine (not a test): its size, what recording it
costs, and whether replaying it gives back every value and answer (resolve/python_provenance.py).

  python bench/flow_provenance.py [FRAMEWORK]     # default vllm; needs its index (for the facts)
  python bench/flow_provenance.py vllm --edit      # index_bench's same-size edit of block_pool.py,
                                                   # re-solved in place, against a cold solve
  python bench/flow_provenance.py vllm --sample 60 # and what taking back one file's build would
                                                   # force a re-solve to redo, per file (DRed's
                                                   # over-deletion; bench/flow_cone.py's sample)

Resolves the index's stored facts twice in this process, with the plain Solver and with the
LoggingSolver, timing each (the cyclic collector paused, as resolve() does), then, right after the
logged solve, replays the log; with --sample, computes each file's over-deletion and re-solves
each file in place (python_incremental.resolve_file_again, facts unchanged), comparing the Flow's
answers with the cold solve's.
Writes bench/results/flow_provenance_<framework>.json.
"""
from __future__ import annotations

import gc
import json
import marshal
import os
import resource
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path


def main() -> None:
    from infernav.analyzer import indexer, sources
    from infernav.analyzer.resolve import python_flow, resolve
    from infernav.analyzer.resolve.python_provenance import LoggingSolver, replay

    args = sys.argv[1:]
    sample = int(args[args.index("--sample") + 1]) if "--sample" in args else 0
    ref = sources.parse_ref(args[0] if args and not args[0].startswith("-") else "vllm")
    conn = sqlite3.connect(indexer.index_path(ref))
    gc.disable()
    files = [marshal.loads(b) for (b,) in conn.execute("SELECT facts FROM files WHERE facts IS NOT NULL")]
    if "--edit" in args:
        return _edit(ref, files)
    out: dict = {"framework": ref.key, "load_avg_before": os.getloadavg()[0]}
    t = time.perf_counter()
    resolve(files, ref.settings)
    out["resolve_plain_s"] = round(time.perf_counter() - t, 2)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    checked: dict = {}

    def check(self):
        log = self.s.log
        checked["log_entries"] = len(log)
        checked["by_op"] = dict(Counter(e[1] for e in log))
        checked["by_cause"] = dict(Counter(e[0][0] for e in log))
        t = time.perf_counter()
        got = replay(self)
        checked["replay_s"] = round(time.perf_counter() - t, 2)
        checked["variables_differ"] = len(got.pop("variables"))
        checked["variables_not_exact"] = got.pop("variables_not_exact")
        checked["answers_differ"] = [k for k, v in got.items() if v]
        if sample:
            t = time.perf_counter()
            checked["over_deletion"] = _over_deletions(self, sample)
            checked["over_deletion_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            checked["again"] = _again(self, [r["file"] for r in checked["over_deletion"]["rows"]])
            checked["again_s"] = round(time.perf_counter() - t, 2)

    real_solve = python_flow.Flow.solve

    def solve_then_check(self, *a, **k):
        real_solve(self, *a, **k)
        check(self)
        return self

    python_flow.Flow.solver_class = LoggingSolver
    python_flow.Flow.solve = solve_then_check
    t = time.perf_counter()
    resolve(files, ref.settings)
    out["resolve_logging_s_with_checks"] = round(time.perf_counter() - t, 2)
    out["resolve_logging_s"] = round(out["resolve_logging_s_with_checks"] - checked["replay_s"]
                                     - checked.get("over_deletion_s", 0) - checked.get("again_s", 0), 2)
    out["peak_rss_mib_before_logging"] = rss0 // 1024
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    out.update(checked)
    out["load_avg_after"] = os.getloadavg()[0]
    path = Path(__file__).resolve().parent / "results" / f"flow_provenance_{ref.name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    print(f"wrote {path}")


EDITED = "vllm/v1/core/block_pool.py"


def _edit(ref, files: list) -> None:
    """index_bench's same-size edit (the first `get_num_free_blocks()` renamed) re-solved in
    place after a logged solve of the unedited facts, against a cold solve of the edited ones."""
    from infernav.analyzer import sources
    from infernav.analyzer.parse import extract_file
    from infernav.analyzer.resolve import python_flow, resolve
    from infernav.analyzer.resolve.python_incremental import update_file
    from infernav.analyzer.resolve.python_provenance import LoggingSolver

    old = next(f for f in files if f["path"] == EDITED)
    text = (sources.locate(ref) / EDITED).read_bytes()
    new_text = text.replace(b"get_num_free_blocks()", b"get_usage_number___()", 1)
    assert len(new_text) == len(text) and new_text != text
    edited = extract_file("py", new_text, EDITED, {"module": old["module"], "is_package": False})
    got: dict = {}
    solve = python_flow.Flow.solve

    def cold(self, *a, **k):
        solve(self, *a, **k)
        got["cold"] = _answers(self)
        return self

    python_flow.Flow.solve = cold
    resolve([edited if f is old else f for f in files], ref.settings)

    def then_edit(self, *a, **k):
        solve(self, *a, **k)
        got["before"] = _answers(self)
        at = next(i for i, f in enumerate(self.files) if f["path"] == EDITED)
        steps: dict = {}
        t = time.perf_counter()
        got["updated"] = update_file(self, at, edited, steps)
        got["seconds"], got["steps"] = round(time.perf_counter() - t, 3), steps
        got["after"] = _answers(self)
        return self

    python_flow.Flow.solver_class = LoggingSolver
    python_flow.Flow.solve = then_edit
    resolve(files, ref.settings)
    out = {"framework": ref.key, "file": EDITED, "edit": "first get_num_free_blocks() renamed (same size)",
           "updated_in_place": got["updated"], "seconds": got["seconds"], "steps": got["steps"],
           "answers_changed_by_the_edit": got["before"] != got["cold"],
           "equal_to_cold": got["after"] == got["cold"], "load_avg": os.getloadavg()[0]}
    path = Path(__file__).resolve().parent / "results" / f"flow_incremental_edit_{ref.name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    print(f"wrote {path}")


def _all_classes_reset(s, hooks: int) -> dict:
    """What a re-solve that resets every container class (the variables that went over, were
    given a class value, or hold a merged class's member or a class value) would redo: the
    upper bound for a cone that reaches the classes (python_incremental declines those today)."""
    from infernav.analyzer.resolve.python_provenance import cone

    merged = {aid for members in s._members.values() for aid in members}
    seeds = set(s._over) | set(s._has_cls)
    for v, p in enumerate(s.pts):
        for x in p or ():
            t = s.vals[x]
            if t[0] in ("S", "cS") or (t[0] == "s" and t[1] in merged):
                seeds.add(v)
                break
    got = cone(s, [], reset_too=seeds)
    return {"seed_vars": len(seeds), "reset_vars": len(got["reset"]),
            "work_pct": round(100 * (len(got["gone"]) + len(got["rerun"])) / hooks, 2)}


def _answers(flow) -> dict:
    return {"targets": {k: dict(v) for k, v in flow.site_targets.items() if v},
            "external": {k: set(v) for k, v in flow.site_external.items() if v},
            "top": set(flow.site_top), "extra": set(flow.extra_edges), "replaced": set(flow.replaced)}


def _again(flow, files: list[str]) -> list[dict]:
    """resolve_file_again on each file (its facts unchanged), timed, answers compared with cold."""
    from infernav.analyzer.resolve.python_incremental import resolve_file_again

    cold = _answers(flow)
    paths = [f["path"] for f in flow.files]
    rows = []
    for path in files:
        t = time.perf_counter()
        steps: dict = {}
        done = resolve_file_again(flow, paths.index(path), steps)
        secs = round(time.perf_counter() - t, 3)
        same = _answers(flow) == cold if done else None
        rows.append({"file": path, "resolved_again": done, "seconds": secs, "steps": steps,
                     "answers_equal_cold": same})
        print(f"again {path}: {'declined (resets a class-making variable)' if not done else ('same as cold' if same else 'DIFFERS')} in {secs} s")
    return rows


def _over_deletions(flow, sample: int) -> dict:
    """Per file of flow_cone's sample (its five files and `sample` more at random, seed 0)."""
    import random
    import statistics

    from infernav.analyzer.resolve.python_provenance import over_deletion

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from flow_cone import DEFAULT

    paths = [f["path"] for f in flow.files]
    pool = sorted(p for p in paths if p.endswith(".py") and p not in DEFAULT)
    targets = DEFAULT + random.Random(0).sample(pool, sample)
    hooks = sum(1 for e in flow.s.log if e[1] == "hook")
    rows = []
    for path in targets:
        fi = paths.index(path)
        got = over_deletion(flow.s, [("file", fi, "build")])
        got["work_pct"] = round(100 * (got["causes_gone"] + got["hooks_rerun"]) / hooks, 2)
        rows.append({"file": path, **got})
        print(f"{path}: {got}")
    shares = [r["work_pct"] for r in rows]
    classes = _all_classes_reset(flow.s, hooks)
    print(f"every container class reset: {classes}")
    return {"hooks": hooks, "vars": len(flow.s.pts), "every_class_reset": classes,
            "median_work_pct": statistics.median(shares),
            "files_under_1pct": sum(1 for x in shares if x < 1), "max_work_pct": max(shares), "rows": rows}


if __name__ == "__main__":
    main()
