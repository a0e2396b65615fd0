"""vLLM v1's KV-cache manager, for one full-attention group, over `BlockPool`.

Mirrors `vllm.v1.core.kv_cache_manager.KVCacheManager` with the layers it delegates to folded
in: `vllm.v1.core.kv_cache_coordinator.UnitaryKVCacheCoordinator` and
`vllm.v1.core.single_type_kv_cache_manager.FullAttentionManager` (`req_to_blocks`,
`num_cached_block`, `find_longest_cache_hit`, `get_num_blocks_to_allocate`,
`allocate_new_computed_blocks`, `allocate_new_blocks`, `cache_blocks`, `free`). `Request` carries
only what the manager reads of `vllm.v1.request.Request`.

The rules that decide hits and misses:
- `get_computed_blocks` looks up at most `num_tokens - 1` tokens: the last prompt token must be
  run to get logits, and hits are whole blocks, so a block-aligned prompt that is fully cached
  recomputes its whole last block.
- `allocate_slots` first counts what it needs, including cached hits that sit in the free queue
  (touching them takes them out of it), and returns None *before changing anything* if the free
  queue is too short. Only then does it touch the hits and pop new blocks.
- Blocks are cached at schedule time: after allocating, every block that the scheduled tokens
  fill is hashed into the pool, capped at `request.num_tokens` (draft tokens are not cached).
- `free` releases a request's blocks in reverse, so its tail blocks are evicted first.
"""
from __future__ import annotations

from typing import Sequence

from .block_pool import BlockHash, BlockPool, HashFn, KVCacheBlock, hash_block_tokens, hash_new_full_blocks
from .events import PrefixCacheStats


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


class Request:
    """The request state the KV-cache manager reads: tokens, their full-block hashes, progress."""

    __slots__ = ("request_id", "all_token_ids", "block_hashes", "num_computed_tokens",
                 "num_preemptions", "_block_size", "_hash_fn")

    def __init__(self, request_id: str, prompt_token_ids: Sequence[int], block_size: int,
                 hash_fn: HashFn = hash_block_tokens):
        self.request_id = request_id
        self.all_token_ids: list[int] = list(prompt_token_ids)
        self.block_hashes: list[BlockHash] = []
        self.num_computed_tokens = 0
        self.num_preemptions = 0
        self._block_size = block_size
        self._hash_fn = hash_fn
        hash_new_full_blocks(self.all_token_ids, block_size, self.block_hashes, hash_fn)

    @property
    def num_tokens(self) -> int:
        return len(self.all_token_ids)

    def append_output_token_ids(self, token_ids: int | Sequence[int]) -> None:
        if isinstance(token_ids, int):
            self.all_token_ids.append(token_ids)
        else:
            self.all_token_ids.extend(token_ids)
        hash_new_full_blocks(self.all_token_ids, self._block_size, self.block_hashes, self._hash_fn)


