"""Symbol pages: one per canonical name (overloads listed by signature), the highlighted source,
a class's members with what each overrides, callees and callers in the query layer's rank."""
from __future__ import annotations

import re

from .html import breakable, esc, md, note_page, rel_url, title as page_title

SYMBOL_ROWS = 60               # neighbour rows per direction on a symbol page (a fan-out is one)
CLASS_KINDS = ("class", "struct")


def _short2(name: str) -> str:
    return ".".join(name.replace("::", ".").split(".")[-2:])


def _head_lines(idx, row, files: dict) -> list[tuple[int, str]] | None:
    """A member's first lines from its file, read once per class page (Index.signature's input)."""
    if row.path not in files:
        files[row.path] = idx.file_lines(row.path)
    text = files[row.path]
    if text is None:
        return None
    return [(n, text[n - 1]) for n in range(row.line, min(row.end_line, row.line + 39, len(text)) + 1)]


def _one_line(sig: str) -> str:
    """A multi-line header on one line for a table cell: `def f(a, b)`, not `def f( a, b )`."""
    sig = re.sub(r"\s+", " ", sig).strip()
    return re.sub(r"\s*,?\s*([)\]])", r"\1", re.sub(r"([(\[])\s+", r"\1", sig))


class SymbolPages:
    """Mixin of SiteBuilder."""

    def _symbol_page(self, f, sid: int, page: str) -> None:
        idx = f.index
        rows = sorted(idx.exact(idx.symbol(sid).name), key=lambda r: (r.path, r.line))
        row = rows[0]
        parts = ["---", f"title: {page_title(row.short)}", "---", "", f"# {breakable(row.name)}", ""]
        notes = [n for n in self.notes if any(a.framework == f.ref.name and a.target == row.name
                                             for a in n.anchors + n.refs)]
        if notes:             # where to read next, before any code
            parts += ['<p class="inav-meta inav-read">Explained in: ' + " · ".join(
                f'<a href="{esc(rel_url(page, note_page(n)))}">{esc(n.title)}</a>' for n in notes) + "</p>", ""]
        if len(rows) > 1:
            parts += [f'<p class="inav-meta">{len(rows)} definitions share this name (overloads, '
                      'or one per device); each below with its signature.</p>', ""]
        is_class = row.kind in CLASS_KINDS
        for k, r in enumerate(rows, 1):
            parts += self._definition(f, r, k if len(rows) > 1 else 0, folded=is_class)
        if is_class:
            parts += self._members(f, row, page)
        ids = [r.id for r in rows]
        for title, direction in (("Callees", "callees"), ("Callers", "callers")):
            parts += self._neighbour_rows(f, ids, row.name, direction, title, page, skip_empty=is_class)
        if notes:
            parts += ["", "## Notes", ""] + [f"- [{md(n.title)}]({rel_url(page, note_page(n))})" for n in notes]
        self.pages[page] = "\n".join(parts) + "\n"

    def _definition(self, f, r, k: int, folded: bool = False) -> list[str]:
        """Meta, signature, docstring and the highlighted source; a class's source folded (its
        members table comes first: what a reader of a class page looks for)."""
        lines = f.index.source_lines(r, max_lines=60)
        head = [f"## Definition {k}", ""] if k else []
        meta = (f'<div class="inav-meta"><span class="inav-kind">{esc(r.kind)}</span> '
                f'{esc(f.ref.key)} · <code>{esc(r.path)}:{r.line}</code>'
                + (f' · flags: {esc(r.flags)}' if r.flags else "") + "</div>")
        out = head + [meta, ""]
        sig = f.index.signature(r, lines)
        if sig:
            out.append(f'<pre class="inav-sig"><code>{esc(sig)}</code></pre>')
        if r.doc:
            out.append(f'<pre class="inav-doc">{esc(r.doc)}</pre>')
        if folded:
            out += [f'<details class="inav-details"><summary>Source of {esc(r.short)} '
                    f"(lines {r.line}-{r.end_line})</summary>", self.excerpt(f, r, 60), "</details>"]
        else:
            out.append(self.excerpt(f, r, 60))
        return out

    def _members(self, f, row, page: str) -> list[str]:
        """A class's members in source order: kind, signature, what each overrides and how many
        override it (overloads of one name each get a row: their signatures tell them apart)."""
        members = [m for m in f.index.members(row.id) if m.kind not in ("module", "lambda")]
        if not members:
            return []
        out = ["", f"## Members ({len(members)})", "", "| member | kind | signature | overrides | overridden by |",
               "|---|---|---|---|---:|"]
        files: dict[str, list[str] | None] = {}
        for m in members:
            over = f.index.overrides([m.id]) if m.kind == "method" else {"overrides": [], "overridden_by": []}
            up = ", ".join(self.link_symbol(f.ref.name, b.name, page, _short2(b.name)) for b in over["overrides"][:2])
            sig = _one_line(f.index.signature(m, _head_lines(f.index, m, files)))
            sig = sig if len(sig) <= 90 else sig[:88] + " …"
            out.append(f"| {self.link_symbol(f.ref.name, m.name, page, m.short)} | {esc(m.kind)} | "
                       f"<code>{esc(sig)}</code> | {up} | {len(over['overridden_by']) or ''} |")
        return out

    def _neighbour_rows(self, f, ids: list[int], name: str, direction: str, title: str, page: str,
                        skip_empty: bool = False) -> list[str]:
        from ..query import FanOut

        r = f.index.ranked(ids, direction, is_test=f.ref.is_test_path)
        if skip_empty and not r.entries:
            return []           # a class: its calls are its methods' (the members table links them)
        tests = f" ({r.tests_hidden} in test code left out)" if r.tests_hidden else ""
        parts = ["", f"## {title} ({r.symbols()}){tests}", ""]
        if not r.entries:
            return parts
        parts += ["| symbol | resolution | at |", "|---|---|---|"]
        for e in r.entries[:SYMBOL_ROWS]:
            if isinstance(e, FanOut):
                links = ", ".join(self.link_symbol(f.ref.name, h.symbol.name, page, _short2(h.symbol.name))
                                  for h in e.members)
                parts.append(f'| <details class="inav-fan"><summary>{esc(e.label)}</summary>{links}</details> '
                             f"| {esc(e.resolution)} | <code>line {e.members[0].line}</code> |")
                continue
            at = f"{e.symbol.path}:{e.line}" if direction == "callers" else f"{e.symbol.path}:{e.symbol.line}"
            label = e.resolution + ("/" + e.via if e.via != "call" else "")
            parts.append(f"| {self.link_symbol(f.ref.name, e.symbol.name, page)} | {esc(label)} | <code>{esc(at)}</code> |")
        if len(r.entries) > SYMBOL_ROWS:
            parts.append(f"\n… and {len(r.entries) - SYMBOL_ROWS} more: <code>infernav {direction} {esc(name)}</code>")
        return parts
