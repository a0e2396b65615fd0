"""Facts about KsanaLLM at the pinned commit, verified by reading its source. They run where the
source is present (`infernav fetch ksanallm --path DIR`) and skip, saying so, where it is not."""
from __future__ import annotations

import pytest
from helpers import callees, callers, ids

pytestmark = pytest.mark.ksana

K = "ksana_llm::"
PCM = K + "PrefixCacheManager::"
CBS = K + "ContinuousBatchingStrategy::"


def test_update_request_tokens_callers_through_interface(ksana_index):
    """continuous_batching.cpp:417 `cache_manager_->UpdateRequestTokens(` on the
    std::shared_ptr<CacheManagerInterface> field declared in base_strategy.h:47."""
    got = callers(ksana_index, PCM + "UpdateRequestTokens")
    assert got[CBS + "UpdateRunningRequests"] == {"dispatch"}
    assert callers(ksana_index, K + "CacheManagerInterface::UpdateRequestTokens")[CBS + "UpdateRunningRequests"] == {"type"}


def test_allocate_request_blocks_callers(ksana_index):
    """continuous_batching.cpp:550 (ProcessDecodingQueue) and :755 (ProcessWaitingQueue)."""
    got = callers(ksana_index, PCM + "AllocateRequestBlocks")
    assert got[CBS + "ProcessDecodingQueue"] == {"dispatch"}
    assert got[CBS + "ProcessWaitingQueue"] == {"dispatch"}


def test_scheduler_chain_of_virtual_calls(ksana_index):
    """schedule_processor.cpp:49 -> batch_scheduler.cpp:354 (vector<shared_ptr<BaseScheduleStrategy>>[i])
    -> continuous_batching.cpp:417 -> prefix_cache_manager.cpp:736 -> :634."""
    chain = ksana_index.paths(ids(ksana_index, K + "ScheduleProcessor::UpdateWithGenerationResult"),
                              ids(ksana_index, PCM + "AppendCachedBlockToTimedList"))[0]
    assert [s.name for s in chain] == [
        K + "ScheduleProcessor::UpdateWithGenerationResult", K + "BatchScheduler::UpdateWithGenerationResult",
        CBS + "UpdateRunningRequests", PCM + "UpdateRequestTokens", PCM + "AppendFilledCachedBlock",
        PCM + "AppendCachedBlockToTimedList"]


def test_call_inside_lambda_is_attributed_to_enclosing_method(ksana_index):
    """batch_scheduler.cpp:379: Schedule() called inside a lambda given to threadpool_->Submit."""
    assert callers(ksana_index, CBS + "Schedule")[K + "BatchScheduler::Schedule"] == {"dispatch"}


def test_implicit_this_and_recursion(ksana_index):
    assert PCM + "MergeFilledCachedBlocks" in callees(ksana_index, PCM + "AppendFilledCachedBlock")
    assert PCM + "FreeCachedBlocks" in callees(ksana_index, PCM + "AllocateRequestBlocks")
    rec = PCM + "FreeCachedBlockRecursively"
    assert rec in callees(ksana_index, rec)
    assert CBS + "ProcessWaitingQueue" in callees(ksana_index, CBS + "Schedule")


def test_factory_constructs_through_make_shared(ksana_index):
    """cache_manager_factory.cpp:16 std::make_shared<PrefixCacheManager>(...)."""
    assert PCM + "PrefixCacheManager" in callees(ksana_index, K + "CacheManagerFactory::CreateCacheManager")


def test_interface_implementations(ksana_index):
    over = ksana_index.overrides(ids(ksana_index, K + "CacheManagerInterface::AllocateRequestBlocks"))
    assert {r.name for r in over["overridden_by"]} == {PCM + "AllocateRequestBlocks",
                                                       K + "DirectCacheManager::AllocateRequestBlocks"}
    up = ksana_index.overrides(ids(ksana_index, CBS + "Schedule"))["overrides"]
    assert [r.name for r in up] == [K + "BaseScheduleStrategy::Schedule"]


