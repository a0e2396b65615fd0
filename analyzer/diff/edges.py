"""Call edges added and removed: compared as (caller name, callee name) pairs, after mapping A's
names through the moves and renames, so a renamed function does not show as all its edges gone
and new. Resolution labels are reported as each index has them, never compared: the label set
may change between infernav versions without making an edge "change".

An edge whose caller is itself added or removed is counted, not listed: it is part of that
symbol's addition or removal.
"""
from __future__ import annotations

from typing import Any

from ..query import RESOLUTION_ORDER
from .bodies import Side
from .model import EdgeChange


def _edge_map(side: Side, under: str | None, rename: dict[str, str]) -> dict[tuple[str, str], tuple]:
    """{(caller, callee) after renaming: (caller, callee, resolution, via, line) of the most
    confident call site (the first such by line)}."""
    rows = side.idx.edges_from(under)
    names = {r.id: r.name for r in side.rows}
    missing = {dst for _, dst, *_ in rows if dst not in names}
    if missing:
        names.update(side.idx.names_of(missing))
    out: dict[tuple[str, str], tuple] = {}
    rank = RESOLUTION_ORDER.get
    for src, dst, res, via, line in rows:
        caller, callee = names[src], names[dst]
        key = (rename.get(caller, caller), rename.get(callee, callee)) if rename else (caller, callee)
        cur = out.get(key)
        if cur is None or (rank(res, 9), line) < (rank(cur[2], 9), cur[4]):
            out[key] = (caller, callee, res, via, line)
    return out


def diff_edges(a: Side, b: Side, under: str | None, rename: dict[str, str], kept_b: set[str],
               paths_a: dict[str, str], paths_b: dict[str, str], centrality: dict[str, int],
               totals: dict[str, int]) -> list[EdgeChange]:
    """Edges of B not in A (added) and of A not in B (removed), whose caller is in both versions
    (`kept_b`: B's names of paired, moved and renamed symbols)."""
    ea, eb = _edge_map(a, under, rename), _edge_map(b, under, rename={})
    out = []
    for key in eb.keys() - ea.keys():
        caller, callee, res, via, line = eb[key]
        if caller not in kept_b:
            totals["edges_of_added_symbols"] += 1
            continue
        out.append(EdgeChange("added", caller, callee, res, via, paths_b.get(caller, ""), line,
                              centrality.get(caller, 0)))
    for key in ea.keys() - eb.keys():
        caller, callee, res, via, line = ea[key]
        if key[0] not in kept_b:
            totals["edges_of_removed_symbols"] += 1
            continue
        out.append(EdgeChange("removed", caller, callee, res, via, paths_a.get(caller, ""), line,
                              centrality.get(key[0], 0)))
    totals["edges_added"] = sum(1 for e in out if e.status == "added")
    totals["edges_removed"] = sum(1 for e in out if e.status == "removed")
    out.sort(key=lambda e: (e.status, e.caller, e.callee))
    return out
