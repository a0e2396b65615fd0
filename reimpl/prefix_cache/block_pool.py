"""vLLM v1's block pool: physical KV blocks, their free queue and the hash -> block map.

Mirrors, for one KV-cache group of full attention (the common case; no sliding window, no
hybrid groups, no connector; KV cache events as in events.py):

- `vllm.v1.core.kv_cache_utils.KVCacheBlock`            -> `KVCacheBlock`
- `vllm.v1.core.kv_cache_utils.FreeKVCacheBlockQueue`   -> `FreeBlockQueue`
- `vllm.v1.core.kv_cache_utils.hash_block_tokens` and
  `vllm.v1.core.kv_cache_utils.get_request_block_hasher` -> `hash_block_tokens`, `hash_new_full_blocks`
- `vllm.v1.core.block_pool.BlockHashToBlockMap`         -> `BlockPool._cached` (same value shape)
- `vllm.v1.core.block_pool.BlockPool`                   -> `BlockPool`

What has to hold, and why it matters:
- Block 0 is a *null block*, taken out of the free queue at start and never freed: vLLM pads
  skipped (sliding-window) slots with it, so the pool has `num_blocks - 1` usable blocks.
- A block's hash chains its parent's hash with its own tokens, and only *full* blocks get one:
  equal hashes mean equal whole prefixes, so a lookup can stop at the first miss.
- The free queue is the eviction order. Allocation pops the head and only then drops that
  block's hash (a freed block stays findable until reused); freeing appends to the tail. A
  cache hit on a free block pulls it out of the middle of the queue, hence a doubly linked list
  (here `OrderedDict`, which is one, in C).
- Duplicate hashes are kept (two blocks with the same content): vLLM never rewrites a block
  table, so it does not deduplicate; a lookup returns the earliest still-cached duplicate.
"""
from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from functools import lru_cache
from typing import Callable, Iterable, Sequence

from .events import AllBlocksCleared, BlockRemoved, BlockStored, EventQueue, external_hash

BlockHash = bytes
HashFn = Callable[[BlockHash, Sequence[int]], BlockHash]

# Parent hash of every first block. vLLM draws its NONE_HASH at random (or from PYTHONHASHSEED);
# any fixed value does here: hashes never leave the process.
NONE_HASH: BlockHash = bytes(32)


@lru_cache(maxsize=None)
def _packer(n: int) -> Callable[..., bytes]:
    return struct.Struct(f"<{n}q").pack


def hash_block_tokens(parent: BlockHash | None, tokens: Sequence[int]) -> BlockHash:
    """sha256 of the parent hash and the block's tokens (vLLM's default algorithm is sha256 too,
    over a pickle of the same pair). 256 bits: a collision, which would reuse a wrong block, is
    not a practical concern, which is vLLM's own argument for it."""
    return hashlib.sha256((parent or NONE_HASH) + _packer(len(tokens))(*tokens)).digest()


def hash_new_full_blocks(token_ids: Sequence[int], block_size: int, hashes: list[BlockHash],
                         hash_fn: HashFn = hash_block_tokens) -> None:
    """Extend `hashes` with the hashes of the full blocks of `token_ids` it does not cover yet
    (vLLM's request block hasher, run on creation and on each appended token)."""
    start = len(hashes) * block_size
    parent = hashes[-1] if hashes else None
    while start + block_size <= len(token_ids):
        parent = hash_fn(parent, token_ids[start:start + block_size])
        hashes.append(parent)
        start += block_size


class KVCacheBlock:
    """One physical block: id, reference count, and the hash while it is cached."""

    __slots__ = ("block_id", "ref_cnt", "block_hash", "is_null")

    def __init__(self, block_id: int):
        self.block_id = block_id
        self.ref_cnt = 0
        self.block_hash: BlockHash | None = None
        self.is_null = False

    def __repr__(self) -> str:
        return f"KVCacheBlock({self.block_id}, ref={self.ref_cnt}, cached={self.block_hash is not None})"


