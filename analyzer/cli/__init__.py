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

import click

from .build import fetch, index
from .diff import diff_cmd
from .mcp import mcp
from .navigate import callees, callers, find, graph, overrides, path_cmd, show, stats
from .notes import notes
from .output import Style

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
    """The `infernav` executable: usage errors exit 2 in one line; a closed pipe (`infernav find x |
    head`) ends quietly with 0; every other failure is one line on stderr, and JSON under --json
    (errors.py; INFERNAV_DEBUG=1 shows the traceback of a bug)."""
    from .errors import run_main

    run_main(main, argv)
