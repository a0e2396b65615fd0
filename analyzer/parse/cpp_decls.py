"""C++ declarations: method and function declarations (every declarator shape), data members,
typed locals (declared, `auto` from the initializer, range-for elements, structured bindings),
constructions written as declarations (`Foo f(1, 2);`), `using`, aliases and typedefs, and value
aliases (`constexpr auto Memcpy = MemcpyT<ACTIVE_DEVICE_TYPE>;`)."""
from __future__ import annotations

from .cpp_exprs import arg_values, chain_of, value_of
from .cpp_syntax import _WS, add_var, squeeze, entity_name, params_of, template_params, type_text, walk_declarator

_LOCAL_SCOPES = ("function", "method", "kernel", "device", "lambda", "registration")


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def declarations(caps, comments, scopes) -> None:
    """Method declarations and data members inside class bodies; free function declarations;
    typed locals and range-for variables in function bodies; `Foo f(args);` as a construction
    (recorded on the scope index as `ctor_calls`, read by the call extractor)."""
    defs = scopes.defs
    nodes = [(n, True) for n in caps.get("declaration.field", ())]
    nodes += [(n, False) for n in caps.get("declaration", ())]
    nodes.sort(key=lambda p: (p[0].start_byte, -p[0].end_byte))
    # `struct S { ... } s;` starts where S does: look the declaration up just before S opens.
    owners = scopes.owners([n.start_byte - 1 if _defines_class(n) else n.start_byte for n, _ in nodes])
    scopes.ctor_calls = []
    for (node, is_field), owner in zip(nodes, owners):
        od = defs[owner] if owner >= 0 else None
        okind = od["kind"] if od is not None else "namespace"
        tnode = node.child_by_field_name("type")
        ttext = type_text(tnode)
        for i, dnode in enumerate(node.children):
            if node.field_name_for_child(i) != "declarator":
                continue
            fdecl, nnode, suffix = walk_declarator(dnode)
            if fdecl is not None and okind in ("class", "struct", "namespace"):
                d = _function_declaration(node, fdecl, nnode, suffix, od, owner, okind, ttext, comments, scopes)
                if d is not None:
                    defs.append(d)
                continue
            if okind == "namespace":
                if not _value_alias(node, dnode, tnode, nnode, owner, scopes):
                    _global(node, dnode, tnode, nnode, ttext, suffix, owner, scopes)
                continue
            vname = _text(nnode) if nnode is not None and nnode.type in ("identifier", "field_identifier") else ""
            if not vname and dnode.type == "structured_binding_declarator":
                continue
            if not vname:
                continue
            if okind in ("class", "struct"):
                od["attrs"][vname] = ("ann", ttext + suffix, owner)
                continue
            if okind in _LOCAL_SCOPES:
                line = node.start_point[0] + 1
                if fdecl is not None:   # `Foo f(a, b);` read as a function declaration: a construction
                    if _vexing_construction(fdecl, ttext, tnode, owner, line, scopes):
                        add_var(od, vname, "ann", ttext + suffix, owner, line)
                    continue
                texpr = _local_type(ttext, suffix, tnode, dnode)
                if texpr is not None:
                    add_var(od, vname, texpr[0], texpr[1], owner, line)
                _construction(node, dnode, fdecl, ttext, tnode, owner, scopes)
    _range_fors(caps, scopes)
    _lambda_params(caps, scopes)


def _defines_class(node) -> bool:
    tnode = node.child_by_field_name("type")
    return tnode is not None and tnode.type in ("class_specifier", "struct_specifier", "union_specifier") \
        and tnode.child_by_field_name("body") is not None


def _lambda_params(caps, scopes) -> None:
    """A lambda's parameters, and a catch clause's, are typed locals of the function they are
    written in (the calls are that function's; lambdas bound in registration blocks are scopes
    of their own)."""
    own = {scopes.spans[i][0] for i, d in enumerate(scopes.defs[:len(scopes.spans)]) if d["kind"] == "lambda"}
    nodes = [n for n in caps.get("definition.lambda", ()) if n.start_byte not in own]
    nodes += caps.get("declaration.catch", ())
    nodes.sort(key=lambda n: n.start_byte)
    for node, owner in zip(nodes, scopes.owners([n.start_byte for n in nodes])):
        if owner < 0 or scopes.defs[owner]["kind"] not in _LOCAL_SCOPES:
            continue
        ldecl = node if node.type == "catch_clause" else node.child_by_field_name("declarator")
        params, _ = params_of(ldecl.child_by_field_name("parameters") if ldecl is not None else None)
        for name, ptype in params:
            if name and ptype:
                add_var(scopes.defs[owner], name, "ann", ptype, owner, node.start_point[0] + 1)


