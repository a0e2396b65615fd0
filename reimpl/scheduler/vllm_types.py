"""The request, queues and result records of vLLM v1's scheduler (0.14.1), for `vllm_v1.py`.

- `SchedRequest`: the part of `vllm.v1.request.Request` the scheduler reads (request.py), with
  `RequestStatus` (request.py:243-268) as strings and `get_finished_reason` mapping them the way
  `_FINISHED_REASON_MAP` does (request.py:275-281): stopped -> "stop", length -> "length",
  aborted -> "abort".
- `FCFSQueue`, `PriorityQueue`: `vllm.v1.core.sched.request_queue`.
- `SchedulerOutput`: the ids of `vllm.v1.core.sched.output.SchedulerOutput`.
- `EngineCoreOutput`: the fields of `vllm.v1.engine.EngineCoreOutput` a text-only step fills
  (scheduler.py:1245-1263); `SchedulerStats`: those of `vllm.v1.metrics.stats.SchedulerStats`
  that `Scheduler.make_stats` fills without connectors or spec decoding (scheduler.py:1580-1612).
- `validate_config`: what vLLM rejects of a scheduler configuration (config/scheduler.py:50-57,
  :249-297; scheduler.py:144, :153-158).
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from infernav.reimpl.prefix_cache import PrefixCacheStats
from infernav.reimpl.prefix_cache import Request as KVRequest

WAITING, RUNNING, PREEMPTED = "waiting", "running", "preempted"
FINISHED_STOPPED, FINISHED_LENGTH, FINISHED_ABORTED = "finished_stopped", "finished_length", "finished_aborted"
FINISHED_REASON = {FINISHED_STOPPED: "stop", FINISHED_LENGTH: "length", FINISHED_ABORTED: "abort"}


class SchedRequest(KVRequest):
    """A request as the scheduler sees it: the KV manager's view plus sampling limits and status."""

    __slots__ = ("num_prompt_tokens", "max_tokens", "eos_token_id", "priority", "arrival_time", "status",
                 "num_cached_tokens", "min_tokens", "stop_token_ids", "ignore_eos", "stop_reason")

    def __init__(self, request_id: str, prompt_token_ids: Sequence[int], block_size: int, max_tokens: int,
                 eos_token_id: int | None = None, priority: int = 0, arrival_time: float = 0.0,
                 min_tokens: int = 0, stop_token_ids: Sequence[int] = (), ignore_eos: bool = False):
        super().__init__(request_id, prompt_token_ids, block_size)
        self.num_prompt_tokens = len(prompt_token_ids)
        self.max_tokens = max_tokens
        self.eos_token_id = eos_token_id
        self.priority = priority
        self.arrival_time = arrival_time
        self.status = WAITING
        self.num_cached_tokens = -1  # prefix-cache hit at first admission, as vLLM records it
        self.min_tokens = min_tokens
        self.stop_token_ids = tuple(stop_token_ids)
        self.ignore_eos = ignore_eos
        self.stop_reason: int | None = None

    def is_finished(self) -> bool:
        return self.status in FINISHED_REASON

    def get_finished_reason(self) -> str | None:
        """request.py:209-210 via _FINISHED_REASON_MAP (request.py:275-281)."""
        return FINISHED_REASON.get(self.status)

    @property
    def num_output_tokens(self) -> int:
        return self.num_tokens - self.num_prompt_tokens

    @property
    def output_token_ids(self) -> list[int]:
        return self.all_token_ids[self.num_prompt_tokens:]

    def sort_key(self) -> tuple:
        return (self.priority, self.arrival_time, self.request_id)

    def __lt__(self, other: "SchedRequest") -> bool:
        return self.sort_key() < other.sort_key()


class FCFSQueue:
    """A deque: add at the tail, preempted requests back at the head."""

    def __init__(self):
        self._q: deque[SchedRequest] = deque()

    def add(self, r: SchedRequest) -> None:
        self._q.append(r)

    def prepend(self, r: SchedRequest) -> None:
        self._q.appendleft(r)

    def peek(self) -> SchedRequest:
        return self._q[0]

    def pop(self) -> SchedRequest:
        return self._q.popleft()

    def remove_all(self, rs: Iterable[SchedRequest]) -> None:
        drop = set(map(id, rs))
        self._q = deque(r for r in self._q if id(r) not in drop)

    def ordered(self) -> list[SchedRequest]:
        return list(self._q)

    def __len__(self) -> int:
        return len(self._q)


