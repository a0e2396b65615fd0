"""Fingerprints of symbol bodies that survive reformatting but not real edits.

A note's lock records, per anchor, a hash of the symbol's body with comments and whitespace
removed. The lock never stores upstream text (it is committed; upstream code is not), so a diff
is shown only where both versions of the source are present locally.
"""
from __future__ import annotations

import hashlib
import io
import re
import tokenize

_C_COMMENT = re.compile(r'//[^\n]*|/\*.*?\*/|("(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\')', re.S)
_WS = re.compile(r"\s+")


def strip_python(text: str) -> str:
    """Token stream of Python source without comments and layout (indentation kept as tokens)."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(_dedent(text)).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING,
                            tokenize.ENDMARKER):
                continue
            out.append({tokenize.INDENT: "<in>", tokenize.DEDENT: "<de>"}.get(tok.type, tok.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _WS.sub("", re.sub(r"#[^\n]*", "", text))
    return " ".join(out)


def strip_c(text: str) -> str:
    """C/C++/CUDA text without comments (string literals kept) and without whitespace."""
    def keep_strings(m: re.Match) -> str:
        return m.group(1) or " "

    return _WS.sub("", _C_COMMENT.sub(keep_strings, text))


def normalize(text: str, lang: str) -> str:
    return strip_python(text) if lang == "py" else strip_c(text)


def fingerprint(text: str, lang: str) -> str:
    return hashlib.sha256(normalize(text, lang).encode()).hexdigest()[:20]


def similarity(a: str, b: str, lang: str, name_a: str = "", name_b: str = "") -> float:
    """How alike two bodies are (0..1), ignoring layout, comments and the symbols' own names.

    difflib's ratio (Ratcliff/Obershelp) through cydifflib, its C port with identical results
    (15x faster: the release diff scores hundreds of rename candidates); difflib where the wheel
    is missing."""
    try:
        import cydifflib as difflib
    except ImportError:  # pragma: no cover - same answers, only slower
        import difflib

    na, nb = normalize(a, lang), normalize(b, lang)
    if name_a:
        na = na.replace(name_a, "\0")
    if name_b:
        nb = nb.replace(name_b, "\0")
    if na == nb:
        return 1.0
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)
