"""An index kept live (analyzer/live.py, `infernav index --watch`): every edit it indexes, in
place or by rebuilding, leaves the index a cold build of the same tree writes, and `infernav
index` run beside a watcher is answered by it (analyzer/live_socket.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_incremental_equals_cold import dump, edge_names
from test_pyflow import FIXTURE as PYFLOW, PINS as PYFLOW_PINS

CALL_EDIT = (b"    apply(leaf_a)\n", b"    apply(leaf_b)\n")    # passing.py: one call's argument


@pytest.fixture
def pyflow_live(tmp_path, monkeypatch):
    """(ref, source folder) of the pyflow fixture copied into tmp, with its own cache."""
    import shutil

    from infernav.analyzer import sources

    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(tmp_path / "pins.toml"))
    (tmp_path / "pins.toml").write_text(PYFLOW_PINS)
    shutil.copytree(PYFLOW, tmp_path / "src")
    ref = sources.parse_ref("pyflow")
    return ref, sources.fetch(ref, path=str(tmp_path / "src"))


def _edit(path, old: bytes, new: bytes) -> None:
    text = path.read_bytes()
    assert old in text
    path.write_bytes(text.replace(old, new, 1))


def _equals_cold(ref, src) -> dict:
    """The index as it is, checked against a cold build of the same tree."""
    from infernav.analyzer.indexer import build, index_path

    live = dump(index_path(ref))
    build(ref, src, force=True, jobs=1)
    cold = dump(index_path(ref))
    for key in cold:
        assert live[key] == cold[key], f"the live index differs from a cold one in {key}"
    return live


def test_an_edited_call_is_indexed_in_place_as_a_cold_index(pyflow_live):
    from infernav.analyzer.indexer import index_path
    from infernav.analyzer.live import LiveIndex

    ref, src = pyflow_live
    live = LiveIndex(ref, src, jobs=1)
    assert live.open().mode == "cold"
    before = edge_names(dump(index_path(ref)))
    assert live.refresh() is None                        # nothing changed
    _edit(src / "flow" / "passing.py", *CALL_EDIT)
    report = live.refresh()
    assert report.mode == "incremental" and report.parsed == 1, report
    assert report.reused and "in place" in report.reused[0], report
    after = edge_names(_equals_cold(ref, src))
    assert after != before
    assert any(e[1].endswith("leaf_b") for e in after - before), after - before


def test_a_second_edit_and_a_touched_file_are_indexed_in_place_too(pyflow_live):
    from infernav.analyzer.live import LiveIndex

    ref, src = pyflow_live
    live = LiveIndex(ref, src, jobs=1)
    live.open()
    _edit(src / "flow" / "passing.py", *CALL_EDIT)
    live.refresh()
    _edit(src / "flow" / "passing.py", CALL_EDIT[1], CALL_EDIT[0])      # and back
    assert "in place" in live.refresh().reused[0]
    _equals_cold(ref, src)
    target = src / "flow" / "containers.py"
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))   # touched, not changed
    report = live.refresh()
    assert report.parsed == 1 and "in place (0 call sites" in report.reused[0], report
    _equals_cold(ref, src)


@pytest.mark.parametrize("change", ["new def", "new assignment", "new file", "removed __init__"])
def test_what_cannot_be_done_in_place_is_rebuilt_and_says_why(pyflow_live, change):
    from infernav.analyzer.live import LiveIndex

    ref, src = pyflow_live
    live = LiveIndex(ref, src, jobs=1)
    live.open()
    if change == "new def":
        target = src / "flow" / "passing.py"
        target.write_bytes(target.read_bytes() + b"\n\ndef probe():\n    return apply(leaf_b)\n")
    elif change == "new assignment":
        _edit(src / "flow" / "passing.py", CALL_EDIT[0], b"    extra = leaf_b\n" + CALL_EDIT[0])
    elif change == "new file":
        (src / "flow" / "extra.py").write_text("from flow.passing import apply\n\n\ndef more():\n    apply(more)\n")
    else:
        (src / "flow" / "nspkg" / "__init__.py").write_text("")
    report = live.refresh()
    assert report.reason.startswith("whole value flow re-solved: "), report
    if change.startswith("new") and change != "new file":
        assert report.reason.endswith("the edit changes what the file defines or binds"), report.reason
    _equals_cold(ref, src)
    _edit(src / "flow" / "passing.py", *CALL_EDIT)       # and the state made again serves the next edit
    assert "in place" in live.refresh().reused[0]
    _equals_cold(ref, src)


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "infernav.analyzer.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _start_watcher(env):
    proc = subprocess.Popen([sys.executable, "-m", "infernav.analyzer.cli", "index", "pyflow", "--watch", "-j", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if line.startswith("watching "):
            return proc
    proc.kill()
    raise AssertionError(f"the watcher did not start: {proc.stdout.read()}")


def test_index_beside_a_watcher_is_answered_by_it_and_ctrl_c_stops_it(pyflow_live):
    from infernav.analyzer.live_socket import socket_path

    ref, src = pyflow_live
    env = dict(os.environ)
    proc = _start_watcher(env)
    try:
        assert socket_path(ref).exists()
        second = _cli("index", "pyflow", "--watch", env=env)
        assert second.returncode == 1 and second.stderr.count("\n") == 1, second
        assert "another `infernav index --watch` keeps pyflow" in second.stderr
        _edit(src / "flow" / "passing.py", *CALL_EDIT)
        got = _cli("index", "pyflow", "--json", env=env)
        assert got.returncode == 0, got.stderr
        report = json.loads(got.stdout)["results"][0]
        assert any("infernav index --watch" in r for r in report["reused"]), report
        time.sleep(0.1)
        _equals_cold(ref, src)
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    assert rc == 130
    assert not socket_path(ref).exists()


def test_a_watcher_running_other_code_is_not_asked(pyflow_live, monkeypatch):
    from infernav.analyzer import live_socket

    ref, src = pyflow_live
    proc = _start_watcher(dict(os.environ))
    try:
        with monkeypatch.context() as m:
            m.setattr(live_socket, "code_stamp", lambda: "other code")
            assert live_socket.ask(ref) is None
        assert live_socket.ask(ref) is not None
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


@pytest.mark.parametrize("edit", ["blank line at the top", "longer call", "comment line inside a body"])
def test_an_edit_that_moves_code_is_indexed_in_place_as_a_cold_index(pyflow_live, edit):
    """Positions and lines after the edit move (python_shift): the declared bindings move with
    them, the symbols below get their new lines, and the index is a cold one's."""
    from infernav.analyzer.indexer import index_path
    from infernav.analyzer.live import LiveIndex

    ref, src = pyflow_live
    live = LiveIndex(ref, src, jobs=1)
    live.open()
    before = dump(index_path(ref))
    target = src / "flow" / "passing.py"
    if edit == "blank line at the top":
        target.write_bytes(b"\n" + target.read_bytes())
    elif edit == "longer call":
        _edit(target, b"    apply(leaf_a)\n", b"    apply(leaf_a if leaf_a else leaf_b)\n")
    else:
        _edit(target, b"    apply(leaf_a)\n", b"    # a comment\n    apply(leaf_a)\n")
    report = live.refresh()
    assert report.reused and "in place" in report.reused[0], report
    after = _equals_cold(ref, src)
    assert [r[0] for r in after["symbols"]] == [r[0] for r in before["symbols"]]     # the same ids
    lines_moved = any(a != b for a, b in zip(before["symbols"], after["symbols"]))
    assert lines_moved == (edit != "longer call")


