"""Pages of the documentation site, generated from the index and the notes at build time.

A thin layer over query.py and notes.py: `build_pages()` returns {site path: content} and the
mkdocs hook (analyzer/site_hook.py) adds them to the build; nothing generated is committed.

Everything that comes from upstream (names, signatures, docstrings, comments, source lines) is
HTML-escaped before it reaches a page: a `<script>` in a docstring must render as text.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sources
from .notes import MECHANISMS, Note, check, load_notes, read_lock

MECHANISM_TITLES = {
    "prefix-cache": "Prefix caching", "swap": "Swap (KV offload)", "scheduler": "Scheduling",
    "block-allocator": "Block allocation", "paged-attention": "Paged attention",
    "attention-kernel": "Attention kernels", "custom-ops": "Python ops to CUDA kernels",
    "engine-loop": "The engine step loop",
}
CENTRAL_SYMBOLS = 300          # symbol pages per framework beyond the anchored ones
GRAPH_NODES = 28               # most nodes in a mechanism page's Mermaid graph
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
_REF = re.compile(r"\[\[([^\]\n]+)\]\]")


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def md(text: Any) -> str:
    """Escape text for a Markdown line (headings, table cells): no markup, no HTML."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.replace("::", ".")).strip("-.")
    return s[:120] or "x"


@dataclass
class Framework:
    ref: sources.FrameworkRef
    index: Any | None               # query.Index, or None when the source/index is absent
    reason: str = ""                # why the index is absent
    pages: dict[int, str] = field(default_factory=dict)   # symbol id -> page path
    rank: dict[int, float] = field(default_factory=dict)


