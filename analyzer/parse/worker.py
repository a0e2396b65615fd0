"""The parse worker: read, hash and extract one file. The indexer's pool runs it in processes
forked from a fork server (multiprocessing's 'forkserver' context) that imported only this module,
so a worker holds a parser and one file's facts, never a copy of the indexer's memory (a plain
fork copied whatever the parent held: after vLLM's resolution, ~0.7 GB per worker, counted again
for each one).
"""
from __future__ import annotations

import hashlib
import marshal
import os

_ENV_PREFIX = "INFERNAV_"


def init_worker(env: dict[str, str]) -> None:
    """Pool initializer: the parent's INFERNAV_* variables (the fork server is started once per
    process and keeps the environment it was started with; a language registry set later must
    still reach the workers)."""
    for key in [k for k in os.environ if k.startswith(_ENV_PREFIX) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def infernav_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIX)}


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
