"""vLLM v1's scheduler (0.14.1), text-only, one KV-cache group, no speculative decoding.

Mirrors `vllm.v1.core.sched.scheduler.Scheduler.schedule`, `_preempt_request`,
`_update_after_schedule`, `update_from_output`, `finish_requests` and the two request queues of
`vllm.v1.core.sched.request_queue`, over our own `infernav.reimpl.prefix_cache.KVCacheManager`
(itself checked against vLLM's). What is left out: encoder inputs, KV connectors, LoRA, structured
output, async scheduling, draft tokens; none of them change a text-only step.

The rules, in the order `schedule()` applies them:
- one token budget (`max_num_batched_tokens`) for the whole step;
- pass 1 walks `running` front to back: each request asks for `num_tokens - num_computed_tokens`,
  capped by `long_prefill_token_threshold` (if > 0), by the budget left and by
  `max_model_len - 1 - num_computed_tokens`; if `allocate_slots` refuses, preempt, and retry:
  FCFS takes `running.pop()` (the most recently admitted), the priority policy the running
  request with the largest `(priority, arrival_time)` (giving back its budget if it was already
  scheduled this step). A preempted request's blocks are freed (their hashes stay cached), its
  progress goes to 0 and it goes back to the *head* of the waiting queue. If the victim is the
  request itself, pass 1 stops;
- pass 2 (only if nothing was preempted in this step) admits waiting requests in queue order while
  budget is left and fewer than `max_num_seqs` run: prefix-cache lookup, then the rest of the
  prompt (capped as above; without chunked prefill a request that does not fit stops admission);
  a refusal of `allocate_slots` stops admission (head-of-line blocking). Waiting requests never
  preempt anyone.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from infernav.reimpl.prefix_cache import KVCacheManager
from infernav.reimpl.prefix_cache import Request as KVRequest

WAITING, RUNNING, PREEMPTED = "waiting", "running", "preempted"
FINISHED_STOPPED, FINISHED_LENGTH, FINISHED_ABORTED = "finished_stopped", "finished_length", "finished_aborted"


class SchedRequest(KVRequest):
    """A request as the scheduler sees it: the KV manager's view plus sampling limits and status."""

    __slots__ = ("num_prompt_tokens", "max_tokens", "eos_token_id", "priority", "arrival_time", "status",
                 "num_cached_tokens")

    def __init__(self, request_id: str, prompt_token_ids: Sequence[int], block_size: int, max_tokens: int,
                 eos_token_id: int | None = None, priority: int = 0, arrival_time: float = 0.0):
        super().__init__(request_id, prompt_token_ids, block_size)
        self.num_prompt_tokens = len(prompt_token_ids)
        self.max_tokens = max_tokens
        self.eos_token_id = eos_token_id
        self.priority = priority
        self.arrival_time = arrival_time
        self.status = WAITING
        self.num_cached_tokens = -1  # prefix-cache hit at first admission, as vLLM records it

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


