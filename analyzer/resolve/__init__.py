"""Resolution: every file's facts -> one framework's symbols, call edges and override pairs.

Resolution is global (a call in one file resolves through classes and imports in others), so it
runs over all stored facts each time anything changed; it is pure and deterministic, which is what
makes an incremental re-index identical to a cold one.

Modules: graph (what resolution produces, and the edge labels), python and cpp (one resolver per
language: symbols first, then calls), cross_language (torch op and pybind11 registrations, and the
Python calls that reach them).
"""
from __future__ import annotations

from typing import Any

from .graph import COMMON_METHOD_NAMES, MAX_NAME_CANDIDATES, RESOLUTIONS, Graph, Symbol

__all__ = ["COMMON_METHOD_NAMES", "MAX_NAME_CANDIDATES", "RESOLUTIONS", "Graph", "Symbol", "resolve"]


def resolve(files: list[dict[str, Any]], settings: dict[str, Any]) -> Graph:
    """Resolve a framework's facts (one dict per file) into a Graph.

    settings: the engine's settings (FrameworkRef.settings): op namespaces, extension names."""
    from ..gcpause import paused

    # Resolution allocates millions of small objects and frees almost none until it ends: the
    # cyclic collector's full passes over them cost seconds on vLLM and find nothing (gcpause).
    with paused():
        return _resolve(files, settings)


def _resolve(files: list[dict[str, Any]], settings: dict[str, Any]) -> Graph:
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
    py.resolve_calls(links)
    # The resolvers' tables are cyclic (the value flow's hooks are closures over it): released
    # here, they are freed by reference counting, and the collector has nothing to find (gcpause).
    py.release()
    cpp.release()
    return graph
