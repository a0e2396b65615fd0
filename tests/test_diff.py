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


def test_pairs_classified_in_a_forked_child_give_the_same_diff(toy, monkeypatch):
    """The whole-engine path (pairs classified in a second process while moves are found here)
    answers exactly what the one-process path answers."""
    from infernav.analyzer.diff import parallel, release_diff

    serial = release_diff(*toy).as_json(None)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_PAIRS", 0)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    forked = release_diff(*toy).as_json(None)
    serial.pop("seconds", None), forked.pop("seconds", None)
    assert forked == serial
    assert serial["totals"]["changed"] > 0 and serial["totals"]["moved"] > 0


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
    import html

    hrefs = html.unescape(text)      # attribute values are character-escaped (site/html.py esc)
    assert 'href="https://example.invalid/toy/1/app/cache.py#L45"' in hrefs    # both versions linked
    assert 'href="https://example.invalid/toy/2/app/cache.py#L55"' in hrefs
    # banner's new default value is upstream text: escaped, never markup.
    assert "<script" not in text and "&lt;script&gt;alert" in text


# ------------------------------------------------------------------------------ vLLM 0.14.1 -> 0.33.0
# Every entry below was checked by reading both sdists (docs/dev/NOTES.md, "Release diff").
@pytest.fixture(scope="session")
def vllm_new_index():
    """vLLM 0.33.0 (its sdist from PyPI, sha256-pinned in pins.toml), indexed."""
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    for var in ("INFERNAV_PINS", "INFERNAV_NOTES"):
        os.environ.pop(var, None)
    ref = sources.parse_ref("vllm@0.33.0")
    root = sources.locate(ref)
    if root is None:
        try:
            root = sources.fetch(ref)
        except sources.SourceError as exc:
            pytest.skip(f"vllm@0.33.0 could not be fetched, so the release-diff facts cannot run: {exc}")
    build(ref, root)
    idx = Index(index_path(ref))
    yield idx
    idx.close()


@pytest.fixture(scope="session")
def vllm_core(vllm_index, vllm_new_index):
    from infernav.analyzer.diff import release_diff

    for var in ("INFERNAV_PINS", "INFERNAV_NOTES"):
        os.environ.pop(var, None)
    return release_diff(vllm_index, vllm_new_index, under="vllm/v1/core")


CORE = "vllm.v1.core."


def _by_old(d) -> dict:
    return {c.old.name: c for c in d.changes if c.old is not None}


@pytest.mark.vllm
def test_vllm_core_changed_line_counts(vllm_core):
    """touch gains a null-block skip (0.33.0 block_pool.py:802-803), popleft reads the list head
    once (kv_cache_utils.py:316-318), get_new_blocks notifies reuse watchers (block_pool.py:723-724),
    get_request_counts counts kv_holding_waiting (scheduler.py:2922), make_empty drops
    num_common_prefix_blocks (0.14.1 output.py:250)."""
    old = _by_old(vllm_core)
    got = {n: (old[CORE + n].status, old[CORE + n].added, old[CORE + n].removed) for n in (
        "block_pool.BlockPool.touch", "kv_cache_utils.FreeKVCacheBlockQueue.popleft",
        "block_pool.BlockPool.get_new_blocks", "sched.scheduler.Scheduler.get_request_counts",
        "sched.output.SchedulerOutput.make_empty")}
    assert got == {
        "block_pool.BlockPool.touch": ("changed", 3, 1),
        "kv_cache_utils.FreeKVCacheBlockQueue.popleft": ("changed", 7, 8),
        "block_pool.BlockPool.get_new_blocks": ("changed", 2, 0),
        "sched.scheduler.Scheduler.get_request_counts": ("changed", 1, 1),
        "sched.output.SchedulerOutput.make_empty": ("changed", 0, 1),
    }


