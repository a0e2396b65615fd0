"""Planted bugs for the prefix-cache oracle (differential.py): each is a monkeypatch of our
`KVCacheManager` / `BlockPool` / `PrefixCacheStats`, and the oracle must disagree with vLLM on
some trace of the bug's family.

`MUTATIONS`: name -> (family the bug is looked for in, what it breaks). `plant(name)` applies one
and returns the function undoing it.
"""
from __future__ import annotations

MUTATIONS: dict[str, tuple[str, str]] = {}
_PLANT: dict = {}


def bug(name: str, family: str, breaks: str):
    def register(fn):
        MUTATIONS[name] = (family, breaks)
        _PLANT[name] = fn
        return fn
    return register


def plant(name: str):
    from infernav.reimpl.prefix_cache import block_pool, events, kv_cache_manager

    saved: list = []

    def patch(obj, attr, value):
        saved.append((obj, attr, getattr(obj, attr)))
        setattr(obj, attr, value)

    def undo():
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)

    if name not in _PLANT:
        raise SystemExit(f"unknown mutation {name}")
    _PLANT[name](patch, kv_cache_manager.KVCacheManager, block_pool, events)
    return undo


@bug("free-forward", "base", "free order: a request's blocks freed head first, not tail first")
def _free_forward(patch, KVM, bp, ev):
    def free(self, request):
        blocks = self.req_to_blocks.pop(request.request_id, None)
        if blocks:
            self.block_pool.free_blocks(blocks)
        self.num_cached_block.pop(request.request_id, None)
    patch(KVM, "free", free)


def _lookup(patch, KVM, limit):
    def get_computed_blocks(self, request):
        hits = []
        for block_hash in request.block_hashes[:limit(self, request)]:
            block = self.block_pool.get_cached_block(block_hash)
            if block is None:
                break
            hits.append(block)
        n = len(hits) * self.block_size
        self.prefix_cache_stats.record(request.num_tokens, n, request.num_preemptions > 0)
        return hits, n
    patch(KVM, "get_computed_blocks", get_computed_blocks)


@bug("no-cap", "base", "lookup cap: the whole prompt looked up, not num_tokens - 1")
def _no_cap(patch, KVM, bp, ev):
    _lookup(patch, KVM, lambda self, r: r.num_tokens // self.block_size)


@bug("latest-duplicate", "base", "hash map: a lookup returns the newest of duplicate blocks")
def _latest_duplicate(patch, KVM, bp, ev):
    def get_cached_block(self, block_hash):
        hit = self._cached.get(block_hash)
        if hit is None or isinstance(hit, bp.KVCacheBlock):
            return hit
        return list(hit.values())[-1]
    patch(bp.BlockPool, "get_cached_block", get_cached_block)


@bug("lru-on-hit", "base", "free queue: a hit on a free block leaves it in the queue")
def _lru_on_hit(patch, KVM, bp, ev):
    def touch(self, blocks):
        for block in blocks:
            block.ref_cnt += 1
    patch(bp.BlockPool, "touch", touch)


@bug("map-overwrite", "base", "hash map: a duplicate replaces the block cached under its hash")
def _map_overwrite(patch, KVM, bp, ev):
    orig = bp.BlockPool.cache_full_blocks

    def cache_full_blocks(self, *args, **kw):
        orig(self, *args, **kw)
        for h, hit in list(self._cached.items()):
            if isinstance(hit, dict):
                self._cached[h] = list(hit.values())[-1]
    patch(bp.BlockPool, "cache_full_blocks", cache_full_blocks)


@bug("stats-no-reset", "base", "prefix stats: a successful reset is not flagged")
def _stats_no_reset(patch, KVM, bp, ev):
    patch(KVM, "reset_prefix_cache", lambda self: self.block_pool.reset_prefix_cache())


@bug("stats-preempted-as-new", "base", "prefix stats: preempted requests' lookups counted as new ones")
def _stats_preempted(patch, KVM, bp, ev):
    orig = ev.PrefixCacheStats.record
    patch(ev.PrefixCacheStats, "record", lambda self, n, hits, preempted: orig(self, n, hits, False))


@bug("stats-not-cleared", "base", "prefix stats: make_prefix_cache_stats does not start a new interval")
def _stats_not_cleared(patch, KVM, bp, ev):
    patch(KVM, "make_prefix_cache_stats", lambda self: ev.PrefixCacheStats(*self.prefix_cache_stats.as_tuple()))


@bug("event-no-parent", "base", "KV events: BlockStored without its parent hash")
def _event_no_parent(patch, KVM, bp, ev):
    orig = bp.BlockPool.cache_full_blocks

    def cache_full_blocks(self, *args, **kw):
        n = len(self.kv_event_queue.events)
        orig(self, *args, **kw)
        q = self.kv_event_queue.events
        q[n:] = [ev.BlockStored(e.block_hashes, None, e.token_ids, e.block_size) for e in q[n:]]
    patch(bp.BlockPool, "cache_full_blocks", cache_full_blocks)


@bug("event-no-removed", "base", "KV events: no BlockRemoved when a cached block is evicted")
def _event_no_removed(patch, KVM, bp, ev):
    orig = bp.BlockPool._maybe_evict_cached_block

    def evict(self, block):
        n = len(self.kv_event_queue.events)
        ok = orig(self, block)
        del self.kv_event_queue.events[n:]
        return ok
    patch(bp.BlockPool, "_maybe_evict_cached_block", evict)


@bug("hit-cap-8-blocks", "long-prompts", "long prompts: a lookup gives up after 8 blocks")
def _hit_cap(patch, KVM, bp, ev):
    _lookup(patch, KVM, lambda self, r: min(8, (r.num_tokens - 1) // self.block_size))
