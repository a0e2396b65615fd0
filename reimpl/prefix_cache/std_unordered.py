"""A node's children as KsanaLLM's compiled code iterates them.

`PrefixCachedBlock::children` is a `std::unordered_map<std::vector<int>, PrefixCachedBlock*,
TokensHash, TokensEqual>` (prefix_cache_manager.h:47). Its iteration order decides which device
blocks go back to the free list first when a subtree is freed (`FreeCachedBlockRecursively`,
prefix_cache_manager.cpp:408-433, also called for the other children of a block a swap-out takes
out of the tree, :895-898), hence which ids later allocations get. So the order is behaviour.

It is not specified by C++; what follows is libstdc++'s (GCC 12, the compiler KsanaLLM's build
and our oracle use), read from bits/hashtable.h and checked against the real container by the
oracle's probe (tests/test_prefix_cache_ksana_oracle.py):
- all nodes form one singly linked list, which is the iteration order; a bucket's nodes are
  contiguous in it;
- a new key goes first in its bucket (just before the bucket's current first node) or, if the
  bucket is empty, at the front of the list (`_M_insert_bucket_begin`);
- before an insert, if the count would exceed the bucket count (max load factor 1), the table
  grows to the next of 1, 13, 29, 59, 127, 257, ... buckets (`_Prime_rehash_policy`) and the
  nodes are relinked, in their old order, by the same rule (`_M_rehash_aux`);
- erasing unlinks a node and moves nothing else; `clear()` keeps the bucket count;
- the bucket of a key is `TokensHash(key) % bucket_count`, `TokensHash` being KsanaLLM's
  `CalcIntVecHash` (calc_intvec_hash.h:12-24) over `std::hash<int>`, the identity, in 64 bits.
"""
from __future__ import annotations

from typing import Iterator

MASK = (1 << 64) - 1
# libstdc++'s bucket counts as a table grows one insert at a time (measured: GCC 12, x86-64).
BUCKET_COUNTS = (1, 13, 29, 59, 127, 257, 541, 1109, 2357, 5087, 10273, 20753, 42043, 85229, 172933,
                 351061, 712697, 1447153, 2938679, 5967347)


def tokens_hash(tokens: tuple[int, ...]) -> int:
    """ksana_llm::CalcIntVecHash, size_t arithmetic."""
    h = 0
    for t in tokens:
        h ^= ((t & MASK) + 0x9E3779B9 + (h << 6) + (h >> 2)) & MASK
    return h


class ChildMap:
    """A dict of token tuple -> block whose iteration order is libstdc++'s (see module doc).

    The node list is doubly linked here (`_prev`/`_next`) and the first node of every bucket is
    kept (`_first`), so inserting and erasing cost O(1), as in the C++ table. Most nodes have at
    most one child: the list is only built (and keys hashed) once a second key arrives."""

    __slots__ = ("_d", "_linked", "_hash", "_next", "_prev", "_head", "_first", "_level")

    def __init__(self):
        self._d: dict = {}
        self._linked = False  # False: at most one key, not linked yet
        self._hash: dict = {}  # key -> TokensHash(key)
        self._next: dict = {}
        self._prev: dict = {}
        self._head = None
        self._first: dict = {}  # bucket -> its first key in the list
        self._level = 0  # index into BUCKET_COUNTS

    # -- reading
    def get(self, key, default=None):
        return self._d.get(key, default)

    def __contains__(self, key) -> bool:
        return key in self._d

    def __getitem__(self, key):
        return self._d[key]

    def __len__(self) -> int:
        return len(self._d)

    def __bool__(self) -> bool:
        return bool(self._d)

    def keys(self) -> list:
        if not self._linked:
            return list(self._d)
        out, k, nxt = [], self._head, self._next
        while k is not None:
            out.append(k)
            k = nxt[k]
        return out

    def __iter__(self) -> Iterator:
        return iter(self.keys())

    def values(self) -> list:
        d = self._d
        return [d[k] for k in self.keys()]

    def items(self) -> list:
        d = self._d
        return [(k, d[k]) for k in self.keys()]

    @property
    def bucket_count(self) -> int:
        return BUCKET_COUNTS[self._level]

    # -- writing
    def __setitem__(self, key, value) -> None:
        if key in self._d:  # operator[] on an existing key: assignment, nothing moves
            self._d[key] = value
            return
        if len(self._d) + 1 > (self.bucket_count if self._level else 0):  # _M_need_rehash
            self._level += 1
            if self._linked:
                order = self.keys()
                self._head = None
                self._first.clear()
                for k in order:  # _M_rehash_aux: relinked in the old order
                    self._link(k)
        if not self._linked and self._d:  # a second key: link the first one
            (only,) = self._d
            self._hash[only] = tokens_hash(only)
            self._link(only)
            self._linked = True
        if self._linked:
            self._hash[key] = tokens_hash(key)
            self._link(key)
        self._d[key] = value

    def _link(self, key) -> None:
        """_M_insert_bucket_begin: first in its bucket, or at the front if the bucket is empty."""
        b = self._hash[key] % BUCKET_COUNTS[self._level]
        first = self._first.get(b)
        if first is None:
            after, before = None, self._head
            self._head = key
        else:
            after, before = self._prev[first], first
            if after is None:
                self._head = key
            else:
                self._next[after] = key
        self._prev[key], self._next[key] = after, before
        if before is not None:
            self._prev[before] = key
        self._first[b] = key

    def pop(self, key, *default):
        if key not in self._d:
            if default:
                return default[0]
            raise KeyError(key)
        if not self._linked:
            return self._d.pop(key)
        after, before = self._prev.pop(key), self._next.pop(key)
        if after is None:
            self._head = before
        else:
            self._next[after] = before
        if before is not None:
            self._prev[before] = after
        n = BUCKET_COUNTS[self._level]
        b = self._hash.pop(key) % n
        if self._first[b] == key:  # a bucket's nodes are contiguous
            if before is not None and self._hash[before] % n == b:
                self._first[b] = before
            else:
                del self._first[b]
        return self._d.pop(key)

    def clear(self) -> None:
        """clear() keeps the bucket count."""
        if self._linked:
            for m in (self._hash, self._next, self._prev, self._first):
                m.clear()
            self._head = None
            self._linked = False
        self._d.clear()

    def __repr__(self) -> str:
        return f"ChildMap({self.items()!r})"
