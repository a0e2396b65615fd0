"""The query API over one framework's index; the CLI and the site are thin layers over this.

Every query reads SQLite directly (indexed lookups, breadth-first walks in SQL batches), so a CLI
call never loads the whole graph; networkx is imported only for k-shortest paths.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from . import store

_COLUMNS = "id, name, short, kind, lang, path, line, end_line, sig, doc, flags, parent, decl_path, decl_line"
RESOLUTION_ORDER = {"exact": 0, "type": 1, "dispatch": 2, "name": 3}
# `vllm/v1/core/block_pool.py:299` (a source path and a line), never `ns::f` or `mod.f`.
_PATH_LINE = re.compile(r"^(.+\.(?:py|pyi|cu|cuh|cc|cpp|cxx|c|h|hh|hpp|inl)):(\d+)$")


@dataclass(frozen=True)
class SymbolRow:
    id: int
    name: str
    short: str
    kind: str
    lang: str
    path: str
    line: int
    end_line: int
    sig: str
    doc: str
    flags: str
    parent: int | None
    decl_path: str
    decl_line: int

    def brief(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "path": self.path, "line": self.line}

    def full(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("id")
        d["flags"] = [f for f in (self.flags or "").split(",") if f]
        return d


@dataclass(frozen=True)
class Hit:
    """One caller/callee: the symbol, the call-site line, how it was resolved, how deep."""

    symbol: SymbolRow
    line: int
    resolution: str
    via: str
    depth: int

    def as_json(self) -> dict[str, Any]:
        return {**self.symbol.brief(), "call_line": self.line, "resolution": self.resolution,
                "via": self.via, "depth": self.depth}


class SymbolNotFound(LookupError):
    def __init__(self, query: str, suggestions: list[str]):
        super().__init__(query)
        self.query = query
        self.suggestions = suggestions


class AmbiguousSymbol(LookupError):
    def __init__(self, query: str, candidates: list[SymbolRow]):
        super().__init__(query)
        self.query = query
        self.candidates = candidates


class Index:
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
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM symbols WHERE (path=? OR path LIKE ?) AND line<=? AND end_line>=? "
            "AND kind NOT IN ('module') ORDER BY (end_line-line) LIMIT 1",
            (path, f"%/{path}", line, line),
        )
        if not rows:
            rows = self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE (path=? OR path LIKE ?) AND kind='module'",
                              (path, f"%/{path}"))
        if not rows:
            raise SymbolNotFound(q, [])
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
        if any(c in pattern for c in "*?["):
            like = pattern.replace("*", "%").replace("?", "_")
            sql, args = f"SELECT {_COLUMNS} FROM symbols WHERE name LIKE ?", [like]
            if not pattern.startswith("*"):
                sql += " OR short LIKE ?"
                args.append(like)
        else:
            sql, args = f"SELECT {_COLUMNS} FROM symbols WHERE short LIKE ? OR name LIKE ?", [f"%{pattern}%", f"%{pattern}%"]
        if kind:
            sql = f"SELECT * FROM ({sql}) WHERE kind=?"
            args.append(kind)
        rows = self._rows(sql, args)
        low = pattern.lower().strip("*")
        rows.sort(key=lambda r: (r.short.lower() != low, not r.name.lower().endswith(low), len(r.name), r.name))
        return rows[:limit]

    # ---------------------------------------------------------------- graph walks
    def _neighbours(self, ids: list[int], direction: str, resolutions: set[str] | None) -> list[tuple]:
        col, other = ("dst", "src") if direction == "callers" else ("src", "dst")
        out = []
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            marks = ",".join("?" * len(chunk))
            out += self.conn.execute(
                f"SELECT {other}, line, resolution, via, {col} FROM edges WHERE {col} IN ({marks})", chunk
            ).fetchall()
        if resolutions is not None:
            out = [r for r in out if r[2] in resolutions]
        return out

    def walk(self, ids: list[int], direction: str, depth: int = 1,
             resolutions: set[str] | None = None) -> list[Hit]:
        """Callers or callees of `ids` up to `depth` levels, nearest first, each symbol once."""
        seen = set(ids)
        frontier = list(ids)
        found: list[tuple[int, int, str, str, int]] = []
        for level in range(1, depth + 1):
            best: dict[int, tuple] = {}
            for other, line, res, via, me in self._neighbours(frontier, direction, resolutions):
                if other in seen and not (level == 1 and other == me):  # recursion shows once
                    continue
                cur = best.get(other)
                rank = (RESOLUTION_ORDER.get(res, 9), line)
                if cur is None or rank < (RESOLUTION_ORDER.get(cur[2], 9), cur[1]):
                    best[other] = (other, line, res, via, level)
            if not best:
                break
            found.extend(best.values())
            seen.update(best)
            frontier = list(best)
        rows = self.symbols(f[0] for f in found)
        hits = [Hit(rows[f[0]], f[1], f[2], f[3], f[4]) for f in found]
        hits.sort(key=lambda h: (h.depth, RESOLUTION_ORDER.get(h.resolution, 9), h.symbol.name, h.line))
        return hits

    def call_sites(self, ids: list[int], direction: str, resolutions: set[str] | None = None) -> list[Hit]:
        """Every direct edge (one row per call site), for `show` and JSON consumers who want lines."""
        rows = self._neighbours(list(ids), direction, resolutions)
        syms = self.symbols(r[0] for r in rows)
        hits = [Hit(syms[r[0]], r[1], r[2], r[3], 1) for r in rows]
        hits.sort(key=lambda h: (h.symbol.path, h.line, h.symbol.name))
        return hits

    def paths(self, src_ids: list[int], dst_ids: list[int], k: int = 1, max_len: int = 12,
              resolutions: set[str] | None = None) -> list[list[SymbolRow]]:
        """Up to k shortest call chains from any of src_ids to any of dst_ids (each a list of symbols)."""
        targets = set(dst_ids)
        # Forward distances from the sources and backward distances from the targets, in SQL batches.
        fwd = self._distances(src_ids, "callees", max_len, resolutions, stop=targets)
        if not targets & fwd.keys():
            return []
        best = min(fwd[t] for t in targets if t in fwd)
        bwd = self._distances(dst_ids, "callers", max_len, resolutions, stop=set(src_ids))
        # Nodes that can sit on a path no longer than best + slack.
        slack = 2 if k > 1 else 0
        keep = {n for n in fwd if n in bwd and fwd[n] + bwd[n] <= best + slack}
        edges = self._edges_among(keep, resolutions)
        if k == 1:
            chain = self._bfs_path(src_ids, targets, edges)
            rows = self.symbols(chain)
            return [[rows[n] for n in chain]] if chain else []
        import networkx as nx

        g = nx.DiGraph()
        g.add_edges_from(edges)
        S, T = "__src__", "__dst__"
        g.add_edges_from((S, s) for s in src_ids if s in keep)
        g.add_edges_from((t, T) for t in targets if t in keep)
        out = []
        try:
            for p in nx.shortest_simple_paths(g, S, T):
                out.append(p[1:-1])
                if len(out) >= k:
                    break
        except nx.NetworkXNoPath:
            pass
        rows = self.symbols(n for p in out for n in p)
        return [[rows[n] for n in p] for p in out]

    def _distances(self, start: list[int], direction: str, max_len: int,
                   resolutions: set[str] | None, stop: set[int]) -> dict[int, int]:
        dist = {s: 0 for s in start}
        frontier = list(start)
        for level in range(1, max_len + 1):
            nxt = []
            for other, *_ in self._neighbours(frontier, direction, resolutions):
                if other not in dist:
                    dist[other] = level
                    nxt.append(other)
            if not nxt or stop & dist.keys() and level >= max(dist[s] for s in stop & dist.keys()) + 2:
                break
            frontier = nxt
        return dist

    def _edges_among(self, nodes: set[int], resolutions: set[str] | None) -> list[tuple[int, int]]:
        out = set()
        for other, _line, _res, _via, me in self._neighbours(list(nodes), "callees", resolutions):
            if other in nodes:
                out.add((me, other))
        return sorted(out)

    @staticmethod
    def _bfs_path(src_ids: list[int], targets: set[int], edges: list[tuple[int, int]]) -> list:
        adj: dict[int, list[int]] = {}
        for a, b in edges:
            adj.setdefault(a, []).append(b)
        prev: dict[int, int | None] = {s: None for s in src_ids}
        queue = list(src_ids)
        while queue:
            nxt = []
            for n in queue:
                if n in targets:
                    chain = [n]
                    while prev[chain[-1]] is not None:
                        chain.append(prev[chain[-1]])
                    return chain[::-1]
                for m in adj.get(n, ()):
                    if m not in prev:
                        prev[m] = n
                        nxt.append(m)
            queue = nxt
        return []

    def overrides(self, ids: list[int]) -> dict[str, list[SymbolRow]]:
        """What these methods override (up the hierarchy) and what overrides them (all the way down)."""
        up, frontier, seen = [], list(ids), set(ids)
        while frontier:
            nxt = []
            for i in range(0, len(frontier), 900):
                chunk = frontier[i : i + 900]
                marks = ",".join("?" * len(chunk))
                for (b,) in self.conn.execute(f"SELECT base FROM overrides WHERE sub IN ({marks})", chunk):
                    if b not in seen:
                        seen.add(b)
                        up.append(b)
                        nxt.append(b)
            frontier = nxt
        down, frontier = [], list(ids)
        while frontier:
            nxt = []
            for i in range(0, len(frontier), 900):
                chunk = frontier[i : i + 900]
                marks = ",".join("?" * len(chunk))
                for (s,) in self.conn.execute(f"SELECT sub FROM overrides WHERE base IN ({marks})", chunk):
                    if s not in seen:
                        seen.add(s)
                        down.append(s)
                        nxt.append(s)
            frontier = nxt
        rows = self.symbols(up + down)
        return {"overrides": [rows[i] for i in up], "overridden_by": sorted((rows[i] for i in down), key=lambda r: r.name)}

    def neighbourhood(self, ids: list[int], depth: int = 1, resolutions: set[str] | None = None,
                      limit: int = 200) -> tuple[dict[int, SymbolRow], list[tuple[int, int, str, str]]]:
        """Nodes within `depth` calls either way of `ids` and the edges among them (for graphs)."""
        nodes = set(ids)
        for direction in ("callers", "callees"):
            frontier = list(ids)
            for _ in range(depth):
                nxt = []
                for other, *_ in self._neighbours(frontier, direction, resolutions):
                    if other not in nodes and len(nodes) < limit:
                        nodes.add(other)
                        nxt.append(other)
                frontier = nxt
        edges = set()
        for other, line, res, via, me in self._neighbours(list(nodes), "callees", resolutions):
            if other in nodes:
                edges.add((me, other, res, via))
        return self.symbols(nodes), sorted(edges)

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


def _suffix_match(name: str, query: str) -> bool:
    """`Scheduler.schedule` matches `...sched.scheduler.Scheduler.schedule`; `::` and `.` both ok."""
    n = name.replace("::", ".")
    q = query.replace("::", ".")
    return n == q or n.endswith("." + q)
