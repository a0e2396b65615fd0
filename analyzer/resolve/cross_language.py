"""Edges between languages: torch op and pybind11 registrations, and the Python calls reaching them.

  C++  `TORCH_LIBRARY(ns, m) { m.def("op(...)"); m.impl("op", &fn); }`  ->  op symbol
       `torch.ops.ns.op`, with a `registration` edge to `fn`
  C++  `PYBIND11_MODULE(mod, m) { m.def("f", &fn); }`  ->  symbol `mod.f` -> `fn`
  Py   `direct_register_custom_op(op_name="x", op_func=f)` (the engine's registrars)  ->
       `torch.ops.<python_op_namespace>.x` -> `f`
  Py   `torch.ops.ns.op(...)` -> the op symbol (via `torch-op`); `import mod; mod.f()` -> the
       pybind symbol (via `pybind`)

The namespace of a C++ block can be `TORCH_EXTENSION_NAME`, set per CMake target: the engine's
`torch_extension_names` map source folders to target names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .graph import MAX_NAME_CANDIDATES, Symbol

_FUNC_KINDS = ("function", "method", "kernel", "device")


@dataclass
class PythonLinks:
    """What Python calls can reach in other languages: op name -> op symbol, `mod.f` -> pybind symbol."""

    torch_ops: dict[str, int]
    pybind: dict[str, int]
    pybind_classes: dict[str, str] = field(default_factory=dict)   # `mod.Name` -> C++ class


def _extension_name(settings: dict, path: str) -> str:
    names = settings.get("torch_extension_names", {})
    best, best_len = names.get("", "_C"), -1
    for prefix, value in names.items():
        if prefix and path.startswith(prefix) and len(prefix) > best_len:
            best, best_len = value, len(prefix)
    return best


def _namespace(settings: dict, expr: str, path: str) -> str:
    """The block's namespace expression evaluated: TORCH_EXTENSION_NAME, CONCAT(a, b)."""
    e = expr.replace(" ", "").replace("TORCH_EXTENSION_NAME", _extension_name(settings, path))
    while True:
        m = re.search(r"CONCAT\(([^(),]*),([^(),]*)\)", e)
        if not m:
            break
        e = e[: m.start()] + m.group(1) + m.group(2) + e[m.end():]
    return e if re.match(r"^\w+$", e) else ""


def _reg_root(reg_roots: list[str], path: str) -> str:
    for root in reg_roots:
        if not root or path.startswith(root + "/"):
            return root
    return ""


def cpp_registrations(cpp) -> None:
    """Op and pybind symbols for every registration in C++ blocks, linked to the registered function.

    pybind11 classes (`py::class_<T>(m, "Name")`) become `mod.Name` symbols linked to T's
    constructors; their methods `mod.Name.f` link to `&T::f`, or are the caller of the calls in
    the lambda they bind (`.def("f", [](T& self) { self.F(); })`)."""
    regs = []
    for fi, f in enumerate(cpp.files):
        for reg in f["regs"]:
            kind, ns_expr, op, target, line, end, _owner = reg[:7]
            lam = reg[7] if len(reg) > 7 else -1
            ns = _namespace(cpp.config, ns_expr, f["path"])
            if ns:
                regs.append((kind != "torch_def", f["path"], line, fi, kind, ns, op, target, end, lam))
    # Definitions first, shallow files first: an op's symbol sits at its main schema.
    regs.sort(key=lambda r: (r[0], r[1].count("/"), r[1], r[2]))
    reg_roots = sorted({p.rsplit("/", 1)[0] if "/" in p else "" for _, p, *_ in regs}, key=len, reverse=True)
    targets: list[tuple[int, int, int, str]] = []
    for _, path, line, fi, kind, ns, op, target, end, lam in regs:
        if kind in ("pybind", "pybind_class"):
            name, table, skind = f"{ns}.{op}", cpp.pybind_symbols, "pybind"
        else:
            name, table, skind = f"torch.ops.{ns}.{op}", cpp.op_symbols, "torch_op"
        sid = table.get(name)
        if sid is None:
            # The symbol spans the whole registration statement (its schema string included).
            label = {"pybind": "pybind11", "pybind_class": "pybind11 class"}.get(kind, "torch op")
            sid = cpp.g.add(Symbol(0, name, op.rsplit(".", 1)[-1], skind, cpp.files[fi]["lang"], path, line, end,
                                   f"{label} {ns}.{op}"))
            table[name] = sid
        if kind == "pybind_class":
            _link_pybind_class(cpp, sid, fi, line, name, target)
        elif lam >= 0:
            cpp.local_sym[fi][lam] = sid   # the lambda's calls are the registered symbol's
        elif target:
            targets.append((sid, fi, line, target))
    for sid, fi, line, target in targets:
        _link_registration(cpp, reg_roots, sid, fi, line, target)


def _link_pybind_class(cpp, sid: int, fi: int, line: int, name: str, target: str) -> None:
    cname = cpp.lookup_class(target, "", "", fi)
    if not cname:
        return
    cpp.pybind_classes[name] = cname
    for ctor in cpp.members.get(cname, {}).get(cname.rsplit("::", 1)[-1], ()):
        cpp.g.edges.add((sid, ctor, line, "exact", "registration"))


