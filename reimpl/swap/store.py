"""A two-tier KV block store (device and host) with asynchronous block copies.

The mechanism KsanaLLM keeps and vLLM v1 dropped (annotations/ksanallm/swap.md): a preempted
request's KV blocks are copied to host memory and back later, while the scheduler goes on.

- On a GPU (`torch.cuda` available and the device tensor on it): host blocks live in *pinned*
  memory, copies are `cudaMemcpyAsync`s issued on a dedicated CUDA stream that first waits for the
  compute stream (so the KV being copied is fully written), and a CUDA event recorded after them
  tells when they are done (`event.query()`, never a blocking sync unless asked).
- On a CPU: copies run on a worker thread; a future tells when they are done.

Either way copies are grouped into runs of consecutive block ids on both sides
(`batched=True`, one copy per run) or issued one block at a time (`batched=False`).

Rules the store enforces:
- A swap-out's device blocks are *not* free when the copy is issued: they become allocatable only
  in `merge()`, after the copy finished (KsanaLLM's MergeSwapoutRequest / "future free" blocks).
  Likewise a swap-in's host blocks go back to the host free list only in `merge()`.
- The two directions never overlap for one request: a request with an unmerged task cannot start
  another. With `exclusive=True` (KsanaLLM's rule) no swap-out may start while *any* swap-in is
  unmerged, and the reverse.
- What comes back is bitwise what went out (plain copies, no dtype change).
"""
from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import torch

DEVICE, HOST = "device", "host"


class SwapError(RuntimeError):
    """A swap that the rules forbid (direction overlap, unknown request, not enough blocks)."""


def runs(src: Sequence[int], dst: Sequence[int]) -> list[tuple[int, int, int]]:
    """Group block pairs into (src_start, dst_start, length) runs consecutive on both sides."""
    out: list[list[int]] = []
    for s, d in zip(src, dst):
        if out and out[-1][0] + out[-1][2] == s and out[-1][1] + out[-1][2] == d:
            out[-1][2] += 1
        else:
            out.append([s, d, 1])
    return [tuple(r) for r in out]


@dataclass
class SwapTask:
    req_id: str
    direction: str  # "out" (device -> host) or "in"
    src: list[int]
    dst: list[int]
    num_copies: int
    _event: object = None
    _future: Future | None = None

    def done(self) -> bool:
        if self._event is not None:
            return self._event.query()
        return self._future.done()

    def wait(self) -> None:
        if self._event is not None:
            self._event.synchronize()
        else:
            self._future.result()


@dataclass
class _Blocks:
    tier: str
    ids: list[int] = field(default_factory=list)


