"""What queries return: symbol rows, caller/callee hits, lookup errors."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
    def __init__(self, query: str, suggestions: list[str], message: str = ""):
        super().__init__(query)
        self.query = query
        self.suggestions = suggestions
        self.message = message          # a more precise one-line reason, where there is one


class AmbiguousSymbol(LookupError):
    def __init__(self, query: str, candidates: list[SymbolRow], files: list[str] | None = None):
        super().__init__(query)
        self.query = query
        self.candidates = candidates
        self.files = files or []        # `file.py:N` where several indexed files end in file.py

    @property
    def by_path(self) -> bool:
        return bool(self.files)


