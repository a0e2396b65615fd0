"""Which binding a Python name read sees: scopes, reaching definitions, globals, star imports.

Within one scope a read sees the reaching bindings in statement order: walking back from the read,
every binding is taken until one whose block dominates the read (the read's block or one around
it); bindings later in an enclosing loop reach it too. Python's last-binding-wins for assignments,
imports and star imports falls out of that order. Reads from an inner function see an enclosing
function's name as the union of all its bindings (the closure may run at any time), and module
names as they stand at the end of the module (what other modules and functions see once the
module has run). Class bodies are skipped by the functions inside them, as in Python.
"""
from __future__ import annotations

import builtins
from bisect import bisect_right

END = 1 << 62          # a position after every statement of a module
_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_")) | {"__import__", "__name__", "__file__"}


class Names:
    """Mixin of Flow: needs `s` (Solver), `files`, `py` (PyResolver), `const_var()`."""

    def _init_names(self) -> None:
        self.binds: dict[tuple[int, int], dict[str, list]] = {}   # (file, scope) -> name -> [(pos, blk, var)]
        self.stars: dict[tuple[int, int], list] = {}              # (file, scope) -> [(pos, blk, module)]
        self.globs: dict[tuple[int, int], set[str]] = {}
        self.extra_globals: dict[tuple[str, str], int] = {}       # `global x; x = ...` in a function
        self._gvars: dict[tuple[str, str], int] = {}
        self._allvars: dict[tuple[int, int, str], int] = {}
        self._exports_cache: dict[tuple[str, str], bool] = {}
        self._exporting: set[tuple[str, str]] = set()
        self._anc: dict[tuple[int, int], tuple[frozenset, tuple]] = {}
        self._lists: dict[tuple[int, int, str], list] = {}

    # ------------------------------------------------------------------ binding tables
    def bind(self, fi: int, scope: int, name: str, pos: int, blk: int) -> int:
        """A new binding of `name` in a scope: its variable."""
        if name in self.globs.get((fi, scope), ()) and scope:
            key = (self.files[fi]["module"], name)
            v = self.extra_globals.get(key)
            if v is None:
                v = self.extra_globals[key] = self.s.var()
            return v
        v = self.s.var()
        self.binds.setdefault((fi, scope), {}).setdefault(name, []).append((pos, blk, v))
        return v

    def finish_binds(self) -> None:
        for table in self.binds.values():
            for lst in table.values():
                lst.sort(key=lambda b: b[0])

    def bound_in(self, fi: int, scope: int, name: str) -> bool:
        return name in self.binds.get((fi, scope), {}) or (scope == 0 and bool(self._star_defs(fi, 0, name)))

    def _star_defs(self, fi: int, scope: int, name: str) -> list:
        out = []
        for pos, blk, mod in self.stars.get((fi, scope), ()):
            if self.exports(mod, name):
                out.append((pos, blk, self.gvar(mod, name)))
        return out

    def _bindings(self, fi: int, scope: int, name: str) -> list:
        return self._bindings_at(fi, scope, name)[0]

    def _bindings_at(self, fi: int, scope: int, name: str) -> tuple[list, list[int]]:
        """(bindings of `name` in a scope by position, star imports included; their positions)."""
        key = (fi, scope, name)
        got = self._lists.get(key)
        if got is None:
            lst = list(self.binds.get((fi, scope), {}).get(name, ()))
            if (fi, scope) in self.stars:
                lst = sorted(lst + self._star_defs(fi, scope, name), key=lambda b: b[0])
            got = self._lists[key] = (lst, [b[0] for b in lst])
        return got

    def _ancestors(self, fi: int, blk: int) -> tuple[frozenset, tuple]:
        """(blocks around `blk`, itself included, and -1; the loop blocks among them)."""
        key = (fi, blk)
        got = self._anc.get(key)
        if got is None:
            blocks = self.files[fi]["flow"]["blocks"]
            chain, loops, b = [-1], [], blk
            while b >= 0:
                chain.append(b)
                if blocks[b][1]:
                    loops.append(b)
                b = blocks[b][0]
            got = self._anc[key] = (frozenset(chain), tuple(loops))
        return got

    def reaching(self, fi: int, scope: int, name: str, pos: int, blk: int) -> tuple[list[int], bool]:
        """(variables of the bindings that reach a read, whether one of them dominates it)."""
        lst, positions = self._bindings_at(fi, scope, name)
        if not lst:
            return [], False
        anc, loops = self._ancestors(fi, blk)
        out: list[int] = []
        after = bisect_right(positions, pos)
        i = after - 1
        dominated = False
        while i >= 0:
            _p, b, v = lst[i]
            out.append(v)
            if b in anc:
                dominated = True
                break
            i -= 1
        if loops:
            for p, b, v in lst[after:]:
                if b >= 0 and any(lp in self._ancestors(fi, b)[0] for lp in loops):
                    out.append(v)
        return out, dominated

    # ------------------------------------------------------------------ reads
    def read(self, fi: int, scope: int, name: str, pos: int, blk: int) -> int | None:
        """The variable holding what a read of `name` at (pos, blk) in `scope` sees."""
        if scope and name in self.globs.get((fi, scope), ()):
            return self.gvar(self.files[fi]["module"], name)
        lst = self.binds.get((fi, scope), {}).get(name)
        if lst is not None and len(lst) == 1 and lst[0][0] == -1 and (fi, scope) not in self.stars:
            return lst[0][2]         # a parameter never rebound: every read sees it
        defs = self.files[fi]["defs"]
        if self.bound_in(fi, scope, name):
            vs, dominated = self.reaching(fi, scope, name, pos, blk)
            if not dominated and defs[scope]["kind"] in ("module", "class"):
                outer = self._outer(fi, scope, name)
                if outer is not None:
                    vs.append(outer)
            return self.union(vs)
        return self._outer(fi, scope, name)

    def _outer(self, fi: int, scope: int, name: str) -> int | None:
        defs = self.files[fi]["defs"]
        if scope == 0:
            return self.builtin(name)
        p = defs[scope]["parent"]
        while p > 0 and defs[p]["kind"] == "class":
            p = defs[p]["parent"]
        if p <= 0:
            return self.gvar(self.files[fi]["module"], name)
        if name in self.globs.get((fi, p), ()):
            return self.gvar(self.files[fi]["module"], name)
        if self.bound_in(fi, p, name):
            return self.all_bindings(fi, p, name)
        return self._outer(fi, p, name)

    def all_bindings(self, fi: int, scope: int, name: str) -> int:
        key = (fi, scope, name)
        v = self._allvars.get(key)
        if v is None:
            before = self.s.shared()
            v = self._allvars[key] = self.s.var()
            for _p, _b, bv in self._bindings(fi, scope, name):
                self.s.copy(bv, v)
            self.s.restore(before)
        return v

    def builtin(self, name: str) -> int | None:
        return self.const_var(("x", f"<builtin>.{name}")) if name in _BUILTINS else None

    def gvar(self, module: str, name: str) -> int:
        """`module.name` as it stands once the module has run (an empty variable if unknown)."""
        key = (module, name)
        v = self._gvars.get(key)
        if v is not None:
            return v
        v = self._gvars[key] = self.s.var()
        fi = self.py.modules.get(module)
        if fi is None:
            return v
        before = self.s.shared()
        try:
            self._fill_gvar(key, fi, name, v)
        finally:
            self.s.restore(before)
        return v

    def _fill_gvar(self, key: tuple[str, str], fi: int, name: str, v: int) -> None:
        vs, dominated = self.reaching(fi, 0, name, END, -1)
        extra = self.extra_globals.get(key)
        if extra is not None:
            vs.append(extra)
        for x in vs:
            self.s.copy(x, v)
        if not dominated:
            sub = f"{key[0]}.{name}"
            if sub in self.py.modules:
                self.s.add1(v, self.s.value(("m", sub)))
            elif not vs:
                b = self.builtin(name)
                if b is not None:
                    self.s.copy(b, v)

    def exports(self, module: str, name: str) -> bool:
        """Whether `from module import *` binds `name` (its top-level bindings and star imports)."""
        key = (module, name)
        got = self._exports_cache.get(key)
        if got is not None:
            return got
        fi = self.py.modules.get(module)
        if fi is None or key in self._exporting or name.startswith("_"):
            return False
        self._exporting.add(key)
        try:
            got = name in self.binds.get((fi, 0), {}) or any(
                self.exports(m, name) for _p, _b, m in self.stars.get((fi, 0), ()))
        finally:
            self._exporting.discard(key)
        self._exports_cache[key] = got
        return got

    def import_value(self, target: str) -> tuple[str, object]:
        """What `import`/`from ... import` binds: ('var', v) | ('val', value tuple)."""
        if target in self.py.modules:
            return "val", ("m", target)
        parts = target.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            mod = ".".join(parts[:cut])
            if mod in self.py.modules:
                v = self.gvar(mod, parts[cut])
                for attr in parts[cut + 1:]:
                    v = self.load(v, attr)
                return "var", v
        return "val", ("x", target)
