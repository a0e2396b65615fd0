"""Site build benchmark (not a test): time a full `mkdocs build` from the current indexes.

  python bench/site_bench.py [--runs 3]

Builds into a temporary folder with every framework whose index is present (KsanaLLM where its
source is) and prints wall times, page counts and output size.
"""
from __future__ import annotations

import argparse
import os
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
    args = ap.parse_args()
    from infernav.analyzer import sources

    present = [r.key for r in sources.all_default_refs() if sources.locate(r) is not None]
    times = []
    out = Path(tempfile.mkdtemp(prefix="infernav-site-")) / "public"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # One warm-up so every index exists; then timed builds.
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(out)], cwd=REPO, env=env, check=True)
    for _ in range(args.runs):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(out)], cwd=REPO, env=env, check=True)
        times.append(time.perf_counter() - t0)
    pages = len(list(out.rglob("*.html")))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"frameworks indexed: {', '.join(present)}")
    print(f"full site build: median {statistics.median(times):.1f} s over {args.runs} runs "
          f"(min {min(times):.1f}, max {max(times):.1f}); {pages} HTML pages, {size / 1e6:.0f} MB")
    shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
