"""Prefix-cache benchmark (not a test): hit rates and speed of both caches and of the real vLLM.

    .venv/bin/python bench/prefix_cache_bench.py [--repeat 3] [--oracle-traces 1000] [--quick]

Builds (or reuses) the oracle venv, then re-runs itself there, where the real vLLM 0.14.1 is
importable. Three workloads, each replayed by one small continuous-batching scheduler (token
budget per step, chunked prefill, preemption of the newest request when blocks run out) over:

- ours/hash: `HashChainCache` (our vLLM v1 reimplementation),
- vllm:      the same adapter over vLLM's own `KVCacheManager`/`BlockPool`/`Request`,
- ours/tree: `TreeCache` (our KsanaLLM reimplementation),
- ours/radix: `RadixPrefixCache` (our SGLang RadixCache reimplementation, pages of BLOCK tokens).

Workloads: `chat` (multi-turn conversations on a few shared system prompts; a turn's prompt is
the whole conversation so far, released when the previous turn finishes), `fewshot` (a few long
few-shot templates, short questions and answers), `tot` (agentic tree of thought: branches that
continue their parent's answer), `random` (unrelated prompts: the no-hit baseline). Hit rate = prompt tokens whose prefill was skipped / prompt tokens admitted.
Memory (in blocks of BLOCK tokens; a radix "block" is a page of BLOCK slots), read through each
adapter's read-only accessors at the end of every scheduler step, outside the timed calls:
used = blocks referenced by running requests (`num_used_blocks`), cached_unreferenced = blocks
holding cached KV that no request references, i.e. what the cache keeps beyond the running
requests' needs (`num_cached_unreferenced_blocks`), held = their sum; mean and peak over steps;
index entries = the cache's own bookkeeping (`num_index_entries`: hash-map entries for vLLM,
tree nodes for KsanaLLM, radix nodes for SGLang), peak and at the end.
Speed = cache operations (match, allocate, commit, free) per second of time spent inside the
cache, best of --repeat interleaved replays; ratio = ours / vLLM's. ours/hash and vllm must make
identical decisions on every trace (checked: same number of operations, same results).

Then the full differential oracle: --oracle-traces seeded random traces (tests/oracle).
Everything printed comes from this one run; a JSON copy goes to bench/out/prefix_cache.json
(or --out).
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import pickle
import random
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ORACLE = REPO / "tests" / "oracle"
BLOCK = 16


# --------------------------------------------------------------------------- workloads
class Job:
    """One request: prompt, the tokens it will generate, and what is released when it ends."""

    __slots__ = ("rid", "tokens", "out", "produced", "computed", "then")

    def __init__(self, rid: str, prompt: list[int], out: list[int], then=None):
        self.rid, self.tokens, self.out, self.then = rid, list(prompt), out, then
        self.produced = self.computed = 0


def words(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(32000) for _ in range(n)]


def chat(seed: int = 1) -> tuple[list[Job], int]:
    rng = random.Random(seed)
    systems = [words(rng, rng.randint(300, 700)) for _ in range(4)]
    first = []
    for c in range(64):
        system = rng.choice(systems)
        turns = [(words(rng, rng.randint(20, 120)), words(rng, rng.randint(30, 150))) for _ in range(rng.randint(2, 6))]
        nxt = None
        for t in reversed(range(len(turns))):
            prompt = list(system)
            for user, answer in turns[:t]:
                prompt += user + answer
            prompt += turns[t][0]
            nxt = Job(f"c{c}t{t}", prompt, turns[t][1], then=nxt)
        first.append(nxt)
    return first, 1024


def fewshot(seed: int = 2) -> tuple[list[Job], int]:
    rng = random.Random(seed)
    templates = [words(rng, rng.randint(800, 1500)) for _ in range(3)]
    jobs = [Job(f"f{i}", rng.choice(templates) + words(rng, rng.randint(10, 60)), words(rng, rng.randint(5, 30)))
            for i in range(400)]
    return jobs, 320


def random_prompts(seed: int = 3) -> tuple[list[Job], int]:
    rng = random.Random(seed)
    jobs = [Job(f"r{i}", words(rng, rng.randint(100, 1000)), words(rng, rng.randint(10, 120))) for i in range(300)]
    return jobs, 768


def tree_of_thought(seed: int = 4) -> tuple[list[Job], int]:
    """Agentic tree of thought: per problem a root request, then 3 branches continuing its answer,
    then 3 branches of each (13 requests a problem); a node's prompt is its parent's prompt plus
    the parent's output plus a short instruction, released when the parent finishes."""
    rng = random.Random(seed)
    system = words(rng, 400)

    def node(rid: str, prompt: list[int], depth: int) -> Job:
        out = words(rng, rng.randint(40, 90))
        kids = tuple(node(f"{rid}.{b}", prompt + out + words(rng, rng.randint(10, 30)), depth + 1)
                     for b in range(3)) if depth < 2 else None
        return Job(rid, prompt, out, then=kids)

    return [node(f"t{i}", system + words(rng, rng.randint(100, 300)), 0) for i in range(16)], 768


