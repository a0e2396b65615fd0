"""Git sources: a shallow fetch of the pinned commit, or a checkout / repository given with --path."""
from __future__ import annotations

import sys
from pathlib import Path

from ..tempfiles import owned, why
from .cache import link_file, source_dir, write_marker
from .pins import FrameworkRef, SourceError
from .sdist import Progress, new_tree, writable_cache


# ------------------------------------------------------------------------- git
def fetch_git(ref: FrameworkRef, progress: Progress | None) -> Path:
    import shutil
    import subprocess

    url = ref.spec["url"]
    commit = ref.pin.get("commit", ref.version)
    dest = source_dir(ref)
    writable_cache(ref, dest.parent)
    tmp = owned(dest.parent, f"{ref.key}-git", "extract")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
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
        writable_cache(ref, link.parent)
        try:
            link.write_text(str(path))
        except OSError as exc:
            raise SourceError(f"{ref.key}: cannot write the source cache {link.parent} ({why(exc)})") from None
        return path
    if is_git and commit and git_output(path, "cat-file", "-t", commit) == "commit":
        # A bare repository or a clone at another commit: export the pinned commit's roots.
        return export_commit(ref, path, commit, progress)
    raise SourceError(f"{ref.key}: {path} has none of {', '.join(ref.roots)} and is not a git repository "
                      f"holding commit {commit}")


def export_commit(ref: FrameworkRef, repo: Path, commit: str, progress: Progress | None) -> Path:
    import io
    import subprocess
    import tarfile

    dest = source_dir(ref)
    writable_cache(ref, dest.parent)
    with new_tree(ref, dest) as tmp:
        if progress:
            progress(f"export {ref.key}", 0, 0)
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit, *ref.roots],
                                 capture_output=True)
        if archive.returncode != 0:
            raise SourceError(f"{ref.key}: git archive failed: {archive.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        write_marker(tmp, {"framework": ref.key, "commit": commit})
    link_file(ref).unlink(missing_ok=True)
    return dest


def git_output(path: Path, *args: str) -> str | None:
    import subprocess

    try:
        r = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None
