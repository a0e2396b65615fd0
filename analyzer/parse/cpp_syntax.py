"""C++ syntax helpers for the extractor: declarator shapes, entity names built from the tree (never
from raw text, so an ERROR region cannot glue tokens into a name), parameter lists, template
parameters, callee chains, comment text."""
from __future__ import annotations

import re

_WS = re.compile(r"\s+")
_NAME_OK = re.compile(r"^(?:[A-Za-z_~][\w~]*::)*(?:~?[A-Za-z_]\w*|operator\S.*|operator .+)$")

# Declarator nodes wrapping the declared name, and what they add to the declared type.
_WRAPPER_SUFFIX = {"pointer_declarator": "*", "reference_declarator": "&", "array_declarator": "[]"}
_PASS_THROUGH = ("parenthesized_declarator", "attributed_declarator", "init_declarator")
_NAME_NODES = frozenset({
    "identifier", "field_identifier", "type_identifier", "qualified_identifier", "destructor_name",
    "operator_name", "template_function", "template_method", "operator_cast", "namespace_identifier",
})
MAX_WALK = 64


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


_WORD_GAP = re.compile(r"(?<=\w)\s+(?=\w)")


def squeeze(text: str) -> str:
    """Whitespace removed except one space between words: `Foo< const Bar * >` -> `Foo<const Bar*>`."""
    return _WS.sub("", _WORD_GAP.sub(" ", text))


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


def collapse_parens(text: str) -> str:
    """`a.b(x).c[i]` -> `a.b().c[]`, whitespace removed; template arguments kept."""
    out = []
    depth = 0
    for ch in text:
        if ch in "([{":
            if depth == 0:
                out.append("()" if ch == "(" else "[]")
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return squeeze("".join(out))


def normalize_callee(text: str) -> str:
    """`this->mgr_->Alloc` -> `this.mgr_.Alloc`; `a.b(x).c` -> `a.b().c`; templates dropped."""
    if text.isidentifier():
        return text
    return collapse_parens(strip_templates(text.replace("->", ".").replace("template ", "")))


def chain_text(text: str) -> str:
    """A callee chain with its template arguments kept (`Singleton<Env>::GetInstance().Get`)."""
    if text.isidentifier():
        return text
    return collapse_parens(text.replace("->", ".").replace("template ", ""))


def entity_name(node) -> str:
    """Name a declarator's name node denotes, built from its children: `ns::Cls::f`, `~Cls`,
    `operator<<`, `operator bool`; '' where the tree holds no clean name (ERROR regions)."""
    parts: list[str] = []
    for _ in range(100_000):  # qualified names nest to the right; iterate, never recurse
        if node is None:
            return ""
        t = node.type
        if t == "qualified_identifier":
            scope = node.child_by_field_name("scope")
            if scope is not None:
                s = _simple_name(scope)
                if not s:
                    return ""
                parts.append(s)
            node = node.child_by_field_name("name")
            continue
        s = _simple_name(node)
        if not s:
            return ""
        parts.append(s)
        break
    name = "::".join(parts)
    return name if _NAME_OK.match(name) else ""


def _simple_name(node) -> str:
    t = node.type
    if t in ("identifier", "field_identifier", "type_identifier", "namespace_identifier"):
        return _text(node)
    if t in ("template_type", "template_function", "template_method"):
        n = node.child_by_field_name("name")
        return _simple_name(n) if n is not None else ""
    if t == "destructor_name":
        return "~" + "".join(_text(c) for c in node.named_children)
    if t == "operator_name":
        return _WS.sub("", _text(node)).replace("operator", "operator", 1)
    if t == "operator_cast":
        tnode = node.child_by_field_name("type")
        return "operator " + (_WS.sub(" ", _text(tnode)).strip() if tnode is not None else "")
    if t in ("dependent_name", "dependent_type"):
        return _simple_name(node.named_children[-1]) if node.named_children else ""
    return ""


def type_text(tnode) -> str:
    """A declaration's type as text; a class defined in place (`struct S { ... } s;`) is its name
    (its body would make every enclosing member's type as long as the class)."""
    if tnode is None:
        return ""
    if tnode.type in ("class_specifier", "struct_specifier", "union_specifier", "enum_specifier"):
        name = tnode.child_by_field_name("name")
        return _WS.sub("", _text(name)) if name is not None else ""
    text = _text(tnode)
    return _WS.sub(" ", text) if len(text) < 400 else ""


def template_args(node) -> str:
    """Template argument text of a `template_type` name (`A<T*, N>` -> `T*,N`), else ''."""
    if node is not None and node.type in ("template_type", "template_function"):
        args = node.child_by_field_name("arguments")
        if args is not None:
            return _WS.sub("", _text(args))[1:-1]
    return ""


