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
            pytest.skip(f"{ref.key} source not present (CI cannot reach git); "
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
