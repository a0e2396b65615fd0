"""Resolution: every file's facts -> one framework's symbols, call edges and override pairs.

Resolution is global (a call in one file resolves through classes and imports in others), so it
runs over all stored facts each time anything changed (but the C++ half, which reads no Python
fact: graph.CppPart, reused when no C++ file changed); it is pure and deterministic, which is what
makes an incremental re-index identical to a cold one, and the Python value flow's answer does not
depend on the order files are built in (python_solver), which is what an incremental solver needs.

Modules: graph (what resolution produces, and the edge labels), python and cpp (one resolver per
language: symbols first, then calls), cross_language (torch op and pybind11 registrations, and the
Python calls that reach them).
"""
from __future__ import annotations

from typing import Any, Callable

from .graph import COMMON_METHOD_NAMES, MAX_NAME_CANDIDATES, RESOLUTIONS, CppPart, Graph, Symbol

__all__ = ["COMMON_METHOD_NAMES", "MAX_NAME_CANDIDATES", "RESOLUTIONS", "RESOLVER_VERSION", "CppPart", "Graph",
           "Symbol", "resolve"]

# Bump when resolution answers differently for the same facts: an index resolved by another
# version is re-resolved from its stored facts on the next `index` (nothing is re-parsed).
RESOLVER_VERSION = 3


def resolve(files: list[dict[str, Any]], settings: dict[str, Any], *,
            build_order: Callable[[int], list[int]] | None = None, cpp: CppPart | None = None,
            release: bool = True, keep: dict | None = None) -> Graph:
    """Resolve a framework's facts (one dict per file) into a Graph.

    settings: the engine's settings (FrameworkRef.settings): op namespaces, extension names.
    build_order(n): the order the value flow builds the n Python files' constraints in (default:
    by path); any order gives the same Graph (tests/test_flow_order.py, bench/flow_order.py).
    cpp: a C++ part made earlier from the same C++ facts and settings (graph.CppPart says why that
    is sound); C++ facts in `files` are then not read. The graph's `cpp` is the part either way.
    release=False leaves the resolvers' cyclic tables to the caller's process exit instead of
    freeing them here (on vLLM freeing them costs ~0.8 s; see indexer.build's `exiting`).
    keep: a live index's (analyzer/live.py): the value flow logs what made each constraint
    (python_provenance), and the Python resolver, solved, is left in keep["py"] (not released)."""
    from ..gcpause import paused

    # Resolution allocates millions of small objects and frees almost none until it ends: the
    # cyclic collector's full passes over them cost seconds on vLLM and find nothing (gcpause).
    with paused():
        return _resolve(files, settings, build_order, cpp, release, keep)


def _resolve(files: list[dict[str, Any]], settings: dict[str, Any],
             build_order: Callable[[int], list[int]] | None = None, part: CppPart | None = None,
             release: bool = True, keep: dict | None = None) -> Graph:
    from . import cross_language
    from .cpp import CppResolver
    from .python import PyResolver

    from ..parse.languages import resolver_of

    graph = Graph()
    files = sorted(files, key=lambda f: f["path"])
    py_files = [f for f in files if resolver_of(f["lang"]) == "python"]
    cpp = None
    if part is None:
        cpp = CppResolver(graph, [f for f in files if resolver_of(f["lang"]) == "cpp"], settings)
        cpp.build_symbols()
        cross_language.cpp_registrations(cpp)
    else:
        graph.symbols = list(part.symbols)
        graph.edges |= part.edges
        graph.overrides |= part.overrides
        graph.resolved_calls, graph.unresolved = part.resolved_calls, part.unresolved
    n_cpp = len(graph.symbols)
    py = PyResolver(graph, py_files, settings)
    py.build_symbols()
    cross_language.python_ops(py)
    if cpp is not None:
        counts = graph.resolved_calls, graph.unresolved
        cpp.resolve_calls()
        part = CppPart(graph.symbols[:n_cpp], {e for e in graph.edges if e[0] < n_cpp},
                       {o for o in graph.overrides if o[0] < n_cpp}, graph.resolved_calls - counts[0],
                       graph.unresolved - counts[1], cpp.op_symbols, cpp.pybind_symbols, cpp.pybind_classes)
    graph.cpp = part
    links = cross_language.PythonLinks(torch_ops={**py.op_symbols, **part.torch_ops}, pybind=part.pybind,
                                      pybind_classes=part.pybind_classes)
    solver = None
    if keep is not None:
        from .python_provenance import LoggingSolver as solver

        keep.update(py=py, links=links, graph=graph)
        py.shares = {}                 # each call site's share of the graph, kept
    py.resolve_calls(links, build_order(len(py_files)) if build_order else None, solver)
    # The resolvers' tables are cyclic (the value flow's hooks are closures over it): released
    # here, they are freed by reference counting, and the collector has nothing to find (gcpause).
    if release:
        if keep is None:
            py.release()
        if cpp is not None:
            cpp.release()
    return graph
