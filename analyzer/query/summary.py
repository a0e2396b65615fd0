"""Whole-index views: statistics, iteration for exports, file and directory summaries, source text."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .rows import SymbolRow
from .signature import HEADER_KINDS


class Summary:
    """Mixin of Index: needs `conn`, `meta` and `_rows()`."""

    def stats(self) -> dict[str, Any]:
        c = self.conn
        kinds = dict(c.execute("SELECT kind, count(*) FROM symbols GROUP BY kind ORDER BY 2 DESC"))
        res = dict(c.execute("SELECT resolution, count(*) FROM edges GROUP BY resolution ORDER BY 2 DESC"))
        via = dict(c.execute("SELECT via, count(*) FROM edges GROUP BY via ORDER BY 2 DESC"))
        langs = dict(c.execute("SELECT lang, count(*) FROM files GROUP BY lang ORDER BY 2 DESC"))
        errors = [p for p in self.meta.get("parse_error_files", "").split("\n") if p]
        skipped = [p for p in self.meta.get("skipped_files", "").split("\n") if p]
        resolved = int(self.meta.get("resolved_calls", 0))
        unresolved = int(self.meta.get("unresolved_calls", 0))
        return {
            "framework": f"{self.meta.get('framework')}@{self.meta.get('version')}",
            "root": self.meta.get("root"), "indexed_at": self.meta.get("indexed_at"),
            "files": langs, "symbols": kinds, "edges": {"by_resolution": res, "by_via": via},
            "overrides": int(self.meta.get("overrides", 0)),
            "call_sites": {"resolved": resolved, "unresolved": unresolved},
            "parse_error_files": errors, "skipped_files": skipped,
        }

    # ---------------------------------------------------------------- whole-index iteration
    def all_symbols(self) -> Iterable[tuple[int, str, str, str, int, int]]:
        """(id, name, kind, path, line, end_line) of every symbol, for exports and digests."""
        return self.conn.execute("SELECT id, name, kind, path, line, end_line FROM symbols ORDER BY id")

    def all_edges(self) -> Iterable[tuple[int, int, int, str, str]]:
        """(src, dst, line, resolution, via) of every edge."""
        return self.conn.execute("SELECT src, dst, line, resolution, via FROM edges")

    def all_overrides(self) -> Iterable[tuple[int, int]]:
        """(overriding method, overridden method) pairs."""
        return self.conn.execute("SELECT sub, base FROM overrides")

    def body(self, row: SymbolRow) -> str | None:
        """The symbol's whole source text (definition lines), or None if the source is absent."""
        lines = self.source_lines(row, max_lines=1 << 30)
        return None if lines is None else "\n".join(t for _, t in lines)

    def signature(self, row: SymbolRow, lines: list[tuple[int, str]] | None = None) -> str:
        """The header as written in the source, comments and decorators dropped (query/signature.py);
        the index's one-line `sig` when the source is absent. `lines`: the symbol's source lines
        from its first line, when the caller has them already."""
        from .signature import MAX_HEADER_LINES, header_signature

        if lines is None and row.kind in HEADER_KINDS:
            lines = self.source_lines(row, max_lines=MAX_HEADER_LINES)
        return header_signature(row, lines)

    def source_lines(self, row: SymbolRow, context: int = 0, max_lines: int = 60) -> list[tuple[int, str]] | None:
        """(line number, text) of a symbol's source from the fetched tree, or None if absent."""
        root = self.meta.get("root")
        if not root:
            return None
        p = Path(root) / row.path
        try:
            with open(p, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None
        start = max(row.line - 1 - context, 0)
        end = min(row.end_line + context, len(lines), start + max_lines)
        return [(i + 1, lines[i]) for i in range(start, end)]



    # ---------------------------------------------------------------- for release diffs
    def symbols_under(self, prefix: str | None = None) -> list[SymbolRow]:
        """Every symbol whose file is `prefix` or lies under the folder `prefix` (all when None),
        ordered by (path, line): one pass over the index for `infernav diff`."""
        from . import _COLUMNS

        where, args = _under(prefix, "path")
        return self._rows(f"SELECT {_COLUMNS} FROM symbols{where} ORDER BY path, line, end_line DESC, id", args)

    def file_hashes(self, prefix: str | None = None) -> dict[str, str]:
        """{path: content hash} of the indexed files under `prefix` (equal hashes: equal files)."""
        where, args = _under(prefix, "path")
        return dict(self.conn.execute(f"SELECT path, hash FROM files{where}", args))

    def edges_from(self, prefix: str | None = None) -> list[tuple[int, int, str, str, int]]:
        """(src, dst, resolution, via, call line) of every edge whose caller's file is under
        `prefix` (all when None), one row per call site."""
        where, args = _under(prefix, "path")
        sql = "SELECT src, dst, resolution, via, line FROM edges"
        if where:
            sql += f" WHERE src IN (SELECT id FROM symbols{where})"
        return self.conn.execute(sql, args).fetchall()

    def names_of(self, ids: Iterable[int]) -> dict[int, str]:
        """{id: canonical name} of these symbols."""
        ids = list(set(ids))
        out: dict[int, str] = {}
        for i in range(0, len(ids), 900):
            chunk = ids[i: i + 900]
            out.update(self.conn.execute(f"SELECT id, name FROM symbols WHERE id IN ({','.join('?' * len(chunk))})",
                                         chunk))
        return out

    def caller_counts(self) -> dict[int, int]:
        """{symbol id: distinct callers} over the whole index (a cheap centrality)."""
        return dict(self.conn.execute("SELECT dst, count(DISTINCT src) FROM edges GROUP BY dst"))

    def file_lines(self, path: str) -> list[str] | None:
        """A fetched source file's lines (no line ends), or None when the source is absent."""
        root = self.meta.get("root")
        if not root:
            return None
        try:
            with open(Path(root) / path, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None

    # ---------------------------------------------------------------- for notes and the site
    def files_named(self, basename: str) -> list[str]:
        """Indexed file paths whose last component is `basename` (a moved file's candidates)."""
        pattern = "%/" + basename.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute("SELECT path FROM files WHERE path LIKE ? ESCAPE '\\'", (pattern,))
        return [p for (p,) in rows]

    def same_kind_candidates(self, path: str, short: str, kind: str) -> list[SymbolRow]:
        """Symbols of `kind` in file `path` or with short name `short` (a renamed symbol's candidates)."""
        from . import _COLUMNS

        return self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE (path=? AND kind=?) OR (short=? AND kind=?)",
                          (path, kind, short, kind))

    def call_pairs(self, resolutions: set[str] | None = None) -> list[tuple[int, int]]:
        """Distinct (caller, callee) pairs, optionally of some resolutions only (for rankings)."""
        rows = self.conn.execute("SELECT DISTINCT src, dst, resolution FROM edges")
        return sorted({(s, d) for s, d, r in rows if resolutions is None or r in resolutions})

    def directories(self, limit: int = 25) -> list[tuple[str, int, int, int]]:
        """(top two path components, files, symbols, call edges out) of the biggest directories."""
        top = "rtrim(substr({p}, 1, instr(substr({p}, instr({p}, '/') + 1), '/') + instr({p}, '/')), '/')"
        rows = self.conn.execute(
            f"SELECT d, count(DISTINCT path), count(*) FROM (SELECT path, {top.format(p='path')} AS d "
            f"FROM symbols) GROUP BY d ORDER BY 3 DESC LIMIT ?", (limit,)).fetchall()
        calls = dict(self.conn.execute(
            f"SELECT {top.format(p='s.path')}, count(*) FROM edges e JOIN symbols s ON s.id = e.src GROUP BY 1"))
        return [(d or "(top)", files, syms, calls.get(d, 0)) for d, files, syms in rows]

    def uncalled_functions(self, limit: int = 200) -> list[int]:
        """Functions and methods nothing in the index calls, most calls out first (entry points)."""
        rows = self.conn.execute(
            """SELECT s.id, count(e.dst) AS outdeg FROM symbols s JOIN edges e ON e.src = s.id
               WHERE s.kind IN ('function', 'method') AND s.short NOT LIKE 'test%'
                 AND s.path NOT LIKE '%test%' AND NOT EXISTS (SELECT 1 FROM edges x WHERE x.dst = s.id)
               GROUP BY s.id ORDER BY outdeg DESC LIMIT ?""", (limit,)).fetchall()
        return [sid for sid, _ in rows]


def _under(prefix: str | None, column: str) -> tuple[str, tuple]:
    """A WHERE clause for `column` equal to `prefix` or inside the folder `prefix` (case-sensitive,
    unlike LIKE)."""
    prefix = (prefix or "").strip().strip("/")
    if not prefix:
        return "", ()
    return f" WHERE ({column} = ? OR substr({column}, 1, ?) = ?)", (prefix, len(prefix) + 1, prefix + "/")
