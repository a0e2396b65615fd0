"""Facts about vLLM 0.14.1 that we verified by reading its source (file:line in each docstring),
checked against the real index. CI downloads the pinned sdist (sha256-checked) to run these.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import callees, callers, ids

pytestmark = pytest.mark.vllm

E = "vllm.v1.engine.core.EngineCore."
S = "vllm.v1.core.sched.scheduler.Scheduler."
KM = "vllm.v1.core.kv_cache_manager.KVCacheManager."
C = "vllm.v1.core.kv_cache_coordinator."
ST = "vllm.v1.core.single_type_kv_cache_manager."
BP = "vllm.v1.core.block_pool.BlockPool."


def test_update_from_output_callers_through_scheduler_interface(vllm_index):
    """core.py:139 annotates `self.scheduler: SchedulerInterface`; step (:395) and
    step_with_batch_queue (:497) call update_from_output through it; Scheduler implements it."""
    got = callers(vllm_index, S + "update_from_output")
    assert got == {E + "step": {"dispatch"}, E + "step_with_batch_queue": {"dispatch"}}
    # Same-named methods of unrelated classes are not confused with it.
    assert E + "step" not in callers(vllm_index, "vllm.v1.metrics.stats.IterationStats.update_from_output")


def test_iteration_stats_update_from_output_caller(vllm_index):
    """output_processor.py:683, receiver typed by the `iteration_stats: IterationStats | None` param."""
    got = callers(vllm_index, "vllm.v1.metrics.stats.IterationStats.update_from_output")
    assert got["vllm.v1.engine.output_processor.OutputProcessor._update_stats_from_output"] == {"type"}


def test_schedule_callers(vllm_index):
    """core.py:381 and :438 call self.scheduler.schedule()."""
    assert set(callers(vllm_index, S + "schedule")) == {E + "step", E + "step_with_batch_queue"}


@pytest.mark.parametrize("caller,callee", [
    (S + "schedule", KM + "allocate_slots"),                                  # scheduler.py:354
    (S + "__init__", KM + "__init__"),                                        # scheduler.py:213
    (S + "update_from_output", S + "_update_request_with_output"),            # scheduler.py:1182
    (S + "update_from_output", S + "_free_request"),                          # scheduler.py:1214
    (S + "_free_request", S + "_free_blocks"),                                # scheduler.py:1505
    (S + "_free_blocks", KM + "free"),                                        # scheduler.py:1511
    (KM + "allocate_slots", C + "KVCacheCoordinator.allocate_new_blocks"),    # kv_cache_manager.py:351
    (KM + "allocate_slots", BP + "get_num_free_blocks"),                      # kv_cache_manager.py:334
    (KM + "free", C + "KVCacheCoordinator.free"),                             # kv_cache_manager.py:381
    (C + "KVCacheCoordinator.__init__", BP + "__init__"),                     # kv_cache_coordinator.py:49
    (C + "KVCacheCoordinator.__init__", ST + "get_manager_for_kv_cache_spec"),  # :60
    (C + "get_kv_cache_coordinator", C + "UnitaryKVCacheCoordinator.__init__"),  # :539
    (C + "UnitaryKVCacheCoordinator.__init__", C + "KVCacheCoordinator.__init__"),  # super() :306
    (C + "KVCacheCoordinator.allocate_new_blocks", ST + "SingleTypeKVCacheManager.allocate_new_blocks"),
    (ST + "SingleTypeKVCacheManager.allocate_new_blocks", BP + "get_new_blocks"),  # :222
    (ST + "SingleTypeKVCacheManager.free", BP + "free_blocks"),               # :266
    (ST + "MambaManager.allocate_new_blocks", ST + "SingleTypeKVCacheManager.allocate_new_blocks"),
    ("vllm.v1.core.sched.async_scheduler.AsyncScheduler._update_after_schedule", S + "_update_after_schedule"),
    ("vllm.v1.engine.core.DPEngineCoreProc.add_request", E + "add_request"),  # super() core.py:1319
    (E + "step", E + "_process_aborts_queue"),                                # core.py:394
    (E + "_process_aborts_queue", E + "abort_requests"),                      # core.py:535
])
def test_callees(vllm_index, caller, callee):
    assert callee in callees(vllm_index, caller)


def test_step_reaches_block_pool(vllm_index):
    """step -> schedule -> allocate_slots -> coordinator -> single-type manager -> BlockPool."""
    chains = vllm_index.paths(ids(vllm_index, E + "step"), ids(vllm_index, BP + "get_new_blocks"), k=3)
    names = [[s.name for s in c] for c in chains]
    assert [E + "step", S + "schedule", KM + "allocate_slots", C + "KVCacheCoordinator.allocate_new_blocks",
            ST + "SingleTypeKVCacheManager.allocate_new_blocks", BP + "get_new_blocks"] in names
    # The shortest chain is that one; the next goes through MambaManager.allocate_new_blocks, which
    # calls the base's (single_type_kv_cache_manager.py:826): one hop longer. (Before guesses left the
    # default output, a name-only edge made a second 6-node chain.)
    assert len(names[0]) == 6 and all(len(c) >= 6 for c in names)


def test_overrides(vllm_index):
    up = vllm_index.overrides(ids(vllm_index, S + "update_from_output"))["overrides"]
    assert [r.name for r in up] == ["vllm.v1.core.sched.interface.SchedulerInterface.update_from_output"]
    down = vllm_index.overrides(ids(vllm_index, S + "_update_after_schedule"))["overridden_by"]
    assert [r.name for r in down] == ["vllm.v1.core.sched.async_scheduler.AsyncScheduler._update_after_schedule"]
    up = vllm_index.overrides(ids(vllm_index, "vllm.v1.engine.core.DPEngineCoreProc.run_busy_loop"))["overrides"]
    assert up[0].name == "vllm.v1.engine.core.EngineCoreProc.run_busy_loop"


def test_fused_add_rms_norm_python_to_kernel(vllm_index):
    """_custom_ops.py:337 torch.ops._C.fused_add_rms_norm -> torch_bindings.cpp:163 ops.impl(&fused_add_rms_norm)
    -> layernorm_kernels.cu:239 -> vllm::fused_add_rms_norm_kernel, launched only inside the
    LAUNCH_FUSED_ADD_RMS_NORM macro (#define :229, used :282/:284)."""
    chain = vllm_index.paths(ids(vllm_index, "vllm._custom_ops.fused_add_rms_norm"),
                             ids(vllm_index, "vllm::fused_add_rms_norm_kernel"))[0]
    assert [s.name for s in chain] == ["vllm._custom_ops.fused_add_rms_norm", "torch.ops._C.fused_add_rms_norm",
                                      "fused_add_rms_norm", "vllm::fused_add_rms_norm_kernel"]
    assert (chain[1].path, chain[2].path) == ("csrc/torch_bindings.cpp", "csrc/layernorm_kernels.cu")
    launches = {(h.line, h.via) for h in vllm_index.call_sites([chain[2].id], "callees")
                if h.symbol.name == "vllm::fused_add_rms_norm_kernel"}
    assert launches == {(282, "launch"), (284, "launch")}
    # The model layer reaches the same op through a function-local `from vllm import _custom_ops as ops`.
    assert "vllm._custom_ops.fused_add_rms_norm" in callees(
        vllm_index, "vllm.model_executor.layers.layernorm.fused_add_rms_norm")


def test_cpu_twin_registration_binds_cpu_function(vllm_index):
    """csrc/cpu/torch_bindings.cpp:173 registers the same op name for CPU with csrc/cpu/layernorm.cpp."""
    sites = vllm_index.call_sites(ids(vllm_index, "torch.ops._C.fused_add_rms_norm"), "callees")
    assert {(h.line, h.symbol.path) for h in sites} == {
        (163, "csrc/layernorm_kernels.cu"), (173, "csrc/cpu/layernorm.cpp")}


def test_paged_attention_v2_through_four_macros(vllm_index):
    """paged_attention_v2.cu: DISPATCH_BY_KV_CACHE_DTYPE(..., CALL_V2_LAUNCHER_BLOCK_SIZE) -> ... ->
    paged_attention_v2_launcher -> LAUNCH_PAGED_ATTENTION_V2 launching the kernel and its reduce kernel."""
    chain = vllm_index.paths(ids(vllm_index, "vllm._custom_ops.paged_attention_v2"),
                             ids(vllm_index, "vllm::paged_attention_v2_reduce_kernel"))[0]
    assert [s.name for s in chain] == ["vllm._custom_ops.paged_attention_v2", "torch.ops._C.paged_attention_v2",
                                      "paged_attention_v2", "paged_attention_v2_launcher",
                                      "vllm::paged_attention_v2_reduce_kernel"]
    assert "vllm::paged_attention_v2_kernel" in callees(vllm_index, "paged_attention_v2_launcher")
    assert callees(vllm_index, "vllm::paged_attention_v1_kernel")["vllm::paged_attention_kernel"] == {"exact"}


def test_reshape_and_cache_in_cache_ops_library(vllm_index):
    """TORCH_LIBRARY_EXPAND(CONCAT(TORCH_EXTENSION_NAME, _cache_ops), cache_ops) -> torch.ops._C_cache_ops."""
    got = callees(vllm_index, "vllm._custom_ops.reshape_and_cache")
    assert got == {"torch.ops._C_cache_ops.reshape_and_cache": {"exact"}}
    assert "vllm::reshape_and_cache_kernel" in callees(vllm_index, "reshape_and_cache")


def test_silu_and_mul_macro_launch(vllm_index):
    """activation_kernels.cu:127 silu_and_mul -> LAUNCH_ACTIVATION_GATE_KERNEL -> vllm::act_and_mul_kernel."""
    assert callees(vllm_index, "silu_and_mul")["vllm::act_and_mul_kernel"] == {"exact"}
    (op,) = vllm_index.lookup("torch.ops._C.silu_and_mul")
    assert op.kind == "torch_op" and op.path == "csrc/torch_bindings.cpp"


def test_cli_json_end_to_end(vllm_index):
    """The installed command, as a user runs it, in a separate process."""
    out = subprocess.run([sys.executable, "-m", "infernav.analyzer.cli", "callers",
                          "vllm.v1.core.sched.scheduler.Scheduler.update_from_output", "--json"],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert {r["name"] for r in data["results"]} == {E + "step", E + "step_with_batch_queue"}
    assert all(r["path"] == "vllm/v1/engine/core.py" for r in data["results"])


def test_op_registered_from_python(vllm_index):
    """vllm/attention/layer.py:788 direct_register_custom_op(op_name="unified_attention",
    op_func=unified_attention); Attention.forward calls torch.ops.vllm.unified_attention (:403)."""
    chain = vllm_index.paths(ids(vllm_index, "vllm.attention.layer.Attention.forward"),
                             ids(vllm_index, "vllm.attention.layer.unified_attention"))[0]
    assert [s.name for s in chain] == ["vllm.attention.layer.Attention.forward",
                                      "torch.ops.vllm.unified_attention", "vllm.attention.layer.unified_attention"]


# ---------------------------------------------------------------- value flow (issue 11)
def test_step_fn_bound_method_in_an_attribute(vllm_index):
    """core.py:206-208 stores `self.step_fn = self.step if ... else self.step_with_batch_queue`; the
    busy loop's _process_engine_step calls `self.step_fn()` (core.py:989) and InprocClient.get_output
    calls `self.engine_core.step_fn()` (core_client.py:272) on the EngineCore it built (:267)."""
    want = {"vllm.v1.engine.core.EngineCoreProc._process_engine_step": {"flow"},
            "vllm.v1.engine.core_client.InprocClient.get_output": {"flow"}}
    assert callers(vllm_index, E + "step") == want
    assert callers(vllm_index, E + "step_with_batch_queue") == want


def test_op_handle_stored_in_an_attribute_reaches_the_kernel(vllm_index):
    """activation.py:81 `self.op = torch.ops._C.silu_and_mul` in SiluAndMul.__init__; forward_cuda
    calls `self.op(out, x)` (:99); the op is registered at csrc/torch_bindings.cpp:105-106."""
    got = callees(vllm_index, "vllm.model_executor.layers.activation.SiluAndMul.forward_cuda")
    assert got["torch.ops._C.silu_and_mul"] == {"flow"}
    chain = vllm_index.paths(ids(vllm_index, "vllm.model_executor.layers.activation.SiluAndMul.forward_cuda"),
                             ids(vllm_index, "vllm::act_and_mul_kernel"))[0]
    assert [s.name for s in chain] == ["vllm.model_executor.layers.activation.SiluAndMul.forward_cuda",
                                      "torch.ops._C.silu_and_mul", "silu_and_mul", "vllm::act_and_mul_kernel"]
    assert [(h["resolution"], h["via"]) for h in vllm_index.hops([s.id for s in chain])] == [
        ("flow", "torch-op"), ("exact", "registration"), ("exact", "launch")]


def test_step_reaches_block_pool_without_guesses(vllm_index):
    """The README's flagship path: kv_cache_coordinator.py:159-165 calls
    `manager.allocate_new_blocks(...)` for each manager of `self.single_type_managers` (a tuple of
    managers built at :59-65 from get_manager_for_kv_cache_spec): the element flows to the call."""
    chains = vllm_index.paths(ids(vllm_index, E + "step"), ids(vllm_index, BP + "get_new_blocks"), k=3)
    assert chains, "no chain without guesses"
    names = [[s.name for s in c] for c in chains]
    assert [E + "step", S + "schedule", KM + "allocate_slots", C + "KVCacheCoordinator.allocate_new_blocks",
            ST + "SingleTypeKVCacheManager.allocate_new_blocks", BP + "get_new_blocks"] in names
    hops = vllm_index.hops([s.id for s in chains[names.index([E + "step", S + "schedule", KM + "allocate_slots",
                                                               C + "KVCacheCoordinator.allocate_new_blocks",
                                                               ST + "SingleTypeKVCacheManager.allocate_new_blocks",
                                                               BP + "get_new_blocks"])]])
    assert [h["resolution"] for h in hops] == ["dispatch", "type", "type", "flow", "type"]
    assert all(h["resolution"] != "guess" for c in chains for h in vllm_index.hops([s.id for s in c]))


def test_wrapping_decorator_sits_between_caller_and_function(vllm_index):
    """layer.py:766 decorates unified_attention with @maybe_transfer_kv_layer, whose `wrapper`
    (kv_transfer_utils.py:35) calls `func(*args, **kwargs)` (:39); the op registration at
    layer.py:788 still names the function itself."""
    got = callers(vllm_index, "vllm.attention.layer.unified_attention")
    assert got == {"vllm.attention.utils.kv_transfer_utils.maybe_transfer_kv_layer.wrapper": {"flow"},
                   "torch.ops.vllm.unified_attention": {"exact"}}


def test_module_level_instance_registry(vllm_index):
    """multimodal/__init__.py:16 `MULTIMODAL_REGISTRY = MultiModalRegistry()`; model modules apply
    `@MULTIMODAL_REGISTRY.register_processor(...)` at module level (e.g. models/aria.py:497)."""
    got = callers(vllm_index, "vllm.multimodal.registry.MultiModalRegistry.register_processor")
    assert got["vllm.model_executor.models.aria"] == {"flow"}
    assert len(got) > 50


def test_lambda_table_is_too_many_not_a_silent_zero(vllm_index):
    """envs.py:464 `environment_variables` maps ~300 names to lambdas; __getattr__ (:1619) calls
    `environment_variables[name]()` (:1627): far more targets than an answer can list, so the
    site is kept as unresolved 'too-many' rather than shown as 40 arbitrary lambdas."""
    sites = vllm_index.unresolved_sites(ids(vllm_index, "vllm.envs.__getattr__"))
    assert [(u.line, u.reason) for u in sites if u.line == 1627] == [(1627, "too-many")]
    (lam,) = vllm_index.lookup("vllm.envs.<lambda1>")
    assert lam.kind == "lambda" and lam.path == "vllm/envs.py"
