"""Our vLLM-semantics scheduler against the real vLLM 0.14.1 v1 `Scheduler` (tests/oracle).

The real scheduler runs in the oracle venv (.oracle-venv, the one the prefix-cache oracle uses;
built here if missing, never skipped). Each family of scheduler_differential.FAMILIES (base,
chunked prefill off, multi-id aborts, aborts between schedule and update_from_output, prompts
longer than max_model_len, prompts of more than 9 blocks, random configurations) plays 300
traces drawn from a million seeds, a different draw each run, plus the fixed seeds of
tests/oracle/seeds.py; the seeds are printed and INFERNAV_ORACLE_SEED=<draw> replays a draw.
Every planted bug of tests/oracle/sched_mutations.py must be caught within 300 traces of its
family. The full run (1,000 traces a family) is bench/vllm_oracle_bench.py.
"""
from __future__ import annotations

import json

import pytest
from conftest import run_oracle_script
from oracle_runs import DRAWN, describe, draw_seeds, fixed_seeds

COMMON = ["preemptions", "prefix_hits", "chunked_prefills", "eos_stops", "stop_token_stops", "length_stops",
          "resumed", "events"]
MUST_REACH = {"base": COMMON + ["priority_preemptions", "head_of_line_blocks", "aborts", "resets"],
              "chunked-off": COMMON[:2] + ["length_stops", "events"],
              "multi-abort": COMMON + ["multi_id_aborts"],
              "abort-mid-step": COMMON + ["mid_step_aborts"],
              "over-long": COMMON + ["over_long_prompts", "vllm_assertions"],
              "long-prompts": COMMON + ["long_prompts"],
              "configs": ["configs_rejected", "events"]}


def test_no_disagreement_with_real_vllm_scheduler(vllm_oracle, capsys):
    fixed = fixed_seeds("SCHEDULER")
    draw, seeds = draw_seeds(fixed)
    report = run_oracle_script(vllm_oracle, "scheduler_differential.py", "--family", "all",
                               "--seeds", ",".join(map(str, seeds)))["families"]
    with capsys.disabled():
        print("\n" + describe("scheduler oracle", draw, seeds, fixed))
        for fam, r in report.items():
            print(f"[scheduler oracle] {fam}: {r['disagreements']} disagreements with vLLM 0.14.1's Scheduler over "
                  f"{r['traces']} traces, {r['steps_compared']} steps compared ({r['seconds']} s)")
    assert set(report) == set(MUST_REACH)
    for fam, r in report.items():
        assert r["traces"] == len(seeds) >= DRAWN
        assert r["disagreements"] == 0, json.dumps(r["first"], indent=1)
        assert all(r["coverage"][k] for k in MUST_REACH[fam]), (fam, r["coverage"])
    assert sum(r["steps_compared"] for r in report.values()) > 50 * len(seeds) * len(report)


def test_scheduler_oracle_catches_planted_bugs(vllm_oracle, capsys):
    """Each bug of sched_mutations.MUTATIONS (preemption, chunking, free order, finish reasons,
    stop handling, prefix and scheduler stats, KV events, abort order and timing, chunked prefill
    off, over-long and long prompts, config validation) makes the oracle disagree."""
    report = run_oracle_script(vllm_oracle, "scheduler_differential.py", "--seeds", f"0:{DRAWN}", "--mutate", "all",
                               "--show", "0")["mutations"]
    with capsys.disabled():
        for name, r in report.items():
            first = r["first"] or {}
            print(f"[scheduler oracle] planted {name} ({r['family']}): caught at seed {first.get('seed')}: "
                  f"{first.get('what', '')[:80]}")
    assert len(report) >= 19
    missed = [name for name, r in report.items() if r["disagreements"] == 0]
    assert missed == []


@pytest.mark.parametrize("overrides, why", [
    (dict(max_num_seqs=0), "max_num_seqs must be >= 1 (config/scheduler.py:57)"),
    (dict(max_num_batched_tokens=4, max_num_seqs=8), "budget below max_num_seqs (config/scheduler.py:263)"),
    (dict(enable_chunked_prefill=False, max_num_batched_tokens=16), "chunking off, budget < max_model_len (:250)"),
    (dict(num_blocks=0), "no KV blocks (scheduler.py:144)"),
])
def test_configs_vllm_rejects_are_rejected(overrides, why):
    """The three configurations issue #14 names (and an empty pool) are refused, as vLLM refuses
    them; the `configs` family above checks the same against the real SchedulerConfig."""
    from infernav.reimpl.scheduler import VllmScheduler
    cfg = dict(num_blocks=20, block_size=4, max_num_seqs=2, max_num_batched_tokens=64, max_model_len=32)
    VllmScheduler(**cfg)  # the base configuration is valid
    with pytest.raises(ValueError):
        VllmScheduler(**{**cfg, **overrides})
