"""The two sides of the scheduler oracle (scheduler_differential.py), behind one API of plain values.

`Real` drives vLLM 0.14.1's own `vllm.v1.core.sched.scheduler.Scheduler` (built as vLLM's tests
build one on CPU: an offline Llama `config.json` without weights, one full-attention group),
with stats on (`log_stats=True`) and KV cache events on (`KVEventsConfig(enable_kv_cache_events=
True, publisher="null")`; the publisher is wrapped to keep each published batch). `Ours` drives
`infernav.reimpl.scheduler.VllmScheduler` with the same settings.

Each side answers: `schedule()` (ids and token counts), `update()` (finished ids, the step's
outputs with finish reasons, the `SchedulerStats` incl. `PrefixCacheStats`, the KV events),
`state()` (queues, blocks, progress, statuses, the free-queue order, finish reasons of every
request that has left). Runs in the oracle venv after `bootstrap.setup`.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

EOS = 2
REASONS = {"STOP": "stop", "LENGTH": "length", "ABORT": "abort"}


def stats_tuple(st) -> tuple | None:
    if st is None:
        return None
    p = st.prefix_cache_stats
    return (st.num_running_reqs, st.num_waiting_reqs, round(st.kv_cache_usage, 12),
            (p.reset, p.requests, p.queries, p.hits, p.preempted_requests, p.preempted_queries, p.preempted_hits))


class Ours:
    def __init__(self, cfg: dict, mutate=None):
        from infernav.reimpl.scheduler import VllmScheduler
        self.s = VllmScheduler(**cfg, enable_kv_cache_events=True, log_stats=True)
        self.reqs: dict = {}
        if mutate:
            mutate(self.s)

    def add(self, r: dict, arrival_time: float) -> None:
        self.reqs[r["rid"]] = self.s.add_request(
            r["rid"], r["prompt"], r["max_tokens"], eos_token_id=EOS, priority=r["priority"],
            arrival_time=arrival_time, min_tokens=r["min_tokens"], stop_token_ids=r["stop_token_ids"],
            ignore_eos=r["ignore_eos"])

    def abort(self, rids) -> None:
        self.s.finish_requests(rids)  # one id as a str, several as a list

    def reset(self, running: bool) -> bool:
        return self.s.reset_prefix_cache(reset_running_requests=running)

    def schedule(self) -> dict:
        o = self.last = self.s.schedule()
        return dict(scheduled=list(o.num_scheduled_tokens.items()), new=o.new_req_ids,
                    resumed=sorted(o.resumed_req_ids), running=o.running_req_ids,
                    preempted=sorted(o.preempted_req_ids), finished=sorted(o.finished_req_ids))

    def needs_sample(self, rid: str) -> bool:
        return self.s.needs_sample(rid)

    def update(self, sampled: dict[str, list[int]]) -> dict:
        res = self.s.update_from_output(self.last, sampled)
        return dict(finished=sorted(res),
                    outputs=[(o.request_id, o.new_token_ids, o.finish_reason, o.stop_reason, o.num_cached_tokens)
                             for o in res.outputs],
                    stats=stats_tuple(res.scheduler_stats), events=[event_tuple(e) for e in res.events])

    def state(self) -> dict:
        s = self.s
        return dict(waiting=s.waiting_ids(), running=s.running_ids(), free=s.num_free_blocks,
                    free_queue=s.kv_cache_manager.block_pool.free_block_queue.block_ids(),
                    blocks={r.request_id: s.kv_cache_manager.get_block_ids(r.request_id) for r in s.running},
                    computed={r.request_id: r.num_computed_tokens for r in s.running},
                    preemptions={rid: r.num_preemptions for rid, r in s.requests.items()},
                    status={rid: r.status.split("_")[0] for rid, r in s.requests.items()},
                    reasons={rid: r.get_finished_reason() for rid, r in self.reqs.items() if rid not in s.requests})


def event_tuple(e) -> tuple:
    from sides import event_tuple as plain
    return plain(e)


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


class _Capture:
    """Wraps vLLM's (null) event publisher: keeps the events of each published batch."""

    def __init__(self, inner):
        self.inner, self.events = inner, []

    def publish(self, batch) -> None:
        self.events.extend(batch.events)
        self.inner.publish(batch)

    def shutdown(self) -> None:
        self.inner.shutdown()


