"""`infernav simulate`: the serving simulator of infernav.reimpl.scheduler (an extra: `infernav[sim]`)."""
from __future__ import annotations

import click

from .options import json_opt
from .output import ExitStatus, dump, echo, fail


class FinitePositive(click.ParamType):
    """A float > 0 that is a number (click's FloatRange lets nan and inf through)."""

    name = "float"

    def convert(self, value, param, ctx):
        import math

        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v) or v <= 0:
            self.fail(f"{value} is not a finite number above 0", param, ctx)
        return v


FINITE_POSITIVE = FinitePositive()


def _check_trace(reqs: list) -> None:
    """A trace the simulator can run: some requests, each arriving at a finite time >= 0 with a
    prompt and at least one token to generate."""
    import math

    if not reqs:
        raise ValueError("no requests in the trace")
    for r in reqs:
        if not math.isfinite(r.arrival_s) or r.arrival_s < 0:
            raise ValueError(f"request {r.rid}: arrival_s {r.arrival_s} is not a time >= 0")
        if not r.prompt:
            raise ValueError(f"request {r.rid}: an empty prompt (prompt_len must be > 0)")
        if r.max_tokens < 1:
            raise ValueError(f"request {r.rid}: max_tokens {r.max_tokens} is not >= 1")


@click.command()
@click.option("--strategy", "strategies", multiple=True, metavar="NAME",
              help="static, vllm, ksana-swap, ksana-recompute (repeatable; default: all four).")
@click.option("--trace", "trace", default="synthetic", show_default=True,
              help="A JSONL trace (arrival_s, prompt_len, max_tokens, optional prefix_id/prefix_len), or 'synthetic'.")
@click.option("--requests", "num_requests", type=click.IntRange(min=1), default=300, show_default=True, help="Synthetic trace: requests.")
@click.option("--rate", type=FINITE_POSITIVE, default=50.0, show_default=True, help="Synthetic trace: arrivals per second.")
@click.option("--seed", type=int, default=0, show_default=True, help="Synthetic trace: seed.")
@click.option("--num-blocks", type=click.IntRange(min=1), default=2000, show_default=True, help="Device KV blocks.")
@click.option("--block-size", type=click.IntRange(min=1), default=16, show_default=True, help="Tokens per block.")
@click.option("--max-batch", type=click.IntRange(min=1), default=64, show_default=True, help="max_num_seqs / max_batch_size.")
@click.option("--max-step-tokens", type=click.IntRange(min=1), default=4096, show_default=True, help="Step token budget.")
@click.option("--split-fuse", type=click.IntRange(min=0), default=0, show_default=True, help="KsanaLLM split_fuse_token_num.")
@click.option("--host-blocks", type=click.IntRange(min=0), default=None, help="KsanaLLM host blocks for swap (default 4x device).")
@click.option("--cost-model", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Cost-model JSON (default: the calibrated one shipped with the simulator).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write a PNG of queue lengths and KV use over time here (needs infernav[sim]).")
@json_opt
def simulate(strategies, trace, num_requests, rate, seed, num_blocks, block_size, max_batch, max_step_tokens,
             split_fuse, host_blocks, cost_model, plot_path, as_json) -> None:
    """Run scheduling strategies over a request trace in the serving simulator."""
    from infernav.reimpl.scheduler import sim

    names = strategies or sim.STRATEGIES
    unknown = [s for s in names if s not in sim.STRATEGIES]
    if unknown:
        fail(f"--strategy {unknown[0]}: not one of {', '.join(sim.STRATEGIES)}", ExitStatus.ERROR, as_json,
             kind="usage")
    try:
        reqs = sim.make_trace(n=num_requests, rate=rate, seed=seed) if trace == "synthetic" else sim.load_trace(trace)
        if trace != "synthetic":
            _check_trace(reqs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        key = " (missing key)" if isinstance(exc, KeyError) else ""
        fail(f"cannot read --trace {trace}: {why}{key}", ExitStatus.ERROR, as_json, kind="input")
    try:
        cost = sim.CostModel.load(cost_model)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        fail(f"cannot read --cost-model {cost_model}: {exc}", ExitStatus.ERROR, as_json, kind="input")
    results = []
    for name in names:
        try:
            strat = sim.build_strategy(name, num_blocks, block_size, max_batch, max_step_tokens, split_fuse, host_blocks)
            results.append(sim.simulate(strat, reqs, cost))
        except (ValueError, RuntimeError) as exc:
            fail(f"{name}: {exc}", ExitStatus.ERROR, as_json, kind="input")
    png = None
    if plot_path:
        try:
            png = sim.plot(results, plot_path, num_blocks)
        except ImportError:
            fail("--plot needs matplotlib: pip install 'infernav[sim]'", ExitStatus.ERROR, as_json, kind="missing extra")
        except OSError as exc:
            fail(f"cannot write --plot {plot_path}: {exc.strerror or exc}", ExitStatus.ERROR, as_json, kind="input")
    if as_json:
        dump({"trace": trace, "requests": len(reqs), "cost_model": cost.source,
               "results": [r.row() for r in results], "plot": str(png) if png else None})
        return
    echo(f"{len(reqs)} requests ({trace}); {num_blocks} blocks of {block_size} tokens; cost model: {cost.source}")
    echo(sim.format_table(results))
    if png:
        echo(f"plot: {png}")


