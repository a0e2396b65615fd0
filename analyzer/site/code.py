"""Code views: upstream excerpts highlighted by Pygments, every line number an anchor, ranges
selectable (site/assets/code.js: click a number, shift-click another; the upstream link follows).

Pygments only splits the text into tokens; every token's text still crosses the escaping
boundary (html.esc), so a highlighted excerpt is as inert as a plain one.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .html import esc, slug

_LEXERS = {".py": "python", ".pyi": "python", ".cu": "cuda", ".cuh": "cuda", ".cc": "cpp", ".cpp": "cpp",
           ".cxx": "cpp", ".c": "c", ".h": "cpp", ".hh": "cpp", ".hpp": "cpp", ".inl": "cpp"}

_PLAIN = {"", "w", "p", "n", "o"}     # whitespace, punctuation, plain names: no span (smaller pages)


@lru_cache(maxsize=None)
def _lexer(suffix: str):
    from pygments.lexers import get_lexer_by_name

    name = _LEXERS.get(suffix)
    return get_lexer_by_name(name, stripnl=False, ensurenl=False) if name else None


def _css(ttype) -> str:
    from pygments.token import STANDARD_TYPES

    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


def highlight(path: str, lines: list[str]) -> list[str]:
    """Each source line as escaped HTML with Pygments' token classes (Material styles them)."""
    m = re.search(r"\.[A-Za-z]+$", path)
    lexer = _lexer(m.group(0).lower()) if m else None
    if lexer is None:
        return [esc(t) for t in lines]
    out, cur = [], []
    for ttype, value in lexer.get_tokens("\n".join(lines)):
        parts = value.split("\n")
        for k, part in enumerate(parts):
            if k:
                out.append("".join(cur))
                cur = []
            if part:
                cls = _css(ttype)
                cur.append(f'<span class="{cls}">{esc(part)}</span>' if cls not in _PLAIN else esc(part))
    out.append("".join(cur))
    out += [""] * (len(lines) - len(out))
    return out[: len(lines)]


def line_id(path: str, line: int) -> str:
    """A line's anchor: stable across builds (the file and the line, no database id)."""
    return f"{slug(path).replace('.', '-')}-L{line}"


def code_block(path: str, numbered: list[tuple[int, str]], upstream: str) -> str:
    """A highlighted <pre> whose line numbers are links to themselves (#<file>-L<n>); the block
    carries the upstream permalink template for code.js's range links."""
    html_lines = highlight(path, [t for _, t in numbered])
    body = "".join(
        f'<span class="inav-line" id="{line_id(path, n)}"><a class="ln" href="#{line_id(path, n)}">{n}</a>'
        f"{h}</span>" for (n, _), h in zip(numbered, html_lines))
    return (f'<div class="highlight inav-code" data-upstream="{esc(upstream)}">'
            f'<pre class="inav-src"><code>{body}</code></pre></div>')
