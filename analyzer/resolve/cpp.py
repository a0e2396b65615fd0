"""C++/CUDA symbols: canonical names from namespaces and classes, out-of-class definitions attached
to their class, declarations merged into definitions, gtest bodies as members of their fixture,
bases (template mixins instantiated), overrides, `using` declarations and directives, namespace,
type and value aliases. Lookups: cpp_lookup.py; types: cpp_eval.py; calls: cpp_calls.py.
"""
from __future__ import annotations

from typing import Any

from .cpp_calls import CppCalls
from .cpp_eval import CppEval
from .cpp_lookup import CppLookup
from .cpp_macros import CppMacros
from .cpp_overrides import CppOverrides
from .cpp_values import CppValues
from .cpp_types import element_type, split_chain, type_name  # noqa: F401  (re-exported)
from .graph import Graph, Symbol

_FUNC_KINDS = ("function", "method", "kernel", "device")


class CppResolver(CppLookup, CppEval, CppValues, CppOverrides, CppMacros, CppCalls):
    """Symbols and lookups of one framework's C++/CUDA files; calls are resolved by CppCalls."""

    def __init__(self, graph: Graph, files: list[dict[str, Any]], config: dict[str, Any]):
        self.g = graph
        self.files = files
        self.config = config
        self.defines: dict[str, str] = dict(config.get("defines", {}))
        self.launch_functions: dict[str, int] = dict(config.get("launch_functions", {}))
        self.local_sym: list[list[int | None]] = []
        self.by_name: dict[str, list[int]] = {}        # canonical -> symbols (overloads, decls)
        self.classes: dict[str, list[int]] = {}        # canonical -> class symbols
        self.members: dict[str, dict[str, list[int]]] = {}   # class canonical -> name -> methods
        self.attrs: dict[str, dict[str, tuple[str, str]]] = {}  # class -> field -> (type, ns)
        self.bases: dict[str, list[str]] = {}
        self.base_args: dict[str, list[tuple[str, list[str]]]] = {}  # class -> [(base, template args)]
        self.subclasses: dict[str, list[str]] = {}
        self.tparams: dict[str, list[str]] = {}        # class template -> its parameters
        self.short: dict[str, list[int]] = {}          # short name -> function/method symbols
        self.macros: dict[str, list[tuple[str, list, list]]] = {}  # name -> [(path, calls, parameters)]
        self.aliases: dict[str, list[tuple[str, str, str | None]]] = {}   # alias -> [(text, scope, spec)]
        self.value_aliases: dict[str, list[tuple[str, str, None]]] = {}
        self.by_last: dict[str, set[str]] = {}
        self.globals: dict[str, tuple[str, str, str, int]] = {}   # variable -> (kind, text, ns, file)
        self.decl_files: dict[int, set[str]] = {}      # function -> files declaring or defining it
        self.file_usings: list[list[tuple[str, str]]] = []
        self.sym_info: dict[int, tuple[int, int, str]] = {}  # sym -> (file, def, owning class)
        self.op_symbols: dict[str, int] = {}
        self.pybind_symbols: dict[str, int] = {}
        self.pybind_classes: dict[str, str] = {}       # `mod.Name` -> C++ class canonical
        self._lookup_cache: dict[tuple, Any] = {}
        self._find_cache: dict[tuple, str] = {}
        self._classes_cache: dict = {}
        self._expand_cache: dict = {}
        self._alt_cache: dict[int, tuple] = {}
        self._arity_cache: dict[int, tuple[int, int]] = {}
        self._desc_cache: dict[str, list] = {}
        self._base_ctx: dict[str, list[tuple[str, int]]] = {}
        self._alias_fi: dict[str, int] = {}            # alias -> file it is defined in
        self.decl_info: dict[int, tuple[int, int]] = {}   # symbol -> (file, def) of its declaration


    def release(self) -> None:
        """Drop every table once the graph is made (see analyzer/gcpause.py: no cyclic garbage)."""
        vars(self).clear()
    def _clear_caches(self) -> None:
        """Lookups made while the tables grew are stale once they are complete."""
        self._lookup_cache.clear()
        self._find_cache.clear()
        self._desc_cache.clear()
        self._classes_cache.clear()
        self._expand_cache.clear()

    # ---------------------------------------------------------------- symbols
    def build_symbols(self) -> None:
        """Classes, then bases, then functions (canonical names, declarations merged), then overrides."""
        pending = self._collect_classes()
        self._resolve_bases()
        self._clear_caches()
        entries = [self._function_entry(fi, di) for fi, di in pending]
        entries.sort(key=lambda e: ("decl" in self.files[e[3]]["defs"][e[4]]["flags"],
                                    self.files[e[3]]["path"], self.files[e[3]]["defs"][e[4]]["line"]))
        self._add_functions(entries)
        self._clear_caches()
        self.find_overrides()

    def _collect_classes(self) -> list[tuple[int, int]]:
        """Per-file tables (usings, macros, aliases) and class symbols; returns the (file, def) of
        every function left for later."""
        pending: list[tuple[int, int]] = []
        for fi, f in enumerate(self.files):
            self.local_sym.append([None] * len(f["defs"]))
            self.file_usings.append([(k, t) for _, k, t in f["usings"]])
            for name, _line, calls, *params in f["macros"]:
                self.macros.setdefault(name, []).append((f["path"], calls, params[0] if params else []))
            for alias in f["aliases"]:
                self._add_alias(fi, *alias)
            for scope, name, kind, text in f.get("globals", ()):
                prefix = f["defs"][scope]["qual"] if scope >= 0 else ""
                canon = f"{prefix}::{name}" if prefix else name
                if canon not in self.globals:
                    self.globals[canon] = (kind, text, prefix, fi)
                    self.note_name(canon)
            for di, d in enumerate(f["defs"]):
                kind = d["kind"]
                if kind in ("class", "struct") and d["name"]:
                    self._add_class(fi, di, d)
                elif kind in _FUNC_KINDS:
                    pending.append((fi, di))
        return pending

    def _add_alias(self, fi: int, scope: int, name: str, text: str, kind: str = "type") -> None:
        sd = self.files[fi]["defs"][scope] if scope >= 0 else None
        prefix = sd["qual"] if sd is not None else ""
        canon = f"{prefix}::{name}" if prefix else name
        table = self.value_aliases if kind == "value" else self.aliases
        table.setdefault(canon, []).append((text, prefix, sd.get("spec") if sd is not None else None))
        self._alias_fi.setdefault(canon, fi)
        self.note_name(canon)

    def _add_class(self, fi: int, di: int, d: dict) -> None:
        f = self.files[fi]
        sid = self.g.add(Symbol(0, d["qual"], d["name"].rsplit("::", 1)[-1], d["kind"],
                                f["lang"], f["path"], d["line"], d["end"], d["sig"], d["doc"]))
        self.local_sym[fi][di] = sid
        self.sym_info[sid] = (fi, di, "")
        self.classes.setdefault(d["qual"], []).append(sid)
        self.by_name.setdefault(d["qual"], []).append(sid)
        self.note_name(d["qual"])
        self.members.setdefault(d["qual"], {})
        if d.get("tparams") and not d.get("spec"):
            self.tparams.setdefault(d["qual"], d["tparams"])
        attrs = self.attrs.setdefault(d["qual"], {})
        for aname, texpr in d["attrs"].items():
            attrs.setdefault(aname, (texpr[1], d["ns"]))

    def _function_entry(self, fi: int, di: int) -> tuple[str, str, str, int, int, str]:
        """(canonical name, kind, class its body sees as `this`, file, def, class it is a member
        of): an out-of-class `Foo::Bar` belongs to the class `Foo` visible from its namespace;
        a `TEST_F(Fixture, Case)` body sees the fixture's members but is no member of it."""
        f = self.files[fi]
        d = f["defs"][di]
        cls = ""
        parent = d["parent"]
        pkind = f["defs"][parent]["kind"] if parent >= 0 else ""
        if pkind in ("class", "struct"):
            cls = f["defs"][parent]["qual"]
            canon = f"{cls}::{d['name']}"
        elif "::" in d["qual"] and not d["qual"].endswith(")"):
            written = d["qual"]
            ns = d["ns"]
            as_written = written[len(ns) + 2:] if ns and written.startswith(ns + "::") else written
            owner = as_written[: len(as_written) - len(d["name"]) - 2] if as_written.endswith("::" + d["name"]) else ""
            cls = self.lookup_class(owner, ns, "", fi) if owner else ""
            canon = f"{cls}::{d['name']}" if cls else written
        else:
            canon = d["qual"]
        kind = d["kind"]
        if cls and kind == "function":
            kind = "method"
        if d.get("fixture"):
            return canon, kind, self.lookup_class(d["fixture"], d["ns"], "", fi), fi, di, ""
        return canon, kind, cls, fi, di, cls

    def _add_functions(self, entries: list) -> None:
        """Function symbols; a declaration with the same (name, arity) as a definition lends it
        its flags (virtual, override, pure), its declaration place and its doc comment."""
        g = self.g
        merged: dict[tuple[str, int, tuple | None], list[int]] = {}
        for canon, kind, cls, fi, di, member_of in entries:
            f = self.files[fi]
            d = f["defs"][di]
            # Default arguments appear in declarations only: merge by the largest arity.
            key, loose = (canon, d["nparams"][1], self._param_key(d)), (canon, d["nparams"][1], None)
            if "decl" in d["flags"] and (key in merged or loose in merged):
                sid = self._best_definition(merged.get(key) or merged[loose], f["path"])
                self._merge_declaration(sid, f, d)
                self.decl_info.setdefault(sid, (fi, di))
                self.decl_files.setdefault(sid, set()).add(f["path"])
                self.local_sym[fi][di] = sid
                continue
            sid = g.add(Symbol(0, canon, d["name"], kind, f["lang"], f["path"], d["line"], d["end"],
                               d["sig"], d["doc"], ",".join(d["flags"]),
                               self.classes[member_of][0] if member_of in self.classes else None))
            self.local_sym[fi][di] = sid
            self.sym_info[sid] = (fi, di, cls)
            merged.setdefault(key, []).append(sid)
            merged.setdefault(loose, []).append(sid)
            self.decl_files.setdefault(sid, set()).add(f["path"])
            self.by_name.setdefault(canon, []).append(sid)
            self.note_name(canon)
            self.short.setdefault(d["name"], []).append(sid)
            if member_of:
                self.members.setdefault(member_of, {}).setdefault(d["name"], []).append(sid)

    def _best_definition(self, sids: list[int], decl_path: str) -> int:
        """The definition a declaration belongs to: in the source beside its header (`x.h` ->
        `x.cpp`), else in its folder, else outside test code (a test's mock of a declared
        function is not the function), else the first."""
        if len(sids) == 1:
            return sids[0]
        from fnmatch import fnmatch

        stem = decl_path.rsplit("/", 1)[-1].split(".", 1)[0]
        folder = decl_path.rsplit("/", 1)[0] if "/" in decl_path else ""
        tests = self.config.get("test_paths", ())

        def rank(sid: int):
            path = self.g.symbols[sid].path
            name = path.rsplit("/", 1)[-1].split(".", 1)[0]
            in_test = any(fnmatch(path, pat) or fnmatch("/" + path, pat) for pat in tests)
            return (name != stem, not path.startswith(folder + "/") if folder else True, in_test)

        return min(sids, key=rank)

    @staticmethod
    def _param_key(d: dict) -> tuple:
        """Parameter types as written (qualifiers and spaces dropped): overloads of one arity
        stay apart, and a declaration merges into the definition with the same parameters."""
        return tuple(type_name(t) or t.replace(" ", "") for _, t in d["params"])

    def _merge_declaration(self, sid: int, f: dict, d: dict) -> None:
        sym = self.g.symbols[sid]
        extra = [fl for fl in d["flags"] if fl != "decl" and fl not in sym.flags.split(",")]
        if extra:
            sym.flags = ",".join(sorted(set(filter(None, sym.flags.split(",") + extra))))
        if not sym.decl_path:
            sym.decl_path, sym.decl_line = f["path"], d["line"]
        if not sym.doc and d["doc"]:
            sym.doc = d["doc"]

    def arity(self, sid: int) -> tuple[int, int]:
        hit = self._arity_cache.get(sid)
        if hit is None:
            fi, di, _ = self.sym_info[sid]
            hit = self._arity_cache[sid] = tuple(self.files[fi]["defs"][di]["nparams"])
        return hit

    def def_of(self, sid: int) -> dict:
        fi, di, _ = self.sym_info[sid]
        return self.files[fi]["defs"][di]
