"""The statements of Python value flow that are not assignments: `for` and comprehension loops
(iteration: container elements, generator yields, `__iter__`/`__next__`), `with` (`__enter__`/
`__exit__`, generator context managers), `raise X` (`X.__init__`), `except T as e` (an instance of
T), and annotations (`x: T` in a class body, `self.x: T`)."""
from __future__ import annotations

from .python_apply import Call
from .python_solver import TOP
from .python_values import ALL


class Ops:
    """Mixin of Flow: one method per op kind."""

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

    # ------------------------------------------------------------------ iteration
    def iterate(self, ov: int, call) -> int:
        """What `for x in ov` binds x to (container elements, generator yields, __iter__/__next__)."""
        key = (ov, call.key if call is not None else None)
        t = self._iters.get(key)
        if t is None:
            # Without a call, shared by every reader; with one, the call's file owns it (a
            # re-solve of that file evicts it: python_incremental._evict_file).
            before = self.s.shared() if call is None else None
            t = self._iters[key] = self.s.var()
            self.s.hook(ov, lambda vals: self._on_iterate(vals, t, call, True))
            if call is None:
                self.s.restore(before)
        return t

    def _on_iterate(self, vals: set[int], t: int, call, first: bool) -> None:
        s = self.s
        for vid in vals:
            if vid == TOP:
                s.add1(t, TOP)
                continue
            v = s.vals[vid]
            k = v[0]
            if k == "s":
                s.copy(self.elem(v[1], ALL), t)
            elif k == "S":
                self.read_class(v[1], ALL, t)
            elif k == "g":
                s.copy(self.yld(v[1]), t)
            elif k in ("i", "a") and call is not None:
                if first:
                    it = s.var()
                    self.implicit(call, vid, v[1], "__iter__", [], it)
                    s.hook(it, lambda vs: self._on_iterate(vs, t, call, False))
                else:
                    self.implicit(call, vid, v[1], "__next__", [], t)
