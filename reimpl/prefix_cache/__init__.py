"""Prefix caches of three engines, behind one interface.

- `HashChainCache` over `KVCacheManager` / `BlockPool`: vLLM v1 (0.14.1), hash chain of full
  blocks, checked decision by decision against the real vLLM by tests/oracle.
- `TreeCache` over `PrefixCacheManager`: KsanaLLM (c451219c), a tree of exact token blocks,
  checked by re-expressed scenarios of its own unit test.
- `RadixPrefixCache` over `RadixTree`: SGLang (0.5.10.post1), a radix tree over token runs with
  LRU eviction of unlocked leaves, checked step by step against SGLang's real `RadixCache` by
  tests/oracle/sglang_radix.py.

docs/dev/prefix_cache.md says how the two behave, where the engines' code and the issue that
asked for this disagree, and what was measured.
"""
from .adapters import HashChainCache, TreeCache
from .events import AllBlocksCleared, BlockRemoved, BlockStored, PrefixCacheStats
from .block_pool import BlockPool, FreeBlockQueue, KVCacheBlock, hash_block_tokens
from .interface import CacheStats, Match, OutOfBlocksError, PrefixCache, UnknownRequestError
from .kv_cache_manager import KVCacheManager, Request
from .radix import RadixNode, RadixPrefixCache, RadixTree
from .tree import CachedBlock, CachedRequest, PrefixCacheManager, RequestState

__all__ = [
    "AllBlocksCleared", "BlockPool", "BlockRemoved", "BlockStored", "CacheStats", "CachedBlock", "CachedRequest",
    "FreeBlockQueue", "HashChainCache",
    "KVCacheBlock", "KVCacheManager", "Match", "OutOfBlocksError", "PrefixCache", "PrefixCacheManager",
    "PrefixCacheStats", "RadixNode", "RadixPrefixCache", "RadixTree", "Request", "RequestState", "TreeCache", "UnknownRequestError", "hash_block_tokens",
]
