"""C++/CUDA symbols and name lookup: canonical names from namespaces and classes, out-of-class
definitions attached to their class, declarations merged into definitions, bases and overrides,
`using` declarations and directives, namespace and type aliases. Calls: cpp_calls.py.
"""
from __future__ import annotations

from typing import Any

from .cpp_calls import CppCalls
from .cpp_types import element_type, split_chain, type_name  # noqa: F401  (re-exported)
from .graph import Graph, Symbol

_FUNC_KINDS = ("function", "method", "kernel", "device")
_MAX_DEPTH = 8


class CppResolver(CppCalls):
    """Symbols and lookups of one framework's C++/CUDA files; calls are resolved by CppCalls."""

    def __init__(self, graph: Graph, files: list[dict[str, Any]], config: dict[str, Any]):
        self.g = graph
        self.files = files
        self.config = config
        self.local_sym: list[list[int | None]] = []
        self.by_name: dict[str, list[int]] = {}        # canonical -> symbols (overloads, decls)
        self.classes: dict[str, list[int]] = {}        # canonical -> class symbols
        self.members: dict[str, dict[str, list[int]]] = {}   # class canonical -> name -> methods
        self.attrs: dict[str, dict[str, tuple[str, str]]] = {}  # class -> field -> (type, ns)
        self.bases: dict[str, list[str]] = {}
        self.subclasses: dict[str, list[str]] = {}
        self.namespaces: set[str] = set()
        self.short: dict[str, list[int]] = {}          # short name -> function/method symbols
        self.macros: dict[str, list[tuple[str, bool]]] = {}
        self.aliases: dict[str, str] = {}              # canonical alias -> aliased type text
        self.file_usings: list[list[tuple[str, str]]] = []
        self.sym_info: dict[int, tuple[int, int, str]] = {}  # sym -> (file, def, owning class)
        self.op_symbols: dict[str, int] = {}
        self.pybind_symbols: dict[str, int] = {}
        self._lookup_cache: dict[tuple, Any] = {}

    # ---------------------------------------------------------------- symbols
    def build_symbols(self) -> None:
        """Classes, then bases, then functions (canonical names, declarations merged), then overrides."""
        pending = self._collect_classes()
        self._resolve_bases()
        entries = [self._function_entry(fi, di) for fi, di in pending]
        entries.sort(key=lambda e: ("decl" in self.files[e[3]]["defs"][e[4]]["flags"],
                                    self.files[e[3]]["path"], self.files[e[3]]["defs"][e[4]]["line"]))
        self._add_functions(entries)
        self._overrides()

    def _collect_classes(self) -> list[tuple[int, int]]:
        """Per-file tables (usings, macros, aliases), namespaces and class symbols; returns the
        (file, def) of every function left for later."""
        g = self.g
        pending: list[tuple[int, int]] = []
        for fi, f in enumerate(self.files):
            self.local_sym.append([None] * len(f["defs"]))
            self.file_usings.append([(k, t) for _, k, t in f["usings"]])
            for name, line, calls in f["macros"]:
                self.macros.setdefault(name, calls)
            for scope, name, ttext in f["aliases"]:
                prefix = f["defs"][scope]["qual"] if scope >= 0 else ""
                self.aliases.setdefault(f"{prefix}::{name}" if prefix else name, ttext)
            for di, d in enumerate(f["defs"]):
                kind = d["kind"]
                if kind == "namespace":
                    parts = d["qual"].split("::")
                    for i in range(1, len(parts) + 1):
                        self.namespaces.add("::".join(parts[:i]))
                elif kind in ("class", "struct") and d["name"]:
                    sid = g.add(Symbol(0, d["qual"], d["name"].rsplit("::", 1)[-1], kind,
                                       f["lang"], f["path"], d["line"], d["end"], d["sig"], d["doc"]))
                    self.local_sym[fi][di] = sid
                    self.sym_info[sid] = (fi, di, "")
                    self.classes.setdefault(d["qual"], []).append(sid)
                    self.by_name.setdefault(d["qual"], []).append(sid)
                    self.members.setdefault(d["qual"], {})
                    attrs = self.attrs.setdefault(d["qual"], {})
                    for aname, texpr in d["attrs"].items():
                        attrs.setdefault(aname, (texpr[1], d["ns"]))
                    if d["bases"]:
                        self.bases.setdefault(d["qual"], [])
                elif kind in _FUNC_KINDS:
                    pending.append((fi, di))
        return pending

    def _resolve_bases(self) -> None:
        """Bases, resolved in each class's own namespace."""
        for cname, sids in self.classes.items():
            fi, di, _ = self.sym_info[sids[0]]
            d = self.files[fi]["defs"][di]
            resolved = []
            for b in d["bases"]:
                target = self.lookup_class(b, d["ns"], d["qual"], fi)
                if target and target != cname:
                    resolved.append(target)
            self.bases[cname] = resolved
            for b in resolved:
                self.subclasses.setdefault(b, []).append(cname)

    def _function_entry(self, fi: int, di: int) -> tuple[str, str, str, int, int]:
        """(canonical name, kind, owning class, file, def): an out-of-class `Foo::Bar` belongs to the
        class `Foo` visible from its namespace."""
        f = self.files[fi]
        d = f["defs"][di]
        cls = ""
        parent = d["parent"]
        pkind = f["defs"][parent]["kind"] if parent >= 0 else ""
        if pkind in ("class", "struct"):
            cls = f["defs"][parent]["qual"]
            canon = f"{cls}::{d['name']}"
        elif "::" in d["qual"]:
            written = d["qual"]
            scope_written = written.rsplit("::", 1)[0]
            # d['qual'] is namespace-prefixed; the part as written follows the namespace.
            ns = d["ns"]
            as_written = written[len(ns) + 2:] if ns and written.startswith(ns + "::") else written
            owner = as_written.rsplit("::", 1)[0] if "::" in as_written else ""
            cls = self.lookup_class(owner, ns, "", fi) if owner else ""
            canon = f"{cls}::{d['name']}" if cls else scope_written + "::" + d["name"]
        else:
            canon = d["qual"]
        kind = d["kind"]
        if cls and kind == "function":
            kind = "method"
        return canon, kind, cls, fi, di

    def _add_functions(self, entries: list) -> None:
        """Function symbols; a declaration with the same (name, arity) as a definition lends it
        its flags (virtual, override, pure), its declaration place and its doc comment."""
        g = self.g
        merged: dict[tuple[str, int], int] = {}
        for canon, kind, cls, fi, di in entries:
            f = self.files[fi]
            d = f["defs"][di]
            key = (canon, d["nparams"][1])
            if "decl" in d["flags"] and key in merged:
                self._merge_declaration(merged[key], f, d)
                self.local_sym[fi][di] = merged[key]
                continue
            sid = g.add(Symbol(0, canon, d["name"], kind, f["lang"], f["path"], d["line"], d["end"],
                               d["sig"], d["doc"], ",".join(d["flags"]),
                               self.classes[cls][0] if cls in self.classes else None))
            self.local_sym[fi][di] = sid
            self.sym_info[sid] = (fi, di, cls)
            merged.setdefault(key, sid)
            self.by_name.setdefault(canon, []).append(sid)
            self.short.setdefault(d["name"], []).append(sid)
            if cls:
                self.members.setdefault(cls, {}).setdefault(d["name"], []).append(sid)

    def _merge_declaration(self, sid: int, f: dict, d: dict) -> None:
        sym = self.g.symbols[sid]
        extra = [fl for fl in d["flags"] if fl != "decl" and fl not in sym.flags.split(",")]
        if extra:
            sym.flags = ",".join(sorted(set(filter(None, sym.flags.split(",") + extra))))
        if not sym.decl_path:
            sym.decl_path, sym.decl_line = f["path"], d["line"]
        if not sym.doc and d["doc"]:
            sym.doc = d["doc"]

    def _overrides(self) -> None:
        """Overrides: the nearest base defining a method of that name and arity."""
        for cname, members in self.members.items():
            for mname, sids in members.items():
                for sid in sids:
                    for other in self._find_in_bases(cname, mname, self._arity(sid)):
                        self.g.overrides.add((sid, other))

    def _arity(self, sid: int) -> tuple[int, int]:
        fi, di, _ = self.sym_info[sid]
        return tuple(self.files[fi]["defs"][di]["nparams"])

    def _find_in_bases(self, cname: str, mname: str, arity) -> list[int]:
        seen = {cname}
        frontier = list(self.bases.get(cname, ()))
        while frontier:
            nxt = []
            for b in frontier:
                if b in seen:
                    continue
                seen.add(b)
                cands = [s for s in self.members.get(b, {}).get(mname, ()) if self._arity(s) == arity]
                if cands:
                    return cands
                nxt.extend(self.bases.get(b, ()))
            frontier = nxt
        return []

    # ---------------------------------------------------------------- lookups
    def _scopes(self, ns: str) -> list[str]:
        parts = ns.split("::") if ns else []
        return ["::".join(parts[:i]) for i in range(len(parts), -1, -1)]

    def lookup(self, name: str, ns: str, cls: str, fi: int, want: str = "any") -> str:
        """Canonical name `name` denotes from namespace `ns` (inside class `cls`), or ''.

        want: 'class' for types, 'func' for callables, 'any' for either.
        """
        key = (name, ns, cls, fi, want)
        hit = self._lookup_cache.get(key)
        if hit is not None:
            return hit
        result = self._lookup(name, ns, cls, fi, want, 0)
        self._lookup_cache[key] = result
        return result

    def _exists(self, canon: str, want: str) -> bool:
        if want == "class":
            return canon in self.classes or canon in self.aliases
        if want == "func":
            return canon in self.by_name and canon not in self.classes or canon in self.classes
        return canon in self.by_name or canon in self.aliases

    def _lookup(self, name: str, ns: str, cls: str, fi: int, want: str, depth: int) -> str:
        if depth > _MAX_DEPTH or not name:
            return ""
        head = name.split("::", 1)[0]
        for kind, text in self.file_usings[fi]:
            if kind == "nsalias":
                alias, _, target = text.partition("=")
                if head == alias:
                    name = target + name[len(alias):]
                    break
        # Class scope (nested types, members) then enclosing class chain.
        c = cls
        while c:
            cand = f"{c}::{name}"
            if self._exists(cand, want):
                return self._dealias(cand, want, fi, depth)
            for base in self.bases.get(c, ()):
                cand = f"{base}::{name}"
                if self._exists(cand, want):
                    return self._dealias(cand, want, fi, depth)
            c = c.rsplit("::", 1)[0] if "::" in c else ""
        for scope in self._scopes(ns):
            cand = f"{scope}::{name}" if scope else name
            if self._exists(cand, want):
                return self._dealias(cand, want, fi, depth)
        for kind, text in self.file_usings[fi]:
            if kind == "namespace":
                for scope in self._scopes(text.lstrip(":")):
                    if not scope:
                        continue
                    cand = f"{scope}::{name}"
                    if self._exists(cand, want):
                        return self._dealias(cand, want, fi, depth)
            elif kind == "decl" and text.lstrip(":").rsplit("::", 1)[-1] == head:
                cand = text.lstrip(":") + name[len(head):]
                if self._exists(cand, want):
                    return self._dealias(cand, want, fi, depth)
        return ""

    def _dealias(self, canon: str, want: str, fi: int, depth: int) -> str:
        if canon in self.aliases and canon not in self.classes:
            target = type_name(self.aliases[canon])
            if not target:
                return ""
            scope = canon.rsplit("::", 1)[0] if "::" in canon else ""
            return self._lookup(target, scope, "", fi, want, depth + 1) or ""
        return canon

    def lookup_class(self, name: str, ns: str, cls: str, fi: int) -> str:
        t = type_name(name)
        if not t:
            return ""
        found = self.lookup(t, ns, cls, fi, "class")
        return found if found in self.classes else ""

    def methods(self, cname: str, mname: str) -> tuple[list[int], str]:
        """Methods named `mname` visible in class `cname` (own, else nearest bases) and their class."""
        seen = set()
        frontier = [cname]
        while frontier:
            nxt = []
            for c in frontier:
                if c in seen:
                    continue
                seen.add(c)
                found = self.members.get(c, {}).get(mname)
                if found:
                    return found, c
                nxt.extend(self.bases.get(c, ()))
            frontier = nxt
        return [], ""

    def field_type(self, cname: str, fname: str, subscript: bool = False) -> str:
        """Class of field `fname` seen from class `cname` (or of its elements, for `field[i]`)."""
        seen = set()
        frontier = [cname]
        while frontier:
            nxt = []
            for c in frontier:
                if c in seen:
                    continue
                seen.add(c)
                a = self.attrs.get(c, {}).get(fname)
                if a is not None:
                    text = element_type(a[0]) if subscript else a[0]
                    return self.lookup_class(text, a[1], c, self._class_file(c))
                nxt.extend(self.bases.get(c, ()))
            frontier = nxt
        return ""

    def _class_file(self, cname: str) -> int:
        return self.sym_info[self.classes[cname][0]][0]

    def return_class(self, sid: int) -> str:
        fi, di, cls = self.sym_info[sid]
        d = self.files[fi]["defs"][di]
        if self.g.symbols[sid].kind == "class":
            return self.g.symbols[sid].name
        return self.lookup_class(d["ret"] or "", d["ns"], cls, fi)

    def pick_arity(self, sids: list[int], nargs: int) -> list[int]:
        fit = [s for s in sids if self._fits(s, nargs)]
        return fit or sids

    def _fits(self, sid: int, nargs: int) -> bool:
        if sid not in self.sym_info:
            return True
        lo, hi = self._arity(sid)
        return lo <= nargs and (hi == -1 or nargs <= hi) or lo == hi == 0 and nargs == 0

    # ---------------------------------------------------------------- calls
