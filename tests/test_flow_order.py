"""The call graph does not depend on the order the value flow builds files in.

An incremental re-solve builds files in another order than a cold index, and a file added to a
release must not move edges elsewhere, so python_solver's answer has to be a function of the
constraints alone. The `floworder` fixture holds calls whose callee's file sorts after the caller's:
each resolved only when the callee's file happened to be built first (a parameter returned, a
default, an *args element), so path order missed them. The pyflow fixture's whole rule set must
also come out the same under reversed and shuffled orders. (bench/flow_order.py runs the same
comparison on vLLM, KsanaLLM and SGLang; since containers are merged into classes instead of capped, 0 edges differ there too.)"""
from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from helpers import ids
from test_pyflow import FIXTURE as PYFLOW
from test_pyflow import PINS as PYFLOW_PINS

FIXTURE = Path(__file__).parent / "fixtures" / "floworder"
PINS = """
[floworder]
source = "git"
url = "file:///nonexistent/floworder.git"
default = "1"
roots = ["fo"]
"""


def _index(tmp: Path, fixture: Path, pins: str, name: str):
    """(ref, index path) of a fixture framework built into tmp."""
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path

    shutil.copytree(fixture, tmp / "src")
    (tmp / "pins.toml").write_text(pins)
    ref = sources.parse_ref(name)
    build(ref, sources.fetch(ref, path=str(tmp / "src")), jobs=1)
    return ref, index_path(ref)


@pytest.fixture
def fixture_home(tmp_path, monkeypatch):
    def make(fixture: Path, pins: str, name: str):
        monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("INFERNAV_PINS", str(tmp_path / "pins.toml"))
        return _index(tmp_path, fixture, pins, name)
    return make


def _graph(files: list, settings: dict, order=None) -> dict[str, set]:
    from infernav.analyzer.resolve import resolve

    g = resolve(files, settings, build_order=order)
    name = {i: s.name for i, s in enumerate(g.symbols)}
    return {"edges": {(name[a], name[b], line, res, via) for a, b, line, res, via in g.edges},
            "unresolved": {(name[s], *rest) for s, *rest in g.unresolved_sites},
            "overrides": {(name[a], name[b]) for a, b in g.overrides}}


def _orders() -> list:
    shuffles = [lambda n, seed=seed: random.Random(seed).sample(range(n), n) for seed in (1, 2, 3)]
    return [lambda n: list(range(n))[::-1], *shuffles]


def _facts(path: Path) -> list:
    from infernav.analyzer import store

    return store.all_facts(sqlite3.connect(path))


def test_callees_defined_in_a_later_file_resolve_in_path_order(fixture_home):
    from infernav.analyzer.query import Index

    _ref, path = fixture_home(FIXTURE, PINS, "floworder")
    idx = Index(path)
    try:
        def callees(fn: str) -> set[tuple[str, str]]:
            return {(h.symbol.name, h.resolution) for h in idx.call_sites(ids(idx, f"fo.a_use.{fn}"), "callees")}
        assert ("fo.a_use.make", "flow") in callees("passthrough")
        assert ("fo.z_lib.helper", "flow") in callees("default")
        assert ("fo.a_use.make", "flow") in callees("star")
    finally:
        idx.close()


@pytest.mark.parametrize("fixture,pins,name", [(FIXTURE, PINS, "floworder"), (PYFLOW, PYFLOW_PINS, "pyflow")],
                         ids=["floworder", "pyflow"])
def test_every_build_order_gives_the_same_graph(fixture_home, fixture, pins, name):
    ref, path = fixture_home(fixture, pins, name)
    files = _facts(path)
    base = _graph(files, ref.settings)
    assert base["edges"], "the fixture resolves nothing: the comparison would be empty"
    for order in _orders():
        assert _graph(files, ref.settings, order) == base


def test_a_merged_class_reads_every_member_and_members_keep_their_own_elements(fixture_home):
    """`first` receives 43 containers, more than MERGE_AT: they become one class. A read through
    the class (`first(...)()`) reaches every member's element 0; a tuple read where it was made
    (`own[0]()`) still calls only its own element 0, though it also went into the class."""
    from infernav.analyzer.query import Index
    from infernav.analyzer.resolve import python_solver

    assert 43 > python_solver.MERGE_AT
    _ref, path = fixture_home(FIXTURE, PINS, "floworder")
    idx = Index(path)
    try:
        def callees(fn: str) -> set[str]:
            return {h.symbol.name for h in idx.call_sites(ids(idx, f"fo.m_many.{fn}"), "callees")}
        assert callees("use_sink") >= {"fo.m_many.first", "fo.m_many.f_a", "fo.m_many.f_b", "fo.m_many.g_own"}
        assert "fo.m_many.h_other" not in callees("use_sink")     # element 1: another key's pool
        assert "fo.m_many.g_own" in callees("use_own")
        assert not callees("use_own") & {"fo.m_many.f_a", "fo.m_many.f_b", "fo.m_many.h_other"}
    finally:
        idx.close()
