"""Tool failures as MCP tool errors (`isError: true`): the text is the CLI's one-line message,
`structuredContent` the CLI's `--json` error document (candidate lists bounded).

tests/test_mcp.py checks both against the CLI's own stderr and JSON for the same queries, so the
two front ends keep saying the same thing.
"""
from __future__ import annotations

from typing import Any

# An ambiguous name lists at most this many candidates (the CLI prints 25 of them too).
MAX_CANDIDATES = 25


class ToolFailure(Exception):
    """A failure the agent should read and act on: one line, and the CLI's JSON error document."""

    def __init__(self, message: str, payload: dict[str, Any]):
        super().__init__(message)
        self.message = message
        self.payload = payload


def usage(message: str) -> ToolFailure:
    """A bad argument (unknown framework, mechanism): the CLI's exit-2 errors."""
    return ToolFailure(f"error: {message}", {"error": "usage", "message": message})


def no_index(message: str, framework: str) -> ToolFailure:
    """No index and no source to build one; the message names the command that gets it."""
    return ToolFailure(f"error: {message}", {"error": "no index", "message": message, "framework": framework})


def not_found(message: str, **extra: Any) -> ToolFailure:
    return ToolFailure(f"error: {message}", {"error": "not found", "message": message, **extra})


def lookup(idx, name: str):
    """The symbols a name means (Index.lookup), or a ToolFailure worded as the CLI words it."""
    from ..query import AmbiguousSymbol, SymbolNotFound
    from ..query.payloads import lookup_error

    try:
        return idx.lookup(name)
    except SymbolNotFound as exc:
        payload = lookup_error(name, exc)
        line = f"error: {payload['message']}"
        if exc.suggestions:
            line += "; did you mean: " + ", ".join(exc.suggestions)
        raise ToolFailure(line, payload) from None
    except AmbiguousSymbol as exc:
        payload = lookup_error(name, exc)
        cands = exc.candidates
        line = f"error: {payload['message']}"
        if not exc.files:
            shown = ", ".join(f"{c.name} ({c.kind}, {c.path}:{c.line})" for c in cands[:MAX_CANDIDATES])
            more = f"; ... {len(cands) - MAX_CANDIDATES} more; give more of the name" if len(cands) > MAX_CANDIDATES else ""
            line += f": {shown}{more}"
        payload.update(candidates=payload["candidates"][:MAX_CANDIDATES], total=len(cands),
                       truncated=len(cands) > MAX_CANDIDATES)
        raise ToolFailure(line, payload) from None
