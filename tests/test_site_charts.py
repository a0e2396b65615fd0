"""Issue 18: the prefix-caching page charts the three caches on the same traces, drawn at build
time (analyzer/site/charts.py) from the committed bench/results/prefix_cache_3engines.json. The
tests read the numbers from that file (none is typed here), check every bar against them, check
that changing the file changes the chart, and that the built page carries the SVG intact."""
from __future__ import annotations

import copy
import html
import json
import re
import shutil
from pathlib import Path

from infernav.analyzer.site import charts

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / charts.PREFIX_RESULTS
PLOT_H = charts.H - charts.TOP - charts.BOTTOM


def _bars(chart_html: str) -> dict[tuple[str, str], tuple[float, float]]:
    """(group, series) -> (data-value, drawn height) of each bar."""
    out = {}
    for m in re.finditer(r'<rect class="inav-bar [^"]*" x="[^"]*" y="[^"]*" width="[^"]*" height="([^"]*)" '
                         r'data-series="([^"]*)" data-group="([^"]*)" data-value="([^"]*)">', chart_html):
        out[(html.unescape(m.group(3)), html.unescape(m.group(2)))] = (float(m.group(4)), float(m.group(1)))
    return out


def _split(doc: str) -> list[str]:
    """hit rate, preemptions, peak cached-unreferenced blocks, peak index entries."""
    return doc.split("\n\n")


def _text(chart_html: str) -> str:
    return html.unescape(chart_html)


def test_every_bar_is_the_committed_number():
    data = json.loads(RESULTS.read_text())
    hit, mem, held, index = _split(charts.prefix_cache_charts(data))
    hit_bars, mem_bars = _bars(hit), _bars(mem)
    series = [k for k in charts.PREFIX_SERIES if k in next(iter(data["workloads"].values()))]
    assert {"vllm", "ours/hash", "ours/tree", "ours/radix"} <= set(series)
    assert len(hit_bars) == len(mem_bars) == len(series) * len(data["workloads"])
    top = charts._nice_max(max(w[k]["preemptions"] for w in data["workloads"].values() for k in series))
    for name, w in data["workloads"].items():
        pool = f"{name} ({w['num_blocks']} blocks)"
        assert pool in _text(mem)                     # the memory each cache was given, per workload
        for k in series:
            label = charts.PREFIX_SERIES[k]
            v, h = hit_bars[(name, label)]
            assert v == w[k]["hit_rate"] and abs(h - PLOT_H * v) < 0.06          # y axis 0..100%
            assert f"{label}, {name}: {w[k]['hit_rate']:.1%}" in _text(hit)         # tooltip
            v, h = mem_bars[(pool, label)]
            assert v == w[k]["preemptions"] and abs(h - PLOT_H * v / top) < 0.06
    assert "ours/hash+pickle" not in _text(hit) and charts.PREFIX_RESULTS in _text(hit)
    for chart, field in ((held, "cached_unreferenced_blocks_peak"), (index, "index_entries_peak")):
        bars = _bars(chart)
        assert len(bars) == len(series) * len(data["workloads"]) and charts.PREFIX_RESULTS in _text(chart)
        top = charts._nice_max(max(w[k]["memory"][field] for w in data["workloads"].values() for k in series))
        for name, w in data["workloads"].items():
            pool = f"{name} ({w['num_blocks']} blocks)"
            for k in series:
                v, h = bars[(pool, charts.PREFIX_SERIES[k])]
                assert v == w[k]["memory"][field] and abs(h - PLOT_H * v / top) < 0.06


def test_the_chart_follows_the_file():
    data = json.loads(RESULTS.read_text())
    name = next(iter(data["workloads"]))
    changed = copy.deepcopy(data)
    cell = changed["workloads"][name]["ours/radix"]
    cell["hit_rate"] = cell["hit_rate"] / 2
    cell["preemptions"] = cell["preemptions"] + 7
    cell["memory"] = dict(cell["memory"], cached_unreferenced_blocks_peak=cell["memory"]["cached_unreferenced_blocks_peak"] // 2,
                          index_entries_peak=cell["memory"]["index_entries_peak"] + 1)
    before, after = charts.prefix_cache_charts(data), charts.prefix_cache_charts(changed)
    assert before != after
    label = charts.PREFIX_SERIES["ours/radix"]
    b, a = _bars(_split(before)[0]), _bars(_split(after)[0])
    assert a[(name, label)][0] == cell["hit_rate"]
    assert abs(a[(name, label)][1] - b[(name, label)][1] / 2) < 0.06
    assert {k: v for k, v in a.items() if k != (name, label)} == {k: v for k, v in b.items() if k != (name, label)}
    pool = f"{name} ({data['workloads'][name]['num_blocks']} blocks)"
    assert _bars(_split(after)[1])[(pool, label)][0] == cell["preemptions"]
    for i, field in ((2, "cached_unreferenced_blocks_peak"), (3, "index_entries_peak")):
        b, a = _bars(_split(before)[i]), _bars(_split(after)[i])
        assert a[(pool, label)][0] == cell["memory"][field] != b[(pool, label)][0]   # that bar moved
        assert a[(pool, label)][1] != b[(pool, label)][1]
        others = [key for key in a if key != (pool, label)]
        assert [a[key][0] for key in others] == [b[key][0] for key in others]        # the others kept their values
    # A workload added to the file gets its own group.
    changed["workloads"]["extra"] = copy.deepcopy(changed["workloads"][name])
    assert any(g == "extra" for g, _ in _bars(_split(charts.prefix_cache_charts(changed))[0]))


def test_no_results_file_no_chart(tmp_path):
    assert charts.mechanism_charts(tmp_path) == {}
    (tmp_path / "bench" / "results").mkdir(parents=True)
    shutil.copy(RESULTS, tmp_path / charts.PREFIX_RESULTS)
    assert set(charts.mechanism_charts(tmp_path)) == {"prefix-cache"}


def test_the_built_page_carries_the_chart(tmp_path):
    """A site over the mini fixture: the prefix-caching page holds all four charts, the SVG unmangled
    by Markdown, every bar with the committed value."""
    from test_site import build_mini_site

    notes = tmp_path / "notes"
    (notes / "tours").mkdir(parents=True)
    out = build_mini_site(tmp_path, notes)
    page = (out / "mechanisms/prefix-cache/index.html").read_text()
    assert page.count('<svg class="inav-chart-svg"') == 4 and page.count("</svg>") >= 4
    data = json.loads(RESULTS.read_text())
    bars = _bars(page)
    for name, w in data["workloads"].items():
        for k, label in charts.PREFIX_SERIES.items():
            assert bars[(name, label)][0] == w[k]["hit_rate"]
    assert "<p><svg" not in page and "<p><rect" not in page      # Markdown left the figure alone


def test_a_file_without_memory_draws_no_memory_charts():
    data = json.loads(RESULTS.read_text())
    for w in data["workloads"].values():
        for cell in w.values():
            if isinstance(cell, dict):
                cell.pop("memory", None)
    assert len(_split(charts.prefix_cache_charts(data))) == 2
