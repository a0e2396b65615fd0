"""The notes tools (notes_for, read_note: the notes engine, with freshness from `notes check`) and
`frameworks` (what is pinned, fetched and indexed)."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from . import errors
from .state import Workspace
from .tools import Framework, note_uri

FRESHNESS = ("fresh: every anchor matches the lock; drifted: an anchored body changed since the note was "
             "reviewed (re-read the code); broken: an anchor no longer resolves; unlocked: never reviewed; "
             "unchecked: the source is absent here, so only the lock was read")


def note_entry(ws: Workspace, note, how: str | None = None) -> dict[str, Any]:
    out = {"note": note.rel, "uri": note_uri(note), "title": note.title, "framework": note.framework,
           "mechanism": note.mechanism, "version": str(note.meta.get("version", "")),
           "anchors": len(note.anchors), "freshness": ws.freshness(note)}
    if how:
        out["how"] = how
    return out


def find_note(ws: Workspace, name: str):
    """A note by its path under annotations/ (vllm/prefix-caching.md, with or without .md), a
    unique tail of it, or its note:// URI; matched the way `infernav notes show` matches."""
    from ..notes import notes_root

    s = name.strip().removeprefix("note://")
    found, _ = ws.notes()
    matches = [n for n in found if n.rel in (s, f"{s}.md") or n.rel.endswith(("/" + s, "/" + s + ".md"))]
    if len(matches) != 1:
        if matches:
            raise errors.ToolFailure(f"error: note '{name}' is ambiguous: {', '.join(n.rel for n in matches)}",
                                     {"error": "ambiguous", "query": name, "candidates": [n.rel for n in matches]})
        raise errors.not_found(f"no note '{name}' under {notes_root()}; `infernav notes list` shows them",
                               query=name, notes=[n.rel for n in found])
    return matches[0]


class NotesTools:
    def __init__(self, ws: Workspace):
        self.ws = ws

    async def notes_for(
        self,
        symbol: Annotated[str | None, Field(description="Notes that anchor or [[reference]] this symbol "
                                                        "(any name show_symbol accepts); omit to list all.")] = None,
        mechanism: Annotated[str | None, Field(description="Only notes on this mechanism: prefix-cache, swap, "
                                                           "scheduler, block-allocator, paged-attention, "
                                                           "attention-kernel, custom-ops, engine-loop.")] = None,
        framework: Annotated[str | None, Field(description="The symbol's framework (default vllm); without a "
                                                           "symbol, only notes touching this framework.")] = None,
    ) -> dict[str, Any]:
        """Hand-written, reviewed notes on the code, each with its freshness (is it still true of the
        pinned source?) and how it relates to the symbol (anchor or reference).
        Read one with read_note. Returns {symbol?, notes: [{note, uri, title, framework, mechanism,
        version, anchors, freshness, how?}], freshness_legend}."""
        from ..notes import MECHANISMS

        if mechanism is not None and mechanism not in MECHANISMS:
            raise errors.usage(f"unknown mechanism '{mechanism}'; known: {', '.join(MECHANISMS)}")
        found, _ = self.ws.notes()
        found = [n for n in found if mechanism is None or n.mechanism == mechanism]
        out: dict[str, Any] = {}
        if symbol is not None:
            ref, idx = self.ws.open(framework)
            rows = errors.lookup(idx, symbol)
            names = {r.name for r in rows}
            out["symbol"] = rows[0].brief()
            entries = []
            for n in found:
                how = ("anchor" if any(a.framework == ref.name and a.target in names for a in n.anchors)
                       else "reference" if any(a.framework == ref.name and a.target in names for a in n.refs)
                       else None)
                if how:
                    entries.append(note_entry(self.ws, n, how))
        else:
            fw = self.ws.ref(framework).name if framework else None
            entries = [note_entry(self.ws, n) for n in found
                       if fw is None or any(a.framework == fw for a in n.anchors)]
        out.update(notes=entries, freshness_legend=FRESHNESS)
        return out

    async def read_note(
        self, note: Annotated[str, Field(description="The note's path under annotations/ "
                                                     "(vllm/prefix-caching.md), a unique tail of it, or its "
                                                     "note:// URI.")],
        max_chars: Annotated[int, Field(ge=200, le=100_000, description="Longest body returned.")] = 20_000,
    ) -> dict[str, Any]:
        """One note: front matter, body (Markdown), and every anchor with its `notes check` status
        (ok, drifted with what changed, broken, unlocked, unchecked) and the note's freshness."""
        n = find_note(self.ws, note)
        results = self.ws.note_results(n)
        anchors = [{"anchor": r.anchor, "status": r.status, **({"detail": r.detail} if r.detail else {}),
                    **({"diff": _cut(r.diff, 40)} if r.diff else {})} for r in results]
        body = n.body if len(n.body) <= max_chars else n.body[:max_chars]
        return {**note_entry(self.ws, n), "meta": {k: v for k, v in n.meta.items() if k != "anchors"},
                "anchor_status": anchors, "body": body, "body_chars": len(n.body),
                "truncated": len(n.body) > max_chars, "freshness_legend": FRESHNESS}

    async def frameworks(self) -> dict[str, Any]:
        """What infernav knows: every pinned framework and version, whether its source is fetched and
        its index built (with counts: files, symbols by kind, edges by resolution, overrides, how many
        call sites resolved), the default version a `framework` argument means, and the notes on it.
        Versions not indexed say the command that builds them."""
        from ..sources import load_pins, locate, parse_ref

        pins = load_pins()
        found, _ = self.ws.notes()
        out = []
        for name, spec in pins.items():
            versions = []
            for version in spec.get("versions", {}) or {spec["default"]: {}}:
                ref = parse_ref(f"{name}@{version}", pins)
                versions.append(_version_entry(self.ws, ref, locate(ref) is not None, version == spec["default"]))
            out.append({"framework": name, "default": spec["default"], "versions": versions,
                        "notes": sum(1 for n in found if any(a.framework == name for a in n.anchors))})
        return {"frameworks": out}


def _version_entry(ws: Workspace, ref, fetched: bool, default: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"version": ref.version, "key": ref.key, "default": default, "source": fetched}
    idx = ws.present_index(ref)
    if idx is None:
        entry["indexed"] = False
        entry["how"] = f"infernav index {ref.key}" if fetched else f"infernav fetch {ref.key} && infernav index {ref.key}"
        return entry
    st = ws.stats(ref, idx)
    entry.update(indexed=True, indexed_at=st["indexed_at"], files=st["files"],
                 symbols={"total": sum(st["symbols"].values()), **st["symbols"]},
                 edges={"total": sum(st["edges"]["by_resolution"].values()), **st["edges"]["by_resolution"]},
                 overrides=st["overrides"], call_sites=st["call_sites"],
                 parse_error_files=len(st["parse_error_files"]))
    return entry


def _cut(text: str, lines: int) -> str:
    parts = text.splitlines()
    return text if len(parts) <= lines else "\n".join(parts[:lines] + [f"... {len(parts) - lines} more lines"])
