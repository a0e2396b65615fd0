"""Where resolution's time goes, on an index's stored facts (not a test).

  python bench/resolve_profile.py vllm              # seconds per resolver step
  python bench/resolve_profile.py vllm --cprofile   # and the top of a cProfile of the whole pass

Reads the facts blobs of $INFERNAV_HOME's index of the framework (index it first) and runs the
steps of resolve/__init__.py's _resolve one by one, timing each (the cyclic collector paused, as
resolve() does).
"""
from __future__ import annotations

import argparse
import gc
import marshal
import os
import sqlite3
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framework")
    ap.add_argument("--cprofile", action="store_true")
    args = ap.parse_args()

    from infernav.analyzer import indexer, sources
    from infernav.analyzer.parse.languages import resolver_of
    from infernav.analyzer.resolve import cross_language, resolve
    from infernav.analyzer.resolve.cpp import CppResolver
    from infernav.analyzer.resolve.graph import Graph
    from infernav.analyzer.resolve.python import PyResolver

    ref = sources.parse_ref(args.framework)
    conn = sqlite3.connect(indexer.index_path(ref))
    gc.disable()
    t = time.perf_counter()
    rows = conn.execute("SELECT facts FROM files WHERE facts IS NOT NULL").fetchall()
    files = sorted((marshal.loads(b) for (b,) in rows), key=lambda f: f["path"])
    steps = [("load facts", time.perf_counter() - t)]

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        steps.append((name, time.perf_counter() - t0))
        return out

    graph = Graph()
    cpp = CppResolver(graph, [f for f in files if resolver_of(f["lang"]) == "cpp"], ref.settings)
    timed("C++ symbols + registrations", lambda: (cpp.build_symbols(), cross_language.cpp_registrations(cpp)))
    py = PyResolver(graph, [f for f in files if resolver_of(f["lang"]) == "python"], ref.settings)
    timed("Python symbols + ops", lambda: (py.build_symbols(), cross_language.python_ops(py)))
    timed("C++ calls", cpp.resolve_calls)
    links = cross_language.PythonLinks(torch_ops={**py.op_symbols, **cpp.op_symbols}, pybind=cpp.pybind_symbols,
                                      pybind_classes=cpp.pybind_classes)
    timed("Python calls (value flow)", lambda: py.resolve_calls(links))
    for name, secs in steps:
        print(f"{name:<30} {secs:6.2f} s")
    print(f"flow: {py.flow.stats()}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.cprofile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(resolve, files, ref.settings)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
