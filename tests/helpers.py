"""Small helpers shared by the test modules: queries, and skips that some machines must not take."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

# INFERNAV_REQUIRE=gpu,ksanallm on a machine that must run those tests turns their skips into failures.
REQUIRED = {s.strip() for s in os.environ.get("INFERNAV_REQUIRE", "").split(",") if s.strip()}


def skip_unless(what: str, reason: str) -> None:
    """Skip with `reason`, or fail with it where INFERNAV_REQUIRE names `what`."""
    if what in REQUIRED:
        pytest.fail(f"INFERNAV_REQUIRE={what}, but {reason}", pytrace=False)
    pytest.skip(reason)


def ids(idx, name: str) -> list[int]:
    return [r.id for r in idx.lookup(name)]


def edges(idx, name: str, direction: str, resolutions=None) -> dict[str, set[str]]:
    """{neighbour name: {resolution labels}} for the direct callers/callees of `name` (default
    answers: no guesses; pass query.ALL_RESOLUTIONS for them too)."""
    out: dict[str, set[str]] = {}
    for h in idx.call_sites(ids(idx, name), direction, resolutions):
        out.setdefault(h.symbol.name, set()).add(h.resolution)
    return out


def callees(idx, name: str, resolutions=None) -> dict[str, set[str]]:
    return edges(idx, name, "callees", resolutions)


def callers(idx, name: str, resolutions=None) -> dict[str, set[str]]:
    return edges(idx, name, "callers", resolutions)


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    """A folder served on a free port of 127.0.0.1 (python -m http.server), once it answers: the
    process (terminate it) and the base URL. The browser tests and bench/screenshot_page.py use it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "-d", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


@contextmanager
def serve_folder(root: Path) -> Iterator[str]:
    """start_server's base URL for the body of a with-statement; the server stops after it."""
    server, url = start_server(root)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