@pytest.mark.vllm
def test_vllm_core_signature_changes(vllm_core):
    """0.14.1 -> 0.33.0: get_block_ids gains `*, group_ids` (kv_cache_manager.py:54 -> :66),
    SingleTypeKVCacheManager.__init__ `scheduler_block_size` (single_type_kv_cache_manager.py:30 -> :69),
    finish_requests returns list[Request] (scheduler.py:1452 -> :2964), get_kv_connector's return
    annotation (interface.py:204 -> :269), make_stats `ec_connector_stats` (scheduler.py:1580 -> :3259)."""
    old = _by_old(vllm_core)
    sig = {n: (old[CORE + n].sig_before, old[CORE + n].sig_after) for n in (
        "single_type_kv_cache_manager.SingleTypeKVCacheManager.__init__", "sched.scheduler.Scheduler.finish_requests",
        "sched.interface.SchedulerInterface.get_kv_connector", "sched.scheduler.Scheduler.make_stats")}
    assert "scheduler_block_size: int" in sig["single_type_kv_cache_manager.SingleTypeKVCacheManager.__init__"][1]
    assert sig["sched.scheduler.Scheduler.finish_requests"][1].endswith("-> list[Request]")
    assert sig["sched.interface.SchedulerInterface.get_kv_connector"] == (
        'def get_kv_connector(self) -> Optional["KVConnectorBase_V1"]', 'def get_kv_connector(self) -> "KVConnectorBase_V1 | None"')
    assert "ec_connector_stats" in sig["sched.scheduler.Scheduler.make_stats"][1]
    overloads = [c for c in vllm_core.changes if c.name == CORE + "kv_cache_manager.KVCacheBlocks.get_block_ids"]
    assert len(overloads) == 3 and all("group_ids" in c.sig_after and "group_ids" not in c.sig_before for c in overloads)


@pytest.mark.vllm
def test_vllm_core_moved_and_renamed(vllm_core):
    """kv_cache_utils.py's planning functions moved to kv_cache_planning.py with only their
    docstrings re-wrapped (0.14.1 kv_cache_utils.py:646, :847, :944, :655, :737 -> 0.33.0
    kv_cache_planning.py:90, :307, :411, :97, :187); allocate_new_computed_blocks became
    add_local_computed_blocks (single_type_kv_cache_manager.py:840 -> :2141, :130 -> :268)."""
    old = _by_old(vllm_core)
    for name, line in (("max_memory_usage_bytes", 90), ("get_uniform_page_size", 307),
                       ("is_kv_cache_type_attention_free", 411), ("estimate_max_model_len", 97),
                       ("create_kv_cache_group_specs", 187)):
        c = old[CORE + "kv_cache_utils." + name]
        assert (c.status, c.new.name, c.new.line) == ("moved", CORE + "kv_cache_planning." + name, line)
        assert (c.added, c.removed, c.similarity) == (0, 0, 1.0)
    for cls, line in (("CrossAttentionManager", 2141), ("SingleTypeKVCacheManager", 268)):
        c = old[f"{CORE}single_type_kv_cache_manager.{cls}.allocate_new_computed_blocks"]
        assert (c.status, c.new.short, c.new.line) == ("renamed", "add_local_computed_blocks", line)


@pytest.mark.vllm
def test_vllm_renames_elsewhere(vllm_index, vllm_new_index):
    """Typo fixes: triton_fp4_gemm_dynamic_qaunt (_aiter_ops.py:1340 -> :3920) and
    is_base_embeddding_weights (lora/utils.py:179 -> :236), bodies otherwise identical."""
    from infernav.analyzer.diff import release_diff

    for under, old, new in (("vllm/_aiter_ops.py", "vllm._aiter_ops.rocm_aiter_ops.triton_fp4_gemm_dynamic_qaunt",
                             "vllm._aiter_ops.rocm_aiter_ops.triton_fp4_gemm_dynamic_quant"),
                            ("vllm/lora", "vllm.lora.utils.is_base_embeddding_weights",
                             "vllm.lora.utils.is_base_embedding_weights")):
        c = _by_old(release_diff(vllm_index, vllm_new_index, under=under))[old]
        assert (c.status, c.new.name, c.added, c.removed) == ("renamed", new, 1, 1)


