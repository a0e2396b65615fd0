"""Drive `infernav mcp` with the mcp package's own client (ClientSession over stdio_client), from
synchronous code: the session lives on an event loop in a thread, calls are submitted to it.
Shared by tests/test_mcp.py and bench/mcp_bench.py, with the mapping of the golden CLI queries
(tests/golden/queries.txt) onto tool calls."""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shlex
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

GOLDEN_QUERIES = Path(__file__).parent / "golden" / "queries.txt"


def server_command() -> list[str]:
    """`infernav mcp`: the console script beside this interpreter, else `python -m`."""
    script = Path(sys.executable).with_name("infernav")
    if script.exists():
        return [str(script), "mcp"]
    found = shutil.which("infernav")
    return [found, "mcp"] if found else [sys.executable, "-m", "infernav.analyzer.cli", "mcp"]


def server_env(**extra: str) -> dict[str, str]:
    """What the server needs beyond the client's default environment (HOME, PATH, ...): the cache
    and, where set, another pins file or notes folder."""
    env = {k: os.environ[k] for k in ("INFERNAV_HOME", "INFERNAV_PINS", "INFERNAV_NOTES") if k in os.environ}
    if "INFERNAV_HOME" not in env:
        from infernav.analyzer import sources

        env["INFERNAV_HOME"] = str(sources.home())
    env.update(extra)
    return env


class McpClient:
    """A running `infernav mcp` subprocess and an initialized ClientSession to it."""

    def __init__(self, command: list[str] | None = None, env: dict[str, str] | None = None,
                 errlog: Any = None, timeout: float = 300):
        self.command = command or server_command()
        self.env = env if env is not None else server_env()
        self.errlog = errlog or sys.stderr
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._ready: concurrent.futures.Future = concurrent.futures.Future()
        self._stop: asyncio.Event | None = None
        self.session = None
        self.init = None
        self._main = asyncio.run_coroutine_threadsafe(self._run(), self.loop)
        try:
            self._ready.result(self.timeout)
        except BaseException:
            self.close()
            raise

    async def _run(self) -> None:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        self._stop = asyncio.Event()
        params = StdioServerParameters(command=self.command[0], args=self.command[1:], env=self.env)
        try:
            async with stdio_client(params, errlog=self.errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    self.init = await session.initialize()
                    self.session = session
                    self._ready.set_result(True)
                    await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - surfaced to the caller waiting for readiness
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def run(self, coro_fn, *args, **kwargs):
        """Run `await coro_fn(session, *args)` on the session's loop and return its result."""
        async def go():
            return await coro_fn(self.session, *args, **kwargs)

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(self.timeout)

    def call(self, name: str, arguments: dict[str, Any] | None = None):
        async def go(session):
            return await session.call_tool(name, arguments or {})

        return self.run(go)

    def close(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        try:
            self._main.result(30)
        except Exception:  # noqa: BLE001 - a server that already went away is closed too
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


# ------------------------------------------------------------------ golden CLI queries -> tool calls
_VALUED = {"-f": "framework", "--framework": "framework", "-d": "depth", "--depth": "depth", "-k": "k",
           "--max-len": "max_len", "--kind": "kind", "-n": "limit", "--limit": "limit"}
_FLAGS = {"--strict": ("strict", True), "--no-source": ("source", False)}
_TOOLS = {"callers": ("callers", ["symbol"]), "callees": ("callees", ["symbol"]),
          "path": ("call_path", ["source", "target"]), "overrides": ("overrides", ["symbol"]),
          "show": ("show_symbol", ["symbol"]), "find": ("find_symbol", ["pattern"])}
_INTS = {"depth", "k", "max_len", "limit"}


def tool_call(query: str) -> tuple[str, dict[str, Any]] | None:
    """`callees Scheduler.schedule --depth 2` -> ("callees", {"symbol": ..., "depth": 2}); None for
    CLI queries no tool mirrors (graph, stats, notes)."""
    args = shlex.split(query)
    if args[0] not in _TOOLS:
        return None
    tool, positional = _TOOLS[args[0]]
    out: dict[str, Any] = {}
    rest = iter(args[1:])
    names = list(positional)
    for a in rest:
        if a in _VALUED:
            key = _VALUED[a]
            value = next(rest)
            out[key] = int(value) if key in _INTS else value
        elif a in _FLAGS:
            out[_FLAGS[a][0]] = _FLAGS[a][1]
        else:
            out[names.pop(0)] = a
    return tool, out


def golden_tool_queries() -> list[str]:
    lines = GOLDEN_QUERIES.read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in lines if q.strip() and not q.lstrip().startswith("#") and tool_call(q.strip())]
