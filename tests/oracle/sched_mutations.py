"""Planted bugs for the scheduler oracle (scheduler_differential.py): each must make the oracle
disagree with vLLM on some trace of its family.

`MUTATIONS`: name -> (family it is looked for in, what it breaks). `planted(name)` is a context
manager: it applies the class-level patches and yields the per-instance patch (a function of a
new `VllmScheduler`, or None), undoing everything on exit.
"""
from __future__ import annotations

import contextlib

MUTATIONS = {
    "victim-oldest": ("base", "preemption: the oldest running request is the victim, not the newest"),
    "no-threshold": ("base", "chunking: long_prefill_token_threshold ignored"),
    "requeue-at-tail": ("base", "preemption: the victim goes to the tail of the waiting queue"),
    "free-forward": ("base", "free order: a finished request's blocks freed head first"),
    "length-as-stop": ("base", "finish reason: max_tokens / max_model_len reported as 'stop'"),
    "abort-as-stop": ("base", "finish reason: an aborted request reported as 'stop'"),
    "stop-reason-lost": ("base", "finish reason: a stop token does not become stop_reason"),
    "min-tokens-ignored": ("base", "stopping: EOS honoured before min_tokens"),
    "prefix-stats-cumulative": ("base", "prefix stats: not reset at each step's make_stats"),
    "prefix-stats-preempted-as-new": ("base", "prefix stats: preempted lookups counted as new"),
    "stats-waiting-off-by-one": ("base", "scheduler stats: num_waiting_reqs omits the queue head"),
    "event-no-parent": ("base", "KV events: BlockStored without its parent hash"),
    "abort-order": ("multi-abort", "abort order: several ids freed in the order given, not vLLM's set order"),
    "abort-deferred": ("abort-mid-step", "abort: a request scheduled this step is freed only at update"),
    "chunking-always": ("chunked-off", "chunked prefill off ignored: prompts chunked anyway"),
    "over-long-capped": ("over-long", "over-long prompts: waiting requests capped at max_model_len - 1"),
    "hit-cap-8-blocks": ("long-prompts", "long prompts: a prefix lookup gives up after 8 blocks"),
    "accept-budget-below-seqs": ("configs", "config: max_num_batched_tokens < max_num_seqs accepted"),
    "accept-nochunk-short-budget": ("configs", "config: chunking off with a budget below max_model_len accepted"),
}


