"""KsanaLLM's tree prefix cache (`infernav.reimpl.prefix_cache.PrefixCacheManager`).

KsanaLLM's C++ cannot run here, so its behaviour is pinned down by the scenarios its own unit
test (src/ksana_llm/cache_manager/prefix_cache_manager_test.cpp at c451219c) walks through,
re-expressed here: block counts through match, allocate, fill, merge, swap, finish and eviction;
a prefix shared by several requests; freeable counts; unknown request ids. Then the rules the
code implies that the test leaves implicit, and two places where the upstream code surprised us
(docs/dev/prefix_cache.md, "Findings").

Setup as upstream's test: 100 device blocks, 100 host blocks, 16 tokens a block (one device
here: upstream counts host blocks per device, twice ours with its two devices).
"""
from __future__ import annotations

import random

import pytest

from infernav.reimpl.prefix_cache import (
    OutOfBlocksError,
    PrefixCacheManager,
    RequestState,
    TreeCache,
    UnknownRequestError,
)
from infernav.reimpl.prefix_cache.invariants import check_tree

B = 16
DEVICE, HOST = 100, 100


def seq(seed: int, n: int) -> list[int]:
    """n token ids from a seeded generator: the same seed gives the same prefix."""
    rng = random.Random(seed)
    return [rng.randrange(32000) for _ in range(n)]


@pytest.fixture
def m():
    return PrefixCacheManager(DEVICE, B, num_host_blocks=HOST)


def chain_is_in_tree(m: PrefixCacheManager, req_id: str) -> None:
    """Every block but the last (unfilled) hangs under the previous one, referenced by the request."""
    blocks = m.requests[req_id].cached_blocks
    parent = m.root
    for i, cb in enumerate(blocks[:-1]):
        assert cb.parent is parent and parent.children[cb.token_ids] is cb
        assert cb.is_shareable and cb.is_device
        assert cb.active == {req_id: i} and not cb.inactive
        parent = cb
    last = blocks[-1]
    assert not last.is_shareable and last.parent is None and not last.active and not last.inactive


def test_one_request_through_its_whole_life(m):
    assert m.get_usable_block_number() == DEVICE and m.get_host_free_block_number() == HOST
    tokens = seq(1, 82)

    shared, unique, shared_tokens = m.get_request_prefix_block_number("a", tokens)
    assert (shared, unique, shared_tokens) == (0, 6, 0)  # 82 tokens: 5 full blocks + 1
    assert m.requests["a"].state is RequestState.WAITING and not m.root.children

    table = m.allocate_request_blocks("a", unique)
    assert len(table) == 6 and m.get_usable_block_number() == DEVICE - 6

    tokens.append(7)  # one token generated; the 82 prompt tokens now have KV
    assert m.update_request_tokens("a", tokens, 82) is False
    chain_is_in_tree(m, "a")
    assert len(m.timeline) == 5
    check_tree(m)

    assert m.get_request_freeable_block_num("a") == 6
    assert m.swap_out_request("a") == (6, 0)
    for i, cb in enumerate(m.requests["a"].cached_blocks):
        assert not cb.is_device and cb.parent is None and not cb.children and not cb.active
        assert cb.inactive == ({"a": i} if i < 5 else {})
        assert cb.is_shareable == (i < 5)
    assert m.get_usable_block_number() == DEVICE  # swap-out merged at once here
    assert m.get_host_free_block_number() == HOST - 6
    check_tree(m)

    assert m.get_request_needed_block_num_for_one_next_token("a") == 6
    assert m.swap_in_request("a") == 6
    assert m.get_usable_block_number() == DEVICE - 6 and m.get_host_free_block_number() == HOST
    chain_is_in_tree(m, "a")
    check_tree(m)

    m.destroy_finished_request("a")
    assert m.get_usable_block_number() == DEVICE and m.get_host_free_block_number() == HOST
    assert len(m.reusable_blocks) == 5  # the filled blocks stay findable

    assert m.free_cached_blocks(2) == (True, 2)
    assert len(m.reusable_blocks) == 3 and m.get_usable_block_number() == DEVICE
    check_tree(m)


