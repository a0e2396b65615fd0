"""The query API over one framework's index; the CLI, the notes engine and the site are thin
layers over it, and nothing else reads the index (tests/test_layout.py enforces it).

Every query reads SQLite directly (indexed lookups, breadth-first walks in SQL batches), so a CLI
call never loads the whole graph; networkx is imported only for k-shortest paths.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from .. import store
from .ranking import GRAPH_RANK, FanOut, Members, Ranked, RankedGraph, Ranking, rank_hits
from .rows import AmbiguousSymbol, Hit, SymbolNotFound, SymbolRow
from .summary import Summary
from .unresolved import Sites, UnresolvedSite
from .walks import ALL_RESOLUTIONS, DEFAULT_RESOLUTIONS, RESOLUTION_ORDER, Walks

__all__ = ["ALL_RESOLUTIONS", "DEFAULT_RESOLUTIONS", "GRAPH_RANK", "RESOLUTION_ORDER", "AmbiguousSymbol", "FanOut", "Hit",
           "Index", "Ranked", "RankedGraph", "SymbolNotFound", "SymbolRow", "UnresolvedSite", "rank_hits"]

_COLUMNS = "id, name, short, kind, lang, path, line, end_line, sig, doc, flags, parent, decl_path, decl_line"
# `vllm/v1/core/block_pool.py:299` (a source path and a line), never `ns::f` or `mod.f`.
_PATH_LINE = re.compile(r"^(.+\.(?:py|pyi|cu|cuh|cc|cpp|cxx|c|h|hh|hpp|inl)):(\d+)$")


class Index(Walks, Ranking, Members, Summary, Sites):
    """A read-only view of one framework@version index."""

    def __init__(self, path: Path):
        self.path = path
        self.conn: sqlite3.Connection = store.connect(path)
        self.meta = store.read_meta(self.conn)

    def close(self) -> None:
        self.conn.close()

    # ---------------------------------------------------------------- symbols
    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[SymbolRow]:
        return [SymbolRow(*r) for r in self.conn.execute(sql, tuple(args))]

    def symbol(self, sid: int) -> SymbolRow:
        return self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE id=?", (sid,))[0]

    def symbols(self, ids: Iterable[int]) -> dict[int, SymbolRow]:
        ids = list(set(ids))
        out: dict[int, SymbolRow] = {}
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            marks = ",".join("?" * len(chunk))
            for r in self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE id IN ({marks})", chunk):
                out[r.id] = r
        return out

    def exact(self, name: str) -> list[SymbolRow]:
        """Symbols with exactly this canonical name (no suffix or alias matching)."""
        return self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE name=?", (name,))

    def lookup(self, query: str) -> list[SymbolRow]:
        """Symbols a user's text names: canonical name, unique suffix, or path:line.

        Returns one symbol, or several that share one canonical name (overloads, CPU/CUDA twins).
        Raises SymbolNotFound (with near names) or AmbiguousSymbol (with candidates).
        """
        q = query.strip()
        m = _PATH_LINE.match(q)
        if m:
            return self._at_line(m.group(1), int(m.group(2)), q)
        rows = self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE name=?", (q,))
        if rows:
            return rows
        rows = self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE id IN (SELECT target FROM aliases WHERE name=?)", (q,))
        if rows:
            return rows
        short = re.split(r"::|\.", q)[-1]
        cands = self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE short=?", (short,))
        if q != short:
            cands = [r for r in cands if _suffix_match(r.name, q)]
        names = sorted({r.name for r in cands})
        if len(names) == 1:
            return [r for r in cands if r.name == names[0]]
        if len(names) > 1:
            # Prefer definitions over the modules/classes that happen to share a short name.
            raise AmbiguousSymbol(q, sorted(cands, key=lambda r: (r.name, r.path, r.line)))
        raise SymbolNotFound(q, self.suggest(q))

    def _at_line(self, path: str, line: int, q: str) -> list[SymbolRow]:
        """The innermost symbol at path:line; `path` may be a suffix of one indexed file's path
        (`utils.py:10` where 33 files end in utils.py is ambiguous, not the first of them)."""
        like = "%/" + _like_escape(path)
        files = [r[0] for r in self.conn.execute(
            "SELECT DISTINCT path FROM symbols WHERE path=? OR path LIKE ? ESCAPE '\\'", (path, like))]
        if path in files:
            files = [path]
        if not files or line > 2**62:
            raise SymbolNotFound(q, [], f"no symbol at {q}" + ("" if files else f" (no indexed file {path})"))
        if len(files) > 1:
            rows = self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE path IN ({','.join('?' * len(files))}) "
                              "AND kind='module'", files)
            raise AmbiguousSymbol(q, rows, files=files)
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM symbols WHERE path=? AND line<=? AND end_line>=? "
            "AND kind NOT IN ('module') ORDER BY (end_line-line) LIMIT 1", (files[0], line, line))
        if not rows:
            rows = self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE path=? AND kind='module'", (files[0],))
        if not rows:
            raise SymbolNotFound(q, [], f"no symbol at {q}")
        return rows

    def suggest(self, query: str, n: int = 5) -> list[str]:
        import difflib

        short = re.split(r"::|\.", query)[-1]
        shorts = [r[0] for r in self.conn.execute("SELECT DISTINCT short FROM symbols")]
        near = difflib.get_close_matches(short, shorts, n=n, cutoff=0.6)
        low = short.lower()
        near += [s for s in shorts if low and low in s.lower() and s not in near][: n]
        out = []
        for s in near[:n]:
            row = self.conn.execute("SELECT name FROM symbols WHERE short=? ORDER BY length(name) LIMIT 1", (s,)).fetchone()
            if row:
                out.append(row[0])
        return out

    def find(self, pattern: str, kind: str | None = None, limit: int = 50) -> list[SymbolRow]:
        """Symbols whose name matches a glob (`*Scheduler*`) or contains the text (case-insensitive)."""
        # LIKE's own wildcards (`%`, `_`) and the escape character are literal text here; only
        # the glob's `*` and `?` are wildcards. An empty pattern is the caller's error.
        if any(c in pattern for c in "*?"):
            like = _like_escape(pattern).replace("*", "%").replace("?", "_")
            sql, args = f"SELECT {_COLUMNS} FROM symbols WHERE name LIKE ? ESCAPE '\\'", [like]
            if not pattern.startswith("*"):
                sql += " OR short LIKE ? ESCAPE '\\'"
                args.append(like)
        else:
            text = f"%{_like_escape(pattern)}%"
            sql, args = (f"SELECT {_COLUMNS} FROM symbols WHERE short LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\'",
                         [text, text])
        if kind:
            sql = f"SELECT * FROM ({sql}) WHERE kind=?"
            args.append(kind)
        rows = self._rows(sql, args)
        low = pattern.lower().strip("*")
        rows.sort(key=lambda r: (r.short.lower() != low, not r.name.lower().endswith(low), len(r.name), r.name))
        return rows[:limit]


def _like_escape(text: str) -> str:
    """Text for a LIKE pattern with '%', '_' and the escape character '\\' taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _suffix_match(name: str, query: str) -> bool:
    """`Scheduler.schedule` matches `...sched.scheduler.Scheduler.schedule`; `::` and `.` both ok."""
    n = name.replace("::", ".")
    q = query.replace("::", ".")
    return n == q or n.endswith("." + q)
