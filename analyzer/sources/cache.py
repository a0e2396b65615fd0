"""Where fetched sources live in the cache ($INFERNAV_HOME/sources) and how to find them again."""
from __future__ import annotations

from pathlib import Path

from .pins import FrameworkRef, SourceError, home

MARKER = ".infernav-source.json"


def source_dir(ref: FrameworkRef) -> Path:
    return home() / "sources" / ref.key


def link_file(ref: FrameworkRef) -> Path:
    return home() / "sources" / f"{ref.key}.link"


def locate(ref: FrameworkRef) -> Path | None:
    """Root of a fetched source (a cached copy or a linked checkout), or None if absent."""
    link = link_file(ref)
    if link.exists():
        target = Path(link.read_text().strip())
        if target.is_dir():
            return target
    d = source_dir(ref)
    if (d / MARKER).exists():
        return d
    return None


def require(ref: FrameworkRef) -> Path:
    root = locate(ref)
    if root is None:
        raise SourceError(f"{ref.key} is not fetched; run: infernav fetch {ref.key}" + (
            f" (or: infernav fetch {ref.name} --path DIR for a checkout)" if ref.spec["source"] == "git" else ""))
    return root
