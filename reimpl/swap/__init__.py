"""Asynchronous swap of KV blocks between a device tier and a host tier (see store.py)."""
from .store import DEVICE, HOST, SwapError, SwapTask, TwoTierBlockStore, runs

__all__ = ["DEVICE", "HOST", "SwapError", "SwapTask", "TwoTierBlockStore", "runs"]
