"""Mechanism pages: the engines side by side (a comparison table lifted from the cross-engine
note, the notes per engine in columns), then one tab per engine with its call graph and the
anchored source. Graphs are drawn by site/assets/graphs.js: readable size, zoom, every node a
link to its symbol page (or the explorer), tests left out, dark mode."""
from __future__ import annotations

import json
import re

from .html import MECHANISM_TITLES, badge, esc, freshness, md, note_page, rel_url, summary_html, title as page_title

# Search: lunr has no synonyms, so each mechanism page says the other names people search for.
SYNONYMS = {
    "prefix-cache": "prefix cache, prefix caching, automatic prefix caching, APC, KV cache reuse, block hash, radix tree",
    "swap": "swap, swapping, KV offload, offloading, preemption, swap in, swap out, host memory",
    "scheduler": "scheduler, scheduling, continuous batching, batch scheduler, chunked prefill, split fuse, preemption",
    "block-allocator": "block allocator, block allocation, block pool, free block queue, KV blocks, paged memory",
    "paged-attention": "paged attention, PagedAttention, block table, KV cache layout, reshape_and_cache",
    "attention-kernel": "attention kernel, flash attention, FlashAttention, decode kernel, CUDA kernel",
    "custom-ops": "custom ops, torch ops, torch.ops, pybind11, Python to CUDA, kernel launch",
    "engine-loop": "engine loop, engine step, busy loop, EngineCore, step loop, batch manager",
}
SEARCH_BOOST = 4               # mechanism pages first in search (notes and tours: 3, see their pages)

_TABLE = re.compile(r"(?m)^(\|[^\n]*\|)\n(\|[ :|-]+\|)\n((?:\|[^\n]*\|\n?)+)")


def graph_box(source: str, links: dict[str, str], caption: str = "") -> str:
    """One graph: the Mermaid text (escaped, read back by graphs.js through textContent), node id
    -> URL links, zoom buttons; on one line so it can sit in a tab or a table-free Markdown block."""
    tools = ('<div class="inav-graph-tools"><button type="button" data-zoom="in" title="zoom in">+</button>'
             '<button type="button" data-zoom="out" title="zoom out">−</button>'
             '<button type="button" data-zoom="fit" title="fit the width">fit</button>'
             '<button type="button" data-zoom="full" title="natural size">1:1</button></div>')
    cap = f'<div class="inav-graph-caption">{esc(caption)}</div>' if caption else ""
    return (f'<div class="inav-graph" data-links="{esc(json.dumps(links, separators=(",", ":")))}">{tools}'
            f'<pre class="inav-graph-src">{esc(source)}</pre><div class="inav-graph-view"></div>{cap}</div>')


def mermaid_fences_to_boxes(body: str) -> str:
    """A note's ```mermaid figures drawn by graphs.js too (zoom, dark mode), not by Material."""
    return re.sub(r"(?ms)^```mermaid[ \t]*\n(.*?)\n```[ \t]*$", lambda m: graph_box(m.group(1), {}), body)


class MechanismPages:
    """Mixin of SiteBuilder."""

    def _mechanism_page(self, mech: str) -> None:
        page = f"mechanisms/{mech}.md"
        title = MECHANISM_TITLES.get(mech, mech)
        notes = [n for n in self.notes if n.mechanism == mech]
        parts = ["---", f"title: {page_title(title)}", "search:", f"  boost: {SEARCH_BOOST}", "---", "",
                 f"# {md(title)}", ""]
        if mech in SYNONYMS:
            parts += [f'<p class="inav-aka">Also called: {esc(SYNONYMS[mech])}.</p>', ""]
        if not notes:
            parts.append('<p class="inav-missing">No note covers this mechanism yet.</p>')
        parts += self._comparison(notes, page)
        # Engines in the pins file's order (the order of the Compared table's columns), cross last.
        order = {fw: i for i, fw in enumerate(self.fw)}
        engines = sorted({n.framework for n in notes}, key=lambda e: (e == "cross", order.get(e, len(order)), e))
        if engines:
            parts += ["## The notes, engine by engine", "", '<div class="inav-side">']
            for engine in engines:
                parts.append(f'<div class="inav-col"><div class="inav-col-head">{esc(engine)}</div>')
                for n in (n for n in notes if n.framework == engine):
                    fresh = freshness(self.note_status.get(n.rel, {}))
                    parts.append(
                        f'<div class="inav-card"><a href="{esc(rel_url(page, note_page(n)))}">{esc(n.title)}</a> '
                        f'{badge(fresh)}<p>{summary_html(n.body)}</p></div>')
                parts.append("</div>")
            parts += ["</div>", ""]
        if mech in self.charts:      # measured side by side: right under the notes, above the code
            parts += ["## The caches on the same traces", "", self.charts[mech], ""]
        fws = [fw for fw in self.fw if any(a.framework == fw for n in notes for a in n.anchors)]
        if fws:
            parts += ["## Code and call graph, per engine", ""]
        for fw in fws:
            parts += [f'=== "{md(self.fw[fw].ref.key)}"', ""] + ["    " + ln if ln else ln
                                                                for ln in self._engine_tab(fw, notes, page)]
        links = list(dict.fromkeys(ln for n in notes for ln in self.project_links(n, page).splitlines() if ln))
        if links:
            parts += ["", "## Reimplementation and tests", "", *links]
        if mech in self.bench:
            parts += ["", "## Benchmarks", "", self.bench[mech]]
        self.pages[page] = "\n".join(parts) + "\n"

    def _comparison(self, notes, page: str) -> list[str]:
        """The first table of a cross-engine note of this mechanism whose header names two
        engines: the comparison, on top, its [[refs]] linked to their anchors."""
        for n in (n for n in notes if n.framework == "cross"):
            for m in _TABLE.finditer(self.render_note_body(n, page)):
                head = m.group(1).lower()
                if sum(k in head for k in ("vllm", "ksana")) >= 2:
                    return ["## Compared", "",
                            f'<p class="inav-meta">From <a href="{esc(rel_url(page, note_page(n)))}">{esc(n.title)}</a>'
                            "; each row is explained there, with links to the code.</p>", "",
                            m.group(0).rstrip("\n"), ""]
        return []

    def _engine_tab(self, fw: str, notes, page: str) -> list[str]:
        names = list(dict.fromkeys(a.target for n in notes for a in n.anchors
                                   if a.framework == fw and not a.is_file))
        out = []
        graph = self.mermaid(fw, names, page)
        if graph:
            out += ["The anchored symbols (thick borders) with their direct callers and callees, exact, "
                    "flow and type calls first; dashed edges are dispatch, a rounded node stands for "
                    "several overrides of one call; tests are left out. Click a node for its page.", "",
                    graph, ""]
        out += [f'<details class="inav-details"><summary>{esc(fw)}: the code the notes anchor to</summary>']
        seen = set()
        for n in notes:
            for a in n.anchors:
                if a.framework == fw and a.key not in seen:
                    seen.add(a.key)
                    out.append(self.anchor_excerpt(fw, a, page, n.rel))
        return out + ["</details>", ""]
