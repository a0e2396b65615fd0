"""Our vLLM-semantics scheduler against the real vLLM 0.14.1 v1 `Scheduler` (tests/oracle).

The real scheduler runs in the oracle venv (.oracle-venv, the one the prefix-cache oracle uses;
built here if missing, never skipped). CI plays 200 traces drawn from a million seeds, a different
draw each run; INFERNAV_ORACLE_SEED=<n> replays a draw. The 1,000-trace run is
bench/scheduler_bench.py.
"""
from __future__ import annotations

import json
import os
import random
import time

import pytest
from conftest import run_oracle_script

CI_TRACES = 200


def test_no_disagreement_with_real_vllm_scheduler(vllm_oracle, capsys):
    draw = int(os.environ.get("INFERNAV_ORACLE_SEED") or time.time_ns() % 1_000_000_007)
    seeds = random.Random(draw).sample(range(1_000_000), CI_TRACES)
    result = run_oracle_script(vllm_oracle, "scheduler_differential.py", "--seeds", ",".join(map(str, seeds)))
    with capsys.disabled():
        print(f"\n[scheduler oracle] {result['disagreements']} disagreements with vLLM 0.14.1's Scheduler over "
              f"{result['traces']} random traces, {result['steps_compared']} steps compared "
              f"(INFERNAV_ORACLE_SEED={draw}; {result['seconds']} s)")
    assert result["traces"] == CI_TRACES
    assert result["disagreements"] == 0, json.dumps(result["first"], indent=1)
    # the traces reached what they exist for: preemptions (FCFS and priority), resumptions, prefix
    # hits, chunked prefills, head-of-line blocking, aborts, EOS and length stops
    assert all(result["coverage"].values()), result["coverage"]
    assert result["steps_compared"] > 50 * CI_TRACES


def test_scheduler_oracle_catches_planted_bugs(vllm_oracle):
    report = run_oracle_script(vllm_oracle, "scheduler_differential.py", "--seeds", "0:40", "--mutate", "all", "--show", "0")["mutations"]
    assert set(report) == {"victim-oldest", "no-threshold", "requeue-at-tail"}
    for name, result in report.items():
        assert result["disagreements"] > 0, name
