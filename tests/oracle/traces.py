"""What every oracle script shares: the seed list it is given, and the loop that plays one trace
per seed on both sides and counts the traces where they disagree."""
from __future__ import annotations

from typing import Callable


def parse_seeds(text: str) -> list[int]:
    """`START:STOP` (a range) or a comma-separated list."""
    if ":" in text:
        start, stop = map(int, text.split(":"))
        return list(range(start, stop))
    return [int(s) for s in text.split(",") if s]


def count_disagreements(seeds: list[int], play: Callable[[int], object], show: int = 1) -> dict:
    """play(seed) -> the first disagreement of that trace (falsy when the sides agree). Returns the
    number of traces, of disagreeing traces, and the first `show` disagreements (at least one)."""
    first, bad = [], 0
    for seed in seeds:
        d = play(seed)
        if d:
            bad += 1
            if len(first) < max(show, 1):
                first.append(d)
    return {"traces": len(seeds), "disagreements": bad, "first": first}
