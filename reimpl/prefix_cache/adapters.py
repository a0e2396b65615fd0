"""The two caches behind the shared `PrefixCache` interface.

Each adapter does what that engine's scheduler does around its cache manager, and no more:
- `HashChainCache`: what `vllm.v1.core.sched.scheduler.Scheduler` does around
  `KVCacheManager` (`get_computed_blocks` then `allocate_slots` with the hits, set
  `num_computed_tokens`, append sampled tokens, `free`).
- `TreeCache`: what `ksana_llm::ContinuousBatchingStrategy` does around `PrefixCacheManager`
  (`GetRequestPrefixBlockNumber`, `GetRequestStepBlockNumber` + `AllocateRequestBlocks`,
  `UpdateRequestTokens` after each step, `DestroyFinishedRequest`), including its rule for a
  prompt that is wholly cached: only the last token is recomputed.

Contract for callers: a waiting request's `allocate` follows its `match` with nothing in between
(both engines schedule so; the hits are not referenced until the allocation).
"""
from __future__ import annotations

from typing import Sequence

from .block_pool import HashFn, hash_block_tokens
from .interface import CacheStats, Match, OutOfBlocksError, UnknownRequestError
from .kv_cache_manager import KVCacheManager, Request
from .tree import PrefixCacheManager, RequestState


class HashChainCache:
    """vLLM v1 prefix caching. `manager` may be any object with `KVCacheManager`'s methods;
    subclasses adapt the result shapes of another implementation (the benchmark drives the real
    vLLM through one). `hash_fn(parent, tokens)` hashes a full block (default: sha256)."""

    def __init__(self, num_blocks: int, block_size: int, max_model_len: int = 1 << 30,
                 manager: KVCacheManager | None = None, hash_fn: HashFn = hash_block_tokens):
        self.block_size = block_size
        self.hash_fn = hash_fn
        self.num_blocks = num_blocks - 1  # block 0 is the null block
        self.manager = manager if manager is not None else KVCacheManager(num_blocks, block_size, max_model_len)
        self.pool = self.manager.block_pool
        self.stats = CacheStats()
        self._requests: dict[str, Request] = {}
        self._pending: dict[str, tuple[object, int]] = {}

    # Result shapes of our KVCacheManager; tests/oracle/sides.py's subclass reads vLLM's instead.
    def _new_request(self, req_id: str, token_ids: Sequence[int]):
        return Request(req_id, token_ids, self.block_size, self.hash_fn)

    def _hit_blocks(self, hits) -> Sequence:
        return hits

    def block_table(self, req_id: str) -> list[int]:
        return self.manager.get_block_ids(req_id)

    def _free_queue(self):
        return iter(self.pool.free_block_queue)

    # PrefixCache
    def match(self, req_id: str, token_ids: Sequence[int]) -> Match:
        req = self._requests.get(req_id)
        if req is None:
            req = self._requests[req_id] = self._new_request(req_id, token_ids)
        else:
            self._sync(req, token_ids)
        hits, num_hits = self.manager.get_computed_blocks(req)
        self._pending[req_id] = (hits, num_hits)
        self.stats.record(req.num_tokens, num_hits)
        return Match(tuple(b.block_id for b in self._hit_blocks(hits)), num_hits, num_hits)

    def allocate(self, req_id: str, token_ids: Sequence[int], num_new_tokens: int) -> list[int] | None:
        req = self._get(req_id)
        self._sync(req, token_ids)
        pending = self._pending.pop(req_id, None)
        if pending is None:
            new = self.manager.allocate_slots(req, num_new_tokens)
        else:
            new = self.manager.allocate_slots(req, num_new_tokens, pending[1], pending[0])
            if new is not None:
                req.num_computed_tokens = pending[1]
        if new is None:
            if pending is not None:
                self._pending[req_id] = pending
            return None
        return self.block_table(req_id)

    def commit(self, req_id: str, token_ids: Sequence[int], num_computed_tokens: int) -> list[int]:
        req = self._get(req_id)
        req.num_computed_tokens = num_computed_tokens
        self._sync(req, token_ids)
        return self.block_table(req_id)

    def free(self, req_id: str) -> None:
        req = self._get(req_id)
        self.manager.free(req)
        del self._requests[req_id]
        self._pending.pop(req_id, None)

    def evict(self, num_blocks: int) -> int:
        """Forget the content of the next `num_blocks` cached blocks the allocator would reuse."""
        ids = []
        for block in self._free_queue():
            if len(ids) >= num_blocks:
                break
            if block.block_hash is not None:
                ids.append(block.block_id)
        self.manager.evict_blocks(set(ids))
        return len(ids)

    @property
    def num_free_blocks(self) -> int:
        return self.pool.get_num_free_blocks()

    @property
    def num_used_blocks(self) -> int:
        return self.num_blocks - self.pool.get_num_free_blocks()

    @property
    def num_cached_unreferenced_blocks(self) -> int:
        """Free blocks that still hold cached KV (a hash), i.e. evictable, referenced by no request."""
        return sum(1 for block in self._free_queue() if block.block_hash is not None)

    @property
    def num_index_entries(self) -> int:
        """The cache's bookkeeping: entries of the block-hash map."""
        return self._num_cached_hashes()

    def _num_cached_hashes(self) -> int:
        return self.pool.num_cached_hashes()

    def _get(self, req_id: str):
        req = self._requests.get(req_id)
        if req is None:
            raise UnknownRequestError(req_id)
        return req

    @staticmethod
    def _sync(req, token_ids: Sequence[int]) -> None:
        """Append the tokens sampled since the cache last saw the request."""
        if len(token_ids) > req.num_tokens:
            req.append_output_token_ids(list(token_ids[req.num_tokens:]))


