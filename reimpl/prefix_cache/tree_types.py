"""The tree cache's value types: blocks, requests, their states and the errors of upstream's
paths that have no sensible continuation (split from tree.py; tree.py re-exports every name)."""
from __future__ import annotations

import enum

from .std_unordered import ChildMap


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
