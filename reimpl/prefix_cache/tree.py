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

import enum
import logging
from collections import deque
from typing import Iterable, Sequence

from .interface import OutOfBlocksError, UnknownRequestError
from .std_unordered import ChildMap

log = logging.getLogger(__name__)
SIZE_T = 1 << 64


class SwapInProgressError(RuntimeError):
    """Swaps in one direction wait for those in the other to be merged (RET_RUNTIME_FAILED)."""


class UpstreamCrash(RuntimeError):
    """Upstream dereferences a null pointer here; nothing sensible follows."""


class NullRequestRef(int):
    """A reference whose request pointer is null: upstream's `std::pair<int, PrefixCachedRequest*>`
    default-constructed by `operator[]` in UpdateCachedRequestState (position 0). It happens to a
    request holding a block it is not registered on, which the subtree free of a swap-out causes."""


NULL_REF = NullRequestRef(0)


class RequestState(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    SWAPPED = "swapped"
    FINISHED = "finished"


class CachedBlock:
    """A block (`block_id` is its memory block: a device block, or a host block once swapped)."""

    __slots__ = ("block_id", "is_device", "token_ids", "parent", "children", "is_shareable",
                 "active", "inactive", "deleted")

    def __init__(self, block_id: int):
        self.block_id = block_id
        self.is_device = True
        self.token_ids: tuple[int, ...] | None = None
        self.parent: CachedBlock | None = None
        # Iterated in libstdc++'s order: it decides which blocks a subtree free returns first.
        self.children: ChildMap = ChildMap()
        self.is_shareable = False  # filled and in the tree
        self.active: dict[str, int] = {}  # request id -> position of this block in its table
        self.inactive: dict[str, int] = {}
        # Upstream `delete`s the C++ object here (a swap-in's spare device block, a dropped host
        # block), though a request may still point at it: see `swap_in_request_async`.
        self.deleted = False

    def __repr__(self) -> str:
        return (f"CachedBlock({self.block_id}, shareable={self.is_shareable}, "
                f"active={sorted(self.active)}, inactive={sorted(self.inactive)})")


class CachedRequest:
    """A request's blocks: matched prefix blocks first, then its own (unfilled until updated)."""

    __slots__ = ("req_id", "state", "shared_block_num", "cached_blocks")

    def __init__(self, req_id: str):
        self.req_id = req_id
        self.state = RequestState.WAITING
        self.shared_block_num = 0  # blocks already shared (matched, or filled and in the tree)
        self.cached_blocks: list[CachedBlock] = []


class PrefixCacheManager:
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

    # ----------------------------------------------------------------- swapping
    # Upstream splits each direction in three calls: `Swap*RequestAsync` (bookkeeping, copies
    # queued on a thread pool), `WaitSwap*Requests`, `MergeSwap*Request` (swap-out: the freed
    # device blocks join the free list; swap-in: the blocks rejoin the tree). The copies are
    # immediate here, the bookkeeping and its timing are upstream's.
    def swap_out_request_async(self, req_id: str) -> tuple[int, int, list[int]]:
        """SwapoutRequestAsync: move the request's device blocks that no other running request
        uses to host, tail to head; tree blocks leave the tree and their other children are freed.
        The device blocks given up wait for `merge_swap_out_request`. Returns (swapped_block_num,
        free_block_num, swapped device block ids)."""
        if self.swapin_tasks or self.swapin_finished:
            raise SwapInProgressError(f"cannot swap out req {req_id}, some swap-in jobs are in progress")
        req = self._request(req_id)
        out = [cb for cb in reversed(req.cached_blocks) if cb.is_device and len(cb.active) <= 1]
        if len(self.host_free) < len(out):
            raise OutOfBlocksError(f"swap out req {req_id}: no more host blocks, needed {len(out)}, "
                                   f"free {len(self.host_free)}")
        self._update_cached_request_state(req_id, RequestState.SWAPPED)
        freed: list[CachedBlock] = []
        for cb in out:
            if not cb.is_shareable:
                continue
            cb.parent.children.pop(cb.token_ids, None)
            cb.parent = None
            if cb.children:
                # As upstream (prefix_cache_manager.cpp:893-906): the whole subtree is freed, even
                # blocks a swapped request still holds (inactive); that request keeps them.
                mark = len(freed)
                for child in list(cb.children.values()):
                    self._free_subtree(child, freed)
                for gone in freed[mark:]:
                    self.timeline.pop(gone, None)
                cb.children.clear()
            self.timeline.pop(cb, None)
        ids = [cb.block_id for cb in out]
        slots = self.swapout_buffer.setdefault(req_id, []) if out else []
        for cb in out:  # SwapoutCachedBlock: an empty block takes over the device memory
            slots.append(self.block_cls(cb.block_id))
            cb.block_id = self.host_free.popleft()
            cb.is_device = False
        self.swapout_tasks.append(req_id)
        return len(out), len(freed), ids

    def wait_swap_out_requests(self) -> list[int]:
        """WaitSwapoutRequests until no copy is left: the requests whose copies were pending
        (or, if none was, those finished but not merged yet), sorted."""
        return self._wait(self.swapout_tasks, self.swapout_finished)

    def merge_swap_out_request(self, req_id: str) -> None:
        """MergeSwapoutRequest: the device blocks the swap-out gave up join the free list."""
        self.free_blocks.extend(self.swapout_buffer.pop(req_id, ()))
        if req_id in self.swapout_finished:
            self.swapout_finished.remove(req_id)

    def get_future_free_block_number(self) -> int:
        """Device blocks given up by swap-outs not merged yet."""
        return sum(len(slots) for slots in self.swapout_buffer.values())

    def swap_in_request_async(self, req_id: str) -> tuple[int, list[int]]:
        """SwapinRequestAsync: bring the request's host blocks back into free device blocks and
        add the next token's block. Returns (block_num, the device block ids the host blocks got)."""
        if self.swapout_tasks or self.swapout_buffer or self.swapout_finished:
            raise SwapInProgressError(f"swap in req {req_id}: some swap-out jobs are in progress")
        req = self._request(req_id)
        on_host = [cb for cb in req.cached_blocks if not cb.is_device]
        step = self.get_request_step_block_number_for_one_next_token(req_id)
        needed = len(on_host) + step
        short = needed - len(self.free_blocks)
        if short > 0 and not self.free_cached_blocks(short)[0]:
            raise OutOfBlocksError(f"swap in req {req_id}: no more free blocks")
        slots = [self.free_blocks.popleft() for _ in on_host]
        req.cached_blocks.extend(self.free_blocks.popleft() for _ in range(step))
        for cb, slot in zip(on_host, slots):  # SwapinCachedBlock: the host block takes the device memory
            self.host_free.append(cb.block_id)
            cb.block_id = slot.block_id
            cb.is_device = True
            # ... and the spare block object is deleted (base_cache_manager.h:200). If the
            # free_cached_blocks above evicted a block that a waiting request had matched but not
            # allocated, that request now points at freed memory: upstream use-after-free.
            slot.deleted = True
        self.swapin_tasks.append(req_id)
        return needed, [slot.block_id for slot in slots]

    def wait_swap_in_requests(self) -> list[int]:
        """WaitSwapinRequests, as `wait_swap_out_requests`."""
        return self._wait(self.swapin_tasks, self.swapin_finished)

    def merge_swap_in_request(self, req_id: str) -> None:
        """MergeSwapinRequest: the request's blocks rejoin the tree, head to tail (merging into
        identical tree blocks, for every swapped request that shares them); it runs again."""
        req = self._request(req_id)
        for i, cb in enumerate(req.cached_blocks):
            if cb.parent is None and cb.is_shareable:
                self._append_swapin_cached_block(req, i, cb)
        if req_id in self.swapin_finished:
            self.swapin_finished.remove(req_id)
        self._update_cached_request_state(req_id, RequestState.RUNNING)

    @staticmethod
    def _wait(tasks: list, finished: list) -> list:
        """WaitTaskDone, blocking until no task is left."""
        if not tasks:
            return sorted(finished)
        done = sorted(tasks)
        finished.extend(tasks)
        tasks.clear()
        return done

    def swap_out_request(self, req_id: str) -> tuple[int, int]:
        """Swap out at once: async, wait, merge. Returns (swapped_block_num, free_block_num)."""
        swapped, freed, _ = self.swap_out_request_async(req_id)
        self.wait_swap_out_requests()
        self.merge_swap_out_request(req_id)
        return swapped, freed

    def swap_in_request(self, req_id: str) -> int:
        """Swap in at once: async, wait, merge. Returns the number of device blocks taken."""
        needed, _ = self.swap_in_request_async(req_id)
        self.wait_swap_in_requests()
        self.merge_swap_in_request(req_id)
        return needed

    def _append_swapin_cached_block(self, req: CachedRequest, index: int, cb: CachedBlock) -> None:
        parent = self.root if index == 0 else req.cached_blocks[index - 1]
        sibling = parent.children.get(cb.token_ids)
        if sibling is not None:  # MergeSwapinCachedBlocks: every swapped owner moves over
            self._note_merged_into(sibling)
            for rid, pos in cb.inactive.items():
                if isinstance(pos, NullRequestRef):  # `pair.second.second->cached_blocks` (:652-653)
                    raise UpstreamCrash(f"MergeSwapinCachedBlocks: null request in a reference of req {rid}")
                sibling.inactive.setdefault(rid, pos)
                self.requests[rid].cached_blocks[pos] = sibling
            self._reset(cb)
            self.free_blocks.append(cb)
            return
        cb.parent = parent
        parent.children[cb.token_ids] = cb
        self._timeline_append(cb)

    def destroy_swapped_request(self, req_id: str) -> bool:
        """Drop a swapped-out request: its host blocks no one else holds are released."""
        req = self.requests.get(req_id)
        if req is None:
            log.error("DestroySwappedRequest req %s is not found.", req_id)
            return False
        for cb in req.cached_blocks:
            if not cb.is_device:
                if not cb.active and len(cb.inactive) <= 1:
                    self.host_free.append(cb.block_id)
                    cb.deleted = True  # `delete cb` (prefix_cache_manager.cpp:1084)
                    continue
            elif not cb.active and len(cb.inactive) == 1:
                self.reusable_blocks.add(cb)
            cb.inactive.pop(req_id, None)
        del self.requests[req_id]
        return True

    def _update_cached_request_state(self, req_id: str, state: RequestState) -> None:
        """Running <-> swapped moves the request's references between active and inactive."""
        req = self._request(req_id)
        if state is RequestState.RUNNING and req.state is RequestState.SWAPPED:
            src, dst = "inactive", "active"
        elif state is RequestState.SWAPPED and req.state is RequestState.RUNNING:
            src, dst = "active", "inactive"
        else:
            return
        req.state = state
        for cb in req.cached_blocks:
            if cb.is_shareable:
                # `cb->active_requests[req_id] = cb->inactive_requests[req_id]` (:756, :771): a
                # request missing from the source map gets a default pair, (0, nullptr).
                pos = getattr(cb, src).pop(req_id, NULL_REF)
                getattr(cb, dst)[req_id] = pos

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
