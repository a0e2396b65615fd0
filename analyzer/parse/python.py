"""Extract Python facts (defs, calls, imports, visible types) from one file with tree-sitter captures.

The query (queries/python.scm) finds every node of interest in one pass; nesting is recovered from byte
ranges with a stack sweep instead of walking the tree in Python, which is what keeps vLLM's ~1200
files within a few seconds of one core.
"""
from __future__ import annotations

import re

from typing import Any

from .facts import FileFacts
from .languages import captures, count_error_nodes

_WS = re.compile(r"\s+")
_PROPERTY_DECOS = {"property", "cached_property", "functools.cached_property", "abstractproperty"}


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def normalize_callee(text: str) -> str:
    """Reduce a callee expression to dotted segments: `a.b(x, y).c[0].d` -> `a.b().c[].d`.

    Arguments and subscripts are dropped but their presence is kept, so the resolver can follow
    a call's return type. Anything that is not a dotted chain (lambdas, operators) comes back with
    characters the resolver treats as unresolvable.
    """
    if text.isidentifier():
        return text
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


def _docstring(node) -> str:
    raw = _text(node)
    for quote in ('"""', "'''", '"', "'"):
        i = raw.find(quote)
        if i != -1 and raw.endswith(quote) and len(raw) >= i + 2 * len(quote):
            return raw[i + len(quote) : len(raw) - len(quote)].strip()
    return raw.strip()


def _params(params_node) -> tuple[list, tuple[int, int]]:
    out = []
    required = 0
    total = 0
    variadic = False
    for child in params_node.named_children:
        t = child.type
        name = ann = None
        if t == "identifier":
            name = _text(child)
            required += 1
        elif t == "typed_parameter":
            first = child.named_children[0] if child.named_children else None
            if first is not None and first.type == "identifier":
                name = _text(first)
                required += 1
            else:
                variadic = True
            tnode = child.child_by_field_name("type")
            ann = _text(tnode) if tnode is not None else None
        elif t in ("default_parameter", "typed_default_parameter"):
            n = child.child_by_field_name("name")
            name = _text(n) if n is not None else None
            tnode = child.child_by_field_name("type")
            ann = _text(tnode) if tnode is not None else None
        elif t in ("list_splat_pattern", "dictionary_splat_pattern"):
            variadic = True
            continue
        else:  # keyword separator, positional separator, comments
            continue
        if name is not None:
            total += 1
            out.append((name, ann))
    return out, (required, -1 if variadic else total)


def _imports(node, module: str, is_package: bool, out: list) -> None:
    """Append (local_name, target_dotted, is_star) bindings for one import statement."""
    if node.type == "import_statement":
        for child in node.named_children:
            if child.type == "dotted_name":
                full = _text(child)
                head = full.split(".", 1)[0]
                # `import a.b.c` binds `a`; the resolver walks the rest through modules.
                out.append((head, head, False))
            elif child.type == "aliased_import":
                target = _text(child.child_by_field_name("name"))
                alias = _text(child.child_by_field_name("alias"))
                out.append((alias, target, False))
        return
    # import_from_statement
    mod_node = node.child_by_field_name("module_name")
    base = _text(mod_node) if mod_node is not None else ""
    if base.startswith("."):
        level = len(base) - len(base.lstrip("."))
        rest = base[level:]
        parts = module.split(".")
        # A package's __init__ is its own level-1 anchor; a plain module's anchor is its package.
        keep = len(parts) - (level - 1 if is_package else level)
        anchor = ".".join(parts[: max(keep, 0)])
        base = ".".join(p for p in (anchor, rest) if p)
    for child in node.named_children:
        if mod_node is not None and child == mod_node:
            continue
        if child.type == "wildcard_import":
            out.append(("*", base, True))
        elif child.type == "dotted_name":
            name = _text(child)
            out.append((name.split(".")[-1], f"{base}.{name}" if base else name, False))
        elif child.type == "aliased_import":
            name = _text(child.child_by_field_name("name"))
            alias = _text(child.child_by_field_name("alias"))
            out.append((alias, f"{base}.{name}" if base else name, False))


def extract(source: bytes, path: str, context: dict[str, Any]) -> FileFacts:
    """Facts for one Python file. context: `module` (dotted name), `is_package`, and the engine's
    `python_op_registrars` (functions that register a Python function as a torch op)."""
    module, is_package = context["module"], context["is_package"]
    registrars = tuple(context.get("python_op_registrars", ()))
    tree, caps = captures("py", source)
    defs: list[dict] = [_new_def("module", module.rsplit(".", 1)[-1], "", 1, max(source.count(b"\n"), 1))]
    defs[0]["sig"] = f"module {module}"
    # (start_byte, end_byte, def id) of every scope, in document order.
    spans: list[tuple[int, int, int]] = [(0, len(source) + 1, 0)]
    _definitions(caps, source, defs, spans)
    _link_parents(spans, defs)
    _docstrings(caps, defs, spans)
    calls, regs = _calls(caps, defs, spans, registrars)
    regs += _decorator_registrations(defs, registrars)
    imports: list = []
    for node in caps.get("import", ()):
        _imports(node, module, is_package, imports)
    from .python_types import assignments

    assignments(caps, defs, spans)
    flow = _flow(tree, caps, spans, len(calls), module, is_package)
    return {
        "path": path, "lang": "py", "module": module, "errors": count_error_nodes(tree),
        "defs": defs, "calls": calls, "imports": imports, "usings": [], "aliases": [],
        "macros": [], "regs": regs, "flow": flow,
    }


