"""Golden answers: the JSON of the queries in queries.txt, and a digest of each whole index.

Why: a refactor of the analyzer must not change a single answer. `python tests/golden/golden.py
record` writes answers.json from the current code and index; tests/test_golden.py replays every
query and compares. A change that is *meant* to change answers (better resolution) re-records and
the diff of answers.json shows, query by query, what moved.
"""
from __future__ import annotations

import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries.txt"
ANSWERS = HERE / "answers.json"
# Keys whose values depend on the machine or the clock, not on the analysis.
VOLATILE = {"root", "indexed_at"}
# Keys that carry upstream text (source lines, docstrings, signatures, diffs): kept as a digest so
# the golden file can be committed without any upstream code in it.
UPSTREAM_TEXT = {"source", "doc", "sig", "signature", "diff"}


def queries() -> list[str]:
    lines = QUERIES.read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in lines if q.strip() and not q.lstrip().startswith("#")]


def frameworks_of(query: str) -> set[str]:
    """Frameworks a query reads (`-f NAME`, default vllm; notes read every pinned one)."""
    args = shlex.split(query)
    if args[0] == "notes":
        return {"vllm", "ksanallm", "sglang"}
    if "-f" in args:
        return {args[args.index("-f") + 1].split("@")[0]}
    return {"vllm"}


def _scrub(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _digest(v) if k in UPSTREAM_TEXT else _scrub(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


def _digest(value: Any) -> str | None:
    if value in (None, "", []):
        return value
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def answer(query: str) -> dict[str, Any]:
    """Exit code and parsed JSON of `infernav QUERY --json`, run in-process."""
    from click.testing import CliRunner

    from infernav.analyzer.cli import main

    result = CliRunner().invoke(main, [*shlex.split(query), "--json"], catch_exceptions=False)
    out = result.stdout
    try:
        data = json.loads(out) if out.strip() else None
    except ValueError:
        data = {"unparsed": out}
    return {"exit": result.exit_code, "json": _scrub(data)}


def graph_digest(framework: str) -> dict[str, Any]:
    """Counts and a sha256 of every symbol and edge of a framework's index, by names not ids."""
    from infernav.analyzer.workspace import open_index

    idx = open_index(framework, quiet=True)
    symbols = {sid: (name, kind, path, line, end) for sid, name, kind, path, line, end in idx.all_symbols()}
    h = hashlib.sha256()
    for row in sorted(symbols.values()):
        h.update(repr(row).encode())
    edges = sorted((symbols[s][0], symbols[d][0], line, res, via) for s, d, line, res, via in idx.all_edges())
    for e in edges:
        h.update(repr(e).encode())
    overrides = sorted((symbols[a][0], symbols[b][0]) for a, b in idx.all_overrides())
    for o in overrides:
        h.update(repr(o).encode())
    return {"symbols": len(symbols), "edges": len(edges), "overrides": len(overrides), "sha256": h.hexdigest()}


def record() -> None:
    data = {"answers": {q: answer(q) for q in queries()},
            "graphs": {fw: graph_digest(fw) for fw in ("vllm", "ksanallm")}}
    ANSWERS.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {ANSWERS}: {len(data['answers'])} queries, graphs {data['graphs']}")


if __name__ == "__main__":
    if sys.argv[1:] != ["record"]:
        sys.exit("usage: python tests/golden/golden.py record")
    record()
