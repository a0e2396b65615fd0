"""C++ references: calls and kernel launches (with their argument values, for overloads and
launch APIs), constructions (`new Foo(...)`, `Foo f(...)`), op and pybind11 registrations, and the
calls inside function-like macros (with their parameters, for `a##b` token pasting)."""
from __future__ import annotations

import re

from .cpp_exprs import arg_values, chain_of, value_of
from .cpp_syntax import _WS, chain_text, normalize_callee, squeeze, strip_templates

# A call or launch in a macro body: `ns::f(`, `k<T><<<`, `Invoke##NAME##Kernel<T>(`.
_MACRO_CALL = re.compile(
    r"((?:\b\w+\s*::\s*)*\b[A-Za-z_]\w*(?:\s*##\s*\w+)*)\s*(?:<(?!<)[^;{}()]*?>\s*)?(<<<|\()")
_KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "alignof", "decltype", "static_assert",
    "catch", "defined", "static_cast", "reinterpret_cast", "const_cast", "dynamic_cast", "typeid",
    "noexcept", "alignas", "__attribute__", "__launch_bounds__", "__align__", "do", "else", "case",
}
_MACRO_NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
_MACRO_NAME_IN_TEXT = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")
_MAKE_SMART = re.compile(r"make_(?:shared|unique)\s*<\s*([\w:]+)")
_PYBIND_DEFS = (".def", ".def_static")
_LITERALS = frozenset(("ann", t) for t in ("int", "double", "bool", "char", "const char*", "std::nullptr_t"))


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def calls_and_registrations(caps, scopes) -> tuple[list, list]:
    """Calls: (owner def, line, callee, nargs, kind, (chain with template args | '', argument
    TypeExprs)); kind 'call' | 'launch' | 'macroref' | 'ctor'. Registrations inside blocks."""
    defs = scopes.defs
    launches = {n.start_byte for n in caps.get("reference.launch", ())}
    lambda_at = {scopes.spans[i][0]: i for i, d in enumerate(defs[:len(scopes.spans)]) if d["kind"] == "lambda"}
    nodes = [n for n in caps.get("reference.call", ())]
    fns = [n.child_by_field_name("function") for n in nodes]
    owners = scopes.owner_functions([fn.start_byte if fn is not None else n.start_byte for n, fn in zip(nodes, fns)])
    calls, regs = [], []
    for call, fn, owner in zip(nodes, fns, owners):
        args = call.child_by_field_name("arguments")
        if fn is None or args is None or owner < 0:
            continue
        chain = chain_of(fn) or chain_text(_text(fn))
        callee = strip_templates(chain) if "<" in chain else chain
        if not callee or len(callee) > 400:
            callee = normalize_callee(_text(fn))[:400]
        if _external(callee) and "make_" not in callee:
            values = ()   # std::, torch::, v.push_back(...): no overload of ours to rank
            nargs = sum(1 for c in args.named_children if c.type != "comment")
        else:
            values = arg_values(args)
            nargs = len(values)
        line = fn.start_point[0] + 1
        kind = "launch" if call.start_byte in launches else "call"
        calls.append((owner, line, callee, nargs, kind, (chain if chain != callee else "", values)))
        if "make_" in callee:
            # std::make_shared<T>(...) constructs a T: record the constructor call too.
            m = _MAKE_SMART.search(_text(fn))
            if m:
                calls.append((owner, line, normalize_callee(m.group(1)), len(values), "ctor", ("", values)))
        elif _MACRO_NAME.match(callee):
            # A macro given another macro's name (DISPATCH_BY_KV_CACHE_DTYPE(..., CALL_LAUNCHER)):
            # the resolver expands the argument if, and only if, it names a function-like macro.
            for a in args.named_children:
                if a.type == "identifier" and _MACRO_NAME.match(_text(a)):
                    calls.append((owner, line, _text(a), -1, "macroref", ("", ())))
        od = defs[owner]
        if od["kind"] == "registration":
            field = fn.child_by_field_name("field") if fn.type == "field_expression" else None
            reg_line = field.start_point[0] + 1 if field is not None else line
            reg = _registration(od, callee, call, fn, args, reg_line, owner, lambda_at)
            if reg is not None:
                regs.append(reg)
    calls += _constructions(caps, scopes)
    return calls, regs


