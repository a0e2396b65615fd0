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
from .python_eval import Eval, alternatives as _alternatives, names as _names, pseudo as _pseudo, stored as _stored
from .python_eval import update_writes as _update_writes
from .python_names import Names
from .python_ops import Ops
from .python_solver import TOP, Solver
from .python_values import Values

_CALLABLE_KINDS = ("f", "b", "bs", "c", "p", "i", "a")


class Flow(Ops, Eval, Names, Values, Apply):
    solver_class = Solver     # python_provenance.LoggingSolver to record what made each constraint

    def __init__(self, py, links, solver_class=None) -> None:
        self.py, self.files, self.links = py, py.files, links
        self.s = (solver_class or self.solver_class)()
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
    def solve(self, build_order: list[int] | None = None) -> "Flow":
        """Solve the whole program. `build_order` (file indexes) only reorders the building of
        constraints; the answer is the same for every order (tests/test_flow_order.py)."""
        s = self.s
        for fi in range(len(self.files)):
            s.building(fi, "declare")
            self._declare(fi)
        s.building(-1, "declare")
        self.finish_binds()
        self._external_bases()
        for fi in range(len(self.files)):
            self._passthrough(fi)
        for fi in range(len(self.files)) if build_order is None else build_order:
            s.building(fi, "build")
            self._build(fi)
        s.building(-1, "solve")
        self.s.run()
        self.report_container_methods()
        for sid, (orig, dv) in self.decorated.items():
            vals = self.s.values_of(dv)
            if orig not in vals and vals:
                self.replaced.add(sid)
        return self

    def release(self) -> None:
        """Break the cycles through the solver's hooks (closures over this object) so that
        reference counting frees the whole analysis (see analyzer/gcpause.py)."""
        vars(self.s).clear()
        vars(self).clear()

    # ------------------------------------------------------------------ small helpers
    def const_var(self, t: tuple) -> int:
        vid = self.s.value(t)
        v = self._consts.get(vid)
        if v is None:
            before = self.s.shared()
            v = self._consts[vid] = self.s.var()
            self.s.add1(v, vid)
            self.s.restore(before)
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
            pv = self._params[sid] = [self.bind(fi, di, p[0], -1, -1) for p in plist]
            self._kinds[sid] = [(p[0], p[1]) for p in plist]
            for i, (_name, kind, default, _ann) in enumerate(plist):
                if default is not None:        # made now: a call built before this def reads it
                    self.defaults[(sid, i)] = self.s.var()
                if kind in ("v", "w"):
                    self.s.add1(pv[i], self.s.value(("s", self.alloc(("args", sid, kind)))))
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
                elif b is None and not rest and self.builtin(head) is not None:
                    out.append(f"<builtin>.{head}")        # Exception, dict, object
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
        for i, (_name, _kind, default, ann) in enumerate(plist):
            if default is not None:
                dv = self.ev(default, outer)
                if dv is not None:
                    s.copy(dv, self.defaults[(sid, i)])
                s.copy(self.defaults[(sid, i)], pv[i])
            cid = self._ann(ann, fi, di)
            if cid is not None:
                s.add1(pv[i], s.value(("a", cid)))
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
            callable that is known (outside the index); else to what the decorators returned.
            Decided at every fixpoint: once either holds, it stays bound so (both may)."""
            vals = self.s.values_of(cur)
            if ov in vals or TOP in vals or not any(self.s.vals[v][0] in _CALLABLE_KINDS for v in vals):
                self.s.add1(dv, ov)
            else:
                self.s.copy(cur, dv)
        self.s.at_fixpoint(settle, cur)

    def _return(self, fi: int, op: tuple) -> None:
        scope = op[1]
        if not scope:
            return
        sid = self.py.local_sym[fi][scope]
        if op[0] == "ret":
            for alt in _alternatives(op[2]):
                if self._returned_param(fi, scope, alt) is not None:
                    continue         # per call, what that call passed (see _passthrough)
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

    def _passthrough(self, fi: int) -> None:
        """The parameters each def returns unchanged (`return x`): a call's result is then what
        that call passed. Known before any constraint is built, since a call built earlier than
        the def's own file reads it."""
        fl = self.files[fi].get("flow")
        if not fl:
            return
        for op in fl["ops"]:
            if op[0] == "ret" and op[1]:
                for alt in _alternatives(op[2]):
                    i = self._returned_param(fi, op[1], alt)
                    if i is not None:
                        self.passthrough.setdefault(self.py.local_sym[fi][op[1]], set()).add(i)

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

    def stats(self) -> dict[str, Any]:
        return {"vars": len(self.s.pts), "values": len(self.s.vals), "steps": self.s.steps, "cut": self.s.cut,
                "merged": sum(len(m) for m in self.s._members.values()),
                "classes": len(self.s._members)}
