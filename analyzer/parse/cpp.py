"""Extract C++/CUDA facts from one file with tree-sitter captures.

Names are kept as written plus the enclosing namespace/class path; the resolver decides what an
out-of-class `Foo::Bar` definition belongs to, because only the whole index knows where `Foo` is.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from .facts import FileFacts
from .cpp_syntax import (clean_comment, declarator_name, function_declarator, normalize_callee, params_of,
                         registration, strip_templates, value_type)
from .languages import captures, count_error_nodes

_WS = re.compile(r"\s+")
_MACRO_CALL = re.compile(r"((?:\b\w+\s*::\s*)*\b[A-Za-z_]\w*)\s*(?:<[^;{}()]*?>\s*)?(<<<|\()")
_KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "alignof", "decltype", "static_assert",
    "catch", "defined", "static_cast", "reinterpret_cast", "const_cast", "dynamic_cast", "typeid",
    "noexcept", "alignas", "__attribute__", "__launch_bounds__", "__align__", "do", "else", "case",
}
_MACRO_NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
_MACRO_NAME_IN_TEXT = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")
_MAKE_SMART = re.compile(r"make_(?:shared|unique)\s*<\s*([\w:]+)")


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def extract(source: bytes, path: str, context: dict[str, Any]) -> FileFacts:
    """Facts for one C++ or CUDA file. context: `lang` ('cpp' | 'cuda'), and the engine's
    `registration_macros` (blocks whose `.def`/`.impl` calls register ops) and `test_macros`
    (gtest-style `TEST_F(Fixture, Case) { ... }` bodies)."""
    lang = context["lang"]
    conv = _Conventions(frozenset(context.get("registration_macros", ())),
                        frozenset(context.get("test_macros", ())))
    tree, caps = captures(lang, source)
    comments = _comments(caps)
    defs: list[dict] = []
    spans: list[tuple[int, int]] = []  # parallel to defs
    _scopes(caps, source, comments, conv, defs, spans)
    _link_scopes(defs, spans)
    scopes = _ScopeIndex(defs, spans)
    _declarations(caps, comments, scopes, defs)
    calls, regs = _calls(caps, scopes, defs)
    usings, aliases = _usings_and_aliases(caps, scopes)
    return {
        "path": path, "lang": lang, "module": "", "errors": count_error_nodes(tree), "defs": defs,
        "calls": calls, "imports": [_text(n).strip('"<>') for n in caps.get("reference.include", ())],
        "usings": usings, "aliases": aliases, "macros": _macros(caps), "regs": regs,
    }


@dataclass(frozen=True)
class _Conventions:
    registration_macros: frozenset[str]
    test_macros: frozenset[str]


def _new_def(kind: str, line: int, end: int) -> dict:
    return {
        "kind": kind, "name": "", "qual": "", "parent": -1, "line": line, "end": end, "sig": "",
        "doc": "", "decos": [], "bases": [], "params": [], "nparams": (0, 0), "ret": None,
        "flags": [], "vars": {}, "attrs": {}, "ns": "",
    }


def _comments(caps) -> dict[int, tuple[int, str]]:
    """End line -> (start line, text) of every comment, for leading doc comments."""
    return {c.end_point[0] + 1: (c.start_point[0] + 1, _text(c)) for c in caps.get("comment", ())}


def _leading_doc(node, comments: dict[int, tuple[int, str]]) -> str:
    outer = node.parent if node.parent is not None and node.parent.type == "template_declaration" else node
    line = outer.start_point[0] + 1
    parts = []
    while line - 1 in comments:
        start, text = comments[line - 1]
        parts.append(text)
        line = start
    return clean_comment("\n".join(reversed(parts)))


def _scopes(caps, source: bytes, comments, conv: _Conventions, defs: list, spans: list) -> None:
    """Namespaces, classes and function definitions, in document order."""
    scope_nodes = [(n, "namespace") for n in caps.get("definition.namespace", ())]
    scope_nodes += [(n, "class") for n in caps.get("definition.class", ())]
    scope_nodes += [(n, "func") for n in caps.get("definition.function", ())]
    scope_nodes.sort(key=lambda p: (p[0].start_byte, -p[0].end_byte))
    for node, what in scope_nodes:
        d = _new_def(what, node.start_point[0] + 1, node.end_point[0] + 1)
        if what == "namespace":
            n = node.child_by_field_name("name")
            d["name"] = _text(n).replace(" ", "") if n is not None else ""
        elif what == "class":
            _class_def(node, d, comments)
        elif not _function_def(node, source, d, comments, conv, len(defs)):
            continue
        defs.append(d)
        spans.append((node.start_byte, node.end_byte))


def _class_def(node, d: dict, comments) -> None:
    n = node.child_by_field_name("name")
    d["name"] = strip_templates(_text(n)).replace(" ", "") if n is not None else ""
    d["kind"] = "struct" if node.type == "struct_specifier" else "class"
    for c in node.named_children:
        if c.type == "base_class_clause":
            d["bases"] = [
                strip_templates(_text(b)).replace(" ", "")
                for b in c.named_children
                if b.type in ("type_identifier", "qualified_identifier", "template_type")
            ]
    d["sig"] = f"{node.type.split('_')[0]} {d['name']}" + (f" : {', '.join(d['bases'])}" if d["bases"] else "")
    d["doc"] = _leading_doc(node, comments)


def _function_def(node, source: bytes, d: dict, comments, conv: _Conventions, idx: int) -> bool:
    """Fill a function definition's def; False when no function declarator is found."""
    fdecl = function_declarator(node.child_by_field_name("declarator"))
    if fdecl is None:
        return False
    nnode = fdecl.child_by_field_name("declarator")
    name = strip_templates(_text(nnode).replace(" ", "") if nnode is not None else "")
    d["name"] = name.rsplit("::", 1)[-1]
    d["qual"] = name
    d["params"], d["nparams"] = params_of(fdecl.child_by_field_name("parameters"))
    tnode = node.child_by_field_name("type")
    d["ret"] = _text(tnode) if tnode is not None else None
    d["flags"] = _specifier_flags(node, d)
    plist = fdecl.child_by_field_name("parameters")
    if d["name"] in conv.test_macros:
        # TEST_F(Fixture, Case) { ... } parses as a function named TEST_F: name it by its test.
        label = ", ".join(_text(p) for p in plist.named_children) if plist is not None else ""
        d["name"] = d["qual"] = f"{d['name']}({label})"
        d["params"], d["nparams"] = [], (0, 0)
    if d["name"] in conv.registration_macros:
        d["kind"] = "registration"
        d["params"] = [(_text(p), None) for p in plist.named_children] if plist is not None else []
    else:
        d["kind"] = {"func": "function"}.get(d["kind"], d["kind"])
    body = node.child_by_field_name("body")
    header = source[node.start_byte : body.start_byte if body is not None else node.end_byte]
    d["sig"] = _WS.sub(" ", header.decode("utf-8", "replace")).strip()[:400]
    d["doc"] = _leading_doc(node, comments)
    for pname, ptype in d["params"]:
        if pname and ptype:
            d["vars"][pname] = ("ann", ptype, idx)
    return True


