"""Render a call-graph neighbourhood as Mermaid, Graphviz dot, or JSON.

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


def to_mermaid(nodes: dict[int, Any], edges: list[tuple], focus: set[int]) -> str:
    lines = ["flowchart LR"]
    for sid in sorted(nodes):
        s = nodes[sid]
        lines.append(f'  n{sid}["{_mermaid_label(_short(s.name))}"]')
    for a, b, res, via in edges:
        label = res if via == "call" else f"{res}/{via}"
        lines.append(f"  n{a} {_STYLE.get(res, '-->')}|{_mermaid_label(label)}| n{b}")
    for sid in sorted(focus & nodes.keys()):
        lines.append(f"  style n{sid} stroke-width:3px")
    return "\n".join(lines)


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(nodes: dict[int, Any], edges: list[tuple], focus: set[int]) -> str:
    lines = ["digraph calls {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for sid in sorted(nodes):
        s = nodes[sid]
        attrs = f"label={_dot_str(_short(s.name))}, tooltip={_dot_str(s.name)}"
        if sid in focus:
            attrs += ", penwidth=3"
        lines.append(f"  n{sid} [{attrs}];")
    for a, b, res, via in edges:
        style = "dashed" if res in ("dispatch", "guess") else "solid"
        lines.append(f"  n{a} -> n{b} [label={_dot_str(res if via == 'call' else res + '/' + via)}, style={style}];")
    lines.append("}")
    return "\n".join(lines)


def to_json(nodes: dict[int, Any], edges: list[tuple], focus: set[int]) -> dict[str, Any]:
    return {
        "nodes": [{"id": sid, **nodes[sid].brief(), "focus": sid in focus} for sid in sorted(nodes)],
        "edges": [{"from": a, "to": b, "resolution": res, "via": via} for a, b, res, via in edges],
    }
