"""Facts about SGLang 0.5.10.post1 verified by reading its source (file:line in each comment, paths
under the sdist's sglang/), checked against the real index. The pinned sdist is fetched
(sha256-checked) when missing; where it cannot be fetched every test here skips with the reason.
"""
from __future__ import annotations

import os

import pytest
from helpers import callees, callers, ids
from infernav.analyzer.query import SymbolNotFound

R = "sglang.srt.mem_cache.radix_cache."
RC = R + "RadixCache."
P = "sglang.srt.managers.schedule_policy.SchedulePolicy."
BPC = "sglang.srt.mem_cache.base_prefix_cache."


@pytest.fixture(scope="module")
def sglang_index():
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    os.environ.pop("INFERNAV_PINS", None)
    ref = sources.parse_ref("sglang")
    try:
        root = sources.locate(ref) or sources.fetch(ref)
    except Exception as exc:  # no network to PyPI, a full disk: say which
        pytest.skip(f"the pinned SGLang sdist cannot be fetched: {str(exc).splitlines()[0]}")
    build(ref, root)
    idx = Index(index_path(ref))
    yield idx
    idx.close()


def test_module_names_cross_namespace_folders(sglang_index):
    """sglang/__init__.py exists, sglang/srt/ and sglang/srt/mem_cache/ have no __init__.py: the
    import path is still `sglang.srt.mem_cache.radix_cache` (what radix_cache.py:43 imports)."""
    # a suffix finds the one symbol, under its full import path
    assert [r.name for r in sglang_index.lookup("radix_cache.RadixCache.match_prefix")] == [RC + "match_prefix"]


@pytest.mark.parametrize("caller,callee,label", [
    (RC + "insert", RC + "_insert_helper", "exact"),                  # radix_cache.py:460
    (RC + "match_prefix", RC + "_match_prefix_helper", "exact"),      # radix_cache.py:435
    (RC + "_match_prefix_helper", RC + "_split_node", "exact"),       # radix_cache.py:679
    (RC + "evict", RC + "_delete_leaf", "exact"),                     # radix_cache.py:600
    (RC + "_delete_leaf", RC + "_update_leaf_status", "exact"),       # radix_cache.py:803
    (RC + "cache_unfinished_req", RC + "insert", "exact"),            # radix_cache.py:527
    (RC + "cache_unfinished_req", RC + "dec_lock_ref", "exact"),      # radix_cache.py:560
    (RC + "cache_unfinished_req", RC + "inc_lock_ref", "exact"),      # radix_cache.py:561
    (RC + "cache_finished_req", RC + "dec_lock_ref", "exact"),        # radix_cache.py:508
    # the heap of evict: self.eviction_strategy annotated EvictionStrategy (radix_cache.py:314, :590)
    (RC + "evict", "sglang.srt.mem_cache.evict_policy.EvictionStrategy.get_priority", "type"),
    (RC + "evict", "sglang.srt.mem_cache.evict_policy.LRUStrategy.get_priority", "dispatch"),
    (P + "calc_priority", P + "_compute_prefix_matches", "exact"),    # schedule_policy.py:132
    (P + "calc_priority", P + "_sort_by_longest_prefix", "exact"),    # schedule_policy.py:136
    (P + "calc_priority", P + "_sort_by_dfs_weight", "exact"),        # schedule_policy.py:140
    (P + "calc_priority", P + "_sort_by_priority_and_fcfs", "exact"),  # schedule_policy.py:122
    # self.waiting_queue_radix_tree = RadixCache.create_simulated() (schedule_policy.py:115);
    # .reset() at :193, .insert(...) at :237
    (P + "_compute_prefix_matches", RC + "reset", "type"),
    (P + "_compute_prefix_matches", RC + "insert", "type"),
    (P + "_compute_prefix_matches", BPC + "MatchPrefixParams", "exact"),  # schedule_policy.py:200
])
def test_radix_cache_and_policy_edges(sglang_index, caller, callee, label):
    assert label in callees(sglang_index, caller).get(callee, set()), callees(sglang_index, caller)


