"""The value flow's provenance log is complete (resolve/python_provenance.py): replaying the
logged constraints alone, with no hook, gives every variable the values the solve gave it, and the
noted entries give the Flow's answers. This is what an incremental re-solve will rest on: a
constraint made without being logged could never be taken back."""
from __future__ import annotations

import pytest
from test_flow_order import FIXTURE as FLOWORDER, PINS as FLOWORDER_PINS, fixture_home  # noqa: F401
from test_pyflow import FIXTURE as PYFLOW, PINS as PYFLOW_PINS


def _facts(path) -> list:
    """Every file's stored facts in the index at `path`."""
    from infernav.analyzer import store

    conn = store.connect(path)
    try:
        return store.all_facts(conn)
    finally:
        conn.close()


def _replayed(files: list, settings: dict, monkeypatch) -> list[dict]:
    from infernav.analyzer.resolve import python_flow, resolve
    from infernav.analyzer.resolve.python_provenance import LoggingSolver, replay

    found = []
    release = python_flow.Flow.release

    def check_then_release(self):
        found.append({"log": len(self.s.log), "vars": len(self.s.pts), **replay(self)})
        release(self)

    monkeypatch.setattr(python_flow.Flow, "solver_class", LoggingSolver)
    monkeypatch.setattr(python_flow.Flow, "release", check_then_release)
    resolve(files, settings)
    return found


@pytest.mark.parametrize("which", ["pyflow", "floworder"])
def test_replaying_the_log_gives_every_value_and_answer(fixture_home, monkeypatch, which):

    fixture, pins = {"pyflow": (PYFLOW, PYFLOW_PINS), "floworder": (FLOWORDER, FLOWORDER_PINS)}[which]
    ref, path = fixture_home(fixture, pins, which)
    files = _facts(path)
    (got,) = _replayed(files, ref.settings, monkeypatch)
    assert got["log"] > 100 and got["vars"] > 100
    assert got["variables"] == [], f"{len(got['variables'])} variables differ"
    assert not any(got[k] for k in ("site_targets", "extra_edges", "site_top", "site_external", "cm_reports")), got


def test_a_constraint_left_out_of_the_log_is_caught(fixture_home, monkeypatch):
    """The check can fail: a solver that does not log its copy edges is found out."""
    from infernav.analyzer.resolve import python_provenance
    from infernav.analyzer.resolve.python_solver import Solver

    ref, path = fixture_home(PYFLOW, PYFLOW_PINS, "pyflow")
    files = _facts(path)
    monkeypatch.setattr(python_provenance.LoggingSolver, "copy", Solver.copy)
    (got,) = _replayed(files, ref.settings, monkeypatch)
    assert got["variables"]


def test_taking_back_every_file_resets_every_variable_that_holds_a_value(fixture_home, monkeypatch):
    """Over-deletion (python_provenance.over_deletion) on pyflow: taking back nothing resets
    nothing, more causes reset more, and taking back every file's passes, the shared structure
    and the solver's own rounds reaches every variable that holds a value: none keeps a value
    with nothing behind it."""
    from infernav.analyzer.resolve import python_flow, resolve
    from infernav.analyzer.resolve.python_provenance import LoggingSolver, over_deletion

    ref, path = fixture_home(PYFLOW, PYFLOW_PINS, "pyflow")
    files = _facts(path)
    got = {}
    release = python_flow.Flow.release

    def measure(self):
        s = self.s
        everything = sorted({e[0] for e in s.log if e[0][0] in ("file", "solve", "shared")})
        one = [c for c in everything if c[0] == "file" and c[2] == "build"][:1]
        got["none"] = over_deletion(s, [])["reset_vars"]
        got["one"] = over_deletion(s, one)["reset_vars"]
        got["all"] = over_deletion(s, everything, include_shared=True)["reset_vars"]
        got["holding"] = sum(1 for p in s.pts if p)
        release(self)

    monkeypatch.setattr(python_flow.Flow, "solver_class", LoggingSolver)
    monkeypatch.setattr(python_flow.Flow, "release", measure)
    resolve(files, ref.settings)
    assert got["none"] == 0
    assert 0 < got["one"] <= got["all"]
    assert got["all"] >= got["holding"] > 0


