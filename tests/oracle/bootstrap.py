"""Inside the oracle venv: make the real vLLM and our reimplementation importable side by side.

The real vLLM comes from the pinned sdist tree (put first on sys.path, never installed). Our
`infernav.reimpl` is loaded straight from the repository's reimpl/ folder under its installed
name, without the rest of infernav: the oracle venv has no infernav, so if the reimplementation
ever imported `infernav.analyzer` the oracle would fail to import it.
"""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def setup(vllm_root: str) -> None:
    if vllm_root not in sys.path:
        sys.path.insert(0, vllm_root)
    if "infernav.reimpl" in sys.modules:
        return
    pkg = types.ModuleType("infernav")
    pkg.__path__ = []  # a bare namespace: infernav.analyzer is not reachable from here
    sys.modules["infernav"] = pkg
    reimpl = REPO / "reimpl"
    spec = importlib.util.spec_from_file_location(
        "infernav.reimpl", reimpl / "__init__.py", submodule_search_locations=[str(reimpl)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["infernav.reimpl"] = module
    spec.loader.exec_module(module)
    pkg.reimpl = module