class FreeBlockQueue:
    """Free blocks in eviction order, head first; O(1) pop, append and removal from the middle."""

    def __init__(self, blocks: Iterable[KVCacheBlock]):
        self._q: OrderedDict[int, KVCacheBlock] = OrderedDict((b.block_id, b) for b in blocks)

    def __len__(self) -> int:
        return len(self._q)

    def popleft(self) -> KVCacheBlock:
        if not self._q:
            raise ValueError("No free blocks available")
        return self._q.popitem(last=False)[1]

    def popleft_n(self, n: int) -> list[KVCacheBlock]:
        pop = self._q.popitem
        return [pop(last=False)[1] for _ in range(n)]

    def remove(self, block: KVCacheBlock) -> None:
        del self._q[block.block_id]

    def append(self, block: KVCacheBlock) -> None:
        self._q[block.block_id] = block

    def __iter__(self):
        return iter(self._q.values())

    def block_ids(self) -> list[int]:
        """Head to tail (vLLM: `get_all_free_blocks`, for tests)."""
        return list(self._q)


class BlockPool:
    """Allocates, frees and caches blocks; `enable_caching=False` turns prefix caching off;
    `enable_kv_cache_events=True` queues KV cache events (events.py) for `take_events`."""

    def __init__(self, num_blocks: int, enable_caching: bool = True, enable_kv_cache_events: bool = False):
        # block_pool.py:155 asserts only num_gpu_blocks > 0: a pool of the null block alone is
        # accepted (every allocation is then refused).
        if not isinstance(num_blocks, int) or num_blocks < 1:
            raise ValueError(f"num_blocks must be a positive int, got {num_blocks!r}")
        self.num_blocks = num_blocks
        self.enable_caching = enable_caching
        self.blocks = [KVCacheBlock(i) for i in range(num_blocks)]
        self.free_block_queue = FreeBlockQueue(self.blocks)
        # hash -> block, or -> {block_id: block} once a hash has duplicates (vLLM's union shape,
        # which saves a dict per block in the common case).
        self._cached: dict[BlockHash, KVCacheBlock | dict[int, KVCacheBlock]] = {}
        self.null_block = self.free_block_queue.popleft()
        self.null_block.is_null = True
        self.kv_event_queue = EventQueue(enable_kv_cache_events)

    # ----------------------------------------------------------------- lookup and caching
    def get_cached_block(self, block_hash: BlockHash) -> KVCacheBlock | None:
        """The earliest still-cached block with this hash, or None."""
        hit = self._cached.get(block_hash)
        if hit is None or isinstance(hit, KVCacheBlock):
            return hit
        return next(iter(hit.values()))

    def cache_full_blocks(self, blocks: Sequence[KVCacheBlock], block_hashes: Sequence[BlockHash],
                          num_cached_blocks: int, num_full_blocks: int, token_ids: Sequence[int] = (),
                          block_size: int = 0) -> None:
        """Give blocks[num_cached_blocks:num_full_blocks] their hashes and make them findable;
        with events on, one `BlockStored` for the lot (block_pool.py:235-297; `token_ids` are the
        request's tokens, of which the stored blocks' go into the event)."""
        if num_cached_blocks >= num_full_blocks:
            return
        cached = self._cached
        stored: list[int] = []
        for i in range(num_cached_blocks, min(num_full_blocks, len(blocks))):
            blk = blocks[i]
            if blk.is_null:
                continue
            assert blk.block_hash is None, "block is already cached"
            h = block_hashes[i]
            blk.block_hash = h
            prev = cached.get(h)
            if prev is None:
                cached[h] = blk
            elif isinstance(prev, KVCacheBlock):
                cached[h] = {prev.block_id: prev, blk.block_id: blk}
            else:
                prev[blk.block_id] = blk
            stored.append(external_hash(h))
        if self.kv_event_queue.enabled:
            parent = external_hash(block_hashes[num_cached_blocks - 1]) if num_cached_blocks else None
            self.kv_event_queue.append(BlockStored(
                tuple(stored), parent, tuple(token_ids[num_cached_blocks * block_size:num_full_blocks * block_size]),
                block_size))

    def _maybe_evict_cached_block(self, block: KVCacheBlock) -> bool:
        """Drop the block's hash from the map (it is about to hold other tokens)."""
        h = block.block_hash
        if h is None:
            return False
        hit = self._cached.pop(h, None)
        if hit is None:
            return False
        if isinstance(hit, KVCacheBlock):
            if hit is not block:
                self._cached[h] = hit
                return False
        else:
            found = hit.pop(block.block_id, None)
            if hit:
                self._cached[h] = hit
            if found is None:
                return False
        block.block_hash = None
        self.kv_event_queue.append(BlockRemoved((external_hash(h),)))  # block_pool.py:358-368
        return True

    # ----------------------------------------------------------------- allocation
    def get_new_blocks(self, num_blocks: int) -> list[KVCacheBlock]:
        """Pop `num_blocks` from the head of the free queue, evicting their cached content."""
        if num_blocks > len(self.free_block_queue):
            raise ValueError(f"Cannot get {num_blocks} free blocks from the pool")
        ret = self.free_block_queue.popleft_n(num_blocks)
        for block in ret:
            if self.enable_caching and block.block_hash is not None:
                self._maybe_evict_cached_block(block)
            block.ref_cnt += 1
        return ret

    def touch(self, blocks: Iterable[KVCacheBlock]) -> None:
        """A prefix hit: take a reference, pulling a free (ref 0) block out of the free queue."""
        remove = self.free_block_queue.remove
        for block in blocks:
            if block.ref_cnt == 0 and not block.is_null:
                remove(block)
            block.ref_cnt += 1

    def free_blocks(self, ordered_blocks: Iterable[KVCacheBlock]) -> None:
        """Drop one reference each; blocks reaching 0 join the queue tail in the given order."""
        append = self.free_block_queue.append
        for block in ordered_blocks:
            block.ref_cnt -= 1
            if block.ref_cnt == 0 and not block.is_null:
                append(block)

    def evict_blocks(self, block_ids: Iterable[int]) -> None:
        """Forget the cached content of these blocks (in use or not); they stay where they are."""
        for block_id in block_ids:
            if not 0 <= block_id < self.num_blocks:
                raise ValueError(f"Invalid block_id {block_id} >= {self.num_blocks}")
            self._maybe_evict_cached_block(self.blocks[block_id])

    def reset_prefix_cache(self) -> bool:
        """Forget every hash, only if no block is in use (otherwise do nothing)."""
        if self.num_blocks - len(self.free_block_queue) != 1:  # the null block is always used
            return False
        self._cached = {}
        for block in self.blocks:
            block.block_hash = None
        self.kv_event_queue.append(AllBlocksCleared())  # block_pool.py:453-454
        return True

    def take_events(self) -> list:
        """The queued KV cache events, emptying the queue (block_pool.py:479-489)."""
        return self.kv_event_queue.take()

    # ----------------------------------------------------------------- inspection
    def get_num_free_blocks(self) -> int:
        return len(self.free_block_queue)

    def get_usage(self) -> float:
        total = self.num_blocks - 1
        if not total:  # block_pool.py:474-476
            return 0
        return 1.0 - len(self.free_block_queue) / total

    def num_cached_hashes(self) -> int:
        """Entries of the hash -> block map (distinct block hashes; vLLM's `len(BlockHashToBlockMap)`)."""
        return len(self._cached)

    def cached_block_ids(self, block_hash: BlockHash) -> list[int]:
        """Every block cached under this hash, in lookup order (for tests and the oracle)."""
        hit = self._cached.get(block_hash)
        if hit is None:
            return []
        return [hit.block_id] if isinstance(hit, KVCacheBlock) else list(hit)
