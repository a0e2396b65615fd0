"""`infernav diff` on a two-version fixture written for it (tests/fixtures/diff/v1, v2: Python and
C++), one test per kind of change, plus the CLI's shapes and the site's release page; then facts
of vLLM 0.14.1 -> 0.33.0 verified by reading both sdists (file:line in each docstring)."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from infernav.analyzer.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "diff"
TOY_PINS = """
[toy]
source = "git"
url = "file:///nonexistent/toy.git"
default = "1"
roots = ["app", "csrc"]
permalink = "https://example.invalid/toy/{version}/{path}#L{line}"

[other]
source = "git"
url = "file:///nonexistent/other.git"
default = "1"
roots = ["src"]
"""
NOTE = """---
title: Toy block cache
framework: toy
version: "1"
mechanism: prefix-cache
anchors:
  - app.cache.BlockCache.lookup
  - app.cache.BlockCache.insert
  - app.cache.compute_total
---
Lookups go through [[app.cache.BlockCache.lookup]].
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """Both fixture versions fetched (linked) and indexed in a private INFERNAV_HOME."""
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    pins = tmp_path / "pins.toml"
    pins.write_text(TOY_PINS)
    notes = tmp_path / "notes"
    (notes / "toy").mkdir(parents=True)
    (notes / "toy" / "cache.md").write_text(NOTE)
    monkeypatch.setenv("INFERNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFERNAV_PINS", str(pins))
    monkeypatch.setenv("INFERNAV_NOTES", str(notes))
    indexes = []
    for version in ("1", "2"):
        ref = sources.parse_ref(f"toy@{version}")
        root = sources.fetch(ref, path=str(FIXTURE / f"v{version}"))
        build(ref, root, jobs=1)
        indexes.append(Index(index_path(ref)))
    yield indexes
    for idx in indexes:
        idx.close()


@pytest.fixture
def toy_diff(toy):
    from infernav.analyzer.diff import release_diff

    return release_diff(*toy)


def statuses(d) -> dict[str, str]:
    """{old name or new name: status} of every symbol change."""
    out = {}
    for c in d.changes:
        out[c.old.name if c.old is not None else c.new.name] = c.status
    return out


def change(d, name: str):
    (c,) = [c for c in d.changes if name in {c.old and c.old.name, c.new and c.new.name}]
    return c


# ------------------------------------------------------------------------------ each kind
def test_added_and_removed(toy_diff):
    s = statuses(toy_diff)
    assert {n for n, st in s.items() if st == "added"} == {
        "app.cache.record_hit", "app.util.new_helper", "app.report", "toy::log_alloc"}
    assert {n for n, st in s.items() if st == "removed"} == {"app.cache.legacy_stats", "toy::legacy_flags"}


def test_moved_same_body_other_place(toy_diff):
    """Python: format_report moved to app/report.py, so its canonical name changed; C++: dot3 moved
    from math.cpp to linalg.cpp under the same name."""
    py = change(toy_diff, "app.cache.format_report")
    assert (py.status, py.new.name, py.new.path) == ("moved", "app.report.format_report", "app/report.py")
    assert (py.added, py.removed) == (0, 0)
    cpp = change(toy_diff, "toy::dot3")
    assert (cpp.status, cpp.old.path, cpp.new.path) == ("moved", "csrc/math.cpp", "csrc/linalg.cpp")


def test_renamed_similar_body_once_names_are_blanked(toy_diff):
    py = change(toy_diff, "app.cache.compute_total")
    assert (py.status, py.new.name) == ("renamed", "app.cache.sum_hits")
    assert py.similarity == pytest.approx(1.0)
    assert (py.added, py.removed) == (1, 1)       # the def line
    cpp = change(toy_diff, "toy::old_reserve")
    assert (cpp.status, cpp.new.name) == ("renamed", "toy::reserve_pair")
    # A rename is not a signature change: the signatures differ only by the name.
    assert not py.signature_changed and not cpp.signature_changed


