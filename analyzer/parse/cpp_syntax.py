"""C++ syntax helpers for the extractor: names without template arguments, callee chains,
declarators, parameter lists, initializer types, registration calls, comment text."""
from __future__ import annotations

import re

_WS = re.compile(r"\s+")


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def strip_templates(text: str) -> str:
    """Drop template argument lists: `ns::Foo<int, Bar<T>>::f` -> `ns::Foo::f` (operators kept)."""
    if "<" not in text or "operator" in text:
        return text
    out = []
    depth = 0
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            if depth:
                depth -= 1
            else:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def normalize_callee(text: str) -> str:
    """`this->mgr_->Alloc` -> `this.mgr_.Alloc`; `a.b(x).c` -> `a.b().c`; templates dropped."""
    if text.isidentifier():
        return text
    text = text.replace("->", ".").replace("template ", "")
    text = strip_templates(text)
    out = []
    depth = 0
    for ch in text:
        if ch in "([{":
            if depth == 0:
                out.append("()" if ch == "(" else "[]")
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return _WS.sub("", "".join(out))


def function_declarator(decl):
    """Descend pointer/reference/attributed declarators to the function_declarator, if any."""
    node = decl
    for _ in range(8):
        if node is None:
            return None
        if node.type == "function_declarator":
            return node
        node = node.child_by_field_name("declarator")
    return None


def declarator_name(decl) -> str | None:
    """Identifier a (possibly pointer/reference/init/array) declarator declares."""
    node = decl
    for _ in range(8):
        if node is None:
            return None
        if node.type in ("identifier", "field_identifier"):
            return _text(node)
        nxt = node.child_by_field_name("declarator")
        if nxt is None:
            for c in node.named_children:
                if c.type in ("identifier", "field_identifier"):
                    return _text(c)
            return None
        node = nxt
    return None


def params_of(plist) -> tuple[list, tuple[int, int]]:
    out = []
    required = total = 0
    variadic = False
    if plist is None:
        return out, (0, 0)
    for child in plist.named_children:
        t = child.type
        if t == "parameter_declaration" or t == "optional_parameter_declaration":
            tnode = child.child_by_field_name("type")
            dnode = child.child_by_field_name("declarator")
            ttext = _text(tnode) if tnode is not None else ""
            if ttext == "void" and dnode is None:
                continue
            name = declarator_name(dnode) if dnode is not None else None
            out.append((name or "", ttext))
            total += 1
            if t == "parameter_declaration":
                required += 1
        elif t == "variadic_parameter_declaration" or t == "...":
            variadic = True
    if any(c.type == "..." for c in plist.children):
        variadic = True
    return out, (required, -1 if variadic else total)


def value_type(value) -> tuple[str, str] | None:
    """Type of an initializer, where visible: make_shared<T>, new T, casts, calls."""
    if value is None:
        return None
    t = value.type
    if t == "new_expression":
        tnode = value.child_by_field_name("type")
        return ("ann", _text(tnode)) if tnode is not None else None
    if t == "call_expression":
        fn = value.child_by_field_name("function")
        raw = _text(fn)
        m = re.search(r"make_(?:shared|unique)\s*<(.+)>\s*$", raw, re.S)
        if m:
            return ("ann", m.group(1))
        m = re.match(r"\s*(?:static|dynamic|reinterpret|const)_(?:pointer_)?cast\s*<(.+)>\s*$", raw, re.S)
        if m:
            return ("ann", m.group(1))
        return ("call", normalize_callee(raw))
    if t == "initializer_list":
        return None
    return None


def registration(block: dict, callee: str, args, line: int, end: int, owner: int):
    """One `ops.def/impl("name", ..., &fn)` or pybind `m.def("name", &fn)` inside a block."""
    named = [c for c in args.named_children if c.type != "comment"]
    if not named or named[0].type not in ("string_literal", "raw_string_literal", "concatenated_string"):
        return None
    raw = _text(named[0])
    op = raw.strip('"').split("(", 1)[0].strip()
    if op.startswith('R"'):
        op = op[2:].lstrip("(")
    op = op.rsplit("::", 1)[-1].strip().strip('"')
    if not op or not re.match(r"^[A-Za-z_][\w.]*$", op):
        return None
    target = None
    for a in named[1:]:
        if a.type == "pointer_expression":
            target = _text(a).lstrip("&").strip()
            break
        if a.type in ("identifier", "qualified_identifier") and "::k" not in _text(a):
            target = _text(a)
            break
        if a.type == "call_expression":  # TORCH_FN(fn), py::overload_cast<...>(&fn)
            inner = a.child_by_field_name("arguments")
            for c in inner.named_children if inner is not None else ():
                if c.type in ("pointer_expression", "identifier", "qualified_identifier"):
                    target = _text(c).lstrip("&").strip()
                    break
            if target:
                break
    macro = block["name"]
    kind = "pybind" if macro == "PYBIND11_MODULE" else ("torch_def" if callee.endswith(".def") else "torch_impl")
    ns_expr = block["params"][0][0] if block["params"] else ""
    if target is not None:
        target = strip_templates(target.replace(" ", ""))
    return (kind, ns_expr, op, target, line, end, owner)


def clean_comment(text: str) -> str:
    lines = []
    for raw in text.splitlines():
        s = raw.strip()
        for prefix in ("///", "//!", "//", "/**", "/*!", "/*", "*/", "*"):
            if s.startswith(prefix):
                s = s[len(prefix):]
                break
        if s.endswith("*/"):
            s = s[:-2]
        lines.append(s.strip())
    return "\n".join(lines).strip()
