"""Source archives given with `infernav fetch NAME --path FILE.tar.gz`.

Why: machines that cannot reach a framework's git host (CI among them) may still hold a snapshot
of the pinned commit as a tarball. It is accepted only when its sha256 equals the one the pins
file records for that version (`archive_sha256`), so a user with a tarball gets exactly the
source everyone else indexes.
"""
from __future__ import annotations

from pathlib import Path

from .cache import link_file, problem, read_marker, source_dir
from .pins import FrameworkRef, SourceError
from .cache import sha256_file
from .sdist import Progress, extract_roots, writable_cache

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.xz", ".tar.bz2")


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES)


def from_archive(ref: FrameworkRef, archive: Path, progress: Progress | None) -> Path:
    """Verify `archive` against the pinned sha256, then unpack the indexed roots into the cache."""
    expected = ref.pin.get("archive_sha256") or ref.pin.get("sha256")
    if not expected:
        raise SourceError(f"{ref.key}: the pins file records no archive_sha256 for this version, "
                          f"so {archive.name} cannot be verified; refusing it")
    digest = sha256_file(archive)
    if digest != expected:
        raise SourceError(f"{ref.key}: {archive.name} has sha256 {digest}, pinned {expected}; refusing it")
    dest = source_dir(ref)
    writable_cache(ref, dest.parent)
    link_file(ref).unlink(missing_ok=True)   # an archive replaces a linked checkout
    if _extracted_from(ref, dest, digest):
        return dest
    extract_roots(ref, archive, dest, progress, info={"from_archive": archive.name})
    if not any((dest / r).exists() for r in ref.roots):
        raise SourceError(f"{ref.key}: {archive.name} holds none of {', '.join(ref.roots)}")
    return dest


def _extracted_from(ref: FrameworkRef, dest: Path, digest: str) -> bool:
    """Whether `dest` already holds this very archive's roots, as extracted (its marker names the
    same sha256, every root is there, and the tree is its manifest: a pins file that gained a
    root, or an edited tree, re-extracts)."""
    info = read_marker(dest)
    if info is None or info.get("archive_sha256") != digest or not all((dest / r).exists() for r in ref.roots):
        return False
    return problem(ref, dest) is None