class KVCacheManager:
    """Prefix lookup, slot allocation, schedule-time caching and freeing for requests."""

    def __init__(self, num_blocks: int, block_size: int, max_model_len: int,
                 enable_caching: bool = True, log_stats: bool = True, enable_kv_cache_events: bool = False):
        self.block_size = block_size
        self.max_model_len = max_model_len
        self.enable_caching = enable_caching
        self.block_pool = BlockPool(num_blocks, enable_caching, enable_kv_cache_events)
        self.req_to_blocks: dict[str, list[KVCacheBlock]] = {}
        self.num_cached_block: dict[str, int] = {}
        self.log_stats = log_stats
        # vLLM's PrefixCacheStats (kv_cache_manager.py:117): since the last make_prefix_cache_stats,
        # preempted requests' lookups apart. `lifetime_stats` never resets (for the simulator).
        self.prefix_cache_stats = PrefixCacheStats() if log_stats else None
        self.lifetime_stats = PrefixCacheStats() if log_stats else None

    def make_prefix_cache_stats(self) -> PrefixCacheStats | None:
        """The stats since the last call, and start anew (kv_cache_manager.py:152-162)."""
        if not self.log_stats:
            return None
        stats, self.prefix_cache_stats = self.prefix_cache_stats, PrefixCacheStats()
        return stats

    def take_events(self) -> list:
        return self.block_pool.take_events()

    # ----------------------------------------------------------------- lookup
    def get_computed_blocks(self, request: Request) -> tuple[list[KVCacheBlock], int]:
        """The longest cached prefix of whole blocks, within `num_tokens - 1` tokens."""
        if not self.enable_caching:
            return [], 0
        max_blocks = (request.num_tokens - 1) // self.block_size
        get = self.block_pool.get_cached_block
        hits: list[KVCacheBlock] = []
        for block_hash in request.block_hashes[:max_blocks]:
            block = get(block_hash)
            if block is None:
                break
            hits.append(block)
        num_hits = len(hits) * self.block_size
        if self.log_stats:  # kv_cache_manager.py:196-202
            self.prefix_cache_stats.record(request.num_tokens, num_hits, request.num_preemptions > 0)
            self.lifetime_stats.record(request.num_tokens, num_hits, request.num_preemptions > 0)
        return hits, num_hits

    # ----------------------------------------------------------------- allocation
    def allocate_slots(self, request: Request, num_new_tokens: int, num_new_computed_tokens: int = 0,
                       new_computed_blocks: Sequence[KVCacheBlock] | None = None,
                       num_lookahead_tokens: int = 0) -> list[KVCacheBlock] | None:
        """Slots for `num_new_tokens` more tokens (plus lookahead); the new blocks, or None."""
        if num_new_tokens == 0:
            raise ValueError("num_new_tokens must be greater than 0")
        new_computed = new_computed_blocks or ()
        rid = request.request_id
        total_computed = min(request.num_computed_tokens + num_new_computed_tokens, self.max_model_len)
        num_tokens_need_slot = min(total_computed + num_new_tokens + num_lookahead_tokens, self.max_model_len)
        req_blocks = self.req_to_blocks.get(rid)
        num_req_blocks = len(req_blocks) if req_blocks else 0
        num_required = cdiv(num_tokens_need_slot, self.block_size)
        pool = self.block_pool

        # Count first, so that a refusal leaves everything as it was.
        if rid in self.num_cached_block:  # running: no new hits
            assert not new_computed
            num_to_allocate = max(num_required - num_req_blocks, 0)
        else:
            num_new = max(num_required - len(new_computed) - num_req_blocks, 0)
            num_to_allocate = num_new + sum(1 for b in new_computed if b.ref_cnt == 0 and not b.is_null)
        if num_to_allocate > pool.get_num_free_blocks():
            return None

        if req_blocks is None:
            req_blocks = self.req_to_blocks[rid] = []
        if new_computed and rid not in self.num_cached_block:
            assert not req_blocks
            if self.enable_caching:
                pool.touch(new_computed)
            req_blocks.extend(new_computed)
            self.num_cached_block[rid] = len(req_blocks)

        num_new_blocks = num_required - len(req_blocks)
        new_blocks = pool.get_new_blocks(num_new_blocks) if num_new_blocks > 0 else []
        req_blocks.extend(new_blocks)
        if not self.enable_caching:
            return new_blocks

        # Cache every block the scheduled (non-draft) tokens fill.
        num_full_blocks = min(total_computed + num_new_tokens, request.num_tokens) // self.block_size
        num_cached = self.num_cached_block.get(rid, 0)
        if num_cached < num_full_blocks:
            pool.cache_full_blocks(req_blocks, request.block_hashes, num_cached, num_full_blocks,
                                   request.all_token_ids, self.block_size)
            self.num_cached_block[rid] = num_full_blocks
        return new_blocks

    def free(self, request: Request) -> None:
        """Release the request's blocks, tail first, so its tail is evicted first."""
        blocks = self.req_to_blocks.pop(request.request_id, None)
        if blocks:
            self.block_pool.free_blocks(reversed(blocks))
        self.num_cached_block.pop(request.request_id, None)

    # ----------------------------------------------------------------- cache control
    def evict_blocks(self, block_ids: set[int]) -> None:
        self.block_pool.evict_blocks(block_ids)

    def reset_prefix_cache(self) -> bool:
        """kv_cache_manager.py:404-418: a successful reset is flagged in the stats."""
        if not self.block_pool.reset_prefix_cache():
            return False
        if self.log_stats:
            self.prefix_cache_stats.reset = True
        return True

    # ----------------------------------------------------------------- inspection
    def get_block_ids(self, request_id: str) -> list[int]:
        return [b.block_id for b in self.req_to_blocks.get(request_id, ())]

    @property
    def usage(self) -> float:
        return self.block_pool.get_usage()
