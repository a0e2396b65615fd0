"""The value flow's provenance log is complete (resolve/python_provenance.py): replaying the
logged constraints alone, with no hook, gives every variable the values the solve gave it, and the
noted entries give the Flow's answers. This is what an incremental re-solve will rest on: a
constraint made without being logged could never be taken back."""
from __future__ import annotations

import pytest
from test_flow_order import FIXTURE as FLOWORDER, PINS as FLOWORDER_PINS, fixture_home  # noqa: F401
from test_pyflow import FIXTURE as PYFLOW, PINS as PYFLOW_PINS


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
    from infernav.analyzer import store

    fixture, pins = {"pyflow": (PYFLOW, PYFLOW_PINS), "floworder": (FLOWORDER, FLOWORDER_PINS)}[which]
    ref, path = fixture_home(fixture, pins, which)
    conn = store.connect(path)
    files = store.all_facts(conn)
    conn.close()
    (got,) = _replayed(files, ref.settings, monkeypatch)
    assert got["log"] > 100 and got["vars"] > 100
    assert got["variables"] == [], f"{len(got['variables'])} variables differ"
    assert not any(got[k] for k in ("site_targets", "extra_edges", "site_top", "site_external", "cm_reports")), got


def test_a_constraint_left_out_of_the_log_is_caught(fixture_home, monkeypatch):
    """The check can fail: a solver that does not log its copy edges is found out."""
    from infernav.analyzer import store
    from infernav.analyzer.resolve import python_provenance
    from infernav.analyzer.resolve.python_solver import Solver

    ref, path = fixture_home(PYFLOW, PYFLOW_PINS, "pyflow")
    conn = store.connect(path)
    files = store.all_facts(conn)
    conn.close()
    monkeypatch.setattr(python_provenance.LoggingSolver, "copy", Solver.copy)
    (got,) = _replayed(files, ref.settings, monkeypatch)
    assert got["variables"]
