"""Build or refresh a framework's index: scan, hash, parse what changed on all cores, resolve, store.

Per-file facts are kept in the index (marshal blobs), so a one-file edit re-parses that file only
(plus the files whose module name an added or removed `__init__.py` changed); every stored file is
hashed, so an edit that kept its size and mtime is seen. Resolution then re-runs over all Python
facts (vLLM: ~5 s, nearly all of it the Python value flow; see NOTES "Python resolution") so edges
that cross files stay exactly what a cold index would produce; the C++ part of the graph is reused
when no C++ file, setting or resolver version changed (reuse.py); an edit whose facts come out as
they were keeps the derived tables. Several frameworks in one run are built side by side
(pipeline.build_many).
"""
from __future__ import annotations

import json
import marshal
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import store
from .parse import EXTRACTOR_VERSION, MAX_FILE_BYTES, language_of
from .parse.languages import needs_module_name, resolver_of
from .resolve import RESOLVER_VERSION
from . import sources
from .sources import FrameworkRef, index_path, walk

# Below this many files to parse, worker start-up costs more than it saves.
_PARALLEL_MIN_FILES = 24


@dataclass
class IndexReport:
    framework: str
    path: Path
    mode: str                     # 'cold' | 'incremental' | 'up-to-date'
    files: int = 0
    parsed: int = 0
    deleted: int = 0
    symbols: int = 0
    edges: int = 0
    parse_error_files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (path, why)
    seconds: dict[str, float] = field(default_factory=dict)
    reason: str = ""              # why a cold build happened, if not asked for
    reresolve: bool = False       # the stored graph came from another resolver version
    reused: list[str] = field(default_factory=list)   # parts of the stored graph kept, not re-resolved


