"""Planted bugs for the prefix-cache oracle (differential.py): each is a monkeypatch of our
`KVCacheManager` / `BlockPool`, and the oracle must disagree with vLLM on some trace.

`MUTATIONS`: name -> (family the bug is looked for in, what it breaks). `plant(name)` applies one
and returns the function undoing it.
"""
from __future__ import annotations

MUTATIONS = {
    "free-forward": ("base", "free order: a request's blocks freed head first, not tail first"),
    "no-cap": ("base", "lookup cap: the whole prompt looked up, not num_tokens - 1"),
    "latest-duplicate": ("base", "hash map: a lookup returns the newest of duplicate blocks"),
    "lru-on-hit": ("base", "free queue: a hit on a free block leaves it in the queue"),
    "map-overwrite": ("base", "hash map: a duplicate replaces the block cached under its hash"),
    "stats-no-reset": ("base", "prefix stats: a successful reset is not flagged"),
    "stats-preempted-as-new": ("base", "prefix stats: preempted requests' lookups counted as new ones"),
    "stats-not-cleared": ("base", "prefix stats: make_prefix_cache_stats does not start a new interval"),
    "event-no-parent": ("base", "KV events: BlockStored without its parent hash"),
    "event-no-removed": ("base", "KV events: no BlockRemoved when a cached block is evicted"),
    "hit-cap-8-blocks": ("long-prompts", "long prompts: a lookup gives up after 8 blocks"),
}


def plant(name: str):
    from infernav.reimpl.prefix_cache import block_pool, events, kv_cache_manager

    KVM, Pool = kv_cache_manager.KVCacheManager, block_pool.BlockPool
    saved: list = []

    def patch(cls, attr, fn):
        saved.append((cls, attr, cls.__dict__[attr]))
        setattr(cls, attr, fn)

    def undo():
        for cls, attr, fn in reversed(saved):
            setattr(cls, attr, fn)

    orig_lookup, orig_cache, orig_evict = KVM.get_computed_blocks, Pool.cache_full_blocks, Pool._maybe_evict_cached_block
    if name == "free-forward":
        def free(self, request):
            blocks = self.req_to_blocks.pop(request.request_id, None)
            if blocks:
                self.block_pool.free_blocks(blocks)
            self.num_cached_block.pop(request.request_id, None)
        patch(KVM, "free", free)
    elif name in ("no-cap", "hit-cap-8-blocks"):
        def get_computed_blocks(self, request):
            limit = request.num_tokens // self.block_size if name == "no-cap" else \
                min(8, (request.num_tokens - 1) // self.block_size)
            hits = []
            for block_hash in request.block_hashes[:limit]:
                block = self.block_pool.get_cached_block(block_hash)
                if block is None:
                    break
                hits.append(block)
            n = len(hits) * self.block_size
            self.prefix_cache_stats.record(request.num_tokens, n, request.num_preemptions > 0)
            return hits, n
        patch(KVM, "get_computed_blocks", get_computed_blocks)
    elif name == "latest-duplicate":
        def get_cached_block(self, block_hash):
            hit = self._cached.get(block_hash)
            if hit is None or isinstance(hit, block_pool.KVCacheBlock):
                return hit
            return list(hit.values())[-1]
        patch(Pool, "get_cached_block", get_cached_block)
    elif name == "lru-on-hit":
        def touch(self, blocks):
            for block in blocks:
                block.ref_cnt += 1
        patch(Pool, "touch", touch)
    elif name == "map-overwrite":
        def cache_full_blocks(self, blocks, block_hashes, num_cached, num_full, *rest):
            orig_cache(self, blocks, block_hashes, num_cached, num_full, *rest)
            for h, hit in list(self._cached.items()):
                if isinstance(hit, dict):
                    self._cached[h] = list(hit.values())[-1]
        patch(Pool, "cache_full_blocks", cache_full_blocks)
    elif name == "stats-no-reset":
        patch(KVM, "reset_prefix_cache", lambda self: self.block_pool.reset_prefix_cache())
    elif name == "stats-preempted-as-new":
        def record(self, num_tokens, num_hits, preempted):
            self.requests += 1
            self.queries += num_tokens
            self.hits += num_hits
        patch(events.PrefixCacheStats, "record", record)
    elif name == "stats-not-cleared":
        def make_prefix_cache_stats(self):
            s = self.prefix_cache_stats
            return events.PrefixCacheStats(*s.as_tuple())
        patch(KVM, "make_prefix_cache_stats", make_prefix_cache_stats)
    elif name == "event-no-parent":
        def cache_full_blocks(self, *args, **kw):
            n = len(self.kv_event_queue.events)
            orig_cache(self, *args, **kw)
            q = self.kv_event_queue.events
            q[n:] = [events.BlockStored(e.block_hashes, None, e.token_ids, e.block_size) for e in q[n:]]
        patch(Pool, "cache_full_blocks", cache_full_blocks)
    elif name == "event-no-removed":
        def evict(self, block):
            n = len(self.kv_event_queue.events)
            ok = orig_evict(self, block)
            del self.kv_event_queue.events[n:]
            return ok
        patch(Pool, "_maybe_evict_cached_block", evict)
    else:
        raise SystemExit(f"unknown mutation {name}")
    del orig_lookup
    return undo
