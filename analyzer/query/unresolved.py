"""Call sites the analysis could not resolve: what a def calls that the graph does not show, how
many sites elsewhere might still reach a method, and how much of each folder resolves.

A site is unresolved when it reached no indexed symbol except by a name-only guess; it is stored
with its text, line and why: 'builtin' / 'external' (with the dotted names it calls outside the
index, `target`), 'too-many' (its callee set was cut at the analysis' bound), 'unknown'. A site
that has edges but also calls outside the index, or whose callee set was cut, is stored too,
marked `partial` (it counts as resolved)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

# Reasons a site might still call an indexed method of some name.
OPEN_REASONS = ("unknown", "too-many")


@dataclass(frozen=True)
class UnresolvedSite:
    caller: int
    line: int
    text: str
    reason: str
    target: str
    partial: int

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"call_line": self.line, "text": self.text, "reason": self.reason,
                               "partial": bool(self.partial)}
        if self.target:
            out["target"] = self.target.split(",")
        return out


def _folder(path: str) -> str:
    """The file's folder, at most three levels deep (`vllm/v1/core`, `src/ksana_llm/cache_manager`)."""
    parts = path.split("/")[:-1][:3]
    return "/".join(parts) or "(top)"


class Sites:
    """Mixin of Index: needs `conn`."""

    def unresolved_sites(self, ids: Iterable[int]) -> list[UnresolvedSite]:
        """Unresolved call sites inside these defs, by line."""
        ids = list(set(ids))
        out: list[UnresolvedSite] = []
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            marks = ",".join("?" * len(chunk))
            out += [UnresolvedSite(*r) for r in self.conn.execute(
                f"SELECT src, line, text, reason, target, partial FROM unresolved WHERE src IN ({marks})", chunk)]
        out.sort(key=lambda u: (u.line, u.text, u.caller))
        return out

    def unresolved_named(self, short: str) -> int:
        """How many unresolved sites call something named `short` on a receiver the analysis does
        not know: each might reach an indexed method of that name."""
        marks = ",".join("?" * len(OPEN_REASONS))
        row = self.conn.execute(f"SELECT count(*) FROM unresolved WHERE short=? AND reason IN ({marks}) "
                                "AND partial=0",
                                (short, *OPEN_REASONS)).fetchone()
        return int(row[0])

    def resolution_by_folder(self) -> list[dict[str, Any]]:
        """Per folder (of the calling def's file, three levels at most): call sites resolved to indexed
        symbols (not by guesses) and unresolved ones by reason, and the resolution rate."""
        paths = dict(self.conn.execute("SELECT id, path FROM symbols"))
        resolved: dict[str, set] = {}
        for src, line in self.conn.execute(
                "SELECT DISTINCT src, line FROM edges WHERE resolution != 'guess' AND via != 'registration'"):
            resolved.setdefault(_folder(paths.get(src, "")), set()).add((src, line))
        unresolved: dict[str, dict[str, int]] = {}
        for src, reason, n in self.conn.execute(
                "SELECT src, reason, count(*) FROM unresolved WHERE partial=0 GROUP BY src, reason"):
            by = unresolved.setdefault(_folder(paths.get(src, "")), {})
            by[reason] = by.get(reason, 0) + n
        out = []
        for folder in sorted(set(resolved) | set(unresolved)):
            r = len(resolved.get(folder, ()))
            u = unresolved.get(folder, {})
            total = r + sum(u.values())
            out.append({"folder": folder, "resolved": r, "unresolved": dict(sorted(u.items())),
                        "rate": round(100.0 * r / total, 1) if total else None})
        return out
