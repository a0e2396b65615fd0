"""Several frameworks indexed in one run (`infernav index a b`): while the first resolves, the
others are built whole by a background interpreter (pipeline.build_many), and what ends up
stored is exactly what indexing each framework alone stores, whatever happens there."""
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
    from infernav.analyzer import sources

    (tmp_path / "pins.toml").write_text(PINS)
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(tmp_path / "pins.toml"))
    items = []
    for name in ("mini", "pyflow"):
        shutil.copytree(FIXTURES / name, tmp_path / name)
        ref = sources.parse_ref(name)
        items.append((ref, sources.fetch(ref, path=str(tmp_path / name))))
    return items


def _spy_background(monkeypatch) -> list:
    from infernav.analyzer import pipeline

    started = []
    real = pipeline.Background.__init__

    def spy(self, items, *args):
        started.append([ref.key for ref, _ in items])
        real(self, items, *args)

    monkeypatch.setattr(pipeline.Background, "__init__", spy)
    return started


def test_background_builds_store_what_single_builds_store(two, monkeypatch):
    from infernav.analyzer import indexer, pipeline

    started = _spy_background(monkeypatch)
    reports = list(pipeline.build_many(two, force=True, jobs=2))
    assert started == [[two[1][0].key]], "the second framework was built in the background"
    assert [r.mode for r in reports] == ["cold", "cold"]
    assert [r.framework for r in reports] == [ref.key for ref, _ in two]
    piped = [_dump(indexer.index_path(ref)) for ref, _ in two]
    for (ref, root), want in zip(two, piped):
        indexer.build(ref, root, force=True, jobs=1)
        assert _dump(indexer.index_path(ref)) == want, ref.key


def test_one_core_builds_one_after_the_other(two, monkeypatch):
    from infernav.analyzer import pipeline

    started = _spy_background(monkeypatch)
    assert [r.mode for r in pipeline.build_many(two, force=True, jobs=1)] == ["cold", "cold"]
    assert started == []


def test_a_file_changed_after_the_background_build_is_indexed_again(two, monkeypatch):
    """The background build saw the tree before this change; the check after it sees the change
    and re-indexes, so the index is what a build at the time of the report writes."""
    from infernav.analyzer import indexer, pipeline

    (ref1, _root1), (ref2, root2) = two
    gen = pipeline.build_many(two, force=True, jobs=2)
    first = next(gen)
    assert first.framework == ref1.key
    bg = gen.gi_frame.f_locals["background"][0]
    assert bg.report(ref2.key) is not None            # its build there is done
    pkg = next(p for p in root2.rglob("*.py") if p.parent != root2 and not (p.parent / "__init__.py").exists())
    (pkg.parent / "__init__.py").write_text("")
    second = next(gen)
    assert second.mode == "incremental" and second.parsed > 0
    want = _dump(indexer.index_path(ref2))
    indexer.build(ref2, root2, force=True, jobs=1)
    assert _dump(indexer.index_path(ref2)) == want


def test_a_background_failure_is_the_sequential_runs_failure(two, monkeypatch):
    """A build that fails there (another writer holds the second index's lock) is built again
    here: the same exception and message as a sequential run, after the first index is written."""
    from infernav.analyzer import indexer, pipeline

    (_, _), (ref2, root2) = two
    list(pipeline.build_many(two, force=True, jobs=1))
    edited = next(p for p in sorted(root2.rglob("*.py")))
    holder = sqlite3.connect(indexer.index_path(ref2), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        errors = []
        for jobs in (1, 2):
            edited.write_text(edited.read_text() + f"\n\ndef added_{jobs}():\n    return {jobs}\n")
            gen = pipeline.build_many(two, jobs=jobs)
            next(gen)
            with pytest.raises(Exception) as failed:
                next(gen)
            errors.append((type(failed.value), str(failed.value)))
        assert errors[0] == errors[1], errors
        assert "another infernav" in errors[0][1]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_failing_first_build_stops_the_background(two, monkeypatch):
    from infernav.analyzer import pipeline

    procs = []
    real = pipeline.Background.__init__

    def spy(self, *args):
        real(self, *args)
        procs.append(self._proc)

    monkeypatch.setattr(pipeline.Background, "__init__", spy)
    import infernav.analyzer.resolve as resolve_mod

    def boom(files, settings, **_):
        raise RuntimeError("resolution failed")

    monkeypatch.setattr(resolve_mod, "resolve", boom)
    with pytest.raises(RuntimeError):
        list(pipeline.build_many(two, force=True, jobs=2))
    assert procs and procs[0].poll() is not None, "the background process is gone"


def test_background_progress_is_whole_lines_on_a_terminal(two):
    """On a terminal the first framework's progress redraws its line; the background's prints
    whole lines, so the two processes never garble one terminal line."""
    import os
    import pty
    import subprocess

    from hostile import INFERNAV

    leader, follower = pty.openpty()
    r = subprocess.run([INFERNAV, "index", "mini", "pyflow", "--force", "-j", "2"], stdout=subprocess.PIPE,
                       stderr=follower, env=os.environ, timeout=120)
    os.close(follower)
    seen = b""
    try:
        while chunk := os.read(leader, 65536):
            seen += chunk
    except OSError:                       # the follower side closed: all read
        pass
    os.close(leader)
    assert r.returncode == 0, seen
    text = seen.decode()
    assert "\r  parse mini@" in text, text                  # here: redrawn
    assert "  parse pyflow@" in text and "\r  parse pyflow@" not in text, text


@pytest.mark.parametrize("how", ["ctrl-c", "caller-gone"])
def test_an_interrupted_background_stops_without_a_traceback(two, monkeypatch, capfd, how):
    """Ctrl-C during a build, or a caller that died (its end of the pipe gone when a report is
    written): the background exits 1 and prints nothing."""
    import io
    import os
    import pickle
    import sys

    from infernav.analyzer import indexer, pipeline

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    def exit_now(code):
        raise SystemExit(code)

    request = {"items": [(ref, str(root)) for ref, root in two], "force": True, "jobs": 1, "progress_of": None}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pickle.dumps(request))))
    monkeypatch.setattr(os, "_exit", exit_now)
    saved = os.dup(1), os.dup(2)
    if how == "ctrl-c":
        monkeypatch.setattr(indexer, "build", interrupted)
    else:
        read_end, write_end = os.pipe()
        os.close(read_end)
        os.dup2(write_end, 1)
        os.close(write_end)
    try:
        with pytest.raises(SystemExit) as ended:
            pipeline.serve()
    finally:
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    assert ended.value.code == 1
    assert "Traceback" not in capfd.readouterr().err