def test_changed_with_line_counts(toy_diff):
    s = statuses(toy_diff)
    assert {n for n, st in s.items() if st == "changed"} == {
        "app.cache.BlockCache.lookup", "app.cache.BlockCache.insert", "app.cache.BlockCache.stats",
        "app.cache.guard", "toy::Pool::allocate", "toy::Pool", "toy::scale", "app.util.banner"}
    lookup = change(toy_diff, "app.cache.BlockCache.lookup")
    assert (lookup.added, lookup.removed) == (1, 1)
    insert = change(toy_diff, "app.cache.BlockCache.insert")
    assert (insert.added, insert.removed) == (3, 2)   # def, `if not pin:`, the re-indented call
    allocate = change(toy_diff, "toy::Pool::allocate")
    assert (allocate.added, allocate.removed) == (4, 3)


def test_indentation_that_changes_meaning_is_a_change(toy_diff):
    """guard's `return key` moved into the if block: same characters, other meaning."""
    g = change(toy_diff, "app.cache.guard")
    assert g.status == "changed" and (g.added, g.removed) == (1, 1)


def test_signature_change_before_after(toy_diff):
    insert = change(toy_diff, "app.cache.BlockCache.insert")
    assert (insert.sig_before, insert.sig_after) == ("def insert(self, key, block)",
                                                     "def insert(self, key, block, pin=False)")
    allocate = change(toy_diff, "toy::Pool::allocate")
    assert allocate.sig_before == "int Pool::allocate(int n)"
    assert allocate.sig_after == "int Pool::allocate(int n, bool pinned)"
    assert toy_diff.totals["signature_changed"] == 3      # and banner's default value


def test_pure_reformatting_and_comments_are_no_change(toy_diff):
    """touch (comments, blank line), evict_if_full (a call wrapped over lines), hash_key (a blank
    line inside its docstring), BlockCache.evict (its docstring re-wrapped onto one line),
    clamp_size (braces, line breaks, comments), Pool::release (a comment) are all unchanged."""
    names = {n for c in toy_diff.changes for n in (c.old and c.old.name, c.new and c.new.name)}
    for quiet in ("app.cache.touch", "app.cache.evict_if_full", "app.util.hash_key", "app.util",
                  "app.cache.BlockCache.evict",
                  "toy::clamp_size", "toy::Pool::release", "app.cache.BlockCache.__init__"):
        assert quiet not in names, quiet
    assert toy_diff.totals["reformatted"] >= 6


def test_containers_change_on_their_own_lines_only(toy_diff):
    """BlockCache's methods changed but its own lines did not; Pool's declaration of allocate did."""
    names = {c.name for c in toy_diff.changes}
    assert "app.cache.BlockCache" not in names
    pool = change(toy_diff, "toy::Pool")
    assert (pool.added, pool.removed) == (1, 1)


def test_overloads_pair_by_body_then_signature(toy_diff):
    (scale,) = [c for c in toy_diff.changes if c.name == "toy::scale"]
    assert "int k" in scale.new.sig and (scale.added, scale.removed) == (1, 0)


def test_call_edges_added_and_removed_by_names(toy_diff):
    got = {(e.status, e.caller, e.callee) for e in toy_diff.edges}
    assert got == {
        ("added", "app.cache.BlockCache.lookup", "app.cache.record_hit"),
        ("removed", "app.cache.BlockCache.lookup", "app.cache.touch"),
        ("added", "toy::Pool::allocate", "toy::log_alloc"),
        ("removed", "toy::Pool::allocate", "toy::clamp_size"),
    }
    # stats -> compute_total became stats -> sum_hits: the rename maps it, no edge change.
    # legacy_stats' edge goes with it (counted, not listed).
    assert toy_diff.totals["edges_of_removed_symbols"] == 1
    assert all(e.resolution and e.line > 0 for e in toy_diff.edges)


def test_under_restricts_to_a_folder(toy):
    from infernav.analyzer.diff import release_diff

    d = release_diff(*toy, under="csrc/")
    assert d.under == "csrc" and d.changes
    assert all((c.new or c.old).path.startswith("csrc/") for c in d.changes)
    assert all(e.path.startswith("csrc/") for e in d.edges)


