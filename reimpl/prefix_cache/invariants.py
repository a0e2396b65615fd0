"""Whole-state consistency checks for both caches (slow: for tests and debugging).

Each check raises AssertionError naming the first broken rule. They restate, independently of
the code that maintains them, what the caches' bookkeeping must always agree on: every block is
in exactly one place (free, reusable in the cache, or held by requests), reference counts match
the requests that hold the block, and nothing free is referenced.
"""
from __future__ import annotations

from collections import Counter

from .kv_cache_manager import KVCacheManager
from .tree import CachedBlock, PrefixCacheManager, RequestState


def check_hash_chain(m: KVCacheManager) -> None:
    pool = m.block_pool
    free = pool.free_block_queue.block_ids()
    assert len(free) == len(set(free)), "a block is twice in the free queue"
    assert 0 not in free, "the null block is in the free queue"
    holders = Counter(b.block_id for blocks in m.req_to_blocks.values() for b in blocks)
    for rid, blocks in m.req_to_blocks.items():
        assert len({b.block_id for b in blocks}) == len(blocks), f"{rid} holds a block twice"
    free_set = set(free)
    for block in pool.blocks[1:]:
        assert block.ref_cnt >= 0, f"block {block.block_id}: negative reference count"
        assert block.ref_cnt == holders[block.block_id], (
            f"block {block.block_id}: ref_cnt {block.ref_cnt}, held by {holders[block.block_id]} requests")
        assert (block.block_id in free_set) == (block.ref_cnt == 0), (
            f"block {block.block_id}: free={block.block_id in free_set} but ref_cnt={block.ref_cnt}")
        if block.block_hash is not None:
            assert block.block_id in pool.cached_block_ids(block.block_hash), f"block {block.block_id} not in the map"
    for h in pool._cached:
        for bid in pool.cached_block_ids(h):
            assert pool.blocks[bid].block_hash == h, f"map entry for block {bid} has another hash"
    used = sum(1 for b in pool.blocks[1:] if b.ref_cnt > 0)
    assert len(free) + used == pool.num_blocks - 1, "free + used != total"


def _tree_blocks(m: PrefixCacheManager) -> list[CachedBlock]:
    out, stack = [], [m.root]
    while stack:
        node = stack.pop()
        for key, child in node.children.items():
            assert child.token_ids == key and child.parent is node, f"tree link broken at {child}"
            out.append(child)
            stack.append(child)
    return out


def freed_while_held(m: PrefixCacheManager) -> list[tuple[str, int]]:
    """(request, device block id) for every block on the free list that a request still holds.

    Upstream reaches this state (docs/dev/prefix_cache.md, finding 11): a swap-out frees the whole
    subtree under each tree block it takes out (prefix_cache_manager.cpp:893-906), also blocks a
    swapped request holds (inactive); ours does the same, which the KsanaLLM oracle checks. From
    there on the state is unsound upstream too, so `check_tree` does not hold and tests stop."""
    free = {id(cb) for cb in m.free_blocks}
    return [(rid, cb.block_id) for rid, req in m.requests.items() if req.state is not RequestState.WAITING
            for cb in req.cached_blocks if cb.is_device and id(cb) in free]


def check_tree(m: PrefixCacheManager) -> None:
    tree = _tree_blocks(m)
    tree_set = set(tree)
    assert len(tree_set) == len(tree), "a block is twice in the tree"
    assert set(m.timeline) == tree_set, "timeline and tree disagree"
    free_ids = [cb.block_id for cb in m.free_blocks]
    assert len(set(free_ids)) == len(free_ids), "a block is twice in the free list"
    for cb in m.free_blocks:
        assert cb.is_device and not cb.is_shareable and cb.parent is None and not cb.children
        assert not cb.active and not cb.inactive, f"free block {cb.block_id} is referenced"
    held: dict[int, CachedBlock] = {}
    for rid, req in m.requests.items():
        if req.state is RequestState.WAITING:
            continue  # its blocks are matches, not holdings
        for i, cb in enumerate(req.cached_blocks):
            if cb.is_shareable:
                refs = cb.inactive if req.state is RequestState.SWAPPED else cb.active
                assert refs.get(rid) == i, f"{rid} holds block {cb.block_id} without its reference"
                assert (cb in tree_set) == cb.is_device, f"shareable block {cb.block_id}: in tree != on device"
            else:
                assert not cb.active and not cb.inactive and cb not in tree_set
            if cb.is_device:
                assert held.setdefault(cb.block_id, cb) is cb, f"device block {cb.block_id} has two owners"
    for cb in tree:
        for refs, state in ((cb.active, "active"), (cb.inactive, "inactive")):
            for rid, pos in refs.items():
                req = m.requests.get(rid)
                assert req is not None and req.cached_blocks[pos] is cb, f"stale {state} reference {rid}"
        unreferenced = not cb.active and not cb.inactive
        if not m.upstream_merge_accounting:
            assert (cb in m.reusable_blocks) == unreferenced, f"block {cb.block_id}: reusable != unreferenced"
        held.setdefault(cb.block_id, cb)
    assert m.reusable_blocks <= tree_set, "a reusable block is not in the tree"
    assert not set(free_ids) & set(held), "a free block is also held"
    assert sorted(free_ids + list(held)) == list(range(m.num_device_blocks)), "device blocks lost or duplicated"
    assert m.get_usable_block_number() + m.get_used_block_number() == m.num_device_blocks


def check_radix(cache) -> None:
    """`RadixPrefixCache`: locks equal the requests holding a node below, sizes and evictable
    leaves follow the locks, and every KV slot is in exactly one place (free, the tree, or one
    request's own tail)."""
    tree = cache.tree
    locked = Counter()
    for req in cache._reqs.values():
        node = req.last_node if not req.prefix else tree.root
        while node is not tree.root:
            locked[id(node)] += 1
            node = node.parent
    nodes, stack = [], list(tree.root.children.values())
    while stack:
        n = stack.pop()
        nodes.append(n)
        stack.extend(n.children.values())
    for n in nodes:
        assert n.lock_ref == locked[id(n)], f"node {n.key[:4]}: lock_ref {n.lock_ref}, held by {locked[id(n)]}"
        assert len(n.key) == len(n.value) > 0, "a node's key and value differ in length"
        assert n.parent.children.get(tree.child_key(n.key)) is n, "a child under the wrong key"
    assert tree.evictable_size() == sum(len(n.key) for n in nodes if n.lock_ref == 0), "evictable size"
    assert tree.protected_size() == sum(len(n.key) for n in nodes if n.lock_ref > 0), "protected size"
    leaves = {n for n in nodes if n.lock_ref == 0 and not n.children}
    assert tree.evictable_leaves == leaves, "evictable leaves are not the unlocked leaves"
    places = Counter(cache.free_slots)
    places.update(v for n in nodes for v in n.value)
    for req in cache._reqs.values():
        if not req.prefix:
            places.update(req.slots[req.protected:])
    assert all(c == 1 for c in places.values()), "a KV slot is in two places"
    assert set(places) == set(range(cache.num_blocks * cache.block_size)), "a KV slot is lost"
