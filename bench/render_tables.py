"""Render the vLLM oracles' family and planted-bug tables from bench/results/vllm_oracle_families.json
into the docs, between `<!-- begin: NAME -->` and `<!-- end -->` (never typed by hand).

    python bench/render_tables.py [bench/results/vllm_oracle_families.json] [--check]

NAME is `vllm_oracle_prefix` (docs/dev/prefix_cache.md) or `vllm_oracle_scheduler`
(docs/dev/scheduler.md). --check: exit 1 if a doc is not what the JSON renders (nothing written).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "bench" / "results" / "vllm_oracle_families.json"
DOCS = {"prefix": ("vllm_oracle_prefix", REPO / "docs" / "dev" / "prefix_cache.md", "calls"),
        "scheduler": ("vllm_oracle_scheduler", REPO / "docs" / "dev" / "scheduler.md", "steps")}


def render(part: dict, command: str, unit: str) -> str:
    rows = [f"| family | traces | seeds | disagreements | {unit} compared | seconds |", "|---|---:|---|---:|---:|---:|"]
    for fam, r in part["families"].items():
        rows.append(f"| {fam} | {r['traces']} | {r['seeds']} | {r['disagreements']} | {r['compared']:,} "
                    f"| {r['seconds']} |")
    rows += ["", "| planted bug | family | what it breaks | caught | seed | at | traces played |",
             "|---|---|---|---|---:|---|---:|"]
    for name, r in part["planted"].items():
        rows.append(f"| `{name}` | {r['family']} | {r['breaks']} | {'yes' if r['caught'] else '**no**'} | "
                    f"{r['seed'] if r['seed'] is not None else '-'} | {r['at'] or '-'} | {r['traces_played']} |")
    return "\n".join([f"Rendered by bench/render_tables.py from bench/results/vllm_oracle_families.json "
                      f"(`{command}`).", ""] + rows)


def splice(text: str, name: str, body: str) -> str:
    pat = re.compile(rf"(<!-- begin: {re.escape(name)} -->\n).*?(<!-- end -->)", re.S)
    if not pat.search(text):
        raise SystemExit(f"marker <!-- begin: {name} --> ... <!-- end --> not found")
    return pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text, count=1)


def render_into(parts: list[tuple[str, Path, str]], check: bool, what: str = "tables") -> int:
    """Splice each (marker name, doc, body) into its doc; with `check`, write nothing and return 1
    if any doc differs from what it renders. The one write-or-check loop of the renderers."""
    stale = []
    for name, doc, body in parts:
        old = doc.read_text()
        new = splice(old, name, body)
        if new != old:
            stale.append(str(doc))
            if not check:
                doc.write_text(new)
    if check and stale:
        print(f"stale {what} in: " + ", ".join(stale))
        return 1
    print(("checked " if check else "rendered ") + ", ".join(dict.fromkeys(str(doc) for _, doc, _ in parts)))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    data = json.loads(Path(paths[0] if paths else DEFAULT).read_text())
    return render_into([(name, doc, render(data[key], data["command"], unit))
                        for key, (name, doc, unit) in DOCS.items()], check)


if __name__ == "__main__":
    sys.exit(main())
