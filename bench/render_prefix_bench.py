"""Render the three-cache hit-rate, speed and memory tables of a prefix_cache_bench.py run into docs/dev/prefix_cache.md,
between `<!-- begin: prefix_3engines -->` and `<!-- end -->` (never typed by hand).

    python bench/render_prefix_bench.py [bench/results/prefix_cache_3engines.json] [--check]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from render_tables import splice

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "bench" / "results" / "prefix_cache_3engines.json"
DOC = REPO / "docs" / "dev" / "prefix_cache.md"
NAMES = {"vllm": "vLLM's own KVCacheManager", "ours/hash": "ours, vLLM hash chain",
         "ours/tree": "ours, KsanaLLM tree", "ours/radix": "ours, SGLang radix tree"}


def render(data: dict) -> str:
    kinds = list(NAMES)
    rows = ["| workload | blocks of " + str(data["block_size"]) + " | "
            + " | ".join(f"{NAMES[k]}: hit rate (preemptions)" for k in kinds) + " |",
            "|---|---:|" + "---:|" * len(kinds)]
    for name, w in data["workloads"].items():
        cells = [f"{w[k]['hit_rate']:.1%} ({w[k]['preemptions']})" for k in kinds]
        rows.append(f"| {name} | {w['num_blocks']} | " + " | ".join(cells) + " |")
    speed = ["", "Cache operations per second, best of " + str(data["repeat"]) + " (ours / vLLM's):",
             "", "| workload | " + " | ".join(NAMES[k] for k in kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for name, w in data["workloads"].items():
        speed.append(f"| {name} | " + " | ".join(f"{w[k]['ops_per_second']:,.0f} ({w[k]['speed_vs_vllm']:.2f}x)"
                                                 for k in kinds) + " |")
    mem = ["", "Memory, in blocks of " + str(data["block_size"]) + " tokens (a radix block is a page of "
           + str(data["block_size"]) + " slots), read through each cache's accessors at the end of every "
           "scheduler step: cached unreferenced = blocks holding cached KV that no running request "
           "references (what the cache keeps beyond the running requests' needs), mean / peak; used = "
           "blocks referenced by running requests, mean / peak; index entries = the cache's bookkeeping "
           "(hash-map entries, tree nodes, radix nodes), peak / at the end:",
           "", "| workload | cache | cached unreferenced, mean / peak | used, mean / peak | index entries, peak / end |",
           "|---|---|---:|---:|---:|"]
    for name, w in data["workloads"].items():
        for k in kinds:
            m = w[k]["memory"]
            mem.append(f"| {name} | {NAMES[k]} | {m['cached_unreferenced_blocks_mean']:.0f} / "
                       f"{m['cached_unreferenced_blocks_peak']} | {m['used_blocks_mean']:.0f} / {m['used_blocks_peak']} | "
                       f"{m['index_entries_peak']} / {m['index_entries_end']} |")
    same = all(w["ours_hash_identical_to_vllm"] for w in data["workloads"].values())
    head = ("Rendered by bench/render_prefix_bench.py from bench/results/prefix_cache_3engines.json "
            "(`python bench/prefix_cache_bench.py --repeat 1 --oracle-traces 0 --out "
            "bench/results/prefix_cache_3engines.json`). Hit rate: prompt tokens whose prefill was skipped "
            "/ prompt tokens admitted, one continuous-batching scheduler over each cache. ours/hash and "
            "vLLM's own manager made " + ("identical" if same else "DIFFERENT") + " calls on every workload.")
    same_memory = all(w.get("ours_hash_memory_identical_to_vllm") for w in data["workloads"].values())
    mem += ["", "ours/hash and vLLM's own manager measured " + ("the same" if same_memory else "DIFFERENT")
            + " memory on every workload."]
    return "\n".join([head, ""] + rows + speed + mem)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    data = json.loads(Path(paths[0] if paths else DEFAULT).read_text())
    old = DOC.read_text()
    new = splice(old, "prefix_3engines", render(data))
    if check:
        print("stale" if new != old else "checked", DOC)
        return int(new != old)
    DOC.write_text(new)
    print("rendered", DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
