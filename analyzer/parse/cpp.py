"""Extract C++/CUDA facts from one file with tree-sitter captures.

Names are kept as written plus the enclosing namespace/class path; the resolver decides what an
out-of-class `Foo::Bar` definition belongs to, because only the whole index knows where `Foo` is.

Every step is linear in the file: scopes are linked by one stack sweep, each capture finds its
enclosing scope by another sweep (never by walking parents), and a namespace's qualified name is
built only when something inside it needs it (10,000 nested namespaces hold no symbol, so they
cost 10,000 short names, not 10,000 prefixes of growing length).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .cpp_decls import declarations, usings_and_aliases
from .cpp_refs import calls_and_registrations, macros
from .cpp_syntax import (_WS, add_var, clean_comment, entity_name, params_of, strip_templates, template_args,
                         template_params, type_text, walk_declarator)
from .facts import FileFacts
from .languages import captures, count_error_nodes

# A header parsed as C++ that uses CUDA's qualifiers is parsed with the CUDA grammar (a superset):
# the C++ grammar reads `__device__ __forceinline__ T f()` as an ERROR and glues the tokens.
_CUDA_HINT = re.compile(rb"\b(?:__global__|__device__|__host__|__forceinline__|__shared__)\b|<<<")
FUNC_LIKE = ("function", "method", "kernel", "device", "registration", "lambda")
_FUNCS = ("func", "function", "method", "kernel", "device")
_FIXTURE_MACROS = ("TEST_F", "TEST_P", "TYPED_TEST", "TYPED_TEST_P")


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


@dataclass(frozen=True)
class Conventions:
    registration_macros: frozenset[str]
    test_macros: frozenset[str]


def extract(source: bytes, path: str, context: dict[str, Any]) -> FileFacts:
    """Facts for one C++ or CUDA file. context: `lang` ('cpp' | 'cuda'), and the engine's
    `registration_macros` (blocks whose `.def`/`.impl` calls register ops) and `test_macros`
    (gtest-style `TEST_F(Fixture, Case) { ... }` bodies)."""
    lang = context["lang"]
    conv = Conventions(frozenset(context.get("registration_macros", ())),
                       frozenset(context.get("test_macros", ())))
    grammar = "cuda" if lang == "cpp" and _CUDA_HINT.search(source) else lang
    tree, caps = captures(grammar, source)
    comments = _Comments(_comments(caps), _templates(caps))
    defs: list[dict] = []
    spans: list[tuple[int, int]] = []  # parallel to defs
    _scopes(caps, source, comments, conv, defs, spans)
    scopes = ScopeIndex(defs, spans)
    scopes.link()
    declarations(caps, comments, scopes)
    calls, regs = calls_and_registrations(caps, scopes)
    usings, aliases = usings_and_aliases(caps, scopes)
    for d in defs:
        d.pop("_ns_idx", None)
    return {
        "path": path, "lang": lang, "module": "", "errors": count_error_nodes(tree), "defs": defs,
        "calls": calls, "imports": [_text(n).strip('"<>') for n in caps.get("reference.include", ())],
        "usings": usings, "aliases": aliases, "macros": macros(caps, grammar), "regs": regs,
        "globals": scopes.globals,
    }


def new_def(kind: str, line: int, end: int) -> dict:
    return {
        "kind": kind, "name": "", "qual": "", "parent": -1, "line": line, "end": end, "sig": "",
        "doc": "", "decos": [], "bases": [], "params": [], "nparams": (0, 0), "ret": None,
        "flags": [], "vars": {}, "attrs": {}, "ns": "",
    }


def _comments(caps) -> dict[int, tuple[int, str]]:
    """End line -> (start line, text) of every comment, for leading doc comments."""
    return {c.end_point[0] + 1: (c.start_point[0] + 1, _text(c)) for c in caps.get("comment", ())}


def _templates(caps) -> dict[int, Any]:
    """Start byte of a templated declaration -> its `template <...>` node. (Never `node.parent`:
    tree-sitter finds a parent by descending from the root, O(depth) per call.)"""
    out = {}
    for t in caps.get("template", ()):
        for c in t.named_children:
            if c.type != "template_parameter_list":
                out[c.start_byte] = t
    return out


@dataclass(frozen=True)
class _Comments:
    """What a declaration's surroundings say: comments by end line, template heads by start byte."""
    by_end: dict
    templates: dict

    def template_of(self, node):
        return self.templates.get(node.start_byte)


