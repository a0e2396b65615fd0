"""How the CLI speaks: one exit-status mapping, one printer, errors always on stderr.

Exit status (in the manner of ruff's `ExitStatus`): 0 answered; 1 not found, empty, or a source or
index that cannot be had; 2 a usage or input error. Under `--json` every outcome, errors included,
prints one JSON document on stdout; the error's one line still goes to stderr.
"""
from __future__ import annotations

import json
import os
import sys
from enum import IntEnum
from typing import Any, Callable, NoReturn

import click


class ExitStatus(IntEnum):
    SUCCESS = 0   # answered
    EMPTY = 1     # not found, nothing matched, an empty answer, or a source/index that cannot be had
    ERROR = 2     # usage or input error


# Set by the executable when `--json` is on its command line: errors then print their JSON document
# even where a command did not pass as_json down (errors.py).
JSON_ERRORS = False


class Style:
    """`--color auto|always|never` and NO_COLOR (https://no-color.org), decided once per run."""

    color: bool | None = None   # None: click decides (colour only on a terminal)

    @classmethod
    def configure(cls, choice: str) -> None:
        if choice == "always":
            cls.color = True
        elif choice == "never" or os.environ.get("NO_COLOR"):
            cls.color = False
        else:
            cls.color = None


def echo(text: str = "", err: bool = False, nl: bool = True) -> None:
    try:
        click.echo(text, err=err, nl=nl, color=Style.color)
    except BrokenPipeError:
        pipe_closed()


def pipe_closed() -> NoReturn:
    """The reader went away (`infernav find x | head`): stop quietly with 0, as grep and rg do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(int(ExitStatus.SUCCESS))


def style(text: str, **kw: Any) -> str:
    return click.style(text, **kw)


def dump(obj: Any) -> None:
    """A JSON document on stdout (stable shapes: the README documents them)."""
    echo(json.dumps(obj, indent=2, ensure_ascii=False))


def fail(message: str, status: ExitStatus = ExitStatus.EMPTY, as_json: bool = False,
         **payload: Any) -> NoReturn:
    """One line on stderr, a JSON error document under --json, and the exit status."""
    message = " ".join(str(message).split())     # one line, whatever the message held
    echo(f"error: {message}", err=True)
    if as_json or JSON_ERRORS:
        dump({"error": payload.pop("kind", "error"), "message": message, **payload})
    sys.exit(int(status))


def finish(found: bool) -> NoReturn:
    """Exit 0 when the command answered something, 1 when the answer is empty."""
    sys.exit(int(ExitStatus.SUCCESS if found else ExitStatus.EMPTY))


def answer(as_json: bool, payload: dict[str, Any], human: Callable[[], None], found: bool = True) -> NoReturn:
    """Print a result as JSON or through `human()`, then exit by whether anything was found."""
    if as_json:
        dump(payload)
    else:
        human()
    finish(found)
