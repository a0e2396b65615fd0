"""KsanaLLM's continuous batching strategy: the scenarios of KsanaLLM's own
batch_scheduler_test.cpp (swap not triggered / triggered under pressure, recompute mode,
split-fuse, a fixed shared prefix with no swap, with swap, with recompute), re-expressed over our
strategy, plus one test per rule of the step (decode ladder, headroom, swap-in order)."""
from __future__ import annotations

import random

import pytest

from infernav.reimpl.scheduler import ContinuousBatchingStrategy

B = 16


def drive(s: ContinuousBatchingStrategy, reqs, max_steps=20000, on_step=None):
    """Add all requests, run to completion; every step's budgets are checked. Returns per-step plans."""
    for rid, prompt, max_tokens in reqs:
        s.add_request(rid, prompt, max_tokens)
    plans = []
    rng = random.Random(0)
    for _ in range(max_steps):
        if not s.has_unfinished():
            break
        plan = s.schedule()
        assert s.last_step_tokens <= s.max_step_token_num and s.last_step_batch <= s.max_batch_size
        assert len(plan.tokens) <= s.max_batch_size
        if on_step:
            on_step(s, plan)
        plans.append(plan)
        s.update(plan, {r: rng.randrange(3, 30000) for r in plan.samples})
    else:
        pytest.fail("did not finish")
    s.check_no_leaks()
    return plans


def gen(n, out_range, in_range, seed=0, prefix=()):
    rng = random.Random(seed)
    return [(f"r{i:03d}", list(prefix) + [rng.randrange(100, 30000) for _ in range(rng.randint(*in_range))],
             rng.randint(*out_range)) for i in range(n)]


def test_swap_not_triggered_when_memory_suffices():
    s = ContinuousBatchingStrategy(num_blocks=400, block_size=B, max_batch_size=16, num_host_blocks=400)
    drive(s, gen(100, (1, 40), (1, 60)))
    assert (s.stats.swapout, s.stats.swapin, s.stats.swapout_fail, s.stats.recompute) == (0, 0, 0, 0)


def test_swap_out_and_in_triggered_under_pressure():
    # long prompts and outputs, a pool that holds about three of them: decodes run out of blocks
    s = ContinuousBatchingStrategy(num_blocks=80, block_size=B, max_batch_size=16, num_host_blocks=200)
    drive(s, gen(10, (1, 200), (150, 200), seed=1))
    assert s.stats.swapout > 0 and s.stats.swapin == s.stats.swapout
    assert s.stats.swapout_fail == 0 and s.stats.recompute == 0
    assert s.stats.swap_in_blocks == s.stats.swap_out_blocks > 0


def test_recompute_mode_under_the_same_pressure():
    s = ContinuousBatchingStrategy(num_blocks=80, block_size=B, max_batch_size=16, preempt_mode="recompute")
    drive(s, gen(10, (1, 200), (150, 200), seed=1))
    assert s.stats.recompute > 0 and s.stats.swapout == s.stats.swapin == 0


def test_swap_falls_back_to_recompute_when_host_is_full():
    s = ContinuousBatchingStrategy(num_blocks=80, block_size=B, max_batch_size=16, num_host_blocks=4)
    drive(s, gen(10, (1, 200), (150, 200), seed=1))
    assert s.stats.swapout_fail > 0 and s.stats.recompute == s.stats.swapout_fail


def test_split_fuse_chunks_prompts_and_recomputes_rather_than_swaps():
    sf = 16
    chunks = []

    def check(s, plan):
        if s.split_fuse_token_num:
            for rid, n in plan.tokens.items():
                assert n <= sf
        chunks.extend(n for rid, n in plan.tokens.items() if rid not in plan.samples)

    s = ContinuousBatchingStrategy(num_blocks=40, block_size=B, max_batch_size=16, max_step_token_num=256,
                                   split_fuse_token_num=sf, preempt_mode="recompute")
    drive(s, gen(10, (1, 40), (17, 60), seed=2), on_step=check)
    assert chunks and set(chunks) == {sf}  # non-final chunks are exactly split_fuse_token_num
    assert s.stats.swapout == s.stats.swapin == 0


def test_split_fuse_is_switched_off_when_a_decode_cannot_get_blocks():
    # two short requests decode while long prompts prefill in 8-token chunks and fill the pool:
    # rung 1 of the ladder recomputes the half-prefilled prompts and turns split-fuse off for good
    s = ContinuousBatchingStrategy(num_blocks=20, block_size=4, max_batch_size=8, max_step_token_num=64,
                                   split_fuse_token_num=8, preempt_mode="recompute")
    reqs = [("d0", [5] * 6, 40), ("d1", [6] * 6, 40)] + gen(4, (5, 10), (30, 40), seed=0)
    drive(s, reqs)
    assert s.stats.splitfuse_disabled == 1 and s.split_fuse_token_num == 0 and s.stats.recompute >= 3


