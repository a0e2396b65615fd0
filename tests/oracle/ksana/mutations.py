"""Bugs planted in our tree cache, each a plausible misreading of the C++, for the oracle to catch.

Each is a subclass of our `PrefixCacheManager` changing one rule:

    evict-oldest-first     FreeCachedBlocks walks the timeline oldest first (upstream: newest first)
    lru-on-hit             a prefix match refreshes the blocks' place in the timeline (upstream: no)
    no-reusable-on-finish  a finished request's unreferenced tree blocks are not made reusable
    ref-miscount           the first allocation does not reference the matched blocks
    swap-in-no-merge       a swapped-in block never merges into its twin already in the tree
    children-dict-order    children iterate in insertion order (upstream: libstdc++'s hash order)
"""
from __future__ import annotations

from infernav.reimpl.prefix_cache.tree import CachedBlock, PrefixCacheManager, RequestState


class EvictOldestFirst(PrefixCacheManager):
    def free_cached_blocks(self, block_num, reserved=()):
        self.timeline = dict.fromkeys(reversed(self.timeline))
        try:
            return super().free_cached_blocks(block_num, reserved)
        finally:
            self.timeline = dict.fromkeys(reversed(self.timeline))


class LruOnHit(PrefixCacheManager):
    def get_request_prefix_block_number(self, req_id, input_token_ids, check_token_num=None):
        got = super().get_request_prefix_block_number(req_id, input_token_ids, check_token_num)
        for cb in self.requests[req_id].cached_blocks[:got[0]]:
            self._timeline_append(cb)
        return got


class NoReusableOnFinish(PrefixCacheManager):
    def destroy_finished_request(self, req_id):
        before = set(self.reusable_blocks)
        ok = super().destroy_finished_request(req_id)
        self.reusable_blocks &= before
        return ok


class RefMiscount(PrefixCacheManager):
    def allocate_request_blocks(self, req_id, block_num):
        req = self.requests.get(req_id)
        matched = list(req.cached_blocks) if req is not None and req.state is RequestState.WAITING else []
        got = super().allocate_request_blocks(req_id, block_num)
        for cb in matched:
            cb.active.pop(req_id, None)
        return got


class SwapInNoMerge(PrefixCacheManager):
    def _append_swapin_cached_block(self, req, index, cb):
        parent = self.root if index == 0 else req.cached_blocks[index - 1]
        cb.parent = parent
        parent.children[cb.token_ids] = cb
        self._timeline_append(cb)


class DictChildrenBlock(CachedBlock):
    __slots__ = ()

    def __init__(self, block_id):
        super().__init__(block_id)
        self.children = {}  # the manager only ever clears it: it stays a dict


class ChildrenDictOrder(PrefixCacheManager):
    block_cls = DictChildrenBlock


MUTATIONS = {
    "evict-oldest-first": EvictOldestFirst,
    "lru-on-hit": LruOnHit,
    "no-reusable-on-finish": NoReusableOnFinish,
    "ref-miscount": RefMiscount,
    "swap-in-no-merge": SwapInNoMerge,
    "children-dict-order": ChildrenDictOrder,
}
