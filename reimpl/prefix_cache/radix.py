"""SGLang's prefix cache: a radix tree over token ids, LRU eviction of unlocked leaves.

Mirrors `sglang.srt.mem_cache.radix_cache` (SGLang 0.5.10.post1): `RadixTree` is `RadixCache`
(its `match_prefix`, `insert`, `evict`, `inc_lock_ref`, `dec_lock_ref`, `evictable_size`,
`protected_size`, and the helpers `_match_prefix_helper`, `_insert_helper`, `_split_node`,
`_delete_leaf`, `_update_leaf_status`), `RadixNode` is `TreeNode`. Keys are plain token lists (no
`extra_key` namespaces, no EAGLE bigram keys); values are lists of KV slot indices (upstream:
int64 tensors); eviction is LRU only (upstream's `lru` default; `LRUStrategy.get_priority` is
the last access time); no KV events, metrics, priorities or hit counts.

How it works, and why:
- An edge holds a run of tokens, not one token: a node's children are keyed by the first token
  of their key (the first page's tuple when `page_size` > 1), and a lookup compares whole runs.
- A lookup that ends inside a run *splits* that node (`_split_node`): the matched part becomes
  a new parent that inherits the child's lock count, so the returned node ends exactly where
  the match does and can be locked.
- Locks (`lock_ref`) count requests using a node; `inc_lock_ref` / `dec_lock_ref` walk from a
  node to the root, so locking a node protects its whole prefix. `evictable_size` and
  `protected_size` count the tokens of unlocked and locked nodes.
- Only unlocked leaves are evictable (the set `evictable_leaves`). `evict(n)` pops the least
  recently used leaf from a heap built over that set until `n` tokens are freed; a parent left
  childless and unlocked joins the heap, so eviction eats a branch from its tip.
- Every match and insert stamps the nodes on its path with one access time (`clock`), and a new
  node its own; the default clock counts calls, so eviction order is reproducible.

`RadixPrefixCache` puts the tree behind the `PrefixCache` interface the way SGLang's scheduler
drives it: lookups of all but the last prompt token (`Req.init_next_round_input`), a lock on the
matched node while the request runs, `cache_unfinished_req` after each step and
`cache_finished_req` at the end (their names below), eviction when the pool is short
(`alloc_token_slots`).
"""
from __future__ import annotations

import heapq
import itertools
from typing import Callable, Sequence

from .interface import CacheStats, Match, UnknownRequestError


class RadixNode:
    """`TreeNode`: `key` is this edge's tokens, `value` their KV slots."""

    __slots__ = ("children", "parent", "key", "value", "lock_ref", "last_access_time")

    def __init__(self, now: float):
        self.children: dict = {}
        self.parent: RadixNode | None = None
        self.key: list[int] = []
        self.value: list[int] | None = None
        self.lock_ref = 0
        self.last_access_time = now

    @property
    def evicted(self) -> bool:
        return self.value is None

    def __lt__(self, other: "RadixNode") -> bool:
        return self.last_access_time < other.last_access_time


