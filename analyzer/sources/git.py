"""Git sources: a shallow fetch of the pinned commit, or a checkout / repository given with --path."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .cache import MARKER, link_file, source_dir
from .pins import FrameworkRef, SourceError
from .sdist import Progress


# ------------------------------------------------------------------------- git
def fetch_git(ref: FrameworkRef, progress: Progress | None) -> Path:
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
        return export_commit(ref, tmp, commit, progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def from_path(ref: FrameworkRef, path: Path, progress: Progress | None) -> Path:
    if not path.exists():
        raise SourceError(f"{ref.key}: --path {path} does not exist")
    commit = ref.pin.get("commit")
    is_git = git_output(path, "rev-parse", "--git-dir") is not None
    if all((path / r).is_dir() for r in ref.roots):
        if is_git and commit:
            head = git_output(path, "rev-parse", "HEAD")
            if head and head != commit:
                print(f"warning: {path} is at {head[:12]}, pinned {commit[:12]}; indexing it as {ref.key}",
                      file=sys.stderr)
        link = link_file(ref)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.write_text(str(path))
        return path
    if is_git and commit and git_output(path, "cat-file", "-t", commit) == "commit":
        # A bare repository or a clone at another commit: export the pinned commit's roots.
        return export_commit(ref, path, commit, progress)
    raise SourceError(f"{ref.key}: {path} has none of {', '.join(ref.roots)} and is not a git repository "
                      f"holding commit {commit}")


def export_commit(ref: FrameworkRef, repo: Path, commit: str, progress: Progress | None) -> Path:
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


def git_output(path: Path, *args: str) -> str | None:
    import subprocess

    try:
        r = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None