@contextlib.contextmanager
def planted(name: str):
    from infernav.reimpl.prefix_cache import events, kv_cache_manager
    from infernav.reimpl.prefix_cache.block_pool import BlockPool
    from infernav.reimpl.scheduler import vllm_types, vllm_v1

    saved: list = []

    def patch(obj, attr, fn):
        saved.append((obj, attr, getattr(obj, attr)))
        setattr(obj, attr, fn)

    S, KVM = vllm_v1.VllmScheduler, kv_cache_manager.KVCacheManager
    per_instance = None
    if name == "victim-oldest":
        orig = S.schedule

        class Front(list):
            def pop(self, i=0):
                return list.pop(self, 0)

        def schedule(self):
            self.running = Front(self.running)
            try:
                return orig(self)
            finally:
                self.running = list(self.running)
        patch(S, "schedule", schedule)
    elif name == "no-threshold":
        def per_instance(s):
            s.long_prefill_token_threshold = 0
    elif name == "requeue-at-tail":
        def per_instance(s):
            s.waiting.prepend = s.waiting.add
    elif name == "free-forward":
        def free(self, request):
            blocks = self.req_to_blocks.pop(request.request_id, None)
            if blocks:
                self.block_pool.free_blocks(blocks)
            self.num_cached_block.pop(request.request_id, None)
        patch(KVM, "free", free)
    elif name == "length-as-stop":
        patch(vllm_types, "FINISHED_REASON", {**vllm_types.FINISHED_REASON, vllm_types.FINISHED_LENGTH: "stop"})
    elif name == "abort-as-stop":
        patch(vllm_types, "FINISHED_REASON", {**vllm_types.FINISHED_REASON, vllm_types.FINISHED_ABORTED: "stop"})
    elif name in ("stop-reason-lost", "min-tokens-ignored"):
        orig_check = S._check_stop

        def check_stop(self, req):
            saved_min = req.min_tokens
            if name == "min-tokens-ignored":
                req.min_tokens = 0
            stopped = orig_check(self, req)
            req.min_tokens = saved_min
            if name == "stop-reason-lost":
                req.stop_reason = None
            return stopped
        patch(S, "_check_stop", check_stop)
    elif name == "prefix-stats-cumulative":
        def make(self):
            s = self.prefix_cache_stats
            return events.PrefixCacheStats(*s.as_tuple())
        patch(KVM, "make_prefix_cache_stats", make)
    elif name == "prefix-stats-preempted-as-new":
        def record(self, num_tokens, num_hits, preempted):
            self.requests += 1
            self.queries += num_tokens
            self.hits += num_hits
        patch(events.PrefixCacheStats, "record", record)
    elif name == "stats-waiting-off-by-one":
        orig_stats = S.make_stats

        def make_stats(self):
            st = orig_stats(self)
            st.num_waiting_reqs = max(0, st.num_waiting_reqs - 1)
            return st
        patch(S, "make_stats", make_stats)
    elif name == "event-no-parent":
        orig_cache = BlockPool.cache_full_blocks

        def cache_full_blocks(self, *args, **kw):
            n = len(self.kv_event_queue.events)
            orig_cache(self, *args, **kw)
            q = self.kv_event_queue.events
            q[n:] = [events.BlockStored(e.block_hashes, None, e.token_ids, e.block_size) for e in q[n:]]
        patch(BlockPool, "cache_full_blocks", cache_full_blocks)
    elif name == "abort-order":
        orig_finish = S.finish_requests

        def finish_requests(self, request_ids, status=vllm_types.FINISHED_ABORTED):
            if isinstance(request_ids, str):
                return orig_finish(self, request_ids, status)
            for rid in dict.fromkeys(request_ids):
                orig_finish(self, rid, status)
        patch(S, "finish_requests", finish_requests)
    elif name == "abort-deferred":
        orig_finish, orig_update = S.finish_requests, S.update_from_output

        def finish_requests(self, request_ids, status=vllm_types.FINISHED_ABORTED):
            ids = [request_ids] if isinstance(request_ids, str) else list(request_ids)
            scheduled = getattr(self, "_mut_last_scheduled", set())
            self._mut_deferred = getattr(self, "_mut_deferred", []) + [r for r in ids if r in scheduled]
            orig_finish(self, [r for r in ids if r not in scheduled], status)

        def update_from_output(self, out, sampled):
            deferred, self._mut_deferred, self._mut_last_scheduled = getattr(self, "_mut_deferred", []), [], set()
            res = orig_update(self, out, {r: t for r, t in sampled.items() if r not in deferred})
            orig_finish(self, deferred, vllm_types.FINISHED_ABORTED)
            return res
        orig_schedule = S.schedule

        def schedule(self):
            out = orig_schedule(self)
            self._mut_last_scheduled = set(out.num_scheduled_tokens)
            return out
        patch(S, "finish_requests", finish_requests)
        patch(S, "update_from_output", update_from_output)
        patch(S, "schedule", schedule)
    elif name == "chunking-always":
        def per_instance(s):
            s.enable_chunked_prefill = True
    elif name == "over-long-capped":
        orig_alloc = KVM.allocate_slots

        def allocate_slots(self, request, num_new_tokens, num_new_computed_tokens=0, new_computed_blocks=None,
                           num_lookahead_tokens=0):
            cap = self.max_model_len - 1 - request.num_computed_tokens - num_new_computed_tokens
            if num_new_computed_tokens or new_computed_blocks is not None or request.num_computed_tokens == 0:
                num_new_tokens = max(1, min(num_new_tokens, cap))
            return orig_alloc(self, request, num_new_tokens, num_new_computed_tokens, new_computed_blocks,
                              num_lookahead_tokens)
        patch(KVM, "allocate_slots", allocate_slots)
    elif name == "hit-cap-8-blocks":
        orig_lookup = KVM.get_computed_blocks

        def get_computed_blocks(self, request):
            hits, n = orig_lookup(self, request)
            return hits[:8], min(n, 8 * self.block_size)
        patch(KVM, "get_computed_blocks", get_computed_blocks)
    elif name in ("accept-budget-below-seqs", "accept-nochunk-short-budget"):
        orig_validate = vllm_v1.validate_config

        def validate(num_blocks, seqs, budget, max_model_len, chunked, policy):
            if name == "accept-budget-below-seqs":
                budget = max(budget, seqs)
            else:
                chunked = True
            orig_validate(num_blocks, seqs, budget, max_model_len, chunked, policy)
        patch(vllm_v1, "validate_config", validate)
    else:
        raise SystemExit(f"unknown mutation {name}")
    try:
        yield per_instance
    finally:
        for obj, attr, fn in reversed(saved):
            setattr(obj, attr, fn)
