"""Render a call-graph neighbourhood (a query.RankedGraph: nodes and edges in rank order, fan-outs
as one node each) as Mermaid, Graphviz dot, or JSON.

Labels come from upstream symbol names, so they are escaped for each format: a hostile name
must not break out of a Mermaid label or a dot string.
"""
from __future__ import annotations

from typing import Any

_STYLE = {"exact": "-->", "type": "-->", "flow": "-->", "dispatch": "-.->", "guess": "-.->"}


def _mermaid_label(text: str) -> str:
    # Mermaid labels in "..." accept entity codes; quotes, angle brackets and pipes would not survive.
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("|", "#124;"))


def _short(name: str) -> str:
    parts = name.replace("::", ".").split(".")
    return ".".join(parts[-2:]) if len(parts) > 1 else name


def _ids(graph) -> dict:
    """Node ids for any format: `n<symbol id>`, or `g<k>` for the k-th fan-out."""
    return {**{sid: f"n{sid}" for sid in graph.nodes}, **{k: f"g{i}" for i, k in enumerate(graph.fanouts)}}


def to_mermaid(graph, focus: set[int], links: dict[int, str] | None = None, direction: str = "LR") -> str:
    """A RankedGraph (analyzer/query/ranking.py) as a Mermaid flowchart: nodes in rank order,
    a fan-out as one stadium-shaped node; `links` (symbol id -> URL) are kept for the caller."""
    ids = _ids(graph)
    lines = [f"flowchart {direction}"]
    for sid, s in graph.nodes.items():
        lines.append(f'  {ids[sid]}["{_mermaid_label(_short(s.name))}"]')
    for key, fan in graph.fanouts.items():
        lines.append(f'  {ids[key]}(["{_mermaid_label(fan.label)}"])')
    for a, b, res, via in graph.edges:
        label = res if via == "call" else f"{res}/{via}"
        lines.append(f"  {ids[a]} {_STYLE.get(res, '-->')}|{_mermaid_label(label)}| {ids[b]}")
    for sid in focus:
        if sid in graph.nodes:
            lines.append(f"  style {ids[sid]} stroke-width:3px")
    return "\n".join(lines)


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph, focus: set[int]) -> str:
    ids = _ids(graph)
    lines = ["digraph calls {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for sid, s in graph.nodes.items():
        attrs = f"label={_dot_str(_short(s.name))}, tooltip={_dot_str(s.name)}"
        if sid in focus:
            attrs += ", penwidth=3"
        lines.append(f"  {ids[sid]} [{attrs}];")
    for key, fan in graph.fanouts.items():
        members = "\n".join(h.symbol.name for h in fan.members)
        lines.append(f"  {ids[key]} [label={_dot_str(fan.label)}, tooltip={_dot_str(members)}, style=rounded];")
    for a, b, res, via in graph.edges:
        style = "dashed" if res in ("dispatch", "guess") else "solid"
        lines.append(f"  {ids[a]} -> {ids[b]} [label={_dot_str(res if via == 'call' else res + '/' + via)}, style={style}];")
    lines.append("}")
    return "\n".join(lines)


def to_json(graph, focus: set[int]) -> dict[str, Any]:
    """Nodes in rank order (focus first), fan-outs with their members, edges in rank order; a
    fan-out's id is its key (`fanout:<caller>:<name>`)."""
    return {
        "nodes": [{"id": sid, **s.brief(), "focus": sid in focus} for sid, s in graph.nodes.items()],
        "fanouts": [{"id": key, **fan.as_json()} for key, fan in graph.fanouts.items()],
        "edges": [{"from": a, "to": b, "resolution": res, "via": via} for a, b, res, via in graph.edges],
        "tests_hidden": graph.tests_hidden, "cut": graph.cut,
    }
