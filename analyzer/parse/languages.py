"""The language registry (languages.toml) and tree-sitter parsers and queries, built lazily once
per process.

Parsing workers import this module; the query CLI never does, so `infernav callers` does not pay
for loading three grammars.
"""
from __future__ import annotations

import importlib
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
# Files above this size are skipped (and reported): generated tables, not code anyone reads.
MAX_FILE_BYTES = 2_000_000


@dataclass(frozen=True)
class Language:
    name: str               # table name in languages.toml ('python', 'cpp', 'cuda')
    key: str                # key stored per file ('py', 'cpp', 'cuda')
    extensions: tuple[str, ...]
    grammar: str            # tree-sitter grammar module
    queries: tuple[str, ...]
    extractor: str          # module in infernav.analyzer.parse
    resolver: str           # module in infernav.analyzer.resolve


def registry_path() -> Path:
    """languages.toml beside this module, or $INFERNAV_LANGUAGES (a registry with more languages)."""
    return Path(os.environ.get("INFERNAV_LANGUAGES") or HERE / "languages.toml")


@lru_cache(maxsize=1)
def languages() -> dict[str, Language]:
    """Language key -> Language, from the registry."""
    with open(registry_path(), "rb") as f:
        table = tomllib.load(f)
    out = {}
    for name, spec in table.items():
        out[spec["key"]] = Language(name, spec["key"], tuple(spec["extensions"]), spec["grammar"],
                                    tuple(spec["queries"]), spec["extractor"], spec["resolver"])
    return out


@lru_cache(maxsize=1)
def _by_extension() -> dict[str, str]:
    return {ext: lang.key for lang in languages().values() for ext in lang.extensions}


def language_of(path: str) -> str | None:
    """Language key ('py', 'cpp', 'cuda') of an indexable source path, else None."""
    return _by_extension().get(PurePosixPath(path).suffix.lower())


def needs_module_name(lang: str) -> bool:
    """Whether files of this language are modules with dotted names (the Python extractor's input)."""
    return languages()[lang].extractor == "python"


def resolver_of(lang: str) -> str:
    return languages()[lang].resolver


def query_source(lang: str) -> str:
    return "\n".join((HERE / "queries" / q).read_text() for q in languages()[lang].queries)


@lru_cache(maxsize=None)
def parser_and_query(lang: str):
    """(Parser, Query) for a language key; compiled once per process."""
    import tree_sitter as ts

    grammar = importlib.import_module(languages()[lang].grammar)
    language = ts.Language(grammar.language())
    return ts.Parser(language), ts.Query(language, query_source(lang))


def extractor(lang: str):
    """The `extract(source, path, context)` function of a language."""
    module = importlib.import_module(f"infernav.analyzer.parse.{languages()[lang].extractor}")
    return module.extract


def captures(lang: str, source: bytes):
    """Parse `source` and return (tree, {capture name: [nodes in document order]})."""
    import tree_sitter as ts

    parser, query = parser_and_query(lang)
    tree = parser.parse(source)
    caps = ts.QueryCursor(query).captures(tree.root_node)
    for nodes in caps.values():
        nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
    return tree, caps


def count_error_nodes(tree) -> int:
    """Number of ERROR/MISSING regions; 0 for a clean parse (cheap when the tree has no error)."""
    root = tree.root_node
    if not root.has_error:
        return 0
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
            continue
        if node.has_error:
            stack.extend(node.children)
    return count