def walk_declarator(decl):
    """(function declarator | None, name node | None, type suffix) of a declarator.

    A declaration declares a function when the innermost non-parenthesis wrapper of the name is a
    function declarator: `int& f()`, `Foo* Bar::g()`, `void (*h(int))(double)` are functions;
    `void (*fp)(int)` and `int (&r)[3]` are not. The suffix is what pointer/reference wrappers add
    to the written type (`&` for `int& f()`; `*` for the variable `Foo* p`)."""
    node, fdecl, suffix, fsuffix = decl, None, "", ""
    for _ in range(MAX_WALK):
        if node is None:
            return None, None, suffix
        t = node.type
        if t in _NAME_NODES:
            if t == "operator_cast":
                inner = node.child_by_field_name("declarator")
                if inner is not None and inner.type == "abstract_function_declarator":
                    fdecl = inner
            return fdecl, node, (fsuffix if fdecl is not None else suffix)
        if t == "function_declarator":
            fdecl, fsuffix = node, suffix
            node = node.child_by_field_name("declarator")
        elif t in _WRAPPER_SUFFIX:
            fdecl = None
            suffix += _WRAPPER_SUFFIX[t]
            node = _inner_declarator(node)
        elif t in _PASS_THROUGH:
            node = _inner_declarator(node)
        else:
            return None, None, suffix
    return None, None, suffix


def _inner_declarator(node):
    inner = node.child_by_field_name("declarator")
    if inner is not None:
        return inner
    for c in node.named_children:
        if c.type not in ("type_qualifier", "ms_pointer_modifier", "attribute_specifier", "attribute_declaration"):
            return c
    return None


def function_declarator(decl):
    """The function declarator of a function's declarator, or None (see walk_declarator)."""
    return walk_declarator(decl)[0]


def declarator_name(decl) -> str | None:
    """Identifier a (possibly pointer/reference/init/array) declarator declares."""
    _, name, _ = walk_declarator(decl)
    if name is None:
        return None
    if name.type in ("identifier", "field_identifier", "type_identifier"):
        return _text(name)
    return entity_name(name) or None


def params_of(plist) -> tuple[list, tuple[int, int]]:
    """[(name, type text with its pointer/reference suffix)] and (required, total | -1) arity."""
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
            ttext = type_text(tnode)
            if ttext == "void" and dnode is None:
                continue
            name, suffix = "", _abstract_suffix(dnode)
            if dnode is not None and not dnode.type.startswith("abstract"):
                fdecl, nnode, suffix = walk_declarator(dnode)
                name = _text(nnode) if nnode is not None and nnode.type == "identifier" else ""
                if fdecl is not None or "(" in _text(dnode):
                    suffix = "(*)"  # a function (pointer) parameter: callable, not a class
            out.append((name, _type_with_qualifiers(child, ttext) + suffix))
            total += 1
            if t == "parameter_declaration":
                required += 1
        elif t == "variadic_parameter_declaration" or t == "...":
            variadic = True
    if any(c.type == "..." for c in plist.children):
        variadic = True
    return out, (required, -1 if variadic else total)


def _type_with_qualifiers(param, ttext: str) -> str:
    quals = [_text(c) for c in param.children if c.type == "type_qualifier"]
    return " ".join(quals + [ttext]) if quals else ttext


def _abstract_suffix(dnode) -> str:
    out = ""
    node = dnode
    for _ in range(MAX_WALK):
        if node is None or not node.type.startswith("abstract"):
            break
        out += {"abstract_pointer_declarator": "*", "abstract_reference_declarator": "&"}.get(node.type, "")
        node = node.child_by_field_name("declarator") or (node.named_children[0] if node.named_children else None)
    return out


def template_params(node) -> list[str]:
    """Names of a template declaration's parameters (`template <typename T, int N>` -> [T, N])."""
    plist = node.child_by_field_name("parameters") if node is not None else None
    out = []
    for p in plist.named_children if plist is not None else ():
        name = p.child_by_field_name("name") or p.child_by_field_name("declarator")
        if name is None:
            ids = [c for c in p.named_children if c.type in ("type_identifier", "identifier")]
            name = ids[-1] if ids else None
        out.append(declarator_name(name) or "" if name is not None and name.type not in ("type_identifier",) else
                   (_text(name) if name is not None else ""))
    return out


def add_var(d: dict, name: str, kind: str, text: str, ctx: int, line: int) -> None:
    """A typed local: the first declaration of a name under the name, a later one of another
    type under `name@line` (the resolver picks the nearest declaration before a use)."""
    vars_ = d["vars"]
    texpr = (kind, text, ctx, line)
    first = vars_.get(name)
    if first is None:
        vars_[name] = texpr
    elif first[:2] != texpr[:2] and len(vars_) < 4096:
        vars_.setdefault(f"{name}@{line}", texpr)


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
