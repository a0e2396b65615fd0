"""Our vLLM-style prefix cache against the real vLLM 0.14.1, on random traces (tests/oracle).

The real `KVCacheManager` runs in the oracle's own venv (.oracle-venv, built by
tests/oracle/build_venv.py, which `make test` calls first; built here if missing). If it cannot
be built, these tests fail with the reason: they never skip.

Each family (differential.FAMILIES: `base`, `long-prompts`) plays 300 traces drawn at random from
a million seeds, a different draw each run, plus the fixed seeds of tests/oracle/seeds.py; the
seeds are printed, and INFERNAV_ORACLE_SEED=<draw> replays the draw. Every planted bug of
tests/oracle/prefix_mutations.py must be caught within 300 traces of its family. The full run
(1,000 traces a family, the JSON behind docs/dev/prefix_cache.md's tables) is
bench/vllm_oracle_bench.py.
"""
from __future__ import annotations

import json

from conftest import run_oracle_script
from oracle_runs import DRAWN, describe, draw_seeds, fixed_seeds

# Per family, what its traces must reach (a zero would make the comparison hollow there).
MUST_REACH = {"base": ["lookups_with_hits", "hits_on_free_blocks", "allocation_refused",
                       "cached_blocks_evicted_by_allocation", "preemptions", "resets",
                       "states_with_duplicate_hashes", "events_stored", "events_removed", "events_cleared",
                       "stats_taken"],
              "long-prompts": ["lookups_with_hits", "hits_on_free_blocks", "allocation_refused", "events_stored"]}


def test_no_disagreement_with_real_vllm(vllm_oracle, capsys):
    fixed = fixed_seeds("PREFIX")
    draw, seeds = draw_seeds(fixed)
    report = run_oracle_script(vllm_oracle, "differential.py", "--family", "all", "--seeds", ",".join(map(str, seeds)))
    with capsys.disabled():
        print("\n" + describe("prefix oracle", draw, seeds, fixed))
        for fam, r in report["families"].items():
            print(f"[prefix oracle] {fam}: {r['disagreements']} disagreements with vLLM 0.14.1 over {r['traces']} "
                  f"traces, {r['calls_compared']} calls compared ({r['seconds']} s)")
    assert set(report["families"]) == set(MUST_REACH)
    for fam, r in report["families"].items():
        assert r["traces"] == len(seeds) >= DRAWN
        assert r["disagreements"] == 0, json.dumps(r["first"], indent=1)
        assert all(r["coverage"][k] for k in MUST_REACH[fam]), (fam, r["coverage"])
        assert r["calls_compared"] > 50 * r["traces"]


def test_oracle_catches_planted_bugs(vllm_oracle, capsys):
    """Each bug of prefix_mutations.MUTATIONS (free order, lookup cap, duplicates, queue removal
    on hit, hash map, prefix stats, KV events, long prompts) makes the oracle disagree."""
    report = run_oracle_script(vllm_oracle, "differential.py", "--seeds", f"0:{DRAWN}", "--mutate", "all",
                               "--show", "0")["mutations"]
    with capsys.disabled():
        for name, r in report.items():
            first = r["first"][0] if r["first"] else {}
            print(f"[prefix oracle] planted {name} ({r['family']}): caught at seed {first.get('seed')}, "
                  f"call {first.get('call')}")
    assert len(report) >= 11
    missed = [name for name, r in report.items() if r["disagreements"] == 0]
    assert missed == []


def test_doc_tables_are_rendered_from_the_json():
    """docs/dev/prefix_cache.md and docs/dev/scheduler.md carry the oracle tables exactly as
    bench/render_tables.py renders them from bench/results/vllm_oracle_families.json."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "render_tables.py"
    spec = importlib.util.spec_from_file_location("infernav_render_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
