"""KsanaLLM prefix-cache oracle run (not a test): writes bench/results/ksana_prefix_oracle.json.

    INFERNAV_KSANALLM_ARCHIVE=... .venv/bin/python bench/ksana_oracle_bench.py [--traces 1000] [--cold]

Builds (or, with --cold, rebuilds in a fresh cache) the oracle module from the pinned KsanaLLM
archive, plays seeds 0..traces-1 on two processes (tests/oracle/ksana/differential.py), then the
planted bugs on seeds 0..149, and records what came out. Wall times depend on what else runs on
the machine, so CPU seconds (all subprocesses) and the load average are recorded too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "oracle" / "ksana"))

import build  # noqa: E402
import run  # noqa: E402


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime + me.ru_utime + me.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--cold", action="store_true", help="build in a fresh cache (measures the build)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ksana_prefix_oracle.json")
    args = parser.parse_args()
    if args.cold:
        os.environ["INFERNAV_HOME"] = tempfile.mkdtemp(prefix="infernav-ksana-bench-")
    load_before = os.getloadavg()

    t0, c0 = time.perf_counter(), cpu_seconds()
    so = build.build()
    build_s = (round(time.perf_counter() - t0, 1), round(cpu_seconds() - c0, 1))

    t0, c0 = time.perf_counter(), cpu_seconds()
    result = run.play(so, list(range(args.traces)))
    diff_cpu = round(cpu_seconds() - c0, 1)

    t0m, c0m = time.perf_counter(), cpu_seconds()
    mutations = run.play(so, list(range(150)), mutate="all", show=1)["mutations"]
    mut_s = (round(time.perf_counter() - t0m, 1), round(cpu_seconds() - c0m, 1))

    gxx = subprocess.run([build.CXX, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    report = {
        "what": "reimpl.prefix_cache.tree vs the real ksana_llm::PrefixCacheManager (KsanaLLM c451219c), "
                "tests/oracle/ksana",
        "repo_commit": commit,
        "archive_sha256": build.ARCHIVE_SHA256,
        "compiler": gxx,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_at_start": [round(x, 2) for x in load_before]},
        "build": {"cold": args.cold, "wall_s": build_s[0], "cpu_s": build_s[1]},
        "differential": {
            "seeds": f"0..{args.traces - 1}", "traces": result["traces"],
            "calls_compared": result["calls_compared"], "disagreements": result["disagreements"],
            "first_disagreements": result["first"],
            "upstream_faults": result["upstream_faults"], "fault_seeds": result["fault_seeds"],
            "faults_not_after_finding_11": result["faults_unexplained"],
            "first_faults": result["first_faults"], "coverage": result["coverage"],
            "wall_s": result["seconds"], "cpu_s": diff_cpu, "processes": 2,
        },
        "planted_bugs": {
            "seeds": "0..149", "wall_s": mut_s[0], "cpu_s": mut_s[1],
            "caught": {name: {"traces_disagreeing": r["disagreements"], "traces": r["traces"],
                              "first": (r["first"][0]["what"][:240] if r["first"] else None)}
                       for name, r in mutations.items()},
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    d = report["differential"]
    print(f"build {build_s[0]} s ({'cold' if args.cold else 'cached'}); {d['disagreements']} disagreements over "
          f"{d['traces']} traces, {d['calls_compared']} calls, {d['wall_s']} s wall / {d['cpu_s']} s CPU; "
          f"upstream faults {d['upstream_faults']} {d['fault_seeds']}; planted bugs caught: "
          + ", ".join(f"{n} {v['traces_disagreeing']}/{v['traces']}" for n, v in report["planted_bugs"]["caught"].items()))
    print(f"wrote {args.out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
