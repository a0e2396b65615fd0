"""KsanaLLM's prefix cache: a tree of full blocks keyed by their exact tokens.

Mirrors `ksana_llm::PrefixCacheManager` (prefix_cache_manager.h/.cpp at c451219c) with
`ksana_llm::PrefixCachedBlock` -> `CachedBlock` and `ksana_llm::PrefixCachedRequest` ->
`CachedRequest`, on one device. Swapping keeps upstream's three steps per direction
(`swap_out_request_async` / `wait_swap_out_requests` / `merge_swap_out_request` for
`SwapoutRequestAsync` / `WaitSwapoutRequests` / `MergeSwapoutRequest`, the same for swap-in);
the copies themselves are immediate. `swap_out_request` / `swap_in_request` do all three at once.
Flexible cache (`UpdateFlexibleCache`) is not reimplemented.

How it differs from vLLM's hash chain, and why each rule is there:
- A node's children are keyed by the child's whole token tuple (a hash map with full
  equality), so a lookup compares tokens: a hash collision can never hand out a wrong block.
  The map iterates in the order of the C++ one as libstdc++ builds it (std_unordered.py).
- A block joins the tree only after the step that filled it (`UpdateRequestTokens`). If its
  parent already has a child with the same tokens, the request switches to that block (its
  block table is rewritten, `block_merged`) and its own copy goes back to the free list: the
  tree never holds duplicates, at the price of a mutable block table.
- References are per request: `active` (running or finished) and `inactive` (swapped out).
  Lookups (`GetRequestPrefixBlockNumber`) take none; only allocation does.
- Unreferenced tree blocks are *reusable*: still findable, and counted as usable. Eviction
  (`FreeCachedBlocks`) walks the blocks in the order they joined the tree, newest first, and
  frees each unreferenced one *with its whole subtree* until enough are free. The order is
  insertion into the tree, not last use: a hit does not refresh a block.
- A prompt of n tokens needs (n + block_size) // block_size blocks: one more than its full
  blocks when n is block-aligned, the slot of the next token.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Iterable, Sequence

from .interface import OutOfBlocksError, UnknownRequestError
from .tree_swap import SwapMixin
from .tree_types import (NULL_REF, CachedBlock, CachedRequest, NullRequestRef, RequestState,  # noqa: F401 (re-exported)
                         SwapInProgressError, UpstreamCrash)

log = logging.getLogger(__name__)
SIZE_T = 1 << 64


class PrefixCacheManager(SwapMixin):
    """The tree cache. `num_host_blocks` is the host pool used by swapping (0: no swapping).

    Upstream members, here: `free_cached_blocks_` -> `free_blocks` (FIFO), `reusable_cached_blocks_`
    -> `reusable_blocks`, `timed_cached_blocks_` -> `timeline`, `cached_requests_` -> `requests`,
    `root_cached_block_` -> `root`; methods are the C++ names in snake case
    (`FreeCachedBlocks` -> `free_cached_blocks`), swaps as described in the module docstring.

    `upstream_merge_accounting=True` reproduces an accounting slip of the upstream code (see
    `_note_merged_into`): merging into an unreferenced tree block leaves that block in the
    reusable set although a request now references it.
    """

    block_cls = CachedBlock

    def __init__(self, num_device_blocks: int, block_token_num: int, num_host_blocks: int = 0,
                 upstream_merge_accounting: bool = False):
        self.block_token_num = block_token_num
        self.num_device_blocks = num_device_blocks
        self.upstream_merge_accounting = upstream_merge_accounting
        self.root = self.block_cls(-1)
        self.free_blocks: deque[CachedBlock] = deque(self.block_cls(i) for i in range(num_device_blocks))
        self.reusable_blocks: set[CachedBlock] = set()
        self.timeline: dict[CachedBlock, None] = {}  # insertion-ordered set
        self.requests: dict[str, CachedRequest] = {}
        self.host_free: deque[int] = deque(range(num_host_blocks))
        self.swapout_buffer: dict[str, list[CachedBlock]] = {}  # swapout_cached_block_buffer_
        self.swapout_tasks: list[str] = []  # swapout_task_queue_ (copies not waited for)
        self.swapout_finished: list[str] = []  # finish_swapout_request_ (waited, not merged)
        self.swapin_tasks: list[str] = []
        self.swapin_finished: list[str] = []

    # ----------------------------------------------------------------- counts
    def get_usable_block_number(self) -> int:
        return len(self.free_blocks) + len(self.reusable_blocks)

    def get_used_block_number(self) -> int:
        # size_t upstream (prefix_cache_manager.cpp:87-89): with `upstream_merge_accounting` the
        # usable count can exceed the pool (a referenced, swapped or even deleted block left in
        # the reusable set), and this wraps.
        return (self.num_device_blocks - self.get_usable_block_number()) % SIZE_T

    def num_tree_nodes(self) -> int:
        """Blocks in the prefix tree below the root (the tree's nodes; read-only walk)."""
        n, stack = 0, list(self.root.children.values())
        while stack:
            cb = stack.pop()
            n += 1
            stack.extend(cb.children.values())
        return n

    def get_host_free_block_number(self) -> int:
        return len(self.host_free)

    def get_request_usable_block_number(self, req_id: str) -> int:
        """Usable blocks, less the reusable ones this request has matched (it will take them)."""
        req = self._request(req_id)
        own = sum(1 for cb in req.cached_blocks if cb in self.reusable_blocks)
        return self.get_usable_block_number() - own

    def get_request_step_block_number(self, req_id: str, input_token_lens: int) -> int:
        """Blocks to add so that `input_token_lens` tokens plus the next one fit."""
        req = self._request(req_id)
        total = (input_token_lens + self.block_token_num) // self.block_token_num
        return total - min(total, len(req.cached_blocks))

    def get_request_step_block_number_for_one_next_token(self, req_id: str) -> int:
        return 1 if self._request(req_id).cached_blocks[-1].is_shareable else 0

    def get_request_freeable_block_num(self, req_id: str) -> int:
        """Blocks a swap-out would move to host: on device, referenced by no other running request."""
        return sum(1 for cb in self._request(req_id).cached_blocks if cb.is_device and len(cb.active) <= 1)

    def get_request_needed_block_num_for_one_next_token(self, req_id: str) -> int:
        """Blocks a swap-in needs: those on host, plus the next token's block."""
        req = self._request(req_id)
        return (sum(1 for cb in req.cached_blocks if not cb.is_device)
                + self.get_request_step_block_number_for_one_next_token(req_id))

    def block_table(self, req_id: str) -> list[int]:
        """The request's memory block ids (empty until its first allocation). Upstream the caller
        owns this table (`InferRequest::kv_cache_blocks`) and the manager patches it; here it is
        always derived from the request's blocks, so it is never stale."""
        req = self._request(req_id)
        return [] if req.state is RequestState.WAITING else [cb.block_id for cb in req.cached_blocks]

    # ----------------------------------------------------------------- lookup
    def get_request_prefix_block_number(self, req_id: str, input_token_ids: Sequence[int],
                                        check_token_num: int | None = None) -> tuple[int, int, int]:
        """Match the prompt against the tree: (shared_block_num, unique_block_num, shared_token_num).

        Creates the request (waiting) on first sight. Matched blocks are remembered but not
        referenced. Blocks matched earlier are re-checked first: eviction may have reused them.
        """
        B = self.block_token_num
        check = len(input_token_ids) if check_token_num is None else check_token_num
        if len(input_token_ids) < check:
            raise ValueError("check_token_num exceeds the number of tokens")
        req = self.requests.get(req_id)
        if req is None:
            req = self.requests[req_id] = CachedRequest(req_id)
        blocks = req.cached_blocks
        prev = self.root
        for i, cb in enumerate(blocks):
            if not (cb.parent is prev and cb.is_shareable and cb.is_device
                    and cb.token_ids == tuple(input_token_ids[i * B:(i + 1) * B])):
                del blocks[i:]
                break
            prev = cb
        cur = blocks[-1] if blocks else self.root
        for i in range(len(blocks), check // B):
            cur = cur.children.get(tuple(input_token_ids[i * B:(i + 1) * B]))
            if cur is None:
                break
            blocks.append(cur)
        shared = len(blocks)
        req.shared_block_num = shared
        # size_t upstream (prefix_cache_manager.cpp:149-150): below zero when blocks kept from an
        # earlier, longer match exceed check_token_num, it wraps. (The scheduler overwrites it
        # with GetRequestStepBlockNumber, continuous_batching.cpp:691 and :725.)
        unique = ((check + B) // B - shared) % SIZE_T
        return shared, unique, shared * B

    def matched_block_ids(self, req_id: str) -> list[int]:
        return [cb.block_id for cb in self._request(req_id).cached_blocks]

    # ----------------------------------------------------------------- allocation
    def allocate_request_blocks(self, req_id: str, block_num: int) -> list[int]:
        """Reference the matched blocks (first allocation) and append `block_num` new ones.

        Evicts reusable blocks if the free list is short, never the request's own matches.
        Raises OutOfBlocksError if that is not enough; what was evicted stays evicted.
        """
        req = self._request(req_id)
        needed = max(0, block_num - len(self.free_blocks))
        reserved = req.cached_blocks if req.state in (RequestState.WAITING, RequestState.RUNNING) else ()
        if needed > 0 and not self.free_cached_blocks(needed, reserved)[0]:
            raise OutOfBlocksError(f"allocate {block_num} blocks for req {req_id}: no more usable blocks, "
                                   f"free: {len(self.free_blocks)}")
        if req.state is RequestState.WAITING:
            req.state = RequestState.RUNNING
            for i, cb in enumerate(req.cached_blocks):
                if not cb.active and not cb.inactive:
                    self.reusable_blocks.discard(cb)
                cb.active[req_id] = i
        popleft = self.free_blocks.popleft
        req.cached_blocks.extend(popleft() for _ in range(block_num))
        return [cb.block_id for cb in req.cached_blocks]

    def update_request_tokens(self, req_id: str, kvcached_token_ids: Sequence[int],
                              shareable_kvcache_token_num: int) -> bool:
        """After a step: blocks now full join the tree, or merge into an equal sibling.

        Returns `block_merged` (the request's block table changed)."""
        req = self._request(req_id)
        if len(kvcached_token_ids) < shareable_kvcache_token_num:
            raise ValueError("fewer tokens than shareable_kvcache_token_num")
        B = self.block_token_num
        filled = shareable_kvcache_token_num // B
        if filled <= req.shared_block_num:
            return False
        if len(req.cached_blocks) < filled:
            raise ValueError(f"req {req_id} has {len(req.cached_blocks)} blocks, fewer than {filled} filled")
        merged = False
        for i in range(req.shared_block_num, filled):
            cb = req.cached_blocks[i]
            cb.token_ids = tuple(kvcached_token_ids[i * B:(i + 1) * B])
            merged |= self._append_filled_cached_block(req, i, cb)
        req.shared_block_num = filled
        return merged

    def _append_filled_cached_block(self, req: CachedRequest, index: int, cb: CachedBlock) -> bool:
        parent = self.root if index == 0 else req.cached_blocks[index - 1]
        sibling = parent.children.get(cb.token_ids)
        if sibling is not None:  # MergeFilledCachedBlocks
            self._note_merged_into(sibling)
            sibling.active[req.req_id] = index
            req.cached_blocks[index] = sibling
            self._reset(cb)
            self.free_blocks.append(cb)
            return True
        cb.is_shareable = True
        cb.active[req.req_id] = index
        cb.parent = parent
        parent.children[cb.token_ids] = cb
        self._timeline_append(cb)
        self.reusable_blocks.discard(cb)
        return False

    def _note_merged_into(self, dst: CachedBlock) -> None:
        """Upstream (MergeFilledCachedBlocks, MergeSwapinCachedBlocks) adds the reference but
        leaves `dst` in the reusable set when it had none: the usable count then includes a
        referenced block. We take it out, unless asked to behave like upstream."""
        if not self.upstream_merge_accounting and not dst.active and not dst.inactive:
            self.reusable_blocks.discard(dst)

    # ----------------------------------------------------------------- release and eviction
    def destroy_finished_request(self, req_id: str) -> bool:
        """Drop the request: unfilled blocks go to the free list, tree blocks lose its reference
        (and become reusable when no reference is left). False if the request is unknown."""
        req = self.requests.get(req_id)
        if req is None:
            log.error("DestroyFinishedRequest req %s not exists.", req_id)
            return False
        if req.state is not RequestState.WAITING:
            for cb in req.cached_blocks:
                if not cb.is_shareable:
                    self._reset(cb)
                    self.free_blocks.append(cb)
                    continue
                refs = cb.active if req.state in (RequestState.RUNNING, RequestState.FINISHED) else cb.inactive
                refs.pop(req_id, None)
                if not cb.active and not cb.inactive:
                    self.reusable_blocks.add(cb)
        req.cached_blocks.clear()
        del self.requests[req_id]
        return True

    def free_cached_blocks(self, block_num: int, reserved: Iterable[CachedBlock] = ()) -> tuple[bool, int]:
        """FreeCachedBlocks: from the newest tree block to the oldest, free each unreferenced,
        unreserved one with its subtree, until `block_num` are free. (ok, number freed)."""
        reserved = set(reserved)
        freed: list[CachedBlock] = []
        for cb in reversed(self.timeline):
            if cb in reserved or not cb.is_shareable:
                continue
            if not cb.active and not cb.inactive:
                cb.parent.children.pop(cb.token_ids, None)
                self._free_subtree(cb, freed)
            if len(freed) >= block_num:
                break
        for cb in freed:
            self.timeline.pop(cb, None)
        return len(freed) >= block_num, len(freed)

    def _free_subtree(self, top: CachedBlock, freed: list[CachedBlock]) -> None:
        """Children first, then the node (FreeCachedBlockRecursively, without recursion: chains of
        a long prompt are deeper than Python's recursion limit)."""
        stack = [(top, iter(list(top.children.values())))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is not None:
                stack.append((child, iter(list(child.children.values()))))
                continue
            stack.pop()
            self.reusable_blocks.discard(node)
            self._reset(node)
            self.free_blocks.append(node)
            freed.append(node)

    # ----------------------------------------------------------------- helpers
    def _request(self, req_id: str) -> CachedRequest:
        req = self.requests.get(req_id)
        if req is None:
            raise UnknownRequestError(req_id)
        return req

    def _timeline_append(self, cb: CachedBlock) -> None:
        self.timeline.pop(cb, None)
        self.timeline[cb] = None

    @staticmethod
    def _reset(cb: CachedBlock) -> None:
        """ResetCachedBlock: keep the memory block, forget everything else."""
        cb.is_shareable = False
        cb.is_device = True
        cb.token_ids = None
        cb.active.clear()
        cb.inactive.clear()
        cb.parent = None
        cb.children.clear()
