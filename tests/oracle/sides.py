"""The two sides the oracle compares, behind one small API of plain values.

`RealSide` drives vLLM 0.14.1's own `vllm.v1.core.kv_cache_manager.KVCacheManager` (one
full-attention group, sha256 block hashes, stats and KV cache events on); `OurSide` drives
`infernav.reimpl.prefix_cache.KVCacheManager`. Both are given the same calls with the same
arguments; `snapshot()` reads each one's internal state (free queue order, reference counts,
per-request blocks, the hash -> blocks map, hit counters) for comparison; `take_events()` and
`make_stats()` hand over the KV cache events and the per-interval `PrefixCacheStats` as plain
tuples (event hashes are compared through a one-to-one pairing, like block hashes). Runs in the oracle venv
after `bootstrap.setup`.
"""
from __future__ import annotations

from typing import Any, Sequence

from infernav.reimpl.prefix_cache import HashChainCache, KVCacheManager, Request


class Side:
    """Common driving code; subclasses say how to build and read their manager."""

    name = "?"

    def __init__(self, num_blocks: int, block_size: int, max_model_len: int):
        self.block_size = block_size
        self.manager = self._make_manager(num_blocks, block_size, max_model_len)
        self.pool = self.manager.block_pool
        self.requests: dict[str, Any] = {}
        self.pending: dict[str, tuple[Any, int]] = {}

    def new_request(self, rid: str, tokens: Sequence[int]) -> None:
        self.requests[rid] = self._make_request(rid, list(tokens))

    def get_computed_blocks(self, rid: str) -> tuple[list[int], int]:
        hits, n = self.manager.get_computed_blocks(self.requests[rid])
        self.pending[rid] = (hits, n)
        return [b.block_id for b in self._hit_list(hits)], n

    def allocate_slots(self, rid: str, num_new_tokens: int, num_lookahead_tokens: int = 0) -> list[int] | None:
        req = self.requests[rid]
        pending = self.pending.pop(rid, None)
        if pending is None:
            new = self.manager.allocate_slots(req, num_new_tokens, num_lookahead_tokens=num_lookahead_tokens)
        else:
            new = self.manager.allocate_slots(req, num_new_tokens, num_new_computed_tokens=pending[1],
                                              new_computed_blocks=pending[0],
                                              num_lookahead_tokens=num_lookahead_tokens)
        if new is None:
            if pending is not None:
                self.pending[rid] = pending
            return None
        return [b.block_id for b in self._hit_list(new)]

    def set_computed(self, rid: str, n: int) -> None:
        self.requests[rid].num_computed_tokens = n

    def append_tokens(self, rid: str, tokens: list[int]) -> None:
        self.requests[rid].append_output_token_ids(tokens)

    def free(self, rid: str) -> None:
        self.manager.free(self.requests.pop(rid))
        self.pending.pop(rid, None)

    def preempt(self, rid: str) -> None:
        """What vLLM's scheduler does to a preempted request: free, recompute from scratch later."""
        req = self.requests[rid]
        self.manager.free(req)
        req.num_computed_tokens = 0
        req.num_preemptions += 1
        self.pending.pop(rid, None)

    def evict(self, block_ids: set[int]) -> None:
        self.manager.evict_blocks(block_ids)

    def reset(self) -> bool:
        return self.manager.reset_prefix_cache()

    def make_stats(self) -> tuple:
        return stats_tuple(self.manager.make_prefix_cache_stats())

    def take_events(self) -> list[tuple]:
        return [event_tuple(e) for e in self.manager.take_events()]

    def snapshot(self) -> dict[str, Any]:
        blocks = self.pool.blocks
        return {
            "free_queue": self._free_ids(),
            "ref_cnt": [b.ref_cnt for b in blocks],
            "req_to_blocks": {r: [b.block_id for b in bl] for r, bl in self._req_to_blocks().items()},
            "num_cached_block": dict(self._num_cached_block()),
            "stats": self._stats(),
            "block_hash": [b.block_hash for b in blocks],  # side-specific values: compared as a bijection
            "hash_map": self._hash_map(),
        }


def stats_tuple(s) -> tuple:
    return (s.reset, s.requests, s.queries, s.hits, s.preempted_requests, s.preempted_queries, s.preempted_hits)


