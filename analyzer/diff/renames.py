"""Moves and renames among the symbols whose name is in one version only.

1. Equal bodies (comment- and whitespace-free key, then `same_body`) with the same short name and
   kind: `moved` (a function moved to another module, a method to another class).
2. Otherwise, among the same kind in the same file or with the same short name (the nearest
   folders first): a body >= 0.85 similar once the symbols' own names are blanked, as the notes'
   drift decides renames; `moved` when the short name is kept, `renamed` when not.

Scoring every candidate with notes/fingerprint.py's `similarity` (a character-level
SequenceMatcher, quadratic in the body's length) would take minutes on a whole engine, so the
candidates are ranked by the overlap of their code lines (2|A∩B|/(|A|+|B|) over the lines as
multisets, whitespace removed and the symbols' own names blanked); those below LINE_GATE are
dropped and only the best one is judged: an overlap >= LINE_ACCEPT is similar enough as it is;
bodies up to SIMILARITY_MAX_CHARS are scored with `similarity` (>= 0.85, as drift); longer ones
need an overlap >= LARGE_BODY_OVERLAP (on vLLM v1's same-named candidates of 500-6,000
characters it accepted 22 of the 23 that similarity >= 0.85 accepts, and 3 more: NOTES.md).
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from ..notes.fingerprint import similarity
from .bodies import Side
from .match import body_delta, same_body, signature_delta
from .model import SymbolChange

RENAME_THRESHOLD = 0.85      # the notes' drift uses the same
LINE_GATE = 0.6              # the line overlap a candidate needs to be scored at all
LINE_ACCEPT = 0.95           # ... and with which it is similar enough without scoring
MIN_SIMILAR_LINES = 3        # code lines a body needs to be matched by similarity (short ones look alike)
SIMILARITY_MAX_CHARS = 800   # longer bodies are judged by their line overlap ...
LARGE_BODY_OVERLAP = 0.7     # ... which must reach this (it tracks similarity >= 0.85 there)
SAME_SHORT_CANDIDATES = 12   # candidates with the same short name, nearest folders first


def find_moves(a: Side, b: Side, gone: list, new: list) -> tuple[list[SymbolChange], list, list]:
    """Moves and renames between the unpaired symbols; returns (changes, still gone, still new)."""
    changes: list[SymbolChange] = []
    taken_b: set[int] = set()
    wanted = {(r.kind, r.short) for r in gone}
    by_key = defaultdict(list)
    for r in new:
        if (r.kind, r.short) in wanted and "\n" in (b.text(r) or "").strip():
            by_key[(r.kind, r.short, b.body_key(r))].append(r)
    left = []
    for r in gone:
        cands = by_key.get((r.kind, r.short, a.body_key(r)), ()) if "\n" in (a.text(r) or "").strip() else ()
        cands = [c for c in cands if c.id not in taken_b and same_body(a, b, r, c)]
        if cands:
            best = min(cands, key=lambda c: (-_common_prefix(c.path, r.path), c.name))
            taken_b.add(best.id)
            changes.append(SymbolChange("moved", r, best, similarity=1.0))
            signature_delta(changes[-1])
        else:
            left.append(r)
    changes += _similar(a, b, left, [r for r in new if r.id not in taken_b], taken_b)
    matched_a = {c.old.id for c in changes}
    return changes, [r for r in gone if r.id not in matched_a], [r for r in new if r.id not in taken_b]


def _similar(a: Side, b: Side, gone: list, new: list, taken_b: set[int]) -> list[SymbolChange]:
    by_file, by_short = defaultdict(list), defaultdict(list)
    for r in new:
        by_file[(r.path, r.kind)].append(r)
        by_short[(r.short, r.kind)].append(r)
    for rows in by_short.values():
        rows.sort(key=lambda c: c.path)
    out = []
    for r in gone:
        cands = by_file.get((r.path, r.kind), []) + _nearest(by_short.get((r.short, r.kind), []), r.path)
        cands = [c for c in dict.fromkeys(cands) if c.id not in taken_b]
        if not cands or _lines(a, r) < MIN_SIMILAR_LINES:
            continue
        best = _best_candidate(a, b, r, cands)
        if best is None:
            continue
        score, c = best
        taken_b.add(c.id)
        change = SymbolChange("moved" if c.short == r.short else "renamed", r, c, similarity=score)
        if same_body(a, b, r, c):
            signature_delta(change)
        else:
            body_delta(change, a, b)
        out.append(change)
    return out


def _nearest(rows: list, path: str) -> list:
    """Up to SAME_SHORT_CANDIDATES of `rows` (sorted by path) nearest to `path` in path order,
    which keeps a folder's files together."""
    if len(rows) <= SAME_SHORT_CANDIDATES:
        return rows
    i = bisect.bisect_left(rows, path, key=lambda c: c.path)
    lo = max(0, min(i - SAME_SHORT_CANDIDATES // 2, len(rows) - SAME_SHORT_CANDIDATES))
    return rows[lo: lo + SAME_SHORT_CANDIDATES]


def _best_candidate(a: Side, b: Side, r: Any, cands: list) -> tuple[float, Any] | None:
    """(score, candidate) of the best candidate if it reaches RENAME_THRESHOLD, else None.

    Candidates are ranked by the overlap of their code lines (2|A∩B|/(|A|+|B|) over the lines as
    multisets, names blanked: an upper bound of the ordered line ratio, and cheap); the best one
    is scored (see the module docstring)."""
    la, ka = a.shape(r), len(a.body_key(r) or "")
    counts_a = a.shape_counts(r)
    best, best_overlap = None, LINE_GATE
    for c in cands:
        lb = b.shape(c)
        if lb is None or len(lb) < MIN_SIMILAR_LINES or 2 * min(len(la), len(lb)) < best_overlap * (len(la) + len(lb)):
            continue
        kb = len(b.body_key(c) or "")
        if min(ka, kb) < 0.7 * max(ka, kb):      # the ratio cannot reach 0.85 with lengths this far apart
            continue
        overlap = 2 * sum((counts_a & b.shape_counts(c)).values()) / (len(la) + len(lb))
        if overlap > best_overlap or overlap == best_overlap and best is not None and c.path == r.path:
            best, best_overlap = c, overlap
    if best is None:
        return None
    ta, tb = a.text(r), b.text(best)
    if best_overlap >= LINE_ACCEPT:
        return best_overlap, best
    if max(len(ta), len(tb)) > SIMILARITY_MAX_CHARS:
        return (best_overlap, best) if best_overlap >= LARGE_BODY_OVERLAP else None
    score = similarity(ta, tb, r.lang, r.short, best.short)
    return (score, best) if score >= RENAME_THRESHOLD else None


def _lines(side: Side, row: Any) -> int:
    lines = side.code_lines(row)
    return 0 if lines is None else len(lines)


def _common_prefix(p: str, q: str) -> int:
    n = 0
    for x, y in zip(p.split("/"), q.split("/")):
        if x != y:
            break
        n += 1
    return n
