"""Pinned framework sources: where they come from, where they are cached, how to get them.

vLLM comes from its PyPI sdist (through the registry's simple index, PEP 691, checked against the
pinned sha256); KsanaLLM from git at a pinned commit, or from `--path` (a checkout, any git
repository holding the commit, or a source archive whose sha256 is pinned). The cache lives
outside the repository: $INFERNAV_HOME, default the user cache dir. Several versions of one
framework coexist as `name@version` folders.

Modules: pins (the pins file, FrameworkRef), cache (where sources sit), sdist, git, archive (the
three ways a source arrives), companion (a second project placed inside a fetched tree: `fetch
--with`, SGLang's sgl-kernel). Downloading modules (urllib, tarfile, subprocess) are imported inside
the functions that fetch: every CLI query imports this package, and start-up time is what users feel.
"""
from __future__ import annotations

from pathlib import Path

from .cache import MARKER, index_path, link_file, locate, problem, require, source_dir, verify
from .pins import PINS_PATH, FrameworkRef, Progress, SourceError, all_default_refs, home, load_pins, parse_ref, pins_path

__all__ = ["MARKER", "PINS_PATH", "FrameworkRef", "Progress", "SourceError", "all_default_refs", "fetch",
           "home", "index_path", "link_file", "load_pins", "locate", "parse_ref", "pins_path", "problem", "require",
           "source_dir", "verify"]


def fetch(ref: FrameworkRef, path: str | None = None, progress: Progress | None = None,
          allow_unverified: bool = False) -> Path:
    """Make `ref` available locally and return its root. A cached copy that is no longer the
    pinned source as fetched (sources/cache.py: verify) is fetched again (for an sdist, from its
    kept archive when that still has the pinned sha256). `allow_unverified` takes a version whose
    sha256 is neither pinned nor published by the index."""
    if path is not None:
        return _from_user_path(ref, Path(path).expanduser().resolve(), progress)
    existing = locate(ref)
    if existing is not None and problem(ref, existing) is None:
        return existing
    kind = ref.spec["source"]
    if kind == "pypi-sdist":
        from .sdist import fetch_sdist

        return fetch_sdist(ref, progress, allow_unverified)
    if kind == "git":
        from .git import fetch_git

        return fetch_git(ref, progress)
    raise SourceError(f"{ref.key}: unknown source kind '{kind}' in the pins file")


def _from_user_path(ref: FrameworkRef, path: Path, progress: Progress | None) -> Path:
    from .archive import from_archive, is_archive
    from .git import from_path

    if is_archive(path):
        return from_archive(ref, path, progress)
    return from_path(ref, path, progress)
