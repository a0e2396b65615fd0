"""Evaluating Python expressions and binding assignment targets into the value-flow graph:
names (through python_names), attributes, subscripts (with `d['a']` pseudo-names for constant
keys on plain names), literals and comprehensions (containers), lambdas, and call sites."""
from __future__ import annotations

from .python_apply import MODELLED_BUILTINS, Call
from .python_values import ALL

# Outside calls the analysis models, so their arguments are followed.
_MODELLED = frozenset({"functools.partial"} | {f"<builtin>.{n}" for n in MODELLED_BUILTINS})


def pseudo(expr) -> str | None:
    """`d['a']['b']` for a subscript chain with constant keys on a plain name, else None."""
    if expr is None or expr[0] != "s" or expr[2] is None or expr[2][0] != "k":
        return None
    obj = expr[1]
    base = obj[1] if obj[0] == "n" else pseudo(obj)
    return f"{base}[{expr[2][1]!r}]" if base else None


def _base_name(expr):
    while expr[0] == "s":
        expr = expr[1]
    return expr if expr[0] == "n" else None


class Eval:
    """Mixin of Flow: expressions and assignment targets."""

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
            name = pseudo(pat)
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
        if not lst and not attrs and name not in self.globs.get((fi, scope), ()):
            b = self.builtin(name)
            return f"<builtin>.{name}" if b is not None else None
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
        name = pseudo(e)
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
        if k != "C" and all(x is None or x[0] == "k" for x in elements(e)):
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
        ext = self._static_external(callee, cx) if callee is not None and callee[0] in ("a", "n") else None
        if ext is not None and ext not in _MODELLED:
            # A call of something outside the index, known without solving: its arguments are
            # not followed (nothing in the index runs them), nested calls are sites of their own.
            call = Call(("site", fi, k), self.py.local_sym[fi][owner], line, [], [], r, "call", cx)
            self.external(call, ext)
            return r
        fn = self.ev(callee, cx)
        if fn is None:
            return r
        made: list[Call] = []
        caller = self.py.local_sym[fi][owner]

        def on(vals: set[int]) -> None:
            # Arguments are evaluated once the callee is known to be something: most calls in
            # tensor code are on receivers the analysis never learns, and their arguments cost
            # nothing then. (Nested calls are sites of their own, built regardless.)
            if not made:     # made once, kept when this hook runs again: the file's structure
                before = self.s.owned_by(fi)
                pos = [("*", self.ev(a[1], cx)) if a is not None and a[0] == "*" else self.ev(a, cx) for a in pos_e]
                kw = [(name, self.ev(a, cx)) for name, a in kw_e]
                made.append(Call(("site", fi, k), caller, line, pos, kw, r, "call", cx, list(pos_e)))
                self.s.restore(before)
            self._apply_all(made[0], vals)
        self.s.hook(fn, on)
        return r


def alternatives(e) -> list:
    """`a if c else b` / `a or b` -> [a, b] (flattened); anything else -> [e]."""
    if e is not None and e[0] == "u":
        return [x for alt in e[1] for x in alternatives(alt)]
    return [e]


def elements(e) -> list:
    """The element (value) expressions of a list/tuple/set or dict literal."""
    if e[0] == "L":
        return [x[1] if x is not None and x[0] == "*" else x for x in e[2]]
    return [x for _k, x in e[1]]


def update_writes(fact) -> list:
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


def stored(pat) -> list[str]:
    """Attribute names a target pattern writes (`self.x`, `a.b.c` -> x, c)."""
    if pat is None:
        return []
    if pat[0] == "a":
        return [pat[2]]
    if pat[0] == "t":
        return [x for p in pat[1] for x in stored(p)]
    if pat[0] == "*":
        return stored(pat[1])
    return []


def names(pat) -> list[str]:
    if pat is None:
        return []
    if pat[0] == "n":
        return [pat[1]]
    if pat[0] in ("t",):
        return [x for p in pat[1] for x in names(p)]
    if pat[0] == "*":
        return names(pat[1])
    return []
