"""The watcher's socket: `infernav index --watch` answers `infernav index` run beside it.

While a watcher holds a framework's solved state (analyzer/live.py), a plain `infernav index` of
that framework asks the watcher to index what changed, which takes about a second, instead of
re-solving the whole value flow itself. One request per connection, one JSON line each way on a
Unix socket beside the index (`<index>.watch`, in the cache folder, so only who can write the
index can reach it): the request names the code both run (`code_stamp`), and a watcher running
other code (infernav was edited or upgraded since it started) refuses, so the caller builds
itself. Nothing is trusted beyond that: any failure to connect or to read the answer, and the
caller builds as it would without a watcher.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import asdict
from pathlib import Path

from .indexer import IndexReport, index_path
from .sources import FrameworkRef

ANSWER_TIMEOUT_S = 900.0    # a re-index the watcher cannot do in place re-solves everything


def socket_path(ref: FrameworkRef) -> Path:
    path = index_path(ref)
    return path.with_name(path.name + ".watch")


def code_stamp() -> str:
    """A digest of infernav's own files (names, sizes, mtimes): equal in two processes that run
    the same code."""
    here = Path(__file__).resolve().parent
    h = hashlib.blake2b(digest_size=12)
    for p in sorted(here.rglob("*.py")):
        st = p.stat()
        h.update(f"{p.relative_to(here)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def ask(ref: FrameworkRef) -> IndexReport | None:
    """The watcher's report of indexing `ref` now, or None where no watcher of this code answers."""
    path = socket_path(ref)
    if not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(ANSWER_TIMEOUT_S)
            s.connect(str(path))
            s.sendall(json.dumps({"code": code_stamp(), "framework": ref.key}).encode() + b"\n")
            answer = json.loads(_read_line(s))
        report = answer["report"]
        report["path"] = Path(report["path"])
        report["skipped"] = [tuple(x) for x in report["skipped"]]
        report["reused"] = [*report["reused"], f"indexed by `infernav index --watch` (pid {int(answer['pid'])})"]
        return IndexReport(**report)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_line(s: socket.socket, limit: int = 1 << 26) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n") or size > limit:
            break
    return b"".join(chunks)


class Listener:
    """The watcher's end: a listening socket per framework (refused where another watcher of it
    is alive)."""

    def __init__(self, ref: FrameworkRef) -> None:
        self.ref, self.path = ref, socket_path(ref)
        if self.path.exists():
            if _alive(self.path):
                raise OSError(f"another `infernav index --watch` keeps {ref.key} ({self.path})")
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.sock.bind(str(self.path))
            os.chmod(self.path, 0o600)
            self.sock.listen(8)
        except OSError as exc:
            self.sock.close()
            raise OSError(f"cannot listen at {self.path} ({exc.strerror or exc})") from None
        self.code = code_stamp()

    def answer(self, refresh) -> IndexReport | None:
        """One request: refresh() run and its report sent back; None where the caller runs other
        code (it is told so, and builds itself)."""
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(5.0)
            try:
                asked = json.loads(_read_line(conn))
                if asked.get("code") != self.code:
                    conn.sendall(json.dumps({"error": "the watcher runs other infernav code"}).encode() + b"\n")
                    return None
                report = refresh()
                conn.sendall(json.dumps({"report": asdict(report), "pid": os.getpid()}, default=str).encode() + b"\n")
                return report
            except (OSError, ValueError, AttributeError):
                return None

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


def _alive(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.settimeout(1.0)
            s.connect(str(path))
            return True
        except OSError:
            return False