def _link_registration(cpp, reg_roots: list[str], sid: int, fi: int, line: int, target: str) -> None:
    g = cpp.g
    canon = cpp.lookup(target, "", "", fi, "func")
    if canon and canon in cpp.by_name:
        dsts = [d for d in cpp.by_name[canon] if g.symbols[d].kind in _FUNC_KINDS]
        # Same-named CPU/CUDA twins: keep the ones built into this registration's extension
        # (the deepest directory holding a registration file that contains the definition).
        root = _reg_root(reg_roots, cpp.files[fi]["path"])
        own = [d for d in dsts if _reg_root(reg_roots, g.symbols[d].path) == root]
        for dst in own or dsts:
            g.edges.add((sid, dst, line, "exact", "registration"))
    else:
        short = target.rsplit("::", 1)[-1]
        cands = [s for s in cpp.short.get(short, ()) if g.symbols[s].name.endswith(target)]
        for dst in cands[:MAX_NAME_CANDIDATES]:
            g.edges.add((sid, dst, line, "guess", "registration"))


def python_ops(py) -> None:
    """Ops registered from Python (`torch.ops.<engine ns>.x`), linked to the function they run."""
    default_ns = py.config.get("python_op_namespace", "")
    for fi, f in enumerate(py.files):
        for _kind, ns, op, target, line, end, owner in f["regs"]:
            ns = ns or default_ns
            if not ns:
                continue  # the engine names no namespace for its Python-registered ops
            name = f"torch.ops.{ns}.{op}"
            sid = py.op_symbols.get(name)
            if sid is None:
                sid = py.g.add(Symbol(0, name, op, "torch_op", "py", f["path"], line, end,
                                      f"torch op {ns}.{op} (registered from Python)"))
                py.op_symbols[name] = sid
            ent, _ = py.eval_chain(target, fi, owner)
            if ent is not None and ent[0] == "sym":
                py.g.edges.add((sid, ent[1], line, "exact", "registration"))


def link_python_call(py, links: PythonLinks, callee: str, fi: int, src: int, line: int,
                     stage: str) -> bool:
    """Add the cross-language edge of one Python call, if it has one; True when it did.

    stage 'op' runs before ordinary resolution (`torch.ops.ns.op(...)` is never a Python symbol),
    stage 'pybind' after it failed (`mod.f()` where `mod` is a module only C++ defines)."""
    g = py.g
    if stage == "op":
        if links.pybind_classes and "." in callee and not callee.startswith("torch."):
            return _link_pybind_method(py, links, callee, fi, src, line)
        if not callee.startswith("torch.ops."):
            return False
        parts = callee.split(".")
        op = links.torch_ops.get(f"torch.ops.{parts[2]}.{parts[3]}") if len(parts) >= 4 else None
        if op is None:
            return False
        g.edges.add((src, op, line, "exact", "torch-op"))
        return True
    if not links.pybind:
        return False
    head, _, tail = callee.partition(".")
    b = py.ns.get(py.files[fi]["module"], {}).get(head)
    if b is None or b[0] != "import" or not tail:
        return False
    pb = links.pybind.get(f"{b[1]}.{tail}")
    if pb is None:
        return False
    g.edges.add((src, pb, line, "exact", "pybind"))
    return True


def _pybind_module_name(links: PythonLinks, target: str) -> str:
    """The pybind11 module an import names (`ksana_llm.libtorch_serving` -> `libtorch_serving`)."""
    modules = {n.split(".", 1)[0] for n in links.pybind}
    if target in modules:
        return target
    last = target.rsplit(".", 1)[-1]
    return last if last in modules else ""


def _link_pybind_method(py, links: PythonLinks, callee: str, fi: int, src: int, line: int) -> bool:
    """`self._serving.generate(...)` where `self._serving = libtorch_serving.Serving()` (or a
    variable or parameter of a pybind11 class type): the bound method's symbol."""
    recv, _, method = callee.rpartition(".")
    ctx = py.sym_ctx.get(src)
    if ctx is None or not recv:
        return False
    pyclass = _pybind_class_of(py, links, recv, fi, ctx[1], 0)
    pb = links.pybind.get(f"{pyclass}.{method}") if pyclass else None
    if pb is None:
        return False
    py.g.edges.add((src, pb, line, "type", "pybind"))
    return True


def _pybind_class_of(py, links: PythonLinks, recv: str, fi: int, di: int, depth: int) -> str:
    if depth > 4 or "(" in recv.replace("()", ""):
        return ""
    defs = py.files[fi]["defs"]
    parts = recv.split(".")
    texpr = None
    if len(parts) == 1:
        d_idx = di
        while d_idx > 0 and texpr is None:
            texpr = defs[d_idx]["vars"].get(parts[0])
            if texpr is None:
                texpr = next((("ann", t, d_idx) for n, t in defs[d_idx]["params"] if n == parts[0] and t), None)
            d_idx = defs[d_idx]["parent"]
    elif len(parts) == 2 and parts[0] == "self":
        d_idx = di
        while d_idx > 0 and defs[d_idx]["kind"] != "class":
            d_idx = defs[d_idx]["parent"]
        cid = py.local_sym[fi][d_idx] if d_idx > 0 else None
        for c in py.mro(cid) if cid is not None else ():
            cfi, cdi = py.class_ctx[c]
            texpr = py.files[cfi]["defs"][cdi]["attrs"].get(parts[1])
            if texpr is not None:
                fi = cfi
                break
    if texpr is None:
        return ""
    kind, text, ctx = texpr
    if kind == "ref":
        return _pybind_class_of(py, links, text, fi, ctx, depth + 1)
    if kind not in ("call", "ann"):
        return ""
    text = text.strip("'\" ").removesuffix("()")
    head, _, tail = text.partition(".")
    b = py.ns.get(py.files[fi]["module"], {}).get(head)
    if b is None or b[0] != "import" or not tail:
        return ""
    module = _pybind_module_name(links, b[1])
    name = f"{module}.{tail}" if module else ""
    return name if name in links.pybind_classes else ""
