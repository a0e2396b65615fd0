"""KV-cache events and per-interval prefix-cache stats, as vLLM 0.14.1 emits them.

Events mirror `vllm.distributed.kv_events` (kv_events.py:36-85): `BlockStored` when full blocks
are cached (`BlockPool.cache_full_blocks`, block_pool.py:273-297), `BlockRemoved` when a cached
block loses its hash (`BlockPool._maybe_evict_cached_block`, block_pool.py:358-368),
`AllBlocksCleared` on a successful `reset_prefix_cache` (block_pool.py:453-454). The pool queues
them; `take_events` hands them over and empties the queue (block_pool.py:479-489). Hashes are
given out as vLLM's `maybe_convert_block_hash` does by default
(`VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1`, kv_cache_utils.py:69-72): the low 64 bits of the
big-endian hash.

`PrefixCacheStats` mirrors `vllm.v1.metrics.stats.PrefixCacheStats` (stats.py:19-32, :113-140):
counts since the last `make_prefix_cache_stats` (kv_cache_manager.py:152-162), preempted
requests' lookups apart, and `reset` set by a successful `reset_prefix_cache`
(kv_cache_manager.py:413-418).
"""
from __future__ import annotations

from dataclasses import dataclass, field

MEDIUM_GPU = "GPU"  # kv_events.py:46


def external_hash(block_hash: bytes) -> int:
    """`maybe_convert_block_hash` with int block hashes on (vLLM's default)."""
    return int.from_bytes(block_hash, byteorder="big") & ((1 << 64) - 1)


@dataclass(frozen=True)
class BlockStored:
    block_hashes: tuple[int, ...]
    parent_block_hash: int | None
    token_ids: tuple[int, ...]
    block_size: int
    lora_id: int | None = None
    medium: str | None = MEDIUM_GPU
    lora_name: str | None = None


@dataclass(frozen=True)
class BlockRemoved:
    block_hashes: tuple[int, ...]
    medium: str | None = MEDIUM_GPU


@dataclass(frozen=True)
class AllBlocksCleared:
    pass


KVCacheEvent = BlockStored | BlockRemoved | AllBlocksCleared


@dataclass
class PrefixCacheStats:
    """Lookups since the last `make_prefix_cache_stats`: requests, tokens queried, tokens hit."""

    reset: bool = False
    requests: int = 0
    queries: int = 0
    hits: int = 0
    preempted_requests: int = 0
    preempted_queries: int = 0
    preempted_hits: int = 0

    def record(self, num_tokens: int, num_hits: int, preempted: bool) -> None:
        if preempted:
            self.preempted_requests += 1
            self.preempted_queries += num_tokens
            self.preempted_hits += num_hits
        else:
            self.requests += 1
            self.queries += num_tokens
            self.hits += num_hits

    def as_tuple(self) -> tuple:
        return (self.reset, self.requests, self.queries, self.hits, self.preempted_requests,
                self.preempted_queries, self.preempted_hits)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.queries if self.queries else 0.0


@dataclass
class EventQueue:
    """The pool's `kv_event_queue` (block_pool.py:177-178); a no-op when events are off."""

    enabled: bool = False
    events: list = field(default_factory=list)

    def append(self, event) -> None:
        if self.enabled:
            self.events.append(event)

    def take(self) -> list:
        if not self.enabled:
            return []
        out, self.events = self.events, []
        return out