def test_half_prefilled_prompts_can_hold_every_block():
    """As read: with no decode running, the ladder never fires, and chunked prompts that took all
    blocks wait for each other (headroom 0 here). The strategy stalls; the simulator reports it."""
    s = ContinuousBatchingStrategy(num_blocks=20, block_size=4, max_batch_size=8, max_step_token_num=64,
                                   split_fuse_token_num=8, preempt_mode="recompute", launch_block_threshold=0.0)
    for rid, p, m in gen(6, (20, 30), (30, 40), seed=3):
        s.add_request(rid, p, m)
    for _ in range(50):
        plan = s.schedule()
        s.update(plan, {r: 5 for r in plan.samples})
    assert not plan.tokens and not s.decoding and s.m.get_usable_block_number() == 0
    assert all(r.allocated for r in s.waiting)


FIXED_PREFIX = [7] * (3 * 6)  # 3 blocks of 6 tokens, as the upstream fixed-prefix case


@pytest.mark.parametrize("split_fuse", [0, 6])
def test_fixed_prefix_hits_without_swap(split_fuse):
    s = ContinuousBatchingStrategy(num_blocks=200, block_size=6, max_batch_size=8, num_host_blocks=100,
                                   split_fuse_token_num=split_fuse, max_step_token_num=512)
    first = []
    drive(s, gen(12, (1, 20), (1, 20), seed=4, prefix=FIXED_PREFIX),
          on_step=lambda s, plan: first.append(len(plan.tokens)) if not first else None)
    assert s.stats.swapout == 0
    # blocks enter the tree after the step that filled them: the first step's admissions miss,
    # every later one hits the whole 3-block prefix
    assert s.cache.stats.hits >= (12 - first[0]) * len(FIXED_PREFIX) > 0


@pytest.mark.parametrize("mode", ["swap", "recompute"])
def test_fixed_prefix_under_block_limit(mode):
    s = ContinuousBatchingStrategy(num_blocks=40, block_size=6, max_batch_size=8, num_host_blocks=200,
                                   preempt_mode=mode)
    drive(s, gen(12, (30, 60), (10, 30), seed=5, prefix=FIXED_PREFIX))
    assert s.cache.stats.hits > 0
    if mode == "swap":
        assert s.stats.swapout > 0 and s.stats.swapin == s.stats.swapout and s.stats.recompute == 0
    else:
        assert s.stats.recompute > 0 and s.stats.swapout == 0


def test_admission_keeps_headroom_for_running_decodes():
    s = ContinuousBatchingStrategy(num_blocks=10, block_size=4, max_batch_size=8, launch_block_threshold=2.0)
    s.add_request("a", [1] * 11, 5)  # 3 blocks (11 tokens + the next one)
    s.add_request("b", [2] * 11, 5)
    plan = s.schedule()
    # a: 3 blocks + 0 headroom <= 10; b: 3 blocks + ceil(1 * 2.0) = 5 <= 7 usable -> both
    assert list(plan.tokens) == ["a", "b"]
    s2 = ContinuousBatchingStrategy(num_blocks=7, block_size=4, max_batch_size=8, launch_block_threshold=2.0)
    s2.add_request("a", [1] * 11, 5)
    s2.add_request("b", [2] * 11, 5)
    assert list(s2.schedule().tokens) == ["a"]  # b: 3 + 2 > 4 usable: FCFS scan stops


def test_swap_in_follows_request_id_order_and_freed_blocks_wait_for_merge():
    s = ContinuousBatchingStrategy(num_blocks=12, block_size=4, max_batch_size=8, num_host_blocks=50,
                                   launch_block_threshold=0.0, swapin_block_threshold=0.0)
    for rid in ("c", "a", "b"):  # admitted in this order: 4 blocks each fill the pool
        s.add_request(rid, [ord(rid)] * 15, 12)
    s.update(s.schedule(), {"a": 5, "b": 5, "c": 5})
    assert [r.rid for r in s.decoding] == ["c", "a", "b"]
    swapped_out, swapped_in = [], []
    for _ in range(300):
        plan = s.schedule()
        if plan.swap_out_blocks:
            # the device blocks of a swap-out issued this step are not usable before the merge
            assert s.future_free == plan.swap_out_blocks
        swapped_out += plan.preempted
        swapped_in += [r.rid for r in s.pending_swapin]
        s.update(plan, {r: 5 for r in plan.samples})
        if not s.has_unfinished():
            break
    assert not s.has_unfinished()
    s.check_no_leaks()
    # the first decode that finds no block is preempted (c, then a): swap-in goes by request id
    assert swapped_out == ["c", "a"] and swapped_in == ["a", "c"]


def test_a_lone_request_that_outgrows_the_pool_sits_out():
    """Rung 2 needs more than one decode: a request alone is never preempted, it waits (forever,
    if it outgrows the pool: engines cap max_seq_len to prevent that)."""
    s = ContinuousBatchingStrategy(num_blocks=4, block_size=4, max_batch_size=8, num_host_blocks=50)
    s.add_request("a", [1] * 15, 20)
    s.update(s.schedule(), {"a": 5})
    for _ in range(5):
        plan = s.schedule()
        s.update(plan, {r: 5 for r in plan.samples})
    assert not plan.tokens and s.step_sched_finish and s.stats.swapout == 0 and [r.rid for r in s.decoding] == ["a"]


def test_rejects_unknown_mode():
    with pytest.raises(ValueError):
        ContinuousBatchingStrategy(10, 4, preempt_mode="drop")
