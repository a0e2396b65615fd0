"""Resources (a note as `note://<framework>/<name>`, a mechanism page as `mechanism://<name>`) and
the prompt that tells an agent how to investigate a mechanism with the tools. Pages are Markdown
an agent reads as is; they name the tool calls that go deeper."""
from __future__ import annotations

import re

from . import errors
from .notes_tools import FRESHNESS, find_note
from .state import Workspace
from .tools import note_uri

_REF = re.compile(r"\[\[([^\]\n]+)\]\]")


def note_text(ws: Workspace, name: str) -> str:
    """A note as Markdown: a header with its freshness and anchors' statuses, then its body."""
    n = find_note(ws, name)
    statuses = {r.anchor: r.status for r in ws.note_results(n)}
    lines = [f"<!-- {note_uri(n)}: {n.framework} {n.meta.get('version', '')}, mechanism {n.mechanism}, "
             f"freshness {ws.freshness(n)} -->", "", "Anchors (canonical names; status from `notes check`):"]
    lines += [f"- `{a.raw}`: {statuses.get(a.raw, 'unchecked')}" for a in n.anchors]
    for key in ("reimpl", "tests"):
        if n.meta.get(key):
            lines.append(f"{key}: " + ", ".join(f"`{v}`" for v in n.meta[key]))
    return "\n".join(lines) + "\n\n" + n.body


def mechanism_text(ws: Workspace, mechanism: str) -> str:
    """One mechanism across engines: its notes (freshness, opening lines) and the anchored symbols
    per framework with where they are and how connected they are."""
    from ..notes import MECHANISMS
    from ..notes.model import MECHANISM_TITLES

    if mechanism not in MECHANISMS:
        raise errors.usage(f"unknown mechanism '{mechanism}'; known: {', '.join(MECHANISMS)}")
    notes = [n for n in ws.notes()[0] if n.mechanism == mechanism]
    parts = [f"# {MECHANISM_TITLES.get(mechanism, mechanism)} (`{mechanism}`)", ""]
    if not notes:
        parts += ["No note covers this mechanism yet: start from find_symbol.", ""]
    for n in notes:
        parts += [f"## {n.title}", f"{note_uri(n)} · {n.framework} {n.meta.get('version', '')} · "
                  f"freshness {ws.freshness(n)}", "", _opening(n.body), ""]
    for fw in sorted({a.framework for n in notes for a in n.anchors}):
        parts += [f"## Anchored symbols ({fw})", ""] + _anchor_lines(ws, fw, notes) + [""]
    parts += ["## Going deeper", "",
              "show_symbol(symbol) for source, callers, callees and notes; callees(symbol, depth=2) "
              "to follow the flow down; call_path(source, target, k=3) for labelled chains; "
              "overrides(symbol) for where dispatch lands; read_note(note) for a note.", "",
              f"Freshness: {FRESHNESS}."]
    return "\n".join(parts) + "\n"


def _anchor_lines(ws: Workspace, fw: str, notes) -> list[str]:
    names = list(dict.fromkeys(a.target for n in notes for a in n.anchors if a.framework == fw))
    try:
        ref, idx = ws.open(fw)
    except errors.ToolFailure as exc:
        return [f"(not indexed here: {exc.payload.get('message', exc.message)})"] + [f"- `{t}`" for t in names]
    out = []
    for name in names:
        if "/" in name:
            out.append(f"- `{name}` (file)")
            continue
        rows = idx.exact(name)
        if not rows:
            out.append(f"- `{name}`: not in {ref.key} (a broken anchor)")
            continue
        r = rows[0]
        ids = [x.id for x in rows]
        n_in, n_out = len(idx.walk(ids, "callers", 1)), len(idx.walk(ids, "callees", 1))
        out.append(f"- `{r.name}` {r.kind}, {r.path}:{r.line}-{r.end_line}, {n_in} callers, {n_out} callees")
    return out


def _opening(body: str, limit: int = 400) -> str:
    for para in re.split(r"\n\s*\n", body):
        p = para.strip()
        if p and not p.startswith(("#", "```", "|", "-", "!!!")):
            text = _REF.sub(lambda m: m.group(1), re.sub(r"\s+", " ", p))
            return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."
    return ""


INSTRUCTIONS = """\
infernav: the call graph of pinned LLM inference engines (vLLM, KsanaLLM; Python, C++, CUDA),
with edges across languages (Python -> torch op -> registration -> C++ -> CUDA kernel) and through
virtual dispatch, plus reviewed notes that say whether they still match the code.
Every tool takes `framework` (vllm by default; ksanallm; name@version). Names may be canonical,
a unique suffix (Scheduler.schedule) or path:line. Unknown names answer with suggestions,
ambiguous ones with candidates. Edge labels: exact, type and dispatch are resolved; any other
label is a name-only guess, so verify it in the source. An empty answer is not proof of absence.
Lists are bounded: `truncated: true` says more exist (raise `limit`, or narrow the query)."""


def investigate_prompt(mechanism: str, framework: str = "vllm", question: str = "") -> str:
    """How to investigate a mechanism of an inference engine with infernav's tools."""
    ask = f" The question: {question}" if question else ""
    return f"""Investigate how {framework} implements `{mechanism}`.{ask}

Work from the index, not from memory, and cite path:line for every claim.
1. Read resource mechanism://{mechanism}: the notes on it (with freshness) and the anchored
   symbols. A note marked drifted or broken is a lead, not a fact: re-read the code it anchors.
2. notes_for(mechanism="{mechanism}") then read_note for the notes you need.
3. find_symbol for names the notes do not cover; show_symbol on each entry point (signature,
   excerpt with line numbers, direct callers/callees, overrides, notes).
4. callees(symbol, depth=2) to follow the flow down (Python -> torch op -> C++ -> CUDA kernel);
   callers(symbol) to see who drives it; call_path(a, b, k=3) to connect two ends, hop by hop.
5. Where a call goes through a base or interface method (label dispatch), overrides(symbol)
   lists where it can land.
6. Treat labels other than exact/type/dispatch as guesses and check them in the excerpt. If a
   tool finds nothing, say "not found in the index" rather than "none": dynamic calls and
   unresolved receivers are not edges.
Answer with the chain of calls (each hop with path:line and its label), what each step does, and
what remains unverified.
framework={framework}"""
