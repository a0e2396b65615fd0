"""What an incremental build keeps from the stored index instead of recomputing it.

The C++ part of the graph (resolve.graph.CppPart, which says why reusing it is sound): stored
with a key of everything C++ resolution reads (cpp_key) and found again by that key and the row
counts the meta keeps (stored_cpp): were Python ever to add an edge or override leaving a C++
symbol, the stored rows would outnumber the part and it would not be reused. Anything that does
not match is resolved afresh.
"""
from __future__ import annotations

import hashlib
import json

from . import store
from .parse.languages import resolver_of
from .resolve import RESOLVER_VERSION, CppPart, Symbol
from .sources import FrameworkRef


def cpp_key(ref: FrameworkRef, stored: dict, unchanged: list[str], parsed: list[tuple]) -> str:
    """A digest of what C++ resolution reads: every C++ file's (path, language, content hash) and
    the engine's settings. Equal keys mean equal C++ facts (the parse context is the same, or the
    build would be cold) and so an equal C++ part (resolve.graph.CppPart)."""
    files = {p: (stored[p][0], stored[p][1]) for p in unchanged}
    files.update((r[0], (r[1], r[2])) for r in parsed)
    cpp = sorted((p, lang, digest) for p, (lang, digest) in files.items() if resolver_of(lang) == "cpp")
    text = json.dumps([RESOLVER_VERSION, cpp, ref.settings], sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def stored_cpp(conn, key: str) -> CppPart | None:
    """The stored C++ part (resolve.graph.CppPart) when it was made from the C++ files and settings
    `key` names, and the stored rows are the ones it counted; None otherwise (resolved afresh)."""
    try:
        saved = json.loads(store.read_meta(conn).get("cpp_part", "{}"))
        if not isinstance(saved, dict) or saved.get("key") != key:
            return None
        symbols, edges, overrides = store.cpp_rows(conn, int(saved["symbols"]))
        if [r[0] for r in symbols] != list(range(saved["symbols"])) or len(edges) != saved["edges"] \
                or len(overrides) != saved["overrides"]:
            return None
        return CppPart([Symbol(*r) for r in symbols], set(edges), set(overrides), int(saved["resolved_calls"]),
                       int(saved["unresolved"]), dict(saved["torch_ops"]), dict(saved["pybind"]),
                       dict(saved["pybind_classes"]))
    except (ValueError, KeyError, TypeError):   # an older index's meta, or a damaged one: resolve afresh
        return None

