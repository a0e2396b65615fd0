"""`infernav` command line: a thin layer over the query API (and sources/indexer for set-up).

One module per command group: navigate (find, show, callers, callees, path, overrides, graph,
stats), build (fetch, index), diff, notes, simulate, mcp (the MCP server, analyzer/mcp/); output.py
holds the exit statuses and the printer.
Start-up matters (users feel whole-process latency): commands are imported on first use
(LazyGroup), so a query imports click, sqlite3, the pins and the query package only; the indexer,
tree-sitter, networkx and the simulator load where a command needs them.

Shell completion (click's): `eval "$(_INFERNAV_COMPLETE=bash_source infernav)"` in ~/.bashrc
(`zsh_source`, `fish_source` for the other shells).
"""
from __future__ import annotations

import importlib

import click

from .output import Style

__all__ = ["main", "run"]

# Command name -> (module, attribute). A command's module is imported only when that command runs
# (or when --help lists them all): `infernav callers` never loads the indexer, the diff engine or
# the simulator (click's documented lazy-loading pattern, "Advanced Groups").
COMMANDS = {
    "fetch": ("build", "fetch"), "index": ("build", "index"),
    "find": ("navigate", "find"), "show": ("navigate", "show"), "callers": ("calls", "callers"),
    "callees": ("calls", "callees"), "path": ("calls", "path_cmd"), "overrides": ("navigate", "overrides"),
    "graph": ("navigate", "graph"), "stats": ("navigate", "stats"), "diff": ("diff", "diff_cmd"),
    "notes": ("notes", "notes"), "simulate": ("simulate", "simulate"), "mcp": ("mcp", "mcp"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            module, attr = COMMANDS[name]
            self.add_command(getattr(importlib.import_module(f".{module}", __name__), attr), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="infernav")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the output (NO_COLOR in the environment means never, unless 'always').")
def main(color: str) -> None:
    """Navigate the call graphs of LLM inference engines (vLLM, KsanaLLM)."""
    Style.configure(color)


def run(argv: list[str] | None = None) -> None:
    """The `infernav` executable: usage errors exit 2 in one line; a closed pipe (`infernav find x |
    head`) ends quietly with 0; every other failure is one line on stderr, and JSON under --json
    (errors.py; INFERNAV_DEBUG=1 shows the traceback of a bug)."""
    from .errors import run_main

    run_main(main, argv)
