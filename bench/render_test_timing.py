"""Render the test-suite cost (time and disk) from bench/results/test_suite_timing.json into
README.md (the set-up section) and docs/dev/NOTES.md ("Test suite"), between
`<!-- begin: NAME -->` and `<!-- end -->` (never typed by hand).

    python bench/render_test_timing.py [RESULTS.json ...] [--check]

Default: bench/results/test_suite_timing.json (the fresher run: npm install and vLLM's index
included) and bench/results/test_suite_timing_a2d4dab.json (the same at the final commit of
h-verify, venvs, node_modules and indexes already there); the first file leads, the others are
shown beside it in NOTES and as a range in README.

--check: exit 1 if a doc is not what the JSON renders (nothing written).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_tables import render_into  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT = [REPO / "bench" / "results" / "test_suite_timing.json",
           REPO / "bench" / "results" / "test_suite_timing_a2d4dab.json"]
ORACLES = ["tests/test_prefix_cache_oracle.py", "tests/test_scheduler_oracle.py", "tests/test_prefix_cache_ksana_oracle.py"]


def _mmss(s: float) -> str:
    return f"{int(s // 60)} min {int(round(s % 60)):02d} s" if s >= 60 else f"{s:.0f} s"


def _gb(b: int | None) -> str:
    return "-" if b is None else f"{b / 1e9:.2f} GB"


def _where(d: dict) -> str:
    return (f"run of {d['date']} at {d['commit']} (the HEAD when it started), {d['machine']} shared with other "
            f"sessions (load {d['load_before']:.1f} at the start, {d['load_after']:.1f} at the end); "
            f"from `{d['_file']}` by `bench/render_test_timing.py`")


def readme(runs: list[dict]) -> str:
    d = runs[0]
    disk = d["disk_bytes"]
    total = sum(v for v in disk.values() if v)
    built = [k for k, v in d["existed_before"].items() if v]
    mt = d["make_test"]
    extra = "" if d["existed_before"].get("node_modules") else "; the npm install is included"
    if d.get("home_before_bytes"):
        extra += f"; the cache held {_gb(d['home_before_bytes'])} before (vLLM's sdist, not indexed)"
    again = "".join(f" Again at {r['commit']} ({r['date']}, load {r['load_before']:.1f}-{r['load_after']:.1f}, "
                    f"everything already built): `make test` {_mmss(r['make_test']['wall_s'])} "
                    f"({r['make_test']['summary']})." for r in runs[1:])
    return (f"How long and how much disk ({_where(d)}): `make` {_mmss(d['make']['wall_s'])}, `make test` "
            f"{_mmss(mt['wall_s'])} ({mt['summary']}). Not included: the first build of "
            f"{' and '.join(built)} (they existed already) and Debian's chromium{extra}.{again} Disk after both: "
            f"{_gb(total)} in all: .venv {_gb(disk['.venv'])}, .oracle-venv {_gb(disk['.oracle-venv'])}, "
            f"node_modules {_gb(disk['node_modules'])}, the `$INFERNAV_HOME` cache {_gb(disk['INFERNAV_HOME'])}. "
            f"Reproduce: `python bench/test_suite_timing.py`.")


def notes(runs: list[dict]) -> str:
    pfs = [r["make_test"].get("per_file", {}) for r in runs]
    alone = [r.get("oracle_files", {}) for r in runs]
    tags = [r["commit"] for r in runs]
    head_cols = "".join(f" s in `make test` ({t}) | alone, end to end ({t}) |" for t in tags)
    rows = ["| file | tests | skipped |" + head_cols, "|---|---:|---:|" + "---:|---:|" * len(runs)]
    for name in list(dict.fromkeys(ORACLES + list(pfs[0])[:10])):
        first = next((pf[name] for pf in pfs if name in pf), {})
        cells = "".join(f" {pf.get(name, {}).get('seconds', '-')} | {al[name]['wall_s'] if name in al else '-'} |"
                        for pf, al in zip(pfs, alone))
        rows.append(f"| {name} | {first.get('tests', '-')} | {first.get('skipped', '-')} |{cells}")
    heads = []
    for r in runs:
        mt = r["make_test"]
        heads.append(f"{_where(r)}. `make` {r['make']['wall_s']} s (exit {r['make']['rc']}); `make test` "
                     f"{mt['wall_s']} s wall (exit {mt['rc']}; {mt['summary']}); per-file sums "
                     f"{mt.get('pytest_sum_s')} s over {len(r['make_test'].get('per_file', {}))} files.")
    return "\n\n".join(heads) + "\n\nPer file (setup + call + teardown in `make test`; the oracle files also alone, " \
        "end to end), the three oracle files and the ten slowest (test_diff.py fetched and indexed vLLM 0.33.0 " \
        "in the first run and found it cached in the second):\n\n" + "\n".join(rows) + "\n\n" + readme(runs)


def _rel(p: Path) -> str:
    p = p.resolve()
    return p.relative_to(REPO).as_posix() if p.is_relative_to(REPO) else p.name


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or DEFAULT
    data = [{**json.loads(p.read_text()), "_file": _rel(p)} for p in paths]
    return render_into([("test_timing_readme", REPO / "README.md", readme(data)),
                        ("test_timing", REPO / "docs" / "dev" / "NOTES.md", notes(data))], check, "test timing")


if __name__ == "__main__":
    sys.exit(main())