def test_out_of_class_definition_and_declaration(ksana_index):
    (row,) = ksana_index.lookup(PCM + "UpdateRequestTokens")
    assert row.path.endswith("prefix_cache_manager.cpp") and row.decl_path.endswith("prefix_cache_manager.h")
    assert "override" in row.flags


# ------------------------------------------------------------------ issue 12: all of KsanaLLM
NV = "llm_kernels::nvidia::"
ENGINE = "ksana_llm.ksana_engine.KsanaLLMEngine."
TRT = "llm_kernels::nvidia::tensorrt_llm::dev::kernels::cutlass_kernels::"


def _sites(idx, name: str) -> set[tuple[str, int, str, str]]:
    """(callee, call line, label, via) of every call site in `name`."""
    return {(h.symbol.name, h.line, h.resolution, h.via) for h in idx.call_sites(ids(idx, name), "callees")}


def test_python_to_cpp_to_cuda_chain(ksana_index):
    """ksana_engine.py:143 self._serving.init_serving (self._serving = libtorch_serving.Serving(),
    :112) -> serving_op.cpp:204 .def("init_serving", lambda) whose body calls self.InitServing
    (:216) -> :50
    make_shared<InferenceServer> -> inference_server.cpp:49 make_shared<InferenceEngine> ->
    inference_engine.cpp:51 Initialize() -> :342 make_shared<LlmRuntime> -> llm_runtime.cpp:38
    make_shared<Sampler> -> sampler.cpp:75 new TopkSampling -> topk_sampling.cpp:37
    InvokeCurandBatchInitialize -> LLM_kernels samplers/decoding_common.cu:127
    InitCurandBatch<<<...>>>, a __global__ kernel (:114)."""
    chain = ksana_index.paths(ids(ksana_index, ENGINE + "initialize"),
                              ids(ksana_index, "tensorrt_llm::kernels::InitCurandBatch"))[0]
    assert [s.name for s in chain] == [
        ENGINE + "initialize", "libtorch_serving.Serving.init_serving", K + "ServingOp::InitServing",
        K + "InferenceServer::InferenceServer", K + "InferenceEngine::InferenceEngine",
        K + "InferenceEngine::Initialize", K + "LlmRuntime::LlmRuntime", K + "Sampler::Sampler",
        K + "TopkSampling::TopkSampling", "tensorrt_llm::kernels::InvokeCurandBatchInitialize",
        "tensorrt_llm::kernels::InitCurandBatch"]
    assert chain[-1].kind == "kernel" and chain[-1].path.endswith("samplers/decoding_common.cu")
    assert (("libtorch_serving.Serving.init_serving", 143, "type", "pybind")
            in _sites(ksana_index, ENGINE + "initialize"))
    assert (("tensorrt_llm::kernels::InitCurandBatch", 127, "exact", "launch")
            in _sites(ksana_index, "tensorrt_llm::kernels::InvokeCurandBatchInitialize"))


def test_attention_layer_to_kernel_chain(ksana_index):
    """paged_attention_layer.cpp:30 DISPATCH_BY_DTYPE_AND_KVTYPE(..., ForwardT, ...) expands
    (attention_layer.h:121 -> :106) to ForwardT<...>(...); :142 InvokePagedAttention<...>(...);
    attention_kernel_wrapper.cpp:560 llm_kernels::nvidia::CachePosCopyFlashAttnLayout<...>(...);
    LLM_kernels paged_attention/cache_copy_flash_attn_layout.cu:258
    CachePosCopyFlashAttnLayoutKernel<...><<<...>>> (__global__, :86)."""
    layer = K + "PagedAttentionLayer::"
    chain = ksana_index.paths(ids(ksana_index, layer + "Forward"),
                              ids(ksana_index, NV + "CachePosCopyFlashAttnLayoutKernel"))[0]
    assert [s.name for s in chain] == [layer + "Forward", layer + "ForwardT", K + "InvokePagedAttention",
                                       NV + "CachePosCopyFlashAttnLayout", NV + "CachePosCopyFlashAttnLayoutKernel"]
    assert (layer + "ForwardT", 30, "exact", "macro") in _sites(ksana_index, layer + "Forward")
    assert (NV + "CachePosCopyFlashAttnLayoutKernel", 258, "exact", "launch") in _sites(
        ksana_index, NV + "CachePosCopyFlashAttnLayout")


