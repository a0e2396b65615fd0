"""The wheel works outside the checkout: built from the repository, installed into a fresh venv in a
temporary folder, it answers a query on the real vLLM index and lists the notes it ships.

Why: an editable install hides packaging mistakes (a data file left out, a path computed from the
checkout); users of a wheel would silently get no notes or no query files.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv outside the checkout with only the built wheel (and its dependencies) installed."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = dist.glob("infernav-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "-c", str(REPO / "constraints.txt"), str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return env_dir / "bin" / "infernav", base


def _run(exe: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("INFERNAV_NOTES", "INFERNAV_PINS", "PYTHONPATH")}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_wheel_answers_callers_on_the_real_index(installed, vllm_index):
    exe, cwd = installed
    r = _run(exe, cwd, "callers", "vllm.v1.core.sched.scheduler.Scheduler.schedule", "--json")
    assert r.returncode == 0, r.stderr
    names = {h["name"] for h in json.loads(r.stdout)["results"]}
    assert "vllm.v1.engine.core.EngineCore.step" in names


def test_wheel_ships_the_notes_and_the_engine_files(installed):
    exe, cwd = installed
    r = _run(exe, cwd, "notes", "list", "--json")
    assert r.returncode == 0, r.stderr
    notes = json.loads(r.stdout)["notes"]
    committed = sorted(p.relative_to(REPO / "annotations").as_posix()
                       for p in (REPO / "annotations").rglob("*.md") if p.parent != REPO / "annotations")
    assert sorted(n["note"] for n in notes) == committed
    site_packages = next((cwd / "venv" / "lib").glob("python3*/site-packages"))
    for data in ("analyzer/pins.toml", "analyzer/conventions.toml", "analyzer/parse/languages.toml",
                 "analyzer/parse/queries/python.scm", "annotations/notes.lock.json"):
        assert (site_packages / "infernav" / data).is_file(), data


def test_wheel_without_the_mcp_extra_says_how_to_get_it(installed):
    """The wheel installs without extras: `infernav mcp` says which extra it needs, in one line."""
    exe, cwd = installed
    r = _run(exe, cwd, "mcp")
    assert r.returncode == 1 and "pip install 'infernav[mcp]'" in r.stderr, r.stderr
    assert r.stdout == ""
