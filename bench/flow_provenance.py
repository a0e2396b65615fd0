"""The value flow's provenance log on a real engine (not a test): its size, what recording it
costs, and whether replaying it gives back every value and answer (resolve/python_provenance.py).

  python bench/flow_provenance.py [FRAMEWORK]     # default vllm; needs its index (for the facts)

Resolves the index's stored facts twice in this process, with the plain Solver and with the
LoggingSolver, timing each (the cyclic collector paused, as resolve() does), then replays the log.
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

    ref = sources.parse_ref(sys.argv[1] if len(sys.argv) > 1 else "vllm")
    conn = sqlite3.connect(indexer.index_path(ref))
    gc.disable()
    files = [marshal.loads(b) for (b,) in conn.execute("SELECT facts FROM files WHERE facts IS NOT NULL")]
    out: dict = {"framework": ref.key, "load_avg_before": os.getloadavg()[0]}
    t = time.perf_counter()
    resolve(files, ref.settings)
    out["resolve_plain_s"] = round(time.perf_counter() - t, 2)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    checked: dict = {}
    release = python_flow.Flow.release

    def check_then_release(self):
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
        release(self)

    python_flow.Flow.solver_class = LoggingSolver
    python_flow.Flow.release = check_then_release
    t = time.perf_counter()
    resolve(files, ref.settings)
    out["resolve_logging_s_with_replay"] = round(time.perf_counter() - t, 2)
    out["resolve_logging_s"] = round(out["resolve_logging_s_with_replay"] - checked["replay_s"], 2)
    out["peak_rss_mib_before_logging"] = rss0 // 1024
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    out.update(checked)
    out["load_avg_after"] = os.getloadavg()[0]
    path = Path(__file__).resolve().parent / "results" / f"flow_provenance_{ref.name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
