"""KsanaLLM's continuous batching strategy (c451219c), over our `PrefixCacheManager` tree.

Mirrors `ksana_llm::ContinuousBatchingStrategy::Schedule` for one data-parallel group, without
asynchronous scheduling, P/D disaggregation, MTP draft tokens or timeouts. Per step, in order:

1. merge what finished since the last step: swap-ins rejoin the decoding queue, swap-outs join the
   swapped queue (a `std::map` upstream, so it is visited in request-id order);
2. decoding queue (`ProcessDecodingQueue`): every decode is checked against the step token and
   batch budgets first (one that does not fit sits the step out, the scan goes on), then each gets
   its next-token blocks. On an allocation failure, the ladder: (a) if split-fuse is on and some
   waiting request holds blocks (a half-prefilled prompt), recompute all such requests, switch
   split-fuse off for good and retry; (b) else, if no swap-out is pending and more than one
   request decodes, preempt *this* request, by swap (`preempt_mode="swap"`, the default; falls
   back to recompute if the host is full) or by recompute; (c) else it sits out and
   `step_sched_finish` stops the lower tiers for this step;
3. swapped queue (`ProcessSwappedQueue`, swap mode): nothing while a swap-out is pending (without
   setting the flag); else in request-id order, swap in while host blocks + next-token block +
   `ceil(decoding × swapin_block_threshold)` fit in the usable blocks; the first that does not fit
   sets `step_sched_finish`;
4. waiting queue (`ProcessWaitingQueue`), FCFS: prefix match at offset 0 (a partly prefilled
   request counts its offset as shared); with split-fuse, at most `split_fuse_token_num` new tokens
   (a non-final chunk stays in the waiting queue and the scan goes on past it); the request is
   charged its planned sequence length (shared + new tokens) against the step token budget; it is
   admitted if batch, tokens and `blocks + ceil(step_batch × launch_block_threshold) <= usable
   (minus blocks a pending swap-out will free but has not yet)`; the first refusal ends the scan.

Recompute (`SyncRecomputeRequest`): blocks released (filled ones stay in the tree), progress reset,
prompt + generated tokens prefilled again, request at the front of the waiting queue. Swap-out
moves the request's blocks no other running request uses to host; the device blocks count as free
only from the next step (the merge after the copy). Swap-in brings them back plus the next-token
block; the request decodes again from the next step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from infernav.reimpl.prefix_cache import TreeCache
from infernav.reimpl.prefix_cache.interface import OutOfBlocksError
from infernav.reimpl.prefix_cache.tree import RequestState

from .common import StepPlan, Strategy


@dataclass
class KsanaRequest:
    rid: str
    tokens: list[int]
    num_prompt: int
    max_tokens: int
    arrival_time: float = 0.0
    computed: int = 0  # tokens with KV (kv_cached_token_num)
    allocated: bool = False  # holds blocks (a chunk or more was admitted since the last (re)start)
    num_preemptions: int = 0
    swapped_blocks: int = 0

    @property
    def num_output(self) -> int:
        return len(self.tokens) - self.num_prompt


@dataclass
class KsanaStats:
    swapout: int = 0
    swapin: int = 0
    swapout_fail: int = 0  # host full: fell back to recompute
    recompute: int = 0
    splitfuse_disabled: int = 0
    swap_out_blocks: int = 0
    swap_in_blocks: int = 0
    prefill_chunks: int = 0


class ContinuousBatchingStrategy(Strategy):
    name = "ksana"

    def __init__(self, num_blocks: int, block_size: int, max_batch_size: int = 8, max_step_token_num: int = 4096,
                 split_fuse_token_num: int = 0, preempt_mode: str = "swap", num_host_blocks: int = 0,
                 launch_block_threshold: float = 2.0, swapin_block_threshold: float = 2.0,
                 max_seq_len: int | None = None):
        if preempt_mode not in ("swap", "recompute"):
            raise ValueError(preempt_mode)
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.max_batch_size = max_batch_size
        if split_fuse_token_num == 0 and max_seq_len:  # config parser: any prompt fits one step
            max_step_token_num = max(max_step_token_num, max_seq_len)
        self.max_step_token_num = max_step_token_num
        self.split_fuse_token_num = split_fuse_token_num
        self.preempt_mode = preempt_mode
        self.launch_block_threshold = launch_block_threshold
        self.swapin_block_threshold = swapin_block_threshold
        self.num_host_blocks = num_host_blocks
        self.cache = TreeCache(num_blocks, block_size, num_host_blocks=num_host_blocks)
        self.m = self.cache.manager
        self.waiting: list[KsanaRequest] = []
        self.decoding: list[KsanaRequest] = []
        self.swapped: dict[str, KsanaRequest] = {}
        self.pending_swapout: list[tuple[KsanaRequest, int]] = []  # (request, device blocks freed)
        self.pending_swapin: list[KsanaRequest] = []
        self.requests: dict[str, KsanaRequest] = {}
        self.stats = KsanaStats()
        self.step_sched_finish = False
        self.last_step_tokens = 0
        self.last_step_batch = 0

    # ----------------------------------------------------------------- requests
    def add_request(self, rid: str, prompt: list[int], max_tokens: int, arrival_time: float = 0.0) -> None:
        r = KsanaRequest(rid, list(prompt), len(prompt), max_tokens, arrival_time)
        self.requests[rid] = r
        self.waiting.append(r)

    def has_unfinished(self) -> bool:
        return bool(self.requests)

    def queue_lengths(self) -> dict[str, int]:
        return dict(waiting=len(self.waiting), running=len(self.decoding) + len(self.pending_swapin),
                    swapped=len(self.swapped) + len(self.pending_swapout))

    def used_blocks(self) -> int:
        return self.m.get_used_block_number()

    @property
    def future_free(self) -> int:
        return sum(n for _, n in self.pending_swapout)

    # ----------------------------------------------------------------- preemption
    def _release(self, r: KsanaRequest) -> None:
        if r.rid in self.m.requests:
            self.cache.free(r.rid)

    def _recompute(self, r: KsanaRequest) -> None:
        self._release(r)
        r.computed = 0
        r.allocated = False
        r.num_preemptions += 1
        self.stats.recompute += 1
        self.waiting.insert(0, r)

    def _swap_out(self, r: KsanaRequest) -> None:
        # SyncSwapoutRequest merges pending swap-ins first, so the directions never overlap.
        self._merge_swapins()
        need = self.m.get_request_freeable_block_num(r.rid)
        if self.m.get_host_free_block_number() < need:
            self.stats.swapout_fail += 1
            self._recompute(r)
            return
        swapped, _ = self.m.swap_out_request(r.rid)
        r.swapped_blocks = swapped
        r.num_preemptions += 1
        self.stats.swapout += 1
        self.stats.swap_out_blocks += swapped
        self._step_swap_out += swapped
        self.pending_swapout.append((r, swapped))

    def _preempt(self, r: KsanaRequest) -> None:
        if self.preempt_mode == "swap":
            self._swap_out(r)
        else:
            self._recompute(r)
        self._step_preempted.append(r.rid)

    def _merge_swapins(self) -> None:
        self.decoding.extend(self.pending_swapin)
        self.pending_swapin = []

    # ----------------------------------------------------------------- one step
    def schedule(self) -> StepPlan:
        plan = StepPlan()
        self._step_preempted: list[str] = []
        self._step_swap_out = 0
        self.step_sched_finish = False
        self._merge_swapins()  # MergePendingSwapinRequests
        for r, _ in self.pending_swapout:  # MergePendingSwapoutRequests: the copies are done
            self.swapped[r.rid] = r
        self.pending_swapout = []
        batch, tokens = self._schedule_decoding(plan)  # 1. decoding queue: budgets first, then blocks
        if not self.step_sched_finish and self.preempt_mode == "swap" and not self.pending_swapout:
            self._schedule_swapped(plan)  # 2. swapped queue
        if not self.step_sched_finish:
            batch, tokens = self._schedule_waiting(plan, batch, tokens)  # 3. waiting queue
        plan.preempted = self._step_preempted
        plan.swap_out_blocks = self._step_swap_out
        self.last_step_tokens, self.last_step_batch = tokens, batch
        assert tokens <= self.max_step_token_num and batch <= self.max_batch_size
        return plan

    def _schedule_decoding(self, plan: StepPlan) -> tuple[int, int]:
        """schedule's step 1, the decoding queue: (batch, tokens) taken."""
        batch = tokens = 0
        passed = []
        for r in self.decoding:
            if tokens + 1 > self.max_step_token_num or batch >= self.max_batch_size:
                continue
            tokens += 1
            batch += 1
            passed.append(r)
        for r in passed:
            while True:
                if self.cache.allocate(r.rid, r.tokens, 1) is not None:
                    plan.tokens[r.rid] = 1
                    plan.samples.add(r.rid)
                    plan.decode_seqs += 1
                    plan.context_tokens += len(r.tokens)
                    break
                chunked = [w for w in self.waiting if w.allocated]
                if self.waiting and self.split_fuse_token_num > 0:
                    for w in chunked:
                        self.waiting.remove(w)
                        self._recompute(w)
                    self.split_fuse_token_num = 0
                    self.stats.splitfuse_disabled += 1
                    if chunked:
                        continue
                if not self.pending_swapout and len(self.decoding) > 1:
                    self.decoding.remove(r)
                    self._preempt(r)
                else:
                    self.step_sched_finish = True
                tokens -= 1
                batch -= 1
                break
        return batch, tokens

    def _schedule_swapped(self, plan: StepPlan) -> None:
        """schedule's step 2, the swapped queue: swap-ins while the headroom allows."""
        for rid in sorted(self.swapped):
            r = self.swapped[rid]
            need = self.m.get_request_needed_block_num_for_one_next_token(rid)
            headroom = math.ceil(len(self.decoding) * self.swapin_block_threshold)
            if need + headroom > self.m.get_usable_block_number():
                self.step_sched_finish = True
                break
            self.m.swap_in_request(rid)
            del self.swapped[rid]
            self.stats.swapin += 1
            self.stats.swap_in_blocks += r.swapped_blocks
            plan.swap_in_blocks += r.swapped_blocks
            self.pending_swapin.append(r)

    def _schedule_waiting(self, plan: StepPlan, batch: int, tokens: int) -> tuple[int, int]:
        """schedule's step 3, the waiting queue: prefill chunks; returns (batch, tokens)."""
        for r in list(self.waiting):
            if not r.allocated:  # matched afresh each time: the tree may have changed since
                match = self.cache.match(r.rid, r.tokens)
                r.computed = match.num_computed_tokens
            shared = r.computed
            new = len(r.tokens) - shared
            if 0 < self.split_fuse_token_num < new:
                new = self.split_fuse_token_num
            seq = shared + new
            need = self.m.get_request_step_block_number(r.rid, seq)
            headroom = math.ceil(batch * self.launch_block_threshold)
            usable = self.m.get_request_usable_block_number(r.rid) - self.future_free
            if not (batch < self.max_batch_size and tokens + seq <= self.max_step_token_num
                    and need + headroom <= usable):
                break
            try:
                self.m.allocate_request_blocks(r.rid, need)
            except OutOfBlocksError:  # pragma: no cover - usable count said it fits
                break
            r.allocated = True
            batch += 1
            tokens += seq
            plan.tokens[r.rid] = new
            plan.prefill_tokens += new
            plan.context_tokens += seq
            self.stats.prefill_chunks += 1
            if seq == len(r.tokens):  # final chunk: samples, then decodes
                plan.samples.add(r.rid)
                self.waiting.remove(r)
        return batch, tokens

    def update(self, plan: StepPlan, sampled: dict[str, int]) -> list[str]:
        finished = []
        for rid, n in plan.tokens.items():
            r = self.requests[rid]
            r.computed += n
            self.cache.commit(rid, r.tokens, r.computed)  # UpdateRequestTokens: filled blocks into the tree
            if rid not in plan.samples:
                continue
            r.tokens.append(sampled[rid])
            if rid in [w.rid for w in self.waiting]:  # pragma: no cover
                raise AssertionError(rid)
            if r.num_output >= r.max_tokens:
                if r in self.decoding:
                    self.decoding.remove(r)
                self._release(r)
                del self.requests[rid]
                finished.append(rid)
            elif r not in self.decoding:
                self.decoding.append(r)
        return finished

    def check_no_leaks(self) -> None:
        assert not self.requests, "requests left"
        m = self.m
        assert m.get_used_block_number() == 0, f"{m.get_used_block_number()} device blocks still used"
        assert m.get_host_free_block_number() == self.num_host_blocks, "host blocks leaked"
        assert not m.requests and not self.swapped and not self.pending_swapout