def leading_doc(node, comments: _Comments) -> str:
    outer = comments.template_of(node) or node
    line = outer.start_point[0] + 1
    parts = []
    while line - 1 in comments.by_end:
        start, text = comments.by_end[line - 1]
        parts.append(text)
        line = start
    return clean_comment("\n".join(reversed(parts)))


def _scopes(caps, source: bytes, comments, conv: Conventions, defs: list, spans: list) -> None:
    """Namespaces, classes, function definitions and the lambdas registered in registration
    blocks (pybind11 `.def("f", [](...) {...})`), in document order."""
    scope_nodes = [(n, "namespace") for n in caps.get("definition.namespace", ())]
    scope_nodes += [(n, "class") for n in caps.get("definition.class", ())]
    funcs = caps.get("definition.function", ())
    scope_nodes += [(n, "func") for n in funcs]
    blocks = [(n.start_byte, n.end_byte) for n in funcs if _is_registration_block(n, conv)]
    if blocks:
        scope_nodes += [(n, "lambda") for n in caps.get("definition.lambda", ())
                        if any(s < n.start_byte and n.end_byte <= e for s, e in blocks)]
    scope_nodes.sort(key=lambda p: (p[0].start_byte, -p[0].end_byte))
    open_funcs: list[int] = []   # end bytes of the function definitions around the current node
    for node, what in scope_nodes:
        while open_funcs and open_funcs[-1] <= node.start_byte:
            open_funcs.pop()
        if what == "func" and open_funcs and node.child_by_field_name("type") is None:
            continue  # `FOR_RANGE(i, 0, n) { ... }` in a body: a macro with a block, not a function
        if what == "func":
            open_funcs.append(node.end_byte)
        d = new_def(what, node.start_point[0] + 1, node.end_point[0] + 1)
        if what == "namespace":
            n = node.child_by_field_name("name")
            d["name"] = _WS.sub("", _text(n)) if n is not None else ""
        elif what == "class":
            _class_def(node, d, comments)
        elif what == "lambda":
            ldecl = node.child_by_field_name("declarator")
            d["params"], d["nparams"] = params_of(ldecl.child_by_field_name("parameters") if ldecl is not None else None)
            d["name"] = d["qual"] = f"lambda@{d['line']}"
            d["vars"] = {p: ("ann", t, len(defs), d["line"]) for p, t in d["params"] if p and t}
        elif not _function_def(node, source, d, comments, conv, len(defs)):
            continue
        defs.append(d)
        spans.append((node.start_byte, node.end_byte))


def _is_registration_block(node, conv: Conventions) -> bool:
    decl = node.child_by_field_name("declarator")
    if decl is None or decl.type != "function_declarator":
        return False
    name = decl.child_by_field_name("declarator")
    return name is not None and _text(name) in conv.registration_macros


def _class_def(node, d: dict, comments) -> None:
    n = node.child_by_field_name("name")
    d["name"] = (entity_name(n) or strip_templates(_WS.sub("", _text(n)))) if n is not None else ""
    if n is not None and n.type == "template_type":
        d["spec"] = template_args(n)  # a specialization: `struct Traits<DEVICE_TYPE_NVIDIA>`
    d["kind"] = "struct" if node.type == "struct_specifier" else "class"
    tmpl = comments.template_of(node)
    if tmpl is not None:
        d["tparams"] = template_params(tmpl)
    for c in node.named_children:
        if c.type == "base_class_clause":
            raw = [b for b in c.named_children
                   if b.type in ("type_identifier", "qualified_identifier", "template_type")]
            d["bases"] = [strip_templates(_WS.sub("", _text(b))) for b in raw]
            d["bases_t"] = [_WS.sub("", _text(b)) for b in raw]
    d["sig"] = f"{node.type.split('_')[0]} {d['name']}" + (f" : {', '.join(d['bases'])}" if d["bases"] else "")
    d["doc"] = leading_doc(node, comments)


