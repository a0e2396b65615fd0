"""Site build benchmark (not a test): time a full `mkdocs build` from the current indexes.

  python bench/site_bench.py [--runs 3] [--out bench/results/site_bench.json]

Builds into a temporary folder with every framework whose index is present (KsanaLLM where its
source is), prints wall times, page counts and output size, and writes them as JSON (with the
engines the build reported, the CPU time of the builds and the machine's core count: on a shared
machine wall time depends on the neighbours, CPU time much less).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "site_bench.json"))
    args = ap.parse_args()
    from infernav.analyzer import sources

    present = [r.key for r in sources.all_default_refs() if sources.locate(r) is not None]
    times = []
    out = Path(tempfile.mkdtemp(prefix="infernav-site-")) / "public"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # One warm-up so every index exists; then timed builds.
    warm = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(out)], cwd=REPO, env=env,
                          check=True, capture_output=True, text=True)
    reported = [ln for ln in warm.stderr.splitlines() if ln.startswith("infernav site:")]
    cpu = []
    for _ in range(args.runs):
        shutil.rmtree(out, ignore_errors=True)
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(out)], cwd=REPO, env=env, check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t0)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
    pages = len(list(out.rglob("*.html")))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"frameworks indexed: {', '.join(present)}")
    print(f"full site build: median {statistics.median(times):.1f} s over {args.runs} runs "
          f"(min {min(times):.1f}, max {max(times):.1f}); {pages} HTML pages, {size / 1e6:.0f} MB")
    print(f"CPU time per build: median {statistics.median(cpu):.1f} s; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    result = {"command": "python bench/site_bench.py --runs " + str(args.runs), "frameworks": present,
              "reported": reported, "wall_s": [round(t, 1) for t in times],
              "wall_median_s": round(statistics.median(times), 1), "cpu_s": [round(c, 1) for c in cpu],
              "cpu_median_s": round(statistics.median(cpu), 1), "html_pages": pages, "bytes": size,
              "cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
