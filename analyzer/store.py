"""The SQLite index: one file per framework@version, schema-versioned, never half-written.

A cold build writes a temporary database and renames it over the old one; an incremental update
rewrites the derived tables inside one transaction (a rollback journal), so a reader sees the old
index or the new one, never a mix, and a killed run leaves the previous index as it was.

Rollback journal, not WAL: a WAL database cannot be opened by a reader who cannot write its
folder (a read-only mount, another user's cache); with a rollback journal `mode=ro` reads it, and
an index left in WAL mode by an older infernav is read with `immutable=1` where its folder cannot
be written. Every sqlite3 error is one of the IndexProblem classes below by the time it leaves this
module, with a one-line reason (damaged, busy, cannot be written).
"""
from __future__ import annotations

import marshal
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

from .store_errors import CorruptIndex, IndexBusy, IndexProblem, IndexUnwritable, MissingIndex, StaleIndex
from .tempfiles import owned, remove_stale, why

__all__ = ["CorruptIndex", "IndexBusy", "IndexProblem", "IndexUnwritable", "MissingIndex", "StaleIndex"]

SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    path TEXT PRIMARY KEY, lang TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, errors INTEGER NOT NULL, facts BLOB
);
CREATE TABLE symbols (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, short TEXT NOT NULL, kind TEXT NOT NULL,
    lang TEXT NOT NULL, path TEXT NOT NULL, line INTEGER NOT NULL, end_line INTEGER NOT NULL,
    sig TEXT, doc TEXT, flags TEXT, parent INTEGER, decl_path TEXT, decl_line INTEGER
);
CREATE TABLE edges (
    src INTEGER NOT NULL, dst INTEGER NOT NULL, line INTEGER NOT NULL,
    resolution TEXT NOT NULL, via TEXT NOT NULL
);
CREATE TABLE overrides (sub INTEGER NOT NULL, base INTEGER NOT NULL);
CREATE TABLE aliases (name TEXT NOT NULL, target INTEGER NOT NULL);
CREATE TABLE unresolved (
    src INTEGER NOT NULL, line INTEGER NOT NULL, text TEXT NOT NULL, short TEXT NOT NULL,
    reason TEXT NOT NULL, target TEXT NOT NULL, partial INTEGER NOT NULL
);
"""
INDEXES = """
CREATE INDEX symbols_name ON symbols(name);
CREATE INDEX symbols_short ON symbols(short);
CREATE INDEX symbols_path ON symbols(path, line);
CREATE INDEX edges_src ON edges(src);
CREATE INDEX edges_dst ON edges(dst);
CREATE INDEX overrides_sub ON overrides(sub);
CREATE INDEX overrides_base ON overrides(base);
CREATE INDEX aliases_name ON aliases(name);
CREATE INDEX unresolved_src ON unresolved(src);
CREATE INDEX unresolved_short ON unresolved(short);
"""


TABLES = ("meta", "files", "symbols", "edges", "overrides", "aliases", "unresolved")
DatabaseError = sqlite3.DatabaseError   # for the CLI's last line of defence (it imports no sqlite3)
BUSY_TIMEOUT_S = 5.0


def _damaged(path: Path, exc: BaseException) -> IndexProblem:
    """The IndexProblem a sqlite3 error on `path` means."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return IndexBusy(path, f"another infernav (or another process) is writing this index ({text}); "
                               "try again when it is done")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return IndexUnwritable(path, f"cannot write the index ({text})")
    if "full" in text:
        return IndexUnwritable(path, f"cannot write the index (disk full: {text})")
    return CorruptIndex(path, f"index damaged, unreadable index ({text})")


class _Cursor(sqlite3.Cursor):
    """Cursors whose sqlite3 errors are IndexProblems naming the index."""

    def _wrap(self, fn, *args):
        try:
            return fn(*args)
        except sqlite3.Error as exc:
            raise _damaged(self.connection.index_path, exc) from None

    def execute(self, *args):
        return self._wrap(super().execute, *args)

    def executemany(self, *args):
        return self._wrap(super().executemany, *args)

    def fetchone(self):
        return self._wrap(super().fetchone)

    def fetchall(self):
        return self._wrap(super().fetchall)

    def fetchmany(self, *args):
        return self._wrap(super().fetchmany, *args)


