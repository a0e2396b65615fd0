"""Differential oracle for the scheduler: our `VllmScheduler` against the real vLLM 0.14.1 v1
`Scheduler`, step by step, over seeded random traces.

    .oracle-venv/bin/python tests/oracle/scheduler_differential.py --vllm-root DIR --seeds 0:500 \
        [--family F] [--mutate NAME|all]

Each seed draws a configuration (block size, pool size, `max_num_seqs`, `max_num_batched_tokens`,
`max_model_len`, long-prefill threshold, chunked prefill, prefix caching on/off, FCFS or priority)
and a stream of requests (prompts from a few shared templates over a tiny vocabulary, so prefixes
are shared; random `max_tokens`, `min_tokens`, stop tokens, `ignore_eos`, priorities; arrivals
spread over the steps; aborts; prefix-cache resets). Both schedulers get the same calls; the
"model" is fake: each scheduled request whose scheduled tokens reach its end gets one token drawn
from the trace's generator (sometimes EOS or a stop token), the same on both sides
(sched_sides.py builds the two).

Per step the comparison covers: scheduled ids and token counts (in order), new / resumed /
running / preempted / finished ids; then, from `update_from_output`, the finished ids, every
output (new tokens, finish reason, stop reason, cached tokens), the `SchedulerStats` (running,
waiting, KV usage, the step's `PrefixCacheStats`) and the KV cache events published (hashes
paired one to one over the trace); then the queues in order, the free-block queue in order, the
hash map (groups of block ids under one hash), each running request's blocks and progress,
statuses, preemption counts and the finish reason of every request that has left (aborted ones
included). The first difference ends the trace.

Families (FAMILIES): `base`; `chunked-off`; `multi-abort` (several ids per abort call, with
duplicates, finished and unknown ids); `abort-mid-step` (aborts between `schedule` and
`update_from_output`); `over-long` (prompts longer than `max_model_len`); `long-prompts` (more
than 9 blocks); `configs` (random configurations, some of which vLLM rejects: both sides must
reject the same ones, and the accepted ones are played). Prints one JSON object on its last line.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sched_sides import EOS  # noqa: E402

VOCAB = list(range(3, 11))  # tiny: unrelated prompts still share blocks
STOP_TOKEN = 10  # drawn more often than the rest when a request stops on it
MAX_STEPS = 3000
FAMILIES = ["base", "chunked-off", "multi-abort", "abort-mid-step", "over-long", "long-prompts", "configs"]
COVERAGE = ["preemptions", "priority_preemptions", "prefix_hits", "chunked_prefills", "head_of_line_blocks",
            "aborts", "multi_id_aborts", "mid_step_aborts", "eos_stops", "stop_token_stops", "length_stops",
            "resumed", "resets", "events", "over_long_prompts", "long_prompts", "configs_rejected",
            "vllm_assertions", "cut_at_max_steps"]


class Disagreement(Exception):
    pass


class BothFailed(Exception):
    """Both sides raised the same exception class at the same call: the trace ends, agreeing."""


def both(step: int, what: str, fa, fb):
    """Call each side; the same exception class on both ends the trace (BothFailed)."""
    errs, vals = [], []
    for f in (fa, fb):
        try:
            vals.append(f())
            errs.append(None)
        except (AssertionError, ValueError, RuntimeError) as exc:
            vals.append(None)
            errs.append(exc)
    if errs[0] is not None or errs[1] is not None:
        if type(errs[0]) is not type(errs[1]):
            raise Disagreement(f"step {step}: {what} raised vllm={errs[0]!r} ours={errs[1]!r}")
        raise BothFailed(f"step {step}: {what}: {type(errs[0]).__name__}")
    return vals


# ----------------------------------------------------------------------------- trace
def draw_config(rng: random.Random, family: str = "base") -> dict:
    block_size = rng.choice([1, 2, 4, 4, 8, 16] if family != "long-prompts" else [2, 4, 4, 8])
    max_model_len = rng.choice([32, 64, 96, 128] if family != "long-prompts" else [128, 256])
    min_blocks = -(-max_model_len // block_size) + 1  # one request always fits (+ the null block)
    num_blocks = rng.randint(min_blocks, min_blocks * rng.choice([1, 2, 3]))
    max_num_seqs = rng.randint(1, 8)
    chunked = family != "chunked-off" and not (family == "configs" and rng.random() < 0.5)
    budgets = [8, 16, 32, 64, 128, 256]
    if not chunked and family != "configs":  # vLLM wants budget >= max_model_len without chunking
        budgets = [b for b in budgets + [max_model_len] if b >= max_model_len]
    max_num_batched_tokens = max(max_num_seqs, rng.choice(budgets))
    thr = rng.choice([0, 0, rng.randint(1, max_num_batched_tokens)])
    cfg = dict(block_size=block_size, num_blocks=num_blocks, max_num_seqs=max_num_seqs,
               max_num_batched_tokens=max_num_batched_tokens, max_model_len=max_model_len,
               long_prefill_token_threshold=thr, enable_prefix_caching=rng.random() < 0.8,
               policy=rng.choice(["fcfs", "fcfs", "priority"]), enable_chunked_prefill=chunked)
    if family == "configs":  # some of what vLLM rejects
        bad = rng.choice(["none", "none", "seqs0", "budget0", "budget<seqs", "blocks0", "nochunk<len"])
        if bad == "seqs0":
            cfg["max_num_seqs"] = 0
        elif bad == "budget0":
            cfg["max_num_batched_tokens"] = 0
        elif bad == "budget<seqs":
            cfg["max_num_seqs"] = cfg["max_num_batched_tokens"] + rng.randint(1, 4)
        elif bad == "blocks0":
            cfg["num_blocks"] = 0
        elif bad == "nochunk<len":
            cfg.update(enable_chunked_prefill=False, max_num_batched_tokens=rng.randint(1, max_model_len - 1),
                       max_num_seqs=1)
    return cfg


def draw_requests(rng: random.Random, cfg: dict, family: str = "base") -> list[dict]:
    L, B = cfg["max_model_len"], cfg["block_size"]
    lo = 10 * B + 1 if family == "long-prompts" else 1
    templates = [[rng.choice(VOCAB) for _ in range(rng.randint(lo, L - 2))] for _ in range(rng.randint(1, 4))]
    reqs = []
    step = 0
    p_abort = {"multi-abort": 0.3, "abort-mid-step": 0.3}.get(family, 0.08)
    for i in range(rng.randint(3, 30)):
        step += rng.choice([0, 0, 0, 1, 2, 5])
        base = rng.choice(templates)
        plen = rng.randint(lo, L - 1)
        if family == "over-long" and rng.random() < 0.4:
            plen = rng.randint(L, L + L // 2)
        prompt = (base[:rng.randint(0, len(base))] + [rng.choice(VOCAB) for _ in range(plen)])[:plen]
        max_tokens = rng.randint(1, max(1, L - plen if family != "long-prompts" else min(24, L - plen)))
        abort = (step + rng.randint(0, 40)) if rng.random() < p_abort or plen >= L else None
        reqs.append(dict(rid=f"r{i}", prompt=prompt, max_tokens=max_tokens, priority=rng.choice([0, 0, 1, 2]),
                         arrival_step=step, abort_step=abort,
                         min_tokens=rng.choice([0, 0, 0, rng.randint(0, max_tokens)]),
                         stop_token_ids=rng.choice([(), (), (STOP_TOKEN,), (STOP_TOKEN, 7)]),
                         ignore_eos=rng.random() < 0.1))
    return reqs


def build(cls, cfg: dict, *args):
    """A side, or the exception class name it rejected the configuration with."""
    try:
        return cls(cfg, *args), None
    except (ValueError, AssertionError) as exc:  # pydantic's ValidationError is a ValueError
        return None, type(exc).__name__


# ----------------------------------------------------------------------------- driving
def check(step: int, what: str, a, b) -> None:
    if a != b:
        if isinstance(a, dict):
            a, b = ({k: v for k, v in a.items() if v != b.get(k)}, {k: v for k, v in b.items() if v != a.get(k)})
        raise Disagreement(f"step {step}: {what} vllm={a} ours={b}")


class EventPairing:
    """Event hashes differ between the sides (pickle vs struct before sha256): one to one."""

    def __init__(self):
        self.fwd, self.back = {}, {}

    def compare(self, step: int, real: list, ours: list) -> None:
        check(step, "KV event kinds", [e[0] for e in real], [e[0] for e in ours])
        for r, o in zip(real, ours):
            hr = r[1] + ([r[2]] if r[2] is not None else [])
            ho = o[1] + ([o[2]] if o[2] is not None else [])
            if r[3:] != o[3:] or len(hr) != len(ho) or (r[2] is None) != (o[2] is None):
                raise Disagreement(f"step {step}: KV event vllm={r} ours={o}")
            for a, b in zip(hr, ho):
                if self.fwd.setdefault(a, b) != b or self.back.setdefault(b, a) != a:
                    raise Disagreement(f"step {step}: KV event hashes do not pair one to one: vllm={r} ours={o}")


def abort_ids(rng: random.Random, family: str, due: list[str], alive: set[str], known: list[str]):
    """What one abort call names: one id as a str, or (multi-abort) a list with extras."""
    if family != "multi-abort" or rng.random() < 0.2:
        return [[rid] if rng.random() < 0.5 else rid for rid in due]
    extra = rng.sample(sorted(alive), min(len(alive), rng.randint(0, 3)))
    extra += rng.sample(known, min(len(known), rng.randint(0, 2))) + (["nope"] if rng.random() < 0.2 else [])
    ids = due + extra + (due[:1] if rng.random() < 0.3 else [])
    rng.shuffle(ids)
    return [ids]


def play(seed: int, family: str = "base", mutate=None, real_cls=None) -> dict:
    cov = dict.fromkeys(COVERAGE, 0)
    try:
        return _play(seed, family, mutate, real_cls, cov)
    except BothFailed:
        cov["vllm_assertions"] += 1
        return dict(steps=cov.pop("_steps", 0), coverage=cov)


def _play(seed: int, family: str, mutate, real_cls, cov: dict) -> dict:
    from sched_sides import Ours, Real
    rng = random.Random(seed)
    cfg = draw_config(rng, family)
    reqs = draw_requests(rng, cfg, family)
    p_eos = rng.choice([0.0, 0.05, 0.2])
    (real, ra), (ours, oa) = build(real_cls or Real, cfg), build(Ours, cfg, mutate)
    if (ra is None) != (oa is None):
        raise Disagreement(f"config {cfg}: vllm {'rejects' if ra else 'accepts'} ({ra}), ours "
                           f"{'rejects' if oa else 'accepts'} ({oa})")
    if ra is not None:
        cov["configs_rejected"] += 1
        cov.pop("_steps", None)
        return dict(steps=0, coverage=cov, config=cfg)
    cov["over_long_prompts"] = sum(len(r["prompt"]) >= cfg["max_model_len"] for r in reqs)
    cov["long_prompts"] = sum(len(r["prompt"]) > 9 * cfg["block_size"] for r in reqs)
    pending, aborts, pairing = list(reqs), {}, EventPairing()
    for r in reqs:
        if r["abort_step"] is not None:
            aborts.setdefault(r["abort_step"], []).append(r["rid"])
    alive: set[str] = set()
    known: list[str] = []
    steps = 0
    for step in range(MAX_STEPS):
        while pending and pending[0]["arrival_step"] <= step:
            r = pending.pop(0)
            for side in (real, ours):
                side.add(r, arrival_time=float(step) + int(r["rid"][1:]) * 1e-3)
            alive.add(r["rid"])
            known.append(r["rid"])
        due = [rid for rid in aborts.get(step, ()) if rid in alive]
        mid_step = family == "abort-mid-step" and rng.random() < 0.7
        if due and not mid_step:
            do_aborts(rng, family, due, alive, known, real, ours, cov)
        if rng.random() < 0.01:
            running = rng.random() < 0.5
            check(step, "reset_prefix_cache", real.reset(running), ours.reset(running))
            cov["resets"] += 1
        if not pending and not alive:
            break
        steps += 1
        cov["_steps"] = steps
        a, b = both(step, "schedule", real.schedule, ours.schedule)
        check(step, "schedule", a, b)
        sampled = sample(step, rng, a, real, ours, p_eos, cov)
        if due and mid_step:
            do_aborts(rng, family, due, alive, known, real, ours, cov)
            cov["mid_step_aborts"] += 1
        ua, ub = both(step, "update_from_output", lambda: real.update(sampled), lambda: ours.update(sampled))
        cov["events"] += len(ua["events"])
        pairing.compare(step, ua.pop("events"), ub.pop("events"))
        check(step, "update_from_output", ua, ub)
        count(ua, sampled, alive, cov)
        sa, sb = real.state(), ours.state()
        check(step, "state", sa, sb)
        cov["preemptions"] += len(a["preempted"])
        cov["resumed"] += len(a["resumed"])
        if a["preempted"] and cfg["policy"] == "priority":
            cov["priority_preemptions"] += 1
        cov["prefix_hits"] += sum(1 for v in ours.last.num_cache_hit_tokens.values() if v > 0)
        if sa["waiting"] and not a["preempted"] and len(sa["running"]) < cfg["max_num_seqs"] \
                and sum(n for _, n in a["scheduled"]) < cfg["max_num_batched_tokens"]:
            cov["head_of_line_blocks"] += 1
    else:  # the sides agreed on every one of MAX_STEPS steps: the trace is cut there
        cov["cut_at_max_steps"] += 1
    cov.pop("_steps", None)
    return dict(steps=steps, coverage=cov, config=cfg)


def do_aborts(rng, family, due, alive, known, real, ours, cov) -> None:
    for ids in abort_ids(rng, family, due, alive, known):
        real.abort(ids)
        ours.abort(ids)
        cov["multi_id_aborts"] += not isinstance(ids, str) and len(ids) > 1
    for rid in list(alive):
        if rid in due or rid not in real.s.requests:
            alive.discard(rid)
    cov["aborts"] += len(due)


def sample(step, rng, a, real, ours, p_eos, cov) -> dict:
    sampled = {}
    for rid, _ in a["scheduled"]:
        sa, sb = real.needs_sample(rid), ours.needs_sample(rid)
        if sa != sb:
            raise Disagreement(f"step {step}: {rid} samples? vllm={sa} ours={sb}")
        if sa:
            u = rng.random()
            sampled[rid] = [EOS if u < p_eos else STOP_TOKEN if u < p_eos + 0.05 else rng.choice(VOCAB)]
        else:
            cov["chunked_prefills"] += 1
    return sampled


def count(ua: dict, sampled: dict, alive: set, cov: dict) -> None:
    for rid in ua["finished"]:
        alive.discard(rid)
    for rid, toks, reason, stop_reason, _ in ua["outputs"]:
        if reason == "stop":
            cov["stop_token_stops" if stop_reason is not None else "eos_stops"] += 1
        elif reason == "length":
            cov["length_stops"] += 1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vllm-root", required=True)
    ap.add_argument("--seeds", default="0:20", help="A:B or a comma list")
    ap.add_argument("--family", choices=FAMILIES + ["all"], default="base", help="'all': every family, same seeds")
    ap.add_argument("--mutate", default=None, help="a planted bug of sched_mutations.MUTATIONS, or 'all'")
    ap.add_argument("--show", type=int, default=3)
    args = ap.parse_args()
    os.environ["PYTHONPATH"] = args.vllm_root  # vLLM inspects the model class in a subprocess
    import bootstrap
    bootstrap.setup(args.vllm_root)
    import sched_mutations
    from traces import parse_seeds
    seeds = parse_seeds(args.seeds)
    if args.mutate == "all":
        result = {"mutations": {}}
        for name, (family, _) in sched_mutations.MUTATIONS.items():
            with sched_mutations.planted(name) as mut:
                result["mutations"][name] = run(seeds, family, mut, args.show, True)
    elif args.mutate:
        with sched_mutations.planted(args.mutate) as mut:
            result = run(seeds, args.family, mut, args.show)
        result.update(mutation=args.mutate)
    elif args.family == "all":
        result = {"families": {f: run(seeds, f, None, args.show) for f in FAMILIES}}
    else:
        result = run(seeds, args.family, None, args.show)
    print(json.dumps(result))
    return 0


def run(seeds: list[int], family: str, mutate, show: int, stop_at_first: bool = False) -> dict:
    start = time.monotonic()
    res = dict(traces=0, disagreements=0, steps_compared=0, first=None, coverage=dict.fromkeys(COVERAGE, 0),
               disagreeing_seeds=[], family=family)
    for seed in seeds:
        res["traces"] += 1
        try:
            r = play(seed, family, mutate)
        except Disagreement as exc:
            res["disagreements"] += 1
            if len(res["disagreeing_seeds"]) < max(show, 1):
                res["disagreeing_seeds"].append(seed)
            if res["first"] is None:
                res["first"] = dict(seed=seed, what=str(exc)[:1500], config=draw_config(random.Random(seed), family))
            if stop_at_first:
                break
            continue
        res["steps_compared"] += r["steps"]
        for k, v in r["coverage"].items():
            res["coverage"][k] += v
    res["seed_list"] = seeds[:res["traces"]]
    res["seconds"] = round(time.monotonic() - start, 1)
    return res


if __name__ == "__main__":
    sys.exit(main())
