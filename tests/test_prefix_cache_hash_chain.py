"""vLLM v1's hash-chain prefix cache (`infernav.reimpl.prefix_cache.KVCacheManager`), rule by rule.

The differential oracle (test_prefix_cache_oracle.py) checks these same behaviours against the
real vLLM on random traces; here each rule gets a small scenario of its own, readable on its own.
"""
from __future__ import annotations

import copy

import pytest

from infernav.reimpl.prefix_cache import HashChainCache, KVCacheManager, Request, hash_block_tokens
from infernav.reimpl.prefix_cache.invariants import check_hash_chain

B = 4


def state(m: KVCacheManager) -> tuple:
    pool = m.block_pool
    return (pool.free_block_queue.block_ids(), [b.ref_cnt for b in pool.blocks],
            [b.block_hash for b in pool.blocks], copy.deepcopy({r: [b.block_id for b in bl]
                                                                for r, bl in m.req_to_blocks.items()}),
            dict(m.num_cached_block))


def admit(m: KVCacheManager, req: Request, chunk: int | None = None) -> list[int] | None:
    """What vLLM's scheduler does for a waiting request: look up, allocate with the hits, advance."""
    hits, n = m.get_computed_blocks(req)
    num_new = chunk if chunk is not None else req.num_tokens - n
    new = m.allocate_slots(req, num_new, n, hits)
    if new is not None:
        req.num_computed_tokens = n + num_new
    return None if new is None else [b.block_id for b in new]


def test_block_zero_is_the_null_block():
    m = KVCacheManager(5, B, 1024)
    assert m.block_pool.null_block.block_id == 0
    assert m.block_pool.free_block_queue.block_ids() == [1, 2, 3, 4]
    req = Request("a", range(16), B)
    assert admit(m, req) == [1, 2, 3, 4]
    assert admit(m, Request("b", [9], B)) is None  # 5 blocks, but only 4 to give
    m.free(req)
    assert 0 not in m.block_pool.free_block_queue.block_ids()
    check_hash_chain(m)


def test_hashes_chain_over_full_blocks_only():
    req = Request("a", range(10), B)
    assert len(req.block_hashes) == 2  # 10 tokens: two full blocks
    assert req.block_hashes[1] == hash_block_tokens(req.block_hashes[0], [4, 5, 6, 7])
    req.append_output_token_ids([10, 11])
    assert len(req.block_hashes) == 3
    other = Request("b", [0, 1, 2, 99, 4, 5, 6, 7], B)  # same second block, other first block
    assert other.block_hashes[1] != req.block_hashes[1]


def test_free_queue_order_allocation_and_release():
    m = KVCacheManager(8, B, 1024)
    a = Request("a", range(12), B)
    assert admit(m, a) == [1, 2, 3]
    assert m.block_pool.free_block_queue.block_ids() == [4, 5, 6, 7]
    m.free(a)  # reversed: a's tail block is the first to be evicted
    assert m.block_pool.free_block_queue.block_ids() == [4, 5, 6, 7, 3, 2, 1]
    assert all(m.block_pool.blocks[i].block_hash is not None for i in (1, 2, 3))  # still cached
    c = Request("c", [50] * 20, B)  # five blocks: takes 4..7, then 3, whose hash it drops
    assert admit(m, c) == [4, 5, 6, 7, 3]
    assert m.block_pool.blocks[3].block_hash is not None  # now c's full block...
    assert m.block_pool.get_cached_block(a.block_hashes[2]) is None  # ...a's third is gone
    assert m.get_computed_blocks(Request("a2", range(12), B))[1] == 8  # a's first two remain
    check_hash_chain(m)


def test_a_hit_on_a_free_block_takes_it_out_of_the_queue():
    m = KVCacheManager(8, B, 1024)
    a = Request("a", range(9), B)
    admit(m, a)
    m.free(a)
    assert m.block_pool.free_block_queue.block_ids() == [4, 5, 6, 7, 3, 2, 1]
    b = Request("b", list(range(8)) + [77], B)
    assert admit(m, b) == [4]  # hits 1 and 2, one new block for the ninth token
    assert m.get_block_ids("b") == [1, 2, 4]
    assert m.block_pool.free_block_queue.block_ids() == [5, 6, 7, 3]
    check_hash_chain(m)


def test_lookup_stops_one_token_short_of_the_prompt():
    m = KVCacheManager(8, B, 1024)
    a = Request("a", range(8), B)
    admit(m, a)
    m.free(a)
    hits, n = m.get_computed_blocks(Request("b", range(8), B))
    assert n == 4 and [b.block_id for b in hits] == [1]  # the whole last block is recomputed
    hits, n = m.get_computed_blocks(Request("c", range(9), B))
    assert n == 8


