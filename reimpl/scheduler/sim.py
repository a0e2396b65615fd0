"""A discrete-event serving simulator: a strategy, a request trace, a step-cost model.

Time advances one forward pass at a time: requests that have arrived by the current time are
handed to the strategy, the strategy plans a step, the cost model says how long the step takes,
the fake model samples one token per sampling request, and the strategy is told. When nothing is
runnable the clock jumps to the next arrival. Reported: throughput (output tokens / s), TTFT and
TPOT percentiles, preemptions, swap traffic, prefix-cache hit rate, plus a timeline of queue
lengths and KV blocks in use (for the plot).

The step cost (`CostModel`, parameters in cost_model.json or a calibrated file):

    step_s = base_s + prefill_token_s * prefill_tokens + decode_seq_s * decode_seqs
             + kv_token_s * context_tokens
    step_s = max(step_s, swap_bytes / swap_bytes_per_s)     (copies run on their own stream)

Static batching's finished-but-still-batched rows count as decode rows (padding).
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .common import StepPlan, Strategy

COST_MODEL = Path(__file__).with_name("cost_model.json")


@dataclass
class CostModel:
    base_s: float
    prefill_token_s: float
    decode_seq_s: float
    kv_token_s: float
    kv_bytes_per_token: int
    swap_bytes_per_s: float
    source: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> "CostModel":
        data = json.loads(Path(path or COST_MODEL).read_text())
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def step_seconds(self, plan: StepPlan, block_size: int) -> float:
        decode = max(plan.decode_seqs, plan.padded_decode_seqs)
        t = (self.base_s + self.prefill_token_s * plan.prefill_tokens + self.decode_seq_s * decode
             + self.kv_token_s * plan.context_tokens)
        swap_bytes = (plan.swap_in_blocks + plan.swap_out_blocks) * block_size * self.kv_bytes_per_token
        return max(t, swap_bytes / self.swap_bytes_per_s)


@dataclass
class TraceRequest:
    rid: str
    arrival_s: float
    prompt: list[int]
    max_tokens: int


def make_trace(n: int = 200, rate: float = 20.0, prompt_len: tuple[int, int] = (64, 1024),
               output_len: tuple[int, int] = (16, 512), num_prefixes: int = 4, prefix_len: int = 256,
               shared_fraction: float = 0.5, seed: int = 0) -> list[TraceRequest]:
    """Poisson arrivals at `rate` req/s; log-uniform prompt and output lengths; a fraction of the
    prompts start with one of `num_prefixes` shared system prompts of `prefix_len` tokens."""
    rng = random.Random(seed)
    prefixes = [[rng.randrange(1000, 30000) for _ in range(prefix_len)] for _ in range(num_prefixes)]

    def loguni(lo, hi):
        return int(round(lo * (hi / lo) ** rng.random()))

    t, out = 0.0, []
    for i in range(n):
        t += rng.expovariate(rate)
        plen = loguni(*prompt_len)
        head = rng.choice(prefixes) if rng.random() < shared_fraction else []
        prompt = (head + [rng.randrange(30000, 32000) for _ in range(plen)])[:max(plen, len(head) + 1)]
        out.append(TraceRequest(f"q{i:05d}", t, prompt, loguni(*output_len)))
    return out


def load_trace(path: str | Path) -> list[TraceRequest]:
    """JSON lines: {"rid", "arrival_s", "prompt_len" or "prompt", "max_tokens", optional "prefix_id",
    "prefix_len"} (prompt tokens are synthesised from lengths, with shared prefixes by id)."""
    out = []
    rng = random.Random(0)
    prefixes: dict = {}
    for i, line in enumerate(Path(path).read_text().splitlines()):
        if not line.strip():
            continue
        d = json.loads(line)
        if "prompt" in d:
            prompt = list(d["prompt"])
        else:
            head = []
            if d.get("prefix_id") is not None:
                key = d["prefix_id"]
                if key not in prefixes:
                    prefixes[key] = [rng.randrange(1000, 30000) for _ in range(int(d.get("prefix_len", 256)))]
                head = prefixes[key]
            prompt = head + [rng.randrange(30000, 32000) for _ in range(int(d["prompt_len"]))]
        out.append(TraceRequest(str(d.get("rid", f"q{i:05d}")), float(d["arrival_s"]), prompt, int(d["max_tokens"])))
    return sorted(out, key=lambda r: r.arrival_s)


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class SimResult:
    strategy: str
    requests: int
    output_tokens: int
    makespan_s: float
    throughput_tok_s: float
    ttft_p50_s: float
    ttft_p90_s: float
    ttft_p99_s: float
    tpot_p50_s: float
    tpot_p90_s: float
    tpot_p99_s: float
    steps: int
    preemptions: int
    swap_out_blocks: int
    swap_in_blocks: int
    swap_gib: float
    cache_hit_rate: float
    timeline: list[tuple[float, int, int, int, int]] = field(default_factory=list, repr=False)
    # (time, waiting, running, swapped, used KV blocks)

    def row(self) -> dict:
        d = asdict(self)
        d.pop("timeline")
        return d


def simulate(strategy: Strategy, trace: list[TraceRequest], cost: CostModel | None = None,
             sample: Callable[[str, int], int] | None = None, max_steps: int = 2_000_000) -> SimResult:
    cost = cost or CostModel.load()
    sample = sample or (lambda rid, i: 30000 + (hash((rid, i)) % 2000))
    pending = sorted(trace, key=lambda r: r.arrival_s)
    arrival = {r.rid: r.arrival_s for r in trace}
    first_token: dict[str, float] = {}
    finish: dict[str, float] = {}
    n_out: dict[str, int] = {}
    t, i, steps = 0.0, 0, 0
    preemptions = swap_out = swap_in = 0
    timeline = []

    def snap():
        q = strategy.queue_lengths()
        timeline.append((t, q["waiting"], q["running"], q["swapped"], strategy.used_blocks()))

    while i < len(pending) or strategy.has_unfinished():
        while i < len(pending) and pending[i].arrival_s <= t:
            r = pending[i]
            strategy.add_request(r.rid, r.prompt, r.max_tokens, r.arrival_s)
            i += 1
        if not strategy.has_unfinished():
            t = pending[i].arrival_s
            continue
        plan = strategy.schedule()
        steps += 1
        if steps > max_steps:
            raise RuntimeError(f"{strategy.name}: no progress after {max_steps} steps")
        preemptions += len(plan.preempted)
        swap_out += plan.swap_out_blocks
        swap_in += plan.swap_in_blocks
        if not plan.tokens and not plan.swap_in_blocks and not plan.swap_out_blocks:
            if i < len(pending):
                t = max(t, pending[i].arrival_s)
                continue
            stalled = getattr(strategy, "_stalls", 0) + 1
            strategy._stalls = stalled
            if stalled > 1000:
                raise RuntimeError(f"{strategy.name}: stalled with work left and no arrivals")
            continue
        t += cost.step_seconds(plan, strategy.block_size)
        sampled = {}
        for rid in plan.samples:
            k = n_out.get(rid, 0)
            sampled[rid] = sample(rid, k)
            n_out[rid] = k + 1
            first_token.setdefault(rid, t)
        for rid in strategy.update(plan, sampled):
            finish[rid] = t
        snap()
    strategy.check_no_leaks()
    ttft = [first_token[r] - arrival[r] for r in finish]
    tpot = [(finish[r] - first_token[r]) / (n_out[r] - 1) for r in finish if n_out[r] > 1]
    total_out = sum(n_out[r] for r in finish)
    start = min(arrival.values()) if arrival else 0.0
    makespan = t - start
    hit = 0.0
    stats = getattr(getattr(strategy, "cache", None), "stats", None)
    if stats is None and hasattr(strategy, "s"):
        stats = strategy.s.kv_cache_manager.lifetime_stats
    if stats is not None:
        hit = stats.hit_rate
    block_bytes = strategy.block_size * cost.kv_bytes_per_token
    return SimResult(strategy.name, len(finish), total_out, makespan, total_out / makespan if makespan else 0.0,
                     _pct(ttft, 50), _pct(ttft, 90), _pct(ttft, 99), _pct(tpot, 50), _pct(tpot, 90), _pct(tpot, 99),
                     steps, preemptions, swap_out, swap_in, (swap_out + swap_in) * block_bytes / 2**30, hit, timeline)


def build_strategy(name: str, num_blocks: int, block_size: int = 16, max_batch_size: int = 32,
                   max_step_token_num: int = 4096, split_fuse_token_num: int = 0, num_host_blocks: int | None = None,
                   max_seq_len: int = 8192) -> Strategy:
    """`static`, `vllm`, `ksana-swap`, `ksana-recompute`."""
    from .ksana import ContinuousBatchingStrategy
    from .static import StaticBatchScheduler
    from .vllm_strategy import VllmStrategy
    if name == "static":
        return StaticBatchScheduler(num_blocks, block_size, max_batch_size)
    if name == "vllm":
        return VllmStrategy(num_blocks, block_size, max_batch_size, max_step_token_num, max_model_len=max_seq_len)
    if name in ("ksana-swap", "ksana-recompute"):
        mode = name.split("-")[1]
        s = ContinuousBatchingStrategy(num_blocks, block_size, max_batch_size, max_step_token_num,
                                       split_fuse_token_num, mode,
                                       num_host_blocks=(4 * num_blocks if num_host_blocks is None else num_host_blocks),
                                       max_seq_len=max_seq_len)
        s.name = name
        return s
    raise ValueError(f"unknown strategy {name!r} (static, vllm, ksana-swap, ksana-recompute)")


STRATEGIES = ("static", "vllm", "ksana-swap", "ksana-recompute")


def plot(results: list[SimResult], path: str | Path, num_blocks: int) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for res in results:
        if not res.timeline:
            continue
        ts = [p[0] for p in res.timeline]
        axes[0].plot(ts, [p[1] for p in res.timeline], label=f"{res.strategy} waiting")
        axes[0].plot(ts, [p[3] for p in res.timeline], "--", label=f"{res.strategy} swapped")
        axes[1].plot(ts, [100 * p[4] / num_blocks for p in res.timeline], label=res.strategy)
    axes[0].set_ylabel("requests queued")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].set_ylabel("KV blocks in use (%)")
    axes[1].set_xlabel("simulated time (s)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_table(results: list[SimResult]) -> str:
    cols = [("strategy", "{}"), ("requests", "{}"), ("throughput_tok_s", "{:.0f}"), ("ttft_p50_s", "{:.3f}"),
            ("ttft_p99_s", "{:.3f}"), ("tpot_p50_s", "{:.4f}"), ("tpot_p99_s", "{:.4f}"), ("preemptions", "{}"),
            ("swap_gib", "{:.2f}"), ("cache_hit_rate", "{:.2f}"), ("makespan_s", "{:.1f}")]
    rows = [[c for c, _ in cols]] + [[f.format(getattr(r, c)) for c, f in cols] for r in results]
    w = [max(len(r[j]) for r in rows) for j in range(len(cols))]
    line = lambda r: "| " + " | ".join(x.rjust(w[j]) for j, x in enumerate(r)) + " |"
    return "\n".join([line(rows[0]), "|" + "|".join("-" * (x + 2) for x in w) + "|"] + [line(r) for r in rows[1:]])
