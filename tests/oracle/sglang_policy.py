"""Our SchedulePolicy (reimpl/scheduler/sglang_policy.py) against SGLang's real one, round by round.

    python tests/oracle/sglang_policy.py --sglang-root DIR --seeds 0:1000 [--mutate all]

Run in the oracle venv; SGLang's schedule_policy.py and radix_cache.py come from the pinned sdist
through sglang_shim.py, with seven more SGLang modules stubbed for this one (listed in
POLICY_STUBS: the batch, server-argument, SWA-pool, dLLM, NSA and context-parallel modules it
imports for types and flags it never reads in `calc_priority`; the requests are plain objects
with the attributes calc_priority reads). Each seed: a cache filled from a few long shared
prefixes (so matched lengths cross the in-batch thresholds of 32 tokens), then 3-6 rounds: a
waiting queue (1-20 requests, sometimes 129-140 so LPM falls back to FCFS), a policy (lpm,
dfs-weight, fcfs, lof, random; priority scheduling on or off, either sign), both sides order their
queue, and must agree on the order, each request's matched length, the return value and the
whole cache tree afterwards (matches split nodes); then the first requests "run" (inserted in
both caches) and some tokens are evicted. The last stdout line is a JSON report.
"""
from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sglang_shim  # noqa: E402
from sglang_radix import Ours, Theirs  # noqa: E402
from traces import count_disagreements, parse_seeds  # noqa: E402

POLICY_STUBS = ["sglang.srt.managers.schedule_batch", "sglang.srt.server_args", "sglang.srt.mem_cache.swa_memory_pool",
                "sglang.srt.dllm.config", "sglang.srt.layers.attention.nsa.utils", "sglang.srt.layers.utils.cp_utils",
                "sglang.srt.managers.prefill_delayer"]
POLICIES = ["lpm", "dfs-weight", "fcfs", "lof", "random"]


def mutations(base):
    import reimpl_policy as rp  # noqa: F401  (set by main)

    class LpmShortestFirst(base):
        def calc_priority(self, queue):
            out = super().calc_priority(queue)
            if self.policy == "lpm" and len(queue) <= 128:
                queue.sort(key=lambda r: r.prefix_len)
            return out

    class NoInBatchDeprioritize(base):
        def _compute_prefix_matches(self, queue):
            super()._compute_prefix_matches(queue)
            return set()

    class DfsLightFirst(base):
        def _sort_by_dfs_weight(self, queue):
            super()._sort_by_dfs_weight(queue)
            queue.reverse()

    class NoLpmFallback(base):
        def calc_priority(self, queue):
            if self.policy == "lpm" and len(queue) > 128:
                dep = self._compute_prefix_matches(queue)
                queue.sort(key=lambda r: -r.prefix_len if r.rid not in dep else float("inf"))
                return True
            return super().calc_priority(queue)

    class LofAscending(base):
        def calc_priority(self, queue):
            out = super().calc_priority(queue)
            if self.policy == "lof" and not self.enable_priority_scheduling:
                queue.sort(key=lambda r: r.max_new_tokens)
            return out

    class PrioritySignFlipped(base):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.priority_sign = -self.priority_sign

    class ThresholdStrict(base):
        def _compute_prefix_matches(self, queue):
            dep = set()
            self.scratch.reset()
            for r in queue:
                ids = r.input_ids + r.output_ids
                values, r.last_node = self.tree.match_prefix(ids)
                r.prefix_len = len(values)
                if r.prefix_len < 32:
                    in_batch, _ = self.scratch.match_prefix(ids)
                    if len(in_batch) >= 32:
                        dep.add(r.rid)
                    else:
                        self.scratch.insert(ids, [0] * len(ids))
            return dep

    return {"lpm-shortest-first": LpmShortestFirst, "no-in-batch-deprioritize": NoInBatchDeprioritize,
            "dfs-light-first": DfsLightFirst, "no-lpm-fallback-over-128": NoLpmFallback,
            "lof-ascending": LofAscending, "priority-sign-flipped": PrioritySignFlipped,
            "in-batch-threshold-strict": ThresholdStrict}


def make_rounds(seed):
    rng = random.Random(seed)
    alphabet = rng.choice([2, 3, 4])
    bases = [[rng.randrange(alphabet) for _ in range(rng.randint(20, 70))] for _ in range(rng.randint(2, 5))]

    def prompt():
        b = rng.choice(bases)
        return b[:rng.randint(0, len(b))] + [rng.randrange(alphabet) for _ in range(rng.randint(1, 30))]

    warm = [prompt() for _ in range(rng.randint(0, 8))]
    rounds = []
    for _ in range(rng.randint(3, 6)):
        n = rng.randint(129, 140) if rng.random() < 0.08 else rng.randint(1, 20)
        reqs = [(f"r{i}", prompt(), [rng.randrange(alphabet) for _ in range(rng.choice([0, 0, 3]))],
                 rng.randint(1, 64), rng.randint(-2, 2), float(rng.randint(0, 50))) for i in range(n)]
        rounds.append({"policy": rng.choice(POLICIES), "prio": rng.random() < 0.4, "low_first": rng.random() < 0.5,
                       "reqs": reqs, "run": rng.randint(0, 4), "evict": rng.choice([0, 0, 10, 40])})
    return warm, rounds


