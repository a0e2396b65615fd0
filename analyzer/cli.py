"""`infernav` command line: a thin layer over infernav.analyzer.query (and sources/indexer).

Exit codes: 0 answered; 1 not found, empty, or a source/index that cannot be had; 2 usage error.
Start-up matters (users feel whole-process latency): query commands import only click, sqlite3
and the query module; tree-sitter, rich and networkx load only where a command needs them.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import sources
from .sources import FrameworkRef, SourceError

RES_CHOICES = ("exact", "type", "dispatch", "name")


def _ref(framework: str | None) -> FrameworkRef:
    try:
        return sources.parse_ref(framework)
    except SourceError as exc:
        raise click.UsageError(str(exc)) from None


def _fail(msg: str, code: int = 1) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(code)


def _try_open(ref: FrameworkRef):
    from .workspace import open_index

    return open_index(ref)


def _open(ref: FrameworkRef):
    try:
        return _try_open(ref)
    except LookupError as exc:
        _fail(str(exc))


def _print_report(r) -> None:
    secs = " ".join(f"{k}={v:.2f}s" for k, v in r.seconds.items())
    click.echo(f"{r.framework}: {r.mode}; {r.files} files, {r.parsed} parsed, {r.symbols} symbols, "
               f"{r.edges} edges ({secs})")
    if r.reason:
        click.echo(f"  rebuilt because: {r.reason}")
    if r.parse_error_files:
        click.echo(f"  {len(r.parse_error_files)} files had parse errors (only the broken regions are lost); "
                   f"`infernav stats -f {r.framework}` lists them")
    for path, why in r.skipped[:10]:
        click.echo(f"  {path}: {why}")


def _dump(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def _lookup(idx, name: str, as_json: bool):
    from .query import AmbiguousSymbol, SymbolNotFound

    try:
        return idx.lookup(name)
    except SymbolNotFound as exc:
        if as_json:
            _dump({"error": "not found", "query": name, "suggestions": exc.suggestions})
        else:
            click.echo(f"error: no symbol matches '{name}'", err=True)
            if exc.suggestions:
                click.echo("  did you mean: " + ", ".join(exc.suggestions), err=True)
        sys.exit(1)
    except AmbiguousSymbol as exc:
        if as_json:
            _dump({"error": "ambiguous", "query": name, "candidates": [c.brief() for c in exc.candidates]})
        else:
            click.echo(f"error: '{name}' is ambiguous; {len(exc.candidates)} candidates:", err=True)
            for c in exc.candidates[:25]:
                click.echo(f"  {c.name}  ({c.kind}, {c.path}:{c.line})", err=True)
            if len(exc.candidates) > 25:
                click.echo(f"  ... {len(exc.candidates) - 25} more; give more of the name", err=True)
        sys.exit(1)


def _resolutions(strict: bool) -> set[str] | None:
    return {"exact", "type", "dispatch"} if strict else None


framework_opt = click.option("-f", "--framework", metavar="NAME[@VER]", default=None,
                             help="Framework and version, e.g. vllm, vllm@0.14.1, ksanallm (default: vllm).")
json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable output (stable shape).")
strict_opt = click.option("--strict", is_flag=True, help="Ignore name-only candidate edges.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="infernav")
def main() -> None:
    """Navigate the call graphs of LLM inference engines (vLLM, KsanaLLM)."""


@main.command()
@click.argument("frameworks", nargs=-1, metavar="[NAME[@VER]]...")
@click.option("--path", "path", type=click.Path(file_okay=False), default=None,
              help="Use an existing checkout or git repository instead of downloading (one framework).")
@click.option("--all", "all_pins", is_flag=True, help="Every pinned framework; ones that cannot be had are skipped with a note.")
@json_opt
def fetch(frameworks: tuple[str, ...], path: str | None, all_pins: bool, as_json: bool) -> None:
    """Download pinned sources into the cache ($INFERNAV_HOME)."""
    refs = sources.all_default_refs() if all_pins or not frameworks else [_ref(f) for f in frameworks]
    if path and len(refs) != 1:
        raise click.UsageError("--path takes exactly one framework")
    failed = 0
    results = []
    for ref in refs:
        try:
            root = sources.fetch(ref, path=path, progress=None if as_json else _progress())
            results.append({"framework": ref.key, "root": str(root)})
            if not as_json:
                click.echo(f"{ref.key}: {root}")
        except SourceError as exc:
            failed += 1
            results.append({"framework": ref.key, "error": str(exc)})
            if not as_json:
                click.echo(f"skip: {exc}" if all_pins or not frameworks else f"error: {exc}", err=True)
    if as_json:
        _dump({"results": results})
    if failed and not (all_pins or not frameworks):
        sys.exit(1)


def _progress():
    if not sys.stderr.isatty():
        last = {}

        def plain(what: str, done: int, total: int) -> None:
            step = (done * 10 // total) if total else 0
            if last.get(what) != step:
                last[what] = step
                click.echo(f"  {what}: {done * 100 // total if total else 0}%" if total else f"  {what} ...", err=True)

        return plain

    def bar(what: str, done: int, total: int) -> None:
        pct = f"{done * 100 // total:3d}%" if total else "..."
        mb = f" {done / 1e6:.1f}/{total / 1e6:.1f} MB" if what.startswith("download") and total else ""
        click.echo(f"\r  {what}: {pct}{mb}   ", nl=False, err=True)
        if total and done >= total:
            click.echo("", err=True)

    return bar


@main.command()
@click.argument("frameworks", nargs=-1, metavar="[NAME[@VER]]...")
@click.option("--force", is_flag=True, help="Rebuild from scratch instead of re-indexing what changed.")
@click.option("--all", "all_pins", is_flag=True, help="Every pinned framework whose source is fetched.")
@click.option("-j", "--jobs", type=int, default=None, help="Parser processes (default: all cores).")
@json_opt
def index(frameworks: tuple[str, ...], force: bool, all_pins: bool, jobs: int | None, as_json: bool) -> None:
    """Index fetched sources (incremental: only changed files are re-parsed)."""
    from dataclasses import asdict

    from .indexer import build

    refs = sources.all_default_refs() if all_pins or not frameworks else [_ref(f) for f in frameworks]
    missing = 0
    reports = []
    for ref in refs:
        root = sources.locate(ref)
        if root is None:
            missing += 1
            click.echo(f"skip: {ref.key} is not fetched (run: infernav fetch {ref.key})", err=True)
            continue
        report = build(ref, root, force=force, jobs=jobs)
        if as_json:
            reports.append({**asdict(report), "path": str(report.path)})
        else:
            _print_report(report)
    if as_json:
        _dump({"results": reports})
    if missing and frameworks and not all_pins:
        sys.exit(1)


@main.command()
@click.argument("pattern")
@click.option("--kind", default=None, help="Only this kind (function, method, class, kernel, torch_op, ...).")
@click.option("-n", "--limit", default=30, show_default=True)
@framework_opt
@json_opt
def find(pattern: str, kind: str | None, limit: int, framework: str | None, as_json: bool) -> None:
    """Find symbols by name: a substring, or a glob like '*Scheduler.sched*'."""
    idx = _open(_ref(framework))
    rows = idx.find(pattern, kind=kind, limit=limit)
    if as_json:
        _dump({"query": pattern, "results": [r.brief() for r in rows]})
    else:
        for r in rows:
            click.echo(f"{click.style(r.name, bold=True)}  {r.kind}  {r.path}:{r.line}")
    sys.exit(0 if rows else 1)


@main.command()
@click.argument("symbol")
@click.option("--no-source", is_flag=True, help="Leave out the source excerpt.")
@framework_opt
@json_opt
def show(symbol: str, no_source: bool, framework: str | None, as_json: bool) -> None:
    """Signature, location, docstring, source excerpt and direct callers/callees of SYMBOL."""
    ref = _ref(framework)
    idx = _open(ref)
    rows = _lookup(idx, symbol, as_json)
    ids = [r.id for r in rows]
    callers = idx.walk(ids, "callers", 1)
    callees = idx.walk(ids, "callees", 1)
    over = idx.overrides(ids)
    out = []
    for r in rows:
        src = None if no_source else idx.source_lines(r)
        out.append((r, src))
    if as_json:
        _dump({
            "symbols": [{**r.full(), "permalink": ref.permalink(r.path, r.line),
                         "source": [{"line": n, "text": t} for n, t in src] if src else None}
                        for r, src in out],
            "callers": [h.as_json() for h in callers], "callees": [h.as_json() for h in callees],
            "overrides": [r.brief() for r in over["overrides"]],
            "overridden_by": [r.brief() for r in over["overridden_by"]],
            "notes": [{"note": n.rel, "title": n.title} for n in _notes_on({r.name for r in rows}, ref.name)],
        })
        return
    for r, src in out:
        click.echo(click.style(r.name, bold=True) + f"  [{r.kind}{', ' + r.flags if r.flags else ''}]")
        click.echo(f"  {r.path}:{r.line}-{r.end_line}" + (f"  (declared {r.decl_path}:{r.decl_line})" if r.decl_path else ""))
        click.echo(f"  {ref.permalink(r.path, r.line)}")
        if r.sig:
            click.echo(f"  {r.sig}")
        if r.doc:
            doc = r.doc.strip().splitlines()
            click.echo("")
            for line in doc[:12]:
                click.echo(f"  | {line}")
            if len(doc) > 12:
                click.echo("  | ...")
        if src:
            click.echo("")
            for n, text in src:
                click.echo(f"  {click.style(f'{n:>5}', dim=True)}  {text}")
            if src[-1][0] < r.end_line:
                click.echo(f"  {'':>5}  ... ({r.end_line - src[-1][0]} more lines)")
        elif src is None and not no_source:
            click.echo(f"  (source not present locally; see the permalink)")
        click.echo("")
    for title, hits in (("callers", callers), ("callees", callees)):
        click.echo(f"{title} ({len(hits)}):")
        for h in hits[:20]:
            click.echo(f"  {h.symbol.name}  [{h.resolution}{'/' + h.via if h.via != 'call' else ''}]  {h.symbol.path}:{h.line if title == 'callers' else h.symbol.line}")
        if len(hits) > 20:
            click.echo(f"  ... {len(hits) - 20} more (infernav {title} {symbol})")
    if over["overrides"] or over["overridden_by"]:
        click.echo(f"overrides: {', '.join(r.name for r in over['overrides']) or '-'}")
        click.echo(f"overridden by: {', '.join(r.name for r in over['overridden_by']) or '-'}")
    notes = _notes_on({r.name for r in rows}, ref.name)
    if notes:
        click.echo(f"notes ({len(notes)}):")
        for n in notes:
            click.echo(f"  {n.rel}  {n.title}")


def _notes_on(names: set[str], framework: str):
    from .notes import notes_on

    try:
        return notes_on(names, framework)
    except Exception:  # notes are an extra on `show`; a broken note must not break navigation
        return []


def _walk_command(direction: str):
    @click.argument("symbol")
    @click.option("-d", "--depth", default=1, show_default=True, help="Levels to follow.")
    @framework_opt
    @json_opt
    @strict_opt
    def command(symbol: str, depth: int, framework: str | None, as_json: bool, strict: bool) -> None:
        idx = _open(_ref(framework))
        rows = _lookup(idx, symbol, as_json)
        hits = idx.walk([r.id for r in rows], direction, depth, _resolutions(strict))
        if as_json:
            _dump({"symbol": rows[0].brief(), "results": [h.as_json() for h in hits]})
        else:
            click.echo(f"{direction} of {click.style(rows[0].name, bold=True)} ({len(hits)}):")
            for h in hits:
                loc = f"{h.symbol.path}:{h.line}" if direction == "callers" else f"{h.symbol.path}:{h.symbol.line}"
                label = h.resolution + ("/" + h.via if h.via != "call" else "")
                indent = "  " * h.depth
                click.echo(f"{indent}{h.symbol.name}  {click.style(label, fg=_color(h.resolution))}  {loc}")
        sys.exit(0 if hits else 1)

    command.__doc__ = (
        f"{'Who calls' if direction == 'callers' else 'What is called by'} SYMBOL, with how each edge was resolved."
    )
    return command


def _color(res: str) -> str:
    return {"exact": "green", "type": "cyan", "dispatch": "yellow", "name": "red"}.get(res, "white")


main.command("callers")(_walk_command("callers"))
main.command("callees")(_walk_command("callees"))


@main.command("path")
@click.argument("source")
@click.argument("target")
@click.option("-k", default=1, show_default=True, help="How many shortest chains.")
@click.option("--max-len", default=12, show_default=True, help="Longest chain considered.")
@framework_opt
@json_opt
@strict_opt
def path_cmd(source: str, target: str, k: int, max_len: int, framework: str | None, as_json: bool,
             strict: bool) -> None:
    """Shortest (and k-shortest) call chains from SOURCE to TARGET."""
    idx = _open(_ref(framework))
    a = _lookup(idx, source, as_json)
    b = _lookup(idx, target, as_json)
    chains = idx.paths([r.id for r in a], [r.id for r in b], k, max_len, _resolutions(strict))
    if as_json:
        _dump({"from": a[0].brief(), "to": b[0].brief(), "paths": [[s.name for s in c] for c in chains]})
    elif not chains:
        click.echo(f"no call chain from {a[0].name} to {b[0].name} within {max_len} calls")
    else:
        for i, c in enumerate(chains, 1):
            click.echo(f"path {i} ({len(c) - 1} calls):")
            for depth, s in enumerate(c):
                click.echo(f"  {'  ' * depth}{s.name}  {s.path}:{s.line}")
    sys.exit(0 if chains else 1)


@main.command()
@click.argument("symbol")
@framework_opt
@json_opt
def overrides(symbol: str, framework: str | None, as_json: bool) -> None:
    """Methods SYMBOL overrides, and the methods that override it."""
    idx = _open(_ref(framework))
    rows = _lookup(idx, symbol, as_json)
    over = idx.overrides([r.id for r in rows])
    if as_json:
        _dump({"symbol": rows[0].brief(), "overrides": [r.brief() for r in over["overrides"]],
               "overridden_by": [r.brief() for r in over["overridden_by"]]})
    else:
        click.echo(f"{click.style(rows[0].name, bold=True)}")
        click.echo(f"overrides ({len(over['overrides'])}):")
        for r in over["overrides"]:
            click.echo(f"  {r.name}  {r.path}:{r.line}")
        click.echo(f"overridden by ({len(over['overridden_by'])}):")
        for r in over["overridden_by"]:
            click.echo(f"  {r.name}  {r.path}:{r.line}")
    sys.exit(0 if over["overrides"] or over["overridden_by"] else 1)


@main.command()
@click.argument("symbol")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid", show_default=True)
@click.option("-d", "--depth", default=1, show_default=True)
@click.option("--limit", default=60, show_default=True, help="Most nodes to draw.")
@framework_opt
@json_opt
@strict_opt
def graph(symbol: str, fmt: str, depth: int, limit: int, framework: str | None, as_json: bool, strict: bool) -> None:
    """Call graph around SYMBOL (callers and callees) as Mermaid, Graphviz dot or JSON."""
    from .render import to_dot, to_json, to_mermaid

    fmt = "json" if as_json else fmt
    idx = _open(_ref(framework))
    rows = _lookup(idx, symbol, fmt == "json")
    nodes, edges = idx.neighbourhood([r.id for r in rows], depth, _resolutions(strict), limit)
    focus = {r.id for r in rows}
    text = {"mermaid": to_mermaid, "dot": to_dot}.get(fmt)
    click.echo(text(nodes, edges, focus) if text else json.dumps(to_json(nodes, edges, focus), indent=2))


@main.command()
@framework_opt
@json_opt
def stats(framework: str | None, as_json: bool) -> None:
    """What the index holds: files, symbols by kind, edges by resolution, parse errors."""
    s = _open(_ref(framework)).stats()
    if as_json:
        _dump(s)
        return
    click.echo(f"{s['framework']}  ({s['root']}, indexed {s['indexed_at']})")
    click.echo("files:    " + ", ".join(f"{k} {v}" for k, v in s["files"].items()))
    click.echo("symbols:  " + ", ".join(f"{k} {v}" for k, v in s["symbols"].items()))
    click.echo("edges:    " + ", ".join(f"{k} {v}" for k, v in s["edges"]["by_resolution"].items()))
    click.echo("via:      " + ", ".join(f"{k} {v}" for k, v in s["edges"]["by_via"].items()))
    cs = s["call_sites"]
    total = cs["resolved"] + cs["unresolved"]
    click.echo(f"calls:    {cs['resolved']} of {total} call sites resolved to indexed symbols "
               "(the rest call the standard library, torch, or other code outside the index)")
    click.echo(f"overrides: {s['overrides']}")
    if s["parse_error_files"]:
        click.echo(f"parse errors in {len(s['parse_error_files'])} files (only the broken regions are lost):")
        for p in s["parse_error_files"][:15]:
            click.echo(f"  {p}")
        if len(s["parse_error_files"]) > 15:
            click.echo(f"  ... {len(s['parse_error_files']) - 15} more (--json lists all)")
    for p in s["skipped_files"]:
        click.echo(f"skipped: {p}")


# ------------------------------------------------------------------------------ notes
@main.group()
def notes() -> None:
    """Symbol-anchored notes: list, show, check against the index, drift across versions, relock."""


def _load_notes(selection: tuple[str, ...] = ()):
    from .notes import NoteError, load_note, load_notes, notes_root

    found, errors = load_notes()
    if selection:
        root = notes_root()
        chosen = []
        for s in selection:
            matches = [n for n in found if n.rel == s or n.rel == f"{s}.md" or n.rel.endswith("/" + s)
                       or n.rel.endswith("/" + s + ".md")]
            if not matches and (root / s).is_file():
                try:
                    matches = [load_note(root / s)]
                except NoteError as exc:
                    _fail(str(exc))
            if not matches:
                _fail(f"no note '{s}' under {root}; `infernav notes list` shows them")
            chosen.extend(matches)
        return chosen, [e for e in errors if any(e.startswith(s) for s in selection)]
    return found, errors


def _notes_index(framework: str):
    return _try_open(_ref(framework))


@notes.command("list")
@click.option("--mechanism", default=None, help="Only notes with this mechanism tag.")
@json_opt
def notes_list(mechanism: str | None, as_json: bool) -> None:
    """The notes, with framework, mechanism and anchor count."""
    found, errors = _load_notes()
    rows = [n for n in found if mechanism is None or n.mechanism == mechanism]
    if as_json:
        _dump({"notes": [{"note": n.rel, "title": n.title, "framework": n.framework, "mechanism": n.mechanism,
                          "version": str(n.meta.get("version", "")), "anchors": [a.raw for a in n.anchors]}
                         for n in rows], "errors": errors})
    else:
        for n in rows:
            click.echo(f"{n.rel:<48} {n.framework:<9} {n.mechanism:<16} {len(n.anchors):>2} anchors  {n.title}")
        for e in errors:
            click.echo(f"error: {e}", err=True)
    sys.exit(1 if errors or not rows else 0)


@notes.command("show")
@click.argument("note")
@json_opt
def notes_show(note: str, as_json: bool) -> None:
    """One note: its front matter, anchors and body."""
    (n,), _ = _load_notes((note,))
    if as_json:
        _dump({"note": n.rel, "meta": n.meta, "anchors": [a.key for a in n.anchors],
               "refs": [r.key for r in n.refs], "body": n.body})
        return
    click.echo(click.style(n.title, bold=True) + f"  ({n.rel})")
    click.echo(f"{n.framework} {n.meta.get('version')}, mechanism {n.mechanism}")
    click.echo("anchors:")
    for a in n.anchors:
        click.echo(f"  {a.raw}")
    for key in ("reimpl", "tests"):
        if n.meta.get(key):
            click.echo(f"{key}: {', '.join(n.meta[key])}")
    click.echo("")
    click.echo(n.body)


@notes.command("check")
@click.argument("selection", nargs=-1, metavar="[NOTE]...")
@click.option("--allow-drift", is_flag=True, help="Report drifted anchors without failing.")
@json_opt
def notes_check(selection: tuple[str, ...], allow_drift: bool, as_json: bool) -> None:
    """Every anchor and [[reference]] resolves in the pinned index and matches the lock.

    Exit 1 on a broken, unlocked or (unless --allow-drift) drifted anchor, or a malformed note.
    """
    from .notes import check, validate

    found, errors = _load_notes(selection)
    problems = {n.rel: validate(n) for n in found}
    skipped = []
    results = check(found, _notes_index, lambda fw, why: skipped.append((fw, why)))
    bad = {"broken", "unlocked"} | (set() if allow_drift else {"drifted"})
    failed = bool(errors) or any(problems.values()) or any(r.status in bad for r in results)
    if as_json:
        _dump({"notes": len(found), "format_errors": errors + [f"{k}: {p}" for k, v in problems.items() for p in v],
               "skipped_frameworks": [{"framework": fw, "reason": why} for fw, why in skipped],
               "anchors": [r.as_json() for r in results], "ok": not failed})
        sys.exit(1 if failed else 0)
    for fw, why in skipped:
        click.echo(f"skip: {fw} notes checked against the lock only: {why}")
    for e in errors:
        click.echo(f"error: {e}")
    for rel, ps in problems.items():
        for p in ps:
            click.echo(f"error: {rel}: {p}")
    for r in results:
        if r.status in ("ok", "unchecked"):
            continue
        click.echo(f"{r.status.upper():9} {r.note}: {r.anchor}: {r.detail}")
        if r.diff:
            click.echo(r.diff.rstrip())
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    click.echo(f"{len(found)} notes, {len(results)} anchors and references: {summary or 'none'}"
               + (" -- FAILED" if failed else " -- ok"))
    sys.exit(1 if failed else 0)


@notes.command("relock")
@click.argument("selection", nargs=-1, metavar="NOTE...")
@click.option("--all", "all_notes", is_flag=True, help="Every note (after reviewing them all).")
def notes_relock(selection: tuple[str, ...], all_notes: bool) -> None:
    """Record the current fingerprints of a note's anchors, after a human re-review."""
    from .notes import NoteError, relock

    if not selection and not all_notes:
        raise click.UsageError("name the notes to relock, or --all")
    found, errors = _load_notes(() if all_notes else selection)
    if errors:
        _fail("; ".join(errors))

    def open_or_fail(fw: str):
        try:
            return _notes_index(fw)
        except LookupError as exc:
            _fail(f"cannot relock without the {fw} source: {exc}")

    try:
        counts = relock(found, open_or_fail)
    except NoteError as exc:
        _fail(str(exc))
    for rel, n in counts.items():
        click.echo(f"locked {rel}: {n} anchors")


