"""Helpers of the hostile-input tests (tests/test_hostile_*.py): the real `infernav` executable in
a subprocess (one line on stderr, exit codes), run as another user (setpriv) or over a read-only
bind mount (unshare), a tiny framework with a PyPI-like simple index served from a thread, and
fixture pins files.

Root ignores file permissions, so "another user" is nobody (uid 65534) through setpriv, and a
read-only cache is a read-only bind mount in a private mount namespace; where the machine cannot
do either, the test skips saying why.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

INFERNAV = str(Path(sys.executable).with_name("infernav"))
NOBODY = 65534

MINI_PINS = """
[mini]
source = "git"
url = "file:///nonexistent/mini.git"
default = "1"
roots = ["app", "csrc"]
permalink = "https://example.invalid/mini/{path}#L{line}"
"""

TINY_FILES = {
    "tiny/__init__.py": "",
    "tiny/core.py": "def leaf():\n    return 1\n\n\ndef top():\n    return leaf()\n",
    "tiny/big.py": "# padding\n" + "X = 1\n" * 40000,
}


def tiny_pins(sha256: str | None, version: str = "1.0") -> str:
    pin = f'\n[tiny.versions."{version}"]\nsha256 = "{sha256}"\n' if sha256 else ""
    return (f'[tiny]\nsource = "pypi-sdist"\npackage = "tiny"\ndefault = "{version}"\nroots = ["tiny"]\n'
            f'permalink = "https://example.invalid/{{path}}#L{{line}}"\n' + pin + MINI_PINS)


def tiny_sdist(version: str = "1.0", files: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, text in {**TINY_FILES, **(files or {}), "PKG-INFO": "Name: tiny\n"}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"tiny-{version}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SimpleIndex:
    """A PEP 691 simple index for `tiny` on 127.0.0.1: {version: sdist bytes}; `hashes` False lists
    the files without digests, `listed` overrides the digest listed for a version; `stall_after` sends that many bytes of a download, then hangs."""

    def __init__(self, sdists: dict[str, bytes], hashes: bool = True):
        self.sdists, self.hashes, self.stall_after = sdists, hashes, None
        self.listed: dict[str, str] = {}   # version -> the sha256 the index lists, if not the real one
        self.downloads = 0
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/simple/tiny":
                    files = [{"filename": f"tiny-{v}.tar.gz", "url": f"{outer.base}/files/tiny-{v}.tar.gz",
                              "hashes": {"sha256": outer.listed.get(v, sha(b))} if outer.hashes else {}}
                             for v, b in outer.sdists.items()]
                    body = json.dumps({"name": "tiny", "files": files}).encode()
                    self._send(body, "application/vnd.pypi.simple.v1+json")
                elif self.path.startswith("/files/tiny-"):
                    v = self.path[len("/files/tiny-"):-len(".tar.gz")]
                    outer.downloads += 1
                    self._send(outer.sdists[v], "application/octet-stream", outer.stall_after)
                else:
                    self.send_error(404)

            def _send(self, body, ctype, stall=None):
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if stall is None:
                    self.wfile.write(body)
                    return
                self.wfile.write(body[:stall])
                self.wfile.flush()
                outer.release.wait(120)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.base}/simple"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def shared_tmp() -> Path:
    """A temp dir others can traverse (pytest's tmp_path lives under a 0700 folder)."""
    d = Path(tempfile.mkdtemp(prefix="infernav-hostile-", dir="/tmp"))
    d.chmod(0o755)
    return d


def cli(*args: str, env: dict[str, str], user: int | None = None, read_only: Path | None = None,
        timeout: float = 120, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed `infernav` as the user would: as `user` (a uid) and/or with `read_only`
    mounted read-only."""
    cmd = [INFERNAV, *args]
    if read_only is not None:
        cmd = ["unshare", "-m", "sh", "-c",
               'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"', str(read_only), *cmd]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INFERNAV_")}
    full_env.update(env)
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout,
                          cwd=cwd or "/")


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one error line on stderr (fails the test on a traceback or more than one error line)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, f"want one error line, stderr was:\n{proc.stderr}"
    return errors[0]


@lru_cache(maxsize=None)
def _probe(kind: str) -> str | None:
    """None where the machine can run the test in this way, else why not."""
    d = shared_tmp()
    try:
        if kind == "user":
            cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, "-c",
                   "import infernav.analyzer.sources"]
        else:
            cmd = ["unshare", "-m", "sh", "-c",
                   'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && ! touch "$0/x" 2>/dev/null',
                   str(d)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{cmd[0]} cannot run here ({exc})"
        return None if r.returncode == 0 else f"{cmd[0]} does not work here: {r.stderr.strip()[:200]}"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def need(kind: str) -> None:
    """Skip (saying why) unless the machine can run a process as nobody ('user') or mount a
    read-only bind ('read-only')."""
    why = _probe(kind)
    if why:
        print(f"skip: {why}")
        pytest.skip(why)


def chown_tree(path: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, uid)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), uid, uid, follow_symlinks=False)
