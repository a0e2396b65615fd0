"""C++ type texts, read the way the resolver needs them: the class a declared type names, the
element type of a container, and a callee chain split into segments."""
from __future__ import annotations

import re
from functools import lru_cache

_SMART = re.compile(r"^(?:::)?(?:std::)?(?:shared_ptr|unique_ptr|weak_ptr|optional)<(.*)>$")
_QUALIFIERS = re.compile(r"\b(?:const|volatile|struct|class|typename|mutable|static|inline|constexpr|__restrict__|__restrict)\b")
_CONTAINER = re.compile(r"^(?:std::)?(vector|deque|list|array|span|set|unordered_set|map|unordered_map|SmallVector)<(.*)>$")


def element_type(text: str | None) -> str:
    """Element type text of a container type: `std::vector<std::shared_ptr<T>>` -> `std::shared_ptr<T>`."""
    if not text:
        return ""
    t = _QUALIFIERS.sub("", text).replace(" ", "").replace("&", "").rstrip("*")
    m = _CONTAINER.match(t)
    if not m:
        return ""
    args, depth, cur = [], 0, []
    for ch in m.group(2):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            args.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    args.append("".join(cur))
    return args[1] if m.group(1).endswith("map") and len(args) > 1 else args[0]


def type_name(text: str | None) -> str:
    """`const std::shared_ptr<ns::Foo>&` -> `ns::Foo`; `Foo<T>*` -> `Foo`; '' if nothing class-like."""
    if not text:
        return ""
    t = _QUALIFIERS.sub("", text).replace(" ", "").replace("&", "").replace("*", "")
    for _ in range(3):
        m = _SMART.match(t)
        if not m:
            break
        t = m.group(1)
    out, depth = [], 0
    for ch in t:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    t = "".join(out).lstrip(":")
    return t if re.match(r"^[A-Za-z_][\w:]*$", t) else ""


_CPP_SEG = re.compile(r"^((?:::)?[A-Za-z_~][\w:~]*)((?:\(\)|\[\])*)$")


@lru_cache(maxsize=None)
def split_chain(callee: str) -> tuple[tuple[str, str], ...] | None:
    """`this.mgr_.Get().Alloc` -> (('this',''),('mgr_',''),('Get','()'),('Alloc','')). Memoized."""
    out = []
    for part in callee.split("."):
        m = _CPP_SEG.match(part)
        if m is None:
            return None
        out.append((m.group(1).lstrip(":"), m.group(2)))
    return tuple(out)