class SiteBuilder:
    def __init__(self, open_index, repo: Path):
        self.open_index = open_index           # framework name -> Index (raises LookupError)
        self.repo = repo
        self.pages: dict[str, str | bytes] = {}
        self.fw: dict[str, Framework] = {}
        self.notes: list[Note] = []
        self.note_status: dict[str, dict[str, str]] = {}  # note -> anchor raw -> status
        self.bench: dict[str, str] = {}

    # ------------------------------------------------------------------ orchestration
    def build(self) -> dict[str, str | bytes]:
        for ref in sources.all_default_refs():
            try:
                self.fw[ref.name] = Framework(ref, self.open_index(ref.name))
            except LookupError as exc:
                self.fw[ref.name] = Framework(ref, None, str(exc))
        self.notes, errors = load_notes()
        if errors:
            raise ValueError("malformed notes: " + "; ".join(errors))
        self._check_notes()
        self._load_bench_tables()
        for f in self.fw.values():
            self._choose_symbol_pages(f)
        for note in self.notes:
            self._note_page(note)
        # Every mechanism gets a page (the nav lists them all); ones without notes say so.
        mechanisms = list(MECHANISMS)
        for mech in mechanisms:
            self._mechanism_page(mech)
        for f in self.fw.values():
            self._framework_page(f)
            for sid, path in f.pages.items():
                self._symbol_page(f, sid, path)
            self._explorer_data(f)
        self._explorer_page()
        self._index_pages(mechanisms)
        return self.pages

    def _check_notes(self) -> None:
        def opener(name: str):
            f = self.fw.get(name)
            if f is None or f.index is None:
                raise LookupError(f.reason if f else f"unknown framework {name}")
            return f.index

        for r in check(self.notes, opener, lambda fw, why: None):
            self.note_status.setdefault(r.note, {})[r.anchor] = r.status

    def _load_bench_tables(self) -> None:
        """Benchmark tables recorded in docs/dev/*.md under a '## Benchmark: <mechanism>' heading."""
        for p in sorted((self.repo / "docs" / "dev").glob("*.md")):
            text = p.read_text(encoding="utf-8", errors="replace")
            for m in re.finditer(r"^## Benchmark: ([\w-]+)\n(.*?)(?=^## |\Z)", text, re.S | re.M):
                self.bench[m.group(1)] = self.bench.get(m.group(1), "") + m.group(2).strip() + "\n\n"

    # ------------------------------------------------------------------ symbol selection
    def _choose_symbol_pages(self, f: Framework) -> None:
        if f.index is None:
            return
        import networkx as nx

        idx = f.index
        g = nx.DiGraph()
        g.add_edges_from(idx.conn.execute("SELECT DISTINCT src, dst FROM edges WHERE resolution != 'name'"))
        f.rank = nx.pagerank(g, alpha=0.85, tol=1e-6) if g.number_of_nodes() else {}
        chosen: set[int] = set()
        for note in self.notes:
            for a in note.anchors + note.refs:
                if a.framework == f.ref.name and not a.is_file:
                    chosen.update(r.id for r in idx.exact(a.target))
        kinds = ("function", "method", "kernel", "device", "class", "struct", "torch_op")
        ranked = sorted(f.rank, key=lambda s: -f.rank[s])
        rows = idx.symbols(ranked[: CENTRAL_SYMBOLS * 3])
        for sid in ranked[: CENTRAL_SYMBOLS * 3]:
            if len(chosen) >= CENTRAL_SYMBOLS + 200:
                break
            row = rows.get(sid)
            if row is not None and row.kind in kinds:
                chosen.add(sid)
        for sid in chosen:
            f.pages[sid] = f"symbols/{f.ref.name}/{slug(idx.symbol(sid).name)}-{sid}.md"

    # ------------------------------------------------------------------ links
    def link_symbol(self, fw: str, name: str, from_page: str, label: str | None = None) -> str:
        """HTML link to a symbol: its page, else the explorer; text escaped."""
        f = self.fw.get(fw)
        text = f"<code>{esc(label or name)}</code>"
        if f is None or f.index is None:
            return text
        rows = f.index.exact(name)
        for r in rows:
            if r.id in f.pages:
                return f'<a href="{esc(rel_url(from_page, f.pages[r.id]))}">{text}</a>'
        if rows:
            return f'<a href="{esc(rel_url(from_page, "explorer/index.md"))}?fw={esc(fw)}&amp;q={esc(name)}">{text}</a>'
        return text

    def _permalink(self, fw: str, path: str, line: int) -> str:
        f = self.fw[fw]
        return f.ref.permalink(path, line)

    # ------------------------------------------------------------------ pieces
    def excerpt(self, f: Framework, row, max_lines: int = 40) -> str:
        """Source lines with numbers, escaped, with a permalink; or the permalink and why not."""
        link = self._permalink(f.ref.name, row.path, row.line)
        head = (f'<div class="inav-src-head"><code>{esc(row.path)}:{row.line}</code> '
                f'<a href="{esc(link)}">upstream at {esc(f.ref.key)}</a></div>')
        lines = f.index.source_lines(row, max_lines=max_lines) if f.index is not None else None
        if not lines:
            return head + ('<p class="inav-missing">The source of this framework is not present where '
                           'this site was built; follow the upstream link.</p>')
        body = "".join(f'<span class="ln">{n}</span>{esc(t)}\n' for n, t in lines)
        more = ""
        if lines[-1][0] < row.end_line:
            more = f'<div class="inav-more">… {row.end_line - lines[-1][0]} more lines upstream</div>'
        return f'{head}<pre class="inav-src"><code>{body}</code></pre>{more}'

    def anchor_excerpt(self, fw: str, anchor, page: str, note_rel: str) -> str:
        f = self.fw.get(fw)
        if f is None:
            return ""
        status = self.note_status.get(note_rel, {}).get(anchor.raw, "unchecked")
        if f.index is None or anchor.is_file:
            entry = read_lock()["notes"].get(note_rel, {}).get("anchors", {}).get(anchor.key)
            path = entry["path"] if entry else (anchor.target if anchor.is_file else "")
            line = entry["lines"][0] if entry else 1
            link = self._permalink(fw, path, line) if path else ""
            why = ("the source is not present where this site was built" if f.index is None
                   else "a whole file")
            return (f'<div class="inav-anchor"><div class="inav-src-head"><code>{esc(anchor.target)}</code> '
                    f'{_badge(status)} <a href="{esc(link)}">upstream</a></div>'
                    f'<p class="inav-missing">No excerpt: {esc(why)}.</p></div>')
        rows = f.index.exact(anchor.target)
        if not rows:
            return f'<div class="inav-anchor"><code>{esc(anchor.target)}</code> {_badge("broken")}</div>'
        row = rows[0]
        title = self.link_symbol(fw, row.name, page)
        return (f'<div class="inav-anchor"><div class="inav-anchor-title">{title} {_badge(status)}</div>'
                f'{self.excerpt(f, row, 30)}</div>')

    def mermaid(self, fw: str, names: list[str]) -> str:
        from .render import to_mermaid

        f = self.fw.get(fw)
        if f is None or f.index is None:
            return ""
        ids = [r.id for n in names for r in f.index.exact(n)]
        if not ids:
            return ""
        nodes, edges = f.index.neighbourhood(ids, 1, {"exact", "type", "dispatch"}, GRAPH_NODES)
        return "```mermaid\n" + to_mermaid(nodes, edges, set(ids)) + "\n```\n"

    def render_note_body(self, note: Note, page: str, drop_title: bool = False) -> str:
        """The note's Markdown with [[refs]] as links (the page supplies the title heading)."""
        body = note.body
        if drop_title:
            body = re.sub(r"\A\s*# [^\n]*\n", "", body)

        def repl(m: re.Match) -> str:
            from .notes import parse_target

            fw = note.framework if note.framework in self.fw else ""
            a = parse_target(m.group(1), fw)
            return self.link_symbol(a.framework, a.target, page)

        return _REF.sub(repl, body)

    def project_links(self, note: Note, page: str) -> str:
        """Links to the reimplementation and test files a note names (their pages hold the code)."""
        from .notes import project_path

        out = []
        for key, label in (("reimpl", "Reimplementation"), ("tests", "Tests")):
            for v in note.meta.get(key) or []:
                p = project_path(v)
                files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
                for fpath in files:
                    if fpath.name == "__init__.py" and len(files) > 1 or not fpath.is_file():
                        continue
                    rel = fpath.relative_to(self.repo).as_posix()
                    target = self._repo_page(rel)
                    out.append(f'- {label}: <a href="{esc(rel_url(page, target))}"><code>{esc(rel)}</code></a>')
        return "\n".join(out)

    def _repo_page(self, rel: str) -> str:
        """A page showing one of this repository's own files (our code, so no escaping worries)."""
        page = f"repo/{rel}.md"
        if page not in self.pages:
            text = (self.repo / rel).read_text(encoding="utf-8", errors="replace")
            lang = "python" if rel.endswith(".py") else ""
            self.pages[page] = (f"---\ntitle: {json.dumps(rel)}\n---\n\n# {md(rel)}\n\n"
                                f"~~~~~~{lang} linenums=\"1\"\n{text}\n~~~~~~\n")
        return page

    # ------------------------------------------------------------------ pages
    def _note_page(self, note: Note) -> None:
        page = note_page(note)
        statuses = self.note_status.get(note.rel, {})
        fresh = _freshness(statuses)
        parts = [
            "---", f"title: {json.dumps(note.title)}", "---", "",
            f"# {md(note.title)}", "",
            f'<div class="inav-meta">{_badge(fresh, big=True)} '
            f'<span>{esc(note.framework)} {esc(note.meta.get("version"))}</span> · '
            f'<a href="{esc(rel_url(page, f"mechanisms/{note.mechanism}.md"))}">{esc(MECHANISM_TITLES.get(note.mechanism, note.mechanism))}</a></div>',
            "", self.render_note_body(note, page, drop_title=True), "",
        ]
        links = self.project_links(note, page)
        if links:
            parts += ["## In this repository", "", links, ""]
        parts += ["## Anchors", ""]
        for a in note.anchors:
            parts.append(self.anchor_excerpt(a.framework, a, page, note.rel))
        self.pages[page] = "\n".join(parts) + "\n"

    def _mechanism_page(self, mech: str) -> None:
        """Notes per engine side by side, then per engine: a call graph and the anchored source."""
        page = f"mechanisms/{mech}.md"
        title = MECHANISM_TITLES.get(mech, mech)
        notes = [n for n in self.notes if n.mechanism == mech]
        parts = ["---", f"title: {json.dumps(title)}", "---", "", f"# {md(title)}", ""]
        if not notes:
            parts.append('<p class="inav-missing">No note covers this mechanism yet.</p>')
        engines = sorted({n.framework for n in notes}, key=lambda e: (e == "cross", e))
        if engines:
            parts += ['<div class="inav-side">']
            for engine in engines:
                parts.append(f'<div class="inav-col"><div class="inav-col-head">{esc(engine)}</div>')
                for n in (n for n in notes if n.framework == engine):
                    fresh = _freshness(self.note_status.get(n.rel, {}))
                    parts.append(
                        f'<div class="inav-card"><a href="{esc(rel_url(page, note_page(n)))}">{esc(n.title)}</a> '
                        f'{_badge(fresh)}<p>{_summary_html(n.body)}</p></div>')
                parts.append("</div>")
            parts += ["</div>", ""]
        for fw in sorted({a.framework for n in notes for a in n.anchors}):
            names = list(dict.fromkeys(a.target for n in notes for a in n.anchors
                                       if a.framework == fw and not a.is_file))
            graph = self.mermaid(fw, names)
            if graph:
                parts += [f"## Call graph ({fw})", "",
                          "The anchored symbols (thick borders) and their direct callers and callees; "
                          "dashed edges are dispatch through a base or interface method.", "", graph]
            parts += [f"## Source ({fw})", "", f'<details class="inav-details"><summary>{esc(fw)}: '
                      f'the code the notes anchor to</summary>']
            seen = set()
            for n in notes:
                for a in n.anchors:
                    if a.framework == fw and a.key not in seen:
                        seen.add(a.key)
                        parts.append(self.anchor_excerpt(fw, a, page, n.rel))
            parts += ["</details>", ""]
        links = "\n".join(dict.fromkeys(filter(None, (self.project_links(n, page) for n in notes))))
        if links:
            parts += ["", "## Reimplementation and tests", "", links]
        if mech in self.bench:
            parts += ["", "## Benchmarks", "", self.bench[mech]]
        self.pages[page] = "\n".join(parts) + "\n"

    def _framework_page(self, f: Framework) -> None:
        page = f"frameworks/{f.ref.name}.md"
        parts = ["---", f"title: {json.dumps(f.ref.key)}", "---", "", f"# {md(f.ref.key)}", ""]
        if f.index is None:
            parts += [f'<p class="inav-missing">Not indexed where this site was built: {esc(f.reason)}</p>', ""]
            notes = [n for n in self.notes if any(a.framework == f.ref.name for a in n.anchors)]
            if notes:
                parts += ["## Notes", ""] + [f"- [{md(n.title)}]({rel_url(page, note_page(n))})" for n in notes]
            self.pages[page] = "\n".join(parts) + "\n"
            return
        idx = f.index
        st = idx.stats()
        parts += [
            f"Indexed from <code>{esc(', '.join(f.ref.roots))}</code>: "
            + ", ".join(f"{v} {md(k)} files" for k, v in st["files"].items()) + "; "
            + ", ".join(f"{v} {md(k)}" for k, v in list(st["symbols"].items())[:6]) + ".", "",
            "## Packages and directories", "",
            "| directory | files | symbols | calls out |", "|---|---:|---:|---:|",
        ]
        for d, files, syms, out in _directories(idx):
            parts.append(f"| <code>{esc(d)}</code> | {files} | {syms} | {out} |")
        parts += ["", "## Most central functions", "",
                  "Ranked by PageRank over the call graph (name-only edges left out): the code most paths run through.", "",
                  "| # | symbol | kind | location |", "|---:|---|---|---|"]
        rows = idx.symbols(list(f.rank))
        ranked = [s for s in sorted(f.rank, key=lambda s: -f.rank[s])
                  if rows.get(s) is not None and rows[s].kind in ("function", "method", "kernel", "device")][:30]
        for i, sid in enumerate(ranked, 1):
            r = rows[sid]
            parts.append(f"| {i} | {self.link_symbol(f.ref.name, r.name, page)} | {esc(r.kind)} | <code>{esc(r.path)}:{r.line}</code> |")
        parts += ["", "## Entry points", "",
                  "Functions nothing in the index calls that reach the most code within two calls.", "",
                  "| symbol | reaches | location |", "|---|---:|---|"]
        for r, reach in _entry_points(idx, 20):
            parts.append(f"| {self.link_symbol(f.ref.name, r.name, page)} | {reach} | <code>{esc(r.path)}:{r.line}</code> |")
        self.pages[page] = "\n".join(parts) + "\n"

    def _symbol_page(self, f: Framework, sid: int, page: str) -> None:
        idx = f.index
        row = idx.symbol(sid)
        parts = ["---", f"title: {json.dumps(row.short)}", "---", "", f"# {md(row.name)}", "",
                 f'<div class="inav-meta"><span class="inav-kind">{esc(row.kind)}</span> '
                 f'{esc(f.ref.key)} · <code>{esc(row.path)}:{row.line}</code>'
                 + (f' · flags: {esc(row.flags)}' if row.flags else "") + "</div>", ""]
        if row.sig:
            parts.append(f'<pre class="inav-sig"><code>{esc(row.sig)}</code></pre>')
        if row.doc:
            parts.append(f'<pre class="inav-doc">{esc(row.doc)}</pre>')
        parts.append(self.excerpt(f, row, 60))
        for title, direction in (("Callers", "callers"), ("Callees", "callees")):
            hits = idx.walk([sid], direction, 1)
            parts += ["", f"## {title} ({len(hits)})", ""]
            if hits:
                parts += ["| symbol | resolution | at |", "|---|---|---|"]
                for h in hits[:60]:
                    at = f"{h.symbol.path}:{h.line}" if direction == "callers" else f"{h.symbol.path}:{h.symbol.line}"
                    label = h.resolution + ("/" + h.via if h.via != "call" else "")
                    parts.append(f"| {self.link_symbol(f.ref.name, h.symbol.name, page)} | {esc(label)} | <code>{esc(at)}</code> |")
                if len(hits) > 60:
                    parts.append(f"\n… and {len(hits) - 60} more: <code>infernav {direction} {esc(row.name)}</code>")
        notes = [n for n in self.notes if any(a.framework == f.ref.name and a.target == row.name
                                             for a in n.anchors + n.refs)]
        if notes:
            parts += ["", "## Notes", ""] + [f"- [{md(n.title)}]({rel_url(page, note_page(n))})" for n in notes]
        self.pages[page] = "\n".join(parts) + "\n"

    def _explorer_data(self, f: Framework) -> None:
        """A compact JSON export of the whole graph for the client-side explorer."""
        if f.index is None:
            return
        c = f.index.conn
        ids = {}
        nodes = []
        files: dict[str, int] = {}
        for sid, name, kind, path, line, end in c.execute(
                "SELECT id, name, kind, path, line, end_line FROM symbols WHERE kind != 'module' ORDER BY id"):
            ids[sid] = len(nodes)
            fidx = files.setdefault(path, len(files))
            page = f.pages.get(sid)
            nodes.append([name, kind, fidx, line, end, page[:-3] + "/" if page else 0])
        res_code = {"exact": 0, "type": 1, "dispatch": 2, "name": 3}
        edges = sorted({(ids[s], ids[d], res_code[r]) for s, d, r in c.execute("SELECT src, dst, resolution FROM edges")
                        if s in ids and d in ids})
        data = {"framework": f.ref.key, "permalink": f.ref.spec.get("permalink", ""),
                "version": f.ref.version, "commit": f.ref.pin.get("commit", f.ref.version),
                "resolutions": list(res_code), "files": list(files), "nodes": nodes,
                "edges": [x for e in edges for x in e]}
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
                 "Search any symbol of the index, then click a node to expand its callers and callees. "
                 "Edge colours give how each call was resolved; the panel shows the source excerpt.", "",
                 f'<div id="inav-explorer" data-frameworks="{esc(",".join(have))}">',
                 '<div class="inav-ex-bar"><select id="inav-fw"></select>'
                 '<input id="inav-q" type="search" placeholder="symbol name, e.g. Scheduler.schedule" autocomplete="off">'
                 '<ul id="inav-hits"></ul></div>',
                 '<div class="inav-ex-main"><div id="inav-graph"></div><div id="inav-panel"></div></div>',
                 '<div class="inav-legend"><span class="r0">exact</span><span class="r1">type</span>'
                 '<span class="r2">dispatch</span><span class="r3">name-only</span></div>',
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
            fresh = _freshness(self.note_status.get(n.rel, {}))
            parts.append(f"| [{md(n.title)}]({rel_url('notes/index.md', note_page(n))}) | {esc(n.framework)} | "
                         f"[{md(MECHANISM_TITLES.get(n.mechanism, n.mechanism))}]({rel_url('notes/index.md', f'mechanisms/{n.mechanism}.md')}) | {_badge(fresh)} |")
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


