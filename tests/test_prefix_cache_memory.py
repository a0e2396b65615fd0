"""The read-only memory accessors the prefix-cache benchmark samples, on all three caches."""
from __future__ import annotations

import random

import pytest

from infernav.reimpl.prefix_cache import HashChainCache, RadixPrefixCache, TreeCache

B = 4


def caches(num_blocks: int):
    return {"hash": HashChainCache(num_blocks + 1, B), "tree": TreeCache(num_blocks, B),
            "radix": RadixPrefixCache(num_blocks, B)}


def run_one(cache, rid: str, prompt: list[int]) -> None:
    cache.match(rid, prompt)
    assert cache.allocate(rid, prompt, len(prompt)) is not None
    cache.commit(rid, prompt, len(prompt))


@pytest.mark.parametrize("kind", ["hash", "tree", "radix"])
def test_finished_prompt_stays_cached_unreferenced_and_eviction_empties_it(kind):
    cache = caches(16)[kind]
    prompt = list(range(3 * B + 1))  # three full blocks and one token
    assert (cache.num_cached_unreferenced_blocks, cache.num_index_entries) == (0, 0)
    run_one(cache, "a", prompt)
    assert cache.num_cached_unreferenced_blocks == 0  # all referenced by the running request
    assert cache.num_index_entries > 0
    cache.free("a")
    full = len(prompt) // B
    assert cache.num_cached_unreferenced_blocks == full
    assert cache.num_used_blocks == 0
    cache.evict(cache.num_blocks)
    assert (cache.num_cached_unreferenced_blocks, cache.num_index_entries) == (0, 0)


def test_index_entries_count_blocks_for_hash_and_tree_but_runs_for_radix():
    prompt = list(range(5 * B))
    for kind, cache in caches(16).items():
        run_one(cache, "a", prompt + [999])
        cache.free("a")
        expected = 1 if kind == "radix" else len(prompt) // B
        assert cache.num_index_entries == expected, kind


@pytest.mark.parametrize("kind", ["hash", "tree", "radix"])
def test_unreferenced_cached_blocks_are_part_of_the_free_ones(kind):
    rng = random.Random(7)
    cache = caches(24)[kind]
    prefixes = [[rng.randrange(50) for _ in range(2 * B)] for _ in range(3)]
    running: list[str] = []
    for i in range(60):
        if running and (len(running) > 3 or rng.random() < 0.4):
            cache.free(running.pop(rng.randrange(len(running))))
        else:
            prompt = rng.choice(prefixes) + [rng.randrange(50) for _ in range(rng.randint(1, 2 * B))]
            cache.match(f"r{i}", prompt)
            if cache.allocate(f"r{i}", prompt, len(prompt)) is None:
                cache.free(f"r{i}")
                continue
            cache.commit(f"r{i}", prompt, len(prompt))
            running.append(f"r{i}")
        assert 0 <= cache.num_cached_unreferenced_blocks <= cache.num_free_blocks
        assert cache.num_used_blocks + cache.num_cached_unreferenced_blocks <= cache.num_blocks
