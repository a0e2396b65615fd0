"""The two-tier block store (reimpl/swap) on the CPU path: a worker thread does the copies.
(The GPU path, pinned memory + a CUDA stream + events, is exercised by
bench/gpu_swap_and_calibrate.py on the GPU machine; its check is recorded in
bench/data/h100_swap_bandwidth.json under store_check.)"""
from __future__ import annotations

import threading

import pytest
import torch

from infernav.reimpl.swap import SwapError, TwoTierBlockStore, runs

SHAPE = (2, 2, 4, 8)  # layers, K/V, block tokens, head dim


def fill(store, ids, seed):
    g = torch.Generator().manual_seed(seed)
    data = torch.randn((len(ids), *SHAPE), generator=g).to(store.device_kv.dtype)
    store.device_kv[ids] = data
    return data.clone()


@pytest.mark.parametrize("batched", [True, False])
def test_out_and_back_is_bitwise_identical(batched):
    s = TwoTierBlockStore(16, 16, SHAPE, dtype=torch.float16, device="cpu", batched=batched)
    a = s.allocate("a", 5)
    s.allocate("b", 3)
    want = fill(s, a, 1)
    s.swap_out_async("a")
    s.merge(block=True)
    assert s.where("a")[0] == "host"
    s.allocate("c", 8)  # reuses a's old device blocks: overwrite them
    s.device_kv[s.where("c")[1]] = 0
    s.free("c")
    s.swap_in_async("a")
    s.merge(block=True)
    tier, ids = s.where("a")
    assert tier == "device" and torch.equal(s.device_kv[ids], want)
    assert s.num_free_host_blocks == 16
    s.close()


def test_copies_run_on_a_worker_thread_and_blocks_free_only_at_merge():
    s = TwoTierBlockStore(8, 8, SHAPE, device="cpu")
    ids = s.allocate("a", 4)
    fill(s, ids, 2)
    gate = threading.Event()
    seen = {}
    s._pool.submit(gate.wait, 30)  # hold the worker (30 s at most, so a failing assert cannot hang the run)
    task = s.swap_out_async("a")
    seen["free_while_queued"] = s.num_free_device_blocks
    assert not task.done() and s.merge() == []  # not done: nothing changes hands
    assert s.num_free_device_blocks == 4 and s.where("a")[0] == "in flight"
    gate.set()
    task.wait()
    assert s.num_free_device_blocks == 4  # done, but not merged yet
    assert [t.req_id for t in s.merge()] == ["a"]
    assert s.num_free_device_blocks == 8 and s.num_free_host_blocks == 4
    assert seen["free_while_queued"] == 4
    s.close()


def test_directions_never_overlap():
    s = TwoTierBlockStore(8, 8, SHAPE, device="cpu")
    s.allocate("a", 2)
    s.allocate("b", 2)
    gate = threading.Event()
    s._pool.submit(gate.wait, 30)
    s.swap_out_async("a")
    with pytest.raises(SwapError):
        s.swap_in_async("a")  # same request, other direction, before the merge
    with pytest.raises(SwapError):
        s.swap_out_async("a")  # same request twice
    with pytest.raises(SwapError):
        s.free("a")  # copy in flight
    s.swap_out_async("b")  # same direction, another request: fine
    gate.set()
    s.merge(block=True)
    s.allocate("x", 1)
    s.swap_in_async("a")
    with pytest.raises(SwapError):  # KsanaLLM's rule: no swap-out while any swap-in is unmerged
        s.swap_out_async("x")
    s.merge(block=True)
    s.swap_out_async("x")  # after the merge it may start
    s.merge(block=True)
    s.close()


def test_refuses_when_a_tier_is_full():
    s = TwoTierBlockStore(8, 2, SHAPE, device="cpu")
    s.allocate("a", 3)
    with pytest.raises(SwapError):
        s.swap_out_async("a")
    assert s.num_free_host_blocks == 2 and s.where("a")[0] == "device"
    with pytest.raises(SwapError):
        s.allocate("b", 6)
    s.close()


def test_runs_group_consecutive_pairs():
    assert runs([3, 4, 5, 9], [0, 1, 2, 3]) == [(3, 0, 3), (9, 3, 1)]
    assert runs([1, 2], [5, 7]) == [(1, 5, 1), (2, 7, 1)]
    s = TwoTierBlockStore(8, 8, SHAPE, device="cpu", batched=True)
    s.allocate("a", 4)
    s.swap_out_async("a")
    s.merge(block=True)
    assert s.copies_issued == 1
    s.close()
