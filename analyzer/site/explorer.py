"""The client-side explorer: a compact JSON export of each graph, per-file source on demand, and
the index pages (notes, mechanisms, frameworks)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from .html import MECHANISM_TITLES, badge, esc, freshness, md, note_page, rel_url


class ExplorerPages:
    """Mixin of SiteBuilder."""

    def _explorer_data(self, f) -> None:
        """A compact JSON export of the whole graph for the client-side explorer: nodes (with a
        test-code flag), edges, each resolution's rank and the fan-outs (query/ranking.py)."""
        if f.index is None:
            return
        from ..query.ranking import GRAPH_RANK, fanout_groups

        ids, nodes, shorts, tests, all_names = {}, [], {}, {}, {}
        files: dict[str, int] = {}
        is_test = f.ref.is_test_path
        for sid, name, kind, path, line, end in f.index.all_symbols():
            if kind == "module":
                continue
            ids[sid] = len(nodes)
            shorts[sid], all_names[sid] = re.split(r"::|\.", name)[-1], name
            if path not in tests:
                tests[path] = int(is_test(path))
            fidx = files.setdefault(path, len(files))
            page = f.pages.get(sid)
            nodes.append([name, kind, fidx, line, end, page[:-3] + "/" if page else 0, tests[path]])
        res_code = {"exact": 0, "type": 1, "flow": 2, "dispatch": 3, "guess": 4}
        raw = [(s, d, line, r) for s, d, line, r, _via in f.index.all_edges() if s in ids and d in ids]
        edges = sorted({(ids[s], ids[d], res_code[r]) for s, d, _line, r in raw})
        fanouts = []
        named = {(s, shorts[d], line): d for s, d, line, r in raw if r not in ("dispatch", "guess")}
        for src, groups in fanout_groups(raw, shorts).items():
            for short, line, dsts in groups:
                base = named.get((src, short, line))
                of = ".".join(all_names[base].replace("::", ".").split(".")[-2:]) if base else short
                fanouts.append([ids[src], f"{len(dsts)} overrides of {of}", [ids[d] for d in dsts]])
        data = {"framework": f.ref.key, "permalink": f.ref.spec.get("permalink", ""),
                "version": f.ref.version, "commit": f.ref.pin.get("commit", f.ref.version),
                "resolutions": list(res_code), "rank": [GRAPH_RANK[r] for r in res_code],
                "files": list(files), "nodes": nodes,
                "edges": [x for e in edges for x in e], "fanouts": fanouts}
        self.pages[f"explorer/data/{f.ref.name}.json"] = json.dumps(data, separators=(",", ":"))
        # Source text per file for excerpts, loaded on demand (upstream text: never committed).
        root = f.index.meta.get("root")
        if root:
            for path, i in files.items():
                try:
                    text = (Path(root) / path).read_bytes().decode("utf-8", "replace")
                except OSError:
                    continue
                self.pages[f"explorer/src/{f.ref.name}/{i}.json"] = json.dumps(text.splitlines())

    def _explorer_page(self) -> None:
        have = [name for name, f in self.fw.items() if f.index is not None]
        missing = [f"{f.ref.key}: {f.reason}" for f in self.fw.values() if f.index is None]
        parts = ["---", 'title: "Call-graph explorer"', "hide:", "  - toc", "  - navigation", "---", "",
                 "# Call-graph explorer", "",
                 '<p class="inav-ex-intro">Search any symbol of the index, then click a node to expand its '
                 "callers and callees (at most 40 each way: exact, flow and type calls first; an orange box "
                 "stands for the overrides one call can dispatch to, click it to open them). Edge colours give "
                 "how each call was resolved; the panel shows the source excerpt. The address bar keeps the "
                 "symbol, so a link to this page opens it.</p>",
                 '<p class="inav-ex-intro-narrow">Pick a symbol: what it calls and what calls it are listed '
                 "most certain first (exact, flow, type, then dispatch). Tap a name to move there; the graph "
                 "is behind its button.</p>", "",
                 f'<div id="inav-explorer" data-frameworks="{esc(",".join(have))}">',
                 '<div class="inav-ex-bar"><select id="inav-fw"></select>'
                 '<input id="inav-q" type="search" placeholder="symbol name, e.g. Scheduler.schedule" autocomplete="off">'
                 '<label class="inav-tests"><input id="inav-tests" type="checkbox"> tests</label>'
                 '<ul id="inav-hits"></ul></div>',
                 '<button type="button" id="inav-graph-toggle" aria-expanded="false">Show the graph</button>'
                 '<div class="inav-ex-main"><div id="inav-list" aria-live="polite"></div><div id="inav-graph"></div>'
                 '<div id="inav-panel"></div></div>',
                 '<div class="inav-legend"><span class="r0">exact</span><span class="r1">type</span>'
                 '<span class="r2">flow</span><span class="r3">dispatch</span>'
                 '<span class="r4">guess (name only)</span></div>',
                 "</div>", ""]
        for m in missing:
            parts.append(f'<p class="inav-missing">Not in the explorer: {esc(m)}</p>')
        parts += ['<script src="../assets/vendor/cytoscape.min.js"></script>',
                  '<script src="../assets/explorer.js"></script>', ""]
        self.pages["explorer/index.md"] = "\n".join(parts)

    def _index_pages(self, mechanisms: list[str]) -> None:
        parts = ["---", 'title: "Notes"', "---", "", "# Notes", "",
                 "| note | engine | mechanism | freshness |", "|---|---|---|---|"]
        for n in self.notes:
            fresh = freshness(self.note_status.get(n.rel, {}))
            parts.append(f"| [{md(n.title)}]({rel_url('notes/index.md', note_page(n))}) | {esc(n.framework)} | "
                         f"[{md(MECHANISM_TITLES.get(n.mechanism, n.mechanism))}]({rel_url('notes/index.md', f'mechanisms/{n.mechanism}.md')}) | {badge(fresh)} |")
        self.pages["notes/index.md"] = "\n".join(parts) + "\n"
        parts = ["---", 'title: "Mechanisms"', "---", "", "# Mechanisms", ""]
        for m in mechanisms:
            count = sum(1 for n in self.notes if n.mechanism == m)
            parts.append(f"- [{md(MECHANISM_TITLES.get(m, m))}]({m}.md): {count} note{'s' if count != 1 else ''}")
        self.pages["mechanisms/index.md"] = "\n".join(parts) + "\n"
        parts = ["---", 'title: "Frameworks"', "---", "", "# Frameworks", ""]
        for name, f in self.fw.items():
            state = "indexed" if f.index is not None else "not indexed here"
            parts.append(f"- [{md(f.ref.key)}]({name}.md): {state}")
        self.pages["frameworks/index.md"] = "\n".join(parts) + "\n"