class VllmScheduler:
    """The decisions of vLLM v1's `Scheduler`, step by step (see the module docstring)."""

    name = "vllm"

    def __init__(self, num_blocks: int, block_size: int, max_num_seqs: int, max_num_batched_tokens: int,
                 max_model_len: int, long_prefill_token_threshold: int = 0, enable_prefix_caching: bool = True,
                 policy: str = "fcfs", enable_chunked_prefill: bool = True):
        if policy not in ("fcfs", "priority"):
            raise ValueError(f"unknown policy {policy!r}")
        self.block_size = block_size
        self.max_num_running_reqs = max_num_seqs
        self.max_num_scheduled_tokens = max_num_batched_tokens
        self.max_model_len = max_model_len
        self.long_prefill_token_threshold = long_prefill_token_threshold
        self.enable_chunked_prefill = enable_chunked_prefill
        self.policy = policy
        self.kv_cache_manager = KVCacheManager(num_blocks, block_size, max_model_len,
                                               enable_caching=enable_prefix_caching)
        self.waiting = PriorityQueue() if policy == "priority" else FCFSQueue()
        self.running: list[SchedRequest] = []
        self.requests: dict[str, SchedRequest] = {}
        self.finished_req_ids: set[str] = set()
        self.num_preemptions = 0

    # ----------------------------------------------------------------- requests in and out
    def add_request(self, request_id: str, prompt_token_ids: Sequence[int], max_tokens: int,
                    eos_token_id: int | None = None, priority: int = 0, arrival_time: float = 0.0) -> SchedRequest:
        req = SchedRequest(request_id, prompt_token_ids, self.block_size, max_tokens, eos_token_id,
                           priority, arrival_time)
        self.waiting.add(req)
        self.requests[request_id] = req
        return req

    def finish_requests(self, request_ids: Iterable[str], status: str = FINISHED_ABORTED) -> None:
        """Abort: drop the requests from whichever queue holds them and free their blocks."""
        valid = [self.requests[r] for r in dict.fromkeys(request_ids) if r in self.requests]
        running = {id(r) for r in valid if r.status == RUNNING}
        if running:
            self.running = [r for r in self.running if id(r) not in running]
        waiting = [r for r in valid if r.status != RUNNING]
        if waiting:
            self.waiting.remove_all(waiting)
        for r in valid:
            r.status = status
            self._free_request(r)

    def _free_request(self, req: SchedRequest) -> None:
        self.kv_cache_manager.free(req)
        del self.requests[req.request_id]
        self.finished_req_ids.add(req.request_id)

    def has_unfinished_requests(self) -> bool:
        return bool(self.requests)

    # ----------------------------------------------------------------- one step
    def _preempt(self, req: SchedRequest) -> None:
        self.kv_cache_manager.free(req)
        req.status = PREEMPTED
        req.num_computed_tokens = 0
        req.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.prepend(req)

    def _cap(self, req: SchedRequest, num_new_tokens: int, token_budget: int) -> int:
        if 0 < self.long_prefill_token_threshold < num_new_tokens:
            num_new_tokens = self.long_prefill_token_threshold
        return min(num_new_tokens, token_budget)

    def schedule(self) -> SchedulerOutput:
        out = SchedulerOutput()
        scheduled = out.num_scheduled_tokens
        scheduled_running: list[SchedRequest] = []
        preempted: list[SchedRequest] = []
        budget = self.max_num_scheduled_tokens
        kv = self.kv_cache_manager

        # Pass 1: running requests.
        i = 0
        while i < len(self.running) and budget > 0:
            req = self.running[i]
            n = self._cap(req, req.num_tokens - req.num_computed_tokens, budget)
            n = min(n, self.max_model_len - 1 - req.num_computed_tokens)
            if n == 0:
                i += 1
                continue
            while True:
                new_blocks = kv.allocate_slots(req, n)
                if new_blocks is not None:
                    break
                if self.policy == "priority":
                    victim = max(self.running, key=lambda r: (r.priority, r.arrival_time))
                    self.running.remove(victim)
                    if victim in scheduled_running:
                        scheduled_running.remove(victim)
                        budget += scheduled.pop(victim.request_id)
                        i -= 1
                else:
                    victim = self.running.pop()
                self._preempt(victim)
                preempted.append(victim)
                if victim is req:
                    break
            if new_blocks is None:
                break
            scheduled_running.append(req)
            scheduled[req.request_id] = n
            budget -= n
            i += 1

        # Pass 2: waiting requests, only if nobody was preempted.
        new_reqs: list[SchedRequest] = []
        resumed: list[SchedRequest] = []
        if not preempted:
            while len(self.waiting) and budget > 0:
                if len(self.running) == self.max_num_running_reqs:
                    break
                req = self.waiting.peek()
                if req.num_computed_tokens == 0:
                    hits, num_computed = kv.get_computed_blocks(req)
                    num_new_computed = num_computed
                else:  # pragma: no cover - only with KV connectors
                    hits, num_new_computed, num_computed = [], 0, req.num_computed_tokens
                n = req.num_tokens - num_computed
                if 0 < self.long_prefill_token_threshold < n:
                    n = self.long_prefill_token_threshold
                if not self.enable_chunked_prefill and n > budget:
                    break
                n = min(n, budget)
                if kv.allocate_slots(req, n, num_new_computed_tokens=num_new_computed,
                                     new_computed_blocks=hits) is None:
                    break
                self.waiting.pop()
                self.running.append(req)
                (new_reqs if req.status == WAITING else resumed).append(req)
                scheduled[req.request_id] = n
                out.num_cache_hit_tokens[req.request_id] = num_computed
                budget -= n
                req.status = RUNNING
                req.num_computed_tokens = num_computed
                if req.num_cached_tokens < 0:
                    req.num_cached_tokens = num_computed

        assert budget >= 0 and len(self.running) <= self.max_num_running_reqs
        out.new_req_ids = [r.request_id for r in new_reqs]
        out.resumed_req_ids = [r.request_id for r in resumed]
        out.running_req_ids = [r.request_id for r in scheduled_running]
        out.preempted_req_ids = [r.request_id for r in preempted]
        out.finished_req_ids = self.finished_req_ids
        # _update_after_schedule: progress advances now, so a prefill can go on next step.
        for rid, n in scheduled.items():
            self.requests[rid].num_computed_tokens += n
        self.finished_req_ids = set()
        return out

    def needs_sample(self, request_id: str) -> bool:
        """After `schedule()`: whether the model samples a token for this request this step
        (its scheduled tokens reach the end of what it has; a partial prefill samples nothing)."""
        r = self.requests[request_id]
        return r.num_computed_tokens >= r.num_tokens

    def update_from_output(self, out: SchedulerOutput, sampled: dict[str, list[int]]) -> list[str]:
        """Append the sampled tokens, stop requests (EOS, max_tokens, max_model_len) and free
        them. `sampled` maps request id to its new tokens ([] or absent for a partial prefill).
        Returns the ids finished in this call."""
        finished: list[str] = []
        stopped_running: set[int] = set()
        for rid in out.num_scheduled_tokens:
            req = self.requests.get(rid)
            if req is None:
                continue
            was_running = req.status == RUNNING
            for tok in sampled.get(rid) or ():
                req.append_output_token_ids(tok)
                if self._check_stop(req):
                    self._free_request(req)
                    finished.append(rid)
                    if was_running:
                        stopped_running.add(id(req))
                    break
        if stopped_running:
            self.running = [r for r in self.running if id(r) not in stopped_running]
        return finished

    def _check_stop(self, req: SchedRequest) -> bool:
        last = req.all_token_ids[-1]
        if req.eos_token_id is not None and last == req.eos_token_id:
            req.status = FINISHED_STOPPED
            return True
        if req.num_tokens >= self.max_model_len or req.num_output_tokens >= req.max_tokens:
            req.status = FINISHED_LENGTH
            return True
        return False

    # ----------------------------------------------------------------- inspection
    def waiting_ids(self) -> list[str]:
        return [r.request_id for r in self.waiting.ordered()]

    def running_ids(self) -> list[str]:
        return [r.request_id for r in self.running]

    @property
    def num_free_blocks(self) -> int:
        return self.kv_cache_manager.block_pool.get_num_free_blocks()
