"""Graph walks over the edges table in SQL batches: callers/callees to a depth, k-shortest call
chains, override hierarchies and neighbourhoods for drawing. networkx only for k > 1 paths."""
from __future__ import annotations

from typing import Any

from .rows import Hit, SymbolRow

RESOLUTION_ORDER = {"exact": 0, "type": 1, "flow": 2, "dispatch": 3, "guess": 4}
ALL_RESOLUTIONS = frozenset(RESOLUTION_ORDER)
# Walks and paths leave name-only guesses out unless asked for (resolutions=ALL_RESOLUTIONS).
DEFAULT_RESOLUTIONS = ALL_RESOLUTIONS - {"guess"}


class Walks:
    """Mixin of Index: needs `conn` and `symbols()`."""

    def _neighbours(self, ids: list[int], direction: str, resolutions: set[str] | None) -> list[tuple]:
        col, other = ("dst", "src") if direction == "callers" else ("src", "dst")
        out = []
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            marks = ",".join("?" * len(chunk))
            out += self.conn.execute(
                f"SELECT {other}, line, resolution, via, {col} FROM edges WHERE {col} IN ({marks})", chunk
            ).fetchall()
        allowed = DEFAULT_RESOLUTIONS if resolutions is None else resolutions
        if allowed != ALL_RESOLUTIONS:
            out = [r for r in out if r[2] in allowed]
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

    def hops(self, chain: list[int], resolutions: set[str] | None = None) -> list[dict[str, Any]]:
        """For each consecutive pair of a call chain, the best edge between them: resolution, via,
        call-site line (what `path` prints per hop)."""
        allowed = DEFAULT_RESOLUTIONS if resolutions is None else resolutions
        out = []
        for a, b in zip(chain, chain[1:]):
            rows = [r for r in self.conn.execute("SELECT line, resolution, via FROM edges WHERE src=? AND dst=?", (a, b))
                    if r[1] in allowed]
            line, res, via = min(rows, key=lambda r: (RESOLUTION_ORDER.get(r[1], 9), r[0])) if rows else (0, "", "")
            out.append({"from": a, "to": b, "resolution": res, "via": via, "line": line})
        names = {r.id: r.name for r in self.symbols(chain).values()}
        for h in out:
            h["from"], h["to"] = names.get(h["from"]), names.get(h["to"])
        return out

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

    def hop_edges(self, chain: list[int], resolutions: set[str] | None = None) -> list[tuple[int, str, str] | None]:
        """For each consecutive pair of a call chain, its best edge: (call line, resolution, via),
        in the order of RESOLUTION_ORDER then line; None where the pair has no edge."""
        wanted = set(zip(chain, chain[1:]))
        best: dict[tuple[int, int], tuple[int, str, str]] = {}
        for other, line, res, via, me in self._neighbours(list(dict.fromkeys(chain[:-1])), "callees", resolutions):
            pair = (me, other)
            if pair in wanted:
                cur = best.get(pair)
                if cur is None or (RESOLUTION_ORDER.get(res, 9), line) < (RESOLUTION_ORDER.get(cur[1], 9), cur[0]):
                    best[pair] = (line, res, via)
        return [best.get(pair) for pair in zip(chain, chain[1:])]
