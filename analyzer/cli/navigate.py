"""Query commands: find, show, callers, callees, path, overrides, graph, stats."""
from __future__ import annotations

import click

from ..query.payloads import find_payload, overrides_payload, path_payload, show_payload, walk_payload
from .options import framework_opt, json_opt, lookup, open_index, positive, ref_of, resolutions, strict_opt
from .output import answer, dump, echo, finish, style

_COLORS = {"exact": "green", "type": "cyan", "dispatch": "yellow", "name": "red"}


def _label(hit) -> str:
    return hit.resolution + ("/" + hit.via if hit.via != "call" else "")


@click.command()
@click.argument("pattern")
@click.option("--kind", default=None, help="Only this kind (function, method, class, kernel, torch_op, ...).")
@click.option("-n", "--limit", default=30, show_default=True, type=positive)
@framework_opt
@json_opt
def find(pattern: str, kind: str | None, limit: int, framework: str | None, as_json: bool) -> None:
    """Find symbols by name: a substring, or a glob like '*Scheduler.sched*'."""
    rows = open_index(ref_of(framework, as_json), as_json).find(pattern, kind=kind, limit=limit)

    def human() -> None:
        for r in rows:
            echo(f"{style(r.name, bold=True)}  {r.kind}  {r.path}:{r.line}")

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
    notes = _notes_on({r.name for r in rows}, ref.name)
    if as_json:
        dump(show_payload(ref, out, callers, callees, over, notes))
        return
    for r, src in out:
        _show_symbol(ref, r, src, no_source)
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


def _show_symbol(ref, r, src, no_source: bool) -> None:
    echo(style(r.name, bold=True) + f"  [{r.kind}{', ' + r.flags if r.flags else ''}]")
    echo(f"  {r.path}:{r.line}-{r.end_line}" + (f"  (declared {r.decl_path}:{r.decl_line})" if r.decl_path else ""))
    echo(f"  {ref.permalink(r.path, r.line)}")
    if r.sig:
        echo(f"  {r.sig}")
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


def _walk_command(direction: str):
    @click.argument("symbol")
    @click.option("-d", "--depth", default=1, show_default=True, type=positive, help="Levels to follow.")
    @framework_opt
    @json_opt
    @strict_opt
    def command(symbol: str, depth: int, framework: str | None, as_json: bool, strict: bool) -> None:
        idx = open_index(ref_of(framework, as_json), as_json)
        rows = lookup(idx, symbol, as_json)
        hits = idx.walk([r.id for r in rows], direction, depth, resolutions(strict))

        def human() -> None:
            echo(f"{direction} of {style(rows[0].name, bold=True)} ({len(hits)}):")
            for h in hits:
                loc = f"{h.symbol.path}:{h.line}" if direction == "callers" else f"{h.symbol.path}:{h.symbol.line}"
                echo(f"{'  ' * h.depth}{h.symbol.name}  {style(_label(h), fg=_COLORS.get(h.resolution, 'white'))}  {loc}")

        answer(as_json, walk_payload(rows, hits), human, bool(hits))

    command.__doc__ = (
        f"{'Who calls' if direction == 'callers' else 'What is called by'} SYMBOL, with how each edge was resolved."
    )
    return click.command(direction)(command)


callers = _walk_command("callers")
callees = _walk_command("callees")


@click.command("path")
@click.argument("source")
@click.argument("target")
@click.option("-k", default=1, show_default=True, type=positive, help="How many shortest chains.")
@click.option("--max-len", default=12, show_default=True, type=positive, help="Longest chain considered.")
@framework_opt
@json_opt
@strict_opt
def path_cmd(source: str, target: str, k: int, max_len: int, framework: str | None, as_json: bool,
             strict: bool) -> None:
    """Shortest (and k-shortest) call chains from SOURCE to TARGET."""
    idx = open_index(ref_of(framework, as_json), as_json)
    a = lookup(idx, source, as_json)
    b = lookup(idx, target, as_json)
    chains = idx.paths([r.id for r in a], [r.id for r in b], k, max_len, resolutions(strict))

    def human() -> None:
        if not chains:
            echo(f"no call chain from {a[0].name} to {b[0].name} within {max_len} calls")
        for i, c in enumerate(chains, 1):
            echo(f"path {i} ({len(c) - 1} calls):")
            for depth, s in enumerate(c):
                echo(f"  {'  ' * depth}{s.name}  {s.path}:{s.line}")

    answer(as_json, path_payload(a, b, chains), human, bool(chains))


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
@click.option("--limit", default=60, show_default=True, type=positive, help="Most nodes to draw.")
@framework_opt
@json_opt
@strict_opt
def graph(symbol: str, fmt: str, depth: int, limit: int, framework: str | None, as_json: bool, strict: bool) -> None:
    """Call graph around SYMBOL (callers and callees) as Mermaid, Graphviz dot or JSON."""
    from ..render import to_dot, to_json, to_mermaid

    fmt = "json" if as_json else fmt
    idx = open_index(ref_of(framework, as_json), as_json)
    rows = lookup(idx, symbol, fmt == "json")
    nodes, edges = idx.neighbourhood([r.id for r in rows], depth, resolutions(strict), limit)
    focus = {r.id for r in rows}
    if fmt == "json":
        dump(to_json(nodes, edges, focus))
    else:
        echo({"mermaid": to_mermaid, "dot": to_dot}[fmt](nodes, edges, focus))


@click.command()
@framework_opt
@json_opt
def stats(framework: str | None, as_json: bool) -> None:
    """What the index holds: files, symbols by kind, edges by resolution, parse errors."""
    s = open_index(ref_of(framework, as_json), as_json).stats()
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
    echo(f"overrides: {s['overrides']}")
    if s["parse_error_files"]:
        echo(f"parse errors in {len(s['parse_error_files'])} files (only the broken regions are lost):")
        for p in s["parse_error_files"][:15]:
            echo(f"  {p}")
        if len(s["parse_error_files"]) > 15:
            echo(f"  ... {len(s['parse_error_files']) - 15} more (--json lists all)")
    for p in s["skipped_files"]:
        echo(f"skipped: {p}")
