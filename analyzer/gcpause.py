"""The cyclic garbage collector paused over work that allocates millions of objects and frees
none of them in cycles (unmarshalling facts, resolution, parsing in a worker).

Why: with the collector on, its passes over vLLM's ~6 million young objects find nothing and
cost seconds; turned back on afterwards, the first collection still walks every object made
while it was off (about 0.5 s for vLLM's 1.9 million survivors, 2 s before the resolvers broke
their own cycles). So the collector is resumed with what exists at that moment *frozen*
(`gc.freeze()`: moved to the permanent generation, never walked again, still freed by reference
counting when dropped). That is only sound when the paused work leaves no cyclic garbage behind:
the resolvers release their cycles themselves (PyResolver.release, CppResolver.release), and
tests/test_gcpause.py checks that a resolution leaves none.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused(freeze: bool = True) -> Iterator[None]:
    """Collector off inside; on exit, survivors frozen (when asked) and the collector restored.

    Nested uses are no-ops: only the outermost pause freezes and resumes."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        gc.enable()