def _specifier_flags(node, d: dict) -> list[str]:
    """`virtual`/`static` flags; `__global__`/`__device__` set the kind (kernel, device)."""
    flags = []
    for c in node.children[:6]:
        ct = c.type
        if ct == "__global__":
            d["kind"] = "kernel"
        elif ct == "__device__" and d["kind"] != "kernel":
            d["kind"] = "device"
        elif ct == "virtual":
            flags.append("virtual")
        elif ct == "storage_class_specifier" and _text(c) == "static":
            flags.append("static")
    return flags


def _link_scopes(defs: list, spans: list) -> None:
    """Parents, namespaces and qualified names by a stack sweep over document order."""
    stack: list[int] = []
    for idx, (start, end) in enumerate(spans):
        while stack and spans[stack[-1]][1] <= start:
            stack.pop()
        d = defs[idx]
        parent = stack[-1] if stack else -1
        d["parent"] = parent
        pd = defs[parent] if parent >= 0 else None
        if pd is not None and pd["kind"] in ("function", "method", "kernel", "device", "registration"):
            # Local classes/functions inside a body: keep them, qualified under the function.
            prefix_q = pd["qual"]
            d["ns"] = pd["ns"]
        elif pd is not None:
            prefix_q = pd["qual"]
            d["ns"] = pd["qual"] if pd["kind"] == "namespace" else pd["ns"]
        else:
            prefix_q = ""
        if d["kind"] == "namespace":
            d["qual"] = f"{prefix_q}::{d['name']}" if prefix_q and d["name"] else (d["name"] or prefix_q)
        elif d["kind"] in ("class", "struct"):
            d["qual"] = f"{prefix_q}::{d['name']}" if prefix_q else d["name"]
        else:
            if pd is not None and pd["kind"] in ("class", "struct"):
                d["kind"] = "method" if d["kind"] == "function" else d["kind"]
            d["qual"] = f"{prefix_q}::{d['qual']}" if prefix_q else d["qual"]
        stack.append(idx)


