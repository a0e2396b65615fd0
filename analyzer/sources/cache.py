"""Where fetched sources live in the cache ($INFERNAV_HOME/sources), how to find them again, and
why a cached copy is still the pinned source.

A cached copy (an sdist or an archive unpacked, a git commit exported) has a marker written last:
what it was made from (the archive's sha256 or the commit) and a manifest of every file it holds
(size, mtime, sha256). `verify` checks both before an index trusts the tree: the marker against
the pin, the tree against the manifest (stat first; a file whose mtime moved is hashed). A linked
checkout (`fetch --path DIR`) is the user's own tree and is not checked.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .pins import FrameworkRef, SourceError, home

MARKER = ".infernav-source.json"


def index_path(ref: FrameworkRef) -> Path:
    """Where the index of `ref` lives: beside the sources, under $INFERNAV_HOME/index."""
    return home() / "index" / f"{ref.key}.sqlite"


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


# ------------------------------------------------------------------------- manifest and verification
def sha256_file(path: str | Path) -> str:
    """The sha256 of a file, read in 1 MiB chunks (archives are tens of MB)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(root: Path, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """{relative path: full path} of the regular files and symlinks under `root` (the marker out,
    and the top-level folders in `skip`: companions, which carry their own marker)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if rel != MARKER:
                out[rel] = full
    return out


def manifest(root: Path) -> dict[str, list]:
    """{path: [size, mtime_ns, sha256]} of every file under `root` (a tree just extracted)."""
    out = {}
    for rel, full in sorted(_files(root).items()):
        st = os.lstat(full)
        out[rel] = [st.st_size, st.st_mtime_ns, sha256_file(full) if os.path.isfile(full) else ""]
    return out


def write_marker(root: Path, info: dict[str, Any]) -> None:
    """The marker, last: what the tree was made from and its manifest."""
    (root / MARKER).write_text(json.dumps({**info, "files": manifest(root)}))


def read_marker(root: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _pinned_values(ref: FrameworkRef) -> set[str]:
    return {ref.pin[k] for k in ("sha256", "archive_sha256", "commit") if ref.pin.get(k)}


def problem(ref: FrameworkRef, root: Path) -> str | None:
    """Why the cached copy at `root` is not the pinned source (and any companion placed in it is
    not what was given), or None when both are as fetched."""
    return _source_problem(ref, root) or _companions_problem(ref, root)


def _source_problem(ref: FrameworkRef, root: Path) -> str | None:
    """Why the framework's own files at `root` are not the pinned source (companion folders aside)."""
    if root != source_dir(ref):
        return None   # a linked checkout: the user's tree
    info = read_marker(root)
    if info is None:
        return f"its marker {MARKER} is unreadable"
    made_from = info.get("archive_sha256") or info.get("commit")
    pinned = _pinned_values(ref)
    if pinned and made_from not in pinned:
        return f"it is not the pinned source (made from {str(made_from)[:64]}, pinned {' / '.join(sorted(pinned))})"
    files = info.get("files")
    if not isinstance(files, dict):
        return "it has no manifest (fetched by an older infernav)"
    why = _tree_differs(root, files, frozenset(c["folder"] for c in ref.companions.values()))
    return f"it differs from the pinned archive {why}" if why else None


def _companions_problem(ref: FrameworkRef, root: Path) -> str | None:
    if root != source_dir(ref):
        return None
    return next(filter(None, (_companion_problem(ref, root, c["folder"], name)
                              for name, c in ref.companions.items())), None)


def _companion_problem(ref: FrameworkRef, root: Path, folder: str, name: str) -> str | None:
    """Why a companion folder (when present) is not what `fetch --with` placed there."""
    top = root / folder
    if not top.is_dir():
        return None
    files = (read_marker(top) or {}).get("files")
    if not isinstance(files, dict):
        return (f"its companion folder {folder}/ has no readable marker "
                f"(not placed by infernav fetch {ref.name} --with {name}=DIR)")
    why = _tree_differs(top, files, prefix=folder + "/")
    return why and (f"its companion {name} differs from what was given {why}; "
                    f"give it again: infernav fetch {ref.name} --with {name}=DIR")


def _tree_differs(root: Path, files: dict[str, Any], skip: frozenset[str] = frozenset(),
                  prefix: str = "") -> str | None:
    present = _files(root, skip)
    changed = []
    for rel, full in sorted(present.items()):
        want = files.get(rel)
        if want is None:
            changed.append(f"{rel} added")
            continue
        try:
            st = os.lstat(full)
        except OSError:
            changed.append(f"{rel} unreadable")
            continue
        if st.st_size != want[0]:
            changed.append(f"{rel} changed")
        elif st.st_mtime_ns != want[1] and os.path.isfile(full) and sha256_file(full) != want[2]:
            changed.append(f"{rel} changed")
    changed += [f"{rel} removed" for rel in sorted(set(files) - set(present))]
    if not changed:
        return None
    more = f", {len(changed) - 3} more" if len(changed) > 3 else ""
    changed = [prefix + c for c in changed]
    return f"({', '.join(changed[:3])}{more})"


def verify(ref: FrameworkRef, root: Path) -> None:
    """SourceError when the cached copy at `root` is not the pinned source, as fetched."""
    why = _source_problem(ref, root)
    if why:
        raise SourceError(f"{ref.key}: the cached source at {root}: {why}; run: infernav fetch {ref.key} "
                          "(it restores the pinned source)")
    why = _companions_problem(ref, root)
    if why:        # its own remedy: give the companion again
        raise SourceError(f"{ref.key}: the cached source at {root}: {why}")
