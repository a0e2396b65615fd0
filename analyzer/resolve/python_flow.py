"""Python value flow: a points-to analysis over every file's flow facts (parse/python_flow.py).

Builds one constraint graph for the whole program and solves it (python_solver.Solver):
  1. declare: one variable per binding (assignment targets, defs, imports, parameters, loop and
     `with` targets, `except ... as`, comprehension variables), so that reads can find them;
  2. build: every op and call site becomes copy edges and hooks (python_values, python_apply);
     reads of names go through python_names (reaching bindings, closures, module globals);
  3. solve to a fixpoint, then run the deferred work (keys only known afterwards, decorator
     fallbacks) and solve again.
What comes out, per call site: the in-index symbols it calls (`site_targets`), the outside names
it calls (`site_external`), whether its callee set was cut (`site_top`); edges of calls without
call syntax (`extra_edges`: decorators applied, `for`/`with`/`raise`/subscript dunders); and the
defs a decorator replaced by something else (`replaced`).

Subscripts on a plain name with constant keys (`d["a"] = f; d["a"]()`) are also bindings of the
pseudo-name `d['a']`, so a later write wins over an earlier one as for names.
"""
from __future__ import annotations

from typing import Any

from .python_apply import Apply, Call
from .python_names import Names
from .python_solver import TOP, Solver
from .python_values import ALL, Values

_CALLABLE_KINDS = ("f", "b", "bs", "c", "p", "i", "a")


def _pseudo(expr) -> str | None:
    """`d['a']['b']` for a subscript chain with constant keys on a plain name, else None."""
    if expr is None or expr[0] != "s" or expr[2] is None or expr[2][0] != "k":
        return None
    obj = expr[1]
    base = obj[1] if obj[0] == "n" else _pseudo(obj)
    return f"{base}[{expr[2][1]!r}]" if base else None


def _base_name(expr):
    while expr[0] == "s":
        expr = expr[1]
    return expr if expr[0] == "n" else None


