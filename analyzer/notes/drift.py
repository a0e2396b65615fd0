"""`notes drift --to NAME@VER`: how each anchor fares in another version: unchanged, moved,
renamed (a body >= 0.85 similar once names are blanked), changed (with its diff), gone."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .check import unified_diff
from .fingerprint import fingerprint, similarity
from .lock import Evidence, locate_anchor, read_lock
from .model import Anchor, Note

RENAME_THRESHOLD = 0.85


# ------------------------------------------------------------------------------------ drift
@dataclass
class DriftResult:
    note: str
    anchor: str
    status: str               # unchanged | moved | renamed | changed | gone | unlocked
    old: str = ""             # where it was (lock)
    new: str = ""             # where it is now
    detail: str = ""
    added: int = 0
    removed: int = 0
    diff: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("note", "anchor", "status", "old", "new", "detail",
                                              "added", "removed", "diff")}


def drift(notes: list[Note], target: Any, target_key: str, framework: str,
          old_index: Callable[[str], Any | None]) -> list[DriftResult]:
    """Classify every anchor of `framework` between its locked version and `target` (an Index)."""
    lock = read_lock()["notes"]
    results = []
    for note in notes:
        locked = lock.get(note.rel, {}).get("anchors", {})
        for anchor in note.anchors:
            if anchor.framework != framework:
                continue
            entry = locked.get(anchor.key)
            if entry is None:
                results.append(DriftResult(note.rel, anchor.raw, "unlocked", detail="not in the lock"))
                continue
            old_idx = old_index(entry["framework"])
            old_ev = locate_anchor(old_idx, entry["framework"], anchor) if old_idx is not None else None
            old_text = old_ev.text if old_ev is not None and old_ev.fingerprint == entry["fingerprint"] else None
            results.append(_classify(note.rel, anchor, entry, old_text, target, target_key))
    return results


def _where(path: str, lines) -> str:
    return f"{path}:{lines[0]}-{lines[1]}"


def _classify(note: str, anchor: Anchor, entry: dict, old_text: str | None, target, target_key: str) -> DriftResult:
    old_where = _where(entry["path"], entry["lines"])
    ev = locate_anchor(target, target_key, anchor)
    if ev is not None:
        new_where = _where(ev.path, ev.lines)
        if ev.fingerprint == entry["fingerprint"]:
            if ev.path == entry["path"] and list(ev.lines) == list(entry["lines"]):
                return DriftResult(note, anchor.raw, "unchanged", old_where, new_where)
            what = "file" if ev.path != entry["path"] else "lines"
            return DriftResult(note, anchor.raw, "moved", old_where, new_where, f"same body, {what} moved")
        r = DriftResult(note, anchor.raw, "changed", old_where, new_where)
        _fill_diff(r, old_text, ev.text, entry, ev)
        return r
    # Not under its name: look for the same body under another name (rename) or another file.
    if anchor.is_file:
        base = anchor.target.rsplit("/", 1)[-1]
        for p in target.files_named(base):
            cand = locate_anchor(target, target_key, Anchor(anchor.framework, p, p))
            if cand is not None and old_text is not None and similarity(old_text, cand.text or "", cand.lang) >= RENAME_THRESHOLD:
                return DriftResult(note, anchor.raw, "moved", old_where, _where(p, cand.lines), f"file moved to {p}")
        return DriftResult(note, anchor.raw, "gone", old_where, "", "file not in " + target_key)
    if old_text is None:
        return DriftResult(note, anchor.raw, "gone", old_where, "",
                           "not found by name; the locked source is not present to search for a rename")
    best = _rename_candidate(anchor, entry, old_text, target)
    if best is not None:
        score, row, text = best
        new_where = _where(row.path, (row.line, row.end_line))
        status = "renamed" if row.short != anchor.target.replace("::", ".").rsplit(".", 1)[-1] else "moved"
        r = DriftResult(note, anchor.raw, status, old_where, new_where,
                        f"now {row.name} (body similarity {score:.2f})")
        if fingerprint(text, row.lang) != entry["fingerprint"]:
            _fill_diff(r, old_text, text, entry, Evidence(target_key, row.kind, row.path, (row.line, row.end_line), "", text, row.lang))
        return r
    return DriftResult(note, anchor.raw, "gone", old_where, "", f"no symbol of that name or body in {target_key}")


def _rename_candidate(anchor: Anchor, entry: dict, old_text: str, target):
    """The most similar symbol of the same kind: same file first, then the same short name anywhere."""
    short = re.split(r"::|\.", anchor.target)[-1]
    rows = target.same_kind_candidates(entry["path"], short, entry["kind"])
    best = None
    old_len = len(old_text)
    for row in rows:
        text = target.body(row)
        if not text or not (0.5 * old_len <= len(text) <= 2 * old_len):
            continue
        score = similarity(old_text, text, row.lang, short, row.short)
        if score >= RENAME_THRESHOLD and (best is None or score > best[0]):
            best = (score, row, text)
    return best


def _fill_diff(r: DriftResult, old: str | None, new: str | None, entry: dict, ev: Evidence) -> None:
    if old is None or new is None:
        r.detail = "; ".join(filter(None, [r.detail, "body changed (locked source not present: no diff)"]))
        return
    d = unified_diff(old, new, entry, ev)
    r.diff = d
    for line in d.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            r.added += 1
        elif line.startswith("-") and not line.startswith("---"):
            r.removed += 1
    r.detail = "; ".join(filter(None, [r.detail, f"+{r.added} -{r.removed} lines"]))
