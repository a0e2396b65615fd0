"""The JSON shapes of query answers, shared by the CLI's `--json` and the MCP server, so the two
front ends cannot drift apart. The shapes are stable (the README documents them); a front end may
bound or enrich a payload, never rename what is here."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from .rows import Hit, SymbolRow
from .signature import header_signature


def find_payload(pattern: str, rows: Iterable[SymbolRow]) -> dict[str, Any]:
    return {"query": pattern, "results": [r.brief() for r in rows]}


def walk_payload(rows: Sequence[SymbolRow], hits: Iterable[Hit]) -> dict[str, Any]:
    """`callers` / `callees`: the symbol asked about and every hit, nearest first."""
    return {"symbol": rows[0].brief(), "results": [h.as_json() for h in hits]}


def path_payload(src: Sequence[SymbolRow], dst: Sequence[SymbolRow],
                 chains: Iterable[Sequence[SymbolRow]]) -> dict[str, Any]:
    return {"from": src[0].brief(), "to": dst[0].brief(), "paths": [[s.name for s in c] for c in chains]}


def overrides_payload(rows: Sequence[SymbolRow], over: dict[str, list[SymbolRow]]) -> dict[str, Any]:
    return {"symbol": rows[0].brief(), "overrides": [r.brief() for r in over["overrides"]],
            "overridden_by": [r.brief() for r in over["overridden_by"]]}


def symbol_payload(ref, row: SymbolRow, source: list[tuple[int, str]] | None,
                   signature: str | None = None) -> dict[str, Any]:
    """One symbol of `show`: every column (`sig` is the index's one line), `signature` (the
    header as written, comments dropped: Index.signature), its permalink, and its source lines
    (None if absent)."""
    sig = signature if signature is not None else header_signature(row, source)
    return {**row.full(), "signature": sig, "permalink": ref.permalink(row.path, row.line),
            "source": [{"line": n, "text": t} for n, t in source] if source else None}


def show_payload(ref, shown: Iterable[tuple[SymbolRow, list[tuple[int, str]] | None]], callers: Iterable[Hit],
                 callees: Iterable[Hit], over: dict[str, list[SymbolRow]], notes: Iterable[Any],
                 signatures: Sequence[str] | None = None) -> dict[str, Any]:
    """`show`: the symbols (overloads share a name), direct callers/callees, overrides, notes on
    them. `signatures` (one per shown symbol, Index.signature) when the source may be left out."""
    shown = list(shown)
    sigs = list(signatures) if signatures is not None else [None] * len(shown)
    return {
        "symbols": [symbol_payload(ref, r, src, sig) for (r, src), sig in zip(shown, sigs)],
        "callers": [h.as_json() for h in callers], "callees": [h.as_json() for h in callees],
        "overrides": [r.brief() for r in over["overrides"]],
        "overridden_by": [r.brief() for r in over["overridden_by"]],
        "notes": [{"note": n.rel, "title": n.title} for n in notes],
    }


def lookup_error(name: str, exc: Exception) -> dict[str, Any]:
    """The JSON error document of a name that finds nothing or too much (SymbolNotFound,
    AmbiguousSymbol): the CLI's --json and the MCP server's tool errors both print it."""
    files = list(getattr(exc, "files", []) or [])
    if hasattr(exc, "suggestions"):
        message = getattr(exc, "message", "") or f"no symbol matches '{name}'"
        return {"error": "not found", "message": message, "query": name, "suggestions": exc.suggestions}
    cands = exc.candidates
    if files:
        shown = ", ".join(files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
        message = f"'{name}' is ambiguous: {len(files)} files match: {shown}; give more of the path"
        return {"error": "ambiguous", "message": message, "query": name, "files": files,
                "candidates": [c.brief() for c in cands]}
    return {"error": "ambiguous", "message": f"'{name}' is ambiguous; {len(cands)} candidates", "query": name,
            "candidates": [c.brief() for c in cands]}