def _function_declaration(node, fdecl, nnode, suffix: str, od, owner: int, okind: str, ttext: str,
                          comments, scopes) -> dict | None:
    from .cpp import leading_doc, new_def

    name = entity_name(nnode) if nnode is not None else ""
    if not name:
        return None
    flags = ["decl"]
    for c in node.children:
        if c.type == "virtual":
            flags.append("virtual")
        elif c.type == "storage_class_specifier" and _text(c) == "static":
            flags.append("static")
    dv = node.child_by_field_name("default_value")
    if dv is not None and _text(dv).strip() == "0":
        flags.append("pure")
    for c in fdecl.children:
        if c.type == "virtual_specifier":
            flags.append(_text(c).strip())
    in_class = okind in ("class", "struct")
    prefix = (scopes.qual_of(owner) if owner >= 0 else "")
    short = name[name.find("operator"):] if "operator" in name else name.rsplit("::", 1)[-1]
    d = new_def("method" if in_class else "function", node.start_point[0] + 1, node.end_point[0] + 1)
    ret = (ttext + suffix) if ttext else None
    for c in fdecl.named_children:
        if c.type == "trailing_return_type":
            ret = _WS.sub(" ", _text(c)).lstrip("->").strip()
    d.update(name=short, qual=f"{prefix}::{name}" if prefix else name, parent=owner,
             sig=_WS.sub(" ", _text(node)).strip().rstrip(";")[:400], doc=leading_doc(node, comments),
             ret=ret, flags=sorted(set(flags)),
             ns=(prefix if okind == "namespace" else od["ns"]) if od is not None else "")
    d["params"], d["nparams"] = params_of(fdecl.child_by_field_name("parameters"))
    tmpl = comments.template_of(node)
    if tmpl is not None:
        d["tparams"] = template_params(tmpl)
    return d


def _local_type(ttext: str, suffix: str, tnode, dnode) -> tuple[str, str] | None:
    """TypeExpr of a local variable: its declared type, or its initializer's for `auto`."""
    if tnode is not None and tnode.type == "placeholder_type_specifier" or ttext.endswith("auto"):
        if dnode.type == "init_declarator":
            return value_of(dnode.child_by_field_name("value"))
        if dnode.type == "reference_declarator" or dnode.type == "pointer_declarator":
            inner = dnode.named_children[-1] if dnode.named_children else None
            if inner is not None and inner.type == "init_declarator":
                return value_of(inner.child_by_field_name("value"))
        return None
    if ttext:
        return ("ann", ttext + suffix)
    return None


def _construction(node, dnode, fdecl, ttext: str, tnode, owner: int, scopes) -> None:
    """`Foo f(1, 2);` and `Foo f{1, 2};` construct a Foo: a call of Foo's constructor."""
    if tnode is None or tnode.type == "placeholder_type_specifier" or tnode.type == "primitive_type":
        return
    if dnode.type != "init_declarator":
        return
    value = dnode.child_by_field_name("value")
    if value is None or value.type not in ("argument_list", "initializer_list"):
        return
    args = arg_values(value)
    scopes.ctor_calls.append((owner, node.start_point[0] + 1, squeeze(ttext), len(args), args))


def _value_alias(node, dnode, tnode, nnode, owner: int, scopes) -> bool:
    """`constexpr auto Memcpy = MemcpyT<ACTIVE_DEVICE_TYPE>;`: `Memcpy(...)` calls MemcpyT."""
    if tnode is None or tnode.type != "placeholder_type_specifier" or dnode.type != "init_declarator":
        return False
    value = dnode.child_by_field_name("value")
    if value is None or value.type not in ("identifier", "qualified_identifier", "template_function"):
        return False
    if nnode is None or nnode.type != "identifier":
        return False
    if owner >= 0:
        scopes.qual_of(owner)
    scopes.value_aliases.append((owner, _text(nnode), squeeze(_text(value))))
    scopes.globals.append((owner, _text(nnode), "expr", squeeze(_text(value))))   # or a constant's alias
    return True


def _global(node, dnode, tnode, nnode, ttext: str, suffix: str, owner: int, scopes) -> None:
    """A namespace-scope variable (`static std::shared_ptr<Barrier> s_barrier;`, `constexpr auto
    kHalf = kFE5M10;`): (scope, name, TypeExpr kind, text), read when a chain starts with it."""
    if nnode is None or nnode.type != "identifier" or tnode is None or tnode.type == "primitive_type":
        return
    if tnode.type == "placeholder_type_specifier":
        value = dnode.child_by_field_name("value") if dnode.type == "init_declarator" else None
        texpr = value_of(value)
        if texpr is None or texpr[0] not in ("ann", "expr"):
            return
    else:
        texpr = ("ann", ttext + suffix)
    if owner >= 0:
        scopes.qual_of(owner)
    scopes.globals.append((owner, _text(nnode), texpr[0], texpr[1]))


