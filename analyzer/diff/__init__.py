"""Release diffs: what changed between two indexed versions of one engine.

`release_diff(A, B)` reads both indexes through the query API (never re-parsing) and the two
source trees (each file read once, bodies sliced by line ranges), then reports symbols added,
removed, moved, renamed and changed (match.py), call edges added and removed (edges.py), and per
mechanism the changes among the symbols its notes anchor (mechanisms.py). Fingerprints come from
the notes engine (notes/fingerprint.py): comments, whitespace and reformatting are no change.
`infernav diff` (cli/diff.py) and the site's release pages (site/diffs.py) are its consumers.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .bodies import Side
from .edges import diff_edges
from .match import classify, pair_by_name
from .parallel import classify_beside
from .renames import find_moves
from .mechanisms import summarize
from .model import TOTAL_KEYS, EdgeChange, MechanismSummary, ReleaseDiff, SymbolChange

__all__ = ["EdgeChange", "MechanismSummary", "ReleaseDiff", "SymbolChange", "release_diff"]


def release_diff(a: Any, b: Any, under: str | None = None, mechanism: str | None = None,
                 depth: int = 1) -> ReleaseDiff:
    """The diff from index `a` to index `b` (query.Index of one engine), optionally only under
    a path prefix and/or among one mechanism's symbols."""
    clock = _Clock()
    for idx in (a, b):
        root = idx.meta.get("root")
        if not root or not Path(root).is_dir():
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            raise LookupError(f"the source of {key} is not present (bodies are read from it); run: infernav fetch {key}")
    under = (under or "").strip().strip("/") or None
    sa, sb = Side(a, under), Side(b, under)
    clock("load")
    totals = dict.fromkeys(TOTAL_KEYS, 0)
    pairs, gone, new = pair_by_name(sa, sb)
    changes, (moved, gone, new) = classify_beside(sa, sb, pairs, totals, classify,
                                                  lambda: find_moves(sa, sb, gone, new))
    clock("pair+moves")
    changes += moved + [SymbolChange("removed", r, None) for r in gone] + [SymbolChange("added", None, r) for r in new]
    rename = {c.old.name: c.new.name for c in moved if c.old.name != c.new.name}
    kept_b = {nw.name for _, nw in pairs} | {c.new.name for c in moved}
    centrality = _centrality(sa, sb, changes, rename)
    paths_a = {r.name: r.path for r in reversed(sa.rows)}
    paths_b = {r.name: r.path for r in reversed(sb.rows)}
    edges = diff_edges(sa, sb, under, rename, kept_b, paths_a, paths_b, centrality, totals)
    clock("edges")
    mechanisms = summarize(a, b, str(a.meta.get("framework")), changes, edges, rename, depth, mechanism)
    if mechanism is not None:
        scoped = next((m for m in mechanisms if m.mechanism == mechanism), None)
        changes = scoped.changes if scoped else []
        edges = scoped.edges if scoped else []
        totals["edges_added"] = sum(1 for e in edges if e.status == "added")
        totals["edges_removed"] = sum(1 for e in edges if e.status == "removed")
    for status in ("added", "removed", "moved", "renamed", "changed"):
        totals[status] = sum(1 for c in changes if c.status == status)
    totals["signature_changed"] = sum(1 for c in changes if c.signature_changed)
    clock("mechanisms")
    return ReleaseDiff(sa.key, sb.key, under, mechanism, changes, edges, totals, mechanisms, clock.seconds)


def _centrality(a: Side, b: Side, changes: list[SymbolChange], rename: dict[str, str]) -> dict[str, int]:
    """Distinct callers per name in scope (B's names; A's mapped through renames), the larger of
    the two versions; sets each change's `callers`."""
    counts_a, counts_b = (_by_name(s) for s in (a, b))
    for c in changes:
        c.callers = max(counts_a.get(c.old.name, 0) if c.old else 0, counts_b.get(c.new.name, 0) if c.new else 0)
    centrality = {rename.get(k, k): v for k, v in counts_a.items()}
    for k, v in counts_b.items():
        centrality[k] = max(v, centrality.get(k, 0))
    return centrality


def _by_name(side: Side) -> dict[str, int]:
    by_id = side.idx.caller_counts()
    out: dict[str, int] = {}
    for r in side.rows:
        n = by_id.get(r.id)
        if n and n > out.get(r.name, 0):
            out[r.name] = n
    return out


class _Clock:
    """Wall and CPU seconds per phase, for the bench (bench/diff_bench.py)."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = {}
        self._t = (time.perf_counter(), time.process_time())

    def __call__(self, phase: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.seconds[phase] = {"wall": round(now[0] - self._t[0], 3), "cpu": round(now[1] - self._t[1], 3)}
        self._t = now
