"""The MCP server (the `mcp` package's MCPServer, 2.x): tools, resources and the prompt, over stdio
or streamable HTTP on 127.0.0.1. One Workspace per process keeps the indexes open between calls."""
from __future__ import annotations

import functools
import json
from typing import Any, Awaitable, Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from .errors import ToolFailure
from .notes_tools import NotesTools
from .resources import INSTRUCTIONS, investigate_prompt, mechanism_text, note_text
from .state import Workspace
from .tools import GraphTools, note_uri

GRAPH_TOOLS = ("find_symbol", "show_symbol", "callers", "callees", "call_path", "overrides")
NOTES_TOOLS = ("notes_for", "read_note", "frameworks")
TITLES = {"find_symbol": "Find symbols by name", "show_symbol": "Show a symbol", "callers": "Callers of a symbol",
          "callees": "Callees of a symbol", "call_path": "Call chains between two symbols",
          "overrides": "Override hierarchy of a method", "notes_for": "Notes on a symbol or mechanism",
          "read_note": "Read a note", "frameworks": "Indexed frameworks"}


def as_tool(fn: Callable[..., Awaitable[dict[str, Any]]]) -> Callable[..., Awaitable[CallToolResult]]:
    """A tool returning a payload -> compact JSON text plus the same object as structuredContent;
    a ToolFailure -> an error result (isError) with the CLI's line and its JSON error document."""
    @functools.wraps(fn)
    async def tool(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            payload = await fn(*args, **kwargs)
        except ToolFailure as exc:
            return CallToolResult(content=[TextContent(type="text", text=exc.message)],
                                  structured_content=exc.payload, is_error=True)
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=payload)

    tool.__annotations__ = {**fn.__annotations__, "return": CallToolResult}
    return tool


def build_server(ws: Workspace | None = None) -> MCPServer:
    from importlib.metadata import PackageNotFoundError, version

    ws = ws or Workspace()
    try:
        ours = version("infernav")
    except PackageNotFoundError:
        ours = ""
    server = MCPServer("infernav", title="infernav: call graphs and notes of LLM inference engines",
                       instructions=INSTRUCTIONS, version=ours, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)
    for owner, names in ((GraphTools(ws), GRAPH_TOOLS), (NotesTools(ws), NOTES_TOOLS)):
        for name in names:
            server.add_tool(as_tool(getattr(owner, name)), name=name, title=TITLES[name],
                            annotations=read_only, structured_output=False)
    _add_resources(server, ws)
    server.prompt(name="investigate_mechanism", title="Investigate a mechanism")(investigate_prompt)
    return server


def _resource_reader(fn: Callable[[Workspace, str], str], ws: Workspace, arg: str) -> Callable[[], Awaitable[str]]:
    """An async reader (async, so it runs on the event-loop thread that owns the indexes)."""
    async def read() -> str:
        try:
            return fn(ws, arg)
        except ToolFailure as exc:
            raise ResourceNotFoundError(exc.message) from None

    return read


def _add_resources(server: MCPServer, ws: Workspace) -> None:
    """Every note and mechanism page as a listed resource, and templates for any name."""
    from ..notes import MECHANISMS
    from ..notes.model import MECHANISM_TITLES

    notes, _ = ws.notes()
    for n in notes:
        server.add_resource(FunctionResource.from_function(
            _resource_reader(note_text, ws, n.rel), uri=note_uri(n), name=n.rel, title=n.title,
            description=f"Note ({n.framework}, {n.mechanism}): {n.title}", mime_type="text/markdown"))
    for m in MECHANISMS:
        server.add_resource(FunctionResource.from_function(
            _resource_reader(mechanism_text, ws, m), uri=f"mechanism://{m}", name=f"mechanism {m}",
            title=MECHANISM_TITLES.get(m, m), mime_type="text/markdown",
            description=f"{MECHANISM_TITLES.get(m, m)}: the notes across engines and the anchored symbols"))

    @server.resource("note://{framework}/{name}", name="note", mime_type="text/markdown",
                     description="A note by framework folder and name (note://vllm/prefix-caching).")
    async def note_template(framework: str, name: str) -> str:
        return await _resource_reader(note_text, ws, f"{framework}/{name}")()

    @server.resource("mechanism://{name}", name="mechanism", mime_type="text/markdown",
                     description="A mechanism page: " + ", ".join(MECHANISMS))
    async def mechanism_template(name: str) -> str:
        return await _resource_reader(mechanism_text, ws, name)()


def serve(http: bool = False, port: int = 8765) -> None:
    """Run until the client goes away (stdio) or the process is stopped (HTTP on 127.0.0.1:port)."""
    server = build_server()
    if http:
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")
