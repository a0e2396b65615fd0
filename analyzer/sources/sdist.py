"""PyPI source distributions, through the registry's simple index (PEP 691 JSON), sha256-checked."""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..tempfiles import owned, remove_stale, why
from .cache import sha256_file, source_dir, write_marker
from .pins import FrameworkRef, Progress, SourceError

DEFAULT_INDEX = "https://pypi.org/simple"


# ------------------------------------------------------------------------- PyPI sdist
def _index_url() -> str:
    return os.environ.get("INFERNAV_PYPI_URL", DEFAULT_INDEX).rstrip("/")


def _sdist_entry(ref: FrameworkRef) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    package = ref.spec["package"]
    url = f"{_index_url()}/{package}/"
    req = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            listing = json.load(resp)
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise SourceError(
            f"{ref.key}: cannot reach the package index {_index_url()} ({reason_of(exc)}); "
            f"set INFERNAV_PYPI_URL to a mirror, or put the sdist at {source_dir(ref)}.tar.gz"
        ) from None
    want = f"{package}-{ref.version}.tar.gz"
    for entry in listing.get("files", []):
        if entry.get("filename") == want:
            return entry
    raise SourceError(f"{ref.key}: the index has no sdist {want} (is {ref.version} a released version?)")


def fetch_sdist(ref: FrameworkRef, progress: Progress | None, allow_unverified: bool = False) -> Path:
    """The sdist's roots unpacked into the cache. The archive is kept (`<key>.tar.gz`) and used
    again only if its sha256 is the pinned one (or, unpinned, the one recorded when it came)."""
    dest = source_dir(ref)
    cache_dir = writable_cache(ref, dest.parent)
    archive = cache_dir / f"{ref.key}.tar.gz"
    recorded = archive.with_name(archive.name + ".sha256")
    expected = ref.pin.get("sha256")
    if archive.exists():
        digest = sha256_file(archive)
        if expected and digest != expected:
            raise SourceError(f"{ref.key}: the cached archive {archive} has sha256 {digest}, pinned {expected}; "
                              "kept it (if the pin is right, delete the archive and fetch again)")
        if not expected and (not recorded.exists() or recorded.read_text().strip() != digest):
            archive.unlink()   # unpinned and nothing says what it should be: download it again
    if not archive.exists():
        entry = _sdist_entry(ref)
        listed = entry.get("hashes", {}).get("sha256")
        if expected and listed and listed != expected:
            raise SourceError(f"{ref.key}: the index lists sha256 {listed}, pinned {expected}; refusing")
        expected = expected or listed
        if not expected and not allow_unverified:
            raise SourceError(f"{ref.key}: no sha256 is pinned for {entry.get('filename')} and the index publishes "
                              f"none; refusing it unverified (infernav fetch {ref.key} --allow-unverified takes it)")
        if not expected:
            print(f"warning: {ref.key}: taking {entry.get('filename')} unverified (no sha256 pinned or published)",
                  file=sys.stderr)
        digest = _download(entry["url"], archive, expected, ref.key, progress)
        if not ref.pin.get("sha256"):
            recorded.write_text(digest + "\n")
    extract_roots(ref, archive, dest, progress)
    return dest


def writable_cache(ref: FrameworkRef, folder: Path) -> Path:
    """`folder` (created), with stale temporary files of killed runs removed; SourceError in one
    line when it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SourceError(f"{ref.key}: cannot write the source cache {folder} ({why(exc)})") from None
    if not os.access(folder, os.W_OK):
        ro = os.statvfs(folder).f_flag & os.ST_RDONLY
        raise SourceError(f"{ref.key}: cannot write the source cache {folder} (" + (
            "read-only file system" if ro else "permission denied: it belongs to another user") + ")")
    remove_stale(folder)
    return folder


def _download(url: str, target: Path, sha256: str | None, what: str, progress: Progress | None) -> str:
    import hashlib
    import urllib.error
    import urllib.request

    tmp = owned(target.parent, target.name, "part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=120) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(f"download {what}", done, total)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        reason = why(exc) if isinstance(exc, OSError) and exc.errno else reason_of(exc)
        raise SourceError(f"{what}: download failed ({reason}); retry `infernav fetch {what}`") from None
    digest = h.hexdigest()
    if sha256 and digest != sha256:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{what}: sha256 mismatch (got {digest}, want {sha256}); nothing kept")
    os.replace(tmp, target)
    return digest


def extract_roots(ref: FrameworkRef, archive: Path, dest: Path, progress: Progress | None,
                  info: dict | None = None) -> None:
    """Unpack only the indexed roots, into a temporary folder renamed into place at the end; the
    marker (with the manifest) is written last."""
    import tarfile

    with new_tree(ref, dest) as tmp:
        try:
            with tarfile.open(archive) as tar:
                members = []
                all_members = tar.getmembers()
                strip = _common_top(all_members, ref.roots)
                for m in all_members:
                    name = m.name[len(strip):] if strip and m.name.startswith(strip) else m.name
                    if in_roots(name, ref.roots):
                        m.name = name
                        members.append(m)
                for i, m in enumerate(members):
                    tar.extract(m, tmp, filter="data")
                    if progress and i % 200 == 0:
                        progress(f"extract {ref.key}", i, len(members))
        except (tarfile.TarError, EOFError) as exc:
            raise SourceError(f"{ref.key}: {archive.name} is not a readable archive ({exc})") from None
        write_marker(tmp, {"framework": ref.key, "archive_sha256": sha256_file(archive), **(info or {})})


@contextmanager
def new_tree(ref: FrameworkRef, dest: Path):
    """A temporary folder (`.<key>.<pid>.extract`, readable by others) that becomes `dest` when the
    block ends without an error; OSError (a full disk, a read-only cache) is one SourceError line."""
    import shutil

    tmp = owned(dest.parent, ref.key, "extract")
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(mode=0o755)
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError as exc:
        raise SourceError(f"{ref.key}: cannot write the source cache {dest.parent} ({why(exc)})") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def in_roots(path: str, roots: list[str]) -> bool:
    """Whether an archive member (relative path) lies in one of the indexed roots (`src`, `a/b`)."""
    path = path.lstrip("./")
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _common_top(members: list, roots: list[str]) -> str:
    """`vllm-0.14.1/` for an sdist whose files all sit in one folder; '' for a flat archive."""
    tops = {m.name.lstrip("./").split("/", 1)[0] for m in members if m.name.strip("./")}
    if len(tops) == 1:
        top = tops.pop()
        if not any(r == top or r.startswith(top + "/") for r in roots):
            return top + "/"
    return ""


def reason_of(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason).strip() or type(exc).__name__