def test_mechanism_view_summarizes_the_notes_scope(toy):
    from infernav.analyzer.diff import release_diff

    d = release_diff(*toy)
    (m,) = d.mechanisms
    counts = m.counts()
    assert m.mechanism == "prefix-cache" and m.anchors == 3
    assert (counts["changed"], counts["renamed"], counts["edges_added"], counts["edges_removed"]) == (2, 1, 1, 1)
    assert "record_hit" in m.line()
    only = release_diff(*toy, mechanism="prefix-cache")
    assert {c.name for c in only.changes} <= {c.name for c in m.changes}
    assert "toy::Pool::allocate" not in {c.name for c in only.changes}


def test_same_version_is_empty(toy):
    from infernav.analyzer.diff import release_diff

    d = release_diff(toy[0], toy[0])
    assert d.changes == [] and d.edges == [] and d.totals["unchanged"] > 10


# ------------------------------------------------------------------------------ CLI
def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_json_shape_and_exit_codes(toy):
    r = run("diff", "toy@1", "toy@2", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["from"], data["to"]) == ("toy@1", "toy@2")
    assert set(data) == {"from", "to", "under", "mechanism", "totals", "mechanisms", "groups"}
    assert [g["group"] for g in data["groups"]] == ["app", "csrc"]
    entry = next(s for g in data["groups"] for s in g["symbols"] if s["name"] == "app.cache.BlockCache.insert")
    assert entry["signature"] == {"before": "def insert(self, key, block)", "after": "def insert(self, key, block, pin=False)"}
    assert entry["lines"] == {"added": 3, "removed": 2} and entry["old"]["path"] == "app/cache.py"
    edge = next(e for g in data["groups"] for e in g["edges"] if e["callee"] == "toy::log_alloc")
    assert edge == {"status": "added", "caller": "toy::Pool::allocate", "callee": "toy::log_alloc",
                    "resolution": edge["resolution"], "via": "call", "path": "csrc/pool.cpp", "line": 40}
    assert run("diff", "toy@1", "toy@1").exit_code == 1           # nothing changed: an empty answer


def test_cli_human_output(toy):
    r = run("diff", "toy@1", "toy@2", "--under", "app")
    assert r.exit_code == 0, r.output
    assert "toy@1 → toy@2 under app" in r.output
    assert "renamed  cache.compute_total → cache.sum_hits" in r.output
    assert "before def insert(self, key, block)" in r.output
    assert "+ call  BlockCache.lookup → cache.record_hit" in r.output
    assert "prefix-cache:" in r.output


def test_cli_usage_errors(toy):
    r = run("diff", "toy@1", "other@1")
    assert r.exit_code == 2 and "one engine" in r.output
    r = run("diff", "toy@1", "toy@2", "--mechanism", "nope", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["error"] == "usage"


def test_source_absent_is_one_line(toy, tmp_path):
    from infernav.analyzer.diff import release_diff

    a, b = toy
    b.meta["root"] = str(tmp_path / "gone")
    with pytest.raises(LookupError, match="not present"):
        release_diff(a, b)


# ------------------------------------------------------------------------------ site page
def test_site_release_page(toy):
    from infernav.analyzer.site.diffs import release_pages

    from infernav.analyzer.site.html import esc

    pages = release_pages({"toy": toy}, lambda fw, name, page: f"<code>{esc(name)}</code>")
    assert set(pages) == {"releases/toy-1-2.md", "releases/index.md"}
    assert "(toy-1-2/)" in pages["releases/index.md"]
    text = pages["releases/toy-1-2.md"]
    assert "toy 1 → 2" in text
    assert text.index("Prefix caching") < text.index("## app")      # the mechanism summary on top
    assert "https://example.invalid/toy/1/app/cache.py#L45" in text    # both versions linked
    assert "https://example.invalid/toy/2/app/cache.py#L55" in text
    # banner's new default value is upstream text: escaped, never markup.
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
