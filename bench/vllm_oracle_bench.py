"""Both vLLM oracles over every family and every planted bug; writes bench/results/vllm_oracle_families.json
and renders its tables into docs/dev/prefix_cache.md and docs/dev/scheduler.md (bench/render_tables.py).

    .venv/bin/python bench/vllm_oracle_bench.py [--traces 1000] [--planted-traces 300] [--no-render]

Families: seeds 0:--traces each (the same seeds in every family); planted bugs: each in its own
family over seeds 0:--planted-traces, stopping at the first disagreement (the seed and the call
or step where it was caught are recorded). Every number in the docs' tables comes from this JSON.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORACLE = REPO / "tests" / "oracle"
OUT = REPO / "bench" / "results" / "vllm_oracle_families.json"
sys.path.insert(0, str(ORACLE))


def oracle(script: str, *args: str) -> dict:
    spec = importlib.util.spec_from_file_location("bv", ORACLE / "build_venv.py")
    bv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bv)
    stamp = bv.ensure()
    cmd = [stamp["python"], str(ORACLE / script), "--vllm-root", stamp["vllm_root"], *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=bv.oracle_env(), check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def family_row(r: dict, seeds: str) -> dict:
    return {"traces": r["traces"], "seeds": seeds, "disagreements": r["disagreements"],
            "compared": r.get("calls_compared", r.get("steps_compared")), "seconds": r["seconds"],
            "coverage": r["coverage"], "first_disagreement": r.get("first") or None}


def planted_row(r: dict, family: str, what: str) -> dict:
    first = r["first"][0] if isinstance(r["first"], list) and r["first"] else r["first"]
    caught = r["disagreements"] > 0
    where = None
    if caught:
        m = re.match(r"step (\d+)", first["what"])
        where = f"step {m.group(1)}" if m else (f"call {first['call']}" if "call" in first else "config")
    return {"family": family, "breaks": what, "caught": caught, "seed": first["seed"] if caught else None,
            "at": where, "traces_played": r["traces"], "message": first["what"][:240] if caught else None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=1000)
    ap.add_argument("--planted-traces", type=int, default=300)
    ap.add_argument("--no-render", action="store_true")
    args = ap.parse_args()
    import prefix_mutations
    import sched_mutations
    from differential import FAMILIES as PREFIX_FAMILIES
    seeds, pseeds = f"0:{args.traces}", f"0:{args.planted_traces}"
    t0 = time.monotonic()
    result = {"vllm": "0.14.1", "command": " ".join(["bench/vllm_oracle_bench.py"] + sys.argv[1:]),
              "prefix": {"families": {}, "planted": {}}, "scheduler": {"families": {}, "planted": {}}}
    for fam in PREFIX_FAMILIES:
        result["prefix"]["families"][fam] = family_row(oracle("differential.py", "--seeds", seeds, "--family", fam,
                                                              "--show", "1"), seeds)
    muts = oracle("differential.py", "--seeds", pseeds, "--mutate", "all", "--show", "0")["mutations"]
    for name, (fam, what) in prefix_mutations.MUTATIONS.items():
        result["prefix"]["planted"][name] = planted_row(muts[name], fam, what)
    fams = oracle("scheduler_differential.py", "--seeds", seeds, "--family", "all", "--show", "1")["families"]
    for fam, r in fams.items():
        result["scheduler"]["families"][fam] = family_row(r, seeds)
    muts = oracle("scheduler_differential.py", "--seeds", pseeds, "--mutate", "all", "--show", "0")["mutations"]
    for name, (fam, what) in sched_mutations.MUTATIONS.items():
        result["scheduler"]["planted"][name] = planted_row(muts[name], fam, what)
    result["wall_seconds"] = round(time.monotonic() - t0, 1)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT} ({result['wall_seconds']} s)")
    if not args.no_render:
        import render_tables
        render_tables.main([str(OUT)])
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
