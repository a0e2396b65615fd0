"""Resolution leaves no cyclic garbage, which is what lets the indexer freeze the survivors of
a build instead of collecting them (analyzer/gcpause.py)."""
from __future__ import annotations

import gc
import marshal
import sqlite3

import pytest


def _facts(mini) -> tuple[list, dict]:
    from infernav.analyzer.indexer import build, index_path

    ref, src = mini
    build(ref, src, jobs=1)
    with sqlite3.connect(index_path(ref)) as conn:
        rows = conn.execute("SELECT facts FROM files WHERE facts IS NOT NULL").fetchall()
    return [marshal.loads(b) for (b,) in rows], ref.settings


def _garbage_after_resolution(files, settings) -> int:
    from infernav.analyzer.resolve import _resolve

    gc.collect()
    gc.disable()
    try:
        graph = _resolve(files, settings)
        assert graph.edges, "the fixture resolves to some edges"
        del graph
        return gc.collect()
    finally:
        gc.enable()


def test_resolution_leaves_no_cyclic_garbage(mini):
    files, settings = _facts(mini)
    assert _garbage_after_resolution(files, settings) == 0


def test_without_release_the_value_flow_is_cyclic_garbage(mini, monkeypatch):
    """The check above can fail: skip the resolvers' release and the analysis is left in cycles."""
    from infernav.analyzer.resolve.cpp import CppResolver
    from infernav.analyzer.resolve.python import PyResolver

    files, settings = _facts(mini)
    monkeypatch.setattr(PyResolver, "release", lambda self: None)
    monkeypatch.setattr(CppResolver, "release", lambda self: None)
    assert _garbage_after_resolution(files, settings) > 0


def test_paused_freezes_and_restores_the_collector():
    from infernav.analyzer.gcpause import paused

    assert gc.isenabled()
    before = gc.get_freeze_count()
    with paused():
        keep = [[i] for i in range(1000)]
        assert not gc.isenabled()
        with paused():          # nested: the outer pause decides
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(keep)
    gc.unfreeze()


def test_an_exiting_build_skips_the_release_and_writes_the_same_index(mini, monkeypatch):
    """`infernav index` tells build() the process ends after it: the resolvers are not released
    (their cyclic tables go with the process, frozen, never walked), and the index is the same."""
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.resolve.python import PyResolver
    from test_incremental_equals_cold import dump

    ref, src = mini
    build(ref, src, jobs=1, force=True)
    released = dump(index_path(ref))
    calls = []
    monkeypatch.setattr(PyResolver, "release", lambda self: calls.append(self))
    build(ref, src, jobs=1, force=True, exiting=True)
    assert calls == [] and dump(index_path(ref)) == released
    build(ref, src, jobs=1, force=True)
    assert len(calls) == 1
