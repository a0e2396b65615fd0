"""Classifying same-name pairs in a second process while this one looks for moves and renames.

The two phases are independent (the moves work on the names only in A or only in B, the pairs on
the names in both), and each is about half of a whole-engine diff, so on two cores the diff takes
the longer of them instead of their sum. The child is forked (it inherits both sides as they are,
file contents already read) and sends back only what it decided per pair: the index of the pair,
the status and the +/- and signature fields; the parent rebuilds the SymbolChange objects around
its own rows. Small diffs, one core, or a platform without fork run both phases here.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from .bodies import Side
from .model import SymbolChange

PARALLEL_MIN_PAIRS = 4000     # below this, starting a process costs more than it saves
_job: tuple | None = None     # what the forked child classifies (inherited, never pickled)


def classify_pairs(a: Side, b: Side, pairs: list, totals: dict[str, int], classify: Callable) -> list[SymbolChange]:
    return [c for c in (classify(a, b, old, new, totals) for old, new in pairs) if c is not None]


def _child() -> tuple[list[tuple], dict[str, int]]:
    a, b, pairs, classify = _job
    totals: dict[str, int] = {"unchanged": 0, "reformatted": 0}
    out = []
    for i, (old, new) in enumerate(pairs):
        c = classify(a, b, old, new, totals)
        if c is not None:
            out.append((i, c.status, c.added, c.removed, c.sig_before, c.sig_after))
    return out, totals


def classify_beside(a: Side, b: Side, pairs: list, totals: dict[str, int], classify: Callable,
                    meanwhile: Callable[[], Any]) -> tuple[list[SymbolChange], Any]:
    """(classified pairs, meanwhile()) with the classification in a forked child where it pays."""
    global _job
    if len(pairs) < PARALLEL_MIN_PAIRS or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return classify_pairs(a, b, pairs, totals, classify), meanwhile()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _job = (a, b, pairs, classify)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
            future = pool.submit(_child)
            other = meanwhile()
            decided, counts = future.result()
    finally:
        _job = None
    for key, n in counts.items():
        totals[key] = totals.get(key, 0) + n
    changes = [SymbolChange(status, pairs[i][0], pairs[i][1], added=added, removed=removed,
                            sig_before=before, sig_after=after)
               for i, status, added, removed, before, after in decided]
    return changes, other
