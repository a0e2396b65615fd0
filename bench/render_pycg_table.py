"""Render the PyCG micro-benchmark's per-category table into docs/dev/NOTES.md from its output.

    python bench/render_pycg_table.py [--results bench/results/pycg_microbench.json] [--doc docs/dev/NOTES.md]

The numbers are never typed: this rewrites the block between `<!-- BEGIN generated: pycg -->` and
`<!-- END generated: pycg -->` from the JSON that `bench/pycg_microbench.py` wrote (default output,
no guesses; both views: edges whose callee is defined in the snippet, and all edges with builtins
and external calls mapped to PyCG's names).
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN generated: pycg -->", "<!-- END generated: pycg -->"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"      # None: no edge predicted (precision) or expected (recall)


def _cell(row: dict) -> str:
    return f"{_pct(row['precision'])} | {_pct(row['recall'])} | {row['exact']}/{row['snippets']}"


def render(results: dict) -> str:
    """The Markdown block: a header line naming the run, then one row per category."""
    scores = results["scores"]["default"]
    inside, every = scores["in_snippet"], scores["all"]
    lines = [
        f"PyCG micro-benchmark, default output (no guesses), run of {results['date']} at infernav "
        f"{results['infernav_commit'][:10]}, PyCG {str(results.get('pycg_commit') or '?')[:10]}; "
        f"from `{Path('bench/results/pycg_microbench.json')}` by `bench/render_pycg_table.py`.",
        "",
        "| category | snippets | in-snippet P % | R % | exact | all edges P % | R % | exact |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cat in sorted(inside["by_category"]):
        a, b = inside["by_category"][cat], every["by_category"][cat]
        lines.append(f"| {cat} | {a['snippets']} | {_cell(a)} | {_cell(b)} |")
    lines.append(f"| **all** | {inside['overall']['snippets']} | {_cell(inside['overall'])} | {_cell(every['overall'])} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=ROOT / "bench/results/pycg_microbench.json")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs/dev/NOTES.md")
    args = ap.parse_args()
    block = render(json.loads(args.results.read_text()))
    text = args.doc.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{args.doc}: no {BEGIN} ... {END} block to rewrite")
    args.doc.write_text(pattern.sub(lambda _: f"{BEGIN}\n{block}\n{END}", text))
    print(f"{args.doc}: PyCG table rewritten from {args.results}")


if __name__ == "__main__":
    main()