def test_pybind_lambda_method_pointer_and_class(ksana_index):
    """serving_op.cpp:86 py::class_<ksana_llm::Status>(m, "Status") .def("OK", &Status::OK) (:89);
    :202 class_<ServingOp>(m, "Serving") with .def(init<>()) (:203) and .def("generate", lambda)
    (:220) whose body calls self->Generate (:227); ksana_engine.py:112 libtorch_serving.Serving()
    and :396 self._serving.generate(...)."""
    assert callees(ksana_index, "libtorch_serving.Status.OK") == {K + "Status::OK": {"exact"}}
    assert _sites(ksana_index, "libtorch_serving.Serving.generate") == {
        (K + "ServingOp::Generate", 227, "type", "call")}
    assert callees(ksana_index, "libtorch_serving.Serving") == {K + "ServingOp::ServingOp": {"exact"}}
    assert ("libtorch_serving.Serving", 112, "exact", "pybind") in _sites(ksana_index, ENGINE + "__init__")
    assert _sites(ksana_index, ENGINE + "_call_serving_generate") == {
        ("libtorch_serving.Serving.generate", 396, "type", "pybind")}
    (gen,) = ksana_index.lookup("libtorch_serving.Serving.generate")
    assert (gen.kind, gen.path, gen.line) == ("pybind", "src/ksana_llm/torch_op/serving_op.cpp", 220)


def test_overloads_of_one_arity_told_apart_by_argument_types(ksana_index):
    """Two 3-argument ParseModelOptQuantConfig: new_qwen_config_parser.cpp:59 (json,
    shared_ptr<NewQwenConfig>, QuantConfig&) and quant_config_parser.cpp:52 (json, bool,
    QuantConfig&). new_qwen_config_parser.cpp:79 passes new_qwen_config; model_config_parser.cpp:83
    passes model_config.is_moe (a bool)."""
    rows = {r.path.rsplit("/", 1)[-1]: r.line for r in ksana_index.lookup(K + "ParseModelOptQuantConfig")}
    assert rows == {"new_qwen_config_parser.cpp": 59, "quant_config_parser.cpp": 52}
    qwen = {(h.line, h.symbol.line, h.resolution) for h in ksana_index.call_sites(
        ids(ksana_index, K + "NewQwenConfigParser::ParseQuantConfig"), "callees")
        if h.symbol.name == K + "ParseModelOptQuantConfig"}
    env = {(h.line, h.symbol.line, h.resolution) for h in ksana_index.call_sites(
        ids(ksana_index, K + "EnvModelConfigParser::ParseModelQuantConfig"), "callees")
        if h.symbol.name == K + "ParseModelOptQuantConfig"}
    assert qwen == {(79, 59, "exact")} and env == {(83, 52, "exact")}


def test_overload_by_pointer_type(ksana_index):
    """task_key.h:229, in DeserializeBatchPtr(const char*, ...) (:228), calls
    DeserializeBatchPtr(reinterpret_cast<const uint8_t*>(data), size, out_count): the
    const uint8_t* overload (:218), not itself."""
    got = {(h.line, h.symbol.line) for h in ksana_index.call_sites(
        ids(ksana_index, K + "TaskKey::DeserializeBatchPtr"), "callees") if h.line == 229}
    assert got == {(229, 218)}


def test_launch_through_a_macro_that_pastes_the_kernel_name(ksana_index):
    """rotary_embedding.cu:235 DISPATCH_ROTARY_EMBEDDING_BY_NEOX(ROTARY_EMBEDDING, ...) launches
    Invoke##ROTARY_EMBEDDING##Kernel<T, ...><<<...>>>; LaunchRotaryEmbedding passes
    MRotaryEmbedding (:248), XDRotaryEmbedding (:255), RotaryEmbedding (:260)."""
    got = _sites(ksana_index, NV + "LaunchRotaryEmbedding")
    launched = {(name.rsplit("::", 1)[-1], line) for name, line, res, via in got if via == "launch"}
    assert launched == {("InvokeMRotaryEmbeddingKernel", 248), ("InvokeXDRotaryEmbeddingKernel", 255),
                        ("InvokeRotaryEmbeddingKernel", 260)}
    assert all(r.kind == "kernel" for r in ksana_index.lookup(NV + "InvokeMRotaryEmbeddingKernel"))