class TwoTierBlockStore:
    """KV blocks of shape `block_shape` on a device tier and a host tier, moved asynchronously."""

    def __init__(self, num_device_blocks: int, num_host_blocks: int, block_shape: Sequence[int],
                 dtype: torch.dtype = torch.float16, device: str | torch.device | None = None,
                 batched: bool = True, exclusive: bool = True):
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.on_gpu = self.device.type == "cuda"
        self.batched = batched
        self.exclusive = exclusive
        self.device_kv = torch.zeros((num_device_blocks, *block_shape), dtype=dtype, device=self.device)
        self.host_kv = torch.zeros((num_host_blocks, *block_shape), dtype=dtype, pin_memory=self.on_gpu)
        self.device_free: deque[int] = deque(range(num_device_blocks))
        self.host_free: deque[int] = deque(range(num_host_blocks))
        self.blocks: dict[str, _Blocks] = {}
        self.tasks: dict[str, SwapTask] = {}
        self.copies_issued = 0
        self._lock = threading.Lock()
        if self.on_gpu:
            self._stream = torch.cuda.Stream(device=self.device)
            self._pool = None
        else:
            self._stream = None
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infernav-swap")

    # ----------------------------------------------------------------- plain block management
    def allocate(self, req_id: str, num_blocks: int) -> list[int]:
        b = self.blocks.setdefault(req_id, _Blocks(DEVICE))
        if b.tier != DEVICE or req_id in self.tasks:
            raise SwapError(f"{req_id} is not resident on the device")
        if num_blocks > len(self.device_free):
            raise SwapError(f"{req_id}: {num_blocks} device blocks wanted, {len(self.device_free)} free")
        new = [self.device_free.popleft() for _ in range(num_blocks)]
        b.ids.extend(new)
        return new

    def free(self, req_id: str) -> None:
        if req_id in self.tasks:
            raise SwapError(f"{req_id} has a copy in flight; merge first")
        b = self.blocks.pop(req_id)
        (self.device_free if b.tier == DEVICE else self.host_free).extend(b.ids)

    def where(self, req_id: str) -> tuple[str, list[int]]:
        b = self.blocks[req_id]
        return ("in flight" if req_id in self.tasks else b.tier), list(b.ids)

    @property
    def num_free_device_blocks(self) -> int:
        return len(self.device_free)

    @property
    def num_free_host_blocks(self) -> int:
        return len(self.host_free)

    # ----------------------------------------------------------------- swapping
    def _check(self, req_id: str, direction: str) -> _Blocks:
        if req_id not in self.blocks:
            raise SwapError(f"unknown request {req_id}")
        if req_id in self.tasks:
            raise SwapError(f"{req_id}: a swap-{self.tasks[req_id].direction} is not merged yet")
        if self.exclusive and any(t.direction != direction for t in self.tasks.values()):
            raise SwapError(f"swap-{direction} refused: a swap in the other direction is not merged")
        return self.blocks[req_id]

    def swap_out_async(self, req_id: str) -> SwapTask:
        b = self._check(req_id, "out")
        if b.tier != DEVICE:
            raise SwapError(f"{req_id} is not on the device")
        if len(b.ids) > len(self.host_free):
            raise SwapError(f"swap out {req_id}: {len(b.ids)} host blocks needed, {len(self.host_free)} free")
        dst = [self.host_free.popleft() for _ in b.ids]
        return self._submit(SwapTask(req_id, "out", list(b.ids), dst, 0), self.device_kv, self.host_kv)

    def swap_in_async(self, req_id: str) -> SwapTask:
        b = self._check(req_id, "in")
        if b.tier != HOST:
            raise SwapError(f"{req_id} is not on the host")
        if len(b.ids) > len(self.device_free):
            raise SwapError(f"swap in {req_id}: {len(b.ids)} device blocks needed, {len(self.device_free)} free")
        dst = [self.device_free.popleft() for _ in b.ids]
        return self._submit(SwapTask(req_id, "in", list(b.ids), dst, 0), self.host_kv, self.device_kv)

    def _pairs(self, task: SwapTask) -> list[tuple[int, int, int]]:
        if self.batched:
            return runs(task.src, task.dst)
        return [(s, d, 1) for s, d in zip(task.src, task.dst)]

    def _submit(self, task: SwapTask, src_t: torch.Tensor, dst_t: torch.Tensor) -> SwapTask:
        pairs = self._pairs(task)
        task.num_copies = len(pairs)
        self.copies_issued += len(pairs)
        if self.on_gpu:
            self._stream.wait_stream(torch.cuda.current_stream(self.device))  # KV fully written
            with torch.cuda.stream(self._stream):
                for s, d, n in pairs:
                    dst_t[d:d + n].copy_(src_t[s:s + n], non_blocking=True)
                task._event = torch.cuda.Event()
                task._event.record(self._stream)
        else:
            def work():
                for s, d, n in pairs:
                    dst_t[d:d + n].copy_(src_t[s:s + n])
            task._future = self._pool.submit(work)
        self.tasks[task.req_id] = task
        return task

    def merge(self, block: bool = False) -> list[SwapTask]:
        """Finish the copies that are done (all of them if `block`): blocks change hands here."""
        merged = []
        for rid, task in list(self.tasks.items()):
            if block:
                task.wait()
            elif not task.done():
                continue
            if task._future is not None:
                task._future.result()  # re-raise a failed copy
            b = self.blocks[rid]
            if task.direction == "out":
                self.device_free.extend(task.src)
                b.tier, b.ids = HOST, list(task.dst)
            else:
                self.host_free.extend(task.src)
                b.tier, b.ids = DEVICE, list(task.dst)
            del self.tasks[rid]
            merged.append(task)
        return merged

    def close(self) -> None:
        self.merge(block=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
