"""What every strategy hands the simulator for one step, and the request record they share."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StepPlan:
    """One forward pass: per request, how many tokens run and whether one token is sampled."""

    tokens: dict[str, int] = field(default_factory=dict)  # request id -> tokens run this step
    samples: set[str] = field(default_factory=set)  # requests that get a token after this step
    prefill_tokens: int = 0  # tokens that are not decode steps (prompt chunks, recompute)
    decode_seqs: int = 0  # requests running one decode token
    padded_decode_seqs: int = 0  # static batching: finished rows still occupying the batch
    context_tokens: int = 0  # KV tokens read by the step's attention (all scheduled requests)
    preempted: list[str] = field(default_factory=list)
    swap_out_blocks: int = 0
    swap_in_blocks: int = 0

    @property
    def num_tokens(self) -> int:
        return sum(self.tokens.values())


class Strategy:
    """The face the simulator drives: add requests, plan a step, feed back sampled tokens."""

    name = "?"
    block_size: int
    num_blocks: int

    def add_request(self, rid: str, prompt: list[int], max_tokens: int, arrival_time: float = 0.0) -> None:
        raise NotImplementedError

    def schedule(self) -> StepPlan:
        raise NotImplementedError

    def update(self, plan: StepPlan, sampled: dict[str, int]) -> list[str]:
        """Apply the step's sampled tokens; return the ids that finished."""
        raise NotImplementedError

    def has_unfinished(self) -> bool:
        raise NotImplementedError

    def queue_lengths(self) -> dict[str, int]:
        raise NotImplementedError

    def used_blocks(self) -> int:
        raise NotImplementedError

    def check_no_leaks(self) -> None:
        """After every request finished: every device (and host) block is free or reusable."""
        raise NotImplementedError
