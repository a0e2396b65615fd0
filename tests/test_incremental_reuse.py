"""What an incremental re-index keeps from the stored index instead of recomputing, each case
shown identical to a cold index of the same tree (the whole index dumped, as in
tests/test_incremental_equals_cold.py).

The C++ part (resolve.graph.CppPart: C++ symbols, the op and pybind symbols C++ registers, the
edges and override pairs leaving them, the call counts, what Python calls reach) is reused when no
C++ file, setting or resolver version changed. The `mini` fixture has
torch op and pybind11 registrations, a CUDA file and a C++ file with parse errors.
"""
from __future__ import annotations

import json
import sqlite3

import pytest

from infernav.analyzer.indexer import build, index_path
from infernav.analyzer.parse.languages import resolver_of
from infernav.analyzer.resolve import resolve
from infernav.analyzer import store
from test_incremental_equals_cold import dump, edge_names


def _incremental_then_cold(ref, src):
    inc_report = build(ref, src, jobs=1)
    assert inc_report.mode == "incremental", inc_report
    inc = dump(index_path(ref))
    cold_report = build(ref, src, force=True, jobs=1)
    assert cold_report.mode == "cold"
    cold = dump(index_path(ref))
    for key in cold:
        assert inc[key] == cold[key], f"incremental differs from cold in {key}"
    assert inc_report.parse_error_files == cold_report.parse_error_files
    assert (inc_report.symbols, inc_report.edges) == (cold_report.symbols, cold_report.edges)
    return inc_report, inc


def test_python_edit_reuses_the_cpp_part(mini):
    ref, src = mini
    assert build(ref, src, jobs=1).reused == []           # cold: nothing to reuse
    f = src / "app" / "ops.py"
    f.write_text(f.read_text() + "\n\ndef again(x):\n    torch.ops._C.add_norm(x)\n    return fastmod.fast_add(x, x)\n")
    report, d = _incremental_then_cold(ref, src)
    assert report.reused == ["C++ resolution"]
    assert "csrc/broken.cpp" in report.parse_error_files  # a C++ file whose facts were not read
    edges = edge_names(d)
    assert ("app.ops.again", "torch.ops._C.add_norm", "exact") in edges     # through the reused links
    assert ("app.ops.again", "fastmod.fast_add", "exact") in edges


def test_cpp_edit_resolves_cpp_afresh(mini):
    ref, src = mini
    build(ref, src, jobs=1)
    f = src / "csrc" / "cache.cpp"
    f.write_text(f.read_text() + "\nint cache_probe() { return 1; }\n")
    report, d = _incremental_then_cold(ref, src)
    assert report.reused == []
    assert any(row[1] == "cache_probe" for row in d["symbols"])


def test_cpp_file_removed_or_added_resolves_cpp_afresh(mini):
    ref, src = mini
    build(ref, src, jobs=1)
    (src / "csrc" / "latin1.cpp").unlink()
    assert _incremental_then_cold(ref, src)[0].reused == []
    (src / "csrc" / "extra.cpp").write_text("int extra_fn() { return 2; }\n")
    assert _incremental_then_cold(ref, src)[0].reused == []


def test_settings_change_resolves_cpp_afresh(mini, tmp_path, monkeypatch):
    """A setting only resolution reads (TORCH_EXTENSION_NAME per folder) is in the part's key."""
    from infernav.analyzer import sources

    ref, src = mini
    build(ref, src, jobs=1)
    pins = tmp_path / "pins.toml"
    pins.write_text(pins.read_text().replace('"" = "_C"', '"" = "_D"'))
    ref = sources.parse_ref("mini")
    f = src / "app" / "ops.py"
    f.write_text(f.read_text() + "\n\ndef probe():\n    return 1\n")
    report, d = _incremental_then_cold(ref, src)
    assert report.reused == []
    assert any(row[1] == "torch.ops._D.add_norm" for row in d["symbols"])


def _miscount(conn) -> None:
    saved = json.loads(conn.execute("SELECT value FROM meta WHERE key='cpp_part'").fetchone()[0])
    conn.execute("UPDATE meta SET value=? WHERE key='cpp_part'", (json.dumps({**saved, "edges": saved["edges"] + 1}),))


def _drop(conn) -> None:
    conn.execute("DELETE FROM meta WHERE key='cpp_part'")


@pytest.mark.parametrize("tamper", [_miscount, _drop], ids=["counts-disagree-with-rows", "no-stored-part"])
def test_a_stored_part_that_cannot_be_trusted_is_not_reused(mini, tamper):
    """A meta whose counts disagree with the rows (an older or damaged index), or an index written
    before the part was stored (no `cpp_part` meta): the C++ part is resolved afresh."""
    ref, src = mini
    build(ref, src, jobs=1)
    conn = sqlite3.connect(index_path(ref))
    tamper(conn)
    conn.commit()
    conn.close()
    f = src / "app" / "ops.py"
    f.write_text(f.read_text() + "\n\ndef probe():\n    return 1\n")
    assert _incremental_then_cold(ref, src)[0].reused == []


def test_python_never_adds_to_the_cpp_part(mini):
    """What reuse rests on: every edge and override pair leaving a C++ part symbol is the C++
    resolver's (made before Python's calls are resolved), and none reaches a Python symbol."""
    ref, src = mini
    build(ref, src, jobs=1)
    conn = store.connect(index_path(ref))
    files = store.all_facts(conn)
    conn.close()
    g = resolve(files, ref.settings)
    n = len(g.cpp.symbols)
    assert n and g.cpp.edges and g.cpp.torch_ops and g.cpp.pybind
    assert {e for e in g.edges if e[0] < n} == g.cpp.edges
    assert {o for o in g.overrides if o[0] < n} == g.cpp.overrides
    assert all(e[1] < n for e in g.cpp.edges)
    assert all(s.lang != "py" for s in g.symbols[:n])
    again = resolve([f for f in files if resolver_of(f["lang"]) == "python"], ref.settings, cpp=g.cpp)
    assert (again.symbols, again.edges, again.overrides, again.aliases, again.unresolved_sites) == \
        (g.symbols, g.edges, g.overrides, g.aliases, g.unresolved_sites)
    assert (again.resolved_calls, again.unresolved) == (g.resolved_calls, g.unresolved)