class _ScopeIndex:
    """Innermost scope of a byte offset: binary search over spans, then parent links (O(depth))."""

    def __init__(self, defs: list, spans: list):
        self.defs, self.spans = defs, spans
        self.starts = [s for s, _ in spans]

    def enclosing(self, byte: int) -> int:
        idx = bisect.bisect_right(self.starts, byte) - 1
        while idx >= 0:
            s, e = self.spans[idx]
            if s <= byte < e:
                return idx
            idx = self.defs[idx]["parent"]
        return -1

    def owner_function(self, byte: int) -> int:
        """The function a call sits in; -1 for calls in namespace or class scope (initializers)."""
        idx = self.enclosing(byte)
        return -1 if idx >= 0 and self.defs[idx]["kind"] in ("namespace", "class", "struct") else idx


def _declarations(caps, comments, scopes: _ScopeIndex, defs: list) -> None:
    """Method declarations and data members inside class bodies; free function declarations;
    typed locals in function bodies."""
    decl_nodes = [(n, True) for n in caps.get("declaration.field", ())]
    decl_nodes += [(n, False) for n in caps.get("declaration", ())]
    for node, is_field in decl_nodes:
        owner = scopes.enclosing(node.start_byte)
        od = defs[owner] if owner >= 0 else None
        okind = od["kind"] if od is not None else "namespace"
        tnode = node.child_by_field_name("type")
        ttext = _text(tnode) if tnode is not None else ""
        declarators = [c for i, c in enumerate(node.children) if node.field_name_for_child(i) == "declarator"]
        for dnode in declarators:
            fdecl = function_declarator(dnode)
            if fdecl is not None and okind in ("class", "struct", "namespace"):
                d = _function_declaration(node, fdecl, od, owner, okind, ttext, comments)
                if d is not None:
                    defs.append(d)
                continue
            vname = declarator_name(dnode)
            if not vname or od is None or okind == "namespace":
                continue
            if okind in ("class", "struct"):
                if is_field:
                    od["attrs"][vname] = ("ann", ttext, owner)
                continue
            texpr = _local_type(ttext, tnode, dnode)
            if texpr is not None:
                od["vars"].setdefault(vname, (texpr[0], texpr[1], owner))


def _function_declaration(node, fdecl, od, owner: int, okind: str, ttext: str, comments) -> dict | None:
    nnode = fdecl.child_by_field_name("declarator")
    if nnode is None:
        return None
    name = strip_templates(_text(nnode).replace(" ", ""))
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
    prefix = od["qual"] if od is not None else ""
    d = _new_def("method" if in_class else "function", node.start_point[0] + 1, node.end_point[0] + 1)
    d.update(name=name.rsplit("::", 1)[-1], qual=f"{prefix}::{name}" if prefix else name, parent=owner,
             sig=_WS.sub(" ", _text(node)).strip().rstrip(";")[:400], doc=_leading_doc(node, comments),
             ret=ttext or None, flags=sorted(set(flags)),
             ns=(od["qual"] if okind == "namespace" else od["ns"]) if od is not None else "")
    d["params"], d["nparams"] = params_of(fdecl.child_by_field_name("parameters"))
    return d


def _local_type(ttext: str, tnode, dnode) -> tuple[str, str] | None:
    """TypeExpr of a local variable: its declared type, or its initializer's for `auto`."""
    if ttext in ("auto", "const auto", "auto&", "auto*") or tnode is not None and tnode.type == "placeholder_type_specifier":
        if dnode.type == "init_declarator":
            return value_type(dnode.child_by_field_name("value"))
        return None
    if ttext:
        return ("ann", ttext)
    return None


