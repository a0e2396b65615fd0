"""Small query helpers shared by the test modules."""
from __future__ import annotations


def ids(idx, name: str) -> list[int]:
    return [r.id for r in idx.lookup(name)]


def edges(idx, name: str, direction: str) -> dict[str, set[str]]:
    """{neighbour name: {resolution labels}} for the direct callers/callees of `name`."""
    out: dict[str, set[str]] = {}
    for h in idx.call_sites(ids(idx, name), direction):
        out.setdefault(h.symbol.name, set()).add(h.resolution)
    return out


def callees(idx, name: str) -> dict[str, set[str]]:
    return edges(idx, name, "callees")


def callers(idx, name: str) -> dict[str, set[str]]:
    return edges(idx, name, "callers")
