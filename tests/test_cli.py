"""The CLI as a user meets it: exit codes, JSON shapes, suggestions, errors without tracebacks."""
from __future__ import annotations

import json

from click.testing import CliRunner

from infernav.analyzer.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_callers_json_shape(mini_index):
    r = run("callers", "kv::PrefixCache::Allocate", "-f", "mini", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["symbol"]["name"] == "kv::PrefixCache::Allocate"
    hits = data["results"]
    assert all({"name", "kind", "path", "line", "resolution", "depth"} <= h.keys() for h in hits)
    assert [(h["name"], h["path"], h["resolution"], h["depth"], h["call_line"]) for h in hits] == [
        ("sched::Strategy::Step", "csrc/scheduler.cpp", "dispatch", 1, 18),
        ("sched::Strategy::StepAll", "csrc/scheduler.cpp", "dispatch", 1, 28),
    ]


def test_callees_depth_and_path_json(mini_index):
    r = run("callees", "app.ops.add_norm", "-f", "mini", "--depth", "3", "--json")
    depths = {h["name"]: h["depth"] for h in json.loads(r.stdout)["results"]}
    assert depths["torch.ops._C.add_norm"] == 1 and depths["add_norm"] == 2
    assert depths["demo::add_norm_kernel"] == 3
    r = run("path", "app.ops.add_norm", "demo::helper_dev", "-f", "mini", "--json")
    assert json.loads(r.stdout)["paths"] == [[
        "app.ops.add_norm", "torch.ops._C.add_norm", "add_norm", "demo::add_norm_kernel", "demo::helper_dev"]]


def test_k_shortest_paths(mini_index):
    r = run("path", "sched::Strategy::Step", "kv::PrefixCache::Free", "-k", "3", "-f", "mini", "--json")
    paths = json.loads(r.stdout)["paths"]
    assert ["sched::Strategy::Step", "kv::PrefixCache::Free"] in paths


def test_unknown_symbol_suggests_near_names(mini_index):
    r = run("callers", "PrefixCache::Alocate", "-f", "mini")
    assert r.exit_code == 1
    assert "no symbol matches" in r.output and "kv::PrefixCache::Allocate" in r.output
    r = run("callers", "PrefixCache::Alocate", "-f", "mini", "--json")
    assert r.exit_code == 1 and "kv::PrefixCache::Allocate" in json.loads(r.stdout)["suggestions"]


def test_ambiguous_symbol_lists_candidates(mini_index):
    r = run("callers", "Allocate", "-f", "mini")
    assert r.exit_code == 1 and "ambiguous" in r.output
    assert "kv::DirectCache::Allocate" in r.output and "kv::PrefixCache::Allocate" in r.output


def test_path_line_lookup_and_show(mini_index):
    r = run("show", "csrc/cache.cpp:7", "-f", "mini")
    assert r.exit_code == 0 and "kv::PrefixCache::Allocate" in r.output
    assert "this->Evict(n, true);" in r.output          # excerpt with line numbers
    assert "      7  " in r.output
    r = run("show", "kv::PrefixCache::Allocate", "-f", "mini", "--json")
    data = json.loads(r.stdout)
    assert data["overrides"][0]["name"] == "kv::CacheInterface::Allocate"
    assert data["symbols"][0]["source"][0] == {"line": 5, "text": "int PrefixCache::Allocate(int n) {"}


def test_overrides_graph_find_stats(mini_index):
    r = run("overrides", "kv::CacheInterface::Free", "-f", "mini")
    assert r.exit_code == 0 and "kv::DirectCache::Free" in r.output
    r = run("graph", "add_norm", "-f", "mini", "--format", "mermaid")
    assert r.output.startswith("flowchart LR") and "launch" in r.output
    r = run("graph", "add_norm", "-f", "mini", "--format", "dot")
    assert r.output.startswith("digraph")
    r = run("find", "*Cache::Alloc*", "-f", "mini", "--json")
    names = [x["name"] for x in json.loads(r.stdout)["results"]]
    assert "kv::PrefixCache::Allocate" in names
    r = run("stats", "-f", "mini", "--json")
    assert json.loads(r.stdout)["parse_error_files"] == ["csrc/broken.cpp"]


def test_empty_answer_exits_1(mini_index):
    r = run("callers", "sched::Strategy::Step", "-f", "mini")
    assert r.exit_code == 1 and "(0)" in r.output


def test_usage_errors_exit_2(mini_index):
    assert run("callers").exit_code == 2
    r = run("callers", "x", "-f", "nosuchframework")
    assert r.exit_code == 2 and "unknown framework" in r.output
    assert run("graph", "add_norm", "-f", "mini", "--format", "png").exit_code == 2


def test_corrupt_index_is_rebuilt_on_query(mini_index):
    mini_index.path.write_bytes(b"garbage" * 1000)
    r = run("callers", "kv::PrefixCache::Allocate", "-f", "mini")
    assert r.exit_code == 0, r.output
    assert "unreadable index" in r.output and "Traceback" not in r.output


def test_missing_source_says_how_to_get_it(tmp_path, monkeypatch):
    from conftest import MINI_PINS

    pins = tmp_path / "pins.toml"
    pins.write_text(MINI_PINS)
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("INFERNAV_PINS", str(pins))
    r = run("callers", "x", "-f", "mini")
    assert r.exit_code == 1 and "infernav fetch mini@1" in r.output
    r = run("fetch", "mini")  # git source that cannot be reached: one clear line
    assert r.exit_code == 1
    assert "infernav fetch mini --path DIR" in r.output and "Traceback" not in r.output


def test_guesses_only_with_the_flag_and_strict_is_a_no_op(mini_index):
    user = "app.core.impl.rare_method_user"
    r = run("callees", user, "-f", "mini", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["results"] == []
    r = run("callees", user, "-f", "mini", "--json", "--strict")
    assert r.exit_code == 1 and json.loads(r.stdout)["results"] == []
    r = run("callees", user, "-f", "mini", "--json", "--guesses")
    assert [(h["name"], h["resolution"]) for h in json.loads(r.stdout)["results"]] == [
        ("app.core.impl.Rare.very_rare_name", "guess")]
    r = run("callees", user, "-f", "mini", "--guesses")
    assert "guess" in r.output and "--strict" not in run("callees", "--help").output


def test_callees_list_unresolved_sites_and_callers_count_them(mini_index):
    r = run("callees", "app.core.impl.rare_method_user", "-f", "mini", "--json")
    un = json.loads(r.stdout)["unresolved"]
    assert [(u["call_line"], u["text"], u["reason"]) for u in un] == [
        (28, "thing.very_rare_name", "unknown"), (29, "thing.append", "unknown")]
    r = run("callees", "app.core.impl.rare_method_user", "-f", "mini")
    assert "unresolved call sites (2):" in r.output and "thing.very_rare_name" in r.output
    # Nothing in the index is known to call Rare.very_rare_name, but one unresolved site might.
    r = run("callers", "app.core.impl.Rare.very_rare_name", "-f", "mini", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["unresolved_same_name"] == 1
    r = run("callers", "app.core.impl.Rare.very_rare_name", "-f", "mini")
    assert "1 unresolved call sites elsewhere" in r.output


def test_path_labels_every_hop(mini_index):
    r = run("path", "app.ops.add_norm", "demo::add_norm_kernel", "-f", "mini", "--json")
    data = json.loads(r.stdout)
    assert data["paths"] == [["app.ops.add_norm", "torch.ops._C.add_norm", "add_norm", "demo::add_norm_kernel"]]
    assert [(h["from"], h["to"], h["resolution"], h["via"]) for h in data["hops"][0]] == [
        ("app.ops.add_norm", "torch.ops._C.add_norm", "exact", "torch-op"),
        ("torch.ops._C.add_norm", "add_norm", "exact", "registration"),
        ("add_norm", "demo::add_norm_kernel", "exact", "launch")]
    r = run("path", "app.ops.add_norm", "demo::add_norm_kernel", "-f", "mini")
    assert "exact/torch-op" in r.output and "exact/launch" in r.output


def test_stats_resolution_by_folder(mini_index):
    data = json.loads(run("stats", "-f", "mini", "--json").stdout)
    rows = {r["folder"]: r for r in data["resolution_by_folder"]}
    assert rows["app/core"]["resolved"] > 0 and rows["app/core"]["unresolved"].get("unknown", 0) >= 2
    assert "resolved call sites by folder" in run("stats", "-f", "mini").output
