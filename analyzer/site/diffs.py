"""Release pages: one page per pair of versions of an engine that the cache holds indexed
("0.14.1 → 0.33.0"), the mechanism summary on top, then a section per folder linking both
versions (the site's symbol page where it has one, and each version's upstream permalink).

The diff itself is analyzer/diff (`infernav diff`); every upstream-derived string goes through
html.py's escaping helpers.
"""
from __future__ import annotations

import re
from itertools import combinations
from typing import Any, Callable

from .html import MECHANISM_TITLES, esc, md, permalink, rel_url, title as page_title

FOLDER_SECTIONS = 60      # folders with their own section; the rest are one table row each
ROWS_PER_SECTION = 25     # symbol rows and edge rows per folder section

Link = Callable[[str, str, str], str]    # (framework, canonical name, from page) -> HTML


_INERT = str.maketrans({"|": "&#124;", "_": "&#95;", "*": "&#42;", "`": "&#96;", "[": "&#91;", "]": "&#93;"})


def cell(text: Any) -> str:
    """Escaped text for a Markdown table cell: a `|` (common in type hints) would end the cell,
    and Markdown reads `__init__` or `*args` inside a cell's inline HTML as emphasis."""
    return esc(text).translate(_INERT)


def inert(html: str) -> str:
    """HTML (a symbol link) made safe for a table cell the same way; entities in attribute
    values decode to the same URL."""
    return html.translate(_INERT)


def cached_indexes(name: str) -> list[Any]:
    """Indexes of engine `name` in the cache whose source is present, oldest version first."""
    from .. import sources, store
    from ..indexer import index_path
    from ..query import Index

    folder = index_path(sources.parse_ref(name)).parent
    out = []
    for path in folder.glob(f"{name}@*.sqlite"):
        try:
            idx = Index(path)
        except store.IndexProblem:
            continue
        if sources.locate(sources.parse_ref(f"{name}@{idx.meta.get('version')}")) is None:
            idx.close()
            continue
        out.append(idx)
    return sorted(out, key=lambda i: _version_key(str(i.meta.get("version"))))


def _version_key(v: str) -> tuple:
    parts = re.split(r"[.\-+]", v)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def release_pages(indexes: dict[str, list[Any]], link: Link) -> dict[str, str]:
    """{page: Markdown} for every pair of versions per engine, plus releases/index.md."""
    from ..diff import release_diff

    pages, listed = {}, []
    for name, idxs in indexes.items():
        for a, b in combinations(idxs, 2):
            d = release_diff(a, b)
            page = f"releases/{name}-{_v(a)}-{_v(b)}.md"
            pages[page] = _release_page(name, d, page, link)
            listed.append((name, _v(a), _v(b), page, d.totals))
    pages["releases/index.md"] = _index(listed)
    return pages


def _v(idx: Any) -> str:
    return str(idx.meta.get("version"))