def test_split_node_callers(sglang_index):
    """_split_node is called by _match_prefix_helper (radix_cache.py:679) and _insert_helper (:753)."""
    got = callers(sglang_index, RC + "_split_node")
    assert {RC + "_match_prefix_helper", RC + "_insert_helper"} <= set(got)


def test_op_namespace_comes_from_the_engine_entry(sglang_index):
    """direct_register_custom_op(op_name="fused_moe_lora", ...) at lora/triton_ops/
    fused_moe_lora_kernel.py:672 registers into sglang_lib = Library("sglang", "FRAGMENT")
    (utils/common.py:1940); pins.toml's python_op_namespace = "sglang" names it torch.ops.sglang."""
    assert ids(sglang_index, "torch.ops.sglang.fused_moe_lora")
    with pytest.raises(SymbolNotFound):
        ids(sglang_index, "torch.ops.vllm.fused_moe_lora")
    # fused_moe_lora_kernel.py:694 binds fused_moe_lora = torch.ops.sglang.fused_moe_lora; the
    # runner imports that name (lora_moe_runners.py:518) and calls it at :539
    got = callers(sglang_index, "torch.ops.sglang.fused_moe_lora")
    assert "sglang.srt.lora.lora_moe_runners.TritonRunnerCoreWithLoRA._add_lora_gate_up_delta" in got


def test_a_package_below_namespace_folders_of_a_package_keeps_its_import_path():
    """SGLang's layout without the sdist: a regular package, namespace folders (no __init__.py)
    inside it, a regular package below those. Python imports `pkg.ns.sub.mod`; a package chain
    with no package above it still makes its own root (`other/lib/x.py` is `lib.x`)."""
    from infernav.analyzer.sources.walk import module_names

    got = module_names(["pkg/__init__.py", "pkg/ns/mid.py", "pkg/ns/sub/__init__.py", "pkg/ns/sub/mod.py",
                        "other/lib/__init__.py", "other/lib/x.py"])
    assert got["pkg/ns/mid.py"] == ("pkg.ns.mid", False)
    assert got["pkg/ns/sub/__init__.py"] == ("pkg.ns.sub", True)
    assert got["pkg/ns/sub/mod.py"] == ("pkg.ns.sub.mod", False)
    assert got["other/lib/x.py"] == ("lib.x", False)


def test_decorator_registered_ops_link_to_their_function(sglang_index):
    """`@register_custom_op(fake_impl=_sglang_fp4_gemm_fake)` over `def fp4_gemm(` at
    layers/quantization/modelopt_quant.py:132-133 registers torch.ops.sglang.fp4_gemm (op name =
    the function's, custom_op.py's default); pins.toml names register_custom_op a registrar."""
    op = "torch.ops.sglang.fp4_gemm"
    fn = "sglang.srt.layers.quantization.modelopt_quant.fp4_gemm"
    assert callees(sglang_index, op) == {fn: {"exact"}}
    # ModelOptFp4LinearMethod.apply calls fp4_gemm(...) at modelopt_quant.py:1502
    assert "sglang.srt.layers.quantization.modelopt_quant.ModelOptFp4LinearMethod.apply" in callers(sglang_index, fn)


def test_decorator_registrar_names_the_op_from_op_name_or_the_function():
    from infernav.analyzer.parse import python as py

    src = (b"@register_custom_op(mutates_args=['x'])\ndef plain(x): pass\n\n"
           b"@ops.register_custom_op(op_name='renamed')\ndef inner(x): pass\n\n@other\ndef no(x): pass\n")
    facts = py.extract(src, "m.py", {"module": "m", "is_package": False, "python_op_registrars": ["register_custom_op"]})
    assert sorted((r[2], r[3]) for r in facts["regs"]) == [("plain", "plain"), ("renamed", "inner")]