def _usable_cores() -> int:
    """Cores this process may run on (taskset, cpusets), not all the machine has."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _scan(root: Path, roots: list[str], skipped: list | None = None) -> list[tuple[str, str, int, int]]:
    """(relative path, language, size, mtime_ns) of every indexable file (sources/walk.py)."""
    return walk.scan(root, roots, skipped)


_module_names = walk.module_names


def _parse_many(root: Path, todo: list[tuple], jobs: int, progress: Callable | None) -> list[tuple]:
    """parse_one over `todo`, on all cores."""
    from .parse.worker import parse_in_workers, parse_one

    args = [(str(root), *t) for t in todo]
    if len(args) < _PARALLEL_MIN_FILES or jobs <= 1:
        out = []
        for i, a in enumerate(args):
            out.append(parse_one(a))
            if progress and i % 100 == 0:
                progress("parse", i, len(args))
        out.sort(key=lambda r: r[0])
        return out
    sizes = {t[0]: walk.size_of(root, t[0]) for t in todo}
    out = parse_in_workers(args, sizes, jobs, progress)
    out.sort(key=lambda r: r[0])
    return out


def build(ref: FrameworkRef, root: Path, *, force: bool = False, jobs: int | None = None,
          progress: Callable | None = None, after_parse: Callable | None = None,
          exiting: bool = False, keep: dict | None = None) -> IndexReport:
    """Index `ref` whose source tree is at `root`; incremental unless `force` or no usable index.

    progress(stage, done, total), if given, hears about the parse and resolve stages. The source
    is verified against its pin first (sources.verify), and the index checked writable before
    anything is parsed (an up-to-date index in a read-only cache is fine); damage found in the
    previous index on the way rebuilds it cold. `after_parse` is pipeline.build_many's: what to do
    once this tree's files are parsed (start the other frameworks' builds on the cores left). `exiting`: the process
    ends once this build returns (`infernav index`), so the resolvers' tables are not freed one
    object at a time (0.8 s on vLLM, bench/edit_profile.py): they are left as cyclic garbage the frozen collector never
    walks (gcpause), and go with the process. `keep`: a live index's (analyzer/live.py): where
    this build resolves, the solved Python resolver is left in it (resolve's `keep`); a build that
    finds the index up to date leaves it empty."""
    from .gcpause import paused

    sources.verify(ref, root)
    with paused():   # millions of objects, no cyclic garbage unless exiting: see gcpause
        try:
            return _build(ref, root, force=force, jobs=jobs, progress=progress, after_parse=after_parse,
                          exiting=exiting, keep=keep)
        except store.CorruptIndex as exc:
            if force:
                raise
            report = _build(ref, root, force=True, jobs=jobs, progress=progress, after_parse=after_parse,
                            exiting=exiting, keep=keep)
            report.reason = f"{exc.reason}; rebuilding"
            return report


def _build(ref: FrameworkRef, root: Path, *, force: bool, jobs: int | None, progress: Callable | None,
           after_parse: Callable | None = None, exiting: bool = False, keep: dict | None = None) -> IndexReport:
    t0 = time.perf_counter()
    jobs = jobs or _usable_cores()
    path = index_path(ref)
    report = IndexReport(ref.key, path, "cold")
    scanned = _scan(root, ref.index_roots(root), report.skipped)
    report.files = len(scanned)
    context = {**ref.parse_context(), "fingerprint": _context_fingerprint(ref)}
    conn, stored = _open_previous(path, root, context["fingerprint"], force, report)
    report.seconds["scan"] = time.perf_counter() - t0
    todo, touched, unchanged = _plan(root, scanned, stored, context)
    present = {p for p, *_ in scanned}
    deleted = [p for p in stored if p not in present]
    report.deleted = len(deleted)
    if report.mode == "incremental" and not todo and not deleted and not report.reresolve:
        return _up_to_date(path, conn, touched, report, t0)

    t1 = time.perf_counter()
    store.check_writable(path)   # a read-only or shared cache says so before anything is parsed
    parsed = _parse_many(root, todo, jobs, progress)
    report.parsed = len(parsed)
    report.seconds["parse"] = time.perf_counter() - t1
    if after_parse:
        after_parse()
    if report.mode == "incremental" and not deleted and not report.reresolve and _same_facts(conn, parsed, stored):
        # Resolution is a pure function of the facts: the derived tables stay as they are.
        return _up_to_date(path, conn, touched, report, t0, rows=[r[:7] for r in parsed])
    t2 = time.perf_counter()
    from . import reuse      # here, not at import: queries load this module and never build

    cpp_key = reuse.cpp_key(ref, stored, unchanged, parsed)
    part = reuse.stored_cpp(conn, cpp_key) if report.mode == "incremental" and not report.reresolve else None
    rows, facts, skipped_errors = _load(parsed, conn, stored, unchanged, part is not None, report)
    report.seconds["load"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    if progress:
        progress("resolve", 0, 0)
    from .resolve import resolve

    graph = resolve(facts, ref.settings, cpp=part, release=not exiting, keep=keep)
    report.seconds["resolve"] = time.perf_counter() - t3
    report.parse_error_files = sorted([f["path"] for f in facts if f["errors"]] + skipped_errors)
    report.symbols, report.edges = len(graph.symbols), len(graph.edges)
    report.reused = ["C++ resolution"] if part is not None else []

    t4 = time.perf_counter()
    meta = _meta(ref, root, context["fingerprint"], report, graph)
    meta["cpp_part"] = json.dumps({"key": cpp_key, **graph.cpp.summary()})
    if report.mode == "cold":
        store.write_full(path, meta, rows, graph)
    else:
        store.write_incremental(path, meta, rows, deleted, touched, graph)
    report.seconds["store"] = time.perf_counter() - t4
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _load(parsed: list, conn, stored: dict, unchanged: list[str], cpp_reused: bool,
          report: IndexReport) -> tuple[list, list, list[str]]:
    """File rows to store, the facts resolution reads, and the files with parse errors among
    those whose facts it does not read (the C++ files, when the C++ part is reused)."""
    if not cpp_reused:
        return *_collect_facts(parsed, conn, unchanged, report), []
    skip = {p for p in unchanged if resolver_of(stored[p][0]) == "cpp"}
    errors = sorted(store.error_paths(conn) & skip)
    return *_collect_facts(parsed, conn, [p for p in unchanged if p not in skip], report), errors


def _context_fingerprint(ref: FrameworkRef) -> str:
    """Extractor version plus the engine settings extraction depends on: stored facts made under
    other values are re-parsed."""
    import hashlib
    import json

    text = json.dumps([EXTRACTOR_VERSION, ref.parse_context()], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _open_previous(path: Path, root: Path, fingerprint: str, force: bool, report: IndexReport):
    """(connection, {path: (lang, hash, size, mtime)}) of a previous index fit for an incremental run."""
    if force:
        return None, {}
    try:
        conn = store.connect(path, verify=True)
    except store.MissingIndex:
        return None, {}
    except store.IndexProblem as exc:
        report.reason = f"{exc.reason}; rebuilding"
        return None, {}
    meta = store.read_meta(conn)
    if meta.get("extractor_version") != str(EXTRACTOR_VERSION):
        report.reason = "extractor changed since the last index"
    elif meta.get("parse_context", fingerprint) != fingerprint:
        report.reason = "the engine's parse settings changed since the last index"
    elif meta.get("root") != str(root):
        report.reason = f"source moved ({meta.get('root')} -> {root})"
    else:
        report.mode = "incremental"
        if meta.get("resolver_version") != str(RESOLVER_VERSION):
            report.reresolve = True
            report.reason = "resolution changed since the last index; re-resolving the stored facts"
        return conn, store.file_states(conn)
    return conn, {}


def _plan(root: Path, scanned: list, stored: dict, context: dict) -> tuple[list, list, list]:
    """What to parse: new files, files whose content hash changed, and files whose module name
    changed (an `__init__.py` added or removed above them: package structure).

    Every stored file is hashed, not only those whose size or mtime moved: an edit of the same
    size with its mtime restored (`touch -r`, archive extraction, some editors) must not be missed,
    and hashing vLLM's 18 MiB costs ~0.15 s. Files whose hash is unchanged but whose size or mtime
    moved are `touched` (the stored stamps are refreshed)."""
    import hashlib

    modules = _module_names([p for p, *_ in scanned])
    before = _module_names(list(stored)) if stored else {}
    todo, touched, unchanged = [], [], []
    for rel, lang, size, mtime in scanned:
        old = stored.get(rel)
        ctx = dict(context, lang=lang)
        if needs_module_name(lang):
            ctx["module"], ctx["is_package"] = modules.get(rel, ("", False))
        if old is None or old[0] != lang or before.get(rel) != modules.get(rel):
            todo.append((rel, lang, ctx))
            continue
        data = walk.read_source(root, rel, MAX_FILE_BYTES)[0]
        # unreadable or odd now: parsed again, which records why
        digest = hashlib.blake2b(data, digest_size=16).hexdigest() if data is not None else ""
        if digest != old[1]:
            todo.append((rel, lang, ctx))
            continue
        unchanged.append(rel)
        if old[2] != size or old[3] != mtime:
            touched.append((size, mtime, rel))
    return todo, touched, unchanged


def _same_facts(conn, parsed: list, stored: dict) -> bool:
    """Whether every re-parsed file was indexed before and gave the same facts as then (an edit of
    a comment, of whitespace inside a line, of a string the facts do not keep)."""
    if any(r[0] not in stored or r[6] is None for r in parsed):
        return False
    old = store.file_facts_of(conn, [r[0] for r in parsed])
    for rel, lang, _digest, _size, _mtime, _errors, blob, _why in parsed:
        was = old.get(rel)
        if was is None or stored[rel][0] != lang or marshal.loads(was) != marshal.loads(blob):
            return False
    return True


def _up_to_date(path: Path, conn, touched: list, report: IndexReport, t0: float, rows=()) -> IndexReport:
    """Nothing to resolve: no file changed (`touched`: stamps moved, content did not), or the
    changed files' facts are what they were (`rows`: their new hashes and stamps)."""
    conn.close()
    if rows or (touched and store.writable(path)):   # stamps alone are remembered only where the index can be written
        store.write_incremental(path, {}, list(rows), [], touched, None)
    report.mode = "incremental" if rows else "up-to-date"
    meta = store.read_meta(store.connect(path))
    report.symbols, report.edges = int(meta.get("symbols", 0)), int(meta.get("edges", 0))
    report.parse_error_files = [p for p in meta.get("parse_error_files", "").split("\n") if p]
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _collect_facts(parsed: list, conn, unchanged: list[str], report: IndexReport) -> tuple[list, list]:
    """File rows to store, and the facts of every file: the new ones and the unchanged stored ones.

    Unmarshalling vLLM's facts makes millions of tuples; the cyclic collector's passes over them
    would cost five times the unmarshalling, and there is nothing to collect: it waits (gcpause;
    `_build` holds the pause until the store is written)."""
    from .gcpause import paused

    with paused():
        return _unmarshal_facts(parsed, conn, unchanged, report)


def _unmarshal_facts(parsed: list, conn, unchanged: list[str], report: IndexReport) -> tuple[list, list]:
    facts, rows = [], []
    for rel, lang, digest, size, mtime, errors, blob, why in parsed:
        rows.append((rel, lang, digest, size, mtime, errors, blob))
        if blob is not None:
            facts.append(marshal.loads(blob))
        if why:
            report.skipped.append((rel, why))
    if unchanged and conn is not None:
        facts.extend(store.load_facts(conn, set(unchanged)))
    if conn is not None:
        conn.close()
    return rows, facts


def _meta(ref: FrameworkRef, root: Path, fingerprint: str, report: IndexReport, graph) -> dict:
    return {
        "framework": ref.name, "version": ref.version, "root": str(root),
        "roots": "\n".join(ref.index_roots(root)),     # the engine's and any placed companion's
        "extractor_version": EXTRACTOR_VERSION, "resolver_version": RESOLVER_VERSION,
        "parse_context": fingerprint, "files": report.files,
        "symbols": report.symbols, "edges": report.edges, "overrides": len(graph.overrides),
        "resolved_calls": graph.resolved_calls, "unresolved_calls": graph.unresolved,
        "parse_error_files": "\n".join(report.parse_error_files),
        "skipped_files": "\n".join(f"{p}\t{why}" for p, why in report.skipped),
        "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