class _Connection(sqlite3.Connection):
    index_path: Path

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, sql, params=()):
        return self.cursor().execute(sql, params)

    def executemany(self, sql, params):
        return self.cursor().executemany(sql, params)


def _open(path: Path, uri_args: str) -> _Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{uri_args}", uri=True, factory=_Connection,
                           timeout=BUSY_TIMEOUT_S)
    conn.index_path = path
    return conn


def _folder_writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)


def connect(path: Path, readonly: bool = True, verify: bool = False) -> sqlite3.Connection:
    """Open and validate an index. Raises MissingIndex, StaleIndex or CorruptIndex.

    `verify` also runs `PRAGMA quick_check` (about 0.1 s for vLLM's index: the indexer does it
    before it trusts stored facts; queries do not). A reader that cannot write the folder of an
    index left in WAL mode reads it as immutable."""
    if not path.exists():
        raise MissingIndex(path, "no index yet")
    try:
        conn = _open(path, "mode=ro" if readonly else "mode=rw")
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except IndexUnwritable:
            if not readonly or _folder_writable(path):
                raise
            conn = _open(path, "mode=ro&immutable=1")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        _validate(conn, path, tables, verify)
    except sqlite3.Error as exc:
        raise _damaged(path, exc) from None
    return conn


def _validate(conn: sqlite3.Connection, path: Path, tables: set[str], verify: bool) -> None:
    def bad(problem: IndexProblem):
        conn.close()
        raise problem

    if "meta" not in tables:
        bad(CorruptIndex(path, "index damaged: it has no meta table"))
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        bad(CorruptIndex(path, "index damaged: it has no schema version"))
    if not str(row[0]).isdigit():
        bad(CorruptIndex(path, f"index damaged: schema version {str(row[0])[:20]!r} is not a number"))
    if int(row[0]) != SCHEMA_VERSION:
        bad(StaleIndex(path, f"index schema {row[0]} is not this infernav's {SCHEMA_VERSION}"))
    done = conn.execute("SELECT value FROM meta WHERE key='complete'").fetchone()
    if done is None or done[0] != "1":
        bad(CorruptIndex(path, "index was never completed"))
    missing = [t for t in TABLES if t not in tables]
    if missing:
        bad(CorruptIndex(path, f"index damaged: table {', '.join(missing)} is missing"))
    if verify:
        result = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
        if result != ["ok"]:
            bad(CorruptIndex(path, f"index damaged (quick_check: {'; '.join(result)[:200]})"))


def decode_facts(blob: bytes, path: str = "?") -> dict:
    """A stored facts blob, or CorruptIndex when it is not one."""
    try:
        facts = marshal.loads(blob)
    except (ValueError, EOFError, TypeError) as exc:
        raise CorruptIndex(Path(path), f"index damaged: the stored facts of {path} cannot be read ({exc})") from None
    if not isinstance(facts, dict) or "path" not in facts:
        raise CorruptIndex(Path(path), f"index damaged: the stored facts of {path} are not facts")
    return facts


def writable(path: Path) -> bool:
    try:
        check_writable(path)
    except IndexUnwritable:
        return False
    return True


