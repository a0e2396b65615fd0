"""Planted bugs for the scheduler oracle (scheduler_differential.py): each must make the oracle
disagree with vLLM on some trace of its family.

`MUTATIONS`: name -> (family it is looked for in, what it breaks). `planted(name)` is a context
manager: it applies the bug's class-level patches and yields its per-instance patch (a function
of a new `VllmScheduler`, or None), undoing everything on exit.
"""
from __future__ import annotations

import contextlib

MUTATIONS: dict[str, tuple[str, str]] = {}
_PLANT: dict = {}


def bug(name: str, family: str, breaks: str):
    """Register `fn(patch, mods)`: it patches with `patch(obj, attr, value)` and may return a
    per-instance patch."""
    def register(fn):
        MUTATIONS[name] = (family, breaks)
        _PLANT[name] = fn
        return fn
    return register


class _Mods:
    def __init__(self):
        from infernav.reimpl.prefix_cache import events, kv_cache_manager
        from infernav.reimpl.prefix_cache.block_pool import BlockPool
        from infernav.reimpl.scheduler import vllm_types, vllm_v1
        self.events, self.types, self.v1, self.Pool = events, vllm_types, vllm_v1, BlockPool
        self.S, self.KVM = vllm_v1.VllmScheduler, kv_cache_manager.KVCacheManager


@contextlib.contextmanager
def planted(name: str):
    saved: list = []

    def patch(obj, attr, value):
        saved.append((obj, attr, getattr(obj, attr)))
        setattr(obj, attr, value)

    try:
        yield _PLANT[name](patch, _Mods())
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)


# ----------------------------------------------------------------------------- base family
@bug("victim-oldest", "base", "preemption: the oldest running request is the victim, not the newest")
def _victim_oldest(patch, m):
    orig = m.S.schedule

    class Front(list):
        def pop(self, i=0):
            return list.pop(self, 0)

    def schedule(self):
        self.running = Front(self.running)
        try:
            return orig(self)
        finally:
            self.running = list(self.running)
    patch(m.S, "schedule", schedule)


@bug("no-threshold", "base", "chunking: long_prefill_token_threshold ignored")
def _no_threshold(patch, m):
    return lambda s: setattr(s, "long_prefill_token_threshold", 0)


@bug("requeue-at-tail", "base", "preemption: the victim goes to the tail of the waiting queue")
def _requeue_at_tail(patch, m):
    return lambda s: setattr(s.waiting, "prepend", s.waiting.add)


@bug("free-forward", "base", "free order: a finished request's blocks freed head first")
def _free_forward(patch, m):
    def free(self, request):
        blocks = self.req_to_blocks.pop(request.request_id, None)
        if blocks:
            self.block_pool.free_blocks(blocks)
        self.num_cached_block.pop(request.request_id, None)
    patch(m.KVM, "free", free)


@bug("length-as-stop", "base", "finish reason: max_tokens / max_model_len reported as 'stop'")
def _length_as_stop(patch, m):
    patch(m.types, "FINISHED_REASON", {**m.types.FINISHED_REASON, m.types.FINISHED_LENGTH: "stop"})


@bug("abort-as-stop", "base", "finish reason: an aborted request reported as 'stop'")
def _abort_as_stop(patch, m):
    patch(m.types, "FINISHED_REASON", {**m.types.FINISHED_REASON, m.types.FINISHED_ABORTED: "stop"})


def _wrap_check_stop(patch, m, before, after):
    orig = m.S._check_stop

    def check_stop(self, req):
        saved = before(req)
        stopped = orig(self, req)
        after(req, saved)
        return stopped
    patch(m.S, "_check_stop", check_stop)


@bug("stop-reason-lost", "base", "finish reason: a stop token does not become stop_reason")
def _stop_reason_lost(patch, m):
    _wrap_check_stop(patch, m, lambda r: None, lambda r, _: setattr(r, "stop_reason", None))


@bug("min-tokens-ignored", "base", "stopping: EOS and stop tokens honoured before min_tokens")
def _min_tokens_ignored(patch, m):
    def before(r):
        saved, r.min_tokens = r.min_tokens, 0
        return saved
    _wrap_check_stop(patch, m, before, lambda r, saved: setattr(r, "min_tokens", saved))


@bug("prefix-stats-cumulative", "base", "prefix stats: not reset at each step's make_stats")
def _prefix_stats_cumulative(patch, m):
    patch(m.KVM, "make_prefix_cache_stats", lambda self: m.events.PrefixCacheStats(*self.prefix_cache_stats.as_tuple()))


@bug("prefix-stats-preempted-as-new", "base", "prefix stats: preempted lookups counted as new")
def _prefix_stats_preempted(patch, m):
    orig = m.events.PrefixCacheStats.record
    patch(m.events.PrefixCacheStats, "record", lambda self, n, hits, preempted: orig(self, n, hits, False))


@bug("stats-waiting-off-by-one", "base", "scheduler stats: num_waiting_reqs omits the queue head")
def _stats_waiting(patch, m):
    orig = m.S.make_stats

    def make_stats(self):
        st = orig(self)
        st.num_waiting_reqs = max(0, st.num_waiting_reqs - 1)
        return st
    patch(m.S, "make_stats", make_stats)