class RadixTree:
    """`RadixCache` over plain token lists. `on_free(values)` receives evicted KV slots, in order."""

    def __init__(self, page_size: int = 1, clock: Callable[[], float] | None = None,
                 on_free: Callable[[list[int]], None] | None = None):
        self.page_size = page_size
        self.clock = clock if clock is not None else itertools.count().__next__
        self.on_free = on_free if on_free is not None else (lambda values: None)
        self.splits = 0  # _split_node calls, for the oracle and the simulator
        self.evictable_leaves: set[RadixNode] = set()
        self.reset()

    def reset(self) -> None:
        self.root = RadixNode(self.clock())
        self.root.value = []
        self.root.lock_ref = 1
        self.evictable_size_ = 0
        self.protected_size_ = 0
        self.evictable_leaves.clear()

    # keys: `_key_match_page_size1` / `_key_match_paged`, `get_child_key`
    def key_match(self, key0: Sequence[int], key1: Sequence[int]) -> int:
        p = self.page_size
        if p == 1:
            i = 0
            for a, b in zip(key0, key1):
                if a != b:
                    break
                i += 1
            return i
        n, i = min(len(key0), len(key1)), 0
        while i < n and list(key0[i:i + p]) == list(key1[i:i + p]):
            i += p
        return i

    def child_key(self, key: Sequence[int]):
        return key[0] if self.page_size == 1 else tuple(key[:self.page_size])

    # public API
    def match_prefix(self, key: Sequence[int]) -> tuple[list[int], RadixNode]:
        """The KV slots of the longest cached prefix of `key` (page-aligned) and its last node."""
        key = list(key)
        if self.page_size != 1:
            key = key[:len(key) // self.page_size * self.page_size]
        if not key:
            return [], self.root
        values, node = self._match_prefix_helper(self.root, key)
        return [v for part in values for v in part], node

    def insert(self, key: Sequence[int], value: Sequence[int] | None = None) -> int:
        """Add `key` with its slots; returns how many leading tokens were already cached."""
        key = list(key)
        value = list(key) if value is None else list(value)
        return self._insert_helper(self.root, key, value)

    def evict(self, num_tokens: int) -> int:
        heap = [(node.last_access_time, node) for node in list(self.evictable_leaves)]
        heapq.heapify(heap)
        num_evicted = 0
        while num_evicted < num_tokens and heap:
            _, x = heapq.heappop(heap)
            self.on_free(x.value)
            num_evicted += len(x.value)
            self._delete_leaf(x)
            if not x.parent.children and x.parent.lock_ref == 0:
                heapq.heappush(heap, (x.parent.last_access_time, x.parent))
        return num_evicted

    def inc_lock_ref(self, node: RadixNode) -> int:
        delta = 0
        while node is not self.root:
            if node.lock_ref == 0:
                self.evictable_size_ -= len(node.key)
                self.protected_size_ += len(node.key)
                delta -= len(node.key)
            node.lock_ref += 1
            self._update_leaf_status(node)
            node = node.parent
        return delta

    def dec_lock_ref(self, node: RadixNode) -> int:
        delta = 0
        while node is not self.root:
            if node.lock_ref == 1:
                self.evictable_size_ += len(node.key)
                self.protected_size_ -= len(node.key)
                delta += len(node.key)
            node.lock_ref -= 1
            self._update_leaf_status(node)
            node = node.parent
        return delta

    def evictable_size(self) -> int:
        return self.evictable_size_

    def protected_size(self) -> int:
        return self.protected_size_

    def total_size(self) -> int:
        total, stack = 0, [self.root]
        while stack:
            node = stack.pop()
            total += len(node.value)
            stack.extend(c for c in node.children.values() if not c.evicted)
        return total

    def num_nodes(self) -> int:
        """Nodes below the root (read-only walk; evicted nodes are already unlinked)."""
        n, stack = 0, list(self.root.children.values())
        while stack:
            node = stack.pop()
            n += 1
            stack.extend(node.children.values())
        return n

    # helpers
    def _match_prefix_helper(self, node: RadixNode, key: list[int]):
        now = self.clock()
        node.last_access_time = now
        child_key = self.child_key(key)
        values = []
        while key and child_key in node.children:
            child = node.children[child_key]
            child.last_access_time = now
            n = self.key_match(child.key, key)
            if n < len(child.key):
                new_node = self._split_node(child.key, child, n)
                values.append(new_node.value)
                node = new_node
                break
            values.append(child.value)
            node = child
            key = key[n:]
            if key:
                child_key = self.child_key(key)
        return values, node

    def _split_node(self, key: list[int], child: RadixNode, split_len: int) -> RadixNode:
        """`child` keeps its identity and its tail; a new parent takes the first `split_len`."""
        self.splits += 1
        new_node = RadixNode(self.clock())
        new_node.children = {self.child_key(key[split_len:]): child}
        new_node.parent = child.parent
        new_node.lock_ref = child.lock_ref
        new_node.key = child.key[:split_len]
        new_node.value = child.value[:split_len]
        child.parent = new_node
        child.key = child.key[split_len:]
        child.value = child.value[split_len:]
        new_node.parent.children[self.child_key(key)] = new_node
        return new_node

    def _insert_helper(self, node: RadixNode, key: list[int], value: list[int]) -> int:
        now = self.clock()
        node.last_access_time = now
        if not key:
            return 0
        child_key = self.child_key(key)
        total = 0
        while key and child_key in node.children:
            node = node.children[child_key]
            node.last_access_time = now
            n = self.key_match(node.key, key)
            total += n
            key, value = key[n:], value[n:]
            if n < len(node.key):
                node = self._split_node(node.key, node, n)
            if key:
                child_key = self.child_key(key)
        if key:
            new_node = RadixNode(self.clock())
            new_node.parent = node
            new_node.key = key
            new_node.value = list(value)
            node.children[child_key] = new_node
            self.evictable_size_ += len(key)
            self._update_leaf_status(node)
            self._update_leaf_status(new_node)
        return total

    def _delete_leaf(self, node: RadixNode) -> None:
        removed = node.parent.children.pop(self.child_key(node.key), None)
        assert removed is node, "parent does not hold this child"
        self.evictable_size_ -= len(node.key)
        self.evictable_leaves.discard(node)
        self._update_leaf_status(node.parent)

    def _update_leaf_status(self, node: RadixNode) -> None:
        if node.evicted or node.lock_ref > 0:
            self.evictable_leaves.discard(node)
            return
        if any(not c.evicted for c in node.children.values()):
            self.evictable_leaves.discard(node)
            return
        self.evictable_leaves.add(node)


class _Req:
    __slots__ = ("slots", "last_node", "protected", "prefix", "computed", "tokens")

    def __init__(self, root: RadixNode):
        self.slots: list[int] = []    # req_to_token row: this request's KV slots
        self.last_node = root         # the locked node (req.last_node)
        self.protected = 0            # req.cache_protected_len
        self.prefix = 0               # tokens matched, not yet locked
        self.computed = 0
        self.tokens: list[int] = []   # the request's tokens as last seen


class RadixPrefixCache:
    """The radix tree behind `PrefixCache`, with a token-slot pool of `num_blocks * block_size`
    slots; a "block" of the interface is a page of `block_size` slots (SGLang's page_size)."""

    def __init__(self, num_blocks: int, block_size: int = 1):
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.stats = CacheStats()
        self.free_slots = list(range(num_blocks * block_size))
        self.tree = RadixTree(block_size, on_free=self.free_slots.extend)
        self._reqs: dict[str, _Req] = {}
        self.manager = self  # what the invariant checks read (invariants.check_radix)

    def match(self, req_id: str, token_ids: Sequence[int]) -> Match:
        req = self._reqs.get(req_id) or self._reqs.setdefault(req_id, _Req(self.tree.root))
        values, node = self.tree.match_prefix(list(token_ids)[:max(len(token_ids) - 1, 0)])
        req.slots, req.last_node, req.prefix = list(values), node, len(values)
        req.tokens = list(token_ids)
        req.protected = req.computed = len(values)
        self.stats.record(len(token_ids), len(values))
        return Match(tuple(self._pages(values)), len(values), len(values))

    def allocate(self, req_id: str, token_ids: Sequence[int], num_new_tokens: int) -> list[int] | None:
        req = self._get(req_id)
        matched = req.prefix
        if matched:  # first allocation after the lookup: lock what it found, so eviction spares it
            self.tree.inc_lock_ref(req.last_node)
            req.prefix = 0
        need = max(0, self._pages_needed(req.computed + num_new_tokens) * self.block_size - len(req.slots))
        if need > len(self.free_slots):  # evict_from_tree_cache: the whole need, not the shortfall
            self.tree.evict(need)
        if need > len(self.free_slots):
            if matched:  # not admitted: the lock goes, the request waits with its match
                self.tree.dec_lock_ref(req.last_node)
                req.prefix = matched
            return None
        req.slots += self.free_slots[:need]
        del self.free_slots[:need]
        return self.block_table(req_id)

    def commit(self, req_id: str, token_ids: Sequence[int], num_computed_tokens: int) -> list[int]:
        """`cache_unfinished_req`: the computed full pages join the tree; duplicates are freed."""
        req = self._get(req_id)
        req.computed = num_computed_tokens
        req.tokens = list(token_ids)
        keys = req.tokens[:num_computed_tokens]
        keys = keys[:len(keys) // self.block_size * self.block_size]
        new_prefix = self.tree.insert(keys, req.slots[:len(keys)])
        self.free_slots.extend(req.slots[req.protected:new_prefix])
        values, node = self.tree.match_prefix(keys)
        req.slots[req.protected:len(values)] = values[req.protected:]
        req.protected = len(values)
        self.tree.dec_lock_ref(req.last_node)
        self.tree.inc_lock_ref(node)
        req.last_node = node
        return self.block_table(req_id)

    def free(self, req_id: str) -> None:
        """`cache_finished_req`: insert what was computed, free duplicates and the tail, unlock."""
        req = self._reqs.pop(req_id, None)
        if req is None:
            raise UnknownRequestError(req_id)
        if req.prefix:  # matched, never allocated: nothing locked, the slots are the tree's
            return
        keys = req.tokens[:req.computed // self.block_size * self.block_size]
        new_prefix = self.tree.insert(keys, req.slots[:len(keys)])
        self.free_slots.extend(req.slots[req.protected:new_prefix])
        self.free_slots.extend(req.slots[len(keys):])
        self.tree.dec_lock_ref(req.last_node)

    def evict(self, num_blocks: int) -> int:
        return self.tree.evict(num_blocks * self.block_size) // self.block_size

    def block_table(self, req_id: str) -> list[int]:
        return self._pages(self._get(req_id).slots)

    @property
    def num_free_blocks(self) -> int:
        return (len(self.free_slots) + self.tree.evictable_size()) // self.block_size

    @property
    def num_cached_unreferenced_blocks(self) -> int:
        """Pages of KV the tree holds that no running request has locked (evictable)."""
        return self.tree.evictable_size() // self.block_size

    @property
    def num_index_entries(self) -> int:
        """The cache's bookkeeping: radix-tree nodes (each a run of pages)."""
        return self.tree.num_nodes()

    @property
    def num_used_blocks(self) -> int:
        return self.num_blocks - self.num_free_blocks

    def _pages(self, slots: Sequence[int]) -> list[int]:
        return [s // self.block_size for s in slots[::self.block_size]]

    def _pages_needed(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def _get(self, req_id: str) -> _Req:
        req = self._reqs.get(req_id)
        if req is None:
            raise UnknownRequestError(req_id)
        return req
