"""Set-up commands: fetch pinned sources into the cache, index them."""
from __future__ import annotations

import sys
import time
from dataclasses import asdict

import click

from .. import sources
from ..sources import SourceError
from .options import json_opt, ref_of
from .output import ExitStatus, dump, echo, fail


def _refs(frameworks: tuple[str, ...], all_pins: bool, as_json: bool):
    if all_pins or not frameworks:
        try:
            return sources.all_default_refs()
        except SourceError as exc:
            from .output import fail

            fail(str(exc), ExitStatus.ERROR, as_json, kind="pins")
    return [ref_of(f, as_json) for f in frameworks]


def _results_doc(results: list[dict], kind: str) -> dict:
    """The one JSON document of a fetch/index over several frameworks: every framework's result,
    and `error`/`message` (one line) when any of them failed; the exit status is decided apart."""
    doc: dict = {"results": results}
    bad = [r for r in results if "error" in r]
    if bad:
        why = "; ".join(r["error"] if r["error"].startswith(r["framework"]) else f"{r['framework']}: {r['error']}"
                        for r in bad)
        doc.update(error=kind, message=" ".join(f"{len(bad)} of {len(results)} failed: {why}".split()))
    return doc


@click.command()
@click.argument("frameworks", nargs=-1, metavar="[NAME[@VER]]...")
@click.option("--path", "path", type=click.Path(), default=None,
              help="Use a checkout, a git repository holding the pinned commit, or a source archive "
                   "whose sha256 is pinned, instead of downloading (one framework).")
@click.option("--all", "all_pins", is_flag=True, help="Every pinned framework; ones that cannot be had are skipped with a note.")
@click.option("--allow-unverified", is_flag=True,
              help="Take a version whose sha256 is neither pinned nor published by the index.")
@click.option("--with", "companions", multiple=True, metavar="COMPANION=DIR",
              help="Place a companion source (pins.toml companions: sglang's sgl-kernel) inside the framework's "
                   "tree, from a checkout, its folder, a bare git repository or an archive; taken unverified "
                   "(one framework).")
@json_opt
def fetch(frameworks: tuple[str, ...], path: str | None, all_pins: bool, allow_unverified: bool,
          companions: tuple[str, ...], as_json: bool) -> None:
    """Download pinned sources into the cache ($INFERNAV_HOME)."""
    refs = _refs(frameworks, all_pins, as_json)
    if path and len(refs) != 1:
        raise click.UsageError("--path takes exactly one framework")
    lenient = all_pins or not frameworks
    wanted = _companions_wanted(refs, companions, lenient)
    from ..sources.companion import check_given, place
    failed, results = 0, []
    for ref in refs:
        try:
            progress = None if as_json else progress_printer()
            for name, spec, given in wanted:   # DIR checked before the framework is fetched
                check_given(ref, name, spec, given)
            root = sources.fetch(ref, path=path, progress=progress, allow_unverified=allow_unverified)
            placed = {name: str(place(ref, root, name, spec, given, progress)) for name, spec, given in wanted}
            results.append({"framework": ref.key, "root": str(root), **({"companions": placed} if placed else {})})
            if not as_json:
                echo(f"{ref.key}: {root}")
        except SourceError as exc:
            failed += 1
            results.append({"framework": ref.key, "error": str(exc)})
            if lenient or not as_json or len(refs) > 1:
                echo(f"skip: {exc}" if lenient else f"error: {exc}", err=True)
    if as_json and failed and not lenient and len(refs) == 1:
        fail(results[0]["error"], ExitStatus.EMPTY, True, kind="source", framework=refs[0].key)
    if as_json:
        dump(_results_doc(results, "source"))
    if failed and not lenient:
        sys.exit(int(ExitStatus.EMPTY))


def _companions_wanted(refs, values: tuple[str, ...], lenient: bool):
    """`--with` arguments parsed against the one framework fetched; usage errors (exit 2) otherwise."""
    if not values:
        return []
    if lenient or len(refs) != 1:
        raise click.UsageError("--with takes exactly one framework")
    from ..sources.companion import CompanionUsage, parse_with

    try:
        return parse_with(refs[0], values)
    except CompanionUsage as exc:
        raise click.UsageError(str(exc)) from None


