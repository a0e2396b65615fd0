"""Start here: a guided path per engine (annotations/tours/<engine>.yaml), one request from the
API to the kernel and back. Each stop: its title and summary (ours), the anchor's highlighted
excerpt, links to the note and the symbol page, and the next stop.

A tour file:  title, framework, intro, stops: [{title, note, anchor, summary}]; `note` is a note's
path under annotations/ without `.md`. Anything missing (a note, an anchor, the engine's source)
is said on the page, never fatal: the tours are checked by their own tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .html import esc, md, note_page, rel_url, title as page_title


@dataclass
class Stop:
    title: str
    note: str
    anchor: str
    summary: str


@dataclass
class Tour:
    framework: str
    title: str
    intro: str
    stops: list[Stop] = field(default_factory=list)


def load_tours(root: Path) -> tuple[dict[str, Tour], list[str]]:
    """Tours under <notes root>/tours, by framework, and one line per file that is unusable."""
    import yaml

    tours, errors = {}, []
    for p in sorted((root / "tours").glob("*.yaml")):
        try:
            d = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            stops = [Stop(str(s.get("title", "")), str(s.get("note", "")), str(s.get("anchor", "")),
                          str(s.get("summary", ""))) for s in d.get("stops") or []]
            fw = str(d.get("framework") or p.stem)
            tours[fw] = Tour(fw, str(d.get("title") or f"A request's life in {fw}"), str(d.get("intro", "")), stops)
        except (yaml.YAMLError, AttributeError, TypeError) as exc:
            errors.append(f"{p.name}: {exc}")
    return tours, errors


class TourPages:
    """Mixin of SiteBuilder: start/index.md and start/<engine>.md."""

    def _tour_pages(self) -> None:
        names = list(self.fw)
        index = ["---", 'title: "Start here"', "---", "", "# Start here", "",
                 "Pick an engine and follow one request through it, from the API to the kernel and back. "
                 "Each stop is a short note of ours, the code where that stage happens (highlighted, "
                 "with line links to upstream), and the next stop.", ""]
        for name in names:
            f = self.fw[name]
            tour = self.tours.get(name)
            page = f"start/{name}.md"
            link = f"[{md(tour.title if tour else f.ref.key)}]({rel_url('start/index.md', page)})"
            index.append(f"- {link}" + (f": {len(tour.stops)} stops" if tour else ": no guided path yet"))
            self.pages[page] = self._tour_page(f, tour, page)
        for err in self.tour_errors:
            index.append(f'\n<p class="inav-missing">Tour not shown: {esc(err)}</p>')
        self.pages["start/index.md"] = "\n".join(index) + "\n"

    def _tour_page(self, f, tour: Tour | None, page: str) -> str:
        title = tour.title if tour else f"Start here: {f.ref.key}"
        parts = ["---", f"title: {page_title(title.replace(chr(39), '’'))}", "search:", "  boost: 3", "---", "",
                 f"# {md(title)}", ""]
        if tour is None:
            parts.append(f'<p class="inav-missing">No guided path for {esc(f.ref.key)} yet: start from its '
                         f'<a href="{esc(rel_url(page, f"frameworks/{f.ref.name}.md"))}">framework page</a>.</p>')
            return "\n".join(parts) + "\n"
        if f.index is None:
            parts.append(f'<p class="inav-missing">{esc(f.ref.key)} is not indexed where this site was built '
                         f"({esc(f.reason)}): the stops have no excerpts.</p>")
        if tour.intro:
            parts += [f'<p class="inav-intro">{esc(tour.intro)}</p>', ""]
        parts.append('<ol class="inav-stops">' + "".join(
            f'<li><a href="#stop-{k}">{esc(s.title)}</a></li>' for k, s in enumerate(tour.stops, 1)) + "</ol>")
        for k, s in enumerate(tour.stops, 1):
            parts += self._stop(f, tour, k, s, page)
        return "\n".join(parts) + "\n"

    @staticmethod
    def _skip(tour: Tour, k: int) -> str:
        """Beside the stop's number: the next stop, so a reader need not scroll past the excerpt."""
        if k >= len(tour.stops):
            return ""
        return f' · <a class="inav-skip" href="#stop-{k + 1}">next: {esc(tour.stops[k].title)}</a>'

    def _stop(self, f, tour: Tour, k: int, s: Stop, page: str) -> list[str]:
        note = next((n for n in self.notes if n.rel == f"{s.note}.md" or n.rel == s.note), None)
        links = []
        if note is not None:
            links.append(f'<a href="{esc(rel_url(page, note_page(note)))}">read the note: {esc(note.title)}</a>')
        elif s.note:
            links.append(f'<span class="inav-missing">note {esc(s.note)} is not in this build</span>')
        rows = f.index.exact(s.anchor) if f.index is not None else []
        if rows and rows[0].id in f.pages:
            links.append(f'<a href="{esc(rel_url(page, f.pages[rows[0].id]))}">symbol page</a>')
        out = ["", f"## {k}. {md(s.title)} {{#stop-{k}}}", "", '<div class="inav-stop">',
               f'<div class="inav-stop-n">Stop {k} of {len(tour.stops)}{self._skip(tour, k)}</div>',
               f"<p>{esc(s.summary)}</p>",
               f'<p class="inav-stop-links">{" · ".join(links)}</p>']
        if rows:
            out.append(f'<div class="inav-anchor-title">{self.link_symbol(f.ref.name, rows[0].name, page)}</div>')
            out.append(self.excerpt(f, rows[0], 30))
        elif f.index is not None:
            out.append(f'<p class="inav-missing">{esc(s.anchor)} is not in the index of {esc(f.ref.key)}.</p>')
        if k < len(tour.stops):
            nxt = tour.stops[k]
            out.append(f'<a class="inav-next" href="#stop-{k + 1}">Next stop {k + 1}: {esc(nxt.title)} →</a>')
        else:
            out.append(f'<a class="inav-next" href="{esc(rel_url(page, "mechanisms/index.md"))}">'
                       "End of the path: the mechanisms, engine by engine →</a>")
        out.append("</div>")
        return out