def play(seed, sp, rc, bpc, ours_cls, timing, cov):
    warm, rounds = make_rounds(seed)
    theirs, ours = Theirs(rc, bpc, 1), Ours(_tree_cls(), 1)
    counter = 0
    for p in warm:
        for side in (theirs, ours):
            side.insert(p, list(range(counter, counter + len(p))))
        counter += len(p)
    for k, rnd in enumerate(rounds):
        tq = [SimpleNamespace(rid=rid, origin_input_ids=list(ids), output_ids=list(out), extra_key=None,
                              sampling_params=SimpleNamespace(max_new_tokens=mnt), priority=prio,
                              time_stats=SimpleNamespace(wait_queue_entry_time=t), prefix_indices=[], last_node=None)
              for rid, ids, out, mnt, prio, t in rnd["reqs"]]
        oq = [_Waiting(rid, list(ids), list(out), mnt, prio, t) for rid, ids, out, mnt, prio, t in rnd["reqs"]]
        tp = sp.SchedulePolicy(rnd["policy"], theirs.tree, False, rnd["prio"], rnd["low_first"])
        op = ours_cls(rnd["policy"], ours.tree, rnd["prio"], rnd["low_first"])
        t0 = time.perf_counter()
        random.seed(seed * 100 + k)
        t_ret = tp.calc_priority(tq)
        t1 = time.perf_counter()
        random.seed(seed * 100 + k)
        o_ret = op.calc_priority(oq)
        timing["theirs"] += t1 - t0
        timing["ours"] += time.perf_counter() - t1
        got_t = (t_ret, [r.rid for r in tq], [len(r.prefix_indices) for r in tq] if t_ret else None, theirs.state())
        got_o = (o_ret, [r.rid for r in oq], [r.prefix_len for r in oq] if o_ret else None, ours.state())
        if got_t != got_o:
            return {"seed": seed, "round": k, "policy": rnd["policy"], "queue": len(tq),
                    "theirs": repr(got_t[:3])[:500], "ours": repr(got_o[:3])[:500], "trees_equal": got_t[3] == got_o[3]}
        cov[rnd["policy"] + (" priority" if rnd["prio"] else "")] += 1
        cov["lpm over 128 (fcfs)"] += rnd["policy"] == "lpm" and len(tq) > 128
        cov["deprioritized in batch"] += len(op.deprioritized) if o_ret else 0
        cov["requests with a cached prefix"] += sum(1 for r in oq if r.prefix_len) if o_ret else 0
        for r in tq[:rnd["run"]]:
            ids = r.origin_input_ids + r.output_ids
            for side in (theirs, ours):
                side.insert(ids, list(range(counter, counter + len(ids))))
            counter += len(ids)
        if rnd["evict"]:
            theirs.evict(rnd["evict"])
            ours.evict(rnd["evict"])
    return None


_Waiting = None
_tree = None


def _tree_cls():
    return _tree


def run(seeds, sp, rc, bpc, ours_cls):
    from collections import Counter
    timing, cov = {"theirs": 0.0, "ours": 0.0}, Counter()
    out = count_disagreements(seeds, lambda s: play(s, sp, rc, bpc, ours_cls, timing, cov))
    return {**out, "coverage": dict(sorted(cov.items())), "seconds": {k: round(v, 3) for k, v in timing.items()}}


def main(argv=None):
    global _Waiting, _tree
    ap = argparse.ArgumentParser()
    ap.add_argument("--sglang-root", required=True)
    ap.add_argument("--seeds", default="0:1000")
    ap.add_argument("--mutate", default="")
    args = ap.parse_args(argv)
    sglang_shim.SGLANG_STUBS = sglang_shim.SGLANG_STUBS + POLICY_STUBS
    rc, bpc, stubbed = sglang_shim.load_radix_cache(args.sglang_root)
    sp = importlib.import_module("sglang.srt.managers.schedule_policy")
    import bootstrap
    bootstrap.setup(args.sglang_root)
    from infernav.reimpl.prefix_cache.radix import RadixTree
    from infernav.reimpl.scheduler import sglang_policy as ours
    sys.modules["reimpl_policy"] = ours
    _Waiting, _tree = ours.WaitingRequest, RadixTree
    seeds = parse_seeds(args.seeds)
    report = {"schedule_policy": sp.__file__, "stubbed": stubbed + POLICY_STUBS}
    report.update(run(seeds, sp, rc, bpc, ours.SchedulePolicy))
    if args.mutate:
        report["mutations"] = {}
        for name, cls in mutations(ours.SchedulePolicy).items():
            r = run(seeds, sp, rc, bpc, cls)
            report["mutations"][name] = {"disagreements": r["disagreements"], "first": r["first"]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