def test_launch_through_cuda_launch_kernel_ex(ksana_index):
    """LLM_kernels .../cutlass_kernels/moe_gemm/moe_kernels.cu:759
    cudaLaunchKernelEx(&config, mergeExpertPrefixSumKernel, ...) in mergeExpertPrefixSum (:739)."""
    assert (TRT + "mergeExpertPrefixSumKernel", 759, "exact", "launch") in _sites(ksana_index, TRT + "mergeExpertPrefixSum")


def test_test_f_body_calls_through_the_fixture_field(ksana_index):
    """prefix_cache_manager_test.cpp:109 TEST_F(PrefixCacheManagerTest, SingleRequestTest) calls
    cache_manager->InitializeCachedBlocks() (:110) on the fixture's field
    `PrefixCacheManager* cache_manager` (:92)."""
    got = callees(ksana_index, "TEST_F(PrefixCacheManagerTest, SingleRequestTest)")
    assert got[PCM + "InitializeCachedBlocks"] == {"type"}


def test_singleton_receiver(ksana_index):
    """batch_scheduler.cpp:501, in BatchScheduler::CreateMockReq (:472):
    Singleton<Environment>::GetInstance()->GetRuntimeConfig(runtime_config); singleton.h:18
    GetInstance returns std::shared_ptr<T>."""
    got = _sites(ksana_index, K + "BatchScheduler::CreateMockReq")
    assert (K + "Environment::GetRuntimeConfig", 501, "type", "call") in got
    assert (K + "Singleton::GetInstance", 501, "exact", "call") in got


def test_trait_member_with_the_configured_device(ksana_index):
    """all_reduce_residual_add_norm_layer.cpp:40 context_->ext->IsMulticastSupported(): ext is
    `typename ExtensionTypeTraits<T>::value_type*` (common_context.h:86) in ContextT<T>, Context is
    ContextT<ACTIVE_DEVICE_TYPE>; the CUDA build's specialization (nvidia_context.h:118-119) makes it
    NvidiaContextExtension (pins.toml: defines)."""
    got = callees(ksana_index, K + "AllReduceResidualAddNormLayer::ForwardT")
    assert got[K + "NvidiaContextExtension::IsMulticastSupported"] == {"type"}
    assert not [n for n in got if "Ascend" in n or "Zixiao" in n]


def test_reference_returning_functions_are_indexed(ksana_index):
    """common_context.h:39 `std::vector<Stream>& GetComputeStreams()` returns a reference: indexed,
    and its element type reaches StreamT::Get (paged_attention_layer.cpp:144,
    `this->context_->GetComputeStreams()[this->rank_].Get()`)."""
    (row,) = [r for r in ksana_index.lookup(K + "ContextT::GetComputeStreams")]
    assert row.path.endswith("common_context.h")
    got = _sites(ksana_index, K + "PagedAttentionLayer::ForwardT")
    assert (K + "ContextT::GetComputeStreams", 144, "type", "call") in got
    assert {(n, line) for n, line, res, _ in got if n == K + "StreamT::Get" and res == "type"} >= {(K + "StreamT::Get", 144)}


def test_value_alias_reaches_the_configured_device_specialization(ksana_index):
    """data_hub.cpp:204 Memcpy(...) with device_utils.h:76 `constexpr auto Memcpy =
    MemcpyT<ACTIVE_DEVICE_TYPE>;`: the CUDA build's specialization MemcpyT<DEVICE_TYPE_NVIDIA>
    (nvidia_device.cpp:208), not ascend_device.cpp:241's."""
    got = {(h.symbol.path, h.symbol.line) for h in ksana_index.call_sites(
        ids(ksana_index, K + "CopyHiddenUnitBufferToHostMem"), "callees")
        if h.symbol.name == K + "MemcpyT" and h.line == 204}
    assert got == {("src/ksana_llm/utils/nvidia/nvidia_device.cpp", 208)}