def _function_def(node, source: bytes, d: dict, comments, conv: Conventions, idx: int) -> bool:
    """Fill a function definition's def; False when no function declarator is found."""
    fdecl, nnode, suffix = walk_declarator(node.child_by_field_name("declarator"))
    if fdecl is None or nnode is None:
        return False
    name = entity_name(nnode)
    if not name:
        return False
    d["name"] = name.rsplit("::", 1)[-1] if "operator" not in name else _operator_short(name)
    d["qual"] = name
    spec = _specialization(nnode)
    if spec:
        d["spec"] = spec   # `template <> void MemcpyT<DEVICE_TYPE_NVIDIA>(...)`
    plist = fdecl.child_by_field_name("parameters")
    d["params"], d["nparams"] = params_of(plist)
    d["ret"] = return_type(node, fdecl, suffix)
    d["flags"] = _specifier_flags(node, d)
    tmpl = comments.template_of(node)
    if tmpl is not None:
        d["tparams"] = template_params(tmpl)
    if d["name"] in conv.test_macros:
        # TEST_F(Fixture, Case) { ... } parses as a function named TEST_F: name it by its test;
        # its body is a member of the fixture (gtest derives the test from it).
        args = [_text(p) for p in plist.named_children] if plist is not None else []
        d["name"] = d["qual"] = f"{d['name']}({', '.join(args)})"
        if name in _FIXTURE_MACROS and args:
            d["fixture"] = args[0]
        d["params"], d["nparams"] = [], (0, 0)
    if d["name"] in conv.registration_macros:
        d["kind"] = "registration"
        d["params"] = [(_text(p), None) for p in plist.named_children] if plist is not None else []
    else:
        d["kind"] = {"func": "function"}.get(d["kind"], d["kind"])
    body = node.child_by_field_name("body")
    header = source[node.start_byte : body.start_byte if body is not None else node.end_byte]
    d["sig"] = _WS.sub(" ", header.decode("utf-8", "replace")).strip()[:400]
    d["doc"] = leading_doc(node, comments)
    for pname, ptype in d["params"]:
        if pname and ptype:
            d["vars"][pname] = ("ann", ptype, idx, d["line"])
    return True


def _specialization(nnode) -> str:
    """Template arguments of an explicitly specialized function's name, else ''."""
    if nnode.type == "qualified_identifier":
        nnode = nnode.child_by_field_name("name") or nnode
    return template_args(nnode) if nnode.type == "template_function" else ""


def _operator_short(name: str) -> str:
    i = name.find("operator")
    return name[i:]


def return_type(node, fdecl, suffix: str) -> str | None:
    """Written return type with the declarator's `*`/`&`; a trailing return type for `auto`."""
    tnode = node.child_by_field_name("type")
    ttext = type_text(tnode)
    for c in fdecl.named_children:
        if c.type == "trailing_return_type":
            ttext, suffix = _WS.sub(" ", _text(c)).lstrip("->").strip(), ""
    return (ttext + suffix) if ttext else None


def _specifier_flags(node, d: dict) -> list[str]:
    """`virtual`/`static` flags; `__global__`/`__device__` set the kind (kernel, device)."""
    flags = []
    for c in node.children[:8]:
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


