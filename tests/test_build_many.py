"""Several frameworks indexed in one run (`infernav index --all`): the next framework's files are
parsed in background workers while the current one resolves (indexer.build_many), and what it
stores is exactly what indexing each framework alone stores."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import MINI_PINS
from test_pyflow import PINS as PYFLOW_PINS

FIXTURES = Path(__file__).parent / "fixtures"
PINS = MINI_PINS + PYFLOW_PINS   # the two fixture frameworks, pinned as their own tests pin them


def _dump(path: Path) -> list:
    with sqlite3.connect(path) as conn:
        out = [sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
               for t in ("symbols", "edges", "overrides", "aliases", "unresolved", "files")]
        out.append(sorted((k, v) for k, v in conn.execute("SELECT key, value FROM meta") if k != "indexed_at"))
    return out


@pytest.fixture
def two(tmp_path, monkeypatch):
    from infernav.analyzer import indexer, sources

    (tmp_path / "pins.toml").write_text(PINS)
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(tmp_path / "pins.toml"))
    monkeypatch.setattr(indexer, "_PARALLEL_MIN_FILES", 1)   # the fixtures are small: parse ahead anyway
    items = []
    for name in ("mini", "pyflow"):
        shutil.copytree(FIXTURES / name, tmp_path / name)
        ref = sources.parse_ref(name)
        items.append((ref, sources.fetch(ref, path=str(tmp_path / name))))
    return items


def test_pipelined_builds_store_what_single_builds_store(two, monkeypatch):
    from infernav.analyzer import indexer
    from infernav.analyzer.parse import worker

    started = []
    real = worker.BackgroundParse.__init__

    def spy(self, tasks, sizes, jobs):
        started.append(len(tasks))
        real(self, tasks, sizes, jobs)

    monkeypatch.setattr(worker.BackgroundParse, "__init__", spy)
    reports = list(indexer.build_many(two, force=True, jobs=2))
    assert [r.mode for r in reports] == ["cold", "cold"]
    assert started and started[0] == reports[1].files, "the second framework was parsed ahead, all of it"
    piped = [_dump(indexer.index_path(ref)) for ref, _ in two]
    for (ref, root), want in zip(two, piped):
        indexer.build(ref, root, force=True, jobs=1)
        assert _dump(indexer.index_path(ref)) == want, ref.key


def test_a_file_changed_after_the_head_start_is_parsed_again(two, monkeypatch):
    """The head start's result for a file whose plan changed (here: its module name, by an
    __init__.py that appeared) is dropped, and the file is parsed as the real plan says."""
    from infernav.analyzer import indexer

    (ref1, _root1), (ref2, root2) = two
    gen = indexer.build_many(two, force=True, jobs=2)
    first = next(gen)
    assert first.framework == ref1.key
    pkg = next(p for p in root2.rglob("*.py") if p.parent != root2 and not (p.parent / "__init__.py").exists())
    (pkg.parent / "__init__.py").write_text("")
    second = next(gen)
    assert second.parsed == second.files
    want = _dump(indexer.index_path(ref2))
    indexer.build(ref2, root2, force=True, jobs=1)
    assert _dump(indexer.index_path(ref2)) == want


def test_a_failing_build_stops_the_workers_started_ahead(two, monkeypatch):
    from infernav.analyzer import indexer
    from infernav.analyzer.parse import worker

    cancelled = []
    real_cancel = worker.BackgroundParse.cancel

    def spy(self):
        cancelled.append(len(self._procs))
        real_cancel(self)

    monkeypatch.setattr(worker.BackgroundParse, "cancel", spy)
    import infernav.analyzer.resolve as resolve_mod

    def boom(files, settings, **_):
        raise RuntimeError("resolution failed")

    monkeypatch.setattr(resolve_mod, "resolve", boom)
    with pytest.raises(RuntimeError):
        list(indexer.build_many(two, force=True, jobs=2))
    assert cancelled and cancelled[0] > 0, "the background workers were killed"
