"""`infernav mcp` as an agent meets it: the server runs as a subprocess and the mcp package's own
client (ClientSession over stdio_client) drives it. Every answer is checked against the CLI's
`--json` for the same query (click's CliRunner, same cache, same pins), on the real vLLM index and
on KsanaLLM where its source is present; errors are checked against the CLI's one-line messages.
No timings here: bench/mcp_bench.py measures latency."""
from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from mcp_client import McpClient, golden_tool_queries, server_command, server_env, tool_call

from infernav.analyzer.cli import main
from infernav.analyzer.sources import PINS_PATH

pytestmark = pytest.mark.vllm

TOOLS = {"find_symbol", "show_symbol", "callers", "callees", "call_path", "overrides", "notes_for", "read_note",
         "frameworks"}
# A pinned framework whose source is nowhere: the "no index" error path.
GHOST = '\n[ghost]\nsource = "git"\nurl = "file:///nonexistent/ghost.git"\ndefault = "1"\nroots = ["src"]\n'


@pytest.fixture(scope="module")
def pins_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mcp-pins") / "pins.toml"
    path.write_text(PINS_PATH.read_text() + GHOST)
    return path


@pytest.fixture(scope="module")
def server(vllm_index, pins_file):
    client = McpClient(env=server_env(INFERNAV_PINS=str(pins_file)))
    yield client
    client.close()


@pytest.fixture(scope="module")
def cli(pins_file):
    def run(*args: str):
        """(exit code, parsed --json stdout or None, stderr) of `infernav ARGS --json`."""
        r = CliRunner().invoke(main, [*args, "--json"], env={"INFERNAV_PINS": str(pins_file)})
        return r.exit_code, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr

    return run


def ok(result) -> dict:
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert json.loads(result.content[0].text) == data  # the text block is the same JSON, compact
    return data


def needs_framework(request, args: dict) -> None:
    if args.get("framework", "vllm").startswith("ksanallm"):
        request.getfixturevalue("ksana_index")  # skips, saying why, where KsanaLLM's source is absent


def test_tools_are_listed_read_only_and_typed(server):
    tools = {t.name: t for t in server.run(lambda s: s.list_tools()).tools}
    assert set(tools) == TOOLS
    for t in tools.values():
        assert t.annotations.read_only_hint is True and t.annotations.destructive_hint is False, t.name
        assert t.description and t.title, t.name
    for name in TOOLS - {"read_note", "frameworks"}:
        assert "framework" in tools[name].input_schema["properties"], name
    limit = tools["callers"].input_schema["properties"]["limit"]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 500)
    assert tools["call_path"].input_schema["required"] == ["source", "target"]
    assert server.init.server_info.name == "infernav" and "framework" in server.init.instructions


# ------------------------------------------------------------------ answers = the CLI's answers
@pytest.mark.parametrize("query", golden_tool_queries())
def test_golden_queries_match_the_cli(server, cli, request, query):
    tool, args = tool_call(query)
    needs_framework(request, args)
    code, want, stderr = cli(*shlex.split(query))
    if tool in ("callers", "callees", "overrides"):
        args["limit"] = 500
    if tool == "show_symbol":
        args["max_hits"] = 200
    got = server.call(tool, args)
    if want and "error" in want:
        assert got.is_error and got.structured_content["error"] == want["error"]
        assert got.content[0].text.startswith(stderr.splitlines()[0].rstrip(":"))
        return
    COMPARE[tool](ok(got), want, args, cli)


def _same_find(got, want, args, cli):
    assert got["results"] == want["results"] and got["query"] == want["query"]
    assert got["total"] >= len(want["results"]) and got["truncated"] == (got["total"] > len(got["results"]))


def _same_walk(got, want, args, cli):
    assert got["symbol"] == want["symbol"]
    assert got["results"] == want["results"][:500] and got["total"] == len(want["results"])
    assert got["truncated"] == (len(want["results"]) > 500)
    labels: dict[str, int] = {}
    for h in want["results"]:
        labels[h["resolution"]] = labels.get(h["resolution"], 0) + 1
    assert got["by_resolution"] == labels
    assert ("hint" in got) == (not want["results"])