@bug("map-overwrite", "base", "hash map: a duplicate replaces the block cached under its hash")
def _map_overwrite(patch, m):
    orig = m.Pool.cache_full_blocks

    def cache_full_blocks(self, *args, **kw):
        orig(self, *args, **kw)
        for h, hit in list(self._cached.items()):
            if isinstance(hit, dict):
                self._cached[h] = list(hit.values())[-1]
    patch(m.Pool, "cache_full_blocks", cache_full_blocks)


@bug("event-no-parent", "base", "KV events: BlockStored without its parent hash")
def _event_no_parent(patch, m):
    orig = m.Pool.cache_full_blocks

    def cache_full_blocks(self, *args, **kw):
        n = len(self.kv_event_queue.events)
        orig(self, *args, **kw)
        q = self.kv_event_queue.events
        q[n:] = [m.events.BlockStored(e.block_hashes, None, e.token_ids, e.block_size) for e in q[n:]]
    patch(m.Pool, "cache_full_blocks", cache_full_blocks)


# ----------------------------------------------------------------------------- other families
@bug("abort-order", "multi-abort", "abort order: several ids freed in the order given, not vLLM's set order")
def _abort_order(patch, m):
    orig = m.S.finish_requests

    def finish_requests(self, request_ids, status=m.types.FINISHED_ABORTED):
        if isinstance(request_ids, str):
            return orig(self, request_ids, status)
        for rid in dict.fromkeys(request_ids):
            orig(self, rid, status)
    patch(m.S, "finish_requests", finish_requests)


@bug("abort-deferred", "abort-mid-step", "abort: a request scheduled this step is freed only at update")
def _abort_deferred(patch, m):
    orig_finish, orig_update, orig_schedule = m.S.finish_requests, m.S.update_from_output, m.S.schedule

    def schedule(self):
        out = orig_schedule(self)
        self._mut_scheduled, self._mut_deferred = set(out.num_scheduled_tokens), []
        return out

    def finish_requests(self, request_ids, status=m.types.FINISHED_ABORTED):
        ids = [request_ids] if isinstance(request_ids, str) else list(request_ids)
        scheduled = getattr(self, "_mut_scheduled", set())
        self._mut_deferred = getattr(self, "_mut_deferred", []) + [r for r in ids if r in scheduled]
        orig_finish(self, [r for r in ids if r not in scheduled], status)

    def update_from_output(self, out, sampled):
        deferred, self._mut_deferred, self._mut_scheduled = getattr(self, "_mut_deferred", []), [], set()
        res = orig_update(self, out, {r: t for r, t in sampled.items() if r not in deferred})
        orig_finish(self, deferred, m.types.FINISHED_ABORTED)
        return res
    patch(m.S, "schedule", schedule)
    patch(m.S, "finish_requests", finish_requests)
    patch(m.S, "update_from_output", update_from_output)


@bug("chunking-always", "chunked-off", "chunked prefill off ignored: prompts chunked anyway")
def _chunking_always(patch, m):
    return lambda s: setattr(s, "enable_chunked_prefill", True)


@bug("over-long-capped", "over-long", "over-long prompts: a waiting request capped at max_model_len - 1")
def _over_long_capped(patch, m):
    orig = m.KVM.allocate_slots

    def allocate_slots(self, request, num_new_tokens, num_new_computed_tokens=0, new_computed_blocks=None,
                       num_lookahead_tokens=0):
        if request.request_id not in self.req_to_blocks:  # admission of a waiting request
            cap = self.max_model_len - 1 - request.num_computed_tokens - num_new_computed_tokens
            num_new_tokens = max(1, min(num_new_tokens, cap))
        return orig(self, request, num_new_tokens, num_new_computed_tokens, new_computed_blocks, num_lookahead_tokens)
    patch(m.KVM, "allocate_slots", allocate_slots)


@bug("hit-cap-8-blocks", "long-prompts", "long prompts: a prefix lookup gives up after 8 blocks")
def _hit_cap(patch, m):
    orig = m.KVM.get_computed_blocks

    def get_computed_blocks(self, request):
        hits, n = orig(self, request)
        return hits[:8], min(n, 8 * self.block_size)
    patch(m.KVM, "get_computed_blocks", get_computed_blocks)


def _loosen_validation(patch, m, loosen):
    orig = m.v1.validate_config

    def validate(num_blocks, seqs, budget, max_model_len, chunked, policy):
        budget, chunked = loosen(seqs, budget, chunked)
        orig(num_blocks, seqs, budget, max_model_len, chunked, policy)
    patch(m.v1, "validate_config", validate)


@bug("accept-budget-below-seqs", "configs", "config: max_num_batched_tokens < max_num_seqs accepted")
def _accept_budget(patch, m):
    _loosen_validation(patch, m, lambda seqs, budget, chunked: (seqs if 1 <= budget < seqs else budget, chunked))


@bug("accept-nochunk-short-budget", "configs", "config: chunking off with a budget below max_model_len accepted")
def _accept_nochunk(patch, m):
    _loosen_validation(patch, m, lambda seqs, budget, chunked: (budget, True))
