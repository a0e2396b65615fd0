"""Play oracle traces in parallel subprocesses and merge their reports (tests and bench use it).

Each subprocess is `differential.py` with the product's Python: a crash in the C++ side ends
that subprocess, not the caller, and is reported with its stderr.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _merge(into: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, bool) or key == "seconds":
            continue
        if isinstance(value, (int, float)):
            into[key] = into.get(key, 0) + value
        elif isinstance(value, list):
            into.setdefault(key, []).extend(value)
        elif isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)


def play(so: Path, seeds: list[int], jobs: int = 2, mutate: str | None = None, show: int = 3) -> dict:
    """Traces `seeds` split over `jobs` processes; one merged report (`seconds`: wall time)."""
    t0 = time.perf_counter()
    chunks = [seeds[i::jobs] for i in range(jobs) if seeds[i::jobs]]
    procs = []
    for chunk in chunks:
        cmd = [sys.executable, str(HERE / "differential.py"), "--so", str(so), "--show", str(show),
               "--seeds", ",".join(map(str, chunk))]
        if mutate:
            cmd += ["--mutate", mutate]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    report: dict = {}
    for proc in procs:
        out, err = proc.communicate(timeout=600 + len(seeds))  # ~0.02 s a trace when idle
        if proc.returncode != 0:
            raise RuntimeError(f"differential.py exited {proc.returncode}:\n{err[-3000:]}")
        _merge(report, json.loads(out.strip().splitlines()[-1]))
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return report
