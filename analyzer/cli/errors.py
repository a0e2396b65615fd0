"""The CLI's last word on errors: every failure is one line on stderr with the documented status
(1: not found, empty, a source or index that cannot be had; 2: a usage or input error), and under
`--json` a JSON document `{"error": kind, "message": line}` on stdout.

Commands fail through output.fail(); what escapes them (click's usage errors, a source or store
error raised deep in a build, a malformed note or lock, a bug) is turned into the same shape here.
"""
from __future__ import annotations

import errno
import os
import sys
from typing import NoReturn

import click

from .output import ExitStatus, Style, fail, pipe_closed


def json_requested(argv: list[str]) -> bool:
    """`--json` anywhere before a `--` (the command's own parsing may not have run yet)."""
    head = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in head


def undecodable(argv: list[str]) -> int | None:
    """The position of the first argument that is not valid UTF-8 (Python keeps such bytes as
    lone surrogates, which nothing downstream can encode), or None."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return i
    return None


def usage_message(exc: click.UsageError) -> str:
    msg = " ".join(exc.format_message().split())
    ctx = exc.ctx
    where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    return msg + where


def handle(exc: BaseException, as_json: bool) -> NoReturn:
    """One line (and the JSON document) for an exception that escaped a command."""
    from ..notes.model import NoteError
    from ..sources import SourceError
    from ..store import CorruptIndex, DatabaseError, IndexProblem

    if isinstance(exc, click.UsageError):
        fail(usage_message(exc), ExitStatus.ERROR, as_json, kind="usage")
    if isinstance(exc, click.ClickException):
        fail(" ".join(exc.format_message().split()), ExitStatus(exc.exit_code if exc.exit_code in (1, 2) else 2),
             as_json, kind="error")
    if isinstance(exc, NoteError):
        fail(str(exc), ExitStatus.ERROR, as_json, kind="note")
    if isinstance(exc, SourceError):
        fail(str(exc), ExitStatus.EMPTY, as_json, kind="source")
    if isinstance(exc, IndexProblem):
        hint = "; rebuild it: infernav index" if isinstance(exc, CorruptIndex) else ""
        fail(f"{exc}{hint}", ExitStatus.EMPTY, as_json, kind="damaged index" if hint else "no index")
    if isinstance(exc, DatabaseError):
        fail(f"the index is damaged ({exc}); rebuild it: infernav index", ExitStatus.EMPTY, as_json,
             kind="damaged index")
    if isinstance(exc, LookupError) and not isinstance(exc, (KeyError, IndexError)):
        fail(str(exc), ExitStatus.EMPTY, as_json, kind="no index")
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        pipe_closed()
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"cannot use{where}: {exc.strerror or exc}", ExitStatus.EMPTY, as_json, kind="os")
    if os.environ.get("INFERNAV_DEBUG"):
        raise exc
    fail(f"{type(exc).__name__}: {' '.join(str(exc).split())} (an infernav bug; INFERNAV_DEBUG=1 shows where)",
         ExitStatus.ERROR, as_json, kind="bug")


def run_main(main: click.Group, argv: list[str] | None) -> NoReturn:
    from . import output

    argv = sys.argv[1:] if argv is None else argv
    as_json = output.JSON_ERRORS = json_requested(argv)
    bad = undecodable(argv)
    if bad is not None:
        Style.configure("never")
        fail(f"argument {bad} is not valid UTF-8", ExitStatus.ERROR, as_json, kind="usage")
    try:
        main.main(args=argv, prog_name="infernav", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        handle(exc, as_json)
    sys.exit(int(ExitStatus.SUCCESS))