def _flow(tree, caps, spans: list, ncalls: int, module: str, is_package: bool) -> dict:
    """The value-flow facts (parse/python_flow.py), aligned with the defs and calls above."""
    from .python_flow import FlowWalker

    def_at = {start: idx for start, _end, idx in spans[1:]}
    site_at, k = {}, 0
    for call in caps.get("reference.call", ()):
        if call.child_by_field_name("function") is None or call.child_by_field_name("arguments") is None:
            continue
        site_at[(call.start_byte, call.end_byte)] = k
        k += 1
    assert k == ncalls
    walker = FlowWalker(def_at, site_at, ncalls, lambda node, out: _imports(node, module, is_package, out))
    walker.body(tree.root_node)
    return walker.facts()


def _new_def(kind: str, name: str, qual: str, line: int, end: int) -> dict:
    return {
        "kind": kind, "name": name, "qual": qual, "parent": -1, "line": line, "end": end,
        "sig": "", "doc": "", "decos": [], "bases": [], "params": [], "nparams": (0, 0),
        "ret": None, "flags": [], "vars": {}, "attrs": {}, "ns": "",
    }


def _definitions(caps, source: bytes, defs: list, spans: list) -> None:
    """One def per class/function node, in document order, with its span."""
    def_nodes = [(n, "class") for n in caps.get("definition.class", ())]
    def_nodes += [(n, "func") for n in caps.get("definition.function", ())]
    def_nodes += [(n, "lambda") for n in caps.get("definition.lambda", ())]
    def_nodes.sort(key=lambda p: p[0].start_byte)
    for node, what in def_nodes:
        idx = len(defs)
        if what == "lambda":
            defs.append(_lambda_def(node))
            spans.append((node.start_byte, node.end_byte, idx))
            continue
        name = _text(node.child_by_field_name("name"))
        parent_node = node.parent
        d = _new_def("class" if what == "class" else "function", name, name,
                     node.start_point[0] + 1, node.end_point[0] + 1)
        if parent_node is not None and parent_node.type == "decorated_definition":
            d["decos"] = [_text(c)[1:].strip() for c in parent_node.named_children if c.type == "decorator"]
        if what == "class":
            _class_header(node, d)
        else:
            _function_header(node, source, d, idx)
        defs.append(d)
        spans.append((node.start_byte, node.end_byte, idx))


def _lambda_def(node) -> dict:
    """A lambda is a symbol (`mod.func.<lambda1>`, numbered per enclosing def as PyCG does)."""
    d = _new_def("lambda", "<lambda>", "<lambda>", node.start_point[0] + 1, node.end_point[0] + 1)
    params = node.child_by_field_name("parameters")
    if params is not None:
        d["params"], d["nparams"] = _params(params)
    d["sig"] = "lambda " + (_WS.sub(" ", _text(params)) if params is not None else "")
    d["sig"] = d["sig"].strip()[:400]
    return d


def _class_header(node, d: dict) -> None:
    sup = node.child_by_field_name("superclasses")
    if sup is not None:
        d["bases"] = [
            normalize_callee(_text(c)) for c in sup.named_children
            if c.type in ("identifier", "attribute", "subscript")
        ]
    d["sig"] = f"class {d['name']}" + (f"({', '.join(d['bases'])})" if d["bases"] else "")


def _function_header(node, source: bytes, d: dict, idx: int) -> None:
    """Parameters, return annotation, flags from decorators, one-line signature, typed params."""
    body = node.child_by_field_name("body")
    d["params"], d["nparams"] = _params(node.child_by_field_name("parameters"))
    rnode = node.child_by_field_name("return_type")
    d["ret"] = _text(rnode) if rnode is not None else None
    flags = []
    if node.children and node.children[0].type == "async":
        flags.append("async")
    for deco in d["decos"]:
        head = deco.split("(", 1)[0]
        if head in _PROPERTY_DECOS or head.endswith((".setter", ".getter", ".deleter")):
            flags.append("property")
        elif head in ("staticmethod", "classmethod"):
            flags.append(head)
        elif head in ("overload", "typing.overload", "typing_extensions.overload"):
            flags.append("overload")
        elif head in ("abstractmethod", "abc.abstractmethod"):
            flags.append("abstract")
    d["flags"] = sorted(set(flags))
    # The header ends at its own ':' (a comment after it is not part of the signature).
    colons = [c for c in node.children if c.type == ":" and (body is None or c.start_byte < body.start_byte)]
    end = colons[-1].end_byte if colons else (body.start_byte if body is not None else node.end_byte)
    header = source[node.start_byte : end]
    sig = _WS.sub(" ", header.decode("utf-8", "replace")).strip().rstrip(":").strip()
    d["sig"] = sig[:400]
    for pname, pann in d["params"]:
        if pann:
            d["vars"][pname] = ("ann", pann, idx)


