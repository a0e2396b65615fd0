"""Temporary files of the cache, named after the process that owns them, and their clean-up.

A cold index build writes `.<index>.<pid>.tmp`, a download `.<archive>.<pid>.part`, an extraction
`.<key>.<pid>.extract/`; a SIGKILLed run leaves them behind. The next run that writes into the
same folder removes those whose owner is gone, or that are a day old whoever owns them (a pid can
be reused). Names from older infernav versions carry no pid: removed when an hour old.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

_OWNED = re.compile(r"^\..+\.(\d+)\.(tmp|part|extract)$")
# Before pids were in the names: `vllm@0.14.1.tar.part`, mkdtemp's `.vllm@0.14.1-k2j3h4`, `.x-git-...`.
_LEGACY = re.compile(r"^(.+\.part|\..+-[a-z0-9_]{8}|\..+-git-[a-z0-9_]{8})$")
MAX_AGE_S = 24 * 3600
LEGACY_AGE_S = 3600


def owned(folder: Path, name: str, suffix: str) -> Path:
    """This process's temporary path for `name` in `folder`."""
    return folder / f".{name}.{os.getpid()}.{suffix}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's live process
        return True
    except OSError:
        return False
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    try:
        age = (now or time.time()) - path.lstat().st_mtime
    except OSError:
        return False
    m = _OWNED.match(path.name)
    if m:
        return age > MAX_AGE_S or not _alive(int(m.group(1)))
    return bool(_LEGACY.match(path.name)) and age > LEGACY_AGE_S


def remove_stale(folder: Path) -> list[str]:
    """Remove the stale temporary files and folders in `folder`; the names removed. Never raises:
    a folder that cannot be listed or written is left as it is."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        if not is_stale(p, now):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p.name)
        except OSError:
            pass
    return removed


def why(exc: OSError) -> str:
    """A short lower-case reason for a failed write: 'read-only file system', 'disk full', ..."""
    import errno

    return {errno.EROFS: "read-only file system", errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied"}.get(
        exc.errno, (exc.strerror or str(exc)).lower())
