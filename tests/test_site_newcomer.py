"""Issue 15 (the site for newcomers): neighbours ranked by resolution with fan-outs collapsed and
tests left out, in the query layer, and the CLI's `graph`, the site and the explorer using it."""
from __future__ import annotations

import json

from click.testing import CliRunner

from infernav.analyzer.query import FanOut, Hit, SymbolRow, rank_hits
from infernav.analyzer.query.ranking import fanout_groups


def _row(sid: int, name: str, path: str = "pkg/mod.py") -> SymbolRow:
    short = name.replace("::", ".").split(".")[-1]
    return SymbolRow(sid, name, short, "method", "python", path, 1, 2, "", "", "", None, "", 0)


def _hit(sid, name, res, line, path="pkg/mod.py"):
    return Hit(_row(sid, name, path), line, res, "call", 1)


def test_rank_hits_orders_exact_flow_type_then_dispatch_and_collapses_fan_outs():
    hits = [
        _hit(1, "pkg.Conn.match", "type", 30),
        *[_hit(10 + k, f"pkg.C{k}.match", "dispatch", 30) for k in range(4)],   # one call, 4 overrides
        _hit(20, "pkg.Q.pop", "type", 10),
        _hit(21, "pkg.FQ.pop", "dispatch", 10), _hit(22, "pkg.PQ.pop", "dispatch", 10),  # 2: kept apart
        _hit(30, "pkg.S.helper", "exact", 50),
        _hit(31, "pkg.R.event", "flow", 5),
        _hit(40, "pkg.tests.test_s.fake", "exact", 1, path="pkg/tests/test_s.py"),
    ]
    r = rank_hits(hits, "callees", 99, is_test=lambda p: "/tests/" in p)
    kinds = [e.resolution if isinstance(e, Hit) else "fanout" for e in r.entries]
    assert kinds == ["exact", "flow", "type", "type", "dispatch", "dispatch", "fanout"]
    assert [e.symbol.name for e in r.entries[:2]] == ["pkg.S.helper", "pkg.R.event"]
    fan = r.entries[-1]
    assert isinstance(fan, FanOut) and len(fan.members) == 4
    assert fan.label == "4 overrides of Conn.match" and fan.base.name == "pkg.Conn.match"
    assert r.tests_hidden == 1 and r.symbols() == 10
    assert not any(isinstance(e, Hit) and "tests" in e.symbol.path for e in r.entries)
    shown = rank_hits(hits, "callees", 99, is_test=lambda p: "/tests/" in p, tests=True)
    assert shown.tests_hidden == 0 and shown.entries[0].symbol.id == 40     # exact, called at line 1


def test_fan_out_needs_one_call_site_and_callers_never_collapse():
    # The same name called at two lines (a KV and an EC connector both have build_meta) is two calls.
    hits = [*[_hit(10 + k, f"kv.C{k}.build_meta", "dispatch", 70) for k in range(3)],
            _hit(20, "ec.E.build_meta", "dispatch", 79)]
    r = rank_hits(hits, "callees", 1)
    assert [type(e).__name__ for e in r.entries] == ["FanOut", "Hit"]
    assert r.entries[0].label == "3 overrides of build_meta"      # no base edge: the short name
    assert all(isinstance(e, Hit) for e in rank_hits(hits, "callers", 1).entries)
    groups = fanout_groups([(1, 10 + k, 70, "dispatch") for k in range(3)] + [(1, 20, 79, "dispatch")],
                           {10: "build_meta", 11: "build_meta", 12: "build_meta", 20: "build_meta"})
    assert groups == {1: [("build_meta", 70, [10, 11, 12])]}


def test_graph_of_scheduler_schedule_shows_exact_and_flow_before_any_dispatch(vllm_index):
    from infernav.analyzer.cli import main

    name = "vllm.v1.core.sched.scheduler.Scheduler.schedule"
    res = CliRunner().invoke(main, ["graph", name, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["nodes"][0]["name"] == name and d["nodes"][0]["focus"]
    focus = d["nodes"][0]["id"]
    out = [e["resolution"] for e in d["edges"] if e["from"] == focus]
    order = {"exact": 0, "flow": 1, "type": 2, "dispatch": 3, "guess": 4}
    assert out == sorted(out, key=order.get), out
    assert out.count("exact") >= 10 and out.count("flow") >= 5
    fans = {f["fanout"] for f in d["fanouts"]}
    assert "10 overrides of KVConnectorBase_V1.get_num_new_matched_tokens" in fans
    assert len(d["nodes"]) + len(d["fanouts"]) <= 60
    text = CliRunner().invoke(main, ["graph", name]).stdout.splitlines()
    edges = [ln for ln in text if "|" in ln and "-" in ln]
    first_dispatch = next(i for i, ln in enumerate(edges) if "dispatch" in ln)
    assert all("dispatch" not in ln for ln in edges[:first_dispatch])
    assert sum("|exact|" in ln or "|flow|" in ln for ln in edges[:first_dispatch]) >= 15
    assert any(ln.strip().startswith("g") and "overrides of" in ln for ln in text)


def test_graph_leaves_test_code_out_unless_asked(ksana_index):
    from infernav.analyzer.cli import main

    name = "ksana_llm::PrefixCacheManager::AllocateRequestBlocks"
    plain = json.loads(CliRunner().invoke(main, ["graph", "-f", "ksanallm", name, "--json"]).stdout)
    both = json.loads(CliRunner().invoke(main, ["graph", "-f", "ksanallm", name, "--json", "--tests"]).stdout)
    assert plain["tests_hidden"] >= 1 and both["tests_hidden"] == 0
    assert not any(n["path"].endswith("_test.cpp") for n in plain["nodes"])
    assert any(n["path"].endswith("_test.cpp") for n in both["nodes"])
