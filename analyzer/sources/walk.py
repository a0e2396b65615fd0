"""The source tree as the indexer sees it: which files are indexed, how each one is read.

Only regular files are opened: a FIFO named `fifo.py` would block a read forever, a device
(`x.py -> /dev/zero`) never ends, so the walk skips anything that is not a regular file and any
symlink whose target leaves the source root, each with a reason the index report shows. A file
is opened with O_NONBLOCK, checked with fstat (a regular file, its size under the limit) and read
to at most limit+1 bytes, so a file swapped or grown after the scan still costs at most the limit.
A file that vanished or cannot be read is a reported skip (`vanished`, `unreadable: ...`), never
an exception.

Module names are computed once per folder (memoized up the chain), so a tree nested N folders
deep costs O(N^2) characters of path handling, the size of the paths themselves, not O(N^3).
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..parse import language_of
from ..parse.languages import needs_module_name

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a file")


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _skip_reason(full: str, real_root: str) -> tuple[str, os.stat_result | None]:
    """('', stat) for a regular file inside the root (directly or by a symlink), else (why, None)."""
    try:
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(full)
            if not _inside(real, real_root):
                return f"skipped: a symlink to outside the source root ({real})", None
            st = os.stat(full)
    except FileNotFoundError:
        return "skipped: vanished (deleted while the tree was scanned) or a broken symlink", None
    except OSError as exc:
        return f"skipped: unreadable: {exc.strerror}", None
    if not stat.S_ISREG(st.st_mode):
        return f"skipped: not a regular file ({_kind(st.st_mode)})", None
    return "", st


def scan(root: Path, roots: list[str], skipped: list | None = None) -> list[tuple[str, str, int, int]]:
    """(relative path, language, size, mtime_ns) of every indexable regular file, sorted by path.

    Files with an indexed extension that are not regular files inside the root are left out and,
    when `skipped` is given, appended to it as (path, why)."""
    out = []
    real_root = os.path.realpath(root)
    for top in roots:
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                lang = language_of(name)
                if lang is None:
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                why, st = _skip_reason(full, real_root)
                if st is None:
                    if skipped is not None:
                        skipped.append((rel, why))
                    continue
                out.append((rel, lang, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def read_source(root: Path | str, rel: str, limit: int) -> tuple[bytes | None, os.stat_result | None, str]:
    """(content, stat, '') of a regular file of at most `limit` bytes, or (None, stat or None, why)."""
    full = os.path.join(root, rel)
    real_root = os.path.realpath(root)
    try:
        if os.path.islink(full) and not _inside(os.path.realpath(full), real_root):
            return None, None, "skipped: a symlink to outside the source root"
        fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None, None, "skipped: vanished (deleted after the scan)"
    except OSError as exc:
        return None, None, f"skipped: unreadable: {exc.strerror}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, None, f"skipped: not a regular file ({_kind(st.st_mode)})"
        if st.st_size > limit:
            return None, st, f"skipped: {st.st_size // 1024} KiB is over the {limit // 1024} KiB limit"
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, None, f"skipped: unreadable: {exc.strerror}"
    finally:
        os.close(fd)
    if size > limit:
        return None, st, f"skipped: over the {limit // 1024} KiB limit (it grew after the scan)"
    return b"".join(chunks), st, ""


def size_of(root: Path | str, rel: str) -> int:
    try:
        return os.stat(os.path.join(root, rel)).st_size
    except OSError:
        return 0


_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def as_utf8(data: bytes, lang: str) -> bytes:
    """The bytes the parser reads: UTF-8. Python files in another encoding (a PEP 263 coding
    cookie, or bytes that are not UTF-8, read as latin-1) are transcoded; lines stay where they
    were. Other languages are parsed as they are."""
    if lang != "py" or data.isascii():
        return data
    codec = None
    for line in data.split(b"\n", 2)[:2]:
        m = _COOKIE.match(line)
        if m:
            codec = m.group(1).decode("ascii")
            break
    try:
        if codec is None or codec.lower().replace("_", "-") in ("utf-8", "utf8"):
            data.decode("utf-8")
            return data
        return data.decode(codec, "replace").encode("utf-8")
    except LookupError:          # an unknown codec name: read as latin-1
        return data.decode("latin-1").encode("utf-8")
    except UnicodeDecodeError:   # no cookie (or a false utf-8 one) and not UTF-8
        return data.decode("latin-1").encode("utf-8")


def module_names(paths: list[str]) -> dict[str, tuple[str, bool]]:
    """Dotted module name of each Python file: its path from the nearest import root above it.

    Import roots are the framework root and the folder above the top of each chain of regular
    packages (a folder with __init__.py whose parent has none: where that code is run from).
    Folders without __init__.py between a root and the file are namespace packages (PEP 420) and
    part of the name, as in Python and PyCG: `nest/imported.py` is `nest.imported`; vLLM's names
    (one package chain from the root) are its import paths."""
    packages = {p.rsplit("/", 1)[0] for p in paths if p.endswith("/__init__.py")}
    # A package below a regular package is importable through it even across folders without
    # __init__.py (SGLang: sglang/__init__.py, no sglang/srt/__init__.py, sglang/srt/layers/
    # __init__.py is `sglang.srt.layers`), so only a package with no package above it makes a root.
    roots = {""} | {_parent(d) for d in packages if not _below_a_package(d, packages)}
    root_of: dict[str, str] = {}   # folder -> its nearest import root (itself included)

    def nearest(folder: str) -> str:
        chain = []
        while folder not in root_of and folder not in roots:
            chain.append(folder)
            folder = _parent(folder)
        found = root_of.get(folder, folder)
        for f in chain:
            root_of[f] = found
        root_of[folder] = found
        return found

    out = {}
    for p in paths:
        lang = language_of(p)
        if lang is None or not needs_module_name(lang):
            continue
        stem = p.rsplit(".", 1)[0]
        folder = _parent(p)
        is_pkg = stem == "__init__" or stem.endswith("/__init__")
        if is_pkg:
            stem = folder
            folder = _parent(folder)
        base = nearest(folder) if stem else ""
        rel = stem[len(base) + 1:] if base else stem
        out[p] = (rel.replace("/", "."), is_pkg)
    return out


def _below_a_package(folder: str, packages: set[str]) -> bool:
    while "/" in folder:
        folder = _parent(folder)
        if folder in packages:
            return True
    return False


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""
