"""C++ type texts and callee chains, read the way the resolver needs them: template arguments split
at the top level, qualifiers and pointer layers peeled, the standard wrappers and containers
(smart pointers, optional, iterators, vector/map/...) opened, chains split into segments."""
from __future__ import annotations

import re
from functools import lru_cache

_QUALIFIERS = re.compile(r"\b(?:const|volatile|struct|class|typename|mutable|static|inline|constexpr|"
                         r"__restrict__|__restrict|enum)\b")
_IDENT = re.compile(r"^(?:::)?[A-Za-z_][\w]*(?:::[A-Za-z_~][\w]*)*$")

# Wrappers whose member access and dereference reach the first template argument.
POINTERS = frozenset({"shared_ptr", "unique_ptr", "weak_ptr", "optional", "reference_wrapper",
                      "__iter", "atomic"})
# Containers: element type = first argument (maps: the mapped type for [] and at()).
SEQUENCES = frozenset({"vector", "deque", "list", "array", "span", "set", "unordered_set", "multiset",
                       "SmallVector", "queue", "stack", "priority_queue", "forward_list", "initializer_list"})
MAPS = frozenset({"map", "unordered_map", "multimap", "unordered_multimap", "flat_hash_map", "flat_map"})
ELEMENT_METHODS = frozenset({"at", "front", "back", "top", "value", "get", "load", "operator*"})
ITERATOR_METHODS = frozenset({"begin", "end", "cbegin", "cend", "rbegin", "rend", "find", "lower_bound",
                              "upper_bound", "emplace_hint"})


@lru_cache(maxsize=1 << 16)
def clean(text: str | None) -> str:
    """Type text without cv/elaborated keywords and whitespace: `const std::vector<Foo> &` ->
    `std::vector<Foo>&`."""
    if not text:
        return ""
    return _QUALIFIERS.sub("", text).replace(" ", "").replace("\t", "").replace("\n", "")


@lru_cache(maxsize=1 << 16)
def split_args(text: str) -> tuple[str, ...]:
    """Top-level template (or call) arguments: `A,B<C,D>,E` -> (A, B<C,D>, E)."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def head_and_args(text: str) -> tuple[str, tuple[str, ...]]:
    """`std::vector<Foo*>` -> ('std::vector', ['Foo*']); `ns::A<T>::B` -> ('ns::A<T>::B', [])."""
    t = text
    if t.endswith(">"):
        depth = 0
        for i in range(len(t) - 1, -1, -1):
            if t[i] == ">":
                depth += 1
            elif t[i] == "<":
                depth -= 1
                if depth == 0:
                    return t[:i], split_args(t[i + 1:-1])
        return t, ()
    return t, ()


def strip_ref(text: str) -> str:
    """Remove top-level references: `Foo&`, `Foo&&` -> `Foo`."""
    return text.rstrip("&")


@lru_cache(maxsize=1 << 16)
def wrapper(text: str) -> tuple[str, str, tuple[str, ...]]:
    """('ptr' | 'pointer-like' | 'seq' | 'map' | 'pair' | 'array' | '', short head, args) of a
    cleaned type text (references removed)."""
    t = strip_ref(text)
    if t.endswith("*"):
        return "ptr", "", (t[:-1],)
    if t.endswith("[]"):
        return "array", "", (t[:-2],)
    head, args = head_and_args(t)
    short = head.rsplit("::", 1)[-1]
    if not args:
        return "", short, ()
    if short in POINTERS:
        return "pointer-like", short, args
    if short in SEQUENCES:
        return "seq", short, args
    if short in MAPS:
        return "map", short, args
    if short in ("pair", "tuple"):
        return "pair", short, args
    return "", short, args


@lru_cache(maxsize=1 << 16)
def type_name(text: str | None) -> str:
    """`const std::shared_ptr<ns::Foo>&` -> `ns::Foo`; `Foo<T>*` -> `Foo`; '' if nothing class-like."""
    t = clean(text)
    for _ in range(8):
        t = strip_ref(t).rstrip("*")
        kind, _short, args = wrapper(t)
        if kind != "pointer-like":
            break
        t = args[0]
    out, depth = [], 0
    for ch in t:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    t = "".join(out)
    return t if _IDENT.match(t) else ""


def element_type(text: str | None) -> str:
    """Element type text of a container type: `std::vector<std::shared_ptr<T>>` -> `std::shared_ptr<T>`."""
    kind, _short, args = wrapper(clean(text))
    if kind == "seq" or kind == "array":
        return args[0]
    if kind == "map" and len(args) > 1:
        return args[1]
    return ""


class Seg(tuple):
    """One chain segment: (name without template arguments, its text with them, suffixes)."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self[0]

    @property
    def raw(self) -> str:
        return self[1]

    @property
    def suffix(self) -> str:
        return self[2]


_SUFFIX = re.compile(r"((?:\(\)|\[\]|\*|&)*)$")


@lru_cache(maxsize=None)
def parse_chain(text: str) -> tuple[Seg, ...] | None:
    """`Singleton<Env>::GetInstance().Get` -> (Seg('Singleton::GetInstance', 'Singleton<Env>::GetInstance', '()'),
    Seg('Get', 'Get', '')). None when the text is not a chain. Memoized."""
    if "<" not in text:   # no template arguments: a dot is always a member access
        return _segments(text.split("."))
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return _segments(parts)


def _segments(parts: list[str]) -> tuple[Seg, ...] | None:
    out = []
    for part in parts:
        m = _SUFFIX.search(part)
        suffix = m.group(1) if m else ""
        raw = part[: len(part) - len(suffix)] if suffix else part
        name = strip_templates(raw).lstrip(":")
        if not name or not _IDENT.match(name) and not name.startswith("operator"):
            return None
        out.append(Seg((name, raw.lstrip(":") if not raw.startswith("::") else raw[2:], suffix)))
    return tuple(out)


def split_chain(callee: str) -> tuple[tuple[str, str], ...] | None:
    """(name, suffix) pairs of a chain (templates dropped), or None."""
    segs = parse_chain(callee)
    return None if segs is None else tuple((s.name, s.suffix) for s in segs)


def strip_templates(text: str) -> str:
    """`ns::A<T>::f` -> `ns::A::f`."""
    if "<" not in text:
        return text
    out, depth = [], 0
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=1 << 16)
def scope_args(raw: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`ns::Singleton<Env>::GetInstance` -> [('ns', []), ('Singleton', ['Env']), ('GetInstance', [])]."""
    comps, depth, cur = [], 0, []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if depth == 0 and raw.startswith("::", i):
            comps.append("".join(cur))
            cur = []
            i += 2
            continue
        cur.append(ch)
        i += 1
    comps.append("".join(cur))
    return tuple(head_and_args(c) for c in comps if c)
