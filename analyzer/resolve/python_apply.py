"""Calling a Python value: functions and bound methods (arguments to parameters, returns to the
call), classes (an instance, and `__init__` through the MRO), callable instances (`__call__`,
torch's `forward`), externals and builtins, functools.partial, container methods, and the implicit
calls Python makes (`__iter__`/`__next__`, `__enter__`/`__exit__`, `__getitem__`, `__init__` of a
raised class)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .python_builtins import MODELLED_BUILTINS, Builtins
from .python_solver import TOP
from .python_values import ALL

__all__ = ["MODELLED_BUILTINS", "Apply", "Call", "keep_target"]

_CALLABLE_INSTANCE = ("__call__", "forward")   # torch.nn.Module instances call forward()
_BUILTIN_TYPE_METHODS = {t.__name__: frozenset(n for n in dir(t) if not n.startswith("_"))
                         for t in (list, tuple, set, dict)}


def keep_target(cur: dict, sid: int, label: str, via: str) -> None:
    """A site's target as found: the first label stays, except that a flow label replaces a
    dispatch one (python_incremental rebuilds a site's targets from its notes by the same rule)."""
    if sid not in cur or (cur[sid][0] == "dispatch" and label == "flow"):
        cur[sid] = (label, via)


@dataclass
class Call:
    key: tuple                    # ('site', file, call index) | ('deco', ...) | ('implicit', ...)
    caller: int                   # symbol id of the calling def
    line: int
    pos: list                     # variable ids, or ('*', variable id)
    kw: list                      # (keyword | '**', variable id)
    result: int
    via: str = "call"
    scope: tuple = (0, 0)         # (file, def id) the call is written in
    raw: list = field(default_factory=list)   # positional argument expressions (getattr's name)


class Apply(Builtins):
    """Mixin of Flow: what calling each kind of value does."""

    def _init_apply(self) -> None:
        self.site_targets: dict[tuple, dict[int, tuple[str, str]]] = {}   # site key -> sid -> (label, via)
        self.site_external: dict[tuple, set[str]] = {}
        self.site_top: set[tuple] = set()
        self.site_dispatched: set[tuple] = set()                          # (site key, sid) reached as an override
        self.extra_edges: set[tuple[int, int, int, str, str]] = set()      # decorators, implicit calls
        self.partials: dict[int, tuple[int, list, list]] = {}
        self._applied: set[tuple] = set()
        self._signatures: dict[tuple, tuple] = {}

    def calls(self, fn: int, call: Call) -> None:
        self.s.hook(fn, lambda vals: self._apply_all(call, vals))

    def _apply_all(self, call: Call, vals: set[int]) -> None:
        for vid in vals:
            self.apply(call, vid)

    def _record(self, call: Call, sid: int, label: str, via: str | None = None) -> None:
        via = via or call.via
        self.s.note("target", (call.key, call.caller, call.line, sid, label, via))
        if call.key[0] == "site":
            keep_target(self.site_targets.setdefault(call.key, {}), sid, label, via)
            if label == "dispatch":      # an override's fan-out: not a merge the too-many cut is for
                self.site_dispatched.add((call.key, sid))
        else:
            self.extra_edges.add((call.caller, sid, call.line, label, via))

    def apply(self, call: Call, vid: int) -> None:
        s = self.s
        if vid == TOP:                 # the callee set was cut: say so; the result is unknown
            self.s.note("top", (call.key,))
            self.site_top.add(call.key)
            return
        v = s.vals[vid]
        k = v[0]
        if k == "f":
            self.invoke(call, v[1], None, "flow")
        elif k == "bs":
            self.invoke(call, v[1], v[2], "flow")
        elif k == "b":
            self.invoke(call, v[1], v[2], "flow")
            recv = s.vals[v[2]]
            if recv[0] == "a" and self.py.g.symbols[v[1]].kind == "method":
                short = self.py.g.symbols[v[1]].short
                for sub in self.py.all_subclasses(recv[1]):
                    over = self.py.members[sub].get(short)
                    if over is not None and over != v[1]:
                        # The override runs on an instance of its own class (or below).
                        self.invoke(call, over, s.value(("a", sub)), "dispatch")
        elif k == "c":
            self.construct(call, v[1])
        elif k in ("i", "a"):
            for name in _CALLABLE_INSTANCE:
                sid = self.member(v[1], name)
                if sid is not None and (name == "__call__" or self.external_base(v[1])):
                    self.invoke(call, sid, vid, "flow")
                    break
        elif k in ("x", "xt"):
            self.external(call, v[1], k == "x")
        elif k == "p":
            self._call_partial(call, v[1])
        elif k == "cm":
            self._container_method(call, v[1], v[2])
        elif k == "cS":
            self._class_method(call, v[1], v[2])

    def invoke(self, call: Call, sid: int, recv: int | None, label: str) -> None:
        self._record(call, sid, label)      # before the check: a flow label beats a dispatch one
        key = (call.key, sid, recv)         # that reached the same target first
        if key in self._applied:
            return
        self.s.note("applied", key)
        self._applied.add(key)
        s = self.s
        params = self.param_vars(sid)
        kinds = self.param_kinds(sid)
        shift = 0
        if recv is not None and params:
            if not self._covered_receiver(sid, recv):
                s.add1(params[0], recv)
            shift = 1
        passed = self._bind_args(call, params, kinds, shift)
        for i in self.passthrough.get(sid, ()):
            if i == 0 and shift:
                s.add1(call.result, recv)
            elif passed.get(i):
                for a in passed[i]:
                    s.copy(a, call.result)
            elif (sid, i) in self.defaults:
                s.copy(self.defaults[(sid, i)], call.result)
        if sid in self.generators:
            s.add1(call.result, s.value(("g", sid)))
        else:
            s.copy(self.ret(sid), call.result)

    def _covered_receiver(self, sid: int, recv: int) -> bool:
        """A receiver `self` already stands for: an instance of some subclass (a declared type),
        reaching a method of its base. `self` holds the base's cone from the start; adding each
        subclass's cone only grows the set (hundreds for torch-style base classes)."""
        rv = self.s.vals[recv]
        if rv[0] != "a":
            return False
        owner = self.py.g.symbols[sid].parent
        return owner is not None and owner != rv[1] and owner in self.py.mro(rv[1])

    def _bind_args(self, call: Call, params: list[int], kinds: list[tuple[str, str]],
                   shift: int) -> dict[int, list[int]]:
        """Arguments to parameters; returns {parameter index: argument variables} where direct."""
        s = self.s
        passed: dict[int, list[int]] = {}
        positional, star, dstar, by_name = self._signature(kinds, shift)
        i = 0
        for a in call.pos:
            if isinstance(a, tuple):
                if a[1] is not None:        # *xs: element k lands on the k-th parameter from here
                    rest = positional[i:]
                    s.hook(a[1], lambda vals, rest=rest: self._spread(vals, rest, params, star))
                i = len(positional)
                continue
            if a is not None:
                if i < len(positional):
                    s.copy(a, params[positional[i]])
                    passed.setdefault(positional[i], []).append(a)
                elif star is not None:
                    s.copy(a, self._vararg_elem(params[star], i - len(positional)))
            i += 1
        for name, a in call.kw:
            if a is None:
                continue
            if name == "**":                 # **d: key k lands on the parameter named k
                s.hook(a, lambda vals: self._spread_keywords(vals, by_name, params, dstar))
                continue
            j = by_name.get(name)
            if j is not None:
                s.copy(a, params[j])
                passed.setdefault(j, []).append(a)
            elif dstar is not None:
                s.copy(a, self._vararg_elem(params[dstar], name))
        return passed

    def _signature(self, kinds: list[tuple[str, str]], shift: int) -> tuple:
        """(positional parameter indexes, *args index, **kwargs index, {keyword: index})."""
        key = (id(kinds), shift)
        got = self._signatures.get(key)
        if got is None:
            positional = [i for i in range(shift, len(kinds)) if kinds[i][1] == "p"]
            star = next((i for i, kd in enumerate(kinds) if kd[1] == "v"), None)
            dstar = next((i for i, kd in enumerate(kinds) if kd[1] == "w"), None)
            by_name = {kd[0]: i for i, kd in enumerate(kinds) if kd[1] in ("p", "k") and i >= shift}
            got = self._signatures[key] = (positional, star, dstar, by_name, kinds)
        return got[:4]

    def _vararg_elem(self, pv: int, key: object) -> int:
        """Element `key` of the container a *args/**kwargs parameter holds."""
        for vid in self.s.values_of(pv):
            if self.s.vals[vid][0] == "s":
                return self.elem(self.s.vals[vid][1], key)
        return self.s.var()

    def _spread(self, vals: set[int], rest: list[int], params: list[int], star: int | None) -> None:
        s = self.s
        for vid in vals:
            v = s.vals[vid]
            if v[0] == "S":
                for k, j in enumerate(rest):
                    self.read_class(v[1], k, params[j])
                if star is not None:
                    self.read_class(v[1], ALL, self._vararg_elem(params[star], "*"))
                continue
            if v[0] != "s":
                continue
            aid = v[1]
            unknown = self.elem(aid, "*")
            for k, j in enumerate(rest):
                s.copy(self.elem(aid, k), params[j])
                s.copy(unknown, params[j])
            if star is not None:
                s.copy(self.elem(aid, ALL), self._vararg_elem(params[star], "*"))

    def _spread_keywords(self, vals: set[int], by_name: dict, params: list[int], dstar: int | None) -> None:
        s = self.s
        for vid in vals:
            v = s.vals[vid]
            if v[0] == "S":
                for name, j in by_name.items():
                    self.read_class(v[1], name, params[j])
                if dstar is not None:
                    self.read_class(v[1], ALL, self._vararg_elem(params[dstar], "*"))
                continue
            if v[0] != "s":
                continue
            aid = v[1]
            unknown = self.elem(aid, "*")
            for name, j in by_name.items():
                s.copy(self.elem(aid, name), params[j])
                s.copy(unknown, params[j])
            if dstar is not None:
                self.each_key(aid, lambda key, aid=aid: None if key in by_name else
                              s.copy(self.elem(aid, key), self._vararg_elem(params[dstar], key)))

    def construct(self, call: Call, cid: int) -> None:
        s = self.s
        inst = s.value(("i", cid))
        s.add1(call.result, inst)
        init = self.member(cid, "__init__")
        if init is not None:
            self.invoke(Call(call.key, call.caller, call.line, call.pos, call.kw, s.var(), call.via, call.scope),
                        init, inst, "flow")
            return
        ext = self.external_base(cid)
        if ext is not None:
            self._external_target(call, f"{ext}.__init__")
        else:
            self._record(call, cid, "flow")

    def implicit(self, call: Call, recv: int, cid: int, name: str, args: list[int], result: int) -> None:
        """A call Python makes without call syntax (`for`, `with`, `raise`, subscripts)."""
        sid = self.member(cid, name)
        if sid is None:
            return
        sub = Call(("implicit",) + tuple(call.key[1:]) + (name,), call.caller, call.line, args, [], result,
                   "implicit", call.scope)
        self.invoke(sub, sid, recv, "flow")

    # ------------------------------------------------------------------ outside the index
    def _external_target(self, call: Call, dotted: str) -> None:
        if call.key[0] == "site":
            self.s.note("external", (call.key, dotted))
            self.site_external.setdefault(call.key, set()).add(dotted)

    def external(self, call: Call, dotted: str, path: bool = True) -> None:
        s = self.s
        if dotted.startswith("<builtin>."):
            name = dotted[len("<builtin>."):]
            self._external_target(call, dotted)
            self._builtin(call, name)
            return
        if dotted.startswith("torch.ops."):
            parts = dotted.split(".")
            op = self.links.torch_ops.get(".".join(parts[:4])) if len(parts) >= 4 else None
            if op is not None:
                self._record(call, op, "flow", "torch-op")
                return
        if dotted in ("functools.partial", "partial"):
            self._external_target(call, "functools.partial")
            self._make_partial(call)
            return
        self._external_target(call, dotted)
        if path and dotted.rsplit(".", 1)[-1][:1].isupper():
            s.add1(call.result, s.value(("xi", dotted)))

    # ------------------------------------------------------------------ partial and containers
    def _make_partial(self, call: Call) -> None:
        if not call.pos or isinstance(call.pos[0], tuple) or call.pos[0] is None:
            return
        pid = len(self.partials)
        self.partials[pid] = (call.pos[0], call.pos[1:], call.kw)
        self.s.add1(call.result, self.s.value(("p", pid)))

    def _call_partial(self, call: Call, pid: int) -> None:
        fn, pos, kw = self.partials[pid]
        self.calls(fn, Call(call.key, call.caller, call.line, pos + call.pos, kw + call.kw, call.result,
                            call.via, call.scope))

    def _container_method(self, call: Call, aid: int, name: str) -> None:
        s = self.s
        kind = self.kinds.get(aid)
        if kind in _BUILTIN_TYPE_METHODS and name in _BUILTIN_TYPE_METHODS[kind]:
            self._external_target(call, f"<builtin>.{kind}.{name}")

        def items() -> int:
            pair = self.alloc(("items", aid), 2)
            s.copy(self.elem(aid, ALL), self.elem(pair, 1))
            out = self.alloc(("items-of", aid))
            s.copy(self.container_var(pair), self.elem(out, "*"))
            return s.value(("s", out))
        self._apply_method(call, name, lambda key: self.elem(aid, key), lambda t: s.copy(self.elem(aid, ALL), t),
                           s.value(("s", aid)), items, lambda vals: self._merge_into(vals, aid))

    def _class_method(self, call: Call, root: int, name: str) -> None:
        """A method of a class of containers: reads read every member, writes write every
        member. `items()` gives one view shared by every class (its pairs are the classes
        themselves, so unpacking one reads the class's elements): a view per class would be
        named by a root, and which member is root depends on the order things were built."""
        s = self.s
        if call.key[0] == "site":           # named by the final class: report_container_methods
            self.s.note("cm_report", (call.key, root, name))
            self._cm_reports.append((call.key, root, name))

        def items() -> int:
            out = self.alloc(("items-of", "classes"))
            s.add1(self.elem(out, "*"), s.value(("S", root)))
            return s.value(("s", out))
        self._apply_method(call, name, lambda key: self.class_write(root), lambda t: self.read_class(root, ALL, t),
                           s.value(("S", root)), items, lambda vals: self._merge_into_class(vals, root))

    def _apply_method(self, call: Call, name: str, write, read_all, itself: int, items, merge) -> None:
        """What a container method does, for one container or a class: `write(key)` is the
        variable a write of that key goes to, `read_all(t)` reads every element into t."""
        s = self.s
        pos = [a for a in call.pos if not isinstance(a, tuple)]
        if name in ("append", "add", "appendleft") and pos and pos[0] is not None:
            s.copy(pos[0], write("*"))
        elif name == "insert" and len(pos) > 1 and pos[1] is not None:
            s.copy(pos[1], write("*"))
        elif name in ("extend", "update"):
            for p in pos:
                if p is not None:
                    s.hook(p, merge)
            for kname, kv in call.kw:
                if kv is not None and kname != "**":
                    s.copy(kv, write(kname))
        elif name in ("get", "pop", "setdefault", "__getitem__", "popitem", "popleft"):
            read_all(call.result)
            if len(pos) > 1 and pos[1] is not None:
                s.copy(pos[1], call.result)
                if name == "setdefault":
                    s.copy(pos[1], write("*"))
        elif name in ("values", "copy"):
            s.add1(call.result, itself)
        elif name == "items":
            s.add1(call.result, items())

    def report_container_methods(self) -> None:
        """`<builtin>.list.append` and the like for calls of a class's methods, by the kinds of
        the class as it ended (it may grow after the call was first seen)."""
        kinds: dict[int, list[str]] = {}
        for key, root, name in self._cm_reports:
            root = self.s.find(root)
            if root not in kinds:
                kinds[root] = sorted(self.container_kinds(root))
            for kind in kinds[root]:
                if name in _BUILTIN_TYPE_METHODS.get(kind, ()):
                    self.site_external.setdefault(key, set()).add(f"<builtin>.{kind}.{name}")

    def _merge_into_class(self, vals: set[int], root: int) -> None:
        s = self.s
        for vid in vals:
            v = s.vals[vid]
            if v[0] == "s":
                s.copy(self.elem(v[1], ALL), self.class_write(root))
            elif v[0] == "S":
                self.read_class(v[1], ALL, self.class_write(root))

    def _merge_into(self, vals: set[int], aid: int) -> None:
        s = self.s
        for vid in vals:
            v = s.vals[vid]
            if v[0] == "S":
                self.read_class(v[1], ALL, self.elem(aid, "*"))
                continue
            if v[0] != "s" or v[1] == aid:
                continue
            self.each_key(v[1], lambda key, src=v[1]: s.copy(self.elem(src, key), self.elem(aid, key)))