def check_writable(path: Path) -> None:
    """Raise IndexUnwritable now, before any parsing, when `path` cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexUnwritable(path, f"cannot write the index ({why(exc)})") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        ro = os.statvfs(path.parent).f_flag & os.ST_RDONLY
        raise IndexUnwritable(path, "cannot write the index (" + (
            "read-only file system" if ro else "permission denied: the cache belongs to another user") + ")")


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta"))


def file_states(conn: sqlite3.Connection) -> dict[str, tuple[str, str, int, int]]:
    """{path: (lang, content hash, size, mtime_ns)} of every stored file."""
    return {r[0]: r[1:] for r in conn.execute("SELECT path, lang, hash, size, mtime_ns FROM files").fetchall()}


def load_facts(conn: sqlite3.Connection, paths: set[str]) -> Iterator[dict]:
    """The stored facts of these files, decoded; CorruptIndex for a blob that is not facts."""
    cur = conn.execute("SELECT path, facts FROM files WHERE facts IS NOT NULL")
    while rows := cur.fetchmany(512):
        for rel, blob in rows:
            if rel in paths:
                yield decode_facts(blob, rel)


def all_facts(conn: sqlite3.Connection) -> list[dict]:
    """Every stored file's facts, decoded: what resolution reads (benches and tests resolve them)."""
    return [decode_facts(blob, rel) for rel, blob in
            conn.execute("SELECT path, facts FROM files WHERE facts IS NOT NULL")]


def error_paths(conn: sqlite3.Connection) -> set[str]:
    """Files whose stored facts came from a parse with ERROR regions."""
    return {r[0] for r in conn.execute("SELECT path FROM files WHERE errors != 0 AND facts IS NOT NULL").fetchall()}


def cpp_rows(conn: sqlite3.Connection, symbols: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """A stored C++ part's rows (resolve.graph.CppPart): symbols below id `symbols`, what leaves them."""
    return tuple(conn.execute(f"SELECT * FROM {t} WHERE {c} < ? ORDER BY rowid", (symbols,)).fetchall()
                 for t, c in (("symbols", "id"), ("edges", "src"), ("overrides", "sub")))


def file_facts_of(conn: sqlite3.Connection, paths: list[str]) -> dict[str, bytes]:
    """{path: stored facts blob} of these files (those that have facts)."""
    rows = (conn.execute("SELECT facts FROM files WHERE path=?", (rel,)).fetchone() for rel in paths)
    return {rel: row[0] for rel, row in zip(paths, rows) if row is not None and row[0] is not None}


def _symbol_rows(symbols: Iterable[Any]):
    for s in symbols:
        yield (s.id, s.name, s.short, s.kind, s.lang, s.path, s.line, s.end, s.sig, s.doc,
               s.flags, s.parent, s.decl_path, s.decl_line)


def _unresolved_rows(sites: Iterable[tuple]):
    """(src, line, text, short, reason, target, partial): `short` is the name called (`step_fn` of
    `self.step_fn()`); partial = 1 when the site also has edges."""
    shorts: dict[str, str] = {}   # a callee text recurs ~5 times (vLLM): its short name is made once
    for src, line, text, reason, target, partial in sorted(set(sites)):
        if text not in shorts:
            shorts[text] = text.replace("()", "").replace("[]", "").rsplit(".", 1)[-1].rsplit("::", 1)[-1]
        yield src, line, text, shorts[text], reason, target, partial


def _write_graph(conn: sqlite3.Connection, graph: Any) -> None:
    conn.executemany("INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", _symbol_rows(graph.symbols))
    conn.executemany("INSERT INTO edges VALUES (?,?,?,?,?)", sorted(graph.edges))
    conn.executemany("INSERT INTO overrides VALUES (?,?)", sorted(graph.overrides))
    conn.executemany("INSERT INTO aliases VALUES (?,?)", sorted(graph.aliases))
    conn.executemany("INSERT INTO unresolved VALUES (?,?,?,?,?,?,?)",
                     _unresolved_rows(getattr(graph, "unresolved_sites", ())))


def write_full(path: Path, meta: dict[str, Any], files: list[tuple], graph: Any) -> None:
    """Build a fresh index next to `path`, then atomically rename it into place."""
    check_writable(path)
    remove_stale(path.parent)
    tmp = owned(path.parent, path.name, "tmp")
    tmp.unlink(missing_ok=True)
    conn = None
    try:
        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO files VALUES (?,?,?,?,?,?,?)", files)
        _write_graph(conn, graph)
        conn.executescript(INDEXES)
        _write_meta(conn, meta)
        conn.commit()
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
        for side in ("-wal", "-shm", "-journal"):
            Path(f"{path}{side}").unlink(missing_ok=True)
        os.replace(tmp, path)
    except sqlite3.Error as exc:
        _discard(conn, tmp)
        raise _damaged(path, exc) from None
    except OSError as exc:
        _discard(conn, tmp)
        raise IndexUnwritable(path, f"cannot write the index ({why(exc)})") from None
    except BaseException:
        _discard(conn, tmp)
        raise


def _discard(conn, tmp: Path) -> None:
    if conn is not None:
        conn.close()
    tmp.unlink(missing_ok=True)


def write_incremental(path: Path, meta: dict[str, Any], changed: list[tuple], deleted: list[str],
                      touched: list[tuple], graph: Any) -> None:
    """Apply file changes and replace the derived tables in one transaction.

    Every derived row is rewritten, a reused C++ part's too: keeping those rows (tried: DELETE
    WHERE id >= K instead of emptying the tables) cost as much as it saved (0.62 vs 0.61 s, vLLM)."""
    _in_transaction(path, lambda conn: _apply(conn, meta, changed, deleted, touched, graph))


def write_delta(path: Path, meta: dict[str, Any], changed: list[tuple], symbols: list, edges: tuple[set, set],
                unresolved: tuple[set, set]) -> None:
    """A live index's edit (analyzer/live.py) in one transaction: the files' rows, the symbols
    whose rows changed (moved lines; same ids), the edges and unresolved sites that went (first
    of each pair) and came (second); overrides and aliases stay. Both tables hold sets (written
    from sets), so a delete matches one row."""
    def apply(conn) -> None:
        conn.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?)", changed)
        conn.executemany("INSERT OR REPLACE INTO symbols VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", _symbol_rows(symbols))
        conn.executemany("DELETE FROM edges WHERE src=? AND dst=? AND line=? AND resolution=? AND via=?",
                         sorted(edges[0]))
        conn.executemany("INSERT INTO edges VALUES (?,?,?,?,?)", sorted(edges[1]))
        conn.executemany("DELETE FROM unresolved WHERE src=? AND line=? AND text=? AND short=? AND reason=? "
                         "AND target=? AND partial=?", list(_unresolved_rows(unresolved[0])))
        conn.executemany("INSERT INTO unresolved VALUES (?,?,?,?,?,?,?)", _unresolved_rows(unresolved[1]))
        _write_meta(conn, meta)

    _in_transaction(path, apply)


