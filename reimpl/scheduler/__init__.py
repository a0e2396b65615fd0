"""Scheduling strategies behind one step-by-step face, and a serving simulator over them.

- `VllmScheduler`: vLLM v1 (0.14.1) `Scheduler` semantics, checked step by step against the real
  one by tests/oracle/scheduler_differential.py; `VllmStrategy` drives it in the simulator.
- `ContinuousBatchingStrategy`: KsanaLLM's (c451219c) continuous batching strategy: decoding,
  swapped and waiting queues; split-fuse; swap or recompute preemption.
- `SglangSchedulePolicy`: SGLang's (0.5.10.post1) waiting-queue policies (lpm, dfs-weight, fcfs,
  lof, random) over the radix tree, checked round by round against the real `SchedulePolicy` by
  tests/oracle/sglang_policy.py.
- `StaticBatchScheduler`: the baseline: a batch is formed, runs to completion, then the next.

docs/dev/scheduler.md says how they behave and what was measured.
"""
from .common import StepPlan, Strategy
from .ksana import ContinuousBatchingStrategy, KsanaStats
from .sglang_policy import SchedulePolicy as SglangSchedulePolicy
from .sglang_policy import WaitingRequest
from .static import StaticBatchScheduler
from .vllm_strategy import VllmStrategy
from .vllm_v1 import FCFSQueue, PriorityQueue, SchedRequest, SchedulerOutput, VllmScheduler

__all__ = ["ContinuousBatchingStrategy", "FCFSQueue", "KsanaStats", "PriorityQueue", "SchedRequest",
           "SchedulerOutput", "SglangSchedulePolicy", "StaticBatchScheduler", "StepPlan", "Strategy", "VllmScheduler", "VllmStrategy", "WaitingRequest"]