def test_prefix_shared_by_several_requests(m):
    """Three requests on one 54-token prompt whose first 36 tokens an earlier request had."""
    first = seq(1, 82)
    m.get_request_prefix_block_number("a", first)
    m.allocate_request_blocks("a", 6)
    m.update_request_tokens("a", first + [7], 82)
    m.destroy_finished_request("a")
    m.free_cached_blocks(2)  # the two newest of a's five tree blocks go
    prompt = seq(1, 36) + seq(2, 18)

    # b, c and e all match the two blocks a left that they share (32 of the 36 tokens).
    for rid in ("b", "c", "e"):
        assert m.get_request_prefix_block_number(rid, prompt) == (2, 2, 32)
    tb = m.allocate_request_blocks("b", 2)
    tc = m.allocate_request_blocks("c", 2)
    b, c = m.requests["b"].cached_blocks, m.requests["c"].cached_blocks
    assert b[0] is c[0] and b[1] is c[1] and b[2] is not c[2]
    assert [len(cb.active) for cb in b] == [2, 2, 0, 0]
    assert tb[:2] == tc[:2]
    check_tree(m)

    # Both generate a token; each one's third block is now full. b's joins the tree, c's is
    # identical, so c switches to b's block and gives its own back.
    usable = m.get_usable_block_number()
    assert m.update_request_tokens("b", prompt + [5], 54) is False
    own_block = tc[2]
    assert m.update_request_tokens("c", prompt + [5], 54) is True
    assert m.block_table("c")[2] == m.block_table("b")[2] != own_block
    assert m.free_blocks[-1].block_id == own_block
    assert m.get_usable_block_number() == usable + 1
    check_tree(m)

    # e, still waiting, re-checks its match and now finds the third block too.
    assert m.get_request_prefix_block_number("e", prompt) == (3, 1, 48)
    m.destroy_finished_request("e")  # never allocated: nothing to release
    assert m.get_usable_block_number() == usable + 1
    assert len(m.reusable_blocks) == 1 and len(m.timeline) == 4  # a's third block; a's 3 + the merged one

    # Swapping b out moves only its own block (the shared ones stay for c); then c can move all
    # four, and a's leftover third block, a child of the shared second one, is freed with it.
    assert m.get_request_freeable_block_num("b") == 1
    assert m.swap_out_request("b") == (1, 0)
    assert m.get_request_freeable_block_num("c") == 4
    assert m.swap_out_request("c") == (4, 1)
    assert m.get_usable_block_number() == DEVICE and m.get_host_free_block_number() == HOST - 5
    assert not m.root.children
    check_tree(m)

    # d computes the same prompt from scratch, then b swaps back in: b's three shared blocks merge
    # into d's, and so do c's (still swapped out: it shares those block objects with b).
    assert m.get_request_prefix_block_number("d", prompt) == (0, 4, 0)
    m.allocate_request_blocks("d", 4)
    m.update_request_tokens("d", prompt + [5], 54)
    assert m.get_request_needed_block_num_for_one_next_token("b") == 4
    usable = m.get_usable_block_number()
    assert m.swap_in_request("b") == 4
    d = m.requests["d"].cached_blocks
    for rid in ("b", "c"):
        assert m.requests[rid].cached_blocks[:3] == d[:3]
    assert m.get_usable_block_number() == usable - 4 + 3  # the 3 merged copies went back
    assert m.get_usable_block_number() == DEVICE - 5  # 3 shared + b's own + d's own
    assert m.get_host_free_block_number() == HOST - 1  # c's own block
    assert [sorted(cb.active) for cb in d[:3]] == [["b", "d"]] * 3
    assert [sorted(cb.inactive) for cb in d[:3]] == [["c"]] * 3
    check_tree(m)

    m.destroy_swapped_request("c")
    assert m.get_host_free_block_number() == HOST and m.get_usable_block_number() == DEVICE - 5
    m.destroy_finished_request("b")
    m.destroy_finished_request("d")
    assert m.get_usable_block_number() == DEVICE
    check_tree(m)


def test_extra_blocks_come_back_on_finish(m):
    before = m.get_usable_block_number()
    prompt = seq(1, 36)
    _, unique, _ = m.get_request_prefix_block_number("x", prompt)
    m.allocate_request_blocks("x", unique + 2)
    assert m.get_usable_block_number() == before - unique - 2
    m.destroy_finished_request("x")
    assert m.get_usable_block_number() == before


def test_unknown_request_ids_are_rejected(m):
    for call in (
        lambda: m.allocate_request_blocks("nope", 1),
        lambda: m.update_request_tokens("nope", [], 0),
        lambda: m.get_request_freeable_block_num("nope"),
        lambda: m.get_request_needed_block_num_for_one_next_token("nope"),
        lambda: m.swap_out_request("nope"),
        lambda: m.swap_in_request("nope"),
        lambda: m.get_request_step_block_number("nope", 10),
        lambda: m.get_request_usable_block_number("nope"),
        lambda: m._update_cached_request_state("nope", RequestState.WAITING),
    ):
        with pytest.raises(UnknownRequestError):
            call()
    assert m.destroy_finished_request("nope") is False  # upstream logs and returns
    assert m.destroy_swapped_request("nope") is False
    assert m.get_usable_block_number() == DEVICE and not m.requests
    cache = TreeCache(8, 4)
    for call in (lambda: cache.allocate("nope", [1], 1), lambda: cache.free("nope")):
        with pytest.raises(UnknownRequestError):
            call()


# ----------------------------------------------------------------------------- implied rules
def run_request(m: PrefixCacheManager, rid: str, tokens: list[int], finish: bool = True) -> None:
    _, unique, _ = m.get_request_prefix_block_number(rid, tokens)
    m.allocate_request_blocks(rid, unique)
    m.update_request_tokens(rid, tokens + [0], len(tokens))
    if finish:
        m.destroy_finished_request(rid)


def test_block_aligned_prompt_takes_one_block_more():
    m = PrefixCacheManager(10, 4)
    assert m.get_request_prefix_block_number("a", list(range(8)))[1] == 3  # 2 full + next token's
    assert m.get_request_prefix_block_number("b", list(range(7)))[1] == 2


