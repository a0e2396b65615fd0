"""Render the test-suite cost (time and disk) from bench/results/test_suite_timing.json into
README.md (the set-up section) and docs/dev/NOTES.md ("Test suite"), between
`<!-- begin: NAME -->` and `<!-- end -->` (never typed by hand).

    python bench/render_test_timing.py [bench/results/test_suite_timing.json] [--check]

--check: exit 1 if a doc is not what the JSON renders (nothing written).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_tables import splice  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "bench" / "results" / "test_suite_timing.json"
ORACLES = ["tests/test_prefix_cache_oracle.py", "tests/test_scheduler_oracle.py", "tests/test_prefix_cache_ksana_oracle.py"]


def _mmss(s: float) -> str:
    return f"{int(s // 60)} min {int(round(s % 60)):02d} s" if s >= 60 else f"{s:.0f} s"


def _gb(b: int | None) -> str:
    return "-" if b is None else f"{b / 1e9:.2f} GB"


def _where(d: dict) -> str:
    return (f"run of {d['date']} at {d['commit']} (the HEAD when it started), {d['machine']} shared with other "
            f"sessions (load {d['load_before']:.1f} at the start, {d['load_after']:.1f} at the end); "
            f"from `bench/results/test_suite_timing.json` by `bench/render_test_timing.py`")


def readme(d: dict) -> str:
    disk = d["disk_bytes"]
    total = sum(v for v in disk.values() if v)
    built = [k for k, v in d["existed_before"].items() if v]
    mt = d["make_test"]
    extra = "" if d["existed_before"].get("node_modules") else "; the npm install is included"
    if d.get("home_before_bytes"):
        extra += f"; the cache held {_gb(d['home_before_bytes'])} before (vLLM's sdist, not indexed)"
    return (f"How long and how much disk ({_where(d)}): `make` {_mmss(d['make']['wall_s'])}, `make test` "
            f"{_mmss(mt['wall_s'])} ({mt['summary']}). Not included: the first build of "
            f"{' and '.join(built)} (they existed already) and Debian's chromium{extra}. Disk after both: "
            f"{_gb(total)} in all: .venv {_gb(disk['.venv'])}, .oracle-venv {_gb(disk['.oracle-venv'])}, "
            f"node_modules {_gb(disk['node_modules'])}, the `$INFERNAV_HOME` cache {_gb(disk['INFERNAV_HOME'])}. "
            f"Reproduce: `python bench/test_suite_timing.py`.")


def notes(d: dict) -> str:
    mt = d["make_test"]
    pf = mt.get("per_file", {})
    rows = ["| file | tests | skipped | seconds in `make test` (setup + call + teardown) | alone, end to end (s) |",
            "|---|---:|---:|---:|---:|"]
    alone = d.get("oracle_files", {})
    for name in list(dict.fromkeys(ORACLES + list(pf)[:10])):
        r = pf.get(name, {})
        a = alone.get(name)
        rows.append(f"| {name} | {r.get('tests', '-')} | {r.get('skipped', '-')} | {r.get('seconds', '-')} | "
                    f"{a['wall_s'] if a else '-'} |")
    head = (f"{_where(d)}. `make` {d['make']['wall_s']} s (exit {d['make']['rc']}); `make test` "
            f"{mt['wall_s']} s wall (exit {mt['rc']}; {mt['summary']}); per-file sums {mt.get('pytest_sum_s')} s "
            f"over {len(pf)} files. The three oracle files, and the ten slowest:")
    return "\n".join([head, ""] + rows + ["", readme(d)])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    data = json.loads(Path(paths[0] if paths else DEFAULT).read_text())
    stale = []
    for name, doc, body in (("test_timing_readme", REPO / "README.md", readme(data)),
                            ("test_timing", REPO / "docs" / "dev" / "NOTES.md", notes(data))):
        old = doc.read_text()
        new = splice(old, name, body)
        if new != old:
            stale.append(str(doc))
            if not check:
                doc.write_text(new)
    if check and stale:
        print("stale test timing in: " + ", ".join(stale))
        return 1
    print("checked" if check else "rendered", "README.md, docs/dev/NOTES.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
