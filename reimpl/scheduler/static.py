"""Static batching: the baseline.

A batch of up to `max_batch_size` waiting requests (FCFS) is formed only when no batch is
running; every member's whole KV (prompt + `max_tokens`) is reserved up front, so nothing is ever
preempted; all prompts prefill in the first step; then the batch decodes until its *longest*
member is done. Rows whose request finished early stay in the batch as padding
(`padded_decode_seqs`): they cost compute and hold their blocks until the batch ends. New
arrivals wait for the next batch. No prefix caching.
"""
from __future__ import annotations

from dataclasses import dataclass

from .common import StepPlan, Strategy


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class _Req:
    rid: str
    tokens: list[int]
    num_prompt: int
    max_tokens: int
    done: bool = False


class StaticBatchScheduler(Strategy):
    name = "static"

    def __init__(self, num_blocks: int, block_size: int, max_batch_size: int = 8):
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.max_batch_size = max_batch_size
        self.waiting: list[_Req] = []
        self.batch: list[_Req] = []
        self.reserved = 0
        self.requests: dict[str, _Req] = {}
        self.prefilled = False

    def _blocks(self, r: _Req) -> int:
        return _cdiv(r.num_prompt + r.max_tokens, self.block_size)

    def add_request(self, rid: str, prompt: list[int], max_tokens: int, arrival_time: float = 0.0) -> None:
        r = _Req(rid, list(prompt), len(prompt), max_tokens)
        if self._blocks(r) > self.num_blocks:
            raise ValueError(f"{rid} can never fit: {self._blocks(r)} blocks > {self.num_blocks}")
        self.requests[rid] = r
        self.waiting.append(r)

    def has_unfinished(self) -> bool:
        return bool(self.requests)

    def queue_lengths(self) -> dict[str, int]:
        return dict(waiting=len(self.waiting), running=sum(not r.done for r in self.batch), swapped=0)

    def used_blocks(self) -> int:
        return self.reserved

    def schedule(self) -> StepPlan:
        plan = StepPlan()
        if not self.batch:
            while self.waiting and len(self.batch) < self.max_batch_size \
                    and self.reserved + self._blocks(self.waiting[0]) <= self.num_blocks:
                r = self.waiting.pop(0)
                self.batch.append(r)
                self.reserved += self._blocks(r)
            self.prefilled = False
            if not self.batch:
                return plan
        if not self.prefilled:
            for r in self.batch:
                plan.tokens[r.rid] = r.num_prompt
                plan.samples.add(r.rid)
                plan.prefill_tokens += r.num_prompt
                plan.context_tokens += r.num_prompt
            self.prefilled = True
            return plan
        for r in self.batch:
            if r.done:
                plan.padded_decode_seqs += 1
                continue
            plan.tokens[r.rid] = 1
            plan.samples.add(r.rid)
            plan.decode_seqs += 1
            plan.context_tokens += len(r.tokens)
        plan.padded_decode_seqs += plan.decode_seqs
        return plan

    def update(self, plan: StepPlan, sampled: dict[str, int]) -> list[str]:
        finished = []
        for rid in plan.samples:
            r = self.requests[rid]
            r.tokens.append(sampled[rid])
            if len(r.tokens) - r.num_prompt >= r.max_tokens:
                r.done = True
                finished.append(rid)
                del self.requests[rid]
        if self.batch and all(r.done for r in self.batch):
            self.reserved -= sum(self._blocks(r) for r in self.batch)
            self.batch = []
        return finished

    def check_no_leaks(self) -> None:
        assert not self.requests and not self.batch and self.reserved == 0
