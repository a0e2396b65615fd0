"""`VllmScheduler` behind the simulator's `Strategy` face (recompute-only preemption)."""
from __future__ import annotations

from .common import StepPlan, Strategy
from .vllm_v1 import VllmScheduler


class VllmStrategy(Strategy):
    name = "vllm"

    def __init__(self, num_blocks: int, block_size: int, max_batch_size: int = 8, max_step_token_num: int = 2048,
                 max_model_len: int = 8192, long_prefill_token_threshold: int = 0, enable_prefix_caching: bool = True):
        self.block_size, self.num_blocks = block_size, num_blocks
        self.s = VllmScheduler(num_blocks + 1, block_size, max_batch_size, max_step_token_num, max_model_len,
                               long_prefill_token_threshold, enable_prefix_caching)  # +1: vLLM's null block
        self._last = None

    def add_request(self, rid: str, prompt: list[int], max_tokens: int, arrival_time: float = 0.0) -> None:
        self.s.add_request(rid, prompt, max_tokens, arrival_time=arrival_time)

    def has_unfinished(self) -> bool:
        return self.s.has_unfinished_requests()

    def queue_lengths(self) -> dict[str, int]:
        return dict(waiting=len(self.s.waiting), running=len(self.s.running), swapped=0)

    def used_blocks(self) -> int:
        return self.num_blocks - self.s.num_free_blocks

    def schedule(self) -> StepPlan:
        out = self._last = self.s.schedule()
        plan = StepPlan(preempted=list(out.preempted_req_ids))
        for rid, n in out.num_scheduled_tokens.items():
            r = self.s.requests[rid]
            plan.tokens[rid] = n
            start = r.num_computed_tokens - n
            if n == 1 and start >= r.num_prompt_tokens:
                plan.decode_seqs += 1
            else:
                plan.prefill_tokens += n
            plan.context_tokens += r.num_computed_tokens
            if self.s.needs_sample(rid):
                plan.samples.add(rid)
        return plan

    def update(self, plan: StepPlan, sampled: dict[str, int]) -> list[str]:
        return self.s.update_from_output(self._last, {rid: [t] for rid, t in sampled.items()})

    def check_no_leaks(self) -> None:
        assert not self.s.requests and not self.s.running and not len(self.s.waiting)
        assert self.s.num_free_blocks == self.num_blocks, "blocks leaked"