_EXTERNAL = ("std::", "torch::", "at::", "c10::", "fmt::", "absl::", "testing::",
             "thrust::", "cub::", "nlohmann::", "boost::", "py::", "pybind11::")


def _external(callee: str) -> bool:
    """A callee in a library's namespace, or a member call of a name standard containers,
    strings and tensors answer to: its arguments are not recorded."""
    if callee.startswith(_EXTERNAL):
        return True
    if "." in callee:
        from ..resolve.graph import COMMON_METHOD_NAMES

        return callee.rsplit(".", 1)[-1] in COMMON_METHOD_NAMES
    return False


def _constructions(caps, scopes) -> list:
    """`new Foo(args)` and the declarations `Foo f(args);` (collected by cpp_decls)."""
    out = []
    nodes = list(caps.get("reference.new", ()))
    for node, owner in zip(nodes, scopes.owner_functions([n.start_byte for n in nodes])):
        tnode = node.child_by_field_name("type")
        args = node.child_by_field_name("arguments")
        if owner < 0 or tnode is None:
            continue
        values = arg_values(args) if args is not None else ()
        text = _WS.sub(" ", _text(tnode)).strip()
        out.append((owner, node.start_point[0] + 1, strip_templates(text), len(values), "ctor", (text, values)))
    for owner, line, ttext, nargs, values in scopes.ctor_calls:
        out.append((owner, line, strip_templates(ttext), nargs, "ctor", (ttext, values)))
    for owner, line, text, nargs in scopes.extra_calls:
        out.append((owner, line, strip_templates(text), nargs, "call", (text if "<" in text else "", ())))
    nodes = list(caps.get("reference.init", ()))
    for node, owner in zip(nodes, scopes.owner_functions([n.start_byte for n in nodes])):
        # `Derived(...) : Base(a), pool_(n)`: the base's or the member's constructor.
        named = [c for c in node.named_children if c.type != "comment"]
        if owner < 0 or len(named) < 2 or named[-1].type not in ("argument_list", "initializer_list"):
            continue
        text = squeeze(_text(named[0]))
        values = arg_values(named[-1])
        out.append((owner, node.start_point[0] + 1, strip_templates(text), len(values), "init", (text, values)))
    nodes = list(caps.get("reference.operator", ()))
    for node, owner in zip(nodes, scopes.owner_functions([n.start_byte for n in nodes])):
        # `x = y`, `os << v`, `a == b` on class types: a user-written operator, where there is one.
        op = node.child_by_field_name("operator")
        if owner < 0 or op is None:
            continue
        left = node.child_by_field_name("left")
        while op is not None and _text(op) == "<<" and left is not None and left.type == "binary_expression" \
                and left.child_by_field_name("operator") is not None and _text(left.child_by_field_name("operator")) == "<<":
            left = left.child_by_field_name("left")   # `os << a << b`: every `<<` writes to os
        values = (value_of(left), value_of(node.child_by_field_name("right")))
        if values[0] is None and values[1] is None or any(v is not None and v in _LITERALS for v in values):
            continue   # an operand that is a literal (`x = 0`, `<< "text"`): a built-in operator
        if values[0] is not None and _MACRO_NAME.match(values[0][1]):
            continue   # `LOG_INFO << x`: a logging macro's stream, not an operand of ours
        out.append((owner, node.start_point[0] + 1, "operator" + _text(op), 2, "operator", ("", values)))
    return out


