"""Several frameworks indexed in one run (`infernav index vllm ksanallm`), on all cores.

Resolution runs on one core, so while the first framework resolves, the others are built whole
(parse, resolve, store) by one background process on the cores it leaves: on 2 cores the cold
index of vLLM plus KsanaLLM is vLLM's parse, then vLLM's resolution beside all of KsanaLLM,
instead of the two builds one after the other. (An earlier version parsed only the next
framework's files ahead, on every core, which slowed the first framework's resolution and left
the second's resolution for afterwards.)

The background process is a fresh interpreter (`python -c ... serve()`, as the parse workers are:
a fork would copy the first framework's parsed facts and count them twice), given the builds as a
pickle on stdin (our own data, from this process) and answering one pickled IndexReport per
build on stdout. Nothing it does is taken on trust:
  - each of its builds is checked afterwards by an incremental build here, which finds the index
    up to date unless a file changed meanwhile (then it re-indexes, as a later run would);
  - a build that failed there, or never came back (the process died), is run again here, so the
    error the user sees, its exit code and its message are exactly a sequential run's.
So the indexes are the ones a sequential run writes (tests/test_build_many.py).
"""
from __future__ import annotations

import io
import pickle
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from .indexer import IndexReport
    from .sources import FrameworkRef

_SERVE = "import sys; sys.path[:0] = {path!r}; from infernav.analyzer.pipeline import serve; serve()"


def build_many(items: list[tuple[FrameworkRef, Path]], *, force: bool = False, jobs: int | None = None,
               progress_of: Callable | None = None, exiting: bool = False) -> Iterator[IndexReport]:
    """build() over several frameworks; the reports one by one, in the order given.

    progress_of(ref) gives the progress callback of a framework (or None); the background
    process can call it only if it is a module-level function (it is imported there by name), so
    a lambda's frameworks build there without progress lines. `exiting` is build()'s, for the
    last framework's build in this process; with the others built in the background, the first
    framework's too (what this process builds after it, a check that finds an index up to date,
    needs no memory)."""
    from .indexer import _usable_cores, build

    jobs = jobs or _usable_cores()
    rest = items[1:]
    if not rest or jobs < 2:
        for i, (ref, root) in enumerate(items):
            yield build(ref, root, force=force, jobs=jobs, progress=progress_of(ref) if progress_of else None,
                        exiting=exiting and i == len(items) - 1)
        return
    background: list[Background] = []

    def start_rest() -> None:            # once the first framework's files are parsed
        if not background:
            background.append(Background(rest, force, jobs - 1, progress_of))

    ref, root = items[0]
    try:
        yield build(ref, root, force=force, jobs=jobs, progress=progress_of(ref) if progress_of else None,
                    after_parse=start_rest, exiting=exiting)
        start_rest()
        for i, (ref, root) in enumerate(rest):
            theirs = background[0].report(ref.key)
            if theirs is None:           # failed there, or never came back: built here, as it would be
                yield build(ref, root, force=force, jobs=jobs, progress=progress_of(ref) if progress_of else None,
                            exiting=exiting and i == len(rest) - 1)
                continue
            check = build(ref, root, jobs=jobs, exiting=exiting and i == len(rest) - 1)
            yield theirs if check.mode == "up-to-date" else check
    finally:
        for bg in background:
            bg.stop()


class Background:
    """The builds of `items`, one after the other, in a background interpreter."""

    def __init__(self, items: list[tuple[FrameworkRef, Path]], force: bool, jobs: int,
                 progress_of: Callable | None) -> None:
        named = progress_of is not None and "<" not in getattr(progress_of, "__qualname__", "<")
        request = {"items": [(ref, str(root)) for ref, root in items], "force": force, "jobs": jobs,
                   "progress_of": progress_of if named else None}
        path = [p for p in sys.path if p]
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVE.format(path=path)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._proc.stdin.write(pickle.dumps(request))
        self._proc.stdin.close()
        self._answers: queue.Queue = queue.Queue()
        # A few messages in all: a reader thread costs the resolution here nothing while it waits.
        threading.Thread(target=self._read, daemon=True).start()
        self._got: dict[str, IndexReport | None] = {}
        self._ended = False

    def _read(self) -> None:
        try:
            while True:
                key, report = pickle.load(self._proc.stdout)
                self._answers.put((key, report))
        except (EOFError, OSError, pickle.UnpicklingError):
            pass
        self._answers.put(None)

    def report(self, key: str) -> IndexReport | None:
        """The report of `key`'s build, waiting for it; None if it failed or never came back."""
        while key not in self._got:
            answer = None if self._ended else self._answers.get()
            if answer is None:
                self._ended = True
                return None
            self._got[answer[0]] = answer[1]
        return self._got[key]

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()


class _NotATerminal(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


def serve() -> None:
    """Background main: build each framework of the request in turn; after the first failure,
    stop (its build is run again by the caller, which reports the error as a sequential run).
    Interrupted (Ctrl-C reaches the whole process group) or left alone (the caller died, so its
    end of the pipe is gone), it stops without a word: the caller says what happened."""
    import os

    request = pickle.load(sys.stdin.buffer)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                        # anything printed goes to stderr, not into the answers
    # Progress in whole lines: two processes redrawing one terminal line would garble it.
    sys.stderr = _NotATerminal(os.fdopen(os.dup(2), "wb"), encoding=sys.stderr.encoding,
                               errors="backslashreplace", line_buffering=True)
    try:
        _serve(request, out)
    except (KeyboardInterrupt, BrokenPipeError):
        os._exit(1)


def _serve(request: dict, out) -> None:
    from .indexer import build

    progress_of = request["progress_of"]
    items = request["items"]
    for i, (ref, root) in enumerate(items):
        try:
            report = build(ref, Path(root), force=request["force"], jobs=request["jobs"],
                           progress=progress_of(ref) if progress_of else None, exiting=i == len(items) - 1)
        except Exception:                # noqa: BLE001 - the caller runs it again and reports it
            pickle.dump((ref.key, None), out)
            out.flush()
            return
        pickle.dump((ref.key, report), out)
        out.flush()
