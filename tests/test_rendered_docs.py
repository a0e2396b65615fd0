"""Docs numbers are rendered from committed outputs: the README's and NOTES' test-suite cost must be
what bench/render_test_timing.py renders from bench/results/test_suite_timing.json."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_test_suite_cost_is_rendered_from_its_results():
    r = subprocess.run([sys.executable, str(REPO / "bench" / "render_test_timing.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_render_check_can_fail(tmp_path):
    """--check fails on a results file that renders other numbers (the check is not vacuous)."""
    import json
    data = json.loads((REPO / "bench" / "results" / "test_suite_timing.json").read_text())
    data["make_test"]["wall_s"] += 1000
    alt = tmp_path / "t.json"
    alt.write_text(json.dumps(data))
    second = REPO / "bench" / "results" / "test_suite_timing_a2d4dab.json"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "render_test_timing.py"), str(alt), str(second), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "stale" in r.stdout