def _same_path(got, want, args, cli):
    assert (got["from"], got["to"]) == (want["from"], want["to"])
    assert [[h["name"] for h in p["hops"]] for p in got["paths"]] == want["paths"]
    strict = ["--strict"] if args.get("strict") else []
    fw = ["-f", args["framework"]] if "framework" in args else []
    for p in got["paths"]:
        assert p["calls"] == len(p["hops"]) - 1 and "resolution" not in p["hops"][0]
        for prev, hop in zip(p["hops"], p["hops"][1:]):
            # The hop's label is the edge the CLI reports for that callee (best label, then first line).
            _, callees, _ = cli("callees", prev["name"], *fw, *strict)
            same = [h for h in callees["results"] if (h["name"], h["path"], h["line"]) == (
                hop["name"], hop["path"], hop["line"])]
            edge = [(h["call_line"], h["resolution"], h["via"]) for h in same]
            assert edge == [(hop["call_line"], hop["resolution"], hop["via"])], (prev["name"], hop["name"])


def _same_overrides(got, want, args, cli):
    assert got["symbol"] == want["symbol"]
    for key in ("overrides", "overridden_by"):
        assert got[key] == want[key][:500] and got[f"{key}_total"] == len(want[key])


def _same_show(got, want, args, cli):
    assert got["symbols_total"] == len(want["symbols"]) and len(got["symbols"]) == min(5, len(want["symbols"]))
    for g, w in zip(got["symbols"], want["symbols"]):
        src = w.pop("source")
        extra = {k: g.pop(k) for k in ("excerpt", "excerpt_lines", "more_lines", "excerpt_note") if k in g}
        assert g == w
        if src:
            assert extra["excerpt"].splitlines() == [f"{s['line']:>5}  {s['text']}" for s in src]
            assert extra["excerpt_lines"] == [src[0]["line"], src[-1]["line"]]
            assert extra.get("more_lines", 0) == w["end_line"] - src[-1]["line"]
        else:
            assert extra.get("excerpt") is None
    for key in ("callers", "callees"):
        assert got[key] == want[key][:200] and got[f"{key}_total"] == len(want[key])
    for key in ("overrides", "overridden_by"):
        assert got[key] == want[key][:50] and got[f"{key}_total"] == len(want[key])
    assert [(n["note"], n["title"]) for n in got["notes"]] == [(n["note"], n["title"]) for n in want["notes"]]
    assert all(n["freshness"] in ("fresh", "drifted", "broken", "unlocked", "unchecked") for n in got["notes"])


COMPARE = {"find_symbol": _same_find, "callers": _same_walk, "callees": _same_walk, "call_path": _same_path,
           "overrides": _same_overrides, "show_symbol": _same_show}


def test_limits_truncate_and_say_so(server, cli):
    _, want, _ = cli("callers", "vllm.v1.core.block_pool.BlockPool.get_new_blocks", "--depth", "3")
    got = ok(server.call("callers", {"symbol": "vllm.v1.core.block_pool.BlockPool.get_new_blocks",
                                     "depth": 3, "limit": 2}))
    assert len(want["results"]) > 2
    assert got["results"] == want["results"][:2] and got["total"] == len(want["results"]) and got["truncated"]
    got = ok(server.call("find_symbol", {"pattern": "allocate", "limit": 3}))
    _, want, _ = cli("find", "allocate", "-n", "3")
    assert got["results"] == want["results"] and got["truncated"] and got["total"] > 3
    got = ok(server.call("show_symbol", {"symbol": "Scheduler.schedule", "max_hits": 1, "max_lines": 5}))
    assert len(got["callees"]) == 1 and got["callees_total"] > 1 and got["truncated"]
    assert len(got["symbols"][0]["excerpt"].splitlines()) == 5 and got["symbols"][0]["more_lines"] > 0


# ------------------------------------------------------------------ errors = the CLI's errors
@pytest.mark.parametrize("args,tool,arguments", [
    (["callers", "NoSuchSymbolXyz"], "callers", {"symbol": "NoSuchSymbolXyz"}),
    (["callers", "PrefixCache::Alocate"], "callers", {"symbol": "PrefixCache::Alocate"}),
    (["callees", "schedule"], "callees", {"symbol": "schedule"}),
    (["show", "forward"], "show_symbol", {"symbol": "forward"}),
    (["path", "EngineCore.step", "nosuch_zz"], "call_path", {"source": "EngineCore.step", "target": "nosuch_zz"}),
    (["callers", "x", "-f", "nope"], "callers", {"symbol": "x", "framework": "nope"}),
    (["find", "x", "-f", "ghost"], "find_symbol", {"pattern": "x", "framework": "ghost"}),
    (["find", ""], "find_symbol", {"pattern": ""}),              # empty: an input error, not everything
    (["find", "  "], "find_symbol", {"pattern": "  "}),
    (["find", "", "-f", "ghost"], "find_symbol", {"pattern": "", "framework": "ghost"}),
    (["overrides", "x", "-f", "ghost"], "overrides", {"symbol": "x", "framework": "ghost"}),
])
def test_errors_are_the_cli_messages(server, cli, args, tool, arguments):
    code, want, stderr = cli(*args)
    assert code != 0
    got = server.call(tool, arguments)
    assert got.is_error
    text, payload = got.content[0].text, got.structured_content
    assert "\n" not in text and text.startswith(stderr.splitlines()[0].rstrip(":"))
    if want["error"] == "ambiguous":
        assert payload["candidates"] == want["candidates"][:25] and payload["total"] == len(want["candidates"])
        assert payload["truncated"] == (len(want["candidates"]) > 25)
        assert all(c["name"] in text for c in want["candidates"][:25])
        payload = {k: v for k, v in payload.items() if k not in ("candidates", "total", "truncated")}
        want = {k: v for k, v in want.items() if k != "candidates"}
    if want.get("suggestions"):
        assert all(s in text for s in want["suggestions"])
    assert payload == want