@pytest.mark.parametrize("edit", ["call added", "call removed", "call added before an assigned call"])
def test_calls_that_come_and_go_are_indexed_in_place_as_a_cold_index(pyflow_live, edit):
    from infernav.analyzer.live import LiveIndex

    ref, src = pyflow_live
    live = LiveIndex(ref, src, jobs=1)
    live.open()
    target = src / "flow" / "passing.py"
    if edit == "call added":
        _edit(target, b"    apply(leaf_a)\n", b"    apply(leaf_a)\n    apply(pick())\n")
    elif edit == "call removed":
        _edit(target, b"    apply(leaf_a)\n", b"")
    else:                     # objects.py: `self.engine = Engine(False)` refers to its call by index
        target = src / "flow" / "objects.py"
        _edit(target, b"        self.engine = Engine(False)\n", b"        print(self)\n        self.engine = Engine(False)\n")
    report = live.refresh()
    assert report.reused and "in place" in report.reused[0], report
    _equals_cold(ref, src)


def test_renewing_the_state_frees_the_old_one(pyflow_live):
    """A watcher makes its state again once the provenance log has doubled (LiveIndex.worn); the
    old state, full of closures over itself, must then be freed, not leaked."""
    import gc
    import weakref

    from infernav.analyzer.live import LiveIndex

    ref, src = pyflow_live
    live = LiveIndex(ref, src, jobs=1)
    live.open()
    assert not live.worn()
    old = weakref.ref(live.py.flow)
    live._log_base = len(live.py.flow.s.log) // 3          # as if many edits had grown it
    assert live.worn()
    assert live.renew().mode == "up-to-date"
    gc.collect()
    assert old() is None, "the old value flow is still alive"
    assert not live.worn()
    _edit(src / "flow" / "passing.py", *CALL_EDIT)
    assert "in place" in live.refresh().reused[0]
    _equals_cold(ref, src)
