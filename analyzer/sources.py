"""Pinned framework sources: where they come from, where they are cached, how to get them.

vLLM comes from its PyPI sdist (through the registry's simple index, PEP 691, checked against the
pinned sha256); KsanaLLM from git at a pinned commit, or from `--path` (a checkout, or any git
repository holding the commit). The cache lives outside the repository: $INFERNAV_HOME, default
the user cache dir. Several versions of one framework coexist as `name@version` folders.
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# Downloading and unpacking modules (urllib, tarfile, subprocess, ...) are imported inside the
# functions that fetch: every CLI query imports this module, and start-up time is what users feel.

PINS_PATH = Path(__file__).with_name("pins.toml")
DEFAULT_INDEX = "https://pypi.org/simple"
MARKER = ".infernav-source.json"


class SourceError(Exception):
    """A source could not be had; the message says, in one line, how to provide it."""


@dataclass(frozen=True)
class FrameworkRef:
    name: str
    version: str
    pin: dict[str, Any] = field(hash=False, compare=False)
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def roots(self) -> list[str]:
        return list(self.spec.get("roots", []))

    def permalink(self, path: str, line: int) -> str:
        template = self.spec.get("permalink", "")
        return template.format(version=self.version, commit=self.pin.get("commit", self.version),
                               path=path, line=line)


def pins_path() -> Path:
    """The pins file: the packaged one, or $INFERNAV_PINS (extra frameworks, test fixtures)."""
    env = os.environ.get("INFERNAV_PINS")
    return Path(env) if env else PINS_PATH


def load_pins() -> dict[str, Any]:
    path = pins_path()
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"cannot read pins file {path}: {exc}") from None


def home() -> Path:
    env = os.environ.get("INFERNAV_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("infernav"))


def parse_ref(text: str | None, pins: dict[str, Any] | None = None) -> FrameworkRef:
    """`vllm`, `vllm@0.33.0`, `ksanallm` -> FrameworkRef (unknown names raise SourceError)."""
    pins = pins if pins is not None else load_pins()
    text = text or "vllm"
    name, _, version = text.partition("@")
    name = name.strip().lower()
    if name not in pins:
        raise SourceError(f"unknown framework '{name}'; known: {', '.join(sorted(pins))}")
    spec = pins[name]
    version = version.strip() or spec["default"]
    pin = dict(spec.get("versions", {}).get(version, {}))
    return FrameworkRef(name, version, pin, spec)


def all_default_refs() -> list[FrameworkRef]:
    pins = load_pins()
    return [parse_ref(name, pins) for name in pins]


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


Progress = Callable[[str, int, int], None]  # (what, done, total)


def fetch(ref: FrameworkRef, path: str | None = None, progress: Progress | None = None) -> Path:
    """Make `ref` available locally and return its root."""
    if path is not None:
        return _from_path(ref, Path(path).expanduser().resolve(), progress)
    existing = locate(ref)
    if existing is not None:
        return existing
    kind = ref.spec["source"]
    if kind == "pypi-sdist":
        return _fetch_sdist(ref, progress)
    if kind == "git":
        return _fetch_git(ref, progress)
    raise SourceError(f"{ref.key}: unknown source kind '{kind}' in pins.toml")


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
            f"{ref.key}: cannot reach the package index {_index_url()} ({_reason(exc)}); "
            f"set INFERNAV_PYPI_URL to a mirror, or put the sdist at {source_dir(ref)}.tar.gz"
        ) from None
    want = f"{package}-{ref.version}.tar.gz"
    for entry in listing.get("files", []):
        if entry.get("filename") == want:
            return entry
    raise SourceError(f"{ref.key}: the index has no sdist {want} (is {ref.version} a released version?)")


def _fetch_sdist(ref: FrameworkRef, progress: Progress | None) -> Path:
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
        digest = _sha256(archive)
        if expected and digest != expected:
            archive.unlink()
            raise SourceError(f"{ref.key}: cached archive has sha256 {digest}, pinned {expected}; "
                              "removed it, fetch again")
    _extract(ref, archive, dest, progress)
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
        raise SourceError(f"{what}: download failed ({_reason(exc)}); retry `infernav fetch {what}`") from None
    digest = h.hexdigest()
    if sha256 and digest != sha256:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{what}: sha256 mismatch (got {digest}, want {sha256}); nothing kept")
    os.replace(tmp, target)


def _extract(ref: FrameworkRef, archive: Path, dest: Path, progress: Progress | None) -> None:
    """Unpack only the indexed roots, into a temporary folder renamed into place at the end."""
    import shutil
    import tarfile
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=f".{ref.key}-", dir=dest.parent))
    try:
        with tarfile.open(archive) as tar:
            members = []
            for m in tar.getmembers():
                parts = m.name.split("/", 1)
                if len(parts) == 2 and parts[1].split("/", 1)[0] in ref.roots:
                    m.name = parts[1]
                    members.append(m)
            for i, m in enumerate(members):
                tar.extract(m, tmp, filter="data")
                if progress and i % 200 == 0:
                    progress(f"extract {ref.key}", i, len(members))
        (tmp / MARKER).write_text(json.dumps({"framework": ref.key, "archive_sha256": _sha256(archive)}))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------- git
def _fetch_git(ref: FrameworkRef, progress: Progress | None) -> Path:
    import shutil
    import subprocess
    import tempfile

    url = ref.spec["url"]
    commit = ref.pin.get("commit", ref.version)
    dest = source_dir(ref)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ref.key}-git-", dir=dest.parent))
    try:
        if progress:
            progress(f"git fetch {ref.key}", 0, 0)
        for cmd in (["git", "init", "-q", str(tmp)],
                    ["git", "-C", str(tmp), "fetch", "-q", "--depth", "1", url, commit]):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired:
                r = None
            if r is None or r.returncode != 0:
                why = (r.stderr.strip().splitlines() or ["timed out"])[-1] if r is not None else "timed out"
                raise SourceError(
                    f"{ref.key}: cannot fetch {url} ({why}); provide a checkout: "
                    f"infernav fetch {ref.name} --path DIR")
        return _export_commit(ref, tmp, commit, progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_path(ref: FrameworkRef, path: Path, progress: Progress | None) -> Path:
    if not path.exists():
        raise SourceError(f"{ref.key}: --path {path} does not exist")
    commit = ref.pin.get("commit")
    is_git = _git(path, "rev-parse", "--git-dir") is not None
    if all((path / r).is_dir() for r in ref.roots):
        if is_git and commit:
            head = _git(path, "rev-parse", "HEAD")
            if head and head != commit:
                print(f"warning: {path} is at {head[:12]}, pinned {commit[:12]}; indexing it as {ref.key}")
        link = link_file(ref)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.write_text(str(path))
        return path
    if is_git and commit and _git(path, "cat-file", "-t", commit) == "commit":
        # A bare repository or a clone at another commit: export the pinned commit's roots.
        return _export_commit(ref, path, commit, progress)
    raise SourceError(f"{ref.key}: {path} has none of {', '.join(ref.roots)} and is not a git repository "
                      f"holding commit {commit}")


def _export_commit(ref: FrameworkRef, repo: Path, commit: str, progress: Progress | None) -> Path:
    import io
    import shutil
    import subprocess
    import tarfile
    import tempfile

    dest = source_dir(ref)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ref.key}-", dir=dest.parent))
    try:
        if progress:
            progress(f"export {ref.key}", 0, 0)
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit, *ref.roots],
                                 capture_output=True)
        if archive.returncode != 0:
            raise SourceError(f"{ref.key}: git archive failed: {archive.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        (tmp / MARKER).write_text(json.dumps({"framework": ref.key, "commit": commit}))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        link_file(ref).unlink(missing_ok=True)
        return dest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _git(path: Path, *args: str) -> str | None:
    import subprocess

    try:
        r = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason).strip() or type(exc).__name__
