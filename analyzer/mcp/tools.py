"""The graph tools: each a thin call into the query API (`infernav.analyzer.query.Index`) that
returns the CLI's `--json` shape (query/payloads.py), bounded: lists are cut at a limit and say
so with `total` and `truncated`, so one call never floods an agent's context."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ..query.payloads import find_payload, overrides_payload, path_payload, show_payload, walk_payload
from .errors import lookup, usage
from .state import Workspace

Framework = Annotated[str, Field(description="Framework and version: vllm (default), vllm@0.14.1, ksanallm.")]
Symbol = Annotated[str, Field(description="A canonical name, a unique suffix (Scheduler.schedule, "
                                          "ksana_llm::BlockManager::Free) or path:line.")]
Strict = Annotated[bool, Field(description="Leave out name-only guesses (the default already does: kept for "
                                            "compatibility, like the CLI's --strict).")]
EMPTY_HINT = ("nothing found in the index; this is not proof of none: calls from outside the indexed "
              "roots, dynamic dispatch the resolver cannot see and unresolved receivers are not edges")


def bounded(items: list, limit: int) -> tuple[list, dict[str, Any]]:
    return items[:limit], {"total": len(items), "truncated": len(items) > limit}


def _res(strict: bool) -> set[str] | None:
    """The default edge labels (no name-only guesses), as the CLI's default answer."""
    return None


