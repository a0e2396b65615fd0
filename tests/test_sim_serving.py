"""The serving simulator: what it reports, and the two effects the issue asks it to show."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from infernav.analyzer.cli import main
from infernav.reimpl.scheduler.common import StepPlan
from infernav.reimpl.scheduler.sim import CostModel, build_strategy, load_trace, make_trace, simulate

COST = CostModel(base_s=0.01, prefill_token_s=2e-5, decode_seq_s=1e-4, kv_token_s=2e-8,
                 kv_bytes_per_token=131072, swap_bytes_per_s=2e10, source="test")


def test_cost_model_terms_and_swap_overlap():
    plan = StepPlan(prefill_tokens=100, decode_seqs=4, context_tokens=1000)
    assert COST.step_seconds(plan, 16) == pytest.approx(0.01 + 100 * 2e-5 + 4 * 1e-4 + 1000 * 2e-8)
    plan.swap_out_blocks = 1000  # 1000 * 16 * 128 KiB / 20 GB/s = 0.105 s > the compute
    assert COST.step_seconds(plan, 16) == pytest.approx(1000 * 16 * 131072 / 2e10)
    shipped = CostModel.load()
    assert shipped.base_s > 0 and shipped.prefill_token_s > 0 and "calibrated" in shipped.source


def test_continuous_batching_beats_static_on_throughput():
    trace = make_trace(n=150, rate=100, seed=1)
    res = {n: simulate(build_strategy(n, num_blocks=2000, max_batch_size=32), trace, COST)
           for n in ("static", "vllm", "ksana-swap")}
    assert all(r.requests == 150 for r in res.values())
    assert res["vllm"].output_tokens == res["static"].output_tokens
    for n in ("vllm", "ksana-swap"):
        assert res[n].throughput_tok_s > 1.5 * res["static"].throughput_tok_s
        assert res[n].ttft_p50_s < res["static"].ttft_p50_s
    assert res["static"].cache_hit_rate == 0 and res["vllm"].cache_hit_rate > 0


def test_swap_and_recompute_differ_under_memory_pressure():
    trace = make_trace(n=60, rate=50, prompt_len=(256, 1024), output_len=(128, 512), seed=3)
    swap = build_strategy("ksana-swap", num_blocks=300, max_batch_size=32)
    rec = build_strategy("ksana-recompute", num_blocks=300, max_batch_size=32)
    rs, rr = simulate(swap, trace, COST), simulate(rec, trace, COST)
    assert rs.requests == rr.requests == 60
    assert rs.preemptions > 0 and rs.swap_out_blocks == rs.swap_in_blocks > 0 and swap.stats.recompute == 0
    assert rr.preemptions > 0 and rr.swap_gib == 0 and rec.stats.recompute > 0
    # recompute prefills again what swap copies back
    assert rec.stats.prefill_chunks > swap.stats.prefill_chunks
    assert rs.timeline and max(p[3] for p in rs.timeline) > 0  # the swapped queue shows in the timeline


def test_trace_file_round_trip(tmp_path):
    lines = [{"arrival_s": 0.5, "prompt_len": 30, "max_tokens": 4, "prefix_id": "sys", "prefix_len": 32},
             {"arrival_s": 0.1, "prompt_len": 10, "max_tokens": 2, "prefix_id": "sys", "prefix_len": 32}]
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines))
    reqs = load_trace(p)
    assert [r.arrival_s for r in reqs] == [0.1, 0.5]
    assert reqs[0].prompt[:32] == reqs[1].prompt[:32] and len(reqs[1].prompt) == 62
    res = simulate(build_strategy("vllm", num_blocks=50), reqs, COST)
    assert res.requests == 2 and res.output_tokens == 6


def test_simulate_command_prints_table_and_writes_png(tmp_path):
    png = tmp_path / "sim.png"
    r = CliRunner().invoke(main, ["simulate", "--requests", "40", "--rate", "50", "--num-blocks", "400",
                                  "--strategy", "static", "--strategy", "ksana-recompute", "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert "| throughput_tok_s |" in r.output.replace("  ", " ") or "throughput_tok_s" in r.output
    assert "static" in r.output and "ksana-recompute" in r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = CliRunner().invoke(main, ["simulate", "--requests", "20", "--strategy", "vllm", "--plot", "", "--json"])
    data = json.loads(r.stdout)
    assert data["results"][0]["requests"] == 20 and data["plot"] is None
    r = CliRunner().invoke(main, ["simulate", "--strategy", "nope", "--plot", ""])
    assert r.exit_code != 0 and "unknown strategy" in r.output
