"""Query commands: find, show, overrides, graph, stats (callers, callees and path: calls.py)."""
from __future__ import annotations

import click

from ..query.payloads import find_payload, overrides_payload, show_payload
from .calls import callees, callers, label as _label, path_cmd
from .options import (framework_opt, guesses_opt, json_opt, lookup, open_index, positive, ref_of, resolutions,
                      strict_opt)
from .output import ExitStatus, answer, dump, echo, fail, finish, style

__all__ = ["callees", "callers", "find", "graph", "overrides", "path_cmd", "show", "stats"]


@click.command()
@click.argument("pattern")
@click.option("--kind", default=None, help="Only this kind (function, method, class, kernel, torch_op, ...).")
@click.option("-n", "--limit", default=30, show_default=True, type=positive)
@framework_opt
@json_opt
def find(pattern: str, kind: str | None, limit: int, framework: str | None, as_json: bool) -> None:
    """Find symbols by name: a substring, or a glob like '*Scheduler.sched*' (`%` and `_` are
    plain characters)."""
    if not pattern.strip():
        fail("find needs a non-empty PATTERN (a substring, or a glob like '*Scheduler*')", ExitStatus.ERROR,
             as_json, kind="usage")
    rows = open_index(ref_of(framework, as_json), as_json).find(pattern, kind=kind, limit=limit)

    def human() -> None:
        for r in rows:
            echo(f"{style(r.name, bold=True)}  {r.kind}  {r.path}:{r.line}")
        if not rows:
            echo(f"error: no symbol matches '{pattern}'" + (f" (kind {kind})" if kind else ""), err=True)

    answer(as_json, find_payload(pattern, rows), human, bool(rows))


@click.command()
@click.argument("symbol")
@click.option("--no-source", is_flag=True, help="Leave out the source excerpt.")
@framework_opt
@json_opt
def show(symbol: str, no_source: bool, framework: str | None, as_json: bool) -> None:
    """Signature, location, docstring, source excerpt and direct callers/callees of SYMBOL."""
    ref = ref_of(framework, as_json)
    idx = open_index(ref, as_json)
    rows = lookup(idx, symbol, as_json)
    ids = [r.id for r in rows]
    callers, callees = idx.walk(ids, "callers", 1), idx.walk(ids, "callees", 1)
    over = idx.overrides(ids)
    out = [(r, None if no_source else idx.source_lines(r)) for r in rows]
    sigs = [idx.signature(r, src) for r, src in out]
    notes = _notes_on({r.name for r in rows}, ref.name)
    if as_json:
        dump(show_payload(ref, out, callers, callees, over, notes, sigs))
        return
    for (r, src), sig in zip(out, sigs):
        _show_symbol(ref, r, src, no_source, sig)
    for title, hits in (("callers", callers), ("callees", callees)):
        echo(f"{title} ({len(hits)}):")
        for h in hits[:20]:
            where = h.line if title == "callers" else h.symbol.line
            echo(f"  {h.symbol.name}  [{_label(h)}]  {h.symbol.path}:{where}")
        if len(hits) > 20:
            echo(f"  ... {len(hits) - 20} more (infernav {title} {symbol})")
    if over["overrides"] or over["overridden_by"]:
        echo(f"overrides: {', '.join(r.name for r in over['overrides']) or '-'}")
        echo(f"overridden by: {', '.join(r.name for r in over['overridden_by']) or '-'}")
    if notes:
        echo(f"notes ({len(notes)}):")
        for n in notes:
            echo(f"  {n.rel}  {n.title}")


def _show_symbol(ref, r, src, no_source: bool, sig: str) -> None:
    echo(style(r.name, bold=True) + f"  [{r.kind}{', ' + r.flags if r.flags else ''}]")
    echo(f"  {r.path}:{r.line}-{r.end_line}" + (f"  (declared {r.decl_path}:{r.decl_line})" if r.decl_path else ""))
    echo(f"  {ref.permalink(r.path, r.line)}")
    for line in sig.splitlines():      # the header as written (Index.signature), not the one-line `sig`
        echo(f"  {line}")
    if r.doc:
        doc = r.doc.strip().splitlines()
        echo("")
        for line in doc[:12]:
            echo(f"  | {line}")
        if len(doc) > 12:
            echo("  | ...")
    if src:
        echo("")
        for n, text in src:
            echo(f"  {style(f'{n:>5}', dim=True)}  {text}")
        if src[-1][0] < r.end_line:
            echo(f"  {'':>5}  ... ({r.end_line - src[-1][0]} more lines)")
    elif src is None and not no_source:
        echo("  (source not present locally; see the permalink)")
    echo("")


def _notes_on(names: set[str], framework: str):
    from ..notes import notes_on

    try:
        return notes_on(names, framework)
    except Exception:  # notes are an extra on `show`; a broken note must not break navigation
        return []


