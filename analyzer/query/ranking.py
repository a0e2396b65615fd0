"""What matters first: neighbours ranked by how they were resolved, fan-outs collapsed, tests out.

The CLI's `graph`, the site's graphs and symbol pages and the explorer share this order, so a
newcomer sees the same answer everywhere:

- **rank**: exact, then flow, then type, then dispatch, then name-only guesses (GRAPH_RANK);
  within a rank, callees in the order the body calls them (call-site line), callers by name.
- **fan-outs**: where one caller reaches >= FANOUT_MIN dispatch (or guess) targets of one method
  name (`connector.get_num_new_matched_tokens()` reaching 10 connector overrides), they are one
  entry, "10 overrides of KVConnectorBase_V1.get_num_new_matched_tokens", that lists them.
- **tests**: neighbours in test code (the caller passes the engine's `is_test_path`) are left out
  unless asked, and counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

from .rows import Hit, SymbolRow

GRAPH_RANK = {"exact": 0, "flow": 1, "type": 2, "dispatch": 3, "guess": 4}
FANOUT_MIN = 3
_SPREAD = ("dispatch", "guess")

IsTest = Callable[[str], bool]


def _short2(name: str) -> str:
    parts = name.replace("::", ".").split(".")
    return ".".join(parts[-2:])


@dataclass(frozen=True)
class FanOut:
    """Several dispatch/guess targets of one method name from one caller, drawn as one node."""

    key: str                       # stable id: "fanout:<caller id>:<short name>:<call line>"
    source: int                    # the caller (callees) whose call spreads
    short: str                     # the method's short name
    base: SymbolRow | None         # the method the call names (its type/exact edge), if any
    members: tuple[Hit, ...]
    resolution: str                # "dispatch" or "guess"

    @property
    def label(self) -> str:
        what = "overrides" if self.resolution == "dispatch" else "name-only candidates"
        of = _short2(self.base.name) if self.base is not None else self.short
        return f"{len(self.members)} {what} of {of}"

    def as_json(self) -> dict:
        return {"fanout": self.label, "resolution": self.resolution, "short": self.short,
                "base": self.base.name if self.base is not None else None,
                "members": [h.as_json() for h in self.members]}


Entry = Union[Hit, FanOut]


@dataclass
class Ranked:
    """Ranked neighbours of a symbol in one direction (entries to show, in order) and what was
    left out."""

    entries: list[Entry]
    tests_hidden: int = 0
    total: int = 0                 # neighbours before collapsing and leaving tests out

    def symbols(self) -> int:
        return sum(len(e.members) if isinstance(e, FanOut) else 1 for e in self.entries)


@dataclass
class RankedGraph:
    """A neighbourhood for drawing: nodes (focus first, then by rank), edges by rank, fan-outs."""

    nodes: dict[int, SymbolRow]
    edges: list[tuple[int, int | str, str, str]]   # (src, dst, resolution, via); dst may be a fan-out key
    fanouts: dict[str, FanOut] = field(default_factory=dict)
    tests_hidden: int = 0
    cut: int = 0                   # neighbours left out by the node limit


def rank_key(h: Hit, direction: str) -> tuple:
    if direction == "callees":
        return (GRAPH_RANK.get(h.resolution, 9), h.line, h.symbol.name)
    return (GRAPH_RANK.get(h.resolution, 9), h.symbol.name, h.line)


def rank_hits(hits: list[Hit], direction: str, source: int = 0, is_test: IsTest | None = None,
              tests: bool = False) -> Ranked:
    """Order hits (each symbol once) by GRAPH_RANK, collapse fan-outs, leave tests out."""
    total = len(hits)
    hidden = 0
    if is_test is not None and not tests:
        kept = [h for h in hits if not is_test(h.symbol.path)]
        hidden, hits = len(hits) - len(kept), kept
    hits = sorted(hits, key=lambda h: rank_key(h, direction))
    # A fan-out is one call site (line) reaching several targets of one name.
    groups: dict[tuple[str, int], list[Hit]] = {}
    if direction == "callees":
        for h in hits:
            if h.resolution in _SPREAD:
                groups.setdefault((h.symbol.short, h.line), []).append(h)
    named: dict[str, list[Hit]] = {}
    for h in hits:
        if h.resolution not in _SPREAD:
            named.setdefault(h.symbol.short, []).append(h)
    entries: list[Entry] = []
    placed: set[tuple[str, int]] = set()
    for h in hits:
        key = (h.symbol.short, h.line)
        group = groups.get(key) if h.resolution in _SPREAD else None
        if group is None or len(group) < FANOUT_MIN:
            entries.append(h)
        elif key not in placed:
            placed.add(key)
            res = "dispatch" if any(g.resolution == "dispatch" for g in group) else "guess"
            bases = sorted(named.get(h.symbol.short, ()), key=lambda b: (b.line != h.line, b.line))
            entries.append(FanOut(f"fanout:{source}:{h.symbol.short}:{h.line}", source, h.symbol.short,
                                  bases[0].symbol if bases else None, tuple(group), res))
    return Ranked(entries, hidden, total)


class Ranking:
    """Mixin of Index: needs `walk`, `_neighbours` and `symbols`."""

    def ranked(self, ids: list[int], direction: str, resolutions: set[str] | None = None,
               is_test: IsTest | None = None, tests: bool = False) -> Ranked:
        """Direct callers or callees of `ids`, ranked (see the module docstring)."""
        hits = self.walk(ids, direction, 1, resolutions)
        return rank_hits(hits, direction, ids[0] if ids else 0, is_test, tests)

    def ranked_neighbourhood(self, ids: list[int], depth: int = 1, resolutions: set[str] | None = None,
                             limit: int = 60, is_test: IsTest | None = None,
                             tests: bool = False) -> RankedGraph:
        """Nodes within `depth` calls either way of `ids`, best-ranked first up to `limit` nodes
        (a fan-out is one node), and the edges among them in rank order."""
        focus = list(dict.fromkeys(ids))
        rows = self.symbols(focus)
        nodes: dict[int, SymbolRow] = {i: rows[i] for i in focus if i in rows}
        g = RankedGraph(nodes, [])
        used = len(nodes)
        for direction in ("callees", "callers"):
            frontier = list(focus)
            for _ in range(depth):
                nxt = []
                for me in frontier:
                    r = self.ranked([me], direction, resolutions, is_test, tests)
                    g.tests_hidden += r.tests_hidden
                    for e in r.entries:
                        if isinstance(e, FanOut):
                            if e.key in g.fanouts:
                                continue
                            if used >= limit:
                                g.cut += len(e.members)
                                continue
                            g.fanouts[e.key] = e
                            used += 1
                            g.edges.append((me, e.key, e.resolution, e.members[0].via))
                            continue
                        other = e.symbol.id
                        edge = (me, other) if direction == "callees" else (other, me)
                        if other not in g.nodes:
                            if used >= limit:
                                g.cut += 1
                                continue
                            g.nodes[other] = e.symbol
                            used += 1
                            nxt.append(other)
                        g.edges.append((*edge, e.resolution, e.via))
                frontier = nxt
        seen, edges = set(), []
        for e in g.edges:
            if (e[0], e[1]) not in seen:
                seen.add((e[0], e[1]))
                edges.append(e)
        g.edges = edges
        return g


def fanout_groups(edges: list[tuple[int, int, int, str]],
                  shorts: dict[int, str]) -> dict[int, list[tuple[str, int, list[int]]]]:
    """For whole-graph exports (the explorer): per caller, its fan-outs as (short name, call line,
    targets), from (src, dst, line, resolution) edges; the same rule as rank_hits."""
    by: dict[tuple[int, str, int], list[int]] = {}
    for src, dst, line, res in edges:
        if res in _SPREAD and dst in shorts:
            by.setdefault((src, shorts[dst], line), []).append(dst)
    out: dict[int, list[tuple[str, int, list[int]]]] = {}
    for (src, short, line), dsts in sorted(by.items()):
        dsts = list(dict.fromkeys(dsts))
        if len(dsts) >= FANOUT_MIN:
            out.setdefault(src, []).append((short, line, dsts))
    return out


class Members:
    """Mixin of Index: a class's members, for class pages."""

    def members(self, sid: int) -> list[SymbolRow]:
        """Symbols whose parent is `sid` (methods, nested classes, fields), in source order."""
        from . import _COLUMNS

        return self._rows(f"SELECT {_COLUMNS} FROM symbols WHERE parent=? ORDER BY path, line", (sid,))