class TreeCache:
    """KsanaLLM prefix caching (`num_host_blocks` > 0 enables the manager's swapping)."""

    def __init__(self, num_blocks: int, block_size: int, num_host_blocks: int = 0,
                 upstream_merge_accounting: bool = False):
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.manager = PrefixCacheManager(num_blocks, block_size, num_host_blocks, upstream_merge_accounting)
        self.stats = CacheStats()
        self._computed: dict[str, int] = {}  # tokens with KV (InferRequest::kv_cached_token_num)

    def match(self, req_id: str, token_ids: Sequence[int]) -> Match:
        _, _, shared_tokens = self.manager.get_request_prefix_block_number(req_id, token_ids, len(token_ids))
        n = len(token_ids)
        # ContinuousBatchingStrategy: a full match still runs the last token, for its logits.
        computed = shared_tokens if shared_tokens < n else n - 1
        self._computed[req_id] = computed
        self.stats.record(n, computed)
        return Match(tuple(self.manager.matched_block_ids(req_id)), shared_tokens, computed)

    def allocate(self, req_id: str, token_ids: Sequence[int], num_new_tokens: int) -> list[int] | None:
        m = self.manager
        computed = self._computed.get(req_id)
        if computed is None:
            raise UnknownRequestError(req_id)
        need = m.get_request_step_block_number(req_id, computed + num_new_tokens)
        try:
            return m.allocate_request_blocks(req_id, need)
        except OutOfBlocksError:
            return None

    def commit(self, req_id: str, token_ids: Sequence[int], num_computed_tokens: int) -> list[int]:
        self.manager.update_request_tokens(req_id, token_ids, num_computed_tokens)
        self._computed[req_id] = num_computed_tokens
        return self.manager.block_table(req_id)

    def free(self, req_id: str) -> None:
        req = self.manager.requests.get(req_id)
        if req is None:
            raise UnknownRequestError(req_id)
        if req.state is RequestState.SWAPPED:
            self.manager.destroy_swapped_request(req_id)
        else:
            self.manager.destroy_finished_request(req_id)
        del self._computed[req_id]

    def evict(self, num_blocks: int) -> int:
        return self.manager.free_cached_blocks(num_blocks)[1] if num_blocks > 0 else 0

    def block_table(self, req_id: str) -> list[int]:
        return self.manager.block_table(req_id)

    @property
    def num_free_blocks(self) -> int:
        return self.manager.get_usable_block_number()

    @property
    def num_used_blocks(self) -> int:
        return self.manager.get_used_block_number()

    @property
    def num_cached_unreferenced_blocks(self) -> int:
        """Tree blocks referenced by no request (KsanaLLM's reusable blocks, evictable)."""
        return len(self.manager.reusable_blocks)

    @property
    def num_index_entries(self) -> int:
        """The cache's bookkeeping: prefix-tree nodes (one per cached block)."""
        return self.manager.num_tree_nodes()
