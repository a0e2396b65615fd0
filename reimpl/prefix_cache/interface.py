"""The one face a scheduler sees, whichever prefix cache sits behind it.

vLLM and KsanaLLM split the life of a request's KV blocks differently: vLLM hashes and caches
full blocks when it *schedules* them (`KVCacheManager.allocate_slots`), KsanaLLM inserts them
into its tree only after the step that *filled* them (`PrefixCacheManager::UpdateRequestTokens`).
Both fit one sequence of calls, which is what a scheduler does anyway:

    match(req, tokens)            look up the cached prefix (no references taken yet); only for a
                                  request that holds no blocks (new, or freed after preemption)
    allocate(req, tokens, n)      room for `n` more tokens; takes references; None = no room
    commit(req, tokens, done)     the step ran: tokens[:done] now have KV in the cache
    free(req)                     the request finished (or was dropped)
    evict(n)                      drop the cached content of unreferenced blocks: at most `n`
                                  (vLLM), at least `n` if there are (KsanaLLM frees subtrees)

`stats` counts, like vLLM's `PrefixCacheStats`, the tokens looked up (`queries`) and the tokens
whose prefill the engine skips thanks to the cache (`hits`), per `match` call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable


class UnknownRequestError(KeyError):
    """A call named a request the cache does not know (KsanaLLM answers RET_RUNTIME_FAILED)."""


class OutOfBlocksError(RuntimeError):
    """Not enough free or reusable blocks (KsanaLLM answers RET_OUT_OF_DEVICE_MEMORY)."""


@dataclass
class CacheStats:
    """Prefix-cache hit accounting, as `vllm.v1.metrics.stats.PrefixCacheStats` keeps it."""

    requests: int = 0
    queries: int = 0  # tokens looked up
    hits: int = 0  # tokens not recomputed thanks to the cache

    def record(self, num_tokens: int, num_hits: int) -> None:
        self.requests += 1
        self.queries += num_tokens
        self.hits += num_hits

    @property
    def hit_rate(self) -> float:
        return self.hits / self.queries if self.queries else 0.0


@dataclass(frozen=True)
class Match:
    """What a lookup found for a prompt.

    `num_cached_tokens` is what the cached blocks cover; `num_computed_tokens` is what the engine
    will actually skip: never the whole prompt, because the last token must be run to get logits.
    """

    block_ids: tuple[int, ...]
    num_cached_tokens: int
    num_computed_tokens: int


@runtime_checkable
class PrefixCache(Protocol):
    """What a scheduler needs from a prefix cache (see the module docstring for the call order)."""

    block_size: int
    num_blocks: int  # blocks a request can ever be given
    stats: CacheStats

    def match(self, req_id: str, token_ids: Sequence[int]) -> Match: ...

    def allocate(self, req_id: str, token_ids: Sequence[int], num_new_tokens: int) -> list[int] | None: ...

    def commit(self, req_id: str, token_ids: Sequence[int], num_computed_tokens: int) -> list[int]: ...

    def free(self, req_id: str) -> None: ...

    def evict(self, num_blocks: int) -> int: ...

    def block_table(self, req_id: str) -> list[int]: ...

    @property
    def num_free_blocks(self) -> int:
        """Blocks an allocation can take now: never used, or cached but unreferenced."""
        ...

    @property
    def num_used_blocks(self) -> int:
        """Blocks referenced by at least one request (or otherwise not allocatable)."""
        ...