class Flow(Names, Values, Apply):
    def __init__(self, py, links) -> None:
        self.py, self.files, self.links = py, py.files, links
        self.s = Solver()
        self._init_names()
        self._init_values()
        self._init_apply()
        self._consts: dict[int, int] = {}
        self._params: dict[int, list[int]] = {}
        self._kinds: dict[int, list[tuple[str, str]]] = {}
        self._rets: dict[int, int] = {}
        self._ylds: dict[int, int] = {}
        self.generators: set[int] = set()
        self.ext_bases: dict[int, list[str]] = {}
        self.defvars: dict[tuple, int] = {}
        self.cvars: dict[tuple, int] = {}
        self.site_res: dict[tuple[int, int], int] = {}
        self.decorated: dict[int, tuple[int, int]] = {}
        self.replaced: set[int] = set()
        self._lit = 0
        self._updates: dict[tuple[int, int], list] = {}
        self.ext_imports: dict[int, str] = {}             # binding variable -> module outside the index
        self.passthrough: dict[int, set[int]] = {}        # sid -> parameters it returns unchanged
        self.defaults: dict[tuple[int, int], int] = {}    # (sid, parameter) -> its default's variable

    # ------------------------------------------------------------------ entry point
    def solve(self) -> "Flow":
        for fi in range(len(self.files)):
            self._declare(fi)
        self.finish_binds()
        self._external_bases()
        for fi in range(len(self.files)):
            self._build(fi)
        self.s.run()
        for sid, (orig, dv) in self.decorated.items():
            vals = self.s.values_of(dv)
            if orig not in vals and vals:
                self.replaced.add(sid)
        return self

    # ------------------------------------------------------------------ small helpers
    def const_var(self, t: tuple) -> int:
        vid = self.s.value(t)
        v = self._consts.get(vid)
        if v is None:
            v = self._consts[vid] = self.s.var()
            self.s.add1(v, vid)
        return v

    def union(self, vs: list) -> int | None:
        vs = [v for v in vs if v is not None]
        if not vs:
            return None
        if len(vs) == 1:
            return vs[0]
        u = self.s.var()
        for v in vs:
            self.s.copy(v, u)
        return u

    def param_vars(self, sid: int) -> list[int]:
        return self._params.get(sid, [])

    def param_kinds(self, sid: int) -> list[tuple[str, str]]:
        return self._kinds.get(sid, [])

    def ret(self, sid: int) -> int:
        v = self._rets.get(sid)
        if v is None:
            v = self._rets[sid] = self.s.var()
        return v

    def yld(self, sid: int) -> int:
        v = self._ylds.get(sid)
        if v is None:
            v = self._ylds[sid] = self.s.var()
        return v

    def _ann(self, text: str | None, fi: int, di: int) -> int | None:
        if not text:
            return None
        ent = self.py.eval_ann(text, fi, di)
        return ent[1] if ent is not None and ent[0] == "inst" else None

    # ------------------------------------------------------------------ pass 1: bindings
    def _declare(self, fi: int) -> None:
        fl = self.files[fi].get("flow")
        if not fl:
            return
        ids = self.py.local_sym[fi]
        for op in fl["ops"]:
            if op[0] == "glob":
                self.globs.setdefault((fi, op[1]), set()).update(op[2])
        for di, plist in fl["params"].items():
            sid = ids[di]
            self._params[sid] = [self.bind(fi, di, p[0], -1, -1) for p in plist]
            self._kinds[sid] = [(p[0], p[1]) for p in plist]
        self.generators.update(ids[di] for di in fl["gens"])
        for j, op in enumerate(fl["ops"]):
            t = op[0]
            if t in ("as", "for", "with"):
                self._declare_pattern(fi, j, op[1], op[2], op[3], op[4])
            elif t == "def":
                self.defvars[(fi, j, op[4])] = self.bind(fi, op[1], op[4], op[2], op[3])
            elif t == "imp":
                if op[6]:
                    self.stars.setdefault((fi, op[1]), []).append((op[2], op[3], op[5]))
                else:
                    self.defvars[(fi, j, op[4])] = self.bind(fi, op[1], op[4], op[2], op[3])
            elif t == "exc":
                self.defvars[(fi, j, op[4])] = self.bind(fi, op[1], op[4], op[2], op[3])
            elif t == "cfor":
                for name in _names(op[3]):
                    self.cvars.setdefault((fi, op[2], name), self.s.var())
            if t in ("as", "for", "with", "ann"):
                pat = op[4] if t != "ann" else op[2]
                self.stored_attrs.update(_stored(pat))
                if t != "ann" and self.files[fi]["defs"][op[1]]["kind"] == "class" and pat and pat[0] == "n":
                    self.stored_attrs.add(pat[1])
        for fact in fl["sites"]:
            if fact and fact[0] and fact[0][0] == "n" and fact[0][1] == "setattr" and len(fact[1]) > 1 \
                    and fact[1][1] and fact[1][1][0] == "k":
                self.stored_attrs.add(str(fact[1][1][1]))
        calls = self.files[fi]["calls"]
        for k, fact in enumerate(fl["sites"]):
            writes = _update_writes(fact)
            if writes:
                base = fact[0][1]
                self._updates[(fi, k)] = [(self.bind(fi, calls[k][0], f"{base[1]}[{key!r}]", base[2], base[3]), e)
                                          for key, e in writes]

    def _declare_pattern(self, fi: int, j: int, scope: int, pos: int, blk: int, pat) -> None:
        if pat is None:
            return
        k = pat[0]
        if k == "n":
            self.defvars[(fi, j, pat[1])] = self.bind(fi, scope, pat[1], pos, blk)
        elif k in ("t",):
            for p in pat[1]:
                self._declare_pattern(fi, j, scope, pos, blk, p)
        elif k == "*":
            self._declare_pattern(fi, j, scope, pos, blk, pat[1])
        elif k == "s":
            name = _pseudo(pat)
            if name is not None:
                self.defvars[(fi, j, name)] = self.bind(fi, scope, name, pos, blk)

    def _external_bases(self) -> None:
        """Bases outside the index, by the dotted name their file imported them as."""
        py = self.py
        for cid, texts in py.unresolved_bases.items():
            module = self.files[py.class_ctx[cid][0]]["module"]
            out = []
            for text in texts:
                head, _, rest = text.split("[", 1)[0].partition(".")
                b = py.ns.get(module, {}).get(head)
                if b is not None and b[0] == "import":
                    out.append(f"{b[1]}.{rest}" if rest else b[1])
            if out:
                self.ext_bases[cid] = out

    # ------------------------------------------------------------------ pass 2: constraints
    def _build(self, fi: int) -> None:
        f = self.files[fi]
        fl = f.get("flow")
        if not fl:
            return
        ids = self.py.local_sym[fi]
        defs = f["defs"]
        for di, plist in fl["params"].items():
            self._seed_params(fi, di, plist)
        decos = {op[1]: (op[2], op[3]) for op in fl["ops"] if op[0] == "deco"}
        for j, op in enumerate(fl["ops"]):
            t = op[0]
            if t == "as":
                self._assign(fi, j, (fi, op[1]), op[4], op[5], op[6])
                if defs[op[1]]["kind"] == "class" and op[4] is not None and op[4][0] == "n":
                    self.s.copy(self.defvars[(fi, j, op[4][1])], self.field(ids[op[1]], op[4][1]))
            elif t == "def":
                self._def(fi, j, op, decos.get(op[5]))
            elif t == "imp" and not op[6]:
                kind, val = self.import_value(op[5])
                dv = self.defvars[(fi, j, op[4])]
                if kind == "val":
                    self.s.add1(dv, self.s.value(val))
                    if val[0] == "x":
                        self.ext_imports[dv] = val[1]
                else:
                    self.s.copy(val, dv)
            elif t in ("ret", "yld"):
                self._return(fi, op)
            elif t in ("for", "cfor", "with", "raise", "exc", "ann"):
                getattr(self, f"_op_{t}")(fi, j, op)
        for k in range(len(f["calls"])):
            self.site(fi, k)

    def _seed_params(self, fi: int, di: int, plist: list) -> None:
        s = self.s
        defs = self.files[fi]["defs"]
        d = defs[di]
        sid = self.py.local_sym[fi][di]
        pv = self._params[sid]
        outer = (fi, d["parent"] if d["parent"] >= 0 else 0)
        for i, (_name, kind, default, ann) in enumerate(plist):
            if default is not None:
                dv = self.ev(default, outer)
                if dv is not None:
                    s.copy(dv, pv[i])
                    self.defaults[(sid, i)] = dv
            cid = self._ann(ann, fi, di)
            if cid is not None:
                s.add1(pv[i], s.value(("a", cid)))
            if kind in ("v", "w"):
                s.add(pv[i], (s.value(("s", self.alloc(("args", sid, kind)))),))
        if d["kind"] == "method" and plist and plist[0][1] == "p" and "staticmethod" not in d["flags"]:
            cls = self.py.local_sym[fi][d["parent"]]
            s.add1(pv[0], s.value(("c" if "classmethod" in d["flags"] else "a", cls)))
        rc = self._ann(d.get("ret"), fi, di)
        if rc is not None and sid not in self.generators:
            s.add1(self.ret(sid), s.value(("a", rc)))

    def _def(self, fi: int, j: int, op: tuple, decos) -> None:
        scope, did = op[1], op[5]
        ids = self.py.local_sym[fi]
        sid = ids[did]
        defs = self.files[fi]["defs"]
        orig = self.const_var(("c" if defs[did]["kind"] == "class" else "f", sid))
        dv = self.defvars[(fi, j, op[4])]
        if not decos:
            self.s.copy(orig, dv)
            return
        cur = orig
        exprs, line = decos
        for i, e in enumerate(reversed(exprs)):
            if self._transparent(e, (fi, scope)):
                continue     # outside the index (dataclass, torch.inference_mode()): the def stays
            fn = self.ev(e, (fi, scope))
            if fn is None:
                continue
            r = self.s.var()
            self.calls(fn, Call(("deco", fi, did, i), ids[scope], line, [cur], [], r, "call", (fi, scope)))
            cur = r
        if defs[scope]["kind"] == "class" or cur == orig:
            self.s.copy(orig, dv)
            return
        ov = self.s.value(("c" if defs[did]["kind"] == "class" else "f", sid))
        self.decorated[sid] = (ov, dv)

        def settle() -> None:
            """The name is bound to the def itself when a decorator returned it (registries:
            their shared return variable holds every def they registered) or returned nothing
            callable that is known (outside the index); else to what the decorators returned."""
            vals = self.s.values_of(cur)
            if ov in vals or TOP in vals or not any(self.s.vals[v][0] in _CALLABLE_KINDS for v in vals):
                self.s.add1(dv, ov)
            else:
                self.s.copy(cur, dv)
        self.s.later(settle)

    def _return(self, fi: int, op: tuple) -> None:
        scope = op[1]
        if not scope:
            return
        sid = self.py.local_sym[fi][scope]
        if op[0] == "ret":
            for alt in _alternatives(op[2]):
                i = self._returned_param(fi, scope, alt)
                if i is not None:    # `return x` of a parameter: per call, what that call passed
                    self.passthrough.setdefault(sid, set()).add(i)
                    continue
                v = self.ev(alt, (fi, scope))
                if v is not None:
                    self.s.copy(v, self.ret(sid))
            return
        v = self.ev(op[2], (fi, scope))
        if v is None:
            return
        if op[3]:
            self.s.copy(self.iterate(v, None), self.yld(sid))
        else:
            self.s.copy(v, self.yld(sid))

    def _returned_param(self, fi: int, scope: int, e) -> int | None:
        """Index of the parameter `return e` returns unchanged (never rebound in the function)."""
        if e is None or e[0] != "n":
            return None
        kinds = self._kinds.get(self.py.local_sym[fi][scope])
        if not kinds:
            return None
        lst = self.binds.get((fi, scope), {}).get(e[1], ())
        if len(lst) != 1 or lst[0][0] != -1:
            return None
        for i, (name, kind) in enumerate(kinds):
            if name == e[1] and kind in ("p", "k"):
                return i
        return None

    def _implicit_call(self, fi: int, scope: int, j: int, line: int, tag: str) -> Call:
        return Call((tag, fi, j), self.py.local_sym[fi][scope], line, [], [], self.s.var(), "implicit", (fi, scope))

    def _op_for(self, fi: int, j: int, op: tuple) -> None:
        it = self.ev(op[5], (fi, op[1]))
        if it is not None:
            el = self.iterate(it, self._implicit_call(fi, op[1], j, op[6], "for"))
            self._bind_var(fi, j, (fi, op[1]), op[4], el)

    def _op_cfor(self, fi: int, j: int, op: tuple) -> None:
        it = self.ev(op[4], (fi, op[1]))
        if it is not None:
            self._bind_comp(fi, op[2], op[3], self.iterate(it, None))

    def _bind_comp(self, fi: int, cid: int, pat, v: int) -> None:
        if pat is None:
            return
        if pat[0] == "n":
            self.s.copy(v, self.cvars[(fi, cid, pat[1])])
        elif pat[0] == "t":
            for i, p in enumerate(pat[1]):
                if p is not None and p[0] != "*":
                    self._bind_comp(fi, cid, p, self._index(v, i, len(pat[1])))

    def _op_with(self, fi: int, j: int, op: tuple) -> None:
        ctx = self.ev(op[5], (fi, op[1]))
        if ctx is None:
            return
        call = self._implicit_call(fi, op[1], j, op[6], "with")
        bound = self.s.var()

        def on(vals: set[int]) -> None:
            for vid in vals:
                v = self.s.vals[vid]
                if v[0] in ("i", "a"):
                    self.implicit(call, vid, v[1], "__enter__", [], bound)
                    self.implicit(call, vid, v[1], "__exit__", [], self.s.var())
                elif v[0] == "g":
                    self.s.copy(self.yld(v[1]), bound)
        self.s.hook(ctx, on)
        if op[4] is not None:
            self._bind_var(fi, j, (fi, op[1]), op[4], bound)

    def _op_raise(self, fi: int, j: int, op: tuple) -> None:
        v = self.ev(op[2], (fi, op[1]))
        if v is None:
            return
        call = self._implicit_call(fi, op[1], j, op[3], "raise")
        self.s.hook(v, lambda vals: [self.construct(call, self.s.vals[x][1]) for x in vals
                                     if self.s.vals[x][0] == "c"])

    def _op_exc(self, fi: int, j: int, op: tuple) -> None:
        typ = self.ev(op[5], (fi, op[1]))
        if typ is None:
            return
        dv = self.defvars[(fi, j, op[4])]
        classes = self.s.var()
        self.s.copy(typ, classes)
        self.s.copy(self.iterate(typ, None), classes)
        self.s.hook(classes, lambda vals: [self.s.add1(dv, self.s.value(("i", self.s.vals[x][1])))
                                           for x in vals if self.s.vals[x][0] == "c"])

    def _op_ann(self, fi: int, j: int, op: tuple) -> None:
        scope, pat, text = op[1], op[2], op[3]
        defs = self.files[fi]["defs"]
        cid = self._ann(text, fi, scope)
        if cid is None or pat is None:
            return
        ids = self.py.local_sym[fi]
        if pat[0] == "n" and defs[scope]["kind"] == "class":
            self.s.add1(self.field(ids[scope], pat[1]), self.s.value(("a", cid)))
        elif pat[0] == "a" and pat[1] is not None and pat[1][0] == "n" and pat[1][1] == "self" \
                and defs[scope]["kind"] == "method":
            self.s.add1(self.field(ids[defs[scope]["parent"]], pat[2]), self.s.value(("a", cid)))

    # ------------------------------------------------------------------ assignments
    def _assign(self, fi: int, j: int, cx: tuple, pat, expr, line: int) -> None:
        if pat is None:
            return
        if pat[0] == "t" and expr is not None and expr[0] == "L" and not any(
                e is not None and e[0] == "*" for e in expr[2]):
            elts = expr[2]
            pats = pat[1]
            star = next((i for i, p in enumerate(pats) if p is not None and p[0] == "*"), None)
            if star is None and len(pats) == len(elts):
                for p, e in zip(pats, elts):
                    self._assign(fi, j, cx, p, e, line)
                return
            if star is not None and len(elts) >= len(pats) - 1:
                tail = len(pats) - star - 1
                for p, e in zip(pats[:star], elts[:star]):
                    self._assign(fi, j, cx, p, e, line)
                for p, e in zip(pats[star + 1:], elts[len(elts) - tail:]):
                    self._assign(fi, j, cx, p, e, line)
                middle = ("L", "list", elts[star:len(elts) - tail])
                self._assign(fi, j, cx, pats[star][1], middle, line)
                return
        v = self.ev(expr, cx) if expr is not None else None
        if v is not None:
            self._bind_var(fi, j, cx, pat, v)

    def _bind_var(self, fi: int, j: int, cx: tuple, pat, v: int) -> None:
        if pat is None:
            return
        s = self.s
        k = pat[0]
        if k == "n":
            s.copy(v, self.defvars[(fi, j, pat[1])])
        elif k == "a":
            o = self.ev(pat[1], cx)
            if o is not None:
                self.store(o, pat[2], v)
        elif k == "s":
            o = self.ev(pat[1], cx)
            key = pat[2]
            if o is not None and key is not None and key[0] != "sl":
                if key[0] == "k":
                    self.store_subscript(o, key[1], None, v)
                else:
                    self.store_subscript(o, None, self.ev(key, cx), v)
            name = _pseudo(pat)
            if name is not None and (fi, j, name) in self.defvars:
                s.copy(v, self.defvars[(fi, j, name)])
        elif k == "t":
            n = len(pat[1])
            for i, p in enumerate(pat[1]):
                if p is None:
                    continue
                if p[0] == "*":
                    aid = self.alloc(("star", fi, j, i))
                    s.copy(self.iterate(v, None), self.elem(aid, "*"))
                    self._bind_var(fi, j, cx, p[1], self.container_var(aid))
                else:
                    self._bind_var(fi, j, cx, p, self._index(v, i, n))
        elif k == "*":
            aid = self.alloc(("star", fi, j, -1))
            s.copy(self.iterate(v, None), self.elem(aid, "*"))
            self._bind_var(fi, j, cx, pat[1], self.container_var(aid))

    def _index(self, v: int, i: int, n: int) -> int:
        t = self.s.var()
        self.subscript(v, i, None, t, None)
        return t

    # ------------------------------------------------------------------ expressions
    def ev(self, e, cx: tuple) -> int | None:
        if e is None:
            return None
        k = e[0]
        fi, scope = cx
        if k == "n":
            return self.read(fi, scope, e[1], e[2], e[3])
        if k == "a":
            ext = self._static_external(e, cx)
            if ext is not None:
                return self.const_var(("x", ext))
            o = self.ev(e[1], cx)
            return self.load(o, e[2]) if o is not None else None
        if k == "c":
            return self.site(fi, e[1])
        if k == "s":
            return self._ev_subscript(e, cx)
        if k == "k":
            return self.const_var(("k", e[1]))
        if k == "cv":
            return self.cvars.get((fi, e[1], e[2]))
        if k == "f":
            return self.const_var(("f", self.py.local_sym[fi][e[1]]))
        if k == "u":
            return self.union([self.ev(x, cx) for x in e[1]])
        if k in ("L", "D", "C"):
            return self._ev_container(e, cx)
        return None

    def _transparent(self, e, cx: tuple) -> bool:
        """A decorator known to come from outside the index (or a builtin one), statically."""
        if e is None:
            return True
        if e[0] == "c":
            fact = self.files[cx[0]]["flow"]["sites"][e[1]]
            return fact is None or self._transparent(fact[0], cx)
        if e[0] == "n":
            fi, scope = cx
            if not self.bound_in(fi, scope, e[1]) and not self.bound_in(fi, 0, e[1]):
                return self.builtin(e[1]) is not None
            return self._static_external(e, cx) is not None
        return e[0] == "a" and self._static_external(e, cx) is not None

    def _static_external(self, e, cx: tuple) -> str | None:
        """`torch.nn.functional.silu` when its head is, for sure, an import of a module outside the
        index (its only binding; not rebound in the reading functions): no variables needed."""
        attrs = []
        while e[0] == "a":
            attrs.append(e[2])
            e = e[1]
            if e is None:
                return None
        if e[0] != "n":
            return None
        fi, scope = cx
        name = e[1]
        defs = self.files[fi]["defs"]
        d = scope
        while d > 0:
            if defs[d]["kind"] != "class" and (self.bound_in(fi, d, name) or name in self.globs.get((fi, d), ())):
                return None
            d = defs[d]["parent"]
        lst = self._bindings(fi, 0, name)
        if len(lst) != 1 or lst[0][2] not in self.ext_imports:
            return None
        return ".".join([self.ext_imports[lst[0][2]], *reversed(attrs)])

    def _ev_subscript(self, e, cx: tuple) -> int | None:
        fi, scope = cx
        o = self.ev(e[1], cx)
        if o is None:
            return None
        key = e[2]
        t = self.s.var()
        call = Call(("sub", fi, e[3]), self.py.local_sym[fi][scope], e[3], [], [], t, "implicit", cx)
        name = _pseudo(e)
        if name is not None and self.bound_in(fi, scope, name):
            base = _base_name(e)
            vs, strong = self._pseudo_reaching(fi, scope, name, base)
            if strong:
                return self.union(vs)
            for v in vs:
                self.s.copy(v, t)
        if key is None:
            self.subscript(o, ALL, None, t, call)
        elif key[0] == "k":
            self.subscript(o, key[1], None, t, call)
        elif key[0] == "sl":
            self.subscript(o, key, None, t, call)
        else:
            self.subscript(o, None, self.ev(key, cx), t, call)
        return t

    def _pseudo_reaching(self, fi: int, scope: int, name: str, base) -> tuple[list[int], bool]:
        """Bindings of `d['a']` since the binding of `d` that dominates the read; strong when a
        binding of `d['a']` itself dominates it (a later write replaced the element)."""
        _n, bname, pos, blk = base
        anc, _loops = self._ancestors(fi, blk)
        merged = sorted([(p, b, v, True) for p, b, v in self._bindings(fi, scope, name)]
                        + [(p, b, v, False) for p, b, v in self._bindings(fi, scope, bname)],
                        key=lambda x: x[0])
        out: list[int] = []
        for p, b, v, is_pseudo in reversed(merged):
            if p > pos:
                continue
            if is_pseudo:
                out.append(v)
            if b in anc:
                return out, is_pseudo
        return out, False

    def _ev_container(self, e, cx: tuple) -> int:
        s = self.s
        self._lit += 1
        k = e[0]
        if k == "L":
            starred = any(x is not None and x[0] == "*" for x in e[2])
            aid = self.alloc(("lit", self._lit), None if starred else len(e[2]), e[1])
            for i, x in enumerate(e[2]):
                if x is None:
                    continue
                if x[0] == "*":
                    xv = self.ev(x[1], cx)
                    if xv is not None:
                        s.copy(self.iterate(xv, None), self.elem(aid, "*"))
                    continue
                xv = self.ev(x, cx)
                if xv is not None:
                    s.copy(xv, self.elem(aid, "*" if starred else i))
        elif k == "D":
            aid = self.alloc(("lit", self._lit), kind="dict")
            for key, x in e[1]:
                xv = self.ev(x, cx)
                if xv is None:
                    continue
                if key is None:
                    s.hook(xv, lambda vals, a=aid: self._merge_into(vals, a))
                else:
                    s.copy(xv, self.elem(aid, key[1] if key[0] == "k" else "*"))
                    if key[0] != "k":
                        self.ev(key, cx)
        else:
            aid = self.alloc(("comp", cx[0], e[1]), kind={"gen": ""}.get(e[2], e[2]))
            elt = e[3]
            if elt is not None and elt[0] == "kv":
                self.ev(elt[1], cx)
                elt = elt[2]
            xv = self.ev(elt, cx)
            if xv is not None:
                s.copy(xv, self.elem(aid, "*"))
        if k != "C" and all(x is None or x[0] == "k" for x in _elements(e)):
            return self.container_var(aid)
        return self.lazy_container(aid)

    # ------------------------------------------------------------------ call sites
    def site(self, fi: int, k: int) -> int:
        key = (fi, k)
        r = self.site_res.get(key)
        if r is not None:
            return r
        r = self.site_res[key] = self.s.var()
        f = self.files[fi]
        fact = f["flow"]["sites"][k] if f.get("flow") else None
        if fact is None:
            return r
        owner, line = f["calls"][k][0], f["calls"][k][1]
        cx = (fi, owner)
        for pv, e in self._updates.get(key, ()):
            v = self.ev(e, cx)
            if v is not None:
                self.s.copy(v, pv)
        callee, pos_e, kw_e = fact
        ext = self._static_external(callee, cx) if callee is not None and callee[0] == "a" else None
        if ext is not None and ext not in ("functools.partial",):
            # A call of something outside the index, known without solving: its arguments are
            # not followed (nothing in the index runs them), nested calls are sites of their own.
            call = Call(("site", fi, k), self.py.local_sym[fi][owner], line, [], [], r, "call", cx)
            self.external(call, ext)
            return r
        fn = self.ev(callee, cx)
        pos = [("*", self.ev(a[1], cx)) if a is not None and a[0] == "*" else self.ev(a, cx) for a in pos_e]
        kw = [(name, self.ev(a, cx)) for name, a in kw_e]
        if fn is not None:
            self.calls(fn, Call(("site", fi, k), self.py.local_sym[fi][owner], line, pos, kw, r, "call", cx,
                                list(pos_e)))
        return r

    def stats(self) -> dict[str, Any]:
        return {"vars": len(self.s.pts), "values": len(self.s.vals), "steps": self.s.steps}


