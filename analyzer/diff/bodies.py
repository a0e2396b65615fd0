"""One side of a release diff: an index's symbols, their bodies sliced from files read once, and
their fingerprints (analyzer/notes/fingerprint.py), computed only where the text differs.

A function's body is its whole definition. A container (class, struct, module, namespace) is
compared on its *own* lines only: its range minus the ranges of the symbols nested directly in it
(and, in Python, the decorator lines just above them), so a class is "changed" when its bases,
attributes or declarations change, not whenever one of its methods does.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ..notes.fingerprint import fingerprint

# Kinds whose body is compared whole; every other kind with nested symbols is a container.
WHOLE_BODY_KINDS = frozenset({"function", "method", "kernel", "device", "torch_op", "pybind"})
_SIG_WS = re.compile(r"\s+")
_INLINE_WS = str.maketrans("", "", " \t\r\f\v")   # deleted by str.translate (5x a regex sub)
# A Python string literal (kept) or a comment (dropped), scanned left to right as the tokenizer
# does (a string prefix needs no care: only what lies between the quotes matters).
_PY_STRING_OR_COMMENT = re.compile(
    r"""(?=["'#])(?:"{3}(?:\\.|[^\\])*?"{3}|'{3}(?:\\.|[^\\])*?'{3}"""
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|(#[^\n]*))""", re.S)
_SIG_TRAILING_COMMA = re.compile(r",\s*([)\]>])")


def norm_sig(sig: str) -> str:
    """A signature without layout: whitespace and a trailing comma before a closing bracket
    (black's magic comma) do not make a signature change."""
    return _SIG_WS.sub("", _SIG_TRAILING_COMMA.sub(r"\1", sig or ""))


def code_key(text: str, lang: str) -> str:
    """The body without comments and without any whitespace. Equal fingerprints imply equal keys,
    so different keys prove a change without tokenizing (Python's tokenize is the slow part of a
    fingerprint); equal keys are settled by the fingerprint. For C/C++ the fingerprint itself is
    a regex this cheap, and is the key."""
    if lang != "py":
        return fingerprint(text, lang)
    if "#" in text:
        text = _PY_STRING_OR_COMMENT.sub(lambda m: " " if m.group(1) else m.group(0), text)
    return "".join(text.replace("\\\n", " ").split())


def code_indents(text: str, lang: str) -> list[int]:
    """Indentation of the non-blank lines outside string literals and comments (each literal
    counts as one token on its first line), relative to the least indented one."""
    if lang == "py" and ('"' in text or "'" in text or "#" in text):
        text = _PY_STRING_OR_COMMENT.sub(lambda m: " " if m.group(1) else '""', text)
    widths = [len(line) - len(line.lstrip()) for line in text.expandtabs(8).splitlines() if line.strip()]
    low = min(widths, default=0)
    return [w - low for w in widths]


class Side:
    """One framework@version of the diff, restricted to the files under `under`."""

    def __init__(self, idx: Any, under: str | None):
        self.idx = idx
        self.key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
        self.rows = idx.symbols_under(under)
        self.hashes = idx.file_hashes(under)
        self.by_id = {r.id: r for r in self.rows}
        self._lines: dict[str, list[str] | None] = {}
        self._holes: dict[int, list[tuple[int, int]]] = {}   # container id -> child line ranges
        self._text: dict[int, str | None] = {}
        self._fp: dict[int, str | None] = {}
        self._key: dict[int, str | None] = {}
        self._code: dict[int, list[str] | None] = {}
        self._shape: dict[int, list[str] | None] = {}
        self._counts: dict[int, Counter] = {}
        self._nest()

    # ------------------------------------------------------------------ nesting
    def _nest(self) -> None:
        """Direct children of every symbol, by line containment (rows are sorted by path, line,
        end descending): a stack sweep per file."""
        stack: list[Any] = []
        path = None
        for r in self.rows:
            if r.path != path:
                stack, path = [], r.path
            while stack and stack[-1].end_line < r.line:
                stack.pop()
            parent = stack[-1] if stack else None
            # A child may span all of its parent's lines (a module that is one function).
            if parent is not None and parent.kind not in WHOLE_BODY_KINDS and (
                    (parent.line, parent.end_line) != (r.line, r.end_line) or parent.kind != r.kind):
                self._holes.setdefault(parent.id, []).append((r.line, r.end_line))
            stack.append(r)

    # ------------------------------------------------------------------ text
    def lines(self, path: str) -> list[str] | None:
        if path not in self._lines:
            self._lines[path] = self.idx.file_lines(path)
        return self._lines[path]

    def text(self, row: Any) -> str | None:
        """The compared text of a symbol (see the module docstring), or None without source."""
        if row.id in self._text:
            return self._text[row.id]
        lines = self.lines(row.path)
        out = None
        if lines is not None:
            parts, at = [], row.line                 # 1-based line numbers; slices of `lines`
            for lo, hi in self._holes.get(row.id, ()):   # in line order, not overlapping
                lo = self._decorated_start(lines, lo, row)
                if lo > at:
                    parts.append(lines[at - 1: lo - 1])
                at = max(at, hi + 1)
            parts.append(lines[at - 1: row.end_line])
            out = "\n".join(parts[0]) if len(parts) == 1 else "\n".join("\n".join(p) for p in parts if p)
        self._text[row.id] = out
        return out

    @staticmethod
    def _decorated_start(lines: list[str], lo: int, container: Any) -> int:
        """The first line of a nested Python definition, its decorators included."""
        if container.lang != "py":
            return lo
        while lo - 1 > container.line and lines[lo - 2].lstrip().startswith("@"):
            lo -= 1
        return lo

    def fp(self, row: Any) -> str | None:
        if row.id not in self._fp:
            text = self.text(row)
            self._fp[row.id] = None if text is None else fingerprint(text, row.lang)
        return self._fp[row.id]

    def body_key(self, row: Any) -> str | None:
        if row.id not in self._key:
            text = self.text(row)
            self._key[row.id] = None if text is None else code_key(text, row.lang)
        return self._key[row.id]

    def code_lines(self, row: Any) -> list[str] | None:
        """The body's lines without whitespace, blank and comment-only lines left out (for +/-
        line counts and line-level similarity)."""
        if row.id not in self._code:
            text = self.text(row)
            self._code[row.id] = None if text is None else _code_lines(text, row.lang)
        return self._code[row.id]

    def shape(self, row: Any) -> list[str] | None:
        """code_lines with the symbol's own short name blanked (as `similarity` blanks it)."""
        if row.id not in self._shape:
            lines = self.code_lines(row)
            self._shape[row.id] = None if lines is None else [s.replace(row.short, "\0") for s in lines]
        return self._shape[row.id]

    def shape_counts(self, row: Any) -> Counter:
        """shape() as a multiset (for line overlaps)."""
        if row.id not in self._counts:
            self._counts[row.id] = Counter(self.shape(row) or ())
        return self._counts[row.id]

    def same_file(self, other: "Side", path: str) -> bool:
        """Whether `path` has the same content hash on both sides."""
        h = self.hashes.get(path)
        return h is not None and h == other.hashes.get(path)


def _code_lines(text: str, lang: str) -> list[str]:
    """Non-blank, non-comment lines without whitespace; Python lines keep their indentation
    (relative to the body's least indented line), which is part of their meaning."""
    if lang != "py":
        return [s for s in text.translate(_INLINE_WS).split("\n") if s and not s.startswith(("//", "/*", "*"))]
    lines = text.expandtabs(8).split("\n")
    stripped = [line.lstrip() for line in lines]
    contents = "\n".join(stripped).translate(_INLINE_WS).split("\n")
    kept = [(len(line) - len(s), c) for line, s, c in zip(lines, stripped, contents) if c and c[0] != "#"]
    low = min((w for w, _ in kept), default=0)
    return [" " * (w - low) + c if w > low else c for w, c in kept]
