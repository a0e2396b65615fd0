"""Where a one-file edit re-index of vLLM spends its time, phase by phase (a bench, not a test).

  python bench/edit_profile.py [--runs 3] [--out bench/results/edit_profile.json] [--no-check]

Works on a private copy of the fetched vLLM tree (shutil.copytree, symlinks kept) with its own
INFERNAV_HOME, so the user's cache and indexes are left as they were. The copy is indexed cold;
then, per run, block_pool.py is put back as it was and re-indexed (not timed), the 'body' edit of
bench/index_bench.py is made, and a fresh interpreter runs the incremental `build()` with each
phase's function wrapped by a timer. Times are exclusive (a phase's time leaves out the phases
called inside it: "Python calls (rest)" is resolve_calls without the flow solve), and "other" is
what build() spent outside every named phase (the facts and graph freed at its end, bookkeeping).
build() is called as `infernav index` calls it (exiting=True, where build() has that parameter);
"process" is the child's whole wall time, interpreter start and exit included.
A phase the code no longer has is simply not reported. The median of the runs is written to --out;
unless --no-check, the last incremental index is compared with a cold index of the edited tree.
"""
from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
TARGET = Path("vllm") / "v1" / "core" / "block_pool.py"

# (module, attribute path, phase): every function of the edit path worth a line of its own.
PHASES = [
    ("infernav.analyzer.sources", "verify", "verify source"),
    ("infernav.analyzer.indexer", "_scan", "scan"),
    ("infernav.analyzer.indexer", "_open_previous", "open index (quick_check, file states)"),
    ("infernav.analyzer.indexer", "_plan", "plan + hash"),
    ("infernav.analyzer.indexer", "_parse_many", "parse"),
    ("infernav.analyzer.indexer", "_same_facts", "same-facts check"),
    ("infernav.analyzer.indexer", "_collect_facts", "load stored facts"),
    ("infernav.analyzer.reuse", "cpp_key", "C++ part key"),
    ("infernav.analyzer.reuse", "stored_cpp", "load stored C++ part"),
    ("infernav.analyzer.resolve", "resolve", "resolve (other)"),
    ("infernav.analyzer.resolve.cpp", "CppResolver.build_symbols", "C++ symbols"),
    ("infernav.analyzer.resolve.cross_language", "cpp_registrations", "C++ registrations"),
    ("infernav.analyzer.resolve.python", "PyResolver.build_symbols", "Python symbols"),
    ("infernav.analyzer.resolve.cross_language", "python_ops", "Python ops"),
    ("infernav.analyzer.resolve.cpp", "CppResolver.resolve_calls", "C++ calls"),
    ("infernav.analyzer.resolve.python", "PyResolver.resolve_calls", "Python calls (rest)"),
    ("infernav.analyzer.resolve.python_flow", "Flow.solve", "Python flow solve"),
    ("infernav.analyzer.resolve.python", "PyResolver.release", "release (Python tables)"),
    ("infernav.analyzer.resolve.python_flow", "Flow.release", "release (flow)"),
    ("infernav.analyzer.resolve.cpp", "CppResolver.release", "release (C++ tables)"),
    ("infernav.analyzer.store", "write_incremental", "store"),
    ("infernav.analyzer.store", "write_full", "store"),
]


class Timers:
    """Exclusive seconds per phase: a wrapped call's time minus that of wrapped calls inside it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._inner: list[float] = []

    def wrap(self, fn: Callable, phase: str) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - t0
                inner = self._inner.pop()
                self.seconds[phase] = self.seconds.get(phase, 0.0) + spent - inner
                if self._inner:
                    self._inner[-1] += spent
        return timed

    def patch(self, module: str, attr: str, phase: str) -> None:
        import importlib

        try:
            owner: Any = importlib.import_module(module)
        except ImportError:   # an older tree (bench run against it through PYTHONPATH) has no such module
            return
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, name, None)   # on a class: the function, wherever in the MRO it is defined
        if fn is None:
            return
        setattr(owner, name, self.wrap(fn, phase))


class _TimedGc:
    """gcpause's view of the gc module, with freeze() timed (the survivors frozen after a build)."""

    def __init__(self, timers: Timers) -> None:
        self.freeze = timers.wrap(gc.freeze, "gc freeze")

    def __getattr__(self, name: str) -> Any:
        return getattr(gc, name)


