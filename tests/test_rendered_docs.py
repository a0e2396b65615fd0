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


def _render(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                          cwd=REPO / "bench")


def test_oracle_and_prefix_tables_are_rendered_from_their_results(tmp_path):
    """The vLLM oracle tables and the three-cache table are what their JSON renders, and a changed
    JSON makes the check fail."""
    import json

    assert _render("render_tables.py", "--check").returncode == 0
    assert _render("render_prefix_bench.py", "--check").returncode == 0
    data = json.loads((REPO / "bench" / "results" / "prefix_cache_3engines.json").read_text())
    data["workloads"]["chat"]["ours/radix"]["hit_rate"] = 0.5
    alt = tmp_path / "p.json"
    alt.write_text(json.dumps(data))
    assert _render("render_prefix_bench.py", str(alt), "--check").returncode == 1
    data = json.loads((REPO / "bench" / "results" / "prefix_cache_3engines.json").read_text())
    data["workloads"]["tot"]["ours/tree"]["memory"]["index_entries_peak"] += 1  # the memory table too
    alt.write_text(json.dumps(data))
    assert _render("render_prefix_bench.py", str(alt), "--check").returncode == 1


def test_kernel_tables_are_rendered_from_their_results(tmp_path):
    """docs/dev/kernels.md's generated blocks (reference run, progression, repeat rounds, sweep, steady vs
    burst) are what bench/render_kernel_tables.py renders from bench/results; a stale block fails."""
    assert _render("render_kernel_tables.py", "--check").returncode == 0
    import json

    data = json.loads((REPO / "bench" / "results" / "attention_h200.json").read_text())
    data["ceilings"]["copy_TBps"] += 1.0
    alt = tmp_path / "attention_h200.json"
    alt.write_text(json.dumps(data))
    doc = tmp_path / "kernels.md"
    doc.write_text((REPO / "docs" / "dev" / "kernels.md").read_text())
    before = doc.read_text()
    assert _render("render_kernel_tables.py", str(alt), "--doc", str(doc)).returncode == 0
    assert doc.read_text() != before  # the same JSON path, other numbers: the block changes