class GraphTools:
    def __init__(self, ws: Workspace):
        self.ws = ws

    async def find_symbol(
        self, pattern: Annotated[str, Field(description="A substring (case-insensitive) or a glob like "
                                                        "'*Scheduler.sched*'.")],
        kind: Annotated[str | None, Field(description="Only this kind: function, method, class, kernel, "
                                                      "torch_op, module, ...")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 30,
        framework: Framework = "vllm",
    ) -> dict[str, Any]:
        """Find symbols by name; best matches first (exact short name, then suffix, then shortest).
        Returns {query, results: [{name, kind, path, line}], total, truncated}."""
        if not pattern.strip():  # as the CLI's `find`: an empty pattern would match every symbol
            raise usage("find needs a non-empty PATTERN (a substring, or a glob like '*Scheduler*')")
        _, idx = self.ws.open(framework)
        rows, counts = bounded(idx.find(pattern, kind=kind, limit=1 << 30), limit)
        return {**find_payload(pattern, rows), **counts}

    async def show_symbol(
        self, symbol: Symbol, framework: Framework = "vllm",
        source: Annotated[bool, Field(description="Include the source excerpt.")] = True,
        max_lines: Annotated[int, Field(ge=1, le=400, description="Longest excerpt, in lines.")] = 60,
        max_hits: Annotated[int, Field(ge=0, le=200, description="Most callers/callees listed.")] = 20,
    ) -> dict[str, Any]:
        """Everything about one symbol in one call: signature, location (path:line-end_line,
        permalink), docstring, a source excerpt with line numbers, direct callers and callees with
        their resolution labels, what it overrides and what overrides it, and the notes anchored on
        it with their freshness. Overloads and CPU/CUDA twins that share the name come together."""
        ref, idx = self.ws.open(framework)
        rows = lookup(idx, symbol)
        ids = [r.id for r in rows]
        callers, callees = idx.walk(ids, "callers", 1), idx.walk(ids, "callees", 1)
        over = idx.overrides(ids)
        shown = [(r, idx.source_lines(r, max_lines=max_lines) if source else None) for r in rows[:5]]
        names = {r.name for r in rows}
        notes = [n for n in self.ws.notes()[0]
                 if any(a.framework == ref.name and a.target in names for a in n.anchors)]
        out = show_payload(ref, shown, callers, callees, over, notes,
                           [idx.signature(r) for r, _ in shown])
        for sym, (row, src) in zip(out["symbols"], shown):
            _excerpt(sym, row, src, source)
        counts: dict[str, Any] = {"symbols_total": len(rows)}
        for key, limit in (("callers", max_hits), ("callees", max_hits), ("overrides", 50), ("overridden_by", 50)):
            out[key], c = bounded(out[key], limit)
            counts[f"{key}_total"] = c["total"]
        counts["truncated"] = len(rows) > 5 or any(counts[f"{k}_total"] > len(out[k]) for k in
                                                   ("callers", "callees", "overrides", "overridden_by"))
        out["notes"] = [{**entry, "freshness": self.ws.freshness(n), "uri": note_uri(n)}
                        for entry, n in zip(out["notes"], notes)]
        return {**out, **counts}

    async def callers(self, symbol: Symbol, framework: Framework = "vllm",
                      depth: Annotated[int, Field(ge=1, le=6, description="Levels to follow.")] = 1,
                      strict: Strict = False, limit: Annotated[int, Field(ge=1, le=500)] = 50) -> dict[str, Any]:
        """Who calls SYMBOL (to a depth), nearest first; each hit has the call site (call_line in the
        caller's file), its resolution label (exact, type and dispatch are resolved; any other label
        is a name-only guess) and via (call, launch, macro, torch-op, registration, pybind).
        Returns {symbol, results, total, truncated, by_resolution}."""
        return self._walk("callers", symbol, framework, depth, strict, limit)

    async def callees(self, symbol: Symbol, framework: Framework = "vllm",
                      depth: Annotated[int, Field(ge=1, le=6, description="Levels to follow.")] = 1,
                      strict: Strict = False, limit: Annotated[int, Field(ge=1, le=500)] = 50) -> dict[str, Any]:
        """What SYMBOL calls (to a depth), nearest first, across languages (Python -> torch op ->
        C++ host function -> CUDA kernel); each hit has its resolution label (exact, type and dispatch
        are resolved; any other label is a name-only guess) and via (call, launch, macro, torch-op,
        registration, pybind).
        Returns {symbol, results, total, truncated, by_resolution}."""
        return self._walk("callees", symbol, framework, depth, strict, limit)

    def _walk(self, direction: str, symbol: str, framework: str, depth: int, strict: bool,
              limit: int) -> dict[str, Any]:
        _, idx = self.ws.open(framework)
        rows = lookup(idx, symbol)
        hits = idx.walk([r.id for r in rows], direction, depth, _res(strict))
        out = walk_payload(rows, hits)
        out["results"], counts = bounded(out["results"], limit)
        labels: dict[str, int] = {}
        for h in hits:
            labels[h.resolution] = labels.get(h.resolution, 0) + 1
        out.update(counts, by_resolution=labels)
        if not hits:
            out["hint"] = EMPTY_HINT
        return out

    async def call_path(self, source: Symbol, target: Symbol, framework: Framework = "vllm",
                        k: Annotated[int, Field(ge=1, le=10, description="How many shortest chains.")] = 1,
                        max_len: Annotated[int, Field(ge=1, le=20, description="Longest chain, in calls.")] = 12,
                        strict: Strict = False) -> dict[str, Any]:
        """The k shortest call chains from SOURCE to TARGET. Each chain is a list of hops; every hop
        after the first carries the edge that reaches it: call_line (in the previous hop's file),
        resolution and via. Returns {from, to, paths: [{calls, hops}]}."""
        _, idx = self.ws.open(framework)
        a, b = lookup(idx, source), lookup(idx, target)
        chains = idx.paths([r.id for r in a], [r.id for r in b], k, max_len, _res(strict))
        out = path_payload(a, b, chains)
        out["paths"] = [{"calls": len(c) - 1, "hops": _hops(idx, c, _res(strict))} for c in chains]
        if not chains:
            out["hint"] = f"no call chain from {a[0].name} to {b[0].name} within {max_len} calls; " + EMPTY_HINT
        return out

    async def overrides(self, symbol: Symbol, framework: Framework = "vllm",
                        limit: Annotated[int, Field(ge=1, le=500)] = 100) -> dict[str, Any]:
        """The methods SYMBOL overrides (up the hierarchy) and the methods that override it (all the
        way down): where a call through a base or interface method can land.
        Returns {symbol, overrides, overridden_by, overrides_total, overridden_by_total, truncated}."""
        _, idx = self.ws.open(framework)
        rows = lookup(idx, symbol)
        out = overrides_payload(rows, idx.overrides([r.id for r in rows]))
        truncated = False
        for key in ("overrides", "overridden_by"):
            out[key], c = bounded(out[key], limit)
            out[f"{key}_total"] = c["total"]
            truncated |= c["truncated"]
        out["truncated"] = truncated
        return out


def _hops(idx, chain, resolutions) -> list[dict[str, Any]]:
    edges = idx.hop_edges([s.id for s in chain], resolutions)
    hops = [chain[0].brief()]
    for row, edge in zip(chain[1:], edges):
        line, res, via = edge if edge is not None else (None, None, None)
        hops.append({**row.brief(), "call_line": line, "resolution": res, "via": via})
    return hops


def _excerpt(sym: dict[str, Any], row, src, wanted: bool) -> None:
    """`source` as one numbered text block (compact for an agent) and how many lines were left out."""
    sym.pop("source")
    if src:
        sym["excerpt"] = "\n".join(f"{n:>5}  {t}" for n, t in src)
        sym["excerpt_lines"] = [src[0][0], src[-1][0]]
        if src[-1][0] < row.end_line:
            sym["more_lines"] = row.end_line - src[-1][0]
    elif wanted:
        sym["excerpt"] = None
        sym["excerpt_note"] = "source not present locally; see the permalink"


def note_uri(note) -> str:
    return "note://" + note.rel.removesuffix(".md")
