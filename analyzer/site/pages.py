"""One page per note, per mechanism, per framework and per chosen symbol."""
from __future__ import annotations


from ..notes import Note
from .html import MECHANISM_TITLES, badge, esc, freshness, md, note_page, rel_url, summary_html, title as page_title


class Pages:
    """Mixin of SiteBuilder."""

    def _note_page(self, note: Note) -> None:
        page = note_page(note)
        statuses = self.note_status.get(note.rel, {})
        fresh = freshness(statuses)
        parts = [
            "---", f"title: {page_title(note.title)}", "search:", "  boost: 3", "---", "",
            f"# {md(note.title)}", "",
            f'<div class="inav-meta">{badge(fresh, big=True)} '
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

    def _framework_page(self, f) -> None:
        page = f"frameworks/{f.ref.name}.md"
        parts = ["---", f"title: {page_title(f.ref.key)}", "---", "", f"# {md(f.ref.key)}", ""]
        if f.index is None:
            parts += [f'<p class="inav-missing">Not indexed where this site was built: {esc(f.reason)}</p>', ""]
            notes = [n for n in self.notes if any(a.framework == f.ref.name for a in n.anchors)]
            if notes:
                parts += ["## Notes", ""] + [f"- [{md(n.title)}]({rel_url(page, note_page(n))})" for n in notes]
            self.pages[page] = "\n".join(parts) + "\n"
            return
        idx = f.index
        st = idx.stats()
        roots = [r for r in idx.meta.get("roots", "").split("\n") if r] or f.ref.roots   # older indexes
        parts += [
            f"Indexed from <code>{esc(', '.join(roots))}</code>: "
            + ", ".join(f"{v} {md(k)} files" for k, v in st["files"].items()) + "; "
            + ", ".join(f"{v} {md(k)}" for k, v in list(st["symbols"].items())[:6]) + ".", "",
            "## Packages and directories", "",
            "| directory | files | symbols | calls out |", "|---|---:|---:|---:|",
        ]
        for d, files, syms, out in idx.directories():
            parts.append(f"| <code>{esc(d)}</code> | {files} | {syms} | {out} |")
        tour = getattr(self, "tours", {}).get(f.ref.name)
        if tour is not None:
            parts[6:6] = [f'<p class="inav-intro">New here? Follow <a href="{esc(rel_url(page, f"start/{f.ref.name}.md"))}">'
                          f"{esc(tour.title)}</a>: {len(tour.stops)} stops from the API to the kernel and back.</p>", ""]
        parts += ["", "## Most central functions", "",
                  "Ranked by PageRank over the call graph (name-only guesses left out): the code most paths run "
                  "through. Leaves and helpers (fewer than three callees: loggers, status constructors, "
                  "asserts), operators and test code are left out.", "",
                  "| # | symbol | kind | location |", "|---:|---|---|---|"]
        rows = idx.symbols(list(f.rank))
        ranked = [s for s in sorted(f.rank, key=lambda s: -f.rank[s])
                  if rows.get(s) is not None and _worth_reading(f, rows[s])]
        outdeg = {s: len(idx.walk([s], "callees", 1)) for s in ranked[:200]}
        ranked = [s for s in ranked[:200] if outdeg[s] >= 3][:30]
        for i, sid in enumerate(ranked, 1):
            r = rows[sid]
            parts.append(f"| {i} | {self.link_symbol(f.ref.name, r.name, page)} | {esc(r.kind)} | <code>{esc(r.path)}:{r.line}</code> |")
        parts += ["", "## Entry points", "",
                  "Functions nothing in the index calls that reach the most code within two calls "
                  "(operators and test code left out). The guided path starts from the public ones.", "",
                  "| symbol | reaches | location |", "|---|---:|---|"]
        for r, reach in [(r, n) for r, n in _entry_points(idx, 40) if _worth_reading(f, r)][:20]:
            parts.append(f"| {self.link_symbol(f.ref.name, r.name, page)} | {reach} | <code>{esc(r.path)}:{r.line}</code> |")
        self.pages[page] = "\n".join(parts) + "\n"


def _worth_reading(f, row) -> bool:
    """A function a newcomer should read first: not an operator overload, not test code."""
    return (row.kind in ("function", "method", "kernel", "device") and "operator" not in row.short
            and not f.ref.is_test_path(row.path))


def _entry_points(idx, n: int):
    """Uncalled functions that reach the most code within two calls (not through name guesses)."""
    scored = []
    for sid in idx.uncalled_functions(200):
        reach = len(idx.walk([sid], "callees", 2))
        scored.append((reach, sid))
    scored.sort(reverse=True)
    rows = idx.symbols(s for _, s in scored[:n])
    return [(rows[s], reach) for reach, s in scored[:n]]
