"""Builtins whose calls the value flow models: super(), getattr/setattr with a constant name,
map/filter (calling their function arguments), the iterable constructors and sorted(key=...),
next, enumerate/zip, type(x), staticmethod/classmethod, dict(**kw)."""
from __future__ import annotations

from .python_solver import TOP

_ITERABLE_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "sorted", "reversed", "iter"})
# Builtins whose calls the analysis models (the others only name a target outside the index).
MODELLED_BUILTINS = _ITERABLE_BUILTINS | {"super", "getattr", "setattr", "map", "filter", "next", "enumerate",
                                          "zip", "staticmethod", "classmethod", "type", "dict"}


class Builtins:
    """Mixin of Apply: needs `s`, `calls()`, `iterate()`, `load()`, `store()`, `alloc()`, `elem()`,
    `lazy_container()`, `container_var()`, `param_vars()`."""

    def _builtin(self, call, name: str) -> None:
        from .python_apply import Call

        s = self.s
        pos = [a for a in call.pos if not isinstance(a, tuple)]
        if name == "super":
            self._super(call, pos)
        elif name in ("getattr", "setattr") and len(call.raw) >= 2 and call.raw[1] and call.raw[1][0] == "k" \
                and isinstance(call.raw[1][1], str) and pos and pos[0] is not None:
            attr = call.raw[1][1]
            if name == "getattr":
                s.copy(self.load(pos[0], attr), call.result)
                if len(pos) > 2 and pos[2] is not None:
                    s.copy(pos[2], call.result)
            elif len(pos) > 2 and pos[2] is not None:
                self.store(pos[0], attr, pos[2])
        elif name in ("map", "filter"):
            self._map(call, pos, name == "map")
        elif name in _ITERABLE_BUILTINS and pos and pos[0] is not None:
            aid = self.alloc(("builtin", call.key, name))
            s.copy(self.iterate(pos[0], call), self.elem(aid, "*"))
            s.copy(self.lazy_container(aid), call.result)
            for kname, kv in call.kw:
                if kname == "key" and kv is not None:
                    self.calls(kv, Call(call.key, call.caller, call.line, [self.elem(aid, "*")], [], s.var(),
                                        call.via, call.scope))
        elif name == "next" and pos and pos[0] is not None:
            s.copy(self.iterate(pos[0], call), call.result)
        elif name in ("enumerate", "zip") and pos:
            aid = self.alloc(("builtin", call.key, name))
            pair = self.alloc(("pair", call.key, name), 2 if name == "enumerate" else len(pos))
            for i, p in enumerate(pos):
                if p is not None:
                    s.copy(self.iterate(p, call), self.elem(pair, i + (name == "enumerate")))
            s.copy(self.lazy_container(pair), self.elem(aid, "*"))
            s.copy(self.lazy_container(aid), call.result)
        elif name in ("staticmethod", "classmethod") and pos and pos[0] is not None:
            s.copy(pos[0], call.result)
        elif name == "type" and len(pos) == 1 and pos[0] is not None:
            s.hook(pos[0], lambda vals: [s.add1(call.result, s.value(("c", s.vals[v][1])))
                                         for v in vals if s.vals[v][0] in ("i", "a")])
        elif name == "dict":
            aid = self.alloc(("builtin", call.key, name))
            for kname, kv in call.kw:
                if kv is not None and kname != "**":
                    s.copy(kv, self.elem(aid, kname))
            s.add1(call.result, s.value(("s", aid)))
            if pos and pos[0] is not None:
                s.copy(pos[0], call.result)

    def _super(self, call, pos: list) -> None:
        s = self.s
        if len(pos) >= 2 and pos[0] is not None and pos[1] is not None:
            cls_var, obj = pos[0], pos[1]
            s.hook(cls_var, lambda vals: [s.hook(obj, lambda rs, c=s.vals[v][1]: [
                s.add1(call.result, s.value(("u", c, r))) for r in rs])
                for v in vals if s.vals[v][0] == "c"])
            return
        fi, di = call.scope
        defs = self.files[fi]["defs"]
        while di > 0 and defs[di]["kind"] != "method":
            di = defs[di]["parent"]
        if di <= 0:
            return
        cid = self.py.local_sym[fi][defs[di]["parent"]]
        params = self.param_vars(self.py.local_sym[fi][di])
        if params:
            s.hook(params[0], lambda rs: [s.add1(call.result, s.value(("u", cid, r))) for r in rs if r != TOP])

    def _map(self, call, pos: list, is_map: bool) -> None:
        from .python_apply import Call

        s = self.s
        aid = self.alloc(("builtin", call.key, "map"))
        for i, p in enumerate(pos):
            if p is None:
                continue
            others = [self.iterate(q, call) for j, q in enumerate(pos) if j != i and q is not None]
            res = self.elem(aid, "*") if is_map else s.var()
            self.calls(p, Call(call.key, call.caller, call.line, others[:1], [], res, call.via, call.scope))
            if not is_map:
                s.copy(self.iterate(p, call), self.elem(aid, "*"))
        s.copy(self.lazy_container(aid), call.result)
