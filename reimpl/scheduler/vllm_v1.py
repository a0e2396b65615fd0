"""vLLM v1's scheduler (0.14.1), text-only, one KV-cache group, no speculative decoding.

Mirrors `vllm.v1.core.sched.scheduler.Scheduler.schedule`, `_preempt_request`,
`_update_after_schedule`, `update_from_output` (with `check_stop`, the outputs, `make_stats` and
the KV events it takes), `finish_requests`, `reset_prefix_cache`, the config checks of
`vllm.config.SchedulerConfig` and the two request queues of `vllm.v1.core.sched.request_queue`
(vllm_types.py), over our own `infernav.reimpl.prefix_cache.KVCacheManager`
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

from typing import Iterable, Sequence

from infernav.reimpl.prefix_cache import KVCacheManager

from .vllm_types import (FINISHED_ABORTED, FINISHED_LENGTH, FINISHED_STOPPED, PREEMPTED, RUNNING, WAITING,
                         EngineCoreOutput, FCFSQueue, PriorityQueue, SchedRequest, SchedulerOutput, SchedulerStats,
                         UpdateResult, validate_config)

__all__ = ["FCFSQueue", "PriorityQueue", "SchedRequest", "SchedulerOutput", "VllmScheduler", "FINISHED_ABORTED",
           "FINISHED_LENGTH", "FINISHED_STOPPED", "PREEMPTED", "RUNNING", "WAITING", "EngineCoreOutput",
           "SchedulerStats", "UpdateResult"]


class VllmScheduler:
    """The decisions of vLLM v1's `Scheduler`, step by step (see the module docstring)."""

    name = "vllm"

    def __init__(self, num_blocks: int, block_size: int, max_num_seqs: int, max_num_batched_tokens: int,
                 max_model_len: int, long_prefill_token_threshold: int = 0, enable_prefix_caching: bool = True,
                 policy: str = "fcfs", enable_chunked_prefill: bool = True, log_stats: bool = True,
                 enable_kv_cache_events: bool = False):
        validate_config(num_blocks, max_num_seqs, max_num_batched_tokens, max_model_len, enable_chunked_prefill,
                        policy)
        self.log_stats = log_stats
        self.block_size = block_size
        self.max_num_running_reqs = max_num_seqs
        self.max_num_scheduled_tokens = max_num_batched_tokens
        self.max_model_len = max_model_len
        self.long_prefill_token_threshold = long_prefill_token_threshold
        self.enable_chunked_prefill = enable_chunked_prefill
        self.policy = policy
        self.kv_cache_manager = KVCacheManager(num_blocks, block_size, max_model_len,
                                               enable_caching=enable_prefix_caching, log_stats=log_stats,
                                               enable_kv_cache_events=enable_kv_cache_events)
        self.waiting = PriorityQueue() if policy == "priority" else FCFSQueue()
        self.running: list[SchedRequest] = []
        self.requests: dict[str, SchedRequest] = {}
        self.finished_req_ids: set[str] = set()
        self.num_preemptions = 0

    # ----------------------------------------------------------------- requests in and out
    def add_request(self, request_id: str, prompt_token_ids: Sequence[int], max_tokens: int,
                    eos_token_id: int | None = None, priority: int = 0, arrival_time: float = 0.0,
                    min_tokens: int = 0, stop_token_ids: Sequence[int] = (), ignore_eos: bool = False) -> SchedRequest:
        """scheduler.py:1446-1448. Like the Scheduler, this does not check the prompt against
        max_model_len (vLLM's input processor does, before the scheduler sees the request)."""
        req = SchedRequest(request_id, prompt_token_ids, self.block_size, max_tokens, eos_token_id,
                           priority, arrival_time, min_tokens, stop_token_ids, ignore_eos)
        self.waiting.add(req)
        self.requests[request_id] = req
        return req

    def finish_requests(self, request_ids: str | Iterable[str], status: str = FINISHED_ABORTED) -> None:
        """Abort (scheduler.py:1452-1492): drop the requests from whichever queue holds them and
        free their blocks. Several ids are made a `set` first, as vLLM does (:1461-1464), so their
        blocks are freed in that set's iteration order (hash-seeded: it differs between processes
        unless PYTHONHASHSEED is fixed); finished or unknown ids are skipped."""
        ids = (request_ids,) if isinstance(request_ids, str) else set(request_ids)
        valid = []
        for rid in ids:
            r = self.requests.get(rid)
            if r is None or r.is_finished():
                continue
            valid.append(r)
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
        budget = self.max_num_scheduled_tokens
        budget, scheduled_running, preempted = self._schedule_running(out, budget)
        new_reqs: list[SchedRequest] = []
        resumed: list[SchedRequest] = []
        if not preempted:  # waiting requests, only if nobody was preempted
            budget = self._schedule_waiting(out, budget, new_reqs, resumed)
        assert budget >= 0 and len(self.running) <= self.max_num_running_reqs
        out.new_req_ids = [r.request_id for r in new_reqs]
        out.resumed_req_ids = [r.request_id for r in resumed]
        out.running_req_ids = [r.request_id for r in scheduled_running]
        out.preempted_req_ids = [r.request_id for r in preempted]
        out.finished_req_ids = self.finished_req_ids
        # _update_after_schedule: progress advances now, so a prefill can go on next step.
        for rid, n in out.num_scheduled_tokens.items():
            self.requests[rid].num_computed_tokens += n
        self.finished_req_ids = set()
        return out

    def _schedule_running(self, out: SchedulerOutput,
                          budget: int) -> tuple[int, list[SchedRequest], list[SchedRequest]]:
        """schedule's first pass, over the running requests: (budget left, scheduled, preempted)."""
        scheduled = out.num_scheduled_tokens
        scheduled_running: list[SchedRequest] = []
        preempted: list[SchedRequest] = []
        kv = self.kv_cache_manager
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
        return budget, scheduled_running, preempted

    def _schedule_waiting(self, out: SchedulerOutput, budget: int, new_reqs: list[SchedRequest],
                          resumed: list[SchedRequest]) -> int:
        """schedule's second pass, over the waiting queue: admits into `new_reqs` / `resumed`;
        returns the budget left."""
        kv = self.kv_cache_manager
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
            out.num_scheduled_tokens[req.request_id] = n
            out.num_cache_hit_tokens[req.request_id] = num_computed
            budget -= n
            req.status = RUNNING
            req.num_computed_tokens = num_computed
            if req.num_cached_tokens < 0:
                req.num_cached_tokens = num_computed
        return budget

    def needs_sample(self, request_id: str) -> bool:
        """After `schedule()`: whether the model samples a token for this request this step
        (its scheduled tokens reach the end of what it has; a partial prefill samples nothing)."""
        r = self.requests[request_id]
        return r.num_computed_tokens >= r.num_tokens

    def update_from_output(self, out: SchedulerOutput, sampled: dict[str, list[int]]) -> UpdateResult:
        """Append the sampled tokens, stop requests (EOS, stop tokens, max_tokens, max_model_len)
        and free them (scheduler.py:1088-1344). `sampled` maps request id to its new tokens ([]
        or absent for a partial prefill). Returns the ids finished in this call, carrying the
        step's outputs, stats and KV cache events (`UpdateResult`)."""
        finished = UpdateResult()
        finished.outputs = []
        stopped_running: set[int] = set()
        stopped_waiting: list[SchedRequest] = []
        for rid, num_tokens_scheduled in out.num_scheduled_tokens.items():
            if num_tokens_scheduled <= 0:
                # scheduler.py:1131 asserts this. It fails for a prompt longer than max_model_len
                # (which vLLM's input processor refuses before the scheduler sees it): pass 1
                # caps a running request at max_model_len - 1 - num_computed_tokens, negative
                # once a chunk has taken it past that, and such a count is scheduled as is.
                raise AssertionError(f"{rid}: {num_tokens_scheduled} tokens scheduled")
            req = self.requests.get(rid)
            if req is None:  # aborted between schedule and update (scheduler.py:1135-1140)
                continue
            status_before_stop = req.status
            new_token_ids = list(sampled.get(rid) or ())
            stopped = False
            for num_new, tok in enumerate(new_token_ids, 1):  # _update_request_with_output, :1346-1362
                req.append_output_token_ids(tok)
                if self._check_stop(req):
                    del new_token_ids[num_new:]
                    stopped = True
                    break
            if stopped:
                self._free_request(req)
                finished.append(rid)
                if status_before_stop == RUNNING:
                    stopped_running.add(id(req))
                else:
                    stopped_waiting.append(req)
            if new_token_ids:  # :1245-1263
                finished.outputs.append(EngineCoreOutput(rid, new_token_ids, req.get_finished_reason(),
                                                         req.stop_reason, req.num_cached_tokens))
        if stopped_running:
            self.running = [r for r in self.running if id(r) not in stopped_running]
        if stopped_waiting:
            self.waiting.remove_all(stopped_waiting)
        finished.events = self.kv_cache_manager.take_events()
        finished.scheduler_stats = self.make_stats()
        return finished

    def make_stats(self) -> SchedulerStats | None:
        """scheduler.py:1580-1612, the fields a text-only scheduler without connectors fills."""
        if not self.log_stats:
            return None
        return SchedulerStats(len(self.running), len(self.waiting), self.kv_cache_manager.usage,
                              self.kv_cache_manager.make_prefix_cache_stats())

    def _check_stop(self, req: SchedRequest) -> bool:
        """`vllm.v1.core.sched.utils.check_stop` (utils.py:40-64)."""
        if req.num_output_tokens < req.min_tokens:
            return False
        last = req.all_token_ids[-1]
        if not req.ignore_eos and req.eos_token_id is not None and last == req.eos_token_id:
            req.status = FINISHED_STOPPED
            return True
        if last in req.stop_token_ids:
            req.status = FINISHED_STOPPED
            req.stop_reason = last
            return True
        if req.num_tokens >= self.max_model_len or req.num_output_tokens >= req.max_tokens:
            req.status = FINISHED_LENGTH
            return True
        return False

    def reset_prefix_cache(self, reset_running_requests: bool = False) -> bool:
        """scheduler.py:1520-1564 without connectors: optionally preempt every running request
        (tail first), then reset the KV manager's prefix cache."""
        if reset_running_requests:
            while self.running:
                self._preempt(self.running.pop())
        ok = self.kv_cache_manager.reset_prefix_cache()
        if reset_running_requests and not ok:
            raise RuntimeError("Failed to reset KV cache even when all the running requests are preempted")
        return ok

    # ----------------------------------------------------------------- inspection
    def waiting_ids(self) -> list[str]:
        return [r.request_id for r in self.waiting.ordered()]

    def running_ids(self) -> list[str]:
        return [r.request_id for r in self.running]

    @property
    def num_free_blocks(self) -> int:
        return self.kv_cache_manager.block_pool.get_num_free_blocks()