class ScopeIndex:
    """The scopes of one file (defs in document order with byte spans): parent links, qualified
    names, and the enclosing scope of any sorted batch of byte offsets, all by stack sweeps."""

    def __init__(self, defs: list, spans: list):
        self.defs, self.spans = defs, spans
        self._ns_qual: dict[int, str] = {}
        self.ctor_calls: list[tuple] = []       # `Foo f(args);` (cpp_decls -> cpp_refs)
        self.extra_calls: list[tuple] = []      # calls hidden in a `Foo f(g());` read as a declaration
        self.value_aliases: list[tuple] = []    # `constexpr auto F = G<...>;`
        self.globals: list[tuple] = []          # namespace-scope variables

    def link(self) -> None:
        """Parents, namespaces and qualified names by one stack sweep over document order."""
        defs, stack = self.defs, []
        for idx, (start, _end) in enumerate(self.spans):
            while stack and self.spans[stack[-1]][1] <= start:
                stack.pop()
            d = defs[idx]
            while stack and d["kind"] in _FUNCS and defs[stack[-1]]["kind"] in _FUNCS:
                # A function inside a function body is a parse recovering from preprocessor-split
                # braces (`#ifdef ... } else { #endif`): the outer one ends where this one starts.
                outer = stack.pop()
                self.spans[outer] = (self.spans[outer][0], start)
                defs[outer]["end"] = max(defs[outer]["line"], d["line"] - 1)
            parent = stack[-1] if stack else -1
            d["parent"] = parent
            pd = defs[parent] if parent >= 0 else None
            # The nearest enclosing namespace, by index (its name is built only on demand).
            d["_ns_idx"] = (parent if pd["kind"] == "namespace" else pd["_ns_idx"]) if pd is not None else -1
            if d["kind"] != "namespace":
                prefix_q = self.qual_of(parent) if parent >= 0 else ""
                d["ns"] = self.qual_of(d["_ns_idx"]) if d["_ns_idx"] >= 0 else ""
                if pd is not None and pd["kind"] in ("class", "struct") and d["kind"] == "function":
                    d["kind"] = "method"
                own = d["name"] if d["kind"] in ("class", "struct") else d["qual"]
                d["qual"] = f"{prefix_q}::{own}" if prefix_q else own
            stack.append(idx)

    def qual_of(self, idx: int) -> str:
        """Qualified name of def `idx`; a namespace's is built by walking up to the nearest one
        already built, and stored on the def (only namespaces that enclose something get one)."""
        d = self.defs[idx]
        if d["kind"] != "namespace":
            return d["qual"]
        if idx in self._ns_qual:
            return self._ns_qual[idx]
        names, cur = [], idx
        while cur >= 0 and cur not in self._ns_qual:
            cd = self.defs[cur]
            if cd["kind"] == "namespace":
                if cd["name"]:
                    names.append(cd["name"])
                cur = cd["_ns_idx"]
            else:  # a namespace inside a function body cannot be; a class can't hold one either
                cur = -1
        base = self._ns_qual.get(cur, "") if cur >= 0 else ""
        names.reverse()
        qual = "::".join(([base] if base else []) + names)
        self._ns_qual[idx] = qual
        d["qual"] = qual
        return qual

    def owners(self, offsets: list[int]) -> list[int]:
        """Innermost scope holding each byte offset: one sweep, O(n + m) (plus a sort when the
        offsets are not ascending)."""
        order = sorted(range(len(offsets)), key=offsets.__getitem__)
        out, stack, j, n = [0] * len(offsets), [], 0, len(self.spans)
        spans = self.spans
        for k in order:
            b = offsets[k]
            while j < n and spans[j][0] <= b:
                while stack and spans[stack[-1]][1] <= spans[j][0]:
                    stack.pop()
                stack.append(j)
                j += 1
            while stack and spans[stack[-1]][1] <= b:
                stack.pop()
            out[k] = stack[-1] if stack else -1
        return out

    def owner_functions(self, offsets: list[int]) -> list[int]:
        """The function each offset sits in; -1 in namespace or class scope (initializers)."""
        return [-1 if i >= 0 and self.defs[i]["kind"] in ("namespace", "class", "struct") else i
                for i in self.owners(offsets)]
