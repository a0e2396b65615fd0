"""`infernav notes ...`: list, show, check against the index, drift across versions, relock."""
from __future__ import annotations

import click

from .options import json_opt, ref_of
from .output import ExitStatus, dump, echo, fail, style


def _try_open(ref):
    from ..workspace import open_index

    return open_index(ref)


@click.group()
def notes() -> None:
    """Symbol-anchored notes: list, show, check against the index, drift across versions, relock."""


def _load_notes(selection: tuple[str, ...] = (), as_json: bool = False):
    from ..notes import NoteError, load_note, load_notes, notes_root

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
                    fail(str(exc), ExitStatus.ERROR, as_json, kind="note")
            if not matches:
                fail(f"no note '{s}' under {root}; `infernav notes list` shows them", ExitStatus.EMPTY, as_json,
                     kind="not found")
            exact = [n for n in matches if n.rel in (s, f"{s}.md")]
            if len(matches) > 1 and not exact:
                fail(f"'{s}' is ambiguous: {', '.join(n.rel for n in matches)}; give the folder too",
                     ExitStatus.ERROR, as_json, kind="ambiguous", notes=[n.rel for n in matches])
            chosen.extend(exact or matches)
        return chosen, [e for e in errors if any(e.startswith(s) for s in selection)]
    return found, errors


def _notes_index(framework: str):
    return _try_open(ref_of(framework))


@notes.command("list")
@click.option("--mechanism", default=None, help="Only notes with this mechanism tag.")
@json_opt
def notes_list(mechanism: str | None, as_json: bool) -> None:
    """The notes, with framework, mechanism and anchor count."""
    found, errors = _load_notes()
    rows = [n for n in found if mechanism is None or n.mechanism == mechanism]
    if as_json:
        dump({"notes": [{"note": n.rel, "title": n.title, "framework": n.framework, "mechanism": n.mechanism,
                          "version": str(n.meta.get("version", "")), "anchors": [a.raw for a in n.anchors]}
                         for n in rows], "errors": errors})
    else:
        for n in rows:
            echo(f"{n.rel:<48} {n.framework:<9} {n.mechanism:<16} {len(n.anchors):>2} anchors  {n.title}")
        for e in errors:
            echo(f"error: {e}", err=True)
    raise SystemExit(int(ExitStatus.EMPTY if errors or not rows else ExitStatus.SUCCESS))


@notes.command("show")
@click.argument("note")
@json_opt
def notes_show(note: str, as_json: bool) -> None:
    """One note: its front matter, anchors and body."""
    (n,), _ = _load_notes((note,), as_json)
    if as_json:
        dump({"note": n.rel, "meta": n.meta, "anchors": [a.key for a in n.anchors],
               "refs": [r.key for r in n.refs], "body": n.body})
        return
    echo(style(n.title, bold=True) + f"  ({n.rel})")
    echo(f"{n.framework} {n.meta.get('version')}, mechanism {n.mechanism}")
    echo("anchors:")
    for a in n.anchors:
        echo(f"  {a.raw}")
    for key in ("reimpl", "tests"):
        if n.meta.get(key):
            echo(f"{key}: {', '.join(n.meta[key])}")
    echo("")
    echo(n.body)