def _vexing_construction(fdecl, ttext: str, tnode, owner: int, line: int, scopes) -> bool:
    """`BlockAllocatorManager m(config, allocator);` in a body parses as a function declaration
    whose parameters are the arguments: record the construction (and the calls among them,
    `Loader l(Singleton<Env>::GetInstance(), ctx)`). False for a real declaration (`int f(int);`)."""
    if tnode is None or tnode.type in ("primitive_type", "placeholder_type_specifier") or ttext == "void":
        return False
    plist = fdecl.child_by_field_name("parameters")
    args = []
    for p in plist.named_children if plist is not None else ():
        ptype = p.child_by_field_name("type") if p.type == "parameter_declaration" else None
        pdecl = p.child_by_field_name("declarator") if ptype is not None else None
        if ptype is None or ptype.type == "primitive_type" or pdecl is not None and pdecl.type != "abstract_function_declarator":
            return False   # `int x`, `const Foo& f`: a parameter, so a declaration after all
        text = squeeze(_text(ptype))
        if pdecl is not None:  # `T()` is a call
            scopes.extra_calls.append((owner, line, text, 0))
            text += "()"
        args.append(("expr", text))
    scopes.ctor_calls.append((owner, line, squeeze(ttext), len(args), tuple(args)))
    return True


def _range_fors(caps, scopes) -> None:
    """`for (auto& x : expr)`: x is an element of expr's value; `for (Foo& x : ...)`: a Foo."""
    loops = caps.get("declaration.range_for", ())
    owners = scopes.owners([n.start_byte for n in loops])
    for node, owner in zip(loops, owners):
        if owner < 0 or scopes.defs[owner]["kind"] not in _LOCAL_SCOPES:
            continue
        od = scopes.defs[owner]
        tnode = node.child_by_field_name("type")
        dnode = node.child_by_field_name("declarator")
        right = node.child_by_field_name("right")
        ttext = type_text(tnode)
        if dnode is None:
            continue
        line = node.start_point[0] + 1
        auto = tnode is not None and tnode.type == "placeholder_type_specifier"
        chain = chain_of(right) if right is not None else ""
        if dnode.type == "structured_binding_declarator" or (
                dnode.type == "reference_declarator" and dnode.named_children
                and dnode.named_children[-1].type == "structured_binding_declarator"):
            sb = dnode if dnode.type == "structured_binding_declarator" else dnode.named_children[-1]
            for i, ident in enumerate(c for c in sb.named_children if c.type == "identifier"):
                if chain:
                    add_var(od, _text(ident), "bind", f"{i}:{chain}", owner, line)
            continue
        _, nnode, suffix = walk_declarator(dnode)
        if nnode is None or nnode.type != "identifier":
            continue
        if auto:
            if chain:
                add_var(od, _text(nnode), "elem", chain, owner, line)
        elif ttext:
            add_var(od, _text(nnode), "ann", ttext + suffix, owner, line)


def usings_and_aliases(caps, scopes) -> tuple[list, list]:
    """usings: (scope, 'namespace' | 'decl' | 'nsalias', text); aliases: (scope, name, text,
    'type' | 'value'), type aliases and typedefs first, then value aliases."""
    usings = []
    nodes = list(caps.get("using", ()))
    for node, owner in zip(nodes, scopes.owners([n.start_byte for n in nodes])):
        text = _WS.sub("", _text(node)).rstrip(";")
        if text.startswith("usingnamespace"):
            usings.append((owner, "namespace", text[len("usingnamespace"):]))
        elif text.startswith("using"):
            usings.append((owner, "decl", text[len("using"):]))
    nodes = list(caps.get("definition.namespace_alias", ()))
    for node, owner in zip(nodes, scopes.owners([n.start_byte for n in nodes])):
        text = _WS.sub("", _text(node)).rstrip(";")
        if text.startswith("namespace") and "=" in text:
            usings.append((owner, "nsalias", text[len("namespace"):]))
    aliases = []
    nodes = list(caps.get("definition.type_alias", ()))
    for node, owner in zip(nodes, scopes.owners([n.start_byte for n in nodes])):
        name = node.child_by_field_name("name")
        tnode = node.child_by_field_name("type")
        if name is not None and tnode is not None:
            aliases.append((_scope(owner, scopes), _text(name), type_text(tnode), "type"))
    nodes = list(caps.get("definition.typedef", ()))
    for node, owner in zip(nodes, scopes.owners([n.start_byte for n in nodes])):
        tnode = node.child_by_field_name("type")
        dnode = node.child_by_field_name("declarator")
        name = None
        if dnode is not None:
            _, nnode, _ = walk_declarator(dnode)
            name = _text(nnode) if nnode is not None and nnode.type in ("type_identifier", "identifier") else None
        if tnode is not None and name:
            aliases.append((_scope(owner, scopes), name, type_text(tnode), "type"))
    for owner, name, target in scopes.value_aliases:
        aliases.append((owner, name, target, "value"))
    return usings, aliases


def _scope(owner: int, scopes) -> int:
    if owner >= 0:
        scopes.qual_of(owner)  # the resolver reads the scope's qualified name
    return owner
