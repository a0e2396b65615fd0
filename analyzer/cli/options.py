"""Options every query command shares, and the helpers that turn them into an index and symbols."""
from __future__ import annotations

import click

from .. import sources
from ..sources import FrameworkRef, SourceError
from .output import ExitStatus, dump, echo, fail

framework_opt = click.option("-f", "--framework", metavar="NAME[@VER]", default=None,
                             help="Framework and version, e.g. vllm, vllm@0.14.1, ksanallm (default: vllm).")
json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable output (stable shape).")
guesses_opt = click.option("--guesses", is_flag=True,
                           help="Also follow name-only guesses (edges labelled `guess`; left out by default).")
# Kept so that scripts written for earlier versions still run: guesses are left out by default now.
strict_opt = click.option("--strict", is_flag=True, hidden=True,
                          help="Accepted for compatibility; changes nothing (guesses are left out by default).")
# Counts that must be positive: click checks the range and says so in one line (exit 2).
positive = click.IntRange(min=1)


def ref_of(framework: str | None, as_json: bool = False) -> FrameworkRef:
    try:
        return sources.parse_ref(framework)
    except SourceError as exc:
        fail(str(exc), ExitStatus.ERROR, as_json, kind="usage")


def open_index(ref: FrameworkRef, as_json: bool = False):
    """The framework's Index (built when missing), or exit 1 saying how to get its source."""
    from ..workspace import open_index as open_or_build

    try:
        return open_or_build(ref)
    except LookupError as exc:
        fail(str(exc), ExitStatus.EMPTY, as_json, kind="no index", framework=ref.key)


def lookup(idx, name: str, as_json: bool):
    """The symbols a user's text names, or exit 1 with suggestions / candidates."""
    from ..query import AmbiguousSymbol, SymbolNotFound

    try:
        return idx.lookup(name)
    except (SymbolNotFound, AmbiguousSymbol) as exc:
        from ..query.payloads import lookup_error

        doc = lookup_error(name, exc)
        if as_json:
            dump(doc)
        listing = doc["error"] == "ambiguous" and "files" not in doc and not as_json
        echo(f"error: {doc['message']}" + (":" if listing else ""), err=True)
        if doc.get("suggestions") and not as_json:
            echo("  did you mean: " + ", ".join(doc["suggestions"]), err=True)
        if listing:
            for c in exc.candidates[:25]:
                echo(f"  {c.name}  ({c.kind}, {c.path}:{c.line})", err=True)
            if len(exc.candidates) > 25:
                echo(f"  ... {len(exc.candidates) - 25} more; give more of the name", err=True)
        raise SystemExit(int(ExitStatus.EMPTY))


def resolutions(guesses: bool) -> frozenset[str] | None:
    """Edge labels an answer follows: all of them with --guesses, else the default (no guesses)."""
    if not guesses:
        return None
    from ..query import ALL_RESOLUTIONS

    return ALL_RESOLUTIONS