class PriorityQueue(FCFSQueue):
    """A heap on (priority, arrival time, id); 'prepend' is just re-insertion."""

    def __init__(self):
        self._h: list[SchedRequest] = []

    def add(self, r: SchedRequest) -> None:
        heapq.heappush(self._h, r)

    prepend = add

    def peek(self) -> SchedRequest:
        return self._h[0]

    def pop(self) -> SchedRequest:
        return heapq.heappop(self._h)

    def remove_all(self, rs: Iterable[SchedRequest]) -> None:
        drop = set(map(id, rs))
        self._h = [r for r in self._h if id(r) not in drop]
        heapq.heapify(self._h)

    def ordered(self) -> list[SchedRequest]:
        return sorted(self._h)

    def __len__(self) -> int:
        return len(self._h)


@dataclass
class SchedulerOutput:
    """What one `schedule()` decided (ids, in the order vLLM records them)."""

    num_scheduled_tokens: dict[str, int] = field(default_factory=dict)
    new_req_ids: list[str] = field(default_factory=list)
    resumed_req_ids: list[str] = field(default_factory=list)
    running_req_ids: list[str] = field(default_factory=list)  # scheduled, already running before
    preempted_req_ids: list[str] = field(default_factory=list)  # in preemption order
    finished_req_ids: set[str] = field(default_factory=set)  # freed since the previous step
    num_cache_hit_tokens: dict[str, int] = field(default_factory=dict)  # per admitted request

    @property
    def total_num_scheduled_tokens(self) -> int:
        return sum(self.num_scheduled_tokens.values())



@dataclass
class EngineCoreOutput:
    """One request's output of a step (only requests that got tokens have one)."""

    request_id: str
    new_token_ids: list[int]
    finish_reason: str | None
    stop_reason: int | None
    num_cached_tokens: int


@dataclass
class SchedulerStats:
    num_running_reqs: int
    num_waiting_reqs: int
    kv_cache_usage: float
    prefix_cache_stats: PrefixCacheStats | None


class UpdateResult(list):
    """What `update_from_output` returns: the ids finished in the call (a list, as before), with
    the step's `outputs`, `scheduler_stats` (None unless log_stats) and the KV cache `events`
    taken from the manager (scheduler.py:1295, published as one batch there)."""

    outputs: list[EngineCoreOutput]
    scheduler_stats: SchedulerStats | None
    events: list


def validate_config(num_blocks: int, max_num_seqs: int, max_num_batched_tokens: int, max_model_len: int,
                    enable_chunked_prefill: bool, policy: str) -> None:
    """Raise ValueError for what vLLM 0.14.1 refuses, in its order."""
    for name, value in (("max_num_batched_tokens", max_num_batched_tokens), ("max_num_seqs", max_num_seqs)):
        if not isinstance(value, int) or value < 1:  # Field(ge=1), config/scheduler.py:50, :57
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if policy not in ("fcfs", "priority"):  # SchedulerPolicy Literal; scheduler.py:153-158
        raise ValueError(f"unknown policy {policy!r}")
    if max_num_batched_tokens < max_model_len and not enable_chunked_prefill:  # config/scheduler.py:250-261
        raise ValueError(f"max_num_batched_tokens ({max_num_batched_tokens}) is smaller than max_model_len "
                         f"({max_model_len}) with chunked prefill off")
    if max_num_batched_tokens < max_num_seqs:  # config/scheduler.py:263-268
        raise ValueError(f"max_num_batched_tokens ({max_num_batched_tokens}) must be greater than or equal to "
                         f"max_num_seqs ({max_num_seqs})")
    if not isinstance(num_blocks, int) or num_blocks < 1:  # scheduler.py:143-144
        raise ValueError(f"num_blocks must be > 0, got {num_blocks!r}")
