"""The mechanism view: per mechanism, the symbols its notes anchor (annotations/, through the notes
engine) plus their callees to a small depth, in each version, and the diff's changes among them.

A note's anchors name symbols of the version it was written against; in the other version the
same names are looked up, and so are the names they were moved or renamed to. Callees are followed
over confident edges only (exact, type, dispatch): a name-only guess, however it is labelled, would
pull in half the engine.
"""
from __future__ import annotations

from typing import Any

from .model import EdgeChange, MechanismSummary, SymbolChange

CONFIDENT = {"exact", "type", "dispatch"}


def anchors_by_mechanism(framework: str, only: str | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """{mechanism: (anchored symbol names, anchored file paths)} of the notes on `framework`
    (cross-engine notes included: their anchors carry the framework prefix)."""
    from ..notes import MECHANISMS, load_notes

    notes, _errors = load_notes()
    out: dict[str, tuple[list[str], list[str]]] = {}
    for mech in MECHANISMS:
        if only is not None and mech != only:
            continue
        names, files = [], []
        for n in notes:
            if n.mechanism != mech:
                continue
            for a in n.anchors:
                if a.framework == framework:
                    (files if a.is_file else names).append(a.target)
        if names or files:
            out[mech] = (list(dict.fromkeys(names)), list(dict.fromkeys(files)))
    return out


def scope(idx: Any, names: list[str], depth: int) -> tuple[set[str], int]:
    """(names of the anchored symbols and their callees to `depth`, how many anchors exist)."""
    ids = [r.id for name in names for r in idx.exact(name)]
    found = {idx.symbol(i).name for i in ids} if ids else set()
    if ids and depth > 0:
        found |= {h.symbol.name for h in idx.walk(ids, "callees", depth, CONFIDENT)}
    return found, len({n for n in names if idx.exact(n)})


def summarize(a: Any, b: Any, framework: str, changes: list[SymbolChange], edges: list[EdgeChange],
              rename: dict[str, str], depth: int = 1, only: str | None = None) -> list[MechanismSummary]:
    out = []
    for mech, (names, files) in anchors_by_mechanism(framework, only).items():
        in_a, anchored_a = scope(a, names, depth)
        in_b, anchored_b = scope(b, list(dict.fromkeys(names + [rename.get(n, n) for n in names])), depth)
        files_set = set(files)
        mine = [c for c in changes
                if (c.old is not None and (c.old.name in in_a or c.old.path in files_set))
                or (c.new is not None and (c.new.name in in_b or c.new.path in files_set))]
        mine_edges = [e for e in edges if (e.caller in in_b if e.status == "added" else e.caller in in_a)]
        out.append(MechanismSummary(mech, max(anchored_a, anchored_b) + len(files),
                                    len({rename.get(n, n) for n in in_a} | in_b),
                                    mine, mine_edges))
    return out