def _registration(block: dict, callee: str, call, fn, args, line: int, owner: int, lambda_at: dict):
    """One `ops.def/impl("name", ..., &fn)`, pybind `m.def("name", &fn)`, a pybind class
    `py::class_<T>(m, "Name")` or its methods `.def("name", &T::f | [](...) {...})`:
    (kind, block namespace expr, op name, target | None, line, end line, owner, lambda def | -1)."""
    macro = block["name"]
    pybind = macro == "PYBIND11_MODULE"
    ns_expr = block["params"][0][0] if block["params"] else ""
    end = call.end_point[0] + 1
    named = [c for c in args.named_children if c.type != "comment"]
    if pybind and callee.rsplit("::", 1)[-1] == "class_" and len(named) >= 2:
        pyname = _string(named[1])
        cls = _first_template_arg(fn)
        return ("pybind_class", ns_expr, pyname, cls, line, end, owner, -1) if pyname and cls else None
    if not (callee.endswith(".def") or callee.endswith(".impl") or pybind and callee.endswith(".def_static")):
        return None
    if not named or named[0].type not in ("string_literal", "raw_string_literal", "concatenated_string"):
        return None
    op = _op_name(_text(named[0]))
    if not op:
        return None
    target, lam = _target(named[1:], lambda_at)
    kind = "pybind" if pybind else ("torch_def" if callee.endswith(".def") else "torch_impl")
    if pybind:
        pycls = _pybind_class_of(fn)
        if pycls:
            op = f"{pycls}.{op}"
    if target is not None:
        target = strip_templates(target.replace(" ", ""))
    return (kind, ns_expr, op, target, line, end, owner, lam)


def _op_name(raw: str) -> str:
    op = raw.strip('"').split("(", 1)[0].strip()
    if op.startswith('R"'):
        op = op[2:].lstrip("(")
    op = op.rsplit("::", 1)[-1].strip().strip('"')
    return op if op and re.match(r"^[A-Za-z_][\w.]*$", op) else ""


def _target(rest: list, lambda_at: dict) -> tuple[str | None, int]:
    for a in rest:
        if a.type == "lambda_expression":
            return None, lambda_at.get(a.start_byte, -1)
        if a.type == "pointer_expression":
            return _text(a).lstrip("&").strip(), -1
        if a.type in ("identifier", "qualified_identifier") and "::k" not in _text(a):
            return _text(a), -1
        if a.type == "call_expression":  # TORCH_FN(fn), py::overload_cast<...>(&fn)
            inner = a.child_by_field_name("arguments")
            for c in inner.named_children if inner is not None else ():
                if c.type in ("pointer_expression", "identifier", "qualified_identifier"):
                    return _text(c).lstrip("&").strip(), -1
    return None, -1


def _string(node) -> str:
    if node.type != "string_literal":
        return ""
    s = _text(node).strip('"')
    return s if re.match(r"^[A-Za-z_]\w*$", s) else ""


def _first_template_arg(fn) -> str:
    if fn.type == "qualified_identifier":
        fn = fn.child_by_field_name("name")
    if fn is None or fn.type != "template_function":
        return ""
    targs = fn.child_by_field_name("arguments")
    first = next((c for c in targs.named_children), None) if targs is not None else None
    return strip_templates(_WS.sub("", _text(first))) if first is not None else ""


def _pybind_class_of(fn) -> str:
    """Python name of the `py::class_<T>(m, "Name")` a `.def(...)` chain hangs off, or ''."""
    node = fn
    for _ in range(10_000):
        if node is None:
            return ""
        if node.type == "field_expression":
            node = node.child_by_field_name("argument")
        elif node.type == "call_expression":
            f = node.child_by_field_name("function")
            if f is not None and f.type != "field_expression":
                name = strip_templates(_WS.sub("", _text(f))).rsplit("::", 1)[-1]
                if name != "class_":
                    return ""
                named = [c for c in node.child_by_field_name("arguments").named_children if c.type != "comment"]
                return _string(named[1]) if len(named) >= 2 else ""
            node = f
        else:
            return ""
    return ""