def test_no_index_names_the_command_that_builds_it(server):
    got = server.call("callers", {"symbol": "x", "framework": "ghost"})
    assert got.is_error and got.structured_content["error"] == "no index"
    assert "run: infernav fetch ghost@1" in got.content[0].text


def test_bad_arguments_are_tool_errors(server):
    got = server.call("callers", {"symbol": "Scheduler.schedule", "limit": 0})
    assert got.is_error and "limit" in got.content[0].text
    got = server.call("call_path", {"source": "EngineCore.step"})
    assert got.is_error and "target" in got.content[0].text
    got = server.call("notes_for", {"mechanism": "teleport"})
    assert got.is_error and got.content[0].text.startswith("error: unknown mechanism 'teleport'")


# ------------------------------------------------------------------ notes, freshness, frameworks
def test_read_note_is_notes_show_with_notes_check_statuses(server, cli):
    from infernav.analyzer.notes import freshness

    _, listing, _ = cli("notes", "list")
    assert listing["notes"]
    for entry in listing["notes"]:
        rel = entry["note"]
        _, shown, _ = cli("notes", "show", rel)
        _, checked, _ = cli("notes", "check", rel)
        got = ok(server.call("read_note", {"note": rel.removesuffix(".md")}))
        assert (got["note"], got["title"], got["mechanism"]) == (rel, entry["title"], entry["mechanism"])
        assert got["body"] == shown["body"] and not got["truncated"]
        assert got["meta"] == {k: v for k, v in shown["meta"].items() if k != "anchors"}
        statuses = [(a["anchor"], a["status"]) for a in checked["anchors"]]
        assert [(a["anchor"], a["status"]) for a in got["anchor_status"]] == statuses
        assert got["freshness"] == freshness(s for _, s in statuses)
    got = ok(server.call("notes_for", {}))
    assert [n["note"] for n in got["notes"]] == [n["note"] for n in listing["notes"]]


@pytest.mark.parametrize("framework", ["vllm", "ksanallm"])
def test_notes_for_a_symbol_are_the_notes_show_lists(server, cli, request, framework):
    needs_framework(request, {"framework": framework})
    _, listing, _ = cli("notes", "list")
    anchors = sorted({a for n in listing["notes"] if n["framework"] == framework for a in n["anchors"] if "/" not in a})
    assert len(anchors) > 20
    for name in anchors:
        got = ok(server.call("notes_for", {"symbol": name, "framework": framework}))
        _, shown, _ = cli("show", name, "--no-source", "-f", framework)
        assert [n["note"] for n in got["notes"] if n["how"] == "anchor"] == [n["note"] for n in shown["notes"]]
        assert got["symbol"]["name"] == name
    got = ok(server.call("notes_for", {"mechanism": "prefix-cache"}))
    assert got["notes"] and {n["mechanism"] for n in got["notes"]} == {"prefix-cache"}


def test_frameworks_lists_every_pin_and_how_to_build_what_is_missing(server):
    got = {f["framework"]: f for f in ok(server.call("frameworks"))["frameworks"]}
    assert set(got) == {"vllm", "ksanallm", "sglang", "ghost"}
    ghost = got["ghost"]["versions"][0]
    assert ghost["indexed"] is False and ghost["source"] is False and "infernav fetch ghost@1" in ghost["how"]


@pytest.mark.parametrize("name", ["vllm", "ksanallm"])
def test_frameworks_counts_are_the_stats(server, cli, request, name):
    needs_framework(request, {"framework": name})
    got = {f["framework"]: f for f in ok(server.call("frameworks"))["frameworks"]}
    _, stats, _ = cli("stats", "-f", name)
    (v,) = [v for v in got[name]["versions"] if v["default"]]
    assert v["indexed"] and v["key"] == stats["framework"]
    assert v["symbols"]["total"] == sum(stats["symbols"].values())
    assert v["edges"]["total"] == sum(stats["edges"]["by_resolution"].values())
    assert (v["files"], v["overrides"], v["call_sites"]) == (stats["files"], stats["overrides"], stats["call_sites"])