def event_tuple(e) -> tuple:
    """(kind, hashes, parent, token ids, block size, lora id, medium, lora name), by class name."""
    kind = type(e).__name__
    if kind == "BlockStored":
        return (kind, list(e.block_hashes), e.parent_block_hash, list(e.token_ids), e.block_size, e.lora_id,
                e.medium, e.lora_name)
    if kind == "BlockRemoved":
        return (kind, list(e.block_hashes), None, None, None, None, e.medium, None)
    return (kind, [], None, None, None, None, None, None)


class OurSide(Side):
    name = "ours"

    def _make_manager(self, num_blocks, block_size, max_model_len):
        return KVCacheManager(num_blocks, block_size, max_model_len, enable_kv_cache_events=True)

    def _make_request(self, rid, tokens):
        return Request(rid, tokens, self.block_size)

    def _hit_list(self, hits):
        return hits

    def _free_ids(self):
        return self.pool.free_block_queue.block_ids()

    def _req_to_blocks(self):
        return self.manager.req_to_blocks

    def _num_cached_block(self):
        return self.manager.num_cached_block

    def _stats(self):
        return stats_tuple(self.manager.prefix_cache_stats)

    def _hash_map(self):
        return {h: self.pool.cached_block_ids(h) for h in self.pool._cached}


class RealSide(Side):
    name = "vllm"
    _hasher_ready = False

    def _make_manager(self, num_blocks, block_size, max_model_len):
        import torch
        from vllm.sampling_params import SamplingParams
        from vllm.utils.hashing import sha256
        from vllm.v1.core.kv_cache_manager import KVCacheManager as VllmKVCacheManager
        from vllm.v1.core.kv_cache_utils import get_request_block_hasher, init_none_hash
        from vllm.v1.kv_cache_interface import FullAttentionSpec, KVCacheConfig, KVCacheGroupSpec

        if not RealSide._hasher_ready:
            init_none_hash(sha256)
            RealSide._hasher_ready = True
        self._hasher = get_request_block_hasher(block_size, sha256)
        self._sampling = SamplingParams(max_tokens=1 << 20)
        spec = FullAttentionSpec(block_size=block_size, num_kv_heads=1, head_size=8, dtype=torch.float16)
        config = KVCacheConfig(num_blocks=num_blocks, kv_cache_tensors=[],
                               kv_cache_groups=[KVCacheGroupSpec(["model.layers.0.attn"], spec)])
        return VllmKVCacheManager(config, max_model_len=max_model_len, hash_block_size=block_size,
                                  enable_caching=True, log_stats=True, enable_kv_cache_events=True)

    def _make_request(self, rid, tokens):
        from vllm.v1.request import Request as VllmRequest

        return VllmRequest(rid, tokens, self._sampling, None, None, block_hasher=self._hasher)

    def _hit_list(self, hits):
        return hits.blocks[0]

    def _free_ids(self):
        return [b.block_id for b in self.pool.free_block_queue.get_all_free_blocks()]

    def _manager0(self):
        return self.manager.coordinator.single_type_managers[0]

    def _req_to_blocks(self):
        return self._manager0().req_to_blocks

    def _num_cached_block(self):
        return self._manager0().num_cached_block

    def _stats(self):
        return stats_tuple(self.manager.prefix_cache_stats)

    def _hash_map(self):
        out = {}
        for key, val in self.pool.cached_block_hash_to_block._cache.items():
            out[key] = list(val) if isinstance(val, dict) else [val.block_id]
        return out


class RealHashChainCache(HashChainCache):
    """The shared-interface adapter over the real vLLM manager (for the benchmark): the same
    adapter code as ours, only reading vLLM's result shapes."""

    def __init__(self, num_blocks: int, block_size: int, max_model_len: int = 1 << 30):
        self._real = RealSide(num_blocks, block_size, max_model_len)
        super().__init__(num_blocks, block_size, max_model_len, manager=self._real.manager)

    def _new_request(self, req_id, token_ids):
        return self._real._make_request(req_id, list(token_ids))

    def _hit_blocks(self, hits):
        return hits.blocks[0]

    def block_table(self, req_id):
        return self.manager.get_block_ids(req_id)[0]

    def _free_queue(self):
        return iter(self.pool.free_block_queue.get_all_free_blocks())

    def _num_cached_hashes(self):
        return len(self.pool.cached_block_hash_to_block)
