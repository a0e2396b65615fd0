"""Our vLLM-semantics scheduler against the real vLLM 0.14.1 v1 `Scheduler` (tests/oracle).

The real scheduler runs in the oracle venv (.oracle-venv, the one the prefix-cache oracle uses;
built here if missing, never skipped). CI plays 200 traces drawn from a million seeds, a different
draw each run; INFERNAV_ORACLE_SEED=<n> replays a draw. The 1,000-trace run is
bench/scheduler_bench.py.
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

ORACLE = Path(__file__).resolve().parent / "oracle"
CI_TRACES = 200


def _build_venv_module():
    spec = importlib.util.spec_from_file_location("infernav_oracle_build_venv", ORACLE / "build_venv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def oracle():
    bv = _build_venv_module()
    try:
        stamp = bv.ensure()
    except bv.OracleSetupError as exc:
        pytest.fail(f"the vLLM oracle venv could not be built: {exc}", pytrace=False)
    return bv, stamp


def run_oracle(oracle, *args: str) -> dict:
    bv, stamp = oracle
    cmd = [stamp["python"], str(ORACLE / "scheduler_differential.py"), "--vllm-root", stamp["vllm_root"], *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=bv.oracle_env(), timeout=1200)
    if proc.returncode != 0:
        pytest.fail(f"the scheduler oracle did not run (exit {proc.returncode}):\n{proc.stderr[-3000:]}", pytrace=False)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_disagreement_with_real_vllm_scheduler(oracle, capsys):
    draw = int(os.environ.get("INFERNAV_ORACLE_SEED") or time.time_ns() % 1_000_000_007)
    seeds = random.Random(draw).sample(range(1_000_000), CI_TRACES)
    result = run_oracle(oracle, "--seeds", ",".join(map(str, seeds)))
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


def test_scheduler_oracle_catches_planted_bugs(oracle):
    report = run_oracle(oracle, "--seeds", "0:40", "--mutate", "all", "--show", "0")["mutations"]
    assert set(report) == {"victim-oldest", "no-threshold", "requeue-at-tail"}
    for name, result in report.items():
        assert result["disagreements"] > 0, name
