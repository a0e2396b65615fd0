"""Invariants of every strategy (hypothesis): every request finishes, step budgets are never
exceeded, and when all is done no device or host block is held."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infernav.reimpl.scheduler import ContinuousBatchingStrategy, StaticBatchScheduler, VllmScheduler, VllmStrategy

req = st.tuples(st.integers(1, 60), st.integers(1, 40), st.integers(0, 3), st.integers(0, 4))
# (prompt length, max_tokens, template id for a shared prefix, arrival step)


def make(reqs):
    out = []
    for i, (plen, mt, tmpl, arr) in enumerate(reqs):
        prompt = ([100 + tmpl] * 8 + [1000 + i] * plen)[:plen]
        out.append((f"r{i:02d}", prompt, mt, arr))
    return out


def ksana_stalled(s) -> bool:
    """The one stall of KsanaLLM's strategy as read (see test_scheduler_ksana): nothing decodes (so
    the ladder that recomputes half-prefilled prompts never runs), half-prefilled prompts hold the
    blocks, and the head of the FCFS waiting queue cannot get its next chunk's blocks."""
    if s.decoding or s.pending_swapin or s.swapped or not s.waiting or not any(r.allocated for r in s.waiting):
        return False
    head = s.waiting[0]
    new = len(head.tokens) - head.computed
    if 0 < s.split_fuse_token_num < new:
        new = s.split_fuse_token_num
    need = s.m.get_request_step_block_number(head.rid, head.computed + new)
    return need > s.m.get_request_usable_block_number(head.rid) - s.future_free


def play(strategy, reqs, budget_check, allow_stall=None):
    pending = sorted(make(reqs), key=lambda r: r[3])
    all_ids = {r[0] for r in pending}
    finished = []
    step = 0
    while pending or strategy.has_unfinished():
        while pending and pending[0][3] <= step:
            rid, prompt, mt, _ = pending.pop(0)
            strategy.add_request(rid, prompt, mt)
        step += 1
        assert step < 5000, "no progress"
        plan = strategy.schedule()
        budget_check(strategy, plan)
        if allow_stall and not plan.tokens and not pending and allow_stall(strategy):
            return "stalled"
        finished += strategy.update(plan, {r: 7 for r in plan.samples})
    assert sorted(finished) == sorted(all_ids)  # every request finishes, once
    strategy.check_no_leaks()
    return "finished"


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(req, min_size=1, max_size=12), st.sampled_from([1, 2, 4, 16]), st.integers(0, 3),
       st.integers(1, 6), st.sampled_from([8, 16, 64]), st.sampled_from([0, 0, 5]))
def test_vllm_invariants(reqs, B, extra, seqs, budget, thr):
    num_blocks = -(-110 // B) + 1 + extra * 4
    s = VllmStrategy(num_blocks, B, seqs, max(budget, seqs), max_model_len=110, long_prefill_token_threshold=thr)

    def check(strat, plan):
        assert plan.num_tokens <= max(budget, seqs) and len(plan.tokens) <= seqs
        assert all(n <= thr for n in plan.tokens.values()) if thr else True
    play(s, reqs, check)


@SETTINGS
@given(st.lists(req, min_size=1, max_size=12), st.sampled_from([2, 4, 16]), st.integers(0, 3),
       st.integers(1, 6), st.sampled_from(["swap", "recompute"]), st.sampled_from([0, 0, 8]),
       st.sampled_from([0, 4, 40]))
def test_ksana_invariants(reqs, B, extra, batch, mode, split_fuse, host):
    # one request of the longest possible length must fit with the decode headroom
    num_blocks = -(-101 // B) + 1 + 2 * batch + extra * 4
    s = ContinuousBatchingStrategy(num_blocks, B, max_batch_size=batch, max_step_token_num=128,
                                   split_fuse_token_num=split_fuse, preempt_mode=mode, num_host_blocks=host,
                                   max_seq_len=101)

    def check(strat, plan):
        assert strat.last_step_tokens <= strat.max_step_token_num and len(plan.tokens) <= batch
        if strat.split_fuse_token_num:
            assert all(n <= strat.split_fuse_token_num for n in plan.tokens.values())
    # Without split-fuse every request finishes. With it, half-prefilled prompts can hold every
    # block while nothing decodes (the ladder only runs for decodes): then that exact stall, and
    # nothing else, is allowed.
    play(s, reqs, check, allow_stall=ksana_stalled if split_fuse else None)


@SETTINGS
@given(st.lists(req, min_size=1, max_size=12), st.integers(1, 6))
def test_static_invariants(reqs, batch):
    s = StaticBatchScheduler(num_blocks=30, block_size=4, max_batch_size=batch)

    def check(strat, plan):
        assert len(plan.tokens) + (plan.padded_decode_seqs - plan.decode_seqs) <= batch
        assert strat.reserved <= strat.num_blocks
    play(s, reqs, check)


def test_vllm_scheduler_budget_direct():
    s = VllmScheduler(20, 4, 3, 10, 64)
    for i in range(6):
        s.add_request(f"r{i}", [i] * 9, 5)
    for _ in range(200):
        out = s.schedule()
        assert out.total_num_scheduled_tokens <= 10 and len(s.running) <= 3
        s.update_from_output(out, {r: [1] for r in out.num_scheduled_tokens if s.needs_sample(r)})
        if not s.has_unfinished_requests():
            break
    assert not s.has_unfinished_requests() and s.num_free_blocks == 19