# ---------------------------------------------------------------------- helpers
def note_page(note: Note) -> str:
    return "notes/" + note.rel


def rel_url(from_page: str, to_page: str) -> str:
    """URL from one generated page to another under mkdocs' directory URLs."""
    def url_dir(p: str) -> list[str]:
        p = p[:-3] if p.endswith(".md") else p
        parts = p.split("/")
        return parts[:-1] if parts[-1] == "index" else parts

    src, dst = url_dir(from_page), url_dir(to_page)
    common = 0
    while common < min(len(src), len(dst)) and src[common] == dst[common]:
        common += 1
    rel = [".."] * (len(src) - common) + dst[common:]
    return "/".join(rel) + "/" if rel else "./"


def _badge(status: str, big: bool = False) -> str:
    label = {"ok": "fresh", "fresh": "fresh", "drifted": "drifted", "broken": "broken",
             "unlocked": "unlocked", "unchecked": "unchecked"}.get(status, status)
    return f'<span class="inav-badge inav-{esc(label)}{" big" if big else ""}">{esc(label)}</span>'


def _freshness(statuses: dict[str, str]) -> str:
    vals = set(statuses.values())
    for worst in ("broken", "unlocked", "drifted"):
        if worst in vals:
            return worst
    if vals and vals <= {"unchecked"}:
        return "unchecked"
    return "fresh"