def _calls(caps, scopes: _ScopeIndex, defs: list) -> tuple[list, list]:
    """Calls and launches inside function bodies, with op registrations inside registration blocks."""
    launches = {n.start_byte for n in caps.get("reference.launch", ())}
    calls, regs = [], []
    for call in caps.get("reference.call", ()):
        fn = call.child_by_field_name("function")
        args = call.child_by_field_name("arguments")
        if fn is None or args is None:
            continue
        owner = scopes.owner_function(fn.start_byte)
        if owner < 0:
            continue
        callee = normalize_callee(_text(fn))
        nargs = sum(1 for c in args.named_children if c.type != "comment")
        line = fn.start_point[0] + 1
        calls.append((owner, line, callee, nargs, "launch" if call.start_byte in launches else "call"))
        if "make_" in callee:
            # std::make_shared<T>(...) constructs a T: record the constructor call too.
            m = _MAKE_SMART.search(_text(fn))
            if m:
                calls.append((owner, line, normalize_callee(m.group(1)), nargs, "call"))
        elif _MACRO_NAME.match(callee):
            # A macro given another macro's name (DISPATCH_BY_KV_CACHE_DTYPE(..., CALL_LAUNCHER)):
            # the resolver expands the argument if, and only if, it names a function-like macro.
            for a in args.named_children:
                if a.type == "identifier" and _MACRO_NAME.match(_text(a)):
                    calls.append((owner, line, _text(a), -1, "macroref"))
        od = defs[owner]
        if od["kind"] == "registration" and (callee.endswith(".def") or callee.endswith(".impl")):
            reg = registration(od, callee, args, line, call.end_point[0] + 1, owner)
            if reg is not None:
                regs.append(reg)
    return calls, regs


def _macros(caps) -> list:
    """(name, line, [(callee text, 'call' | 'launch' | 'ref')]) of every function-like macro."""
    macros = []
    for node in caps.get("definition.macro", ()):
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("value")
        if name is None or body is None:
            continue
        text = _text(body).replace("\\\n", " ").replace("\\\r\n", " ")
        found = []
        called = set()
        for m in _MACRO_CALL.finditer(text):
            callee = _WS.sub("", m.group(1))
            if callee.rsplit("::", 1)[-1] in _KEYWORDS:
                continue
            called.add(m.start(1))
            found.append((callee, "launch" if m.group(2) == "<<<" else "call"))
        for m in _MACRO_NAME_IN_TEXT.finditer(text):
            if m.start() not in called:
                found.append((m.group(0), "ref"))
        macros.append((_text(name), node.start_point[0] + 1, found))
    return macros


def _usings_and_aliases(caps, scopes: _ScopeIndex) -> tuple[list, list]:
    usings = []
    for node in caps.get("using", ()):
        owner = scopes.enclosing(node.start_byte)
        text = _WS.sub("", _text(node)).rstrip(";")
        if text.startswith("usingnamespace"):
            usings.append((owner, "namespace", text[len("usingnamespace"):]))
        elif text.startswith("using"):
            usings.append((owner, "decl", text[len("using"):]))
    for node in caps.get("definition.namespace_alias", ()):
        owner = scopes.enclosing(node.start_byte)
        text = _WS.sub("", _text(node)).rstrip(";")
        if text.startswith("namespace") and "=" in text:
            usings.append((owner, "nsalias", text[len("namespace"):]))
    aliases = []
    for node in caps.get("definition.type_alias", ()):
        name = node.child_by_field_name("name")
        tnode = node.child_by_field_name("type")
        if name is not None and tnode is not None:
            aliases.append((scopes.enclosing(node.start_byte), _text(name), _text(tnode)))
    for node in caps.get("definition.typedef", ()):
        tnode = node.child_by_field_name("type")
        dnode = node.child_by_field_name("declarator")
        name = declarator_name(dnode) if dnode is not None else None
        if dnode is not None and dnode.type == "type_identifier":
            name = _text(dnode)
        if tnode is not None and name:
            aliases.append((scopes.enclosing(node.start_byte), name, _text(tnode)))
    return usings, aliases




