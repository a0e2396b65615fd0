"""The escaping boundary: every upstream-derived string (names, paths, signatures, docstrings,
comments, source lines) reaches a page through these helpers, and URLs between pages are built
from vetted parts only."""
from __future__ import annotations

import re
from typing import Any

from ..notes.check import freshness as _freshness
from ..notes.model import MECHANISM_TITLES

# Every character HTML or Markdown (and its extensions: attr_list `{: }`, tables `|`, Jinja `{{ }}`,
# links and images `[]()!`, emphasis, code spans, escapes) could read as markup becomes a character
# reference; line breaks too, so upstream text can never start a Markdown line (a heading, a list,
# an indented code block) or end a raw HTML block. Control characters (Python-Markdown's own
# placeholders use STX/ETX) become U+FFFD.
_INERT = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()!|~#$^=+:"}
_INERT.update({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\n": "&#10;", "\r": "&#13;"})
_INERT.update({chr(c): "\ufffd" for c in (*range(0, 9), 11, 12, *range(14, 32), 127)})
_TABLE = str.maketrans(_INERT)
_TITLE_UNSAFE = re.compile(r"[<>&\"'`\x00-\x1f\x7f]+")
_URL_SAFE = re.compile(r"^https?://[^\s\"'<>`]+$")
REF = re.compile(r"\[\[([^\]\n]+)\]\]")


def note_page(note) -> str:
    """Site path of a note's page."""
    return "notes/" + note.rel


def esc(text: Any) -> str:
    """The escaping boundary: text (upstream-derived or not) as inert HTML that Markdown, its
    extensions and Jinja leave alone, wherever it lands (a raw HTML block, a table cell, a heading,
    a link text, an attribute value)."""
    return str(text).translate(_TABLE)


def md(text: Any) -> str:
    """Text for a Markdown line (headings, link texts, table cells): the same boundary as esc()."""
    return esc(text)


def breakable(text: Any) -> str:
    """esc() with a <wbr> after each `.` and `::`: a long identifier in a heading wraps at its
    parts on a narrow screen instead of in the middle of a word."""
    return esc(text).replace(".", ".<wbr>").replace("&#58;&#58;", "&#58;&#58;<wbr>")


def title(text: Any) -> str:
    """A page title for the front matter: themes print titles unescaped (mkdocs' Jinja does not
    autoescape; `striptags` even decodes references), so a title loses the characters HTML reads
    (`<>&"'` and backticks, controls) to '?'. An apostrophe becomes the typographic one (U+2019,
    nothing HTML reads), so "SGLang's" does not show as "SGLang?s" in the header and the tab. The
    page's heading shows the exact text."""
    import json

    return json.dumps(_TITLE_UNSAFE.sub("?", str(text).replace("'", "\u2019")).strip() or "?")


def url(link: str) -> str:
    """An upstream link for an href: http(s) only, else empty (esc() it into the attribute)."""
    return link if _URL_SAFE.match(link or "") else ""


def permalink(ref: Any, path: str, line: int) -> str:
    """The upstream link of path:line: the path percent-encoded into the pinned template."""
    from urllib.parse import quote

    return url(ref.permalink(quote(str(path), safe="/"), int(line)))


def url_part(text: Any) -> str:
    """A query-string value (percent-encoded, then escaped for the attribute)."""
    from urllib.parse import quote

    return esc(quote(str(text), safe=""))


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
    parts = re.split(r"`([^`]+)`", text.replace("*", ""))     # odd parts were `code`
    return "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(parts))


def _ref_label(ref: str) -> str:
    """A [[reference]] in a summary: code, its last two parts without the framework prefix (a
    card is narrow; the full name would break mid-word), with a zero-width break after the
    separator so it wraps there."""
    name = re.sub(r"^[A-Za-z0-9_]+:(?!:)", "", ref.strip())
    sep = "::" if "::" in name else "."
    return (sep + "\u200b").join(name.split(sep)[-2:])


def _first_paragraph(body: str) -> str:
    for para in re.split(r"\n\s*\n", body):
        p = para.strip()
        if p and not p.startswith(("#", "```", "|", "-", "!!!")):
            return REF.sub(lambda m: f"`{_ref_label(m.group(1))}`", re.sub(r"\s+", " ", p))[:400]
    return ""