def _in_transaction(path: Path, apply) -> None:
    """apply(conn) inside one transaction (rollback journal: an index left in WAL mode by an
    older infernav is switched back first); any failure rolls it back."""
    check_writable(path)
    try:
        conn = _open(path, "mode=rw")
        conn.isolation_level = None
    except sqlite3.Error as exc:
        raise _damaged(path, exc) from None
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-262144")   # 256 MiB: no spill, so readers wait only at commit
        conn.execute("BEGIN IMMEDIATE")
        apply(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except IndexProblem:
                pass
        raise
    finally:
        conn.close()


def _apply(conn, meta: dict[str, Any], changed: list[tuple], deleted: list[str], touched: list[tuple],
           graph: Any) -> None:
    conn.executemany("DELETE FROM files WHERE path=?", [(p,) for p in deleted])
    conn.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?)", changed)
    conn.executemany("UPDATE files SET size=?, mtime_ns=? WHERE path=?", touched)
    if graph is not None:
        # Rewriting every row is cheaper without the indexes; they are rebuilt in one pass.
        for name in _index_names():
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        for table in ("symbols", "edges", "overrides", "aliases", "unresolved"):
            conn.execute(f"DELETE FROM {table}")
        _write_graph(conn, graph)
        for stmt in INDEXES.strip().splitlines():
            conn.execute(stmt)
    _write_meta(conn, meta)


def _index_names() -> list[str]:
    return [line.split()[2] for line in INDEXES.strip().splitlines()]


def _write_meta(conn: sqlite3.Connection, meta: dict[str, Any]) -> None:
    rows = {**{k: str(v) for k, v in meta.items()}, "schema_version": str(SCHEMA_VERSION), "complete": "1"}
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)", sorted(rows.items()))
