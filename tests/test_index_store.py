"""Incremental re-indexing, atomic replacement, and old/corrupt/half-written indexes."""
from __future__ import annotations

import marshal
import sqlite3

import pytest

from infernav.analyzer import store
from infernav.analyzer.indexer import build, index_path
from infernav.analyzer.query import Index


def _dump(path) -> list:
    conn = sqlite3.connect(path)
    out = [sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
           for t in ("symbols", "edges", "overrides", "aliases")]
    out.append([(p, h, e, marshal.loads(f) if f else None)
                for p, h, e, f in conn.execute("SELECT path, hash, errors, facts FROM files ORDER BY path")])
    conn.close()
    return out


def test_no_change_reindex_parses_nothing(mini):
    ref, src = mini
    assert build(ref, src, jobs=1).mode == "cold"
    again = build(ref, src, jobs=1)
    assert again.mode == "up-to-date" and again.parsed == 0


def test_touched_but_identical_file_is_not_reparsed(mini):
    ref, src = mini
    build(ref, src, jobs=1)
    f = src / "app" / "core" / "base.py"
    f.write_bytes(f.read_bytes())  # new mtime, same content
    assert build(ref, src, jobs=1).parsed == 0


def test_one_file_edit_equals_cold_index(mini, tmp_path):
    ref, src = mini
    build(ref, src, jobs=1)
    f = src / "app" / "core" / "helpers.py"
    f.write_text(f.read_text() + "\n\ndef added():\n    return compute(2)\n")
    (src / "csrc" / "latin1.cpp").unlink()
    report = build(ref, src, jobs=1)
    assert report.mode == "incremental" and report.parsed == 1 and report.deleted == 1
    incremental = _dump(index_path(ref))
    build(ref, src, force=True, jobs=1)
    assert _dump(index_path(ref)) == incremental
    idx = Index(index_path(ref))
    assert [h.symbol.name for h in idx.walk([r.id for r in idx.lookup("app.core.helpers.added")], "callees")] == [
        "app.core.helpers.compute"]


def test_parallel_and_serial_parses_agree(mini):
    ref, src = mini
    build(ref, src, jobs=1, force=True)
    serial = _dump(index_path(ref))
    import infernav.analyzer.indexer as indexer

    old = indexer._PARALLEL_MIN_FILES
    indexer._PARALLEL_MIN_FILES = 1
    try:
        build(ref, src, jobs=2, force=True)
    finally:
        indexer._PARALLEL_MIN_FILES = old
    assert _dump(index_path(ref)) == serial


def test_killed_cold_build_leaves_previous_index(mini, monkeypatch):
    ref, src = mini
    build(ref, src, jobs=1)
    before = _dump(index_path(ref))

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_write_graph", boom)
    with pytest.raises(KeyboardInterrupt):
        build(ref, src, jobs=1, force=True)
    assert _dump(index_path(ref)) == before
    assert not list(index_path(ref).parent.glob(".*.tmp"))


def test_killed_incremental_update_rolls_back(mini, monkeypatch):
    ref, src = mini
    build(ref, src, jobs=1)
    before = _dump(index_path(ref))
    f = src / "app" / "core" / "helpers.py"
    f.write_text(f.read_text() + "\n\ndef added():\n    return 1\n")
    real = store._write_graph

    def half(conn, graph, *rest):
        real(conn, graph, *rest)
        raise KeyboardInterrupt  # after rows were written, before commit

    monkeypatch.setattr(store, "_write_graph", half)
    with pytest.raises(KeyboardInterrupt):
        build(ref, src, jobs=1)
    assert _dump(index_path(ref)) == before


def test_corrupt_index_is_reported_and_rebuilt(mini):
    ref, src = mini
    build(ref, src, jobs=1)
    path = index_path(ref)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(store.CorruptIndex):
        Index(path)
    report = build(ref, src, jobs=1)
    assert report.mode == "cold" and "unreadable" in report.reason
    assert Index(path).lookup("kv::PrefixCache::Allocate")


def test_old_schema_is_reported_and_rebuilt(mini):
    ref, src = mini
    build(ref, src, jobs=1)
    path = index_path(ref)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(store.StaleIndex):
        Index(path)
    report = build(ref, src, jobs=1)
    assert report.mode == "cold" and "schema 1" in report.reason


def test_oversized_file_is_skipped_with_a_reason(mini):
    from infernav.analyzer.parse import MAX_FILE_BYTES

    ref, src = mini
    table = "TABLE = [\n" + "    1,\n" * (MAX_FILE_BYTES // 6) + "]\n"
    (src / "app" / "generated_table.py").write_text(table)
    report = build(ref, src, jobs=1)
    skipped = dict(report.skipped)
    assert "limit" in skipped["app/generated_table.py"]
    idx = Index(index_path(ref))
    assert idx.lookup("app.core.base.Base")  # the rest is indexed
    assert any("generated_table.py" in p for p in idx.stats()["skipped_files"])