@notes.command("drift")
@click.option("--to", "to", required=True, metavar="NAME@VER", help="A fetched version, e.g. vllm@0.33.0.")
@click.option("--show-diff", is_flag=True, help="Print each changed anchor's diff.")
@json_opt
def notes_drift(to: str, show_diff: bool, as_json: bool) -> None:
    """How each note's anchors fare in another version: unchanged, moved, renamed, changed, gone."""
    from .notes import drift

    target_ref = _ref(to)
    try:
        target = _try_open(target_ref)
    except LookupError as exc:
        _fail(str(exc))
    found, errors = _load_notes()

    def old_index(key: str):
        try:
            return _try_open(_ref(key))
        except LookupError:
            return None

    results = drift(found, target, target_ref.key, target_ref.name, old_index)
    if as_json:
        _dump({"to": target_ref.key, "anchors": [r.as_json() for r in results]})
        sys.exit(0 if results else 1)
    click.echo(f"anchors of {target_ref.name} notes, locked version -> {target_ref.key}:")
    w = max((len(r.anchor) for r in results), default=10)
    for r in results:
        color = {"unchanged": "green", "moved": "cyan", "renamed": "yellow", "changed": "yellow",
                 "gone": "red"}.get(r.status, "white")
        click.echo(f"  {click.style(f'{r.status:9}', fg=color)} {r.anchor:<{w}}  {r.new or r.old}  {r.detail}")
        if show_diff and r.diff:
            click.echo(r.diff.rstrip())
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    click.echo(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no anchors")
    sys.exit(0 if results else 1)


@main.command()
@click.option("--strategy", "strategies", multiple=True, metavar="NAME",
              help="static, vllm, ksana-swap, ksana-recompute (repeatable; default: all four).")
@click.option("--trace", "trace", default="synthetic", show_default=True,
              help="A JSONL trace (arrival_s, prompt_len, max_tokens, optional prefix_id/prefix_len), or 'synthetic'.")
@click.option("--requests", "num_requests", type=int, default=300, show_default=True, help="Synthetic trace: requests.")
@click.option("--rate", type=float, default=50.0, show_default=True, help="Synthetic trace: arrivals per second.")
@click.option("--seed", type=int, default=0, show_default=True, help="Synthetic trace: seed.")
@click.option("--num-blocks", type=int, default=2000, show_default=True, help="Device KV blocks.")
@click.option("--block-size", type=int, default=16, show_default=True, help="Tokens per block.")
@click.option("--max-batch", type=int, default=64, show_default=True, help="max_num_seqs / max_batch_size.")
@click.option("--max-step-tokens", type=int, default=4096, show_default=True, help="Step token budget.")
@click.option("--split-fuse", type=int, default=0, show_default=True, help="KsanaLLM split_fuse_token_num.")
@click.option("--host-blocks", type=int, default=None, help="KsanaLLM host blocks for swap (default 4x device).")
@click.option("--cost-model", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Cost-model JSON (default: the calibrated one shipped with the simulator).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default="simulate.png", show_default=True,
              help="PNG of queue lengths and KV use over time ('' for none).")
@json_opt
def simulate(strategies, trace, num_requests, rate, seed, num_blocks, block_size, max_batch, max_step_tokens,
             split_fuse, host_blocks, cost_model, plot_path, as_json) -> None:
    """Run scheduling strategies over a request trace in the serving simulator."""
    from infernav.reimpl.scheduler import sim

    names = strategies or sim.STRATEGIES
    if trace == "synthetic":
        reqs = sim.make_trace(n=num_requests, rate=rate, seed=seed)
    else:
        reqs = sim.load_trace(trace)
    cost = sim.CostModel.load(cost_model)
    results = []
    for name in names:
        try:
            strat = sim.build_strategy(name, num_blocks, block_size, max_batch, max_step_tokens, split_fuse, host_blocks)
            results.append(sim.simulate(strat, reqs, cost))
        except (ValueError, RuntimeError) as exc:
            _fail(f"{name}: {exc}")
    png = sim.plot(results, plot_path, num_blocks) if plot_path else None
    if as_json:
        _dump({"trace": trace, "requests": len(reqs), "cost_model": cost.source,
               "results": [r.row() for r in results], "plot": str(png) if png else None})
        return
    click.echo(f"{len(reqs)} requests ({trace}); {num_blocks} blocks of {block_size} tokens; cost model: {cost.source}")
    click.echo(sim.format_table(results))
    if png:
        click.echo(f"plot: {png}")


if __name__ == "__main__":  # pragma: no cover
    main()