@notes.command("check")
@click.argument("selection", nargs=-1, metavar="[NOTE]...")
@click.option("--allow-drift", is_flag=True, help="Report drifted anchors without failing.")
@json_opt
def notes_check(selection: tuple[str, ...], allow_drift: bool, as_json: bool) -> None:
    """Every anchor and [[reference]] resolves in the pinned index and matches the lock.

    Exit 1 on a broken, unlocked or (unless --allow-drift) drifted anchor, or a malformed note.
    """
    from ..notes import check, validate

    found, errors = _load_notes(selection, as_json)
    problems = {n.rel: validate(n) for n in found}
    skipped = []
    results = check(found, _notes_index, lambda fw, why: skipped.append((fw, why)))
    bad = {"broken", "unlocked"} | (set() if allow_drift else {"drifted"})
    failed = bool(errors) or any(problems.values()) or any(r.status in bad for r in results)
    if as_json:
        dump({"notes": len(found), "format_errors": errors + [f"{k}: {p}" for k, v in problems.items() for p in v],
               "skipped_frameworks": [{"framework": fw, "reason": why} for fw, why in skipped],
               "anchors": [r.as_json() for r in results], "ok": not failed})
        raise SystemExit(int(ExitStatus.EMPTY if failed else ExitStatus.SUCCESS))
    for fw, why in skipped:
        echo(f"skip: {fw} notes checked against the lock only: {why}", err=True)
    for e in errors:
        echo(f"error: {e}", err=True)
    for rel, ps in problems.items():
        for p in ps:
            echo(f"error: {rel}: {p}", err=True)
    for r in results:
        if r.status in ("ok", "unchecked"):
            continue
        echo(f"{r.status.upper():9} {r.note}: {r.anchor}: {r.detail}")
        if r.diff:
            echo(r.diff.rstrip())
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    echo(f"{len(found)} notes, {len(results)} anchors and references: {summary or 'none'}"
               + (" -- FAILED" if failed else " -- ok"))
    raise SystemExit(int(ExitStatus.EMPTY if failed else ExitStatus.SUCCESS))


@notes.command("relock")
@click.argument("selection", nargs=-1, metavar="NOTE...")
@click.option("--all", "all_notes", is_flag=True, help="Every note (after reviewing them all).")
def notes_relock(selection: tuple[str, ...], all_notes: bool) -> None:
    """Record the current fingerprints of a note's anchors, after a human re-review."""
    from ..notes import NoteError, relock

    if not selection and not all_notes:
        raise click.UsageError("name the notes to relock, or --all")
    found, errors = _load_notes(() if all_notes else selection)
    if errors:
        fail("; ".join(errors))

    def open_or_fail(fw: str):
        try:
            return _notes_index(fw)
        except LookupError as exc:
            fail(f"cannot relock without the {fw} source: {exc}")

    from ..notes import read_lock

    try:
        read_lock()          # a malformed lock is an input error (2), before any note is looked at
    except NoteError as exc:
        fail(str(exc), ExitStatus.ERROR)
    try:
        counts = relock(found, open_or_fail)
    except NoteError as exc:
        fail(str(exc))
    for rel, n in counts.items():
        echo(f"locked {rel}: {n} anchors")


@notes.command("drift")
@click.option("--to", "to", required=True, metavar="NAME@VER", help="A fetched version, e.g. vllm@0.33.0.")
@click.option("--show-diff", is_flag=True, help="Print each changed anchor's diff.")
@json_opt
def notes_drift(to: str, show_diff: bool, as_json: bool) -> None:
    """How each note's anchors fare in another version: unchanged, moved, renamed, changed, gone."""
    from ..notes import drift

    target_ref = ref_of(to)
    try:
        target = _try_open(target_ref)
    except LookupError as exc:
        fail(str(exc))
    found, errors = _load_notes()

    def old_index(key: str):
        try:
            return _try_open(ref_of(key))
        except LookupError:
            return None

    results = drift(found, target, target_ref.key, target_ref.name, old_index)
    if as_json:
        dump({"to": target_ref.key, "anchors": [r.as_json() for r in results]})
        raise SystemExit(int(ExitStatus.SUCCESS if results else ExitStatus.EMPTY))
    echo(f"anchors of {target_ref.name} notes, locked version -> {target_ref.key}:")
    w = max((len(r.anchor) for r in results), default=10)
    for r in results:
        color = {"unchanged": "green", "moved": "cyan", "renamed": "yellow", "changed": "yellow",
                 "gone": "red"}.get(r.status, "white")
        echo(f"  {style(f'{r.status:9}', fg=color)} {r.anchor:<{w}}  {r.new or r.old}  {r.detail}")
        if show_diff and r.diff:
            echo(r.diff.rstrip())
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    echo(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no anchors")
    raise SystemExit(int(ExitStatus.SUCCESS if results else ExitStatus.EMPTY))