WORKLOADS = {"chat": chat, "fewshot": fewshot, "tot": tree_of_thought, "random": random_prompts}


# --------------------------------------------------------------------------- replay
class Timed:
    """Counts and times the calls that reach the cache."""

    def __init__(self, cache):
        self.cache, self.seconds, self.calls = cache, 0.0, 0
        self.digest = hashlib.sha256()

    def _call(self, name, *args):
        t = time.perf_counter()
        result = getattr(self.cache, name)(*args)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        self.digest.update(repr(result).encode())
        return result

    def match(self, *a):
        return self._call("match", *a)

    def allocate(self, *a):
        return self._call("allocate", *a)

    def commit(self, *a):
        return self._call("commit", *a)

    def free(self, *a):
        return self._call("free", *a)

    def memory(self) -> tuple[int, int, int]:
        """Untimed read of the cache's state: (blocks referenced by requests, cached blocks no
        request references, bookkeeping entries), through the adapters' read-only accessors."""
        c = self.cache
        return c.num_used_blocks, c.num_cached_unreferenced_blocks, c.num_index_entries


def summarize_memory(samples: list[tuple[int, int, int]]) -> dict:
    """Mean and peak over per-step samples (taken at the end of every scheduler step)."""
    used, idle, entries = (list(col) for col in zip(*samples))
    held = [u + i for u, i in zip(used, idle)]
    return {"samples": len(samples),
            "used_blocks_mean": sum(used) / len(used), "used_blocks_peak": max(used),
            "cached_unreferenced_blocks_mean": sum(idle) / len(idle),
            "cached_unreferenced_blocks_peak": max(idle),
            "held_blocks_mean": sum(held) / len(held), "held_blocks_peak": max(held),
            "index_entries_peak": max(entries), "index_entries_end": entries[-1]}


def replay(cache, jobs: list[Job], budget: int = 4096, max_running: int = 48) -> dict:
    """Continuous batching: running requests first (decode or next prefill chunk), then waiting
    ones while budget and blocks last; a failed allocation preempts the newest running request
    (and, as in vLLM, no waiting request is admitted in a step that preempted)."""
    jobs = [_copy(j) for j in jobs]
    waiting = deque(jobs)
    running: list[Job] = []
    admitted = saved = preemptions = steps = 0
    samples: list[tuple[int, int, int]] = []
    while waiting or running:
        steps += 1
        left, scheduled, preempted = budget, {}, False
        for job in list(running):
            if job not in running:
                continue
            n = min(len(job.tokens) - job.computed, left)
            while cache.allocate(job.rid, job.tokens, n) is None:
                victim = running.pop()
                cache.free(victim.rid)
                victim.computed = 0
                left += scheduled.pop(victim.rid, (None, 0))[1]
                waiting.appendleft(victim)
                preemptions += 1
                preempted = True
                if victim is job:
                    break
            else:
                scheduled[job.rid] = (job, n)
                left -= n
        while waiting and len(running) < max_running and left > 0 and not preempted:  # as vLLM's scheduler
            job = waiting[0]
            hit = cache.match(job.rid, job.tokens)
            n = min(len(job.tokens) - hit.num_computed_tokens, left)
            if cache.allocate(job.rid, job.tokens, n) is None:
                break
            waiting.popleft()
            admitted += len(job.tokens)
            saved += hit.num_computed_tokens
            job.computed = hit.num_computed_tokens
            running.append(job)
            scheduled[job.rid] = (job, n)
            left -= n
        if not scheduled:
            raise RuntimeError("nothing could be scheduled: the cache is too small for one request")
        for job, n in scheduled.values():
            job.computed += n
            done = False
            if job.computed == len(job.tokens):
                job.tokens.append(job.out[job.produced])
                job.produced += 1
                done = job.produced == len(job.out)
            cache.commit(job.rid, job.tokens, job.computed)
            if done:
                cache.free(job.rid)
                running.remove(job)
                for nxt in job.then if isinstance(job.then, tuple) else (job.then,) if job.then else ():
                    waiting.append(_copy(nxt))
        if hasattr(cache, "memory"):
            samples.append(cache.memory())
    result = {"admitted_prompt_tokens": admitted, "prefill_tokens_saved": saved,
              "hit_rate": saved / admitted if admitted else 0.0, "preemptions": preemptions, "steps": steps}
    if samples:
        result["memory"] = summarize_memory(samples)
    return result


def _copy(job: Job) -> Job:
    return Job(job.rid, job.tokens, job.out, job.then)


def pickle_sha256(parent, tokens):
    """vLLM's default block hash exactly (sha256 of a pickle of parent, tokens, extra keys):
    ours/hash+pickle shows how much of the speed-up is only the cheaper hash input."""
    return hashlib.sha256(pickle.dumps((parent, tuple(tokens), None), protocol=pickle.HIGHEST_PROTOCOL)).digest()


