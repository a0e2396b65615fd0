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