def test_duplicate_blocks_are_kept_and_the_earliest_is_found():
    m = KVCacheManager(8, B, 1024)
    a, b = Request("a", range(8), B), Request("b", range(8), B)
    admit(m, a)  # caches blocks 1 and 2
    admit(m, b)  # hits 1, recomputes the last block into 3: same hash as 2
    assert m.get_block_ids("b") == [1, 3]
    assert m.block_pool.cached_block_ids(a.block_hashes[1]) == [2, 3]
    assert m.block_pool.get_cached_block(a.block_hashes[1]).block_id == 2
    m.free(a)
    m.free(b)
    m.block_pool.get_new_blocks(4)  # 4, 5, 6, 7; then 2 is at the head
    m.block_pool.get_new_blocks(1)  # reusing 2 drops it from the map; 3 remains findable
    assert m.block_pool.get_cached_block(a.block_hashes[1]).block_id == 3


def test_refused_allocation_changes_nothing():
    m = KVCacheManager(6, B, 1024)
    a = Request("a", range(12), B)
    admit(m, a)
    m.free(a)  # blocks 1..3 free but cached
    b = Request("b", range(20), B)  # hits 1..3 (free: they count against capacity), needs 2 more
    hits, n = m.get_computed_blocks(b)
    assert n == 12
    before = state(m)
    assert m.allocate_slots(b, 8, n, hits, num_lookahead_tokens=4) is None  # 3 + 3 > 5
    assert state(m) == before
    assert m.allocate_slots(b, 8, n, hits) is not None
    check_hash_chain(m)


def test_blocks_are_cached_when_scheduled():
    m = KVCacheManager(10, B, 1024)
    a = Request("a", range(16), B)
    admit(m, a, chunk=9)  # a chunk of 9: blocks 1 and 2 are full once it runs
    b = Request("b", range(16), B)
    assert m.get_computed_blocks(b)[1] == 8  # before a's step even ran
    assert m.num_cached_block["a"] == 2


def test_evict_blocks_forgets_content_but_keeps_blocks():
    m = KVCacheManager(6, B, 1024)
    a = Request("a", range(8), B)
    admit(m, a)
    m.evict_blocks({1})
    assert m.block_pool.blocks[1].block_hash is None and m.block_pool.blocks[1].ref_cnt == 1
    assert m.get_computed_blocks(Request("b", range(9), B))[1] == 0  # the chain breaks at block 1
    check_hash_chain(m)


def test_reset_only_when_nothing_is_in_use():
    m = KVCacheManager(6, B, 1024)
    a = Request("a", range(8), B)
    admit(m, a)
    assert m.reset_prefix_cache() is False
    m.free(a)
    assert m.reset_prefix_cache() is True
    assert all(b.block_hash is None for b in m.block_pool.blocks)


def test_the_hash_is_trusted():
    """No token comparison on a hit (unlike KsanaLLM's tree): equal hashes are equal blocks.
    With a deliberately colliding hash function, another prompt's block is handed out."""
    collide = lambda parent, tokens: b"x" * 32  # noqa: E731
    m = KVCacheManager(6, B, 1024)
    admit(m, Request("a", [1, 2, 3, 4, 5], B, hash_fn=collide))
    hits, n = m.get_computed_blocks(Request("b", [9, 9, 9, 9, 9], B, hash_fn=collide))
    assert n == 4 and hits[0].block_id == 1


def test_adapter_reports_hits_and_rejects_unknown_requests():
    cache = HashChainCache(10, B)
    prompt = list(range(10))
    cache.match("a", prompt)
    cache.allocate("a", prompt, 10)
    cache.commit("a", prompt + [5], 10)
    cache.free("a")
    hit = cache.match("b", prompt)
    assert hit.block_ids == (1, 2) and hit.num_computed_tokens == 8
    assert (cache.stats.queries, cache.stats.hits) == (20, 8) and cache.stats.hit_rate == 0.4
    assert cache.num_free_blocks + cache.num_used_blocks == cache.num_blocks == 9
    cache.free("b")
    # evict(n) forgets the next n cached blocks the allocator would reuse: queue [..., 2, 1].
    assert cache.evict(1) == 1
    assert cache.match("c", prompt).num_computed_tokens == 4  # block 1 still hits, 2 does not
    cache.free("c")
    assert cache.evict(5) == 1 and cache.match("d", prompt).num_computed_tokens == 0
    with pytest.raises(KeyError):
        cache.free("nope")
