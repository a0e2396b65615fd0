"""Resolution: every file's facts -> one framework's symbols, call edges and override pairs.

Resolution is global (a call in one file resolves through classes and imports in others), so it
runs over all stored facts each time anything changed; it is pure and deterministic, which is what
makes an incremental re-index identical to a cold one, and the Python value flow's answer does not
depend on the order files are built in (python_solver), which is what an incremental solver needs.

Modules: graph (what resolution produces, and the edge labels), python and cpp (one resolver per
language: symbols first, then calls), cross_language (torch op and pybind11 registrations, and the
Python calls that reach them).
"""
from __future__ import annotations

from typing import Any, Callable

from .graph import COMMON_METHOD_NAMES, MAX_NAME_CANDIDATES, RESOLUTIONS, Graph, Symbol

__all__ = ["COMMON_METHOD_NAMES", "MAX_NAME_CANDIDATES", "RESOLUTIONS", "RESOLVER_VERSION", "Graph", "Symbol",
           "resolve"]

# Bump when resolution answers differently for the same facts: an index resolved by another
# version is re-resolved from its stored facts on the next `index` (nothing is re-parsed).
RESOLVER_VERSION = 3


def resolve(files: list[dict[str, Any]], settings: dict[str, Any], *,
            build_order: Callable[[int], list[int]] | None = None) -> Graph:
    """Resolve a framework's facts (one dict per file) into a Graph.

    settings: the engine's settings (FrameworkRef.settings): op namespaces, extension names.
    build_order(n): the order the value flow builds the n Python files' constraints in (default:
    by path); any order gives the same Graph (tests/test_flow_order.py, bench/flow_order.py)."""
    from ..gcpause import paused

    # Resolution allocates millions of small objects and frees almost none until it ends: the
    # cyclic collector's full passes over them cost seconds on vLLM and find nothing (gcpause).
    with paused():
        return _resolve(files, settings, build_order)


def _resolve(files: list[dict[str, Any]], settings: dict[str, Any],
             build_order: Callable[[int], list[int]] | None = None) -> Graph:
    from . import cross_language
    from .cpp import CppResolver
    from .python import PyResolver

    from ..parse.languages import resolver_of

    graph = Graph()
    files = sorted(files, key=lambda f: f["path"])
    py_files = [f for f in files if resolver_of(f["lang"]) == "python"]
    cpp_files = [f for f in files if resolver_of(f["lang"]) == "cpp"]
    cpp = CppResolver(graph, cpp_files, settings)
    cpp.build_symbols()
    cross_language.cpp_registrations(cpp)
    py = PyResolver(graph, py_files, settings)
    py.build_symbols()
    cross_language.python_ops(py)
    cpp.resolve_calls()
    links = cross_language.PythonLinks(torch_ops={**py.op_symbols, **cpp.op_symbols}, pybind=cpp.pybind_symbols,
                                      pybind_classes=cpp.pybind_classes)
    py.resolve_calls(links, build_order(len(py_files)) if build_order else None)
    # The resolvers' tables are cyclic (the value flow's hooks are closures over it): released
    # here, they are freed by reference counting, and the collector has nothing to find (gcpause).
    py.release()
    cpp.release()
    return graph
