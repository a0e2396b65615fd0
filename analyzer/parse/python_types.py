"""Visible types of Python names and `self.x` attributes, for the names-and-types resolver:
annotations, and the value of a name assigned exactly one (non-None) value. (Which of several
values a read sees is the value-flow solver's question.)"""
from __future__ import annotations

from .python import _enclosing, _text, normalize_callee


def _value_type(right) -> tuple[str, str] | None:
    """TypeExpr for the value assigned, if it says anything about the target's type."""
    if right is None:
        return None
    t = right.type
    if t == "call":
        fn = right.child_by_field_name("function")
        callee = normalize_callee(_text(fn))
        if callee.endswith("partial") and callee in ("partial", "functools.partial"):
            args = right.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            if first is not None and first.type in ("identifier", "attribute"):
                return ("ref", normalize_callee(_text(first)))
            return None
        return ("call", callee)
    if t in ("identifier", "attribute"):
        return ("ref", normalize_callee(_text(right)))
    return None


def assignments(caps, defs: list, spans: list) -> None:
    """Visible types of names and `self.x` attributes, from annotations and assigned values.

    A name assigned more than one value (not counting `None`) keeps only an annotation: which value
    a read sees is the value-flow solver's question (resolve/python_flow.py), not first-wins."""
    seen: dict[tuple[int, str], tuple | None] = {}    # (table owner, name) -> first value, None = varied
    for node in caps.get("assignment", ()):
        left = node.child_by_field_name("left")
        ann_node = node.child_by_field_name("type")
        right = node.child_by_field_name("right")
        if ann_node is None and (right is None or right.type in ("none", "assignment")):
            continue
        texpr = ("ann", _text(ann_node)) if ann_node is not None else _value_type(right)
        owner = _enclosing(spans, defs, node.start_byte)
        od = defs[owner]
        if left.type == "identifier":
            name = _text(left)
            table = od["attrs"] if od["kind"] in ("class", "module") else od["vars"]
            key = (owner, name)
        elif left.type == "attribute":
            obj = left.child_by_field_name("object")
            if obj is None or obj.type != "identifier" or _text(obj) != "self":
                continue
            name = _text(left.child_by_field_name("attribute"))
            cls = od["parent"] if od["kind"] == "method" else -1
            if cls <= 0 or defs[cls]["kind"] != "class":
                continue
            table = defs[cls]["attrs"]
            key = (cls, name)
        else:
            continue
        if texpr is None or texpr[0] != "ann":
            plain = texpr[:2] if texpr is not None else None
            if key in seen and seen[key] != plain:
                seen[key] = None
                if name in table and table[name][0] != "ann":
                    del table[name]
                continue
            seen.setdefault(key, plain)
            if plain is None or seen[key] is None:
                continue
        # Remember where the value was written: `self.x = x` means the parameter `x` there.
        texpr = (texpr[0], texpr[1], owner)
        if texpr[0] == "ann" or name not in table:
            table[name] = texpr
