"""The two sides of the KsanaLLM prefix-cache oracle, behind one API of plain values.

`RealSide` drives the real `ksana_llm::PrefixCacheManager` through the compiled driver
(driver.cpp); `OurSide` drives `infernav.reimpl.prefix_cache.tree.PrefixCacheManager`. Every
method returns what the engine's caller would see (status code first; 0 = OK), and `snapshot()`
the whole state in one shape:

    free       the free list, in order             reusable   sorted
    timeline   tree blocks, oldest first           counts     (usable, used, host free, future free)
    tree       depth first from the root, children in the map's iteration order:
               (block, parent, tokens, #children, active refs, inactive refs)
    requests   {req: (state, shared_block_num, ((block, on device, shareable, tokens, active, inactive), ...))}
               a block upstream has deleted while the request still points at it is "deleted"
               (and -1 in the reusable set, where it can stay: see docs/dev/prefix_cache.md)

Refs are (request, position, request pointer null) triples, sorted. Blocks are named by memory: a device block by its device-0 memory block id (0..N-1: upstream's
`block_id` minus 1, which the driver checks), a host block by the first of its D host ids
(ours: host block h -> D * h). Host counts are
upstream's, per device (ours times D).
"""
from __future__ import annotations

from typing import Sequence

from infernav.reimpl.prefix_cache.interface import OutOfBlocksError, UnknownRequestError
from infernav.reimpl.prefix_cache.tree import NullRequestRef, PrefixCacheManager, RequestState, SwapInProgressError

OK = 0
OUT_OF_DEVICE_MEMORY = 3007  # ret_code.h RET_OUT_OF_DEVICE_MEMORY
RUNTIME_FAILED = 3010  # ret_code.h RET_RUNTIME_FAILED
STATE = {RequestState.WAITING: 0, RequestState.RUNNING: 1, RequestState.SWAPPED: 2, RequestState.FINISHED: 3}


class InvariantBroken(AssertionError):
    """The real manager's state broke a rule the driver checks (sound numbering, reset free blocks,
    children keyed and linked right): a driver bug or an upstream one, to be looked into."""


class RealSide:
    name = "upstream"

    def __init__(self, module, device_blocks: int, block_size: int, host_blocks: int, devices: int):
        self.d = module.Driver(device_blocks, block_size, host_blocks, devices)
        self.devices = devices
        self.stride = module.DEVICE_STRIDE

    def prefix(self, r: int, tokens: Sequence[int], check: int):
        (code, _), shared, unique, shared_tokens = self.d.prefix(r, tokens, check)
        return code, shared, unique, shared_tokens

    def step_blocks(self, r: int, n: int) -> int:
        return self.d.step_blocks(r, n)

    def request_usable(self, r: int) -> int:
        return self.d.request_usable(r)

    def allocate(self, r: int, n: int) -> int:
        return self.d.allocate(r, n)[0][0]

    def update(self, r: int, tokens: Sequence[int], shareable: int):
        (code, _), merged = self.d.update(r, tokens, shareable)
        return code, merged

    def destroy_finished(self, r: int) -> None:
        self.d.destroy_finished(r)

    def destroy_swapped(self, r: int) -> None:
        self.d.destroy_swapped(r)

    def free_cached(self, n: int, reserved: int | None):
        return tuple(self.d.free_cached(n, reserved))

    def freeable(self, r: int) -> int:
        return self.d.freeable(r)[1]

    def needed(self, r: int) -> int:
        return self.d.needed_for_one_next_token(r)[1]

    def swapout_async(self, r: int):
        (code, _), swapped, freed, ids = self.d.swapout_async(r)
        return (code, swapped, freed, tuple(ids)) if code == OK else (code,)

    def wait_swapout(self):
        return tuple(self.d.wait_swapout()[1])

    def merge_swapout(self, r: int) -> int:
        return self.d.merge_swapout(r)[0]

    def swapin_async(self, r: int):
        (code, _), num, ids = self.d.swapin_async(r)
        return (code, num, tuple(ids)) if code == OK else (code,)

    def wait_swapin(self):
        return tuple(self.d.wait_swapin()[1])

    def merge_swapin(self, r: int) -> int:
        return self.d.merge_swapin(r)[0]

    def table(self, r: int) -> list[int]:
        """The caller's block table (device 0); the other devices must be the same blocks."""
        table = self.d.table(r)
        for j, row in enumerate(table[1:], 1):
            if row != [b + j * self.stride for b in table[0]]:
                raise AssertionError(f"device {j}'s table of req {r} is not device 0's: {row} vs {table[0]}")
        return table[0]

    def snapshot(self) -> dict:
        snap = self.d.snapshot()
        if snap["invariants"]:
            raise InvariantBroken(f"upstream state broke an invariant: {snap['invariants'][:3]}")
        return snap