@click.command()
@click.argument("symbol")
@framework_opt
@json_opt
def overrides(symbol: str, framework: str | None, as_json: bool) -> None:
    """Methods SYMBOL overrides, and the methods that override it."""
    idx = open_index(ref_of(framework, as_json), as_json)
    rows = lookup(idx, symbol, as_json)
    over = idx.overrides([r.id for r in rows])

    def human() -> None:
        echo(f"{style(rows[0].name, bold=True)}")
        for key, title in (("overrides", "overrides"), ("overridden_by", "overridden by")):
            echo(f"{title} ({len(over[key])}):")
            for r in over[key]:
                echo(f"  {r.name}  {r.path}:{r.line}")

    answer(as_json, overrides_payload(rows, over), human, bool(over["overrides"] or over["overridden_by"]))


@click.command()
@click.argument("symbol")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid", show_default=True)
@click.option("-d", "--depth", default=1, show_default=True, type=positive)
@click.option("--limit", default=60, show_default=True, type=positive, help="Most nodes to draw (a fan-out is one).")
@click.option("--tests", is_flag=True, help="Keep callers and callees in test code (left out by default).")
@framework_opt
@json_opt
@guesses_opt
@strict_opt
def graph(symbol: str, fmt: str, depth: int, limit: int, tests: bool, framework: str | None, as_json: bool,
          guesses: bool, strict: bool) -> None:
    """Call graph around SYMBOL (callers and callees) as Mermaid, Graphviz dot or JSON: exact, flow
    and type edges first, then dispatch and guesses; N overrides reached from one call are one node."""
    from ..render import to_dot, to_json, to_mermaid

    fmt = "json" if as_json else fmt
    ref = ref_of(framework, as_json)
    idx = open_index(ref, as_json)
    rows = lookup(idx, symbol, fmt == "json")
    focus = {r.id for r in rows}
    g = idx.ranked_neighbourhood([r.id for r in rows], depth, resolutions(guesses), limit,
                                 is_test=ref.is_test_path, tests=tests)
    if fmt == "json":
        dump(to_json(g, focus))
    else:
        echo({"mermaid": to_mermaid, "dot": to_dot}[fmt](g, focus))


@click.command()
@framework_opt
@json_opt
def stats(framework: str | None, as_json: bool) -> None:
    """What the index holds: files, symbols by kind, edges by resolution, how much of each folder's
    call sites resolve, parse errors."""
    idx = open_index(ref_of(framework, as_json), as_json)
    s = idx.stats()
    s["resolution_by_folder"] = idx.resolution_by_folder()
    if as_json:
        dump(s)
        finish(True)
    echo(f"{s['framework']}  ({s['root']}, indexed {s['indexed_at']})")
    echo("files:    " + ", ".join(f"{k} {v}" for k, v in s["files"].items()))
    echo("symbols:  " + ", ".join(f"{k} {v}" for k, v in s["symbols"].items()))
    echo("edges:    " + ", ".join(f"{k} {v}" for k, v in s["edges"]["by_resolution"].items()))
    echo("via:      " + ", ".join(f"{k} {v}" for k, v in s["edges"]["by_via"].items()))
    cs = s["call_sites"]
    echo(f"calls:    {cs['resolved']} of {cs['resolved'] + cs['unresolved']} call sites resolved to indexed "
         "symbols (the rest call the standard library, torch, or other code outside the index)")
    _folders(s["resolution_by_folder"])
    echo(f"overrides: {s['overrides']}")
    if s["parse_error_files"]:
        echo(f"parse errors in {len(s['parse_error_files'])} files (only the broken regions are lost):")
        for p in s["parse_error_files"][:15]:
            echo(f"  {p}")
        if len(s["parse_error_files"]) > 15:
            echo(f"  ... {len(s['parse_error_files']) - 15} more (--json lists all)")
    for p in s["skipped_files"]:
        echo(f"skipped: {p}")


def _folders(rows: list[dict], shown: int = 15) -> None:
    """Resolution rate of the folders with the most call sites."""
    rows = sorted(rows, key=lambda r: -(r["resolved"] + sum(r["unresolved"].values())))
    echo("resolved call sites by folder (unresolved: unknown receivers / outside the index / builtins):")
    for r in rows[:shown]:
        u = r["unresolved"]
        total = r["resolved"] + sum(u.values())
        rate = "   -" if r["rate"] is None else f"{r['rate']:5.1f}%"
        echo(f"  {r['folder']:<40} {rate}  of {total:>6}  (unknown {u.get('unknown', 0) + u.get('too-many', 0)}, "
             f"outside {u.get('external', 0)}, builtins {u.get('builtin', 0)})")
    if len(rows) > shown:
        echo(f"  ... {len(rows) - shown} more folders (--json lists all)")
