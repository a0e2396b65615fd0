"""The escaping boundary: every upstream-derived string (names, paths, signatures, docstrings,
comments, source lines) reaches a page through these helpers, and URLs between pages are built
from vetted parts only."""
from __future__ import annotations

import html
import re
from typing import Any

from ..notes.check import freshness as _freshness
from ..notes.model import MECHANISM_TITLES

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
REF = re.compile(r"\[\[([^\]\n]+)\]\]")


def note_page(note) -> str:
    """Site path of a note's page."""
    return "notes/" + note.rel


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def md(text: Any) -> str:
    """Escape text for a Markdown line (headings, table cells): no markup, no HTML."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.replace("::", ".")).strip("-.")
    return s[:120] or "x"


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


def badge(status: str, big: bool = False) -> str:
    label = {"ok": "fresh", "fresh": "fresh", "drifted": "drifted", "broken": "broken",
             "unlocked": "unlocked", "unchecked": "unchecked"}.get(status, status)
    return f'<span class="inav-badge inav-{esc(label)}{" big" if big else ""}">{esc(label)}</span>'


def freshness(statuses: dict[str, str]) -> str:
    """A note's freshness from its anchors' statuses (the notes engine decides; pages show it)."""
    return _freshness(statuses.values())


def summary_html(body: str, limit: int = 320) -> str:
    """The note's opening, escaped, with `code` kept as code and cut at a word boundary."""
    text = _first_paragraph(body)
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text).replace("*", ""))


def _first_paragraph(body: str) -> str:
    for para in re.split(r"\n\s*\n", body):
        p = para.strip()
        if p and not p.startswith(("#", "```", "|", "-", "!!!")):
            return REF.sub(lambda m: m.group(1), re.sub(r"\s+", " ", p))[:400]
    return ""


