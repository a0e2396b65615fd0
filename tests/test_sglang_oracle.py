"""Our radix tree (reimpl/prefix_cache/radix.py) and waiting-queue policies
(reimpl/scheduler/sglang_policy.py) against SGLang 0.5.10.post1's real RadixCache and SchedulePolicy.

tests/oracle/sglang_radix.py and sglang_policy.py run both in the oracle venv (.oracle-venv, the vLLM oracle's: torch
CPU; built if missing, and a failed build fails the test). SGLang's modules come from the pinned
sdist through tests/oracle/sglang_shim.py, whose docstring lists what is stubbed and why. When
the sdist cannot be fetched, the tests skip with the reason.

1,000 seeds drawn from a million each run plus the fixed seeds of tests/oracle/seeds.py (RADIX),
printed; INFERNAV_ORACLE_SEED=<draw> replays a draw. Each planted bug of sglang_radix.MUTATIONS
and sglang_policy.mutations must be caught within seeds 0..299.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import time

import pytest
from conftest import ORACLE_DIR
from oracle_runs import fixed_seeds

DRAWN = 1000


@pytest.fixture(scope="module")
def sglang_root():
    from infernav.analyzer import sources

    ref = sources.parse_ref("sglang")
    try:
        return str(sources.locate(ref) or sources.fetch(ref))
    except Exception as exc:
        pytest.skip(f"the pinned SGLang sdist cannot be fetched: {str(exc).splitlines()[0]}")


def _run(vllm_oracle, root, *args, script="sglang_radix.py"):
    bv, stamp = vllm_oracle
    cmd = [stamp["python"], str(ORACLE_DIR / script), "--sglang-root", root, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=bv.oracle_env(), timeout=1200)
    if proc.returncode != 0:
        pytest.fail(f"{script} did not run (exit {proc.returncode}):\n{proc.stderr[-3000:]}", pytrace=False)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _seeds(label, name):
    fixed = fixed_seeds(name)
    draw = int(os.environ.get("INFERNAV_ORACLE_SEED") or time.time_ns() % 1_000_000_007)
    seeds = random.Random(draw).sample(range(20, 1_000_000), DRAWN)
    seeds += [s for s in fixed if s not in seeds]
    print(f"\n[{label}] seeds: INFERNAV_ORACLE_SEED={draw} drew {DRAWN}: {','.join(map(str, seeds[:DRAWN]))}; "
          f"fixed ({len(fixed)}): {','.join(map(str, fixed))}")
    return seeds


def test_no_disagreement_with_sglang_radix_cache(vllm_oracle, sglang_root, capsys):
    with capsys.disabled():
        seeds = _seeds("radix oracle", "RADIX")
    r = _run(vllm_oracle, sglang_root, "--seeds", ",".join(map(str, seeds)))
    with capsys.disabled():
        print(f"[radix oracle] {r['disagreements']} disagreements with SGLang's RadixCache over {r['traces']} traces; "
              f"coverage {r['coverage']}; time in the trees: SGLang {r['seconds']['theirs']} s, ours "
              f"{r['seconds']['ours']} s; stubbed: {', '.join(r['stubbed'])}")
    assert r["radix_cache"].startswith(sglang_root)  # the sdist's own module, not a copy
    assert r["traces"] == len(seeds) >= DRAWN
    assert r["disagreements"] == 0, json.dumps(r["first"], indent=1)
    cov = r["coverage"]
    assert all(cov[k] > 0 for k in cov), cov  # splits, locks, evictions, refusals by locks, paged traces...
    assert cov["splits"] > r["traces"] and cov["evictions"] > r["traces"]


def test_radix_oracle_catches_planted_bugs(vllm_oracle, sglang_root, capsys):
    r = _run(vllm_oracle, sglang_root, "--seeds", "0:300", "--mutate", "all")
    with capsys.disabled():
        for name, m in r["mutations"].items():
            first = m["first"][0] if m["first"] else {}
            print(f"[radix oracle] planted {name}: {m['disagreements']}/300 traces disagree, first at seed "
                  f"{first.get('seed')} call {first.get('call')} ({first.get('op')})")
    assert r["disagreements"] == 0
    assert len(r["mutations"]) >= 9
    assert [n for n, m in r["mutations"].items() if m["disagreements"] == 0] == []


def test_no_disagreement_with_sglang_schedule_policy(vllm_oracle, sglang_root, capsys):
    with capsys.disabled():
        seeds = _seeds("policy oracle", "POLICY")
    r = _run(vllm_oracle, sglang_root, "--seeds", ",".join(map(str, seeds)), script="sglang_policy.py")
    with capsys.disabled():
        print(f"[policy oracle] {r['disagreements']} disagreements with SGLang's SchedulePolicy.calc_priority over "
              f"{r['traces']} traces; rounds per policy and coverage {r['coverage']}; time: SGLang "
              f"{r['seconds']['theirs']} s, ours {r['seconds']['ours']} s")
    assert r["schedule_policy"].startswith(sglang_root)
    assert r["traces"] == len(seeds) >= DRAWN
    assert r["disagreements"] == 0, json.dumps(r["first"], indent=1)
    cov = r["coverage"]
    for key in ["lpm", "dfs-weight", "fcfs", "lof", "random", "lpm priority", "lof priority", "fcfs priority",
                "lpm over 128 (fcfs)", "deprioritized in batch", "requests with a cached prefix"]:
        assert cov.get(key, 0) > 0, (key, cov)


def test_policy_oracle_catches_planted_bugs(vllm_oracle, sglang_root, capsys):
    r = _run(vllm_oracle, sglang_root, "--seeds", "0:300", "--mutate", "all", script="sglang_policy.py")
    with capsys.disabled():
        for name, m in r["mutations"].items():
            first = m["first"][0] if m["first"] else {}
            print(f"[policy oracle] planted {name}: {m['disagreements']}/300 traces disagree, first at seed "
                  f"{first.get('seed')} round {first.get('round')} ({first.get('policy')})")
    assert r["disagreements"] == 0
    assert len(r["mutations"]) >= 7
    assert [n for n, m in r["mutations"].items() if m["disagreements"] == 0] == []


def test_adapter_agrees_with_sglang_request_calls(vllm_oracle, sglang_root, capsys):
    """RadixPrefixCache's match/allocate/commit/free against SGLang's match_prefix, inc_lock_ref,
    cache_unfinished_req, cache_finished_req (tests/oracle/sglang_requests.py), and its planted bugs."""
    with capsys.disabled():
        seeds = _seeds("request oracle", "RADIX")
    r = _run(vllm_oracle, sglang_root, "--seeds", ",".join(map(str, seeds)), script="sglang_requests.py")
    m = _run(vllm_oracle, sglang_root, "--seeds", "0:300", "--mutate", script="sglang_requests.py")["mutations"]
    with capsys.disabled():
        print(f"[request oracle] {r['disagreements']} disagreements with SGLang's cache_(un)finished_req over "
              f"{r['traces']} traces; coverage {r['coverage']}")
        for name, x in m.items():
            print(f"[request oracle] planted {name}: {x['disagreements']}/300 traces disagree")
    assert r["traces"] == len(seeds) >= DRAWN
    assert r["disagreements"] == 0, json.dumps(r["first"], indent=1)
    assert all(v > 0 for v in r["coverage"].values()), r["coverage"]
    assert len(m) >= 4 and [n for n, x in m.items() if x["disagreements"] == 0] == []
