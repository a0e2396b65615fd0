"""Pieces shared by pages: source excerpts, anchored excerpts, Mermaid graphs, note bodies with
their [[references]] linked, links to this repository's own files."""
from __future__ import annotations

import re

from ..notes import Note, parse_target, project_path, read_lock
from .html import REF, badge, esc, md, rel_url, title as page_title

GRAPH_NODES = 28               # most nodes in a mechanism page's Mermaid graph


class Pieces:
    """Mixin of SiteBuilder."""

    def excerpt(self, f, row, max_lines: int = 40) -> str:
        """Source lines highlighted, each number an anchor (code.py), with a permalink to the
        symbol's lines upstream; or the permalink and why not."""
        from .code import code_block

        link = self._permalink(f.ref.name, row.path, row.line)
        lines = f.index.source_lines(row, max_lines=max_lines) if f.index is not None else None
        last = lines[-1][0] if lines else row.line
        span = f"{link}-L{last}" if lines and last > row.line and link.endswith(f"#L{row.line}") else link
        head = (f'<div class="inav-src-head"><code>{esc(row.path)}:{row.line}</code> '
                f'<a class="inav-upstream" href="{esc(span)}">upstream at {esc(f.ref.key)}</a></div>')
        if not lines:
            return head + ('<p class="inav-missing">The source of this framework is not present where '
                           'this site was built; follow the upstream link.</p>')
        template = self._permalink(f.ref.name, row.path, 1)
        template = template[:-len("#L1")] if template.endswith("#L1") else ""
        more = ""
        if lines[-1][0] < row.end_line:
            more = f'<div class="inav-more">… {row.end_line - lines[-1][0]} more lines upstream</div>'
        return head + code_block(row.path, lines, template) + more

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
                    f'{badge(status)} <a href="{esc(link)}">upstream</a></div>'
                    f'<p class="inav-missing">No excerpt: {esc(why)}.</p></div>')
        rows = f.index.exact(anchor.target)
        if not rows:
            return f'<div class="inav-anchor"><code>{esc(anchor.target)}</code> {badge("broken")}</div>'
        row = rows[0]
        title = self.link_symbol(fw, row.name, page)
        return (f'<div class="inav-anchor"><div class="inav-anchor-title">{title} {badge(status)}</div>'
                f'{self.excerpt(f, row, 30)}</div>')

    def mermaid(self, fw: str, names: list[str], page: str = "") -> str:
        """The anchored symbols' neighbourhood, ranked (query/ranking.py), tests left out, each
        node linked to its symbol page or the explorer (mechanisms.graph_box draws it)."""
        from ..render import to_mermaid
        from .mechanisms import graph_box

        f = self.fw.get(fw)
        if f is None or f.index is None:
            return ""
        ids = [r.id for n in names for r in f.index.exact(n)]
        if not ids:
            return ""
        g = f.index.ranked_neighbourhood(ids, 1, {"exact", "flow", "type", "dispatch"}, GRAPH_NODES,
                                         is_test=f.ref.is_test_path)
        links = {f"n{sid}": self.symbol_url(fw, row.name, page) for sid, row in g.nodes.items()}
        return graph_box(to_mermaid(g, set(ids), direction="LR"), links)

    def render_note_body(self, note: Note, page: str, drop_title: bool = False) -> str:
        """The note's Markdown with [[refs]] as links (the page supplies the title heading)."""
        from .mechanisms import mermaid_fences_to_boxes

        body = note.body
        if drop_title:
            body = re.sub(r"\A\s*# [^\n]*\n", "", body)
        body = mermaid_fences_to_boxes(body)

        def repl(m: re.Match) -> str:
            fw = note.framework if note.framework in self.fw else ""
            a = parse_target(m.group(1), fw)
            in_table = body.startswith("|", body.rfind("\n", 0, m.start()) + 1)
            return self.link_symbol(a.framework, a.target, page, _short_label(a.target) if in_table else None)

        return REF.sub(repl, body)

    def project_links(self, note: Note, page: str) -> str:
        """Links to the reimplementation and test files a note names (their pages hold the code)."""
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
            self.pages[page] = (f"---\ntitle: {page_title(rel)}\n---\n\n# {md(rel)}\n\n"
                                f"~~~~~~{lang} linenums=\"1\"\n{text}\n~~~~~~\n")
        return page


def _short_label(name: str) -> str:
    """A table cell's link text: the last two parts of the name (the link holds the rest), with a
    zero-width break after the separator so a narrow cell wraps there, never mid-word."""
    sep = "::" if "::" in name else "."
    return (sep + "\u200b").join(name.split(sep)[-2:])
