"""Symbol-anchored notes: parse and validate them (model), lock their anchors (lock), check them
against the pinned index and relock (check), follow them across versions (drift).

A note is Markdown with YAML front matter under annotations/ (format: annotations/README.md). The
notes engine reads indexes only through the query API.
"""
from __future__ import annotations

from .check import AnchorResult, check, freshness, relock
from .drift import DriftResult, drift
from .lock import Evidence, locate_anchor, lock_path, read_lock, write_lock
from .model import (MECHANISMS, Anchor, Note, NoteError, load_note, load_notes, notes_root, parse_target,
                    project_path, repo_root, validate)

__all__ = ["MECHANISMS", "Anchor", "AnchorResult", "DriftResult", "Evidence", "Note", "NoteError", "check",
           "drift", "freshness", "load_note", "load_notes", "locate_anchor", "lock_path", "notes_on", "notes_root",
           "parse_target", "project_path", "read_lock", "relock", "repo_root", "validate", "write_lock"]


def notes_on(symbol_names: set[str], framework: str) -> list[Note]:
    """Notes anchored on any of these canonical names (for `infernav show`)."""
    notes, _ = load_notes()
    return [n for n in notes if any(a.framework == framework and a.target in symbol_names for a in n.anchors)]
