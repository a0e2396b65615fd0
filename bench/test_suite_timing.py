"""Time `make`, `make test` and each oracle test file end to end; measure the disk they need.

    python bench/test_suite_timing.py [--skip-make] [--out bench/results/test_suite_timing.json]

Runs, in this checkout and with the INFERNAV_HOME of the environment:
  1. `make` (fetch + index every pinned framework, build the site), timed;
  2. `make test` with pytest's JUnit XML on, timed (the wall time of the whole command, and the
     per-file sums of setup + call + teardown from the XML);
  3. each oracle test file alone (`python -m pytest -q FILE`), timed end to end;
  4. `du -sb` of .venv, .oracle-venv, node_modules and INFERNAV_HOME afterwards.
Writes the JSON (and the pytest summary lines); bench/render_test_timing.py puts the numbers into
README.md and docs/dev/NOTES.md. The venvs are not rebuilt: where they already existed their build
time is not in these numbers (the JSON says whether they existed before).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORACLE_FILES = ["tests/test_prefix_cache_oracle.py", "tests/test_scheduler_oracle.py",
                "tests/test_prefix_cache_ksana_oracle.py"]


def run(cmd: list[str], env: dict) -> dict:
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    tail = [ln for ln in p.stdout.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", ln)]
    return {"command": " ".join(cmd), "rc": p.returncode, "wall_s": round(wall, 1),
            "summary": tail[-1].strip("= ") if tail else None, "_out": p.stdout}


def per_file(xml_path: Path) -> dict:
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, dict] = defaultdict(lambda: {"tests": 0, "skipped": 0, "failed": 0})
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        mod = case.get("classname", "").split(".")
        name = "/".join(mod[:2]) + ".py" if len(mod) >= 2 else case.get("file", "?")
        sums[name] += float(case.get("time", 0))
        counts[name]["tests"] += 1
        counts[name]["skipped"] += case.find("skipped") is not None
        counts[name]["failed"] += case.find("failure") is not None or case.find("error") is not None
    return {k: {"seconds": round(v, 1), **counts[k]} for k, v in sorted(sums.items(), key=lambda kv: -kv[1])}


def du(path: Path) -> int | None:
    if not path.exists():
        return None
    out = subprocess.run(["du", "-sb", str(path)], text=True, capture_output=True).stdout.split()
    return int(out[0]) if out else None


def main(argv: list[str]) -> int:
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else REPO / "bench/results/test_suite_timing.json"
    env = dict(os.environ)
    home = Path(env.get("INFERNAV_HOME", Path.home() / ".cache" / "infernav"))
    existed = {p: (REPO / p).exists() for p in (".venv", ".oracle-venv", "node_modules")}
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO, text=True,
                            capture_output=True).stdout.strip()
    res: dict = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
                 "machine": f"{os.cpu_count()} cores", "load_before": os.getloadavg()[0],
                 "existed_before": existed, "home_before_bytes": du(home)}
    logs = []
    if "--skip-make" not in argv:
        r = run(["make"], env)
        logs.append(r.pop("_out"))
        res["make"] = r
    xml = Path("/tmp") / f"infernav-junit-{os.getpid()}.xml"
    env_t = dict(env, PYTEST_ADDOPTS=(env.get("PYTEST_ADDOPTS", "") + f" --junitxml={xml}").strip())
    r = run(["make", "test"], env_t)
    logs.append(r.pop("_out"))
    res["make_test"] = r
    if xml.exists():
        res["make_test"]["per_file"] = per_file(xml)
        res["make_test"]["pytest_sum_s"] = round(sum(v["seconds"] for v in res["make_test"]["per_file"].values()), 1)
    res["oracle_files"] = {}
    for f in ORACLE_FILES:
        r = run([str(REPO / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", f], env)
        logs.append(r.pop("_out"))
        res["oracle_files"][f] = r
    res["disk_bytes"] = {".venv": du(REPO / ".venv"), ".oracle-venv": du(REPO / ".oracle-venv"),
                         "node_modules": du(REPO / "node_modules"), "INFERNAV_HOME": du(home)}
    res["load_after"] = os.getloadavg()[0]
    out.write_text(json.dumps(res, indent=1) + "\n")
    out.with_suffix(".log").write_text("\n".join(logs))
    print(json.dumps({k: v for k, v in res.items() if k != "make_test"}, indent=1))
    print("make test:", res["make_test"]["wall_s"], "s", res["make_test"]["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
