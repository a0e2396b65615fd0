"""What the server keeps between calls, so a call costs a few indexed lookups and no start-up:
one open Index per framework@version (reopened when a cold build replaced the file), the notes
(reloaded when a note or the lock changes) and each note's freshness (recomputed when the note,
the lock or an index it is checked against changes).

Every tool runs on the server's event-loop thread (the tools are `async`), so the sqlite
connections are only ever used by the thread that opened them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import errors


def _file_sig(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


class Workspace:
    def __init__(self) -> None:
        self._indexes: dict[str, tuple[Any, tuple | None]] = {}
        self._notes: tuple[tuple, list, list[str]] | None = None
        self._fresh: dict[str, tuple[tuple, list]] = {}
        self._stats: dict[str, tuple[tuple, dict[str, Any]]] = {}

    # ------------------------------------------------------------------ frameworks and indexes
    def ref(self, framework: str | None):
        from ..sources import SourceError, parse_ref

        try:
            return parse_ref(framework)
        except SourceError as exc:
            raise errors.usage(str(exc)) from None

    def index(self, ref):
        """The open Index of `ref`, built when missing (as the CLI does), or a ToolFailure."""
        from ..indexer import index_path
        from ..workspace import open_index

        path = index_path(ref)
        cached = self._indexes.get(ref.key)
        # A cold build replaces the file (new inode); WAL updates are seen by the open connection.
        if cached is not None and cached[1] is not None and cached[1][:2] == (_file_sig(path) or ())[:2]:
            return cached[0]
        if cached is not None:
            cached[0].close()
            del self._indexes[ref.key]
        try:
            idx = open_index(ref)
        except LookupError as exc:
            raise errors.no_index(str(exc), ref.key) from None
        self._indexes[ref.key] = (idx, _file_sig(path))
        return idx

    def open(self, framework: str | None):
        ref = self.ref(framework)
        return ref, self.index(ref)

    def present_index(self, ref):
        """The Index of `ref` if one is built (never builds), else None."""
        from .. import store
        from ..indexer import index_path
        from ..query import Index

        if ref.key in self._indexes:
            return self.index(ref)
        path = index_path(ref)
        try:
            idx = Index(path)
        except store.IndexProblem:
            return None
        self._indexes[ref.key] = (idx, _file_sig(path))
        return idx

    def stats(self, ref, idx) -> dict[str, Any]:
        """Index.stats() (whole-table counts, ~40 ms for vLLM), kept until the index changes."""
        from ..indexer import index_path

        sig = (ref.key, _file_sig(index_path(ref)))
        if self._stats.get(ref.key, (None,))[0] != sig:
            self._stats[ref.key] = (sig, idx.stats())
        return self._stats[ref.key][1]

    def index_for_notes(self, framework: str):
        """`notes check`'s open_index: the pinned index, or LookupError when it cannot be had."""
        try:
            return self.index(self.ref(framework))
        except errors.ToolFailure as exc:
            raise LookupError(exc.payload.get("message", exc.message)) from None

    # ------------------------------------------------------------------ notes
    def notes(self) -> tuple[list, list[str]]:
        """Every note and the errors of unreadable ones, reloaded when a file under the notes root changes."""
        from ..notes import load_notes, notes_root

        root = notes_root()
        sig = tuple(sorted((p.as_posix(), _file_sig(p)) for p in root.rglob("*.md")))
        if self._notes is None or self._notes[0] != sig:
            found, errs = load_notes(root)
            self._notes = (sig, found, errs)
        return self._notes[1], self._notes[2]

    def note_results(self, note) -> list:
        """`notes check` results (AnchorResult) for one note, cached until the note, the lock or an
        index it is checked against changes."""
        from ..indexer import index_path
        from ..notes import check, lock_path

        fws = sorted({a.framework for a in note.anchors + note.refs})
        refs = []
        for fw in fws:
            try:
                refs.append(self.ref(fw))
            except errors.ToolFailure:
                continue
        sig = (_file_sig(note.path), _file_sig(lock_path()), tuple(_file_sig(index_path(r)) for r in refs))
        cached = self._fresh.get(note.rel)
        if cached is None or cached[0] != sig:
            results = check([note], self.index_for_notes, lambda fw, why: None)
            self._fresh[note.rel] = (sig, results)
        return self._fresh[note.rel][1]

    def freshness(self, note) -> str:
        from ..notes import freshness

        return freshness(r.status for r in self.note_results(note))

    def close(self) -> None:
        for idx, _ in self._indexes.values():
            idx.close()
        self._indexes.clear()
