"""`infernav diff A B`: what changed between two indexed versions of one engine (analyzer/diff)."""
from __future__ import annotations

import click

from .options import json_opt, open_index, positive, ref_of
from .output import ExitStatus, answer, echo, fail, style

_STATUS_COLOURS = {"changed": "yellow", "renamed": "cyan", "moved": "cyan", "added": "green", "removed": "red"}


@click.command("diff")
@click.argument("old", metavar="A")
@click.argument("new", metavar="B")
@click.option("--under", default=None, metavar="PATH", help="Only files under this folder (or this file).")
@click.option("--mechanism", default=None, metavar="NAME",
              help="Only the symbols a mechanism's notes anchor, plus their callees (see --depth).")
@click.option("--depth", default=1, show_default=True, type=click.IntRange(min=0),
              help="Callee depth of a mechanism's scope.")
@click.option("-n", "--limit", default=None, type=positive,
              help="Entries per folder and section (default: 20; all under --json).")
@json_opt
def diff_cmd(old: str, new: str, under: str | None, mechanism: str | None, depth: int, limit: int | None,
             as_json: bool) -> None:
    """Symbols added, removed, moved, renamed and changed, and call edges added and removed, from
    A to B (e.g. vllm@0.14.1 vllm@0.33.0), by folder, most-called first; per mechanism on top.

    Comments, whitespace and reformatting are no change. Both versions must be fetched (bodies
    are read from the source trees) and indexed (an index is built if missing)."""
    from ..notes import MECHANISMS

    ra, rb = ref_of(old, as_json), ref_of(new, as_json)
    if ra.name != rb.name:
        fail(f"A and B must be versions of one engine (got {ra.name} and {rb.name})", ExitStatus.ERROR, as_json,
             kind="usage")
    if mechanism is not None and mechanism not in MECHANISMS:
        fail(f"unknown mechanism '{mechanism}'; known: {', '.join(MECHANISMS)}", ExitStatus.ERROR, as_json,
             kind="usage")
    ia, ib = open_index(ra, as_json), open_index(rb, as_json)
    from ..diff import release_diff

    try:
        d = release_diff(ia, ib, under, mechanism, depth)
    except LookupError as exc:
        fail(str(exc), ExitStatus.EMPTY, as_json, kind="no source")
    found = bool(d.changes or d.edges)
    answer(as_json, d.as_json(limit), lambda: _human(d, limit or 20), found)


def _human(d, limit: int) -> None:
    t = d.totals
    scope = (f" under {d.under}" if d.under else "") + (f", mechanism {d.mechanism}" if d.mechanism else "")
    echo(style(f"{d.a} → {d.b}{scope}", bold=True))
    echo(f"symbols: {t['changed']} changed ({t['signature_changed']} signatures), {t['renamed']} renamed, "
         f"{t['moved']} moved, {t['added']} added, {t['removed']} removed; {t['unchanged']} unchanged "
         f"({t['reformatted']} of them reformatted or re-commented only)")
    echo(f"call edges: +{t['edges_added']} -{t['edges_removed']} between symbols of both versions "
         f"(plus {t['edges_of_added_symbols']} of added symbols, {t['edges_of_removed_symbols']} of removed ones)")
    if d.mechanisms:
        echo("")
        echo(style("Mechanisms", bold=True) + " (the notes' anchors and their callees)")
        for m in d.mechanisms:
            echo(f"  {m.line()}")
    for group, changes, edges in d.groups():
        echo("")
        echo(style(group, bold=True) + f"  ({len(changes)} symbols, {len(edges)} call edges)")
        for c in changes[:limit]:
            _human_change(c)
        for e in edges[:limit]:
            sign = style("+", fg="green") if e.status == "added" else style("-", fg="red")
            echo(f"  {sign} call  {_short(e.caller)} → {_short(e.callee)}  [{e.resolution}"
                 f"{'/' + e.via if e.via != 'call' else ''}]  {e.path}:{e.line}")
        hidden = max(0, len(changes) - limit) + max(0, len(edges) - limit)
        if hidden:
            echo(f"  ... {hidden} more (--limit N, or --json for all)")


def _human_change(c) -> None:
    status = style(f"{c.status:<8}", fg=_STATUS_COLOURS.get(c.status))
    where_old = f"{c.old.path}:{c.old.line}" if c.old is not None else ""
    where_new = f"{c.new.path}:{c.new.line}" if c.new is not None else ""
    lines = f"  +{c.added} -{c.removed}" if c.added or c.removed else ""
    callers = f"  {c.callers} caller{'s' if c.callers != 1 else ''}" if c.callers else ""
    if c.status in ("renamed", "moved"):
        sim = f"  (similarity {c.similarity:.2f})" if c.similarity is not None and c.similarity < 1 else ""
        names = _short(c.name) if c.old.name == c.new.name else f"{_short(c.old.name)} → {_short(c.new.name)}"
        echo(f"  {status} {names}{lines}{sim}  {where_old} → {where_new}{callers}")
    elif c.status == "changed":
        echo(f"  {status} {_short(c.name)}{lines}  {where_old} → {where_new}{callers}")
    else:
        echo(f"  {status} {_short(c.name)}  {where_new or where_old}{callers}")
    if c.signature_changed:
        echo(f"           {style('before', dim=True)} {c.sig_before}")
        echo(f"           {style('after ', dim=True)} {c.sig_after}")


def _short(name: str) -> str:
    from ..diff.model import short

    return short(name)
