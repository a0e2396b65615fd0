"""`infernav mcp`: serve the graph and the notes to a coding agent over MCP (analyzer/mcp/).

The `mcp` package is imported only when this command runs: it costs ~0.7 s, and every other
command's start-up is what users feel."""
from __future__ import annotations

import click

from .output import ExitStatus, echo, fail


@click.command("mcp")
@click.option("--http", is_flag=True, help="Streamable HTTP on 127.0.0.1 (default: stdio, for clients that start it).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port for --http.")
def mcp(http: bool, port: int) -> None:
    """Model Context Protocol server: find_symbol, show_symbol, callers, callees, call_path,
    overrides, notes_for, read_note, frameworks; notes and mechanism pages as resources.

    Over stdio by default (an MCP client starts `infernav mcp`); with --http at
    http://127.0.0.1:PORT/mcp. Indexes stay open between calls."""
    try:
        from ..mcp.server import serve
    except ImportError as exc:
        fail(f"the MCP server needs the mcp package ({exc.name or exc}); install it with: pip install 'infernav[mcp]'",
             ExitStatus.EMPTY)
    if http:
        _check_port(port)
        echo(f"infernav mcp: streamable HTTP at http://127.0.0.1:{port}/mcp (Ctrl-C stops it)", err=True)
    serve(http=http, port=port)


def _check_port(port: int) -> None:
    """Say in one line (exit 1) when the port is taken, rather than the web server's log."""
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; pick another with --port", ExitStatus.EMPTY)
