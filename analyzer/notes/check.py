"""`notes check` (every anchor against the pinned index and the lock) and `notes relock`."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .lock import Evidence, locate_anchor, read_lock, source_present, write_lock
from .model import Anchor, Note, NoteError, validate


# ------------------------------------------------------------------------------------ check
@dataclass
class AnchorResult:
    note: str
    anchor: str
    status: str               # ok | broken | drifted | unlocked | unchecked | absent
    detail: str = ""
    diff: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"note": self.note, "anchor": self.anchor, "status": self.status, "detail": self.detail,
                "diff": self.diff}


def check(notes: list[Note], open_index: Callable[[str], Any], skipped: Callable[[str, str], None]) -> list[AnchorResult]:
    """Every anchor and inline reference against the pinned index and the lock.

    open_index(framework) returns an Index or raises LookupError(reason) when the framework's
    source is not present; such frameworks are checked against the lock only, and `skipped` is
    told once per framework.
    """
    lock = read_lock()["notes"]
    indexes: dict[str, Any] = {}
    absent: dict[str, str] = {}

    def index_for(fw: str):
        if fw in indexes or fw in absent:
            return indexes.get(fw)
        try:
            indexes[fw] = open_index(fw)
        except LookupError as exc:
            absent[fw] = str(exc)
            skipped(fw, str(exc))
        return indexes.get(fw)

    results: list[AnchorResult] = []
    for note in notes:
        locked = lock.get(note.rel, {}).get("anchors", {})
        for anchor in note.anchors:
            entry = locked.get(anchor.key)
            idx = index_for(anchor.framework)
            if idx is None:
                status = "unchecked" if entry else "unlocked"
                detail = "source not present; lock entry exists" if entry else "not in the lock"
                results.append(AnchorResult(note.rel, anchor.raw, status, detail))
                continue
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            try:
                ev = locate_anchor(idx, key, anchor)
            except NoteError as exc:
                results.append(AnchorResult(note.rel, anchor.raw, "broken", str(exc)))
                continue
            if (ev is None and anchor.is_file or ev is not None and ev.text is None) and not source_present(idx):
                # The index is here but not the source it was read from: nothing to compare.
                results.append(AnchorResult(note.rel, anchor.raw, "absent", _absent(idx, entry)))
            elif ev is None:
                results.append(AnchorResult(note.rel, anchor.raw, "broken", not_found(idx, anchor)))
            elif ev.text is None:
                results.append(AnchorResult(note.rel, anchor.raw, "absent", _absent(idx, entry)))
            elif entry is None:
                results.append(AnchorResult(note.rel, anchor.raw, "unlocked",
                                            f"not in the lock; review, then: infernav notes relock {note.rel}"))
            elif entry["fingerprint"] != ev.fingerprint:
                old = _old_text(entry, anchor)
                diff = unified_diff(old, ev.text, entry, ev) if old is not None else ""
                detail = (f"body changed since the lock ({entry['framework']} {entry['path']}:"
                          f"{entry['lines'][0]}-{entry['lines'][1]} -> {ev.path}:{ev.lines[0]}-{ev.lines[1]})")
                if old is None:
                    detail += ("; no diff: the locked body cannot be recovered here (its version's source "
                               "is absent, or was indexed differently)")
                results.append(AnchorResult(note.rel, anchor.raw, "drifted", detail, diff))
            else:
                results.append(AnchorResult(note.rel, anchor.raw, "ok"))
        for ref in note.refs:
            idx = index_for(ref.framework)
            if idx is None:
                continue
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            try:
                found = locate_anchor(idx, key, ref) is not None or ref.is_file and not source_present(idx)
            except NoteError:
                found = False
            if not found:
                results.append(AnchorResult(note.rel, f"[[{ref.raw}]]", "broken", not_found(idx, ref)))
    return results


def freshness(statuses: Iterable[str]) -> str:
    """One word for a note from its anchors' statuses: the worst of broken, unlocked and drifted;
    else 'unchecked' when nothing could be checked (the source is absent); else 'fresh'."""
    vals = set(statuses)
    for worst in ("broken", "unlocked", "drifted"):
        if worst in vals:
            return worst
    if vals and vals <= {"unchecked", "absent"}:
        return "unchecked"
    return "fresh"


def _absent(idx, entry: dict[str, Any] | None) -> str:
    where = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
    return (f"source absent: the {where} index was built from {idx.meta.get('root')}, which is gone; "
            + ("checked against the lock only" if entry else "not in the lock") + f" (infernav fetch {where})")


def not_found(idx, anchor: Anchor) -> str:
    where = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
    if anchor.is_file:
        return f"no file {anchor.target} in {where}"
    near = idx.suggest(anchor.target, 3)
    return f"no symbol {anchor.target} in {where}" + (f" (near: {', '.join(near)})" if near else "")


def _old_text(entry: dict[str, Any], anchor: Anchor) -> str | None:
    """The locked version's body, if that version's source and index are present."""
    from .. import sources
    from ..indexer import index_path
    from ..query import Index

    try:
        ref = sources.parse_ref(entry["framework"])
        old = Index(index_path(ref))
    except Exception:
        return None
    try:
        ev = locate_anchor(old, entry["framework"], anchor)
        return ev.text if ev is not None and ev.fingerprint == entry["fingerprint"] else None
    finally:
        old.close()


def unified_diff(old: str | None, new: str | None, entry: dict[str, Any], ev: Evidence) -> str:
    if old is None or new is None:
        return ""
    a = f"{entry['framework']}/{entry['path']}"
    b = f"{ev.framework}/{ev.path}"
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), a, b, n=2))


# ------------------------------------------------------------------------------------ relock
def relock(notes: list[Note], open_index: Callable[[str], Any]) -> dict[str, int]:
    """Record current fingerprints for every anchor of `notes` (after a human re-review)."""
    data = read_lock()
    counts = {}
    for note in notes:
        problems = validate(note)
        if problems:
            raise NoteError(f"{note.rel}: {'; '.join(problems)}")
        entries = {}
        for anchor in note.anchors:
            idx = open_index(anchor.framework)
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            try:
                ev = locate_anchor(idx, key, anchor)
            except NoteError as exc:
                raise NoteError(f"{note.rel}: cannot lock {exc}") from None
            if ev is None:
                raise NoteError(f"{note.rel}: cannot lock '{anchor.raw}': {not_found(idx, anchor)}")
            if ev.text is None or not ev.fingerprint:
                raise NoteError(f"{note.rel}: cannot fingerprint '{anchor.raw}': {_absent(idx, None)}")
            entries[anchor.key] = ev.lock_entry()
        for ref in note.refs:
            idx = open_index(ref.framework)
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            try:
                ok = locate_anchor(idx, key, ref) is not None
            except NoteError:
                ok = False
            if not ok:
                raise NoteError(f"{note.rel}: broken reference [[{ref.raw}]]: {not_found(idx, ref)}; "
                                "fix it before relocking")
        data["notes"][note.rel] = {"version": str(note.meta.get("version")), "anchors": entries}
        counts[note.rel] = len(entries)
    write_lock(data)
    return counts
