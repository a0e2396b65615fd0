"""`infernav index --watch`: indexes kept live, re-indexed as their sources change.

Each framework's solved state is held (analyzer/live.py) and its source tree looked at every
`interval` seconds (stat only: size, mtime, ctime, inode); what changed is indexed at once, one
report line per change (a JSON object per line under --json), and a plain `infernav index` run
meanwhile is answered by the watcher (analyzer/live_socket.py). Ctrl-C stops it (exit 130).
"""
from __future__ import annotations

import json
import selectors
import sys
from dataclasses import asdict

from .output import ExitStatus, echo, fail


def watch(located: list, force: bool, jobs: int | None, progress_of, as_json: bool, interval: float = 0.5) -> None:
    from ..live import LiveIndex
    from ..live_socket import Listener

    lives, listeners = [], []
    sel = selectors.DefaultSelector()
    try:
        for ref, root in located:
            try:
                listener = Listener(ref)
            except OSError as exc:
                fail(str(exc), ExitStatus.EMPTY, as_json, kind="watch", framework=ref.key)
            listeners.append(listener)
            live = LiveIndex(ref, root, jobs, progress_of(ref) if progress_of else None)
            _emit(live.open(force), as_json)
            lives.append(live)
            sel.register(listener.sock, selectors.EVENT_READ, (listener, live))
        if not as_json:
            echo(f"watching {', '.join(r.key for r, _ in located)} for changes (Ctrl-C stops)", err=True)
        while True:
            for key, _ in sel.select(timeout=interval):
                listener, live = key.data
                report = listener.answer(live.index_now)
                if report is not None and report.mode != "up-to-date":
                    _emit(report, as_json)
            for live in lives:
                report = live.refresh()
                if report is not None:
                    _emit(report, as_json)
                elif live.worn():          # idle, and its log has doubled: made again, memory freed
                    live.renew()
                    if not as_json:
                        echo(f"  {live.ref.key}: state made again (its provenance log had doubled)", err=True)
    except KeyboardInterrupt:
        if not as_json:
            echo("stopped", err=True)
        sys.exit(130)
    finally:
        for listener in listeners:
            listener.close()


def _emit(report, as_json: bool) -> None:
    if as_json:
        echo(json.dumps({**asdict(report), "path": str(report.path)}, default=str))
        sys.stdout.flush()
        return
    from .build import print_report

    print_report(report)
    sys.stdout.flush()