def run_cache(kind: str, jobs: list[Job], num_blocks: int):
    from infernav.reimpl.prefix_cache import HashChainCache, TreeCache
    from infernav.reimpl.prefix_cache.radix import RadixPrefixCache
    from sides import RealHashChainCache

    make = {"ours/hash": lambda: HashChainCache(num_blocks + 1, BLOCK),
            "ours/hash+pickle": lambda: HashChainCache(num_blocks + 1, BLOCK, hash_fn=pickle_sha256),
            "vllm": lambda: RealHashChainCache(num_blocks + 1, BLOCK),
            "ours/tree": lambda: TreeCache(num_blocks, BLOCK),
            "ours/radix": lambda: RadixPrefixCache(num_blocks, BLOCK)}[kind]
    timed = Timed(make())
    gc.collect()
    result = replay(timed, jobs)
    result.update(ops=timed.calls, seconds=timed.seconds, ops_per_second=timed.calls / timed.seconds,
                  digest=timed.digest.hexdigest())
    return result


# --------------------------------------------------------------------------- main
def inner(args) -> int:
    sys.path.insert(0, str(ORACLE))
    import bootstrap

    bootstrap.setup(args.vllm_root)
    import differential
    from sides import OurSide, RealSide

    RealSide(2, 1, 8)  # import vLLM before any timing
    kinds = ["ours/hash", "ours/hash+pickle", "vllm", "ours/tree", "ours/radix"]
    report = {"workloads": {}, "block_size": BLOCK, "repeat": args.repeat}
    print(f"{'workload':9} {'cache':16} {'hit rate':>8} {'preempt':>7} {'ops':>7} {'ops/s':>9} {'vs vLLM':>8}")
    for name, make in WORKLOADS.items():
        jobs, num_blocks = make()
        if args.quick:
            jobs = jobs[: max(1, len(jobs) // 8)]
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for kind in kinds:
                r = run_cache(kind, jobs, num_blocks)
                if kind not in best or r["seconds"] < best[kind]["seconds"]:
                    best[kind] = r
        same = (best["ours/hash"]["digest"] == best["vllm"]["digest"]
                and best["ours/hash"]["ops"] == best["vllm"]["ops"])
        vllm_rate = best["vllm"]["ops_per_second"]
        for kind in kinds:
            r = best[kind]
            r["speed_vs_vllm"] = r["ops_per_second"] / vllm_rate
            print(f"{name:9} {kind:16} {r['hit_rate']:8.1%} {r['preemptions']:7d} {r['ops']:7d} "
                  f"{r['ops_per_second']:9.0f} {r['speed_vs_vllm']:8.2f}")
        for kind in kinds:
            m = best[kind]["memory"]
            print(f"{'':9} {kind:16} memory: used mean/peak {m['used_blocks_mean']:.0f}/{m['used_blocks_peak']}, "
                  f"cached unreferenced mean/peak {m['cached_unreferenced_blocks_mean']:.0f}/"
                  f"{m['cached_unreferenced_blocks_peak']}, index entries peak/end "
                  f"{m['index_entries_peak']}/{m['index_entries_end']}")
        same_memory = best["ours/hash"]["memory"] == best["vllm"]["memory"]
        report["workloads"][name] = {"num_blocks": num_blocks, "ours_hash_identical_to_vllm": same,
                                     "ours_hash_memory_identical_to_vllm": same_memory, **best}
        print(f"{'':9} {num_blocks} blocks of {BLOCK}; ours/hash and vllm returned "
              + ("identical results on every call" if same else "DIFFERENT results (a bug: run the oracle)"))
    if args.oracle_traces:
        seeds = list(range(args.oracle_traces))
        result = differential.run(seeds, [RealSide, OurSide], show=3)
        report["oracle"] = result
        print(f"\noracle: {result['disagreements']} disagreements over {result['traces']} traces "
              f"(seeds 0..{args.oracle_traces - 1}), {result['calls_compared']} calls compared, "
              f"{result['seconds']} s; coverage {result['coverage']}")
    out = Path(args.out) if args.out else HERE / "out" / "prefix_cache.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--oracle-traces", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="an eighth of each workload (smoke run)")
    ap.add_argument("--out", help="JSON of the run (default bench/out/prefix_cache.json; bench/results/ for a reference run)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--vllm-root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    sys.path.insert(0, str(ORACLE))
    import build_venv

    try:
        stamp = build_venv.ensure(quiet=False)
    except build_venv.OracleSetupError as exc:
        print(f"cannot run the benchmark: {exc}", file=sys.stderr)
        return 1
    cmd = [stamp["python"], __file__, "--inner", "--vllm-root", stamp["vllm_root"],
           "--repeat", str(args.repeat), "--oracle-traces", str(args.oracle_traces)] + (["--quick"] if args.quick else []) \
        + (["--out", str(Path(args.out).resolve())] if args.out else [])
    return subprocess.call(cmd, env=build_venv.oracle_env())


if __name__ == "__main__":
    sys.exit(main())