# ------------------------------------------------------------------ resources and the prompt
def test_notes_and_mechanisms_are_resources(server, cli):
    from infernav.analyzer.notes import MECHANISMS

    uris = {str(r.uri) for r in server.run(lambda s: s.list_resources()).resources}
    _, listing, _ = cli("notes", "list")
    assert {"note://" + n["note"].removesuffix(".md") for n in listing["notes"]} | {
        f"mechanism://{m}" for m in MECHANISMS} == uris
    templates = {t.uri_template for t in server.run(lambda s: s.list_resource_templates()).resource_templates}
    assert templates == {"note://{framework}/{name}", "mechanism://{name}"}
    for n in listing["notes"]:
        text = server.run(lambda s: s.read_resource("note://" + n["note"].removesuffix(".md"))).contents[0].text
        _, shown, _ = cli("notes", "show", n["note"])
        assert text.endswith(shown["body"]) and "freshness" in text.splitlines()[0]
    page = server.run(lambda s: s.read_resource("mechanism://prefix-cache")).contents[0].text
    assert set(re.findall(r"\b([a-z_]+)\(", page)) <= TOOLS
    for n in listing["notes"]:
        if n["mechanism"] == "prefix-cache":
            assert n["title"] in page
            for a in n["anchors"]:
                assert (a.split(":", 1)[1] if a.startswith(("vllm:", "ksanallm:", "sglang:")) else a) in page


def test_unknown_resources_are_mcp_errors_with_the_cli_message(server):
    from mcp import MCPError

    r = CliRunner().invoke(main, ["notes", "show", "vllm/no-such-note"])
    with pytest.raises(MCPError) as exc:
        server.run(lambda s: s.read_resource("note://vllm/no-such-note"))
    assert str(exc.value).startswith(r.stderr.splitlines()[0])
    with pytest.raises(MCPError, match="unknown mechanism 'teleport'"):
        server.run(lambda s: s.read_resource("mechanism://teleport"))


def test_the_prompt_names_only_tools_and_resources_that_exist(server):
    prompts = server.run(lambda s: s.list_prompts()).prompts
    assert [p.name for p in prompts] == ["investigate_mechanism"]
    text = server.run(lambda s: s.get_prompt("investigate_mechanism", {"mechanism": "swap", "framework": "ksanallm"}))
    body = text.messages[0].content.text
    assert "mechanism://swap" in body and "framework=ksanallm" in body
    called = set(re.findall(r"\b([a-z_]+)\(", body))
    assert called and called <= TOOLS, called - TOOLS


# ------------------------------------------------------------------ transports and start-up
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_on_localhost(vllm_index, pins_file, tmp_path):
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    port = _free_port()
    env = {**__import__("os").environ, **server_env(INFERNAV_PINS=str(pins_file))}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([*server_command(), "--http", "--port", str(port)], env=env, stdout=log, stderr=log)

    async def drive():
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                found = await session.call_tool("find_symbol", {"pattern": "KVCacheManager", "limit": 1})
                return names, found

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the HTTP server did not start listening"
                time.sleep(0.2)
        names, found = asyncio.run(drive())
        assert names == TOOLS and not found.is_error
        assert found.structured_content["results"][0]["name"] == "vllm.v1.core.kv_cache_manager.KVCacheManager"
        taken = subprocess.run([*server_command(), "--http", "--port", str(port)], env=env, capture_output=True,
                               text=True, timeout=60)
        assert taken.returncode == 1 and f"error: cannot listen on 127.0.0.1:{port}" in taken.stderr
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_a_rebuilt_index_is_reopened(mini):
    """The server keeps indexes open; a cold rebuild (a new file) is noticed on the next call."""
    from infernav.analyzer.indexer import build
    from infernav.analyzer.mcp.state import Workspace

    ref, src = mini
    build(ref, src, jobs=1)
    ws = Workspace()
    first = ws.index(ws.ref("mini"))
    assert ws.index(ws.ref("mini")) is first
    build(ref, src, jobs=1, force=True)
    second = ws.index(ws.ref("mini"))
    assert second is not first and [r.name for r in second.lookup("kv::PrefixCache::Allocate")]
    ws.close()


def test_without_the_mcp_package_the_command_says_how_to_install_it():
    code = "import sys; sys.modules['mcp'] = None; from infernav.analyzer.cli import run; run(['mcp'])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "pip install 'infernav[mcp]'" in r.stderr and r.stdout == ""
