"""Charts drawn at build time from committed result files: plain SVG written by this module (no
plotting library), inline in the page so the palette's colours and dark mode apply, every bar
carrying its value (`data-value`, a `<title>` tooltip and a label) so the figure can be read
without the colours and tested against the file it came from.

The charts so far: the prefix-cache benchmark's three caches on the same traces
(bench/results/prefix_cache_3engines.json, written by bench/prefix_cache_bench.py), shown on the
prefix-caching mechanism page."""
from __future__ import annotations

import json
from pathlib import Path

from .html import esc

PREFIX_RESULTS = "bench/results/prefix_cache_3engines.json"
# The caches shown, in this order, with their legend; other entries of the file (variants such as
# ours/hash+pickle) are left out. A cache missing from the file is left out too.
PREFIX_SERIES = {
    "vllm": "vLLM's own KVCacheManager",
    "ours/hash": "ours: vLLM hash chain",
    "ours/tree": "ours: KsanaLLM tree",
    "ours/radix": "ours: SGLang radix tree",
}

W, H = 720, 300                 # viewBox
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 44, 40
TICKS = 5
LEGEND_CHAR = 6.0               # px per character of an 11 px legend label (for spacing only)


def _nice_max(v: float) -> float:
    """The smallest 1/2/5 x 10^k at or above v (the axis top); 1 when v is 0."""
    if v <= 0:
        return 1.0
    k = 1.0
    while k * 10 <= v:
        k *= 10
    while k > v:
        k /= 10
    for m in (1, 2, 5, 10):
        if m * k >= v:
            return m * k
    return 10 * k


def bar_chart(title: str, groups: list[str], series: list[str], values: list[list[float]],
              fmt, ymax: float | None = None, caption: str = "", tick_fmt=None) -> str:
    """A grouped bar chart as one line of HTML: `values[g][s]` is series s in group g; `fmt`
    turns a value into its label (`tick_fmt`, default `fmt`, labels the axis). The y axis runs
    from 0 to `ymax` (or a round number above the largest value)."""
    tick_fmt = tick_fmt or fmt
    top = ymax if ymax is not None else _nice_max(max((v for row in values for v in row), default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    out = [f'<svg class="inav-chart-svg" viewBox="0 0 {W} {H}" role="img" aria-label="{esc(title)}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>']
    for i in range(TICKS + 1):
        y = TOP + plot_h - plot_h * i / TICKS
        out.append(f'<line class="inav-chart-grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class="inav-chart-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{esc(tick_fmt(top * i / TICKS))}</text>')
    x = float(LEFT)
    for s, name in enumerate(series):          # legend, one row above the plot
        out.append(f'<rect class="inav-bar inav-s{s}" x="{x:.1f}" y="10" width="12" height="12"/>'
                   f'<text class="inav-chart-legend" x="{x + 17:.1f}" y="20">{esc(name)}</text>')
        x += 17 + LEGEND_CHAR * len(name) + 18
    for g, group in enumerate(groups):
        gx = LEFT + g * group_w + group_w * 0.1
        for s, name in enumerate(series):
            v = values[g][s]
            h = plot_h * min(v, top) / top if top else 0
            x, y = gx + s * bar_w, TOP + plot_h - h
            out.append(f'<rect class="inav-bar inav-s{s}" x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" '
                       f'height="{h:.1f}" data-series="{esc(name)}" data-group="{esc(group)}" data-value="{v!r}">'
                       f'<title>{esc(name)}, {esc(group)}: {esc(fmt(v))}</title></rect>'
                       f'<text class="inav-chart-value" x="{x + bar_w * 0.45:.1f}" y="{y - 3:.1f}" '
                       f'text-anchor="middle">{esc(fmt(v))}</text>')
        out.append(f'<text class="inav-chart-group" x="{LEFT + (g + 0.5) * group_w:.1f}" y="{H - BOTTOM + 18}" '
                   f'text-anchor="middle">{esc(group)}</text>')
    out.append(f'<line class="inav-chart-axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    out.append("</svg>")
    cap = f"<figcaption><strong>{esc(title)}.</strong> {caption}</figcaption>"
    return f'<figure class="inav-chart">{"".join(out)}{cap}</figure>'


def _pct(v: float) -> str:
    return f"{v:.1%}" if v < 1 else "100%"


def prefix_cache_charts(data: dict, source: str = PREFIX_RESULTS) -> str:
    """Hit rate, preemptions and (where the file has them) peak cached blocks and peak index size
    per workload and cache, from a prefix_cache_bench.py result."""
    workloads = data["workloads"]
    first = next(iter(workloads.values()), {})
    keys = [k for k in PREFIX_SERIES if k in first]
    names = [PREFIX_SERIES[k] for k in keys]
    groups = list(workloads)
    block = data.get("block_size")
    hits = [[float(w[k]["hit_rate"]) for k in keys] for w in workloads.values()]
    pre = [[float(w[k]["preemptions"]) for k in keys] for w in workloads.values()]
    pools = [f"{g} ({w['num_blocks']} blocks)" for g, w in workloads.items()]
    src = f"Drawn at build time from <code>{esc(source)}</code>"
    hit = bar_chart("Prefix-cache hit rate per workload and cache", groups, names, hits, _pct, ymax=1.0,
                    tick_fmt=lambda v: f"{v:.0%}",
                    caption=f"Hit rate: prompt tokens whose prefill was skipped / prompt tokens admitted, "
                            f"one continuous-batching scheduler over each cache. {src}.")
    mem = bar_chart("Preemptions per workload and cache, on the same KV pool", pools, names, pre,
                    lambda v: f"{v:.0f}",
                    caption=f"Memory: every cache gets the same pool of KV blocks of {esc(block)} tokens per "
                            f"workload (the number under each group); a preemption is a running request "
                            f"pushed back because the pool ran out. {src}.")
    charts = [hit, mem]
    if all("memory" in w[k] for w in workloads.values() for k in keys):
        held = [[float(w[k]["memory"]["cached_unreferenced_blocks_peak"]) for k in keys] for w in workloads.values()]
        index = [[float(w[k]["memory"]["index_entries_peak"]) for k in keys] for w in workloads.values()]
        charts.append(bar_chart(
            "Peak KV blocks held beyond the running requests' needs", pools, names, held,
            lambda v: f"{v:.0f}",
            caption=f"Blocks of {esc(block)} tokens (a radix block is a page of {esc(block)} slots) that hold "
                    f"cached KV no running request references, read through each cache's accessors at the "
                    f"end of every scheduler step; the peak over the trace, out of the pool under each "
                    f"group. {src}."))
        charts.append(bar_chart(
            "Peak bookkeeping size of each cache", pools, names, index, lambda v: f"{v:.0f}",
            caption=f"Entries of the cache's own index at its largest, sampled the same way: block-hash "
                    f"map entries (vLLM), tree nodes of one block each (KsanaLLM), radix-tree nodes of a "
                    f"run of pages each (SGLang). {src}."))
    return "\n\n".join(charts)


def mechanism_charts(repo: Path) -> dict[str, str]:
    """Mechanism -> chart HTML, for the result files present in the checkout."""
    out = {}
    p = repo / PREFIX_RESULTS
    if p.is_file():
        out["prefix-cache"] = prefix_cache_charts(json.loads(p.read_text(encoding="utf-8")))
    return out
