"""Shared fixtures: a private INFERNAV_HOME per test session, the `mini` fixture framework, and
the real pinned sources (vLLM always; KsanaLLM where its source is present)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

MINI_PINS = """
[mini]
source = "git"
url = "file:///nonexistent/mini.git"
default = "1"
roots = ["app", "csrc"]
permalink = "https://example.invalid/mini/{path}#L{line}"
python_op_namespace = "vllm"   # the fixture registers ops from Python the way vLLM does

[mini.torch_extension_names]
"" = "_C"

[vllm]
source = "pypi-sdist"
package = "vllm"
default = "0.14.1"
roots = ["vllm", "csrc"]
"""


@pytest.fixture
def mini(tmp_path, monkeypatch):
    """The mini fixture framework, copied to a temp dir, with its own INFERNAV_HOME and pins."""
    from infernav.analyzer import sources

    src = tmp_path / "mini-src"
    shutil.copytree(FIXTURES / "mini", src)
    home = tmp_path / "home"
    pins = tmp_path / "pins.toml"
    pins.write_text(MINI_PINS)
    monkeypatch.setenv("INFERNAV_HOME", str(home))
    monkeypatch.setenv("INFERNAV_PINS", str(pins))
    ref = sources.parse_ref("mini")
    sources.fetch(ref, path=str(src))
    return ref, src


@pytest.fixture
def mini_index(mini):
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    ref, src = mini
    build(ref, src, jobs=1)
    idx = Index(index_path(ref))
    yield idx
    idx.close()


def _real_index(name: str):
    """Fetch (vLLM) or locate (KsanaLLM) a pinned framework in the user's cache, and index it."""
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    ref = sources.parse_ref(name)
    root = sources.locate(ref)
    if root is None:
        if ref.spec["source"] == "git":
            from helpers import skip_unless

            skip_unless(ref.name, f"{ref.key} source not present (CI cannot reach git); "
                                  f"provide it with: infernav fetch {ref.name} --path DIR")
        root = sources.fetch(ref)
    build(ref, root)
    return Index(index_path(ref))


def _session_index(name: str):
    @pytest.fixture(scope="session")
    def fixture():
        os.environ.pop("INFERNAV_PINS", None)
        idx = _real_index(name)
        yield idx
        idx.close()

    return fixture


vllm_index = _session_index("vllm")
ksana_index = _session_index("ksanallm")


@pytest.fixture(scope="session")
def sglang_index():
    """SGLang's pinned sdist, indexed; skips (saying why) where PyPI cannot be reached."""
    os.environ.pop("INFERNAV_PINS", None)
    try:
        idx = _real_index("sglang")
    except Exception as exc:  # no network to PyPI, a full disk: say which
        pytest.skip(f"the pinned SGLang sdist cannot be fetched: {str(exc).splitlines()[0]}")
    yield idx
    idx.close()


# ---------------------------------------------------------------------------- vLLM oracle venv
ORACLE_DIR = Path(__file__).parent / "oracle"


def _oracle_build_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("infernav_oracle_build_venv", ORACLE_DIR / "build_venv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def vllm_oracle():
    """The oracle venv with the real vLLM 0.14.1 (built if missing; never skipped: a failed build
    fails the test with the reason)."""
    bv = _oracle_build_module()
    try:
        stamp = bv.ensure()
    except bv.OracleSetupError as exc:
        pytest.fail(f"the vLLM oracle venv could not be built: {exc}", pytrace=False)
    return bv, stamp


def run_oracle_script(oracle, script: str, *args: str) -> dict:
    """Run tests/oracle/<script> in the oracle venv; its last stdout line is a JSON report."""
    import json
    import subprocess

    bv, stamp = oracle
    cmd = [stamp["python"], str(ORACLE_DIR / script), "--vllm-root", stamp["vllm_root"], *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=bv.oracle_env(), timeout=1200)
    if proc.returncode != 0:
        pytest.fail(f"{script} did not run (exit {proc.returncode}):\n{proc.stderr[-3000:]}", pytrace=False)
    return json.loads(proc.stdout.strip().splitlines()[-1])
