"""Companion sources: a second project placed inside a framework's cached source tree.

Why: SGLang's PyPI sdist holds only Python; its kernels are sgl-kernel (folder `sgl-kernel/` of the
sglang repository: `csrc/` registers `torch.ops.sgl_kernel.*`, `python/sgl_kernel/` wraps them).
Placing the companion's roots at `<framework root>/<folder>/` makes one index hold both, so the
cross-language linker (Python -> torch.ops -> TORCH_LIBRARY -> host function -> kernel) runs
unchanged. Engines stay data: `[<engine>.companions.<name>]` in pins.toml names the folder, its
roots (inside the folder) and a permalink template.

A companion may pin a git commit per framework version (`commits`): a git repository holding it
gives exactly that commit's folder, verified. Anything else (a plain folder, an archive, a repository
without the commit) is taken as given and said so on stderr in one line, as `--allow-unverified`
does for an sdist. Its marker (`<folder>/.infernav-source.json`) records what
was given, the git commit when that was a git checkout, and a manifest; `cache.verify` checks the
tree against it, like the framework's own.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from ..tempfiles import owned
from .cache import source_dir, write_marker
from .pins import FrameworkRef, SourceError
from .sdist import Progress, writable_cache


class CompanionUsage(ValueError):
    """A `--with` argument that names no companion of the framework (a usage error, exit 2)."""


def parse_with(ref: FrameworkRef, values: tuple[str, ...]) -> list[tuple[str, dict[str, Any], Path]]:
    """`COMPANION=DIR` arguments -> (name, its pins entry, DIR resolved); usage errors first, so a
    bad argument costs no fetch."""
    out = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise CompanionUsage(f"--with wants COMPANION=DIR (got {value[:80]!r})")
        name = name.strip().lower()
        known = ref.companions
        if name not in known:
            raise CompanionUsage(f"unknown companion '{name}' of {ref.name}; known: {', '.join(known) or 'none'}")
        out.append((name, known[name], Path(path.strip()).expanduser().resolve()))
    return out


def check_given(ref: FrameworkRef, name: str, spec: dict[str, Any], given: Path) -> None:
    """SourceError now (before the framework is fetched) when DIR cannot be the companion."""
    if not given.exists():
        raise SourceError(f"{ref.key}: --with {name}={given}: it does not exist")
    if given.is_dir() and _top(spec, given) is None and not _is_git(given):
        raise SourceError(_holds_none(ref, name, spec, given))


def place(ref: FrameworkRef, root: Path, name: str, spec: dict[str, Any], given: Path,
          progress: Progress | None = None) -> Path:
    """Copy the companion's roots from `given` (a checkout holding `<folder>/`, the folder itself,
    a bare git repository, or an archive of either) to `<root>/<folder>/`, replacing what was there."""
    if root != source_dir(ref):
        raise SourceError(f"{ref.key}: --with places {name} inside the cached source, and {root} is your own "
                          f"checkout (fetch --path DIR): put the companion at {root / spec['folder']} yourself")
    staging = owned(writable_cache(ref, root.parent), f"{ref.key}+{spec['folder']}", "extract")
    unpacked = owned(root.parent, f"{ref.key}+{spec['folder']}", "unpack")
    try:
        if progress:
            progress(f"companion {name}", 0, 0)
        pinned = spec.get("commits", {}).get(ref.version)
        verified = bool(pinned) and _holds_commit(given, pinned)
        if verified:
            _export(ref, given, pinned, spec["folder"], unpacked)
            top, commit = _top(spec, unpacked) or unpacked, pinned
        else:
            top, commit = _source_top(ref, name, spec, given, unpacked)
        _copy_roots(spec, top, staging)
        write_marker(staging, {"companion": name, "framework": ref.key, "given": str(given), "commit": commit,
                               "verified": verified})
        dest = root / spec["folder"]
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(unpacked, ignore_errors=True)
    if not verified:
        print(f"warning: {ref.key}: companion {name} taken unverified from {given}"
              + (f" (git commit {commit[:12]})" if commit else "")
              + (f"; the pinned commit {pinned[:12]} is not in it" if pinned else "; no pin can check it"),
              file=sys.stderr)
    return dest


def _holds_commit(given: Path, commit: str) -> bool:
    """Whether `given` is a git repository (a checkout or bare) that has the pinned commit."""
    from .git import git_output

    return given.is_dir() and git_output(given, "cat-file", "-t", commit) == "commit"


def _source_top(ref: FrameworkRef, name: str, spec: dict[str, Any], given: Path,
                scratch: Path) -> tuple[Path, str | None]:
    """The folder holding the companion's roots, and the git commit it is at (None if unknown)."""
    from .archive import is_archive
    from .git import git_output

    if is_archive(given):
        _unpack(ref, given, scratch)
        tops = [scratch] + [d for d in scratch.iterdir() if d.is_dir()]
        found = next((t for t in map(lambda d: _top(spec, d), tops) if t is not None), None)
    elif _top(spec, given) is None and _is_git(given):
        _export(ref, given, "HEAD", spec["folder"], scratch)
        return _top(spec, scratch) or scratch, git_output(given, "rev-parse", "HEAD")
    else:
        found = _top(spec, given) if given.is_dir() else None
    if found is None:
        raise SourceError(_holds_none(ref, name, spec, given))
    return found, git_output(found, "rev-parse", "HEAD") if not is_archive(given) else None


def _top(spec: dict[str, Any], folder: Path) -> Path | None:
    """`folder/<folder>` or `folder` itself, whichever holds one of the companion's roots."""
    for top in (folder / spec["folder"], folder):
        if any((top / r).is_dir() for r in spec["roots"]):
            return top
    return None


def _is_git(path: Path) -> bool:
    from .git import git_output

    return path.is_dir() and git_output(path, "rev-parse", "--is-bare-repository") == "true"


def _holds_none(ref: FrameworkRef, name: str, spec: dict[str, Any], given: Path) -> str:
    roots = ", ".join(spec["roots"])
    return (f"{ref.key}: --with {name}={given}: it holds none of {roots}, neither itself nor in {spec['folder']}/ "
            "(give a checkout of the project, its folder, or an archive)")


def _copy_roots(spec: dict[str, Any], top: Path, staging: Path) -> None:
    """Regular files of the roots only (links and special files stay behind, as the walk skips them)."""
    import os

    staging.mkdir(parents=True)
    for r in spec["roots"]:
        for dirpath, dirnames, filenames in os.walk(top / r):
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            for fname in filenames:
                src = Path(dirpath) / fname
                if src.is_symlink() or not src.is_file():
                    continue
                out = staging / src.relative_to(top)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out)


def _unpack(ref: FrameworkRef, archive: Path, scratch: Path) -> None:
    import tarfile

    try:
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SourceError(f"{ref.key}: cannot read {archive.name} ({exc})") from None


def _export(ref: FrameworkRef, repo: Path, rev: str, folder: str, scratch: Path) -> None:
    """`<folder>/` at `rev` of a git repository (the pinned commit, or a bare mirror's HEAD)."""
    import io
    import subprocess
    import tarfile

    r = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev, folder], capture_output=True)
    if r.returncode != 0:
        raise SourceError(f"{ref.key}: git archive of {folder}/ in {repo} failed: "
                          f"{r.stderr.decode(errors='replace').strip()[:200]}")
    scratch.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        tar.extractall(scratch, filter="data")
