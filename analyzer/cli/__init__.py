"""`infernav` command line: a thin layer over the query API (and sources/indexer for set-up).

One module per command group: navigate (find, show, callers, callees, path, overrides, graph,
stats), build (fetch, index), diff, notes, simulate, mcp (the MCP server, analyzer/mcp/); output.py
holds the exit statuses and the printer.
Start-up matters (users feel whole-process latency): a query imports click, sqlite3 and the query
package only; tree-sitter, networkx and the simulator load where a command needs them.

Shell completion (click's): `eval "$(_INFERNAV_COMPLETE=bash_source infernav)"` in ~/.bashrc
(`zsh_source`, `fish_source` for the other shells).
"""
from __future__ import annotations

import os
import sys

import click

from .. import store
from ..sources import SourceError
from .build import fetch, index
from .diff import diff_cmd
from .mcp import mcp
from .navigate import callees, callers, find, graph, overrides, path_cmd, show, stats
from .notes import notes
from .output import ExitStatus, Style, pipe_closed

__all__ = ["main", "run"]
from .simulate import simulate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="infernav")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the output (NO_COLOR in the environment means never, unless 'always').")
def main(color: str) -> None:
    """Navigate the call graphs of LLM inference engines (vLLM, KsanaLLM)."""
    Style.configure(color)


for command in (fetch, index, find, show, callers, callees, path_cmd, overrides, graph, stats, diff_cmd, notes,
                simulate, mcp):
    main.add_command(command)


def run(argv: list[str] | None = None) -> None:
    """The `infernav` executable: usage errors exit 2 with click's message; a closed pipe
    (`infernav find x | head`) ends quietly with 0; an unexpected failure is one line on stderr
    (INFERNAV_DEBUG=1 shows the traceback)."""
    import errno

    try:
        main.main(args=argv, prog_name="infernav", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(int(ExitStatus.ERROR) if isinstance(exc, click.UsageError) else exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except (SourceError, store.IndexProblem) as exc:   # a source or an index that cannot be had: one line
        click.echo(f"error: {exc}" + ("; rebuild it: infernav index" if isinstance(exc, store.CorruptIndex) else ""),
                   err=True)
        sys.exit(int(ExitStatus.EMPTY))
    except store.DatabaseError as exc:
        click.echo(f"error: the index is damaged ({exc}); rebuild it: infernav index", err=True)
        sys.exit(int(ExitStatus.EMPTY))
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            _unexpected(exc)
        pipe_closed()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        _unexpected(exc)


def _unexpected(exc: BaseException) -> None:
    if os.environ.get("INFERNAV_DEBUG"):
        raise exc
    click.echo(f"error: {type(exc).__name__}: {exc} (an infernav bug; INFERNAV_DEBUG=1 shows where)", err=True)
    sys.exit(int(ExitStatus.ERROR))