class OurSide:
    name = "ours"

    def __init__(self, device_blocks: int, block_size: int, host_blocks: int, devices: int,
                 manager_cls: type = PrefixCacheManager):
        # upstream_merge_accounting: the oracle compares with upstream, slip included (NOTES).
        self.m = manager_cls(device_blocks, block_size, host_blocks, upstream_merge_accounting=True)
        self.devices = devices

    def _code(self, fn, *args):
        try:
            return OK, fn(*args)
        except OutOfBlocksError:
            return OUT_OF_DEVICE_MEMORY, None
        except (UnknownRequestError, SwapInProgressError, ValueError):
            return RUNTIME_FAILED, None

    def prefix(self, r, tokens, check):
        code, got = self._code(self.m.get_request_prefix_block_number, r, tokens, check)
        return (code, *got) if code == OK else (code, 0, 0, 0)

    def step_blocks(self, r, n):
        return self.m.get_request_step_block_number(r, n)

    def request_usable(self, r):
        return self.m.get_request_usable_block_number(r)

    def allocate(self, r, n):
        return self._code(self.m.allocate_request_blocks, r, n)[0]

    def update(self, r, tokens, shareable):
        code, merged = self._code(self.m.update_request_tokens, r, tokens, shareable)
        return code, bool(merged)

    def destroy_finished(self, r):
        self.m.destroy_finished_request(r)

    def destroy_swapped(self, r):
        self.m.destroy_swapped_request(r)

    def free_cached(self, n, reserved):
        blocks = self.m.requests[reserved].cached_blocks if reserved is not None else ()
        return self.m.free_cached_blocks(n, blocks)

    def freeable(self, r):
        return self.m.get_request_freeable_block_num(r)

    def needed(self, r):
        return self.m.get_request_needed_block_num_for_one_next_token(r)

    def swapout_async(self, r):
        code, got = self._code(self.m.swap_out_request_async, r)
        return (code, got[0], got[1], tuple(got[2])) if code == OK else (code,)

    def wait_swapout(self):
        return tuple(self.m.wait_swap_out_requests())

    def merge_swapout(self, r):
        self.m.merge_swap_out_request(r)
        return OK

    def swapin_async(self, r):
        code, got = self._code(self.m.swap_in_request_async, r)
        return (code, got[0], tuple(got[1])) if code == OK else (code,)

    def wait_swapin(self):
        return tuple(self.m.wait_swap_in_requests())

    def merge_swapin(self, r):
        return self._code(self.m.merge_swap_in_request, r)[0]

    def table(self, r):
        return self.m.block_table(r)

    # ------------------------------------------------------------------ state
    def _name(self, cb) -> int:
        if cb.deleted:
            return -1
        return cb.block_id if cb.is_device else cb.block_id * self.devices

    @staticmethod
    def _refs(refs: dict) -> tuple:
        return tuple(sorted((r, int(pos), isinstance(pos, NullRequestRef)) for r, pos in refs.items()))

    def snapshot(self) -> dict:
        m, name, refs = self.m, self._name, self._refs
        tree: list = []
        stack = [(child, -1) for child in reversed(list(m.root.children.values()))]
        while stack:
            cb, parent = stack.pop()
            tree.append((name(cb), parent, cb.token_ids, len(cb.children), refs(cb.active), refs(cb.inactive)))
            stack.extend((child, name(cb)) for child in reversed(list(cb.children.values())))
        requests = {
            rid: (STATE[req.state], req.shared_block_num,
                  tuple("deleted" if cb.deleted else
                        (name(cb), cb.is_device, cb.is_shareable, cb.token_ids if cb.is_shareable else None,
                         refs(cb.active), refs(cb.inactive)) for cb in req.cached_blocks))
            for rid, req in m.requests.items()}
        return {
            "free": tuple(cb.block_id for cb in m.free_blocks),
            "reusable": tuple(sorted(name(cb) for cb in m.reusable_blocks)),
            "timeline": tuple(name(cb) for cb in m.timeline),
            "tree": tuple(tree),
            "requests": requests,
            "counts": (m.get_usable_block_number(), m.get_used_block_number(),
                       m.get_host_free_block_number() * self.devices, m.get_future_free_block_number()),
        }


KEYS = ("free", "reusable", "timeline", "tree", "requests", "counts")
