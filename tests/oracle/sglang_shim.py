"""Inside the oracle venv: import SGLang's real `sglang.srt.mem_cache.radix_cache` on CPU.

What is shimmed, and why (nothing of the radix tree, its eviction policies, base classes or
KV-event types is replaced; those are the pinned sdist's own modules):
- `sglang/__init__.py` is not run: it imports the frontend language (`sglang.lang`), which needs
  IPython. `sglang` is made a bare package over the sdist's folder, as Python would for a
  namespace package.
- Third-party packages radix_cache's imports reach but the oracle venv lacks are stub modules,
  and only when absent: `triton` (GPU kernels decorated with @triton.jit in mem_cache/utils.py;
  needs a CUDA toolchain), `sgl_kernel` (CUDA wheels only), `orjson`, `torchvision`, `IPython`,
  `partial_json_parser`. A stub answers every attribute with a callable that returns the
  function it decorates.
- Two SGLang modules are stubs: `sglang.srt.mem_cache.memory_pool` (the GPU KV pools; imported by
  base_prefix_cache.py only for the ReqToTokenPool type, and pulling in every model config and
  quantization layer) and `sglang.srt.observability.metrics_collector` (Prometheus metrics, used
  only with enable_metrics). The oracle builds the tree with `RadixCache.create_simulated`, which
  takes no pools.
- The clock: radix_cache stamps nodes with `time.monotonic()`; the oracle replaces the module's
  `time` with one whose `monotonic` counts calls (strictly increasing, so eviction order is
  reproducible and never decided by equal timestamps). Everything else of `time` is the real one.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import itertools
import sys
import time
import types

THIRD_PARTY = ["triton", "sgl_kernel", "orjson", "torchvision", "IPython", "partial_json_parser"]
SGLANG_STUBS = ["sglang.srt.mem_cache.memory_pool", "sglang.srt.observability.metrics_collector"]


class _Anything:
    def __call__(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]  # a decorator: leave the function as it is
        return _Anything()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()

    def __mro_entries__(self, bases):
        return (object,)


class _StubModule(types.ModuleType):
    __path__: list = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names):
        self.names = names
        self.stubbed: list[str] = []

    def find_spec(self, name, path, target=None):
        if not any(name == n or name.startswith(n + ".") for n in self.names):
            return None
        self.stubbed.append(name)
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module):
        pass


class CountingTime(types.ModuleType):
    """`time` with a counting `monotonic`."""

    def __init__(self):
        super().__init__("time")
        self._count = itertools.count(1)

    def monotonic(self) -> float:
        return float(next(self._count))

    def __getattr__(self, name):
        return getattr(time, name)


def load_radix_cache(sglang_root: str):
    """SGLang's radix_cache and base_prefix_cache modules, and the names of the stubbed modules."""
    import torch  # noqa: F401  (before the finder: torch probes optional packages itself)

    if sglang_root not in sys.path:
        sys.path.insert(0, sglang_root)
    pkg = types.ModuleType("sglang")
    pkg.__path__ = [f"{sglang_root}/sglang"]
    sys.modules["sglang"] = pkg
    absent = [n for n in THIRD_PARTY if importlib.util.find_spec(n) is None]
    finder = _StubFinder(absent + SGLANG_STUBS)
    sys.meta_path.insert(0, finder)
    from sglang.srt.mem_cache import base_prefix_cache, radix_cache

    radix_cache.time = CountingTime()
    return radix_cache, base_prefix_cache, sorted({n.split(".")[0] if not n.startswith("sglang") else n
                                                   for n in finder.stubbed})
