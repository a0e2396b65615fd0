"""Tree-sitter languages, parsers and compiled queries, built lazily once per process.

Parsing workers import this module; the query CLI never does, so `infernav callers` does not pay
for loading three grammars.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import PurePosixPath

PY_EXT = {".py", ".pyi"}
CPP_EXT = {".cc", ".cpp", ".cxx", ".c", ".h", ".hh", ".hpp", ".hxx", ".inl", ".ipp"}
CUDA_EXT = {".cu", ".cuh"}

# Files above this size are skipped (and reported): generated tables, not code anyone reads.
MAX_FILE_BYTES = 2_000_000


def language_of(path: str) -> str | None:
    """Return 'py', 'cpp' or 'cuda' for an indexable source path, else None."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in PY_EXT:
        return "py"
    if suffix in CUDA_EXT:
        return "cuda"
    if suffix in CPP_EXT:
        return "cpp"
    return None


PY_QUERY = r"""
(class_definition name: (identifier) @class.name) @class
(function_definition name: (identifier) @func.name) @func
(call) @call
(import_statement) @import
(import_from_statement) @import
(assignment left: (_) @assign.left) @assign
(module . (expression_statement . (string) @doc))
(block . (expression_statement . (string) @doc))
"""

_CPP_COMMON = r"""
(namespace_definition) @ns
(class_specifier body: (_)) @class
(struct_specifier body: (_)) @class
(union_specifier body: (_)) @class
(function_definition) @func
(field_declaration) @field
(declaration) @decl
(call_expression arguments: (argument_list)) @call
(preproc_function_def value: (preproc_arg)) @macro
(preproc_include path: (_) @include)
(using_declaration) @using
(alias_declaration) @alias
(type_definition) @typedef
(namespace_alias_definition) @nsalias
(comment) @comment
"""

CPP_QUERY = _CPP_COMMON
CUDA_QUERY = _CPP_COMMON + "\n(call_expression (kernel_call_syntax)) @launch\n"


@lru_cache(maxsize=None)
def parser_and_query(lang: str):
    """(Parser, Query) for a language key; compiled once per process."""
    import tree_sitter as ts

    if lang == "py":
        import tree_sitter_python as grammar

        src = PY_QUERY
    elif lang == "cuda":
        import tree_sitter_cuda as grammar

        src = CUDA_QUERY
    elif lang == "cpp":
        import tree_sitter_cpp as grammar

        src = CPP_QUERY
    else:  # pragma: no cover - guarded by language_of
        raise ValueError(lang)
    language = ts.Language(grammar.language())
    return ts.Parser(language), ts.Query(language, src)


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