def _answers(flow) -> dict:
    return {"targets": {k: dict(v) for k, v in flow.site_targets.items() if v},
            "external": {k: set(v) for k, v in flow.site_external.items() if v},
            "top": set(flow.site_top), "extra": set(flow.extra_edges), "replaced": set(flow.replaced),
            "dispatched": set(flow.site_dispatched)}


@pytest.mark.parametrize("which", ["pyflow", "floworder"])
def test_resolving_a_file_again_gives_the_same_answers(fixture_home, monkeypatch, which):
    """python_incremental.resolve_file_again on every file, one after another, without changing
    its facts: each time the Flow's answers are the cold solve's (files whose cone reaches a
    container class are declined, and counted)."""
    from infernav.analyzer.resolve import python_flow, resolve
    from infernav.analyzer.resolve.python_incremental import resolve_file_again
    from infernav.analyzer.resolve.python_provenance import LoggingSolver

    fixture, pins = {"pyflow": (PYFLOW, PYFLOW_PINS), "floworder": (FLOWORDER, FLOWORDER_PINS)}[which]
    ref, path = fixture_home(fixture, pins, which)
    files = _facts(path)
    seen = {}
    release = python_flow.Flow.release

    def again_then_release(self):
        cold = _answers(self)
        done = declined = 0
        for fi, f in enumerate(self.files):
            if not f.get("flow"):
                continue
            if resolve_file_again(self, fi):
                done += 1
                assert _answers(self) == cold, f["path"]
            else:
                declined += 1
        seen.update(done=done, declined=declined)
        release(self)

    monkeypatch.setattr(python_flow.Flow, "solver_class", LoggingSolver)
    monkeypatch.setattr(python_flow.Flow, "release", again_then_release)
    resolve(files, ref.settings)
    assert seen["done"] > 0, seen


def _flow_answers(files: list, settings: dict, monkeypatch, then=None) -> dict:
    """The Flow's answers for `files`, right after its solve; `then(flow)` runs first if given."""
    from infernav.analyzer.resolve import python_flow, resolve
    from infernav.analyzer.resolve.python_provenance import LoggingSolver

    got = {}
    solve = python_flow.Flow.solve

    def solve_then(self, *a, **k):
        solve(self, *a, **k)
        if then is not None:
            got["then"] = then(self)
        got["answers"] = _answers(self)
        return self

    monkeypatch.setattr(python_flow.Flow, "solver_class", LoggingSolver)
    monkeypatch.setattr(python_flow.Flow, "solve", solve_then)
    resolve(files, settings)
    return got


def test_an_edited_call_is_resolved_again_in_place_as_a_cold_solve_would(fixture_home, monkeypatch):
    """python_incremental.update_file: pyflow's run_all passes leaf_b where it passed leaf_a
    (same length, so only that call site's facts change). Re-solving the file in place gives the
    answers a cold solve of the edited facts gives, and they differ from the old answers."""
    from infernav.analyzer.parse import extract_file
    from infernav.analyzer.resolve.python_incremental import update_file

    ref, path = fixture_home(PYFLOW, PYFLOW_PINS, "pyflow")
    files = _facts(path)
    fi = next(i for i, f in enumerate(files) if f["path"].endswith("flow/passing.py"))
    source = (PYFLOW / files[fi]["path"]).read_bytes()
    assert b"    apply(leaf_a)\n" in source
    edited = extract_file("py", source.replace(b"    apply(leaf_a)\n", b"    apply(leaf_b)\n"), files[fi]["path"],
                          {"module": files[fi]["module"], "is_package": False})
    cold = _flow_answers([*files[:fi], edited, *files[fi + 1:]], ref.settings, monkeypatch)["answers"]
    def edit(flow):
        at = next(i for i, f in enumerate(flow.files) if f["path"] == edited["path"])
        return _answers(flow), update_file(flow, at, edited)

    got = _flow_answers(files, ref.settings, monkeypatch, then=edit)
    before, updated = got["then"]
    assert updated, "the edit changes calls only, and its cone holds no container class"
    assert before != cold
    assert got["answers"] == cold
