"""The tree cache's swapping (KsanaLLM's `SwapoutRequestAsync` ... `MergeSwapinRequest`,
`DestroySwappedRequest`, `UpdateCachedRequestState`): a mixin of `tree.PrefixCacheManager`, which
holds the state these methods work on (split from tree.py, no change of behaviour)."""
from __future__ import annotations

import logging

from .interface import OutOfBlocksError
from .tree_types import NULL_REF, CachedBlock, CachedRequest, NullRequestRef, RequestState, SwapInProgressError, UpstreamCrash

log = logging.getLogger(__package__ + ".tree")  # the logger tree.py's own messages use


class SwapMixin:
    """Swap-out and swap-in in upstream's three steps each; see tree.py's module docstring."""

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
