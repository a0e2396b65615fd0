"""Latency of `infernav mcp` tool calls through the mcp package's client over stdio.

Starts the server as an MCP client would (a subprocess on stdio), times start-up (spawn to an
initialized session) and the first call (opening the index), then every golden CLI query that a
tool mirrors (tests/golden/queries.txt: the facts queries, vLLM and KsanaLLM), plus the notes tools
and `frameworks`: one warm-up call each, then --runs timed calls. Reports the median per query,
per tool (median of its queries' medians) and over all calls. Not a test: nothing here passes or
fails. Writes JSON (default bench/results/mcp_bench.json).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from mcp_client import McpClient, golden_tool_queries, tool_call  # noqa: E402

EXTRA = [("notes_for", {"symbol": "vllm.v1.core.block_pool.BlockPool.get_new_blocks"}),
         ("notes_for", {"mechanism": "prefix-cache"}),
         ("read_note", {"note": "vllm/prefix-caching"}),
         ("frameworks", {})]


def _indexed(name: str) -> bool:
    from infernav.analyzer import sources, store
    from infernav.analyzer.indexer import index_path
    from infernav.analyzer.query import Index

    try:
        Index(index_path(sources.parse_ref(name))).close()
        return True
    except store.IndexProblem:
        return False


def _timed(client: McpClient, tool: str, args: dict) -> tuple[float, bool]:
    t = time.perf_counter()
    result = client.call(tool, args)
    return (time.perf_counter() - t) * 1000, bool(result.is_error)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="timed calls per query after one warm-up")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "mcp_bench.json")
    args = ap.parse_args()

    frameworks = [f for f in ("vllm", "ksanallm") if _indexed(f)]
    cases = [tool_call(q) + (q,) for q in golden_tool_queries()]
    cases = [c for c in cases if c[1].get("framework", "vllm").split("@")[0] in frameworks]
    cases += [(t, a, f"{t} {json.dumps(a)}") for t, a in EXTRA]

    import mcp.client.stdio  # noqa: F401 - the client's own import is not the server's start-up

    t0 = time.perf_counter()
    client = McpClient(errlog=open(os.devnull, "w"))
    startup_ms = (time.perf_counter() - t0) * 1000
    first_ms, _ = _timed(client, "find_symbol", {"pattern": "Scheduler", "limit": 1})
    rows = []
    try:
        for tool, targs, query in cases:
            warm, err = _timed(client, tool, targs)
            times = [_timed(client, tool, targs)[0] for _ in range(args.runs)]
            rows.append({"query": query, "tool": tool, "first_ms": round(warm, 2), "error": err,
                         "median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)})
            print(f"{statistics.median(times):8.2f} ms  (first {warm:7.2f})  {query}")
    finally:
        client.close()

    per_tool = {}
    for tool in dict.fromkeys(r["tool"] for r in rows):
        meds = [r["median_ms"] for r in rows if r["tool"] == tool]
        per_tool[tool] = {"queries": len(meds), "median_ms": round(statistics.median(meds), 2),
                          "max_median_ms": max(meds)}
    facts = [r["median_ms"] for r in rows if r["tool"] not in ("notes_for", "read_note", "frameworks")]
    summary = {"startup_ms": round(startup_ms, 1), "first_call_ms": round(first_ms, 1),
               "median_over_facts_queries_ms": round(statistics.median(facts), 2),
               "p90_over_facts_queries_ms": round(statistics.quantiles(facts, n=10)[-1], 2),
               "max_over_facts_queries_ms": max(facts), "facts_queries": len(facts), "goal_ms": 50}
    try:
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "infernav mcp tool-call latency through the mcp client over stdio",
        "date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "cores": os.cpu_count(),
        "python": sys.version.split()[0], "runs_per_query": args.runs, "frameworks": frameworks,
        "summary": summary, "per_tool": per_tool, "queries": rows}, indent=1) + "\n")
    print(json.dumps({"summary": summary, "per_tool": per_tool}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