def _link_parents(spans: list, defs: list) -> None:
    """Parent links and qualified names (spans are in document order, so a stack sweep suffices)."""
    stack: list[tuple[int, int]] = []  # (end_byte, def id)
    lambdas: dict[int, int] = {}      # parent def id -> lambdas numbered so far
    for start, end, idx in spans[1:]:
        while stack and stack[-1][0] <= start:
            stack.pop()
        parent = stack[-1][1] if stack else 0
        d = defs[idx]
        d["parent"] = parent
        if d["kind"] == "lambda":
            lambdas[parent] = lambdas.get(parent, 0) + 1
            d["name"] = d["qual"] = f"<lambda{lambdas[parent]}>"
        if parent:
            pd = defs[parent]
            d["qual"] = f"{pd['qual']}.{d['name']}"
            if d["kind"] == "function" and pd["kind"] == "class":
                d["kind"] = "method"
        stack.append((end, idx))


def _docstrings(caps, defs: list, spans: list) -> None:
    """The docstring belongs to the scope whose body starts at its block."""
    def_by_start = {spans[i][0]: i for i in range(1, len(spans))}
    for node in caps.get("doc", ()):
        block = node.parent.parent if node.parent is not None else None
        if block is None:
            continue
        if block.type == "module":
            defs[0]["doc"] = _docstring(node)
            continue
        owner = block.parent
        if owner is None:
            continue
        idx = def_by_start.get(owner.start_byte, 0)
        if idx:
            defs[idx]["doc"] = _docstring(node)


def _calls(caps, defs: list, spans: list, registrars: tuple[str, ...]) -> tuple[list, list]:
    """(owner, line, callee, nargs, 'call') per call, and ops registered through `registrars`."""
    calls, regs = [], []
    for call in caps.get("reference.call", ()):
        fn = call.child_by_field_name("function")
        args = call.child_by_field_name("arguments")
        if fn is None or args is None:
            continue
        callee = normalize_callee(_text(fn))
        owner = _enclosing(spans, defs, fn.start_byte)
        nargs = args.named_child_count if args.type == "argument_list" else 1
        calls.append((owner, fn.start_point[0] + 1, callee, nargs, "call"))
        if registrars and callee.rsplit(".", 1)[-1] in registrars:
            reg = _custom_op_registration(args, fn.start_point[0] + 1, call.end_point[0] + 1, owner)
            if reg is not None:
                regs.append(reg)
    return calls, regs


_OP_NAME = re.compile(r"""\bop_name\s*=\s*["']([A-Za-z_]\w*)["']""")


def _decorator_registrations(defs: list, registrars: tuple[str, ...]) -> list:
    """`@register_custom_op(...)` over a function (SGLang): the op is named by a literal `op_name`,
    else by the function; the function is the op's implementation."""
    regs = []
    for d in defs if registrars else ():
        for deco in d["decos"] if d["kind"] == "function" else ():
            if deco.split("(", 1)[0].strip().rsplit(".", 1)[-1] in registrars:
                m = _OP_NAME.search(deco)
                regs.append(("py_custom_op", "", m.group(1) if m else d["name"], d["name"], d["line"], d["end"],
                             d["parent"]))
    return regs


def _custom_op_registration(args, line: int, end: int, owner: int):
    """`direct_register_custom_op(op_name=..., op_func=...)` (vLLM, SGLang): an op registered from
    Python. Its namespace (`torch.ops.vllm`) is the engine's, so the resolver fills it in."""
    keyword, positional = {}, []
    for a in args.named_children:
        if a.type == "keyword_argument":
            name = a.child_by_field_name("name")
            value = a.child_by_field_name("value")
            if name is not None and value is not None:
                keyword[_text(name)] = value
        elif a.type != "comment":
            positional.append(a)
    op = keyword.get("op_name") or (positional[0] if positional else None)
    fn = keyword.get("op_func") or (positional[1] if len(positional) > 1 else None)
    if op is None or fn is None or op.type != "string" or fn.type not in ("identifier", "attribute"):
        return None
    name = _text(op).strip("\"'")
    if not name.isidentifier():
        return None  # f-strings and computed names are not statically visible
    return ("py_custom_op", "", name, normalize_callee(_text(fn)), line, end, owner)


def _enclosing(spans: list, defs: list, byte: int) -> int:
    """Innermost def whose span contains `byte`.

    spans[i] belongs to defs[i] and spans are sorted by start, so: binary-search the last span
    starting at or before `byte`, then climb parent links until one contains it (O(depth)).
    """
    lo, hi = 0, len(spans)
    while lo < hi:
        mid = (lo + hi) // 2
        if spans[mid][0] <= byte:
            lo = mid + 1
        else:
            hi = mid
    idx = max(lo - 1, 0)
    while idx > 0:
        s, e, _ = spans[idx]
        if s <= byte < e:
            return idx
        idx = defs[idx]["parent"]
    return 0
