"""Seeds every oracle run plays besides its random draw (issue #14 item 3): the first seeds of
each family, plus traces that reached something rare once (named below). Read by the pytest
wrappers; the oracle scripts take them with --seeds."""
from __future__ import annotations

FIRST = list(range(20))

# Traces worth keeping, with what they reach (found by bench/vllm_oracle_bench.py and the runs
# behind docs/dev/scheduler.md):
SCHEDULER_RARE: dict[int, str] = {
    14: "over-long: vLLM schedules a negative count and fails assert num_tokens_scheduled > 0 (scheduler.py:1131)",
    22: "over-long: the same assertion",
    44: "over-long: the same assertion",
}
PREFIX_RARE: dict[int, str] = {}  # 0..19 already catch every planted bug of prefix_mutations

PREFIX = sorted(set(FIRST) | set(PREFIX_RARE))
SCHEDULER = sorted(set(FIRST) | set(SCHEDULER_RARE))
RADIX = list(FIRST)  # tests/test_sglang_oracle.py: 0..19 catch every planted bug of sglang_radix
# tests/oracle/sglang_policy.py: 267 is the first of 0..999 where the in-batch threshold's `<=`
# (schedule_policy.py:223) matters (a cached prefix of exactly 32 tokens).
POLICY_RARE: dict[int, str] = {267: "cached prefix of exactly 32 tokens: in-batch check still applies"}
POLICY = sorted(set(FIRST) | set(POLICY_RARE))