def child(framework: str) -> None:
    """One incremental build of `framework` in this interpreter, phases timed: JSON on stdout."""
    t0 = time.perf_counter()
    from infernav.analyzer import gcpause, indexer, sources
    from infernav.analyzer.resolve import cpp, python, python_flow  # noqa: F401  (imported to be patched)

    timers = Timers()
    timers.seconds["imports"] = time.perf_counter() - t0
    for module, attr, phase in PHASES:
        timers.patch(module, attr, phase)
    gcpause.gc = _TimedGc(timers)
    ref = sources.parse_ref(framework)
    root = sources.locate(ref)
    # As `infernav index` runs it: told that the process ends afterwards, where build() can be told.
    exiting = "exiting" in inspect.signature(indexer.build).parameters
    t1 = time.perf_counter()
    report = timers.wrap(indexer.build, "other")(ref, root, **({"exiting": True} if exiting else {}))
    total = time.perf_counter() - t1
    print(json.dumps({"mode": report.mode, "parsed": report.parsed, "build": total, "phases": timers.seconds,
                      "report_seconds": report.seconds, "exiting": exiting}), flush=True)


def _run_child(env: dict, framework: str) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", framework], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"edit_profile: the timed build failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def _infernav(env: dict, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "infernav.analyzer.cli", *args], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"edit_profile: infernav {' '.join(args)} failed: {proc.stdout[-300:]}{proc.stderr[-300:]}")


def _commit() -> str:
    out = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "edit_profile.json")
    ap.add_argument("--no-check", action="store_true", help="skip the comparison with a cold index")
    ap.add_argument("--child", metavar="FRAMEWORK", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return

    sys.path.insert(0, str(HERE))
    from index_bench import EDITS, dump
    from infernav.analyzer import sources

    vref = sources.parse_ref("vllm")
    if sources.locate(vref) is None:
        raise SystemExit("edit_profile: vllm is not fetched (run: infernav fetch vllm)")
    work = Path(tempfile.mkdtemp(prefix="infernav-edit-profile-"))
    try:
        copy = work / "vllm-copy"
        shutil.copytree(sources.locate(vref), copy, symlinks=True)
        home = work / "home"
        (home / "sources").mkdir(parents=True)
        (home / "sources" / f"{vref.key}.link").write_text(str(copy))
        env = {**os.environ, "INFERNAV_HOME": str(home)}
        env.pop("INFERNAV_PINS", None)
        original = (copy / TARGET).read_bytes()
        _infernav(env, "index", "vllm", "--force", "-q")
        runs, walls, loads = [], [], []
        for _ in range(args.runs):
            (copy / TARGET).write_bytes(original)
            _infernav(env, "index", "vllm", "-q")
            EDITS["body"](copy)
            loads.append(os.getloadavg()[0])
            result, wall = _run_child(env, "vllm")
            if result["mode"] != "incremental":
                raise SystemExit(f"edit_profile: expected an incremental build, got {result['mode']}")
            runs.append(result)
            walls.append(wall)
            print(f"run {len(runs)}: build {result['build']:.2f} s, process {wall:.2f} s", file=sys.stderr)
        check = "not checked"
        if not args.no_check:
            inc = dump(home / "index" / f"{vref.key}.sqlite")
            _infernav(env, "index", "vllm", "--force", "-q")
            check = "identical to a cold index" if inc == dump(home / "index" / f"{vref.key}.sqlite") \
                else "DIFFERS from a cold index"
    finally:
        shutil.rmtree(work, ignore_errors=True)

    names = list(dict.fromkeys(p for r in runs for p in r["phases"]))
    median = {p: statistics.median(r["phases"].get(p, 0.0) for r in runs) for p in names}
    import infernav.analyzer

    doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": _commit(), "cores": os.cpu_count(),
           "analyzer": str(Path(infernav.analyzer.__file__).parent),   # the code timed (PYTHONPATH can swap it)
           "python": sys.version.split()[0], "edit": "body (a function appended to vllm/v1/core/block_pool.py)",
           "runs": len(runs), "load_average": loads, "check": check,
           "median_seconds": {p: round(s, 3) for p, s in median.items()},
           "build_seconds": round(statistics.median(r["build"] for r in runs), 3),
           "process_seconds": round(statistics.median(walls), 3),
           "per_run": [{p: round(s, 3) for p, s in r["phases"].items()} for r in runs]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    width = max(len(p) for p in names)
    for p in names:
        print(f"{p:<{width}}  {median[p]:6.3f} s")
    print(f"{'build() total':<{width}}  {doc['build_seconds']:6.3f} s")
    print(f"{'process (interpreter to exit)':<{width}}  {doc['process_seconds']:6.3f} s")
    print(f"{check}; load average {', '.join(f'{x:.1f}' for x in loads)} on {os.cpu_count()} cores; wrote {args.out}")


if __name__ == "__main__":
    main()
