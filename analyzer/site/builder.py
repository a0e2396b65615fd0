"""Pages of the documentation site, generated from the index and the notes at build time.

`SiteBuilder.build()` returns {site path: content}; the mkdocs hook (hook.py) adds them to the
build; nothing generated is committed. The builder reads indexes through the query API and notes
through the notes engine; pieces.py, pages.py and explorer.py write the pages, html.py escapes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import sources
from ..notes import MECHANISMS, Note, check, load_notes
from .charts import mechanism_charts
from .explorer import ExplorerPages
from .html import esc, permalink, rel_url, slug, url_part
from .mechanisms import MechanismPages
from .pages import Pages
from .pieces import Pieces
from .symbols import SymbolPages
from .tours import TourPages, load_tours

CENTRAL_SYMBOLS = 300          # symbol pages per framework beyond the anchored ones
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_]+(?:(?:\.|::)[A-Za-z0-9_]+)*$")


_DUMP = re.compile(r"^\s*(?:\{.*\}|[\w-]+: \w+\(.*=.*\))\s*$")


def _readable_bench(text: str) -> str:
    """A benchmark section for the site: raw dumps (a JSON object, a Python repr) left out, and
    references to "the tables above" / "the issue's table" (true in the doc, not on the page)
    made plain."""
    lines = [ln for ln in text.splitlines() if not _DUMP.match(ln)]
    out = "\n".join(lines)
    out = re.sub(r"\bthe tables above\b", "these tables", out)
    out = re.sub(r"\bthe issue's table\b", "the table", out)
    return out


def symbol_slug(name: str, force_hash: bool = False) -> str:
    """A symbol page's file name from its canonical name alone: the name itself (`::` as `.`)
    when it is plain, else a readable slug plus 8 hex digits of the name's sha1 (`operator*`)."""
    import hashlib

    if _PLAIN_NAME.match(name) and len(name) <= 150 and not force_hash:
        return name.replace("::", ".")
    return f"{slug(name)[:100]}--{hashlib.sha1(name.encode()).hexdigest()[:8]}"


@dataclass
class Framework:
    ref: sources.FrameworkRef
    index: Any | None               # query.Index, or None when the source/index is absent
    reason: str = ""                # why the index is absent
    pages: dict[int, str] = field(default_factory=dict)   # symbol id -> page path
    rank: dict[int, float] = field(default_factory=dict)


class SiteBuilder(Pieces, Pages, MechanismPages, SymbolPages, TourPages, ExplorerPages):
    """Generates every page; each mixin writes one kind of page or piece."""

    def __init__(self, open_index, repo: Path):
        self.open_index = open_index           # framework name -> Index (raises LookupError)
        self.repo = repo
        self.pages: dict[str, str | bytes] = {}
        self.fw: dict[str, Framework] = {}
        self.notes: list[Note] = []
        self.note_status: dict[str, dict[str, str]] = {}  # note -> anchor raw -> status
        self.bench: dict[str, str] = {}
        self.charts: dict[str, str] = {}
        self.tours: dict = {}                  # framework -> tours.Tour
        self.tour_errors: list[str] = []

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
        from ..notes.model import notes_root

        self.tours, self.tour_errors = load_tours(notes_root())
        self._load_bench_tables()
        self.charts = mechanism_charts(self.repo)
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
            for path, sid in {p: s for s, p in sorted(f.pages.items(), reverse=True)}.items():
                self._symbol_page(f, sid, path)
            self._explorer_data(f)
        self._explorer_page()
        self._tour_pages()
        self._index_pages(mechanisms)
        self._release_pages()
        return self.pages

    def _release_pages(self) -> None:
        """A page per pair of versions of an engine the cache holds indexed (site/diffs.py)."""
        from .diffs import cached_indexes, release_pages

        indexes = {name: cached_indexes(name) for name, f in self.fw.items() if f.index is not None}
        try:
            self.pages.update(release_pages(indexes, self.link_symbol))
        finally:
            for idx in (i for idxs in indexes.values() for i in idxs):
                idx.close()

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
                body = _readable_bench(m.group(2).strip())
                src = f"<p class=\"inav-meta\">Recorded in <code>docs/dev/{esc(p.name)}</code>.</p>"
                self.bench[m.group(1)] = self.bench.get(m.group(1), "") + body + "\n\n" + src + "\n\n"

    # ------------------------------------------------------------------ symbol selection
    def _choose_symbol_pages(self, f: Framework) -> None:
        if f.index is None:
            return
        import networkx as nx

        idx = f.index
        g = nx.DiGraph()
        g.add_edges_from(idx.call_pairs({"exact", "type", "flow", "dispatch"}))
        f.rank = nx.pagerank(g, alpha=0.85, tol=1e-6) if g.number_of_nodes() else {}
        chosen: set[int] = set()
        for note in self.notes:
            for a in note.anchors + note.refs:
                if a.framework == f.ref.name and not a.is_file:
                    chosen.update(r.id for r in idx.exact(a.target))
        tour = self.tours.get(f.ref.name)
        for stop in tour.stops if tour else ():
            chosen.update(r.id for r in idx.exact(stop.anchor))
        kinds = ("function", "method", "kernel", "device", "class", "struct", "torch_op")
        ranked = sorted(f.rank, key=lambda s: -f.rank[s])
        rows = idx.symbols(ranked[: CENTRAL_SYMBOLS * 3])
        for sid in ranked[: CENTRAL_SYMBOLS * 3]:
            if len(chosen) >= CENTRAL_SYMBOLS + 200:
                break
            row = rows.get(sid)
            if row is not None and row.kind in kinds:
                chosen.add(sid)
        self._assign_pages(f, chosen)

    def _assign_pages(self, f: Framework, chosen: set[int]) -> None:
        """One page per canonical name (overloads and twins share it), at a URL made from the
        name alone (symbol_slug), so a bookmark survives a re-index."""
        idx = f.index
        names = sorted({r.name for r in idx.symbols(chosen).values()})
        slugs: dict[str, list[str]] = {}
        for name in names:
            slugs.setdefault(symbol_slug(name), []).append(name)
        for s, group in slugs.items():
            for name in group:
                page = s if len(group) == 1 else symbol_slug(name, force_hash=True)
                for r in idx.exact(name):
                    f.pages[r.id] = f"symbols/{f.ref.name}/{page}.md"

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
            return f'<a href="{esc(rel_url(from_page, "explorer/index.md"))}?fw={url_part(fw)}&amp;sym={url_part(name)}">{text}</a>'
        return text

    def symbol_url(self, fw: str, name: str, from_page: str) -> str:
        """URL of a symbol's page, else the explorer opened on it (not escaped)."""
        from urllib.parse import quote

        f = self.fw.get(fw)
        rows = f.index.exact(name) if f is not None and f.index is not None else []
        for r in rows:
            if r.id in f.pages:
                return rel_url(from_page, f.pages[r.id])
        return (f"{rel_url(from_page, 'explorer/index.md')}?fw={quote(fw, safe='')}&sym={quote(name, safe='')}"
                if rows else "")

    def _permalink(self, fw: str, path: str, line: int) -> str:
        return permalink(self.fw[fw].ref, path, line)

