"""Call-graph commands: callers, callees, path.

Default answers leave name-only guesses out (`--guesses` adds them, labelled `guess`); `--strict`
is still accepted and changes nothing (guesses are out already). Unknowns are said, not hidden:
`callees` lists the call sites the analysis could not resolve, `callers` says how many unresolved
sites elsewhere call a method of the same name, and `path` labels every hop.
"""
from __future__ import annotations

import click

from .options import framework_opt, guesses_opt, json_opt, lookup, open_index, positive, ref_of, resolutions, strict_opt
from .output import answer, echo, style

COLORS = {"exact": "green", "type": "cyan", "flow": "blue", "dispatch": "yellow", "guess": "red"}
_SHOWN_UNRESOLVED = 25


def label(hit) -> str:
    return hit.resolution + ("/" + hit.via if hit.via != "call" else "")


def colored(res: str, text: str) -> str:
    return style(text, fg=COLORS.get(res, "white"))


def _walk_command(direction: str):
    @click.argument("symbol")
    @click.option("-d", "--depth", default=1, show_default=True, type=positive, help="Levels to follow.")
    @framework_opt
    @json_opt
    @guesses_opt
    @strict_opt
    def command(symbol: str, depth: int, framework: str | None, as_json: bool, guesses: bool, strict: bool) -> None:
        idx = open_index(ref_of(framework, as_json), as_json)
        rows = lookup(idx, symbol, as_json)
        ids = [r.id for r in rows]
        hits = idx.walk(ids, direction, depth, resolutions(guesses))
        payload = {"symbol": rows[0].brief(), "results": [h.as_json() for h in hits]}
        if direction == "callees":
            sites = idx.unresolved_sites(ids)
            payload["unresolved"] = [u.as_json() for u in sites]
        else:
            same = idx.unresolved_named(rows[0].short) if rows[0].kind in ("method", "function") else 0
            payload["unresolved_same_name"] = same

        def human() -> None:
            echo(f"{direction} of {style(rows[0].name, bold=True)} ({len(hits)}):")
            for h in hits:
                loc = f"{h.symbol.path}:{h.line}" if direction == "callers" else f"{h.symbol.path}:{h.symbol.line}"
                echo(f"{'  ' * h.depth}{h.symbol.name}  {colored(h.resolution, label(h))}  {loc}")
            if direction == "callees":
                _print_unresolved(sites)
            elif payload["unresolved_same_name"]:
                echo(style(f"and {payload['unresolved_same_name']} unresolved call sites elsewhere call a "
                           f"`.{rows[0].short}(...)` the analysis could not follow: they may reach it too"
                           + ("" if guesses else " (--guesses shows name-only candidates)"), dim=True))

        answer(as_json, payload, human, bool(hits))

    command.__doc__ = (
        f"{'Who calls' if direction == 'callers' else 'What is called by'} SYMBOL, with how each edge was resolved"
        + (" (and the call sites it could not resolve)." if direction == "callees" else ".")
    )
    return click.command(direction)(command)


def _print_unresolved(sites) -> None:
    """Unknown first, then outside calls; builtins only counted."""
    if not sites:
        return
    builtins = [u for u in sites if u.reason == "builtin"]
    rest = [u for u in sites if u.reason != "builtin"]
    rest.sort(key=lambda u: ({"unknown": 0, "too-many": 1}.get(u.reason, 2), u.line))
    echo(f"unresolved call sites ({len(sites)}):")
    for u in rest[:_SHOWN_UNRESOLVED]:
        what = u.reason + (f": {u.target}" if u.target else "") + (" (also has edges)" if u.partial else "")
        echo(f"  {u.line:>5}  {u.text}  {style(what, dim=True)}")
    if len(rest) > _SHOWN_UNRESOLVED:
        echo(f"  ... {len(rest) - _SHOWN_UNRESOLVED} more (--json lists all)")
    if builtins:
        names = sorted({u.target.split(",")[0].replace("<builtin>.", "") for u in builtins})
        echo(style(f"  and {len(builtins)} calls of builtins ({', '.join(names[:8])}"
                   f"{', ...' if len(names) > 8 else ''})", dim=True))


callers = _walk_command("callers")
callees = _walk_command("callees")


@click.command("path")
@click.argument("source")
@click.argument("target")
@click.option("-k", default=1, show_default=True, type=positive, help="How many shortest chains.")
@click.option("--max-len", default=12, show_default=True, type=positive, help="Longest chain considered.")
@framework_opt
@json_opt
@guesses_opt
@strict_opt
def path_cmd(source: str, target: str, k: int, max_len: int, framework: str | None, as_json: bool,
             guesses: bool, strict: bool) -> None:
    """Shortest (and k-shortest) call chains from SOURCE to TARGET, each hop with its label."""
    idx = open_index(ref_of(framework, as_json), as_json)
    a = lookup(idx, source, as_json)
    b = lookup(idx, target, as_json)
    res = resolutions(guesses)
    chains = idx.paths([r.id for r in a], [r.id for r in b], k, max_len, res)
    hops = [idx.hops([s.id for s in c], res) for c in chains]

    def human() -> None:
        if not chains:
            echo(f"no call chain from {a[0].name} to {b[0].name} within {max_len} calls"
                 + ("" if guesses else " (--guesses also follows name-only candidates)"))
        for i, (c, hs) in enumerate(zip(chains, hops), 1):
            echo(f"path {i} ({len(c) - 1} calls):")
            for depth, s in enumerate(c):
                hop = ""
                if depth:
                    h = hs[depth - 1]
                    lab = h["resolution"] + ("/" + h["via"] if h["via"] != "call" else "")
                    hop = "  " + colored(h["resolution"], lab) + f" (line {h['line']})"
                echo(f"  {'  ' * depth}{s.name}{hop}  {s.path}:{s.line}")

    payload = {"from": a[0].brief(), "to": b[0].brief(), "paths": [[s.name for s in c] for c in chains],
               "hops": hops}
    answer(as_json, payload, human, bool(chains))
