"""SGLang's waiting-queue policies: which request to prefill next, given what the cache holds.

Mirrors `sglang.srt.managers.schedule_policy.SchedulePolicy` (SGLang 0.5.10.post1): `calc_priority`
and the sorts it calls, over our `RadixTree` (reimpl/prefix_cache/radix.py) for the cache.

- `lpm` (longest prefix match, cache-aware): every waiting request is matched against the cache
  (`_compute_prefix_matches`; the match may split nodes, like any match), then the queue is sorted
  by matched length, longest first, stable. In-batch prefix caching: a request whose cached
  prefix is short (<= 32 tokens) is matched against a scratch tree of the requests before it in
  this pass; if it shares >= 32 tokens with one of them it is sorted last (`temporary_deprioritized`),
  so only one of a group sharing a new prefix runs first and the rest find it cached. Over 128
  waiting requests, LPM falls back to FCFS (`_determine_active_policy`): matching them all costs.
- `dfs-weight` (cache-aware): the requests are grouped by the node their match ended at; a node's
  weight is its requests plus its subtree's; the queue is the tree walked depth first, heavier
  children first, each node's requests after its subtree's (`_sort_by_dfs_weight`, `_calc_weight`,
  `_get_dfs_priority`): requests sharing a prefix run together.
- `fcfs`: arrival order (with priority scheduling: by priority, then queue entry time).
- `lof`: longest `max_new_tokens` first (priority first with priority scheduling).
- `random`: `random.shuffle`.
A cache-aware policy on a disabled cache is FCFS. `routing-key` is not reimplemented.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from ..prefix_cache.radix import RadixTree

CACHE_AWARE = ("lpm", "dfs-weight")
CACHE_AGNOSTIC = ("fcfs", "lof", "random")
CHECK_THRESHOLD = 32  # IN_BATCH_PREFIX_CACHING_CHECK_THRESHOLD
DEPRIORITIZE_THRESHOLD = 32  # IN_BATCH_PREFIX_CACHING_DEPRIORITIZE_THRESHOLD
LPM_MAX_QUEUE = 128


@dataclass
class WaitingRequest:
    rid: str
    input_ids: list[int]
    output_ids: list[int] = field(default_factory=list)
    max_new_tokens: int = 16
    priority: int = 0
    entry_time: float = 0.0
    prefix_len: int = 0  # len(req.prefix_indices) after a cache-aware pass
    last_node: object = None


class SchedulePolicy:
    def __init__(self, policy: str, tree: RadixTree | None, enable_priority_scheduling: bool = False,
                 schedule_low_priority_values_first: bool = False):
        if policy in CACHE_AWARE:
            policy = policy if tree is not None else "fcfs"
        elif policy not in CACHE_AGNOSTIC:
            raise ValueError(f"Unknown schedule_policy: {policy!r}")
        self.policy = policy
        self.tree = tree
        self.enable_priority_scheduling = enable_priority_scheduling
        self.priority_sign = 1 if schedule_low_priority_values_first else -1
        self.scratch = RadixTree()  # waiting_queue_radix_tree
        self.deprioritized: set[str] = set()

    def calc_priority(self, queue: list[WaitingRequest]) -> bool:
        """Reorder `queue` in place; True when the requests' prefixes were computed."""
        if self.policy == "fcfs":
            if self.enable_priority_scheduling:
                queue.sort(key=lambda r: (r.priority * self.priority_sign, r.entry_time))
            return False
        policy = "fcfs" if self.policy == "lpm" and len(queue) > LPM_MAX_QUEUE else self.policy
        if policy in CACHE_AWARE:
            deprioritized = self._compute_prefix_matches(queue)
            if policy == "lpm":
                queue.sort(key=lambda r: -r.prefix_len if r.rid not in deprioritized else float("inf"))
            else:
                self._sort_by_dfs_weight(queue)
            return True
        if policy == "lof":
            if self.enable_priority_scheduling:
                queue.sort(key=lambda r: (r.priority * self.priority_sign, -r.max_new_tokens))
            else:
                queue.sort(key=lambda r: -r.max_new_tokens)
        elif policy == "random":
            random.shuffle(queue)
        return False

    def _compute_prefix_matches(self, queue: list[WaitingRequest]) -> set[str]:
        deprioritized: set[str] = set()
        self.scratch.reset()
        for r in queue:
            ids = r.input_ids + r.output_ids
            values, r.last_node = self.tree.match_prefix(ids)
            r.prefix_len = len(values)
            if r.prefix_len <= CHECK_THRESHOLD:
                in_batch, _ = self.scratch.match_prefix(ids)
                if len(in_batch) >= DEPRIORITIZE_THRESHOLD:
                    deprioritized.add(r.rid)
                else:
                    self.scratch.insert(ids, [0] * len(ids))
        self.deprioritized = deprioritized  # the last pass's, for callers that report it
        return deprioritized

    def _sort_by_dfs_weight(self, queue: list[WaitingRequest]) -> None:
        by_node = defaultdict(list)
        for r in queue:
            by_node[r.last_node].append(r)
        weight = defaultdict(int, {node: len(reqs) for node, reqs in by_node.items()})
        _add_subtree_weights(self.tree.root, weight)
        queue.clear()
        _dfs_order(self.tree.root, weight, by_node, queue)


def _add_subtree_weights(node, weight) -> None:
    for child in node.children.values():
        _add_subtree_weights(child, weight)
        weight[node] += weight[child]


def _dfs_order(node, weight, by_node, out: list) -> None:
    children = sorted(node.children.values(), key=lambda c: -weight[c])
    for child in children:
        _dfs_order(child, weight, by_node, out)
    out.extend(by_node[node])
