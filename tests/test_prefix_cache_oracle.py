"""Our vLLM-style prefix cache against the real vLLM 0.14.1, on random traces (tests/oracle).

The real `KVCacheManager` runs in the oracle's own venv (.oracle-venv, built by
tests/oracle/build_venv.py, which `make test` calls first; built here if missing). If it cannot
be built, these tests fail with the reason: they never skip.

CI plays 200 traces drawn at random from a million seeds, a different draw each run; the line
printed names the draw, and INFERNAV_ORACLE_SEED=<that number> replays it. The full 1,000-trace
run is in bench/prefix_cache_bench.py.
"""
from __future__ import annotations

import json
import os
import random
import time

import pytest
from conftest import run_oracle_script

CI_TRACES = 200


def test_no_disagreement_with_real_vllm(vllm_oracle, capsys):
    draw = int(os.environ.get("INFERNAV_ORACLE_SEED") or time.time_ns() % 1_000_000_007)
    seeds = random.Random(draw).sample(range(1_000_000), CI_TRACES)
    result = run_oracle_script(vllm_oracle, "differential.py", "--seeds", ",".join(map(str, seeds)))
    with capsys.disabled():
        print(f"\n[oracle] {result['disagreements']} disagreements with vLLM 0.14.1 over {result['traces']} "
              f"random traces, {result['calls_compared']} calls compared "
              f"(INFERNAV_ORACLE_SEED={draw}; {result['seconds']} s)")
    assert result["traces"] == CI_TRACES
    assert result["disagreements"] == 0, json.dumps(result["first"], indent=1)
    # The traces reached the situations they exist for (hits on free blocks, refusals, evictions
    # by allocation, preemptions, resets, duplicate hashes): a zero would make the check hollow.
    assert all(result["coverage"].values()), result["coverage"]
    assert result["calls_compared"] > 50 * CI_TRACES


def test_oracle_catches_planted_bugs(vllm_oracle):
    """Each known bug planted in our side (free order, lookup cap, duplicate choice, queue removal
    on hit) makes the oracle disagree on some of the first 40 traces."""
    report = run_oracle_script(vllm_oracle, "differential.py", "--seeds", "0:40", "--mutate", "all", "--show", "0")["mutations"]
    assert set(report) == {"free-forward", "no-cap", "latest-duplicate", "lru-on-hit"}
    for name, result in report.items():
        assert result["disagreements"] > 0, name