class Real:
    def __init__(self, cfg: dict):
        import torch
        from vllm.config import CacheConfig, KVEventsConfig, SchedulerConfig, VllmConfig
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
                             enable_chunked_prefill=cfg["enable_chunked_prefill"], policy=cfg["policy"],
                             is_encoder_decoder=False)
        cc = CacheConfig(block_size=B, gpu_memory_utilization=0.9, cache_dtype="auto",
                         enable_prefix_caching=cfg["enable_prefix_caching"])
        vc = VllmConfig(scheduler_config=sc, model_config=model_config(cfg["max_model_len"]), cache_config=cc,
                        kv_events_config=KVEventsConfig(enable_kv_cache_events=True, publisher="null"))
        kc = KVCacheConfig(num_blocks=cfg["num_blocks"], kv_cache_tensors=[], kv_cache_groups=[
            KVCacheGroupSpec(["layer"], FullAttentionSpec(block_size=B, num_kv_heads=1, head_size=1,
                                                          dtype=torch.float32))])
        cc.num_gpu_blocks = cfg["num_blocks"]
        self.s = Scheduler(vllm_config=vc, kv_cache_config=kc, log_stats=True,
                           structured_output_manager=StructuredOutputManager(vc), block_size=B)
        self.s.kv_event_publisher = self.capture = _Capture(self.s.kv_event_publisher)
        self.reqs: dict = {}

    def add(self, r: dict, arrival_time: float) -> None:
        sp = self.SamplingParams(max_tokens=r["max_tokens"], ignore_eos=r["ignore_eos"], min_tokens=r["min_tokens"],
                                 stop_token_ids=list(r["stop_token_ids"]))
        req = self.Request(request_id=r["rid"], prompt_token_ids=list(r["prompt"]), sampling_params=sp,
                           pooling_params=None, eos_token_id=EOS, arrival_time=arrival_time,
                           priority=r["priority"], block_hasher=self.hasher)
        self.reqs[r["rid"]] = req
        self.s.add_request(req)

    def abort(self, rids) -> None:
        from vllm.v1.request import RequestStatus
        self.s.finish_requests(rids, RequestStatus.FINISHED_ABORTED)

    def reset(self, running: bool) -> bool:
        return self.s.reset_prefix_cache(reset_running_requests=running)

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

    def update(self, sampled: dict[str, list[int]]) -> dict:
        ids = list(self.last.num_scheduled_tokens)
        out = self.MRO(req_ids=ids, req_id_to_index={r: i for i, r in enumerate(ids)},
                       sampled_token_ids=[list(sampled.get(r, [])) for r in ids], logprobs=None,
                       prompt_logprobs_dict={}, pooler_output=[])
        before = set(self.s.requests)
        eco = self.s.update_from_output(self.last, out)
        outputs, stats = [], None
        for e in eco.values():
            outputs += [(o.request_id, list(o.new_token_ids), REASONS[o.finish_reason.name] if o.finish_reason is not None else None,
                         o.stop_reason, o.num_cached_tokens) for o in e.outputs]
            stats = stats or e.scheduler_stats
        events, self.capture.events = self.capture.events, []
        return dict(finished=sorted(r for r in before if r not in self.s.requests and r in sampled),
                    outputs=outputs, stats=stats_tuple(stats), events=[event_tuple(e) for e in events])

    def state(self) -> dict:
        s = self.s
        pool = s.kv_cache_manager.block_pool
        waiting = sorted(s.waiting) if s.policy.value == "priority" else list(s.waiting)
        return dict(waiting=[r.request_id for r in waiting], running=[r.request_id for r in s.running],
                    free=pool.get_num_free_blocks(),
                    free_queue=[b.block_id for b in pool.free_block_queue.get_all_free_blocks()],
                    blocks={r.request_id: list(s.kv_cache_manager.get_block_ids(r.request_id)[0]) for r in s.running},
                    computed={r.request_id: r.num_computed_tokens for r in s.running},
                    preemptions={rid: r.num_preemptions for rid, r in s.requests.items()},
                    status={rid: r.status.name.split("_")[0].lower() for rid, r in s.requests.items()},
                    reasons={rid: (REASONS[r.get_finished_reason().name] if r.get_finished_reason() is not None else None)
                             for rid, r in self.reqs.items() if rid not in s.requests})
