"""A symbol's header as written in the source, comments dropped: what `infernav show` prints and
the site's symbol pages show. The index keeps a one-line `sig` made at parse time; read from the
fetched tree, the header keeps its own line breaks, leaves out the decorators, a parameter's
trailing `# comment` does not run into the next parameter, and a comment opening the body is not
part of it. Falls back to `sig` when the source is absent or the kind has no header."""
from __future__ import annotations

from .rows import SymbolRow

HEADER_KINDS = ("function", "method", "kernel", "device", "class", "struct")
MAX_HEADER_LINES = 40


def header_signature(row: SymbolRow, lines: list[tuple[int, str]] | None) -> str:
    """The header of `row` from its source lines ((number, text) from the definition's first
    line); `row.sig` without them or for kinds without a header."""
    if not lines or row.kind not in HEADER_KINDS:
        return row.sig or ""
    python = row.path.endswith((".py", ".pyi"))
    text = _dedent((_python_header if python else _cpp_header)(t for _, t in lines[:MAX_HEADER_LINES]))
    return text or (row.sig or "")


def _dedent(lines: list[str]) -> str:
    """The header's lines shifted left by its first line's indentation (a method's continuation
    lines stay aligned under its parameters)."""
    if not lines:
        return ""
    cut = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(t[min(cut, len(t) - len(t.lstrip())):] for t in lines).strip()


def _python_header(lines) -> list[str]:
    out: list[str] = []
    depth, decorator = 0, False
    for raw in lines:
        code = _strip_comment(raw, "#")
        if not out and not decorator and code.lstrip().startswith("@"):
            decorator = True            # decorators (one line or many) are not the signature
        if decorator:
            depth += _balance(code, "([{", ")]}")
            if depth <= 0:
                decorator, depth = False, 0
            continue
        if not out and not code.strip():
            continue
        end = _python_colon(code, depth)
        if end is not None:
            out.append(code[:end].rstrip())
            break
        depth += _balance(code, "([{", ")]}")
        if code.strip():
            out.append(code.rstrip())
    return out


def _python_colon(code: str, depth: int) -> int | None:
    """Where the header's closing ':' is on this line (bracket depth 0, outside strings)."""
    for i, c, d in _code_chars(code, depth, "([{", ")]}"):
        if c == ":" and d <= 0:
            return i
    return None


def _code_chars(code: str, depth: int, opens: str, closes: str):
    """(index, character, bracket depth after it) of each character of a line outside string
    quotes: the one scanner under both headers' "where does the header end" rules."""
    quote = None
    for i, c in enumerate(code):
        if quote:
            if c == quote:
                quote = None
            continue
        if c in "\"'":
            quote = c
            continue
        if c in opens:
            depth += 1
        elif c in closes:
            depth -= 1
        yield i, c, depth


def _cpp_header(lines) -> list[str]:
    out: list[str] = []
    depth, opened, in_block = 0, False, False
    for raw in lines:
        code, in_block = _strip_block_comments(raw, in_block)
        code = _strip_comment(code, "//")
        cut = None
        for i, c, depth in _code_chars(code, depth, "(", ")"):
            if c == "(":
                opened = True
            elif depth <= 0 and (c in "{;" or (opened and c == ":" and code[i - 1:i] != ":"
                                                and code[i + 1:i + 2] != ":")):
                cut = i                 # the body, a declaration's end, or a member-initializer list
                break
        kept = (code if cut is None else code[:cut]).rstrip()
        if kept.strip():
            out.append(kept)
        if cut is not None:
            break
    return out


def _balance(code: str, opens: str, closes: str) -> int:
    return sum(code.count(c) for c in opens) - sum(code.count(c) for c in closes)


def _strip_block_comments(text: str, in_block: bool) -> tuple[str, bool]:
    """A line without its /* ... */ parts; whether a block comment is still open at its end."""
    out, i = [], 0
    while i < len(text):
        if in_block:
            j = text.find("*/", i)
            if j < 0:
                return "".join(out), True
            i, in_block = j + 2, False
        else:
            j = text.find("/*", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            i, in_block = j + 2, True
    return "".join(out), in_block


def _strip_comment(text: str, mark: str) -> str:
    """A line without its trailing comment (quotes respected, roughly: good enough for headers)."""
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif text.startswith(mark, i):
            return text[:i]
        i += 1
    return text