def test_full_prompt_hit_recomputes_only_the_last_token():
    cache = TreeCache(10, 4)
    prompt = list(range(8))
    cache.match("a", prompt)
    cache.allocate("a", prompt, 8)
    cache.commit("a", prompt + [99], 8)
    cache.free("a")
    hit = cache.match("b", prompt)
    assert hit.num_cached_tokens == 8 and hit.num_computed_tokens == 7
    assert len(cache.allocate("b", prompt, 1)) == 3  # both cached blocks + the next token's
    assert cache.stats.hits == 7 and cache.stats.queries == 16


def test_eviction_is_newest_inserted_first_not_least_recently_used():
    m = PrefixCacheManager(6, 2)
    run_request(m, "old", [1, 1])
    run_request(m, "new", [2, 2])
    run_request(m, "again", [1, 1, 1])  # uses the old block again: LRU would now evict "new"...
    old_block, new_block = m.root.children[(1, 1)], m.root.children[(2, 2)]
    m.free_cached_blocks(1)
    assert (2, 2) not in m.root.children  # ...insertion order evicts it, although used last
    assert m.root.children[(1, 1)] is old_block and new_block not in m.timeline
    check_tree(m)


def test_eviction_skips_referenced_blocks_and_frees_a_subtree():
    m = PrefixCacheManager(8, 2)
    run_request(m, "a", [1, 1, 2, 2, 3, 3])  # a chain of three blocks, all reusable
    run_request(m, "live", [4, 4], finish=False)  # the newest tree block, referenced
    top = m.root.children[(1, 1)]
    # Newest first: the referenced block is skipped. Children join after their parent, so
    # eviction normally meets them first; here the chain below the top is reserved (as a
    # request's own matches are), so the top goes with its whole subtree, reserved or not.
    below = list(top.children.values()) + list(next(iter(top.children.values())).children.values())
    ok, freed = m.free_cached_blocks(1, reserved=below)
    assert ok and freed == 3
    assert list(m.root.children) == [(4, 4)] and list(m.timeline) == [m.root.children[(4, 4)]]
    check_tree(m)


def test_matches_are_not_references_until_allocated():
    m = PrefixCacheManager(6, 2)
    run_request(m, "a", [1, 1, 2, 2])
    assert m.get_request_prefix_block_number("w", [1, 1, 2, 2, 3]) == (2, 1, 4)
    assert all(not cb.active for cb in m.requests["w"].cached_blocks)
    assert m.get_usable_block_number() == 6
    assert m.get_request_usable_block_number("w") == 4  # less its own two matches
    # Another request's allocation may evict w's matches (here the newer of the two: 4 free
    # blocks, 5 wanted); w's next match re-checks and notices.
    m.get_request_prefix_block_number("x", [9] * 8)
    m.allocate_request_blocks("x", 5)
    assert m.get_request_prefix_block_number("w", [1, 1, 2, 2, 3]) == (1, 2, 2)
    check_tree(m)


def test_children_are_compared_by_tokens_not_by_hash():
    assert hash((-1, 5)) == hash((-2, 5))  # CPython: hash(-1) == hash(-2)
    m = PrefixCacheManager(6, 2)
    run_request(m, "a", [-1, 5])
    assert m.get_request_prefix_block_number("b", [-2, 5, 0]) == (0, 2, 0)
    assert m.get_request_prefix_block_number("c", [-1, 5, 0]) == (1, 1, 2)


def test_failed_allocation_still_evicts():
    """Unlike vLLM's allocate_slots, AllocateRequestBlocks evicts before it knows it will fail."""
    m = PrefixCacheManager(4, 2)
    run_request(m, "a", [1, 1, 2, 2])  # two reusable blocks
    m.get_request_prefix_block_number("big", [9] * 10)
    with pytest.raises(OutOfBlocksError):
        m.allocate_request_blocks("big", 6)
    assert not m.root.children and not m.reusable_blocks  # the cache was emptied anyway
    assert m.requests["big"].state is RequestState.WAITING
    check_tree(m)


@pytest.mark.parametrize("upstream", [False, True])
def test_merge_into_an_unreferenced_block(upstream):
    """b's block merges into a's after a finished: upstream leaves it in the reusable set."""
    m = PrefixCacheManager(6, 2, upstream_merge_accounting=upstream)
    for rid in ("a", "b"):
        m.get_request_prefix_block_number(rid, [1, 1, 2])
        m.allocate_request_blocks(rid, 2)
    m.update_request_tokens("a", [1, 1, 2], 2)
    m.destroy_finished_request("a")  # a's full block is now reusable
    assert m.update_request_tokens("b", [1, 1, 2], 2) is True  # b's copy merges into it
    merged = m.requests["b"].cached_blocks[0]
    assert merged.active == {"b": 0}
    if upstream:
        assert merged in m.reusable_blocks
        assert m.get_usable_block_number() == 6 - 2 + 1  # counts a block b is using
        assert m.free_cached_blocks(5) == (False, 0)  # and cannot deliver it
    else:
        assert merged not in m.reusable_blocks and m.get_usable_block_number() == 6 - 2
        check_tree(m)