def _index(listed: list) -> str:
    parts = ["---", 'title: "Releases"', "---", "", "# What changed between releases", ""]
    if not listed:
        parts.append('<p class="inav-missing">The cache where this site was built holds one indexed version '
                     'per engine. Fetch and index another (<code>infernav fetch vllm@0.33.0 &amp;&amp; '
                     'infernav index vllm@0.33.0</code>) to get its release page.</p>')
    else:
        parts += ["| engine | from | to | changed | renamed | moved | added | removed | call edges |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, va, vb, page, t in listed:
            parts.append(f"| {cell(name)} | {cell(va)} | [{md(vb)}]({rel_url('releases/index.md', page)}) | "
                         f"{t['changed']} | {t['renamed']} | {t['moved']} | {t['added']} | {t['removed']} | "
                         f"+{t['edges_added']} −{t['edges_removed']} |")
    return "\n".join(parts) + "\n"


def _release_page(name: str, d: Any, page: str, link: Link) -> str:
    from .. import sources

    refs = (sources.parse_ref(d.a), sources.parse_ref(d.b))
    title = f"{name} {refs[0].version} → {refs[1].version}"
    t = d.totals
    parts = ["---", f"title: {page_title(title)}", "---", "", f"# {md(title)}", "",
             f"{t['changed']} symbols changed ({t['signature_changed']} signatures), {t['renamed']} renamed, "
             f"{t['moved']} moved, {t['added']} added, {t['removed']} removed; call edges between symbols of "
             f"both versions +{t['edges_added']} −{t['edges_removed']}. Comments, whitespace and reformatting "
             f"are no change. The same answer on the command line: "
             f"<code>infernav diff {cell(d.a)} {cell(d.b)}</code>.", ""]
    parts += _mechanisms(d)
    groups = d.groups()
    for group, changes, edges in groups[:FOLDER_SECTIONS]:
        parts += _section(name, group, changes, edges, refs, page, link, d)
    if len(groups) > FOLDER_SECTIONS:
        parts += ["## Other folders", "", "| folder | symbols | call edges |", "|---|---:|---:|"]
        parts += [f"| <code>{cell(g)}</code> | {len(cs)} | {len(es)} |" for g, cs, es in groups[FOLDER_SECTIONS:]]
    return "\n".join(parts) + "\n"


def _mechanisms(d: Any) -> list[str]:
    if not d.mechanisms:
        return []
    out = ["## Mechanisms", "", "The symbols each mechanism's notes anchor, and their callees one call deep.", ""]
    for m in d.mechanisms:
        c = m.counts()
        counts = ", ".join(f"{c[k]} {k}" for k in ("changed", "renamed", "moved", "added", "removed") if c[k])
        shown = [f"<code>{cell(_short(e.caller))} → {cell(_short(e.callee))}</code>"
                 for e in m.edges if e.status == "added"][:3]
        edges = f"; call edges +{c['edges_added']} −{c['edges_removed']}" if c["edges_added"] or c["edges_removed"] else ""
        out.append(f"- **{md(MECHANISM_TITLES.get(m.mechanism, m.mechanism))}** ({m.symbols} symbols in scope): "
                   f"{counts or 'no change'}{edges}" + (f" (new: {', '.join(shown)})" if shown else ""))
    return out + [""]


def _section(name: str, group: str, changes: list, edges: list, refs: tuple, page: str, link: Link,
             d: Any) -> list[str]:
    out = [f"## {md(group)}", "", "| change | symbol | before | after | lines | callers |",
           "|---|---|---|---|---:|---:|"]
    for c in changes[:ROWS_PER_SECTION]:
        before = _at(refs[0], c.old) if c.old is not None else ""
        after = _at(refs[1], c.new) if c.new is not None else ""
        label = inert(link(name, c.name, page))
        if c.old is not None and c.new is not None and c.old.name != c.new.name:
            label = inert(f"{link(name, c.old.name, page)} → {link(name, c.new.name, page)}")
        lines = f"+{c.added} −{c.removed}" if c.added or c.removed else ""
        sig = ""
        if c.signature_changed:
            sig = f"<br><small><code>{cell(c.sig_before)}</code> → <code>{cell(c.sig_after)}</code></small>"
        out.append(f"| {cell(c.status)} | {label}{sig} | {before} | {after} | {lines} | {c.callers} |")
    if edges:
        out += ["", "| call edge | caller | callee | resolved | at |", "|---|---|---|---|---|"]
        for e in edges[:ROWS_PER_SECTION]:
            ref = refs[1] if e.status == "added" else refs[0]
            at = f'<a href="{cell(permalink(ref, e.path, e.line))}"><code>{cell(e.path)}:{e.line}</code></a>'
            caller, callee = (inert(link(name, n, page)) for n in (e.caller, e.callee))
            out.append(f"| {'+' if e.status == 'added' else '−'} | {caller} | {callee} | {cell(e.resolution)} | {at} |")
    hidden = max(0, len(changes) - ROWS_PER_SECTION) + max(0, len(edges) - ROWS_PER_SECTION)
    if hidden:
        out += ["", f"… and {hidden} more: <code>infernav diff {cell(d.a)} {cell(d.b)} --under {cell(group)}</code>"]
    return out + [""]


def _at(ref: Any, row: Any) -> str:
    return f'<a href="{cell(permalink(ref, row.path, row.line))}"><code>{cell(row.path)}:{row.line}</code></a>'


def _short(name: str) -> str:
    from ..diff.model import short

    return short(name)
