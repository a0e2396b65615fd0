"""Edits indexed by a live index (analyzer/live.py), each checked against a cold index (not a test).

  python bench/live_edits.py [--files 12] [--seed 1] [--out bench/results/live_edits_vllm.json]

On a private copy of the fetched vLLM tree, a LiveIndex is opened; then, one file after another
(a seeded sample of the Python files that hold a one-line call statement inside a function),
one edit is made and indexed by `refresh()`, and the index it leaves is compared with a cold
index of the same tree built in another cache. The edits cycle through the kinds a person makes
while working: a comment line inserted above a call (everything below moves), the call
duplicated (a call added), the call replaced by `pass` (a call removed), and the call's name
changed to another name of the same length (a calls-only edit). Each row says whether the edit
was indexed in place or by re-solving everything (and why), how long `refresh()` took, and
whether the index equals the cold one.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from index_bench import dump  # noqa: E402

CALL_LINE = re.compile(r"^( {8,})([A-Za-z_][\w.]*)\(([^()]*)\)\s*$")
KINDS = ("comment line", "call added", "call removed", "call renamed")


def _call_line(text: str) -> int | None:
    """Index of the first one-line call statement inside a function body, if any."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = CALL_LINE.match(line)
        if m and not m.group(2).startswith(("print", "super", "assert")) and i > 0 and lines[i - 1].strip() \
                and not lines[i - 1].rstrip().endswith(("\\", ",", "(", "[", "{")):
            return i
    return None


def _edit(path: Path, kind: str) -> str:
    lines = path.read_text().split("\n")
    i = _call_line("\n".join(lines))
    m = CALL_LINE.match(lines[i])
    indent, name = m.group(1), m.group(2)
    if kind == "comment line":
        lines.insert(i, f"{indent}# edited by bench/live_edits.py")
    elif kind == "call added":
        lines.insert(i + 1, lines[i])
    elif kind == "call removed":
        lines[i] = f"{indent}pass"
    else:
        last = name.rsplit(".", 1)[-1]
        other = ("q" * len(last)) if last != "q" * len(last) else ("z" * len(last))
        lines[i] = lines[i].replace(f"{last}(", f"{other}(", 1)
    path.write_text("\n".join(lines))
    return f"line {i + 1}: {lines[i].strip()[:60]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "live_edits_vllm.json")
    args = ap.parse_args()

    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.live import LiveIndex

    ref = next(r for r in sources.all_default_refs() if r.name == "vllm")
    if sources.locate(ref) is None:
        raise SystemExit("vLLM is not fetched: run `make` (or `infernav fetch vllm`) first")
    work = Path(tempfile.mkdtemp(prefix="infernav-live-"))
    try:
        copy = work / "vllm"
        shutil.copytree(sources.locate(ref), copy, symlinks=True)
        homes = {}
        for name in ("live", "cold"):
            homes[name] = work / name
            (homes[name] / "sources").mkdir(parents=True)
            (homes[name] / "sources" / f"{ref.key}.link").write_text(str(copy))
        os.environ["INFERNAV_HOME"] = str(homes["live"])
        live = LiveIndex(ref, copy)
        t0 = time.perf_counter()
        live.open()
        opened = time.perf_counter() - t0
        candidates = sorted(str(p.relative_to(copy)) for p in (copy / "vllm").rglob("*.py")
                            if p.name != "__init__.py" and _call_line(p.read_text(errors="replace")) is not None)
        sample = random.Random(args.seed).sample(candidates, min(args.files, len(candidates)))
        rows = []
        for n, rel in enumerate(sample):
            kind = KINDS[n % len(KINDS)]
            what = _edit(copy / rel, kind)
            t = time.perf_counter()
            report = live.refresh()
            secs = time.perf_counter() - t
            got = dump(live.path)
            os.environ["INFERNAV_HOME"] = str(homes["cold"])
            build(ref, copy, force=True)
            cold = dump(index_path(ref))
            os.environ["INFERNAV_HOME"] = str(homes["live"])
            in_place = bool(report and report.reused and "in place" in report.reused[0])
            rows.append({"file": rel, "edit": kind, "where": what, "seconds": round(secs, 3),
                         "in_place": in_place, "why_not": "" if in_place else (report.reason if report else "no change seen"),
                         "steps": {k: round(v, 3) for k, v in (report.seconds if report else {}).items()},
                         "identical_to_cold": got == cold})
            print(f"{kind:13} {secs:6.2f} s  {'in place' if in_place else 'rebuilt ':8}  "
                  f"{'identical' if got == cold else 'DIFFERS'}  {rel}  {rows[-1]['why_not'][:80]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    placed = [r["seconds"] for r in rows if r["in_place"]]
    summary = {"framework": ref.key, "opened_seconds": round(opened, 2), "edits": len(rows),
               "in_place": len(placed), "identical_to_cold": sum(r["identical_to_cold"] for r in rows),
               "in_place_median_seconds": round(statistics.median(placed), 3) if placed else None,
               "in_place_max_seconds": max(placed) if placed else None}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
