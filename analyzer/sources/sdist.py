"""PyPI source distributions, through the registry's simple index (PEP 691 JSON), sha256-checked."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from .cache import MARKER, source_dir
from .pins import FrameworkRef, SourceError

DEFAULT_INDEX = "https://pypi.org/simple"


Progress = Callable[[str, int, int], None]  # (what, done, total)

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


def fetch_sdist(ref: FrameworkRef, progress: Progress | None) -> Path:
    dest = source_dir(ref)
    dest.parent.mkdir(parents=True, exist_ok=True)
    archive = dest.parent / f"{ref.key}.tar.gz"
    expected = ref.pin.get("sha256")
    if not archive.exists():
        entry = _sdist_entry(ref)
        listed = entry.get("hashes", {}).get("sha256")
        if expected and listed and listed != expected:
            raise SourceError(f"{ref.key}: the index lists sha256 {listed}, pinned {expected}; refusing")
        expected = expected or listed
        _download(entry["url"], archive, expected, ref.key, progress)
    else:
        digest = sha256_file(archive)
        if expected and digest != expected:
            archive.unlink()
            raise SourceError(f"{ref.key}: cached archive has sha256 {digest}, pinned {expected}; "
                              "removed it, fetch again")
    extract_roots(ref, archive, dest, progress)
    return dest


def _download(url: str, target: Path, sha256: str | None, what: str, progress: Progress | None) -> None:
    import hashlib
    import urllib.error
    import urllib.request

    tmp = target.with_suffix(".part")
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
        raise SourceError(f"{what}: download failed ({reason_of(exc)}); retry `infernav fetch {what}`") from None
    digest = h.hexdigest()
    if sha256 and digest != sha256:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{what}: sha256 mismatch (got {digest}, want {sha256}); nothing kept")
    os.replace(tmp, target)


def extract_roots(ref: FrameworkRef, archive: Path, dest: Path, progress: Progress | None) -> None:
    """Unpack only the indexed roots, into a temporary folder renamed into place at the end."""
    import shutil
    import tarfile
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=f".{ref.key}-", dir=dest.parent))
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
        (tmp / MARKER).write_text(json.dumps({"framework": ref.key, "archive_sha256": sha256_file(archive)}))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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


def sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def reason_of(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason).strip() or type(exc).__name__
