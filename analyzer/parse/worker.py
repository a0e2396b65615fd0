"""Parse workers: read, hash and extract one file (`parse_one`), and `parse_in_workers`, which runs
it in fresh interpreters (`python -c ... serve()`) that import only this module and its parsers.

Fresh processes, not forks: a fork copied whatever the indexer held (after vLLM's resolution,
~0.7 GB, counted again for each worker: 2.1 GB for the tree), and multiprocessing's 'spawn' and
'forkserver' re-run the caller's __main__ in every worker (a script calling build() at top level
then fails). Tasks and results travel as marshal over pipes: each worker gets its share at start
(files spread by size, biggest first) and streams one result per file back; only marshalled
facts, never live objects, cross.
"""
from __future__ import annotations

import hashlib
import marshal
import os


def serve() -> None:
    """Worker main: a list of tasks on stdin, one marshalled result per task on stdout."""
    import sys

    out = sys.stdout.buffer
    for task in marshal.load(sys.stdin.buffer):
        marshal.dump(parse_one(task), out)
        out.flush()


_WORKER = "import marshal, sys; sys.path[:0] = marshal.load(sys.stdin.buffer); from {} import serve; serve()"


def _shares(tasks: list[tuple], sizes: dict[str, int], jobs: int) -> list[list[tuple]]:
    """Tasks spread over `jobs` workers by size, biggest first (the empty shares dropped)."""
    shares: list[list[tuple]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for t in sorted(tasks, key=lambda t: -sizes.get(t[1], 0)):
        i = loads.index(min(loads))
        shares[i].append(t)
        loads[i] += sizes.get(t[1], 0) + 4096
    return [s for s in shares if s]


def _lost(t: tuple, rc) -> tuple:
    return (t[1], t[2], "", 0, 0, 0, None, f"extractor failed: its parse worker exited ({rc})")


def parse_in_workers(tasks: list[tuple], sizes: dict[str, int], jobs: int, progress=None) -> list[tuple]:
    """parse_one over tasks in `jobs` worker processes; results in no particular order. A worker that
    dies costs its unfinished files (recorded with the reason), not the index."""
    import queue
    import subprocess
    import sys
    import threading

    code = _WORKER.format(__name__)
    results: queue.Queue = queue.Queue()

    def run(share: list[tuple]) -> None:
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        done = set()
        try:
            marshal.dump([p for p in sys.path if p], proc.stdin)
            marshal.dump(share, proc.stdin)
            proc.stdin.close()
            while len(done) < len(share):
                r = marshal.load(proc.stdout)
                done.add(r[0])
                results.put(r)
        except (EOFError, ValueError, OSError):
            pass
        rc = proc.wait()
        for t in share:
            if t[1] not in done:
                results.put(_lost(t, rc))
        results.put(None)

    threads = [threading.Thread(target=run, args=(share,), daemon=True) for share in _shares(tasks, sizes, jobs)]
    for th in threads:
        th.start()
    out, running = [], len(threads)
    while running:
        r = results.get()
        if r is None:
            running -= 1
            continue
        out.append(r)
        if progress and len(out) % 100 == 0:
            progress("parse", len(out), len(tasks))
    for th in threads:
        th.join()
    return out


def parse_one(args: tuple) -> tuple:
    """(rel, lang, hash, size, mtime_ns, errors, marshalled facts | None, why-not | '').
    Never raises: failures become a recorded reason."""
    from ..sources import walk
    from . import MAX_FILE_BYTES

    root, rel, lang, context = args
    data, st, why = walk.read_source(root, rel, MAX_FILE_BYTES)   # regular files only, bounded reads
    if data is None:   # kept with no hash (and no stat if unreadable): the next run looks again
        return (rel, lang, "", st.st_size if st else 0, st.st_mtime_ns if st else 0, 0, None, why)
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    import gc

    paused = gc.isenabled()
    gc.disable()           # extraction builds many tuples and frees none: collecting is wasted time
    try:
        from . import extract_file

        facts = extract_file(lang, walk.as_utf8(data, lang), rel, context)
    except Exception as exc:  # an extractor bug must cost one file, not the index
        return (rel, lang, digest, st.st_size, st.st_mtime_ns, 0, None, f"extractor failed: {exc!r}")
    finally:
        if paused:
            gc.enable()
    return (rel, lang, digest, st.st_size, st.st_mtime_ns, facts["errors"], marshal.dumps(facts), "")