@pytest.mark.vllm
def test_vllm_core_added_and_removed(vllm_core):
    """Removed: no definition or reference left anywhere in 0.33.0's vllm/. Added: no mention in
    0.14.1's vllm/ (kv_cache_utils.py:1233, :804, block_pool.py:666, :742, kv_cache_manager.py:251)."""
    status = {(c.old or c.new).name: c.status for c in vllm_core.changes}
    for name in ("kv_cache_utils.need_extra_keys", "encoder_cache_manager.compute_encoder_budget",
                 "encoder_cache_manager.compute_text_encoder_budget",
                 "sched.scheduler.Scheduler._make_connector_prefix_cache_stats",
                 "kv_cache_coordinator.KVCacheCoordinator.get_num_common_prefix_blocks"):
        assert status[CORE + name] == "removed", name
    for name in ("kv_cache_utils.resolve_block_hashes", "kv_cache_utils.eagle_proof_margin",
                 "block_pool.BlockPool._insert_block_hash", "block_pool.BlockPool._notify_reuse",
                 "kv_cache_manager.KVCacheManager.prefix_cache_lookup_enabled"):
        assert status[CORE + name] == "added", name


@pytest.mark.vllm
def test_vllm_core_call_edges(vllm_core):
    """Added (0.33.0 scheduler.py:3287, :3150, :3164, :2944, kv_cache_manager.py:502), none of them
    in 0.14.1's bodies; removed: the kv_events built inline in 0.14.1 block_pool.py:364-365, :282
    and the BlockHashListWithBlockSize at :248."""
    S, ev = CORE + "sched.scheduler.Scheduler.", {(e.status, e.caller, e.callee): e for e in vllm_core.edges}
    for caller, callee, line in ((S + "make_stats", S + "get_request_counts", 3287),
                                 (S + "get_num_unfinished_requests", S + "get_request_counts", 3150),
                                 (S + "has_finished_requests", S + "get_request_counts", 3164),
                                 (S + "add_request", S + "finish_requests", 2944),
                                 (CORE + "kv_cache_manager.KVCacheManager.allocate_slots", "vllm.utils.math_utils.cdiv", 502)):
        assert ev[("added", caller, callee)].line == line
    BP = CORE + "block_pool.BlockPool."
    for caller, callee, line in ((BP + "_maybe_evict_cached_block", "vllm.distributed.kv_events.BlockRemoved", 364),
                                 (BP + "_maybe_evict_cached_block", CORE + "kv_cache_utils.get_block_hash", 365),
                                 (BP + "_maybe_evict_cached_block", CORE + "kv_cache_utils.maybe_convert_block_hash", 365),
                                 (BP + "cache_full_blocks", "vllm.distributed.kv_events.BlockStored", 282),
                                 (BP + "cache_full_blocks", CORE + "kv_cache_utils.BlockHashListWithBlockSize.__init__", 248)):
        assert ev[("removed", caller, callee)].line == line


@pytest.mark.vllm
def test_vllm_docstring_rewraps_are_no_change(vllm_core):
    """get_one_block, pop (block_pool.py:60 -> :63, :91 -> :102) and KVCacheCoordinator.free
    (kv_cache_coordinator.py:181 -> :404) differ only by docstrings re-wrapped onto one line."""
    names = {n for c in vllm_core.changes for n in (c.old and c.old.name, c.new and c.new.name)}
    for name in ("block_pool.BlockHashToBlockMap.get_one_block", "block_pool.BlockHashToBlockMap.pop",
                 "kv_cache_coordinator.KVCacheCoordinator.free"):
        assert CORE + name not in names


@pytest.mark.vllm
def test_vllm_mechanism_summary(vllm_core):
    """The prefix-cache notes anchor cache_full_blocks and _maybe_evict_cached_block; in 0.33.0
    eviction emits its events through _emit_block_removed_events (block_pool.py:789)."""
    prefix = {m.mechanism: m for m in vllm_core.mechanisms}["prefix-cache"]
    assert prefix.line().startswith("prefix-cache: ") and prefix.counts()["changed"] >= 2
    assert {CORE + "block_pool.BlockPool.cache_full_blocks", CORE + "block_pool.BlockPool._maybe_evict_cached_block"} \
        <= {c.name for c in prefix.changes if c.status == "changed"}
    assert ("added", CORE + "block_pool.BlockPool._maybe_evict_cached_block",
            CORE + "block_pool.BlockPool._emit_block_removed_events") in {(e.status, e.caller, e.callee) for e in prefix.edges}
