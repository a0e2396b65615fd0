"""Scenarios of our vLLM-semantics scheduler, each one rule of `Scheduler.schedule` on its own
(the step-by-step agreement with the real vLLM is tests/test_scheduler_oracle.py)."""
from __future__ import annotations

import pytest

from infernav.reimpl.scheduler import VllmScheduler


def run_step(s: VllmScheduler, tok: int = 7):
    out = s.schedule()
    finished = s.update_from_output(out, {r: [tok] for r in out.num_scheduled_tokens if s.needs_sample(r)})
    return out, finished


def test_one_budget_chunks_prefill_and_runs_running_first():
    s = VllmScheduler(num_blocks=100, block_size=4, max_num_seqs=8, max_num_batched_tokens=10, max_model_len=200)
    s.add_request("a", list(range(25)), max_tokens=3)
    s.add_request("b", list(range(100, 106)), max_tokens=3)
    out, _ = run_step(s)
    assert list(out.num_scheduled_tokens.items()) == [("a", 10)]  # chunked; b blocked behind it (FCFS)
    out, _ = run_step(s)
    assert list(out.num_scheduled_tokens.items()) == [("a", 10)]
    out, _ = run_step(s)
    # a's last 5 prompt tokens, then b gets the 5 left
    assert list(out.num_scheduled_tokens.items()) == [("a", 5), ("b", 5)]
    assert out.running_req_ids == ["a"] and out.new_req_ids == ["b"]


def test_long_prefill_threshold_caps_each_chunk():
    s = VllmScheduler(100, 4, 8, 64, 200, long_prefill_token_threshold=8)
    s.add_request("a", list(range(20)), max_tokens=2)
    s.add_request("b", list(range(20)), max_tokens=2)
    out, _ = run_step(s)
    assert dict(out.num_scheduled_tokens) == {"a": 8, "b": 8}


def test_preempts_most_recent_and_requeues_at_head_and_admits_nothing_that_step():
    # 6 usable blocks of 4 tokens; three requests of 7 prompt tokens each take 2 blocks.
    s = VllmScheduler(num_blocks=7, block_size=4, max_num_seqs=8, max_num_batched_tokens=64, max_model_len=64,
                      enable_prefix_caching=False)
    for r in "abc":
        s.add_request(r, [1] * 7, max_tokens=20)
    out, _ = run_step(s)
    assert out.new_req_ids == ["a", "b", "c"] and s.num_free_blocks == 0
    s.add_request("d", [1] * 3, max_tokens=1)
    out, _ = run_step(s)  # 8 tokens each still fit in 2 blocks; d finds no free block
    assert out.preempted_req_ids == [] and list(out.num_scheduled_tokens) == ["a", "b", "c"]
    out, _ = run_step(s)  # a's 9th token needs a third block: c (newest) is preempted
    assert out.preempted_req_ids == ["c"]
    assert list(out.num_scheduled_tokens) == ["a", "b"]
    assert out.new_req_ids == []  # d is not admitted in a step that preempted
    assert s.waiting_ids() == ["c", "d"]  # c back at the head
    assert s.requests["c"].num_computed_tokens == 0 and s.requests["c"].num_preemptions == 1


def test_head_of_line_blocking_by_allocation():
    s = VllmScheduler(num_blocks=6, block_size=4, max_num_seqs=8, max_num_batched_tokens=64, max_model_len=64,
                      enable_prefix_caching=False)
    s.add_request("a", [1] * 12, max_tokens=10)  # 3 blocks + growth
    run_step(s)
    s.add_request("big", [2] * 16, max_tokens=1)  # needs 4 blocks: only 2 free
    s.add_request("small", [3] * 2, max_tokens=1)  # would fit, but waits behind big
    out, _ = run_step(s)
    assert list(out.num_scheduled_tokens) == ["a"]
    assert s.waiting_ids() == ["big", "small"]


def test_priority_policy_preempts_lowest_priority_and_gives_back_its_budget():
    s = VllmScheduler(num_blocks=7, block_size=4, max_num_seqs=8, max_num_batched_tokens=64, max_model_len=64,
                      enable_prefix_caching=False, policy="priority")
    s.add_request("low", [1] * 7, max_tokens=20, priority=5, arrival_time=0.0)
    s.add_request("hi1", [1] * 7, max_tokens=20, priority=0, arrival_time=1.0)
    s.add_request("hi2", [1] * 7, max_tokens=20, priority=0, arrival_time=2.0)
    out, _ = run_step(s)
    assert out.new_req_ids == ["hi1", "hi2", "low"]  # heap order: priority, then arrival
    run_step(s)
    out, _ = run_step(s)
    # hi1 needs a block: the victim is `low` (largest priority value), although it is oldest
    assert out.preempted_req_ids == ["low"]
    assert "low" not in out.num_scheduled_tokens


def test_stops_on_eos_and_max_tokens_and_frees():
    s = VllmScheduler(50, 4, 4, 64, 64)
    s.add_request("a", [1, 2, 3], max_tokens=5, eos_token_id=2)
    s.add_request("b", [1, 2, 3], max_tokens=2)
    out = s.schedule()
    assert s.update_from_output(out, {"a": [2], "b": [9]}) == ["a"]
    out = s.schedule()
    assert s.update_from_output(out, {"b": [9]}) == ["b"]
    assert not s.has_unfinished_requests() and s.num_free_blocks == 49


def test_prefix_hit_skips_cached_blocks():
    s = VllmScheduler(50, 4, 4, 64, 64)
    s.add_request("a", list(range(10)), max_tokens=1)
    run_step(s)
    s.add_request("b", list(range(10)) + [99], max_tokens=1)
    out, _ = run_step(s)
    assert out.num_cache_hit_tokens["b"] == 8 and out.num_scheduled_tokens["b"] == 3


def test_rejects_unknown_policy():
    with pytest.raises(ValueError):
        VllmScheduler(10, 4, 1, 8, 16, policy="lifo")
