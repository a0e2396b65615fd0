"""Python call resolution: imports and re-exports, MRO, self/cls/super(), inferred types, aliases.

An entity during resolution is one of:
  ('mod', module name)   a module
  ('sym', symbol id)     a function, method or class object
  ('inst', class id)     an instance of an indexed class
and each step of a chain says whether it needed type inference (label 'type') or not ('exact').
"""
from __future__ import annotations

import re
from typing import Any

from .graph import Graph, Symbol
from .python_calls import PyCalls, split_chain
from .python_scopes import PyScopes

_ANN_WRAPPERS = ("Optional", "typing.Optional", "ClassVar", "Final", "Annotated", "typing.ClassVar")
_MAX_DEPTH = 12


class PyResolver(PyScopes, PyCalls):
    """Symbols and lookups of one framework's Python files; calls are resolved by PyCalls."""

    def __init__(self, graph: Graph, files: list[dict[str, Any]], config: dict[str, Any]):
        self.g = graph
        self.files = files
        self.config = config
        self.modules: dict[str, int] = {f["module"]: i for i, f in enumerate(files)}
        self.local_sym: list[list[int | None]] = []       # file idx -> def idx -> symbol id
        self.ns: dict[str, dict[str, tuple]] = {}         # module -> name -> binding
        self.stars: dict[str, list[str]] = {}
        self.members: dict[int, dict[str, int]] = {}      # class id -> name -> symbol id
        self.class_ctx: dict[int, tuple[int, int]] = {}   # class id -> (file idx, def idx)
        self.bases: dict[int, list[int]] = {}
        self.unresolved_bases: dict[int, list[str]] = {}
        self.subclasses: dict[int, list[int]] = {}
        self.sym_ctx: dict[int, tuple[int, int]] = {}
        self.methods_by_name: dict[str, list[int]] = {}
        self._mro: dict[int, list[int]] = {}
        self._member_cache: dict[tuple[str, str], Any] = {}
        self._in_progress: set[tuple[str, str]] = set()
        self._cycle_hits = 0
        self._ann_cache: dict[tuple[int, str], Any] = {}
        self._children: dict[int, dict[int, list[int]]] = {}
        self.op_symbols: dict[str, int] = {}
        self.ns_pos: dict[str, dict[str, int]] = {}       # module -> name -> position of its binding
        self.local_kinds: dict[tuple[int, int], dict[str, set]] = {}   # (file, def) -> name -> how bound
        self.flow = None                                  # python_flow.Flow, once calls are resolved

    def release(self) -> None:
        """Drop every table once the graph is made, breaking the value flow's cycles (its hooks
        are closures over it), so that reference counting frees them (see analyzer/gcpause.py)."""
        if self.flow is not None:
            self.flow.release()
        vars(self).clear()

    # ---------------------------------------------------------------- symbols
    def build_symbols(self) -> None:
        g = self.g
        for fi, f in enumerate(self.files):
            module = f["module"]
            ids: list[int | None] = []
            binding: dict[str, tuple] = {}
            for di, d in enumerate(f["defs"]):
                if d["kind"] == "module":
                    name, kind = module, "module"
                else:
                    name, kind = f"{module}.{d['qual']}", d["kind"]
                parent = None
                if kind == "method":
                    parent = ids[d["parent"]]
                sid = g.add(Symbol(
                    0, name, d["name"], kind, "py", f["path"], d["line"], d["end"], d["sig"],
                    d["doc"], ",".join(d["flags"]), parent,
                ))
                ids.append(sid)
                self.sym_ctx[sid] = (fi, di)
                if d["parent"] == 0 and kind != "lambda":
                    binding[d["name"]] = ("sym", sid)
                if kind == "class":
                    self.members[sid] = {}
                    self.class_ctx[sid] = (fi, di)
                if kind != "lambda" and d["parent"] > 0 and f["defs"][d["parent"]]["kind"] == "class":
                    cls = ids[d["parent"]]
                    # A later definition (property setter, overload implementation) wins, as at run time,
                    # except that @overload stubs never hide the implementation.
                    if "overload" not in d["flags"] or d["name"] not in self.members[cls]:
                        self.members[cls][d["name"]] = sid
                    if kind == "method":
                        self.methods_by_name.setdefault(d["name"], []).append(sid)
            self.local_sym.append(ids)
            if f.get("flow"):
                self._module_bindings(fi, f, ids, binding)
            else:
                for local, target, is_star in f["imports"]:
                    if is_star:
                        self.stars.setdefault(module, []).append((0, target))
                    elif local not in binding:
                        binding[local] = ("import", target)
                for name, texpr in f["defs"][0]["attrs"].items():
                    binding.setdefault(name, ("var", texpr))
            self.ns[module] = binding
        # Bases need every module's bindings first.
        for cid, (fi, di) in self.class_ctx.items():
            resolved, unresolved = [], []
            for base in self.files[fi]["defs"][di]["bases"]:
                ent, _ = self.eval_chain(base.split("[", 1)[0], fi, 0)
                if ent is not None and ent[0] == "sym" and ent[1] in self.members:
                    resolved.append(ent[1])
                else:
                    unresolved.append(base)
            self.bases[cid] = resolved
            self.unresolved_bases[cid] = unresolved
            for b in resolved:
                self.subclasses.setdefault(b, []).append(cid)
        # Names a package re-exports (`vllm.LLM`): lookups by those names find the symbol.
        for fi, f in enumerate(self.files):
            if not f["path"].endswith("__init__.py"):
                continue
            for local, b in self.ns[f["module"]].items():
                if b[0] == "import":
                    ent = self.module_member(f["module"], local)
                    if ent is not None and ent[0] == "sym":
                        self.g.aliases.add((f"{f['module']}.{local}", ent[1]))
        for cid in self.members:
            for name, sid in self.members[cid].items():
                if self.g.symbols[sid].kind != "method":
                    continue
                for anc in self.mro(cid)[1:]:
                    other = self.members[anc].get(name)
                    if other is not None and self.g.symbols[other].kind == "method":
                        self.g.overrides.add((sid, other))
                        break

    def all_subclasses(self, cid: int) -> list[int]:
        out, stack, seen = [], list(self.subclasses.get(cid, ())), set()
        while stack:
            c = stack.pop()
            if c in seen:
                continue
            seen.add(c)
            out.append(c)
            stack.extend(self.subclasses.get(c, ()))
        return sorted(out)

    # ---------------------------------------------------------------- lookups
    def module_member(self, module: str, name: str, depth: int = 0) -> Any:
        """What `module.name` denotes, following imports, re-exports and star imports.

        Import cycles are cut by an in-progress guard; a result computed while some guard was
        hit is not cached (it may be a cycle's partial answer), so the answer never depends on
        which name happened to be looked up first.
        """
        key = (module, name)
        if key in self._member_cache:
            return self._member_cache[key]
        if key in self._in_progress:
            self._cycle_hits += 1
            return None
        self._in_progress.add(key)
        hits_before = self._cycle_hits
        try:
            result = self._module_member(module, name, depth)
        finally:
            self._in_progress.discard(key)
        if self._cycle_hits == hits_before:
            self._member_cache[key] = result
        return result

    def _module_member(self, module: str, name: str, depth: int) -> Any:
        result = None
        if depth < _MAX_DEPTH:
            b = self.ns.get(module, {}).get(name)
            bpos = self.ns_pos.get(module, {}).get(name, -1) if b is not None else -1
            for pos, src in reversed(self.stars.get(module, ())):
                if pos > bpos and not name.startswith("_"):
                    result = self.module_member(src, name, depth + 1)
                    if result is not None:
                        return result
            if b is not None:
                if b[0] == "sym":
                    result = b
                elif b[0] == "import":
                    result = self.resolve_dotted(b[1], depth + 1)
                elif b[0] == "var":
                    texpr = b[1]
                    if texpr is not None and texpr[0] == "ref":
                        result = self.eval_chain(texpr[1], self.modules[module], 0, depth + 1)[0]
            if result is None and f"{module}.{name}" in self.modules:
                result = ("mod", f"{module}.{name}")
        return result

    def resolve_dotted(self, dotted: str, depth: int = 0) -> Any:
        """An absolute dotted name: the longest module prefix, then members."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            mod = ".".join(parts[:cut])
            if mod in self.modules:
                ent: Any = ("mod", mod)
                for p in parts[cut:]:
                    ent = self.attr(ent, p, depth + 1)[0] if ent is not None else None
                return ent
        return None

    def attr(self, ent: Any, name: str, depth: int = 0) -> tuple[Any, bool]:
        """(entity of ent.name, whether type inference was needed)."""
        if ent is None or depth > _MAX_DEPTH:
            return None, False
        kind, val = ent
        if kind == "mod":
            return self.module_member(val, name, depth + 1), False
        if kind == "sym" and val in self.members or kind == "inst":
            for c in self.mro(val):
                sid = self.members[c].get(name)
                if sid is not None:
                    sym = self.g.symbols[sid]
                    if kind == "inst" and "property" in sym.flags:
                        return self.returns(sid, depth + 1), True
                    return ("sym", sid), False
                texpr = self.files[self.class_ctx[c][0]]["defs"][self.class_ctx[c][1]]["attrs"].get(name)
                if texpr is not None:
                    fi = self.class_ctx[c][0]
                    return self.eval_texpr(texpr, fi, depth + 1), True
        return None, False

    def returns(self, sid: int, depth: int = 0) -> Any:
        """Instance a call to function/class `sid` returns, where visible."""
        sym = self.g.symbols[sid]
        if sym.kind == "class":
            return ("inst", sid)
        fi, di = self.sym_ctx[sid]
        ret = self.files[fi]["defs"][di]["ret"]
        if not ret:
            return None
        return self.eval_ann(ret, fi, di, depth + 1)

    def eval_ann(self, text: str, fi: int, ctx: int, depth: int = 0) -> Any:
        key = (fi, text)
        if key in self._ann_cache:
            return self._ann_cache[key]
        t = text.strip().strip("'\"").replace(" ", "")
        for _ in range(3):
            m = re.match(r"^([\w.]+)\[(.*)\]$", t)
            if m and m.group(1) in _ANN_WRAPPERS:
                t = m.group(2).split(",")[0]
                continue
            if m and m.group(1) in ("Union", "typing.Union"):
                parts = [p for p in m.group(2).split(",") if p != "None"]
                t = parts[0] if len(parts) == 1 else ""
                continue
            break
        if "|" in t:
            parts = [p for p in t.split("|") if p != "None"]
            t = parts[0] if len(parts) == 1 else ""
        result = None
        if t and re.match(r"^[\w.]+$", t):
            ent, _ = self.eval_chain(t, fi, 0, depth + 1)
            if ent is not None and ent[0] == "sym" and ent[1] in self.members:
                result = ("inst", ent[1])
        self._ann_cache[key] = result
        return result

    def eval_texpr(self, texpr: tuple, fi: int, depth: int = 0) -> Any:
        kind, text, ctx = texpr
        if depth > _MAX_DEPTH:
            return None
        if kind == "ann":
            return self.eval_ann(text, fi, ctx, depth + 1)
        ent, _ = self.eval_chain(text, fi, ctx, depth + 1)
        if kind == "call":
            if ent is not None and ent[0] == "sym":
                return self.returns(ent[1], depth + 1)
            return None
        return ent

    def lookup_name(self, name: str, fi: int, di: int, depth: int) -> tuple[Any, bool]:
        """A name read in def `di`: a typed local or parameter, `self`/`cls`, a nested def, a local
        import; a name the function binds otherwise is unknown here (the value-flow solver's);
        else the module's binding. Class bodies are not scopes of the functions inside them."""
        defs = self.files[fi]["defs"]
        ids = self.local_sym[fi]
        d_idx = di
        while d_idx > 0:
            d = defs[d_idx]
            if d["kind"] in ("function", "method", "lambda"):
                if name in d["vars"]:
                    texpr = d["vars"][name]
                    return self.eval_texpr(texpr, fi, depth + 1), texpr[0] != "ref"
                params = d["params"]
                if d["kind"] == "method" and params and name == params[0][0] and "staticmethod" not in d["flags"]:
                    cls = ids[d["parent"]]
                    return (("sym", cls) if "classmethod" in d["flags"] else ("inst", cls)), False
                kinds = self.local_kinds.get((fi, d_idx), {}).get(name)
                if kinds is None and any(p[0] == name for p in params):
                    return None, False
                if kinds:
                    if len(kinds) != 1:
                        return None, False
                    (how, what), = kinds
                    if how == "def":
                        return ("sym", ids[what]), False
                    if how == "imp":
                        return self.resolve_dotted(what, depth + 1), False
                    return None, False
            d_idx = d["parent"]
        return self.module_member(self.files[fi]["module"], name, depth + 1), False

    def children(self, fi: int, di: int) -> list[int]:
        cache = self._children.get(fi)
        if cache is None:
            cache = {}
            for j, d in enumerate(self.files[fi]["defs"]):
                cache.setdefault(d["parent"], []).append(j)
            self._children[fi] = cache
        return cache.get(di, [])

    def eval_chain(self, callee: str, fi: int, di: int, depth: int = 0) -> tuple[Any, bool]:
        """Entity a dotted chain denotes in def `di` of file `fi`, and whether types were inferred."""
        segs = split_chain(callee)
        if segs is None or depth > _MAX_DEPTH:
            return None, False
        head, suffix = segs[0]
        inferred = False
        if head == "super" and suffix == "()":
            ent = self._super(fi, di)
            suffix = ""
        else:
            ent, inferred = self.lookup_name(head, fi, di, depth + 1)
        inferred = inferred or self._returns_function_value(ent, suffix)
        ent = self._apply_suffix(ent, suffix, depth)
        for name, suffix in segs[1:]:
            ent, inf = self.attr(ent, name, depth + 1)
            inferred = inferred or inf or self._returns_function_value(ent, suffix)
            ent = self._apply_suffix(ent, suffix, depth)
            if ent is None:
                return None, inferred
        return ent, inferred

    def _returns_function_value(self, ent: Any, suffix: str) -> bool:
        """A call of a function (not a class) types its result from a return annotation."""
        return bool(suffix) and ent is not None and ent[0] == "sym" and ent[1] not in self.members

    def _apply_suffix(self, ent: Any, suffix: str, depth: int) -> Any:
        for i in range(0, len(suffix), 2):
            if ent is None:
                return None
            if suffix[i : i + 2] == "()":
                ent = self.returns(ent[1], depth + 1) if ent[0] == "sym" else None
            else:
                ent = None
        return ent

    def _super(self, fi: int, di: int) -> Any:
        defs = self.files[fi]["defs"]
        d_idx = di
        while d_idx > 0 and defs[d_idx]["kind"] != "method":
            d_idx = defs[d_idx]["parent"]
        if d_idx <= 0:
            return None
        cls = self.local_sym[fi][defs[d_idx]["parent"]]
        # Instance whose lookup starts after `cls` in the MRO: model it as the first base.
        mro = self.mro(cls)
        return ("super", mro[1:]) if len(mro) > 1 else None