def _summary_html(body: str, limit: int = 320) -> str:
    """The note's opening, escaped, with `code` kept as code and cut at a word boundary."""
    text = _first_paragraph(body)
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text).replace("*", ""))


def _first_paragraph(body: str) -> str:
    for para in re.split(r"\n\s*\n", body):
        p = para.strip()
        if p and not p.startswith(("#", "```", "|", "-", "!!!")):
            return _REF.sub(lambda m: m.group(1), re.sub(r"\s+", " ", p))[:400]
    return ""


def _directories(idx) -> list[tuple[str, int, int, int]]:
    out = []
    rows = idx.conn.execute(
        """SELECT d, count(DISTINCT path), count(*) FROM (
             SELECT path, rtrim(substr(path, 1, instr(substr(path, instr(path, '/') + 1), '/') + instr(path, '/')), '/') AS d
             FROM symbols) GROUP BY d ORDER BY 3 DESC LIMIT 25""").fetchall()
    calls = dict(idx.conn.execute(
        """SELECT rtrim(substr(s.path, 1, instr(substr(s.path, instr(s.path, '/') + 1), '/') + instr(s.path, '/')), '/'),
                  count(*) FROM edges e JOIN symbols s ON s.id = e.src GROUP BY 1"""))
    for d, files, syms in rows:
        out.append((d or "(top)", files, syms, calls.get(d, 0)))
    return out


def _entry_points(idx, n: int):
    c = idx.conn
    cands = c.execute(
        """SELECT s.id, count(e.dst) AS outdeg FROM symbols s JOIN edges e ON e.src = s.id
           WHERE s.kind IN ('function', 'method') AND s.short NOT LIKE 'test%'
             AND s.path NOT LIKE '%test%' AND NOT EXISTS (SELECT 1 FROM edges x WHERE x.dst = s.id)
           GROUP BY s.id ORDER BY outdeg DESC LIMIT 200""").fetchall()
    scored = []
    for sid, _ in cands:
        reach = len(idx.walk([sid], "callees", 2, {"exact", "type", "dispatch"}))
        scored.append((reach, sid))
    scored.sort(reverse=True)
    rows = idx.symbols(s for _, s in scored[:n])
    return [(rows[s], reach) for reach, s in scored[:n]]