def progress_printer():
    """A progress callback for stderr: a redrawn line on a terminal, one line per stage elsewhere
    (logs stay short)."""
    if not sys.stderr.isatty():
        seen: set[str] = set()

        def plain(what: str, done: int, total: int) -> None:
            if what not in seen:
                seen.add(what)
                echo(f"  {what}: {total} items ..." if total else f"  {what} ...", err=True)

        return plain

    def bar(what: str, done: int, total: int) -> None:
        pct = f"{done * 100 // total:3d}%" if total else "..."
        mb = f" {done / 1e6:.1f}/{total / 1e6:.1f} MB" if what.startswith("download") and total else ""
        echo(f"\r  {what}: {pct}{mb}   ", nl=False, err=True)
        if total and done >= total:
            echo("", err=True)

    return bar


def _index_progress(key: str):
    """Progress of an index build on stderr: parse percentage, then the resolve stage."""
    inner = progress_printer()
    started = time.perf_counter()

    def report(stage: str, done: int, total: int) -> None:
        if stage == "resolve":
            echo(f"{chr(13) if sys.stderr.isatty() else ''}  {key}: resolving "
                 f"(parsed in {time.perf_counter() - started:.1f}s) ...", err=True)
        else:
            inner(f"{stage} {key}", done, total)

    return report


def _index_progress_of(ref):
    """_index_progress of a framework; module-level, so the background builds can import it."""
    return _index_progress(ref.key)


def _asked_watchers(located: list, reports: list, as_json: bool) -> list:
    """Frameworks a running `infernav index --watch` keeps are indexed by it (analyzer/live_socket.py);
    the others are left to build here."""
    from ..live_socket import ask

    left, slots = [], iter([i for i, r in enumerate(reports) if r is None])
    for ref, root in located:
        slot, report = next(slots), ask(ref)
        if report is None:
            left.append((ref, root))
            continue
        reports[slot] = {**asdict(report), "path": str(report.path)}
        if not as_json:
            print_report(report)
            echo("  " + "; ".join(report.reused))
    return left


def print_report(r) -> None:
    secs = " ".join(f"{k}={v:.2f}s" for k, v in r.seconds.items())
    echo(f"{r.framework}: {r.mode}; {r.files} files, {r.parsed} parsed, {r.symbols} symbols, "
         f"{r.edges} edges ({secs})")
    if r.reason:
        echo(f"  rebuilt because: {r.reason}")
    if r.parse_error_files:
        echo(f"  {len(r.parse_error_files)} files had parse errors (only the broken regions are lost); "
             f"`infernav stats -f {r.framework}` lists them")
    for path, why in r.skipped[:10]:
        echo(f"  {path}: {why}")


@click.command()
@click.argument("frameworks", nargs=-1, metavar="[NAME[@VER]]...")
@click.option("--force", is_flag=True, help="Rebuild from scratch instead of re-indexing what changed.")
@click.option("--all", "all_pins", is_flag=True, help="Every pinned framework whose source is fetched.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Parser processes (default: all cores).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@click.option("--watch", is_flag=True,
              help="Keep running: hold the solved index in memory and re-index each change as it is saved "
                   "(an edit inside bodies takes about a second); `infernav index` run meanwhile asks it.")
@json_opt
def index(frameworks: tuple[str, ...], force: bool, all_pins: bool, jobs: int | None, quiet: bool,
          watch: bool, as_json: bool) -> None:
    """Index fetched sources (incremental: only changed files are re-parsed)."""
    from ..pipeline import build_many

    missing, reports, named, located = 0, [], bool(frameworks) and not all_pins, []
    for ref in _refs(frameworks, all_pins, as_json):
        root = sources.locate(ref)
        if root is None:
            missing += 1
            why = f"{ref.key} is not fetched (run: infernav fetch {ref.key})"
            if named and len(frameworks) == 1:
                fail(why, ExitStatus.EMPTY, as_json, kind="no source", framework=ref.key)
            echo(f"skip: {why}", err=True)
            reports.append({"framework": ref.key, "error": why})
            continue
        located.append((ref, root))
        reports.append(None)            # its report, in the order the frameworks were given
    progress_of = None if quiet or as_json else _index_progress_of
    if watch:
        from .watch import watch as keep_watching

        if not located:
            fail("nothing to watch: no framework named is fetched", ExitStatus.EMPTY, as_json, kind="no source")
        keep_watching(located, force, jobs, progress_of, as_json)
    if not force:
        located = _asked_watchers(located, reports, as_json)
    slots = iter([i for i, r in enumerate(reports) if r is None])
    # exiting: this process ends after the reports, so the last build's tables are not freed
    for report in build_many(located, force=force, jobs=jobs, progress_of=progress_of, exiting=True):
        reports[next(slots)] = {**asdict(report), "path": str(report.path)}
        if not as_json:
            print_report(report)
    if as_json:
        dump(_results_doc(reports, "no source"))
    if missing and frameworks and not all_pins:
        sys.exit(int(ExitStatus.EMPTY))