def _alternatives(e) -> list:
    """`a if c else b` / `a or b` -> [a, b] (flattened); anything else -> [e]."""
    if e is not None and e[0] == "u":
        return [x for alt in e[1] for x in _alternatives(alt)]
    return [e]


def _elements(e) -> list:
    """The element (value) expressions of a list/tuple/set or dict literal."""
    if e[0] == "L":
        return [x[1] if x is not None and x[0] == "*" else x for x in e[2]]
    return [x for _k, x in e[1]]


def _update_writes(fact) -> list:
    """`d.update({"a": f})` on a plain name: the (constant key, value expr) pairs it writes."""
    if fact is None:
        return []
    callee, pos, kw = fact
    if callee is None or callee[0] != "a" or callee[2] != "update" or callee[1] is None or callee[1][0] != "n":
        return []
    if len(pos) != 1 or kw or pos[0] is None or pos[0][0] != "D":
        return []
    items = pos[0][1]
    if not items or any(k is None or k[0] != "k" for k, _ in items):
        return []
    return [(k[1], e) for k, e in items]


def _stored(pat) -> list[str]:
    """Attribute names a target pattern writes (`self.x`, `a.b.c` -> x, c)."""
    if pat is None:
        return []
    if pat[0] == "a":
        return [pat[2]]
    if pat[0] == "t":
        return [x for p in pat[1] for x in _stored(p)]
    if pat[0] == "*":
        return _stored(pat[1])
    return []


def _names(pat) -> list[str]:
    if pat is None:
        return []
    if pat[0] == "n":
        return [pat[1]]
    if pat[0] in ("t",):
        return [x for p in pat[1] for x in _names(p)]
    if pat[0] == "*":
        return _names(pat[1])
    return []
