"""Differential oracle for the scheduler: our `VllmScheduler` against the real vLLM 0.14.1 v1
`Scheduler`, step by step, over seeded random traces.

    .oracle-venv/bin/python tests/oracle/scheduler_differential.py --vllm-root DIR --seeds 0:500 [--mutate NAME]

Each seed draws a configuration (block size, pool size, `max_num_seqs`, `max_num_batched_tokens`,
`max_model_len`, long-prefill threshold, prefix caching on/off, FCFS or priority policy) and a
stream of requests (prompts built from a few shared templates over a tiny vocabulary, so prefixes
are shared; random `max_tokens`, priorities; arrivals spread over the steps; a few aborts). Both
schedulers get the same calls; the "model" is fake: each scheduled request whose scheduled tokens
reach its end gets one token drawn from the trace's generator (sometimes EOS), the same on both
sides. The real scheduler is built as vLLM's own tests build one on CPU: a hand-written offline
Llama `config.json` (no weights), `KVCacheConfig` with one full-attention group.

Per step the comparison covers: scheduled request ids and token counts (in order), new / resumed /
already-running ids, preempted ids, finished ids, then the waiting and running queues in order,
each running request's block ids and progress, and the free block count. The first difference
ends the trace. Prints one JSON object on its last line.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

EOS = 2
VOCAB = list(range(3, 11))  # tiny: unrelated prompts still share blocks
MAX_STEPS = 3000


class Disagreement(Exception):
    pass


# ----------------------------------------------------------------------------- trace
def draw_config(rng: random.Random) -> dict:
    block_size = rng.choice([1, 2, 4, 4, 8, 16])
    max_model_len = rng.choice([32, 64, 96, 128])
    min_blocks = -(-max_model_len // block_size) + 1  # one request always fits (+ the null block)
    num_blocks = rng.randint(min_blocks, min_blocks * rng.choice([1, 2, 3]))
    max_num_seqs = rng.randint(1, 8)
    max_num_batched_tokens = max(max_num_seqs, rng.choice([8, 16, 32, 64, 128, 256]))
    thr = rng.choice([0, 0, rng.randint(1, max_num_batched_tokens)])
    return dict(block_size=block_size, num_blocks=num_blocks, max_num_seqs=max_num_seqs,
                max_num_batched_tokens=max_num_batched_tokens, max_model_len=max_model_len,
                long_prefill_token_threshold=thr, enable_prefix_caching=rng.random() < 0.8,
                policy=rng.choice(["fcfs", "fcfs", "priority"]))


def draw_requests(rng: random.Random, cfg: dict) -> list[dict]:
    L = cfg["max_model_len"]
    templates = [[rng.choice(VOCAB) for _ in range(rng.randint(1, L - 2))] for _ in range(rng.randint(1, 4))]
    reqs = []
    step = 0
    for i in range(rng.randint(3, 30)):
        step += rng.choice([0, 0, 0, 1, 2, 5])
        base = rng.choice(templates)
        plen = rng.randint(1, L - 1)
        prompt = (base[:rng.randint(0, len(base))] + [rng.choice(VOCAB) for _ in range(L)])[:plen]
        reqs.append(dict(rid=f"r{i}", prompt=prompt, max_tokens=rng.randint(1, max(1, L - plen)),
                         priority=rng.choice([0, 0, 1, 2]), arrival_step=step,
                         abort_step=(step + rng.randint(0, 40)) if rng.random() < 0.08 else None))
    return reqs


# ----------------------------------------------------------------------------- the two sides
class Ours:
    def __init__(self, cfg: dict, mutate: str | None = None):
        from infernav.reimpl.scheduler import VllmScheduler
        self.s = VllmScheduler(**cfg)
        if mutate:
            MUTATIONS[mutate](self.s)

    def add(self, r: dict, arrival_time: float) -> None:
        self.s.add_request(r["rid"], r["prompt"], r["max_tokens"], eos_token_id=EOS, priority=r["priority"],
                           arrival_time=arrival_time)

    def abort(self, rid: str) -> None:
        self.s.finish_requests([rid])

    def schedule(self) -> dict:
        o = self.s.schedule()
        self.last = o
        return dict(scheduled=list(o.num_scheduled_tokens.items()), new=o.new_req_ids,
                    resumed=sorted(o.resumed_req_ids), running=o.running_req_ids,
                    preempted=sorted(o.preempted_req_ids), finished=sorted(o.finished_req_ids))

    def needs_sample(self, rid: str) -> bool:
        return self.s.needs_sample(rid)

    def update(self, sampled: dict[str, list[int]]) -> list[str]:
        return sorted(self.s.update_from_output(self.last, sampled))

    def state(self) -> dict:
        s = self.s
        return dict(waiting=s.waiting_ids(), running=s.running_ids(), free=s.num_free_blocks,
                    blocks={r.request_id: s.kv_cache_manager.get_block_ids(r.request_id) for r in s.running},
                    computed={r.request_id: r.num_computed_tokens for r in s.running},
                    preemptions={rid: r.num_preemptions for rid, r in s.requests.items()})


_MODEL_CONFIGS: dict = {}


def model_config(max_model_len: int):
    """One offline ModelConfig per max_model_len (building one inspects the architecture in a
    subprocess, which is the slow part)."""
    if max_model_len not in _MODEL_CONFIGS:
        from vllm.config import ModelConfig
        d = tempfile.mkdtemp(prefix="infernav-sched-model-")
        Path(d, "config.json").write_text(json.dumps({
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
            "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4,
            "num_hidden_layers": 1, "vocab_size": 1000, "max_position_embeddings": 65536,
            "rms_norm_eps": 1e-5, "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": EOS}))
        _MODEL_CONFIGS[max_model_len] = ModelConfig(model=d, tokenizer=d, skip_tokenizer_init=True,
                                                    dtype="float32", seed=0, max_model_len=max_model_len)
    return _MODEL_CONFIGS[max_model_len]


class Real:
    def __init__(self, cfg: dict):
        import torch
        from vllm.config import CacheConfig, SchedulerConfig, VllmConfig
        from vllm.sampling_params import SamplingParams
        from vllm.utils.hashing import sha256
        from vllm.v1.core.kv_cache_utils import get_request_block_hasher, init_none_hash
        from vllm.v1.core.sched.scheduler import Scheduler
        from vllm.v1.kv_cache_interface import FullAttentionSpec, KVCacheConfig, KVCacheGroupSpec
        from vllm.v1.outputs import ModelRunnerOutput
        from vllm.v1.request import Request
        from vllm.v1.structured_output import StructuredOutputManager

        self.SamplingParams, self.Request, self.MRO = SamplingParams, Request, ModelRunnerOutput
        B = cfg["block_size"]
        init_none_hash(sha256)
        self.hasher = get_request_block_hasher(B, sha256)
        sc = SchedulerConfig(max_num_seqs=cfg["max_num_seqs"], max_num_batched_tokens=cfg["max_num_batched_tokens"],
                             max_model_len=cfg["max_model_len"],
                             long_prefill_token_threshold=cfg["long_prefill_token_threshold"],
                             enable_chunked_prefill=True, policy=cfg["policy"], is_encoder_decoder=False)
        cc = CacheConfig(block_size=B, gpu_memory_utilization=0.9, cache_dtype="auto",
                         enable_prefix_caching=cfg["enable_prefix_caching"])
        vc = VllmConfig(scheduler_config=sc, model_config=model_config(cfg["max_model_len"]), cache_config=cc)
        kc = KVCacheConfig(num_blocks=cfg["num_blocks"], kv_cache_tensors=[], kv_cache_groups=[
            KVCacheGroupSpec(["layer"], FullAttentionSpec(block_size=B, num_kv_heads=1, head_size=1,
                                                          dtype=torch.float32))])
        cc.num_gpu_blocks = cfg["num_blocks"]
        self.s = Scheduler(vllm_config=vc, kv_cache_config=kc, log_stats=True,
                           structured_output_manager=StructuredOutputManager(vc), block_size=B)

    def add(self, r: dict, arrival_time: float) -> None:
        sp = self.SamplingParams(max_tokens=r["max_tokens"], ignore_eos=False)
        self.s.add_request(self.Request(request_id=r["rid"], prompt_token_ids=list(r["prompt"]), sampling_params=sp,
                                        pooling_params=None, eos_token_id=EOS, arrival_time=arrival_time,
                                        priority=r["priority"], block_hasher=self.hasher))

    def abort(self, rid: str) -> None:
        from vllm.v1.request import RequestStatus
        self.s.finish_requests([rid], RequestStatus.FINISHED_ABORTED)

    def schedule(self) -> dict:
        o = self.last = self.s.schedule()
        cached = o.scheduled_cached_reqs
        return dict(scheduled=list(o.num_scheduled_tokens.items()), new=[r.req_id for r in o.scheduled_new_reqs],
                    resumed=sorted(cached.resumed_req_ids),
                    running=[r for r in cached.req_ids if r not in cached.resumed_req_ids],
                    preempted=sorted(o.preempted_req_ids or ()), finished=sorted(o.finished_req_ids))

    def needs_sample(self, rid: str) -> bool:
        r = self.s.requests[rid]
        return r.num_computed_tokens >= r.num_tokens

    def update(self, sampled: dict[str, list[int]]) -> list[str]:
        ids = list(self.last.num_scheduled_tokens)
        out = self.MRO(req_ids=ids, req_id_to_index={r: i for i, r in enumerate(ids)},
                       sampled_token_ids=[sampled.get(r, []) for r in ids], logprobs=None,
                       prompt_logprobs_dict={}, pooler_output=[])
        before = set(self.s.requests)
        self.s.update_from_output(self.last, out)
        return sorted(r for r in before if r not in self.s.requests and r in sampled)

    def state(self) -> dict:
        s = self.s
        return dict(waiting=[r.request_id for r in (sorted(s.waiting) if s.policy.value == "priority" else s.waiting)],
                    running=[r.request_id for r in s.running],
                    free=s.kv_cache_manager.block_pool.get_num_free_blocks(),
                    blocks={r.request_id: list(s.kv_cache_manager.get_block_ids(r.request_id)[0]) for r in s.running},
                    computed={r.request_id: r.num_computed_tokens for r in s.running},
                    preemptions={rid: r.num_preemptions for rid, r in s.requests.items()})


# ----------------------------------------------------------------------------- planted bugs
def _mutate_victim_first(s) -> None:
    """Preempt the oldest running request instead of the newest."""
    class Front(list):
        def pop(self, i=0):
            return list.pop(self, 0)
    orig = s.schedule

    def schedule():
        s.running = Front(s.running)
        try:
            return orig()
        finally:
            s.running = list(s.running)
    s.schedule = schedule


def _mutate_no_threshold(s) -> None:
    """Ignore long_prefill_token_threshold."""
    s.long_prefill_token_threshold = 0


def _mutate_tail_requeue(s) -> None:
    """Put preempted requests at the tail of the waiting queue instead of the head."""
    s.waiting.prepend = s.waiting.add


MUTATIONS = {"victim-oldest": _mutate_victim_first, "no-threshold": _mutate_no_threshold,
             "requeue-at-tail": _mutate_tail_requeue}

COVERAGE = ["preemptions", "priority_preemptions", "prefix_hits", "chunked_prefills",
            "head_of_line_blocks", "aborts", "eos_stops", "length_stops", "resumed"]


# ----------------------------------------------------------------------------- driving
def play(seed: int, mutate: str | None = None, real_cls=Real) -> dict:
    rng = random.Random(seed)
    cfg = draw_config(rng)
    reqs = draw_requests(rng, cfg)
    p_eos = rng.choice([0.0, 0.05, 0.2])
    real, ours = real_cls(cfg), Ours(cfg, mutate)
    cov = dict.fromkeys(COVERAGE, 0)
    pending = list(reqs)
    aborts = {}
    for r in reqs:
        if r["abort_step"] is not None:
            aborts.setdefault(r["abort_step"], []).append(r["rid"])
    alive: set[str] = set()
    steps = 0
    for step in range(MAX_STEPS):
        while pending and pending[0]["arrival_step"] <= step:
            r = pending.pop(0)
            for side in (real, ours):
                side.add(r, arrival_time=float(step) + int(r["rid"][1:]) * 1e-3)
            alive.add(r["rid"])
        for rid in aborts.get(step, ()):
            if rid in alive:
                real.abort(rid)
                ours.abort(rid)
                alive.discard(rid)
                cov["aborts"] += 1
        if not pending and not alive:
            break
        steps += 1
        a, b = real.schedule(), ours.schedule()
        if a != b:
            raise Disagreement(f"step {step}: schedule vllm={a} ours={b}")
        sampled = {}
        for rid, n in a["scheduled"]:
            sa, sb = real.needs_sample(rid), ours.needs_sample(rid)
            if sa != sb:
                raise Disagreement(f"step {step}: {rid} samples? vllm={sa} ours={sb}")
            if sa:
                sampled[rid] = [EOS if rng.random() < p_eos else rng.choice(VOCAB)]
            else:
                cov["chunked_prefills"] += 1
        fa, fb = real.update(sampled), ours.update(sampled)
        if fa != fb:
            raise Disagreement(f"step {step}: finished vllm={fa} ours={fb}")
        for rid in fa:
            alive.discard(rid)
            if sampled[rid][-1] == EOS:
                cov["eos_stops"] += 1
            else:
                cov["length_stops"] += 1
        sa, sb = real.state(), ours.state()
        if sa != sb:
            diff = {k: (sa[k], sb[k]) for k in sa if sa[k] != sb[k]}
            raise Disagreement(f"step {step}: state (vllm, ours) {diff}")
        cov["preemptions"] += len(a["preempted"])
        cov["resumed"] += len(a["resumed"])
        if a["preempted"] and cfg["policy"] == "priority":
            cov["priority_preemptions"] += 1
        hits = ours.last.num_cache_hit_tokens
        cov["prefix_hits"] += sum(1 for v in hits.values() if v > 0)
        if sa["waiting"] and not a["preempted"] and len(sa["running"]) < cfg["max_num_seqs"] \
                and sum(n for _, n in a["scheduled"]) < cfg["max_num_batched_tokens"]:
            cov["head_of_line_blocks"] += 1
    else:
        raise Disagreement(f"trace did not finish in {MAX_STEPS} steps")
    return dict(steps=steps, coverage=cov, config=cfg)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vllm-root", required=True)
    ap.add_argument("--seeds", default="0:20", help="A:B or a comma list")
    ap.add_argument("--mutate", default=None, help="a planted bug name, or 'all'")
    ap.add_argument("--show", type=int, default=3)
    args = ap.parse_args()
    os.environ["PYTHONPATH"] = args.vllm_root  # vLLM inspects the model class in a subprocess
    import bootstrap
    bootstrap.setup(args.vllm_root)
    if ":" in args.seeds:
        a, b = map(int, args.seeds.split(":"))
        seeds = list(range(a, b))
    else:
        seeds = [int(s) for s in args.seeds.split(",") if s]

    def run(mutate):
        start = time.monotonic()
        res = dict(traces=0, disagreements=0, steps_compared=0, first=None, coverage=dict.fromkeys(COVERAGE, 0),
                   disagreeing_seeds=[])
        for seed in seeds:
            res["traces"] += 1
            try:
                r = play(seed, mutate)
            except Disagreement as exc:
                res["disagreements"] += 1
                if len(res["disagreeing_seeds"]) < args.show:
                    res["disagreeing_seeds"].append(seed)
                if res["first"] is None:
                    res["first"] = dict(seed=seed, what=str(exc)[:2000], config=draw_config(random.Random(seed)))
                continue
            res["steps_compared"] += r["steps"]
            for k, v in r["coverage"].items():
                res["coverage"][k] += v
        res["seconds"] = round(time.monotonic() - start, 1)
        return res

    if args.mutate == "all":
        result = {"mutations": {m: run(m) for m in MUTATIONS}}
    else:
        result = run(args.mutate)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
