"""Small query helpers shared by the test modules."""
from __future__ import annotations


def ids(idx, name: str) -> list[int]:
    return [r.id for r in idx.lookup(name)]


def edges(idx, name: str, direction: str, resolutions=None) -> dict[str, set[str]]:
    """{neighbour name: {resolution labels}} for the direct callers/callees of `name` (default
    answers: no guesses; pass query.ALL_RESOLUTIONS for them too)."""
    out: dict[str, set[str]] = {}
    for h in idx.call_sites(ids(idx, name), direction, resolutions):
        out.setdefault(h.symbol.name, set()).add(h.resolution)
    return out


def callees(idx, name: str, resolutions=None) -> dict[str, set[str]]:
    return edges(idx, name, "callees", resolutions)


def callers(idx, name: str, resolutions=None) -> dict[str, set[str]]:
    return edges(idx, name, "callers", resolutions)
