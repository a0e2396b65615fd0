"""The SQLite index: one file per framework@version, schema-versioned, never half-written.

A cold build writes a temporary database and renames it over the old one; an incremental update
rewrites the derived tables inside one transaction (WAL), so a reader sees the old index or the
new one, never a mix, and a killed run leaves the previous index as it was.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

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


class IndexProblem(Exception):
    """The index cannot be used as it is; `reason` is one line for the user."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class MissingIndex(IndexProblem):
    pass


class StaleIndex(IndexProblem):
    pass


class CorruptIndex(IndexProblem):
    pass


def connect(path: Path, readonly: bool = True) -> sqlite3.Connection:
    """Open and validate an index. Raises MissingIndex, StaleIndex or CorruptIndex."""
    if not path.exists():
        raise MissingIndex(path, "no index yet")
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        else:
            conn = sqlite3.connect(path)
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise CorruptIndex(path, f"unreadable index ({exc})") from None
    if row is None:
        conn.close()
        raise CorruptIndex(path, "index has no schema version")
    if int(row[0]) != SCHEMA_VERSION:
        conn.close()
        raise StaleIndex(path, f"index schema {row[0]} is not this infernav's {SCHEMA_VERSION}")
    done = conn.execute("SELECT value FROM meta WHERE key='complete'").fetchone()
    if done is None or done[0] != "1":
        conn.close()
        raise CorruptIndex(path, "index was never completed")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta"))


def file_states(conn: sqlite3.Connection) -> dict[str, tuple[str, str, int, int]]:
    """{path: (lang, content hash, size, mtime_ns)} of every stored file."""
    return {r[0]: r[1:] for r in conn.execute("SELECT path, lang, hash, size, mtime_ns FROM files")}


def file_facts(conn: sqlite3.Connection, paths: set[str]) -> Iterator[bytes]:
    """The stored facts blobs of these files (those that have facts)."""
    for rel, blob in conn.execute("SELECT path, facts FROM files"):
        if rel in paths and blob is not None:
            yield blob


def file_facts_of(conn: sqlite3.Connection, paths: list[str]) -> dict[str, bytes]:
    """{path: stored facts blob} of these files (those that have facts)."""
    out = {}
    for rel in paths:
        row = conn.execute("SELECT facts FROM files WHERE path=?", (rel,)).fetchone()
        if row is not None and row[0] is not None:
            out[rel] = row[0]
    return out


def _symbol_rows(symbols: Iterable[Any]):
    for s in symbols:
        yield (s.id, s.name, s.short, s.kind, s.lang, s.path, s.line, s.end, s.sig, s.doc,
               s.flags, s.parent, s.decl_path, s.decl_line)


def _unresolved_rows(sites: Iterable[tuple]):
    """(src, line, text, short, reason, target, partial): `short` is the name called (`step_fn` of
    `self.step_fn()`); partial = 1 when the site also has edges."""
    for src, line, text, reason, target, partial in sorted(set(sites)):
        short = text.replace("()", "").replace("[]", "").rsplit(".", 1)[-1].rsplit("::", 1)[-1]
        yield src, line, text, short, reason, target, partial


def _write_graph(conn: sqlite3.Connection, graph: Any) -> None:
    conn.executemany("INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", _symbol_rows(graph.symbols))
    conn.executemany("INSERT INTO edges VALUES (?,?,?,?,?)", sorted(graph.edges))
    conn.executemany("INSERT INTO overrides VALUES (?,?)", sorted(graph.overrides))
    conn.executemany("INSERT INTO aliases VALUES (?,?)", sorted(graph.aliases))
    conn.executemany("INSERT INTO unresolved VALUES (?,?,?,?,?,?,?)",
                     _unresolved_rows(getattr(graph, "unresolved_sites", ())))


def write_full(path: Path, meta: dict[str, Any], files: list[tuple], graph: Any) -> None:
    """Build a fresh index next to `path`, then atomically rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO files VALUES (?,?,?,?,?,?,?)", files)
        _write_graph(conn, graph)
        conn.executescript(INDEXES)
        _write_meta(conn, meta)
        conn.commit()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
        for side in ("-wal", "-shm"):
            Path(f"{path}{side}").unlink(missing_ok=True)
        os.replace(tmp, path)
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise


def write_incremental(path: Path, meta: dict[str, Any], changed: list[tuple], deleted: list[str],
                      touched: list[tuple], graph: Any) -> None:
    """Apply file changes and replace the derived tables in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")
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
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _index_names() -> list[str]:
    return [line.split()[2] for line in INDEXES.strip().splitlines()]


def _write_meta(conn: sqlite3.Connection, meta: dict[str, Any]) -> None:
    rows = {**{k: str(v) for k, v in meta.items()}, "schema_version": str(SCHEMA_VERSION), "complete": "1"}
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)", sorted(rows.items()))
