"""What a release diff returns: symbol changes, call-edge changes, mechanism summaries, grouped by
folder and ranked by how central a symbol is (its distinct callers in either version)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SYMBOL_KINDS = ("changed", "renamed", "moved", "added", "removed")
TOTAL_KEYS = ("added", "removed", "moved", "renamed", "changed", "signature_changed", "unchanged",
              "reformatted", "edges_added", "edges_removed", "edges_of_added_symbols",
              "edges_of_removed_symbols")


def _where(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"name": row.name, "path": row.path, "line": row.line, "end_line": row.end_line}


def folder(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else "(top)"


@dataclass
class SymbolChange:
    status: str                      # added | removed | moved | renamed | changed
    old: Any | None                  # SymbolRow in A (None when added)
    new: Any | None                  # SymbolRow in B (None when removed)
    added: int = 0                   # +/- lines (non-blank, non-comment) of a body that changed
    removed: int = 0
    similarity: float | None = None  # renamed/moved found by body similarity
    sig_before: str = ""
    sig_after: str = ""              # both set only when the signature changed
    callers: int = 0                 # distinct callers, the larger of the two versions

    @property
    def row(self) -> Any:
        return self.new if self.new is not None else self.old

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def group(self) -> str:
        return folder(self.row.path)

    @property
    def signature_changed(self) -> bool:
        return bool(self.sig_before or self.sig_after)

    def as_json(self) -> dict[str, Any]:
        r = self.row
        out = {"status": self.status, "name": r.name, "kind": r.kind, "lang": r.lang,
               "old": _where(self.old), "new": _where(self.new), "callers": self.callers}
        if self.status in ("changed", "moved", "renamed") and (self.added or self.removed):
            out["lines"] = {"added": self.added, "removed": self.removed}
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 3)
        if self.signature_changed:
            out["signature"] = {"before": self.sig_before, "after": self.sig_after}
        return out


@dataclass
class EdgeChange:
    status: str          # added | removed
    caller: str          # names as in the version the edge exists in
    callee: str
    resolution: str      # the label of that version's index (whatever the label set)
    via: str
    path: str            # the caller's file and the call line, in that version
    line: int
    callers: int = 0     # the caller's centrality

    @property
    def group(self) -> str:
        return folder(self.path)

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "caller": self.caller, "callee": self.callee,
                "resolution": self.resolution, "via": self.via, "path": self.path, "line": self.line}


@dataclass
class MechanismSummary:
    mechanism: str
    anchors: int                     # anchored symbols found in either version
    symbols: int                     # symbols in scope: anchors plus callees to `depth`
    changes: list[SymbolChange] = field(default_factory=list)
    edges: list[EdgeChange] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {k: sum(1 for c in self.changes if c.status == k) for k in SYMBOL_KINDS}
        out["edges_added"] = sum(1 for e in self.edges if e.status == "added")
        out["edges_removed"] = sum(1 for e in self.edges if e.status == "removed")
        return out

    def line(self, examples: int = 2) -> str:
        """`prefix-cache: 4 changed, 1 removed, 2 new call edges (a → b, ...)`."""
        c = self.counts()
        parts = [f"{c[k]} {k}" for k in SYMBOL_KINDS if c[k]]
        for status, word in (("added", "new"), ("removed", "lost")):
            edges = [e for e in self.edges if e.status == status]
            if edges:
                shown = ", ".join(f"{short(e.caller)} → {short(e.callee)}" for e in edges[:examples])
                more = ", ..." if len(edges) > examples else ""
                parts.append(f"{len(edges)} {word} call edge{'s' if len(edges) != 1 else ''} ({shown}{more})")
        return f"{self.mechanism}: " + (", ".join(parts) if parts else "no change") + \
            f"  [{self.symbols} symbols in scope]"

    def as_json(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "anchors": self.anchors, "symbols": self.symbols,
                "counts": self.counts(), "summary": self.line(),
                "changes": [{"status": c.status, "name": c.name} for c in self.changes],
                "edges": [e.as_json() for e in self.edges]}


def short(name: str) -> str:
    """The last two components of a canonical name (`Scheduler.schedule`, `ns::f`)."""
    sep = "::" if "::" in name else "."
    return sep.join(name.split(sep)[-2:])


@dataclass
class ReleaseDiff:
    a: str                            # framework@version
    b: str
    under: str | None
    mechanism: str | None
    changes: list[SymbolChange]
    edges: list[EdgeChange]
    totals: dict[str, int]
    mechanisms: list[MechanismSummary] = field(default_factory=list)
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)   # per phase: wall, cpu

    def groups(self) -> list[tuple[str, list[SymbolChange], list[EdgeChange]]]:
        """(folder, symbol changes, edge changes), the folders with the most central changes first;
        inside a folder, by status then centrality."""
        groups: dict[str, tuple[list, list]] = {}
        for c in self.changes:
            groups.setdefault(c.group, ([], []))[0].append(c)
        for e in self.edges:
            groups.setdefault(e.group, ([], []))[1].append(e)
        order = {k: i for i, k in enumerate(SYMBOL_KINDS)}
        out = []
        for g, (cs, es) in groups.items():
            cs.sort(key=lambda c: (order[c.status], -c.callers, c.name))
            es.sort(key=lambda e: (e.status != "added", -e.callers, e.caller, e.callee))
            out.append((g, cs, es))
        out.sort(key=lambda t: (-sum(1 + c.callers for c in t[1]) - len(t[2]), t[0]))
        return out

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        return {"from": self.a, "to": self.b, "under": self.under, "mechanism": self.mechanism,
                "totals": self.totals, "mechanisms": [m.as_json() for m in self.mechanisms],
                "groups": [{"group": g, "symbols": [c.as_json() for c in cs[:limit]],
                            "edges": [e.as_json() for e in es[:limit]],
                            "more": max(0, len(cs) - limit) + max(0, len(es) - limit) if limit else 0}
                           for g, cs, es in self.groups()]}
