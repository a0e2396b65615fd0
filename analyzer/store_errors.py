"""The index's problems, each with a one-line `reason` for the user (store.py raises them;
they are re-exported there, where every caller finds them)."""
from __future__ import annotations

from pathlib import Path


class IndexProblem(Exception):
    """The index cannot be used as it is; `reason` is one line for the user."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class MissingIndex(IndexProblem):
    pass


class StaleIndex(IndexProblem):
    pass


class CorruptIndex(IndexProblem):
    """Damage inside the index (bad pages, a missing table, a bad value or facts blob)."""


class IndexUnwritable(IndexProblem):
    """The index cannot be written here: a read-only file system, another user's cache, a full disk."""


class IndexBusy(IndexProblem):
    """Another process holds the index's write lock."""