def macros(caps, grammar: str) -> list:
    """(name, line, [(callee chain, 'call' | 'launch' | 'ctor' | 'ref'[, argument chains])],
    [parameters]) of every function-like macro. The body is parsed as statements (so `Singleton<P>::GetInstance()->F(x)`
    keeps its receiver chain); `a##b` pastes survive as `a##b` in the chains; a bare ALL_CAPS name
    is a 'ref' (expanded only if it names a macro)."""
    out = []
    for node in caps.get("definition.macro", ()):
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("value")
        if name is None or body is None:
            continue
        pnode = node.child_by_field_name("parameters")
        params = [_text(p) for p in pnode.named_children] if pnode is not None else []
        if pnode is not None and "..." in _text(pnode):
            params.append("__VA_ARGS__")
        text = _text(body).replace("\\\r\n", " ").replace("\\\n", " ")
        found = _body_calls(text, grammar) if "(" in text or "<<<" in text else []
        called = {c[0] for c in found if c[1] != "local"}
        for m in _MACRO_NAME_IN_TEXT.finditer(text):
            if m.group(0) not in called and m.group(0) not in params:
                found.append((m.group(0), "ref"))
        out.append((_text(name), node.start_point[0] + 1, found, params))
    return out


_PASTE_OP = re.compile(r"\s*##\s*")
_STRINGIFY = re.compile(r"(?<![#\w])#\s*(\w+)")
_PASTE_MARK = "__infernav_paste__"


def _body_calls(text: str, grammar: str) -> list[tuple[str, str]]:
    from .languages import captures

    src = _STRINGIFY.sub(r'"\1"', _PASTE_OP.sub(_PASTE_MARK, text))
    snippet = f"void __infernav_macro__() {{\n{src}\n;}}\n".encode("utf-8", "replace")
    _, caps = captures(grammar, snippet)
    launches = {n.start_byte for n in caps.get("reference.launch", ())}
    found = []
    for call in caps.get("reference.call", ()):
        fn = call.child_by_field_name("function")
        if fn is None:
            continue
        chain = chain_of(fn) or chain_text(_text(fn))
        short = strip_templates(chain).rsplit(".", 1)[-1].rsplit("::", 1)[-1]
        if not chain or short in _KEYWORDS or len(chain) > 400:
            continue
        args = call.child_by_field_name("arguments")
        argtexts = tuple((chain_of(a) or "").replace(_PASTE_MARK, "##")
                         for a in (args.named_children if args is not None else ()) if a.type != "comment")
        found.append((chain.replace(_PASTE_MARK, "##"), "launch" if call.start_byte in launches else "call",
                      argtexts if any(argtexts) else ()))
    for node in caps.get("reference.new", ()):
        tnode = node.child_by_field_name("type")
        if tnode is not None:
            found.append((_WS.sub(" ", _text(tnode)).strip().replace(_PASTE_MARK, "##"), "ctor"))
    for node in caps.get("declaration", ()):
        tnode = node.child_by_field_name("type")
        dnode = node.child_by_field_name("declarator")
        value = dnode.child_by_field_name("value") if dnode is not None and dnode.type == "init_declarator" else None
        if tnode is not None and value is not None and value.type == "argument_list" \
                and tnode.type not in ("primitive_type", "placeholder_type_specifier") \
                and _text(tnode) not in _KEYWORDS:
            found.append((_WS.sub(" ", _text(tnode)).strip().replace(_PASTE_MARK, "##"), "ctor"))
        _macro_local(node, tnode, dnode, value, found)
    return found


def _macro_local(node, tnode, dnode, value, found: list) -> None:
    """`auto&& _status = (status);` in a macro body: ('_status', 'local', value TypeExpr), so the
    body's `_status.OK()` is read with the type of the argument the caller passes."""
    if tnode is None or dnode is None:
        return
    from .cpp_syntax import walk_declarator

    _, nnode, suffix = walk_declarator(dnode)
    if nnode is None or nnode.type != "identifier":
        return
    if tnode.type == "placeholder_type_specifier":
        inner = dnode
        while inner is not None and inner.type != "init_declarator" and inner.named_children:
            inner = inner.named_children[-1]
        texpr = value_of(inner.child_by_field_name("value")) if inner is not None and inner.type == "init_declarator" else None
    elif tnode.type != "primitive_type":
        texpr = ("ann", squeeze(_text(tnode)) + suffix)
    else:
        texpr = None
    if texpr is not None and texpr[0] in ("ann", "expr"):
        found.append((_text(nnode), "local", (texpr[0], texpr[1].replace(_PASTE_MARK, "##"))))
