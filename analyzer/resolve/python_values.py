"""What Python values are, and what reading an attribute or an element of one gives (iteration:
python_ops.py).

Values (interned tuples, python_solver.Solver.value):
  ('f', sid)          a function, lambda or method object (unbound; staticmethods)
  ('c', cid)          a class object
  ('i', cid)          an instance of exactly that class (it was constructed here)
  ('a', cid)          an instance of cid or of a subclass (a declared type, `self`)
  ('b', sid, recv)    a bound method: function sid, receiver value id recv
  ('bs', sid, recv)   the same, named through super(): no dispatch to overrides
  ('m', module)       an indexed module
  ('x', dotted)       something outside the index, by the dotted path it was imported through
                      (`torch.ops._C.silu_and_mul`); builtins are `<builtin>.len`
  ('xi', dotted)      an instance of an outside class (`ext.Cls()`): its attributes are ('xt', ...)
  ('xt', dotted)      an outside name reached through an instance (`ext.Cls.fun`, a base class's
                      method): callable, but its own attributes are not followed
  ('k', const)        an int or short str constant (subscript keys, getattr names)
  ('s', aid)          a container (list/tuple/set/dict literal, comprehension, *args, ...)
  ('g', sid)          the generator a call of generator function sid returns
  ('p', pid)          a functools.partial object
  ('u', cid, recv)    super(): attribute lookup after class cid in recv's MRO
  ('cm', aid, name)   a container's method (`d.get`, `xs.append`)
Containers keep one variable per constant key (`d["a"]`, `xs[0]`), one for unknown keys ('*'),
and one for all of them ('all').
  ('S', root)         a class of containers, ('cS', root, name) its methods (python_classes.py)
"""
from __future__ import annotations

from .python_classes import ALL, Classes
from .python_solver import TOP

_MAX_EXTERNAL_DEPTH = 8


class Values(Classes):
    """Mixin of Flow: attribute loads and stores, subscripts, containers (iteration: python_ops)."""

    def _init_values(self) -> None:
        self.fields: dict[tuple[int, str], int] = {}
        self.elems: dict[tuple[int, object], int] = {}
        self.keys_of: dict[int, list] = {}
        self._key_watchers: dict[int, list] = {}
        self.kinds: dict[int, str] = {}
        self.slice_of: dict[int, tuple[int, int | None]] = {}   # slice container -> (original, start)          # container -> 'list' | 'tuple' | 'set' | 'dict' | ...
        self.lengths: dict[int, int] = {}
        self._loads: dict[tuple[int, str], int] = {}
        self._allocs: dict[object, int] = {}
        self._iters: dict[tuple[int, object], int] = {}
        self._members: dict[tuple, int | None] = {}
        self._plans: dict[tuple[int, str], tuple] = {}
        # Attribute names some statement stores (`x.a = ...`, class bodies, annotations, setattr
        # with a constant name): a field of any other name is never written, so never read.
        self.stored_attrs: set[str] = set()
        self._init_classes()

    # ------------------------------------------------------------------ containers
    def alloc(self, key: object, length: int | None = None, kind: str = "") -> int:
        """The container made at `key`. Its length and kind are the latest asked for: the same in
        a cold solve (one key, one call), and a call edited in place (python_incremental) makes
        its container again under the same key."""
        aid = self._allocs.get(key)
        if aid is None:
            aid = self._allocs[key] = len(self._allocs)
        if length is not None:
            self.lengths[aid] = length
        if kind:
            self.kinds[aid] = kind
        return aid

    def elem(self, aid: int, key: object) -> int:
        v = self.elems.get((aid, key))
        if v is None:
            before = self.s.shared()
            v = self._new_elem(aid, key)
            self.s.restore(before)
        return v

    def _new_elem(self, aid: int, key: object) -> int:
        v = self.elems[(aid, key)] = self.s.var()
        if aid in self._pools:
            before = self.s.class_structure()
            if key == "*":
                self.s.copy(self._pools[aid], v)
            pool = self._kpools.get(self.s.find(aid), {}).get(key)
            if pool is not None:
                self.s.copy(v, pool)
            self.s.restore(before)
        if key != ALL:
            self.keys_of.setdefault(aid, []).append(key)
            self.s.copy(v, self.elem(aid, ALL))
            for fn in self._key_watchers.get(aid, ()):
                fn(key)
        return v

    def each_key(self, aid: int, fn) -> None:
        """Run fn(key) for every constant key container aid has, now and later: keys appear as
        constraints are built, so reading the list once would depend on the build order."""
        fn = self.s.watcher(fn, aid)
        self._key_watchers.setdefault(aid, []).append(fn)
        for key in list(self.keys_of.get(aid, ())):
            fn(key)

    def container_var(self, aid: int) -> int:
        return self.const_var(("s", aid))

    def lazy_container(self, aid: int) -> int:
        """A variable that holds the container once some element holds something other than
        constants and outside names: a tuple of tensors never flows anywhere, so costs nothing."""
        t = self.s.var()
        cv = self.s.value(("s", aid))
        s = self.s

        def present(vals: set[int]) -> None:
            if any(v != TOP and s.minor[v] in (0, 3) for v in vals):   # not constants or outside names
                s.add1(t, cv)
        s.hook(self.elem(aid, ALL), present)
        return t

    def element_of(self, aid: int, key: object, t: int) -> None:
        """t ⊇ aid[key] for a constant key (negative indices counted from a known length)."""
        s = self.s
        if isinstance(key, int) and key < 0 and aid in self.lengths:
            key = self.lengths[aid] + key
        s.copy(self.elem(aid, key), t)
        if key != ALL:
            s.copy(self.elem(aid, "*"), t)

    # ------------------------------------------------------------------ attributes
    def field(self, cid: int, attr: str) -> int:
        v = self.fields.get((cid, attr))
        if v is None:
            v = self.fields[(cid, attr)] = self.s.var()
        return v

    def load(self, ov: int, attr: str) -> int:
        key = (ov, attr)
        t = self._loads.get(key)
        if t is None:
            before = self.s.shared()
            t = self._loads[key] = self.s.var()
            self.s.hook(ov, lambda vals: self._on_load(vals, attr, t))
            self.s.restore(before)
        return t

    def _on_load(self, vals: set[int], attr: str, t: int) -> None:
        s = self.s
        for vid in vals:
            if vid == TOP:
                s.add1(t, TOP)
                continue
            v = s.vals[vid]
            k = v[0]
            if k in ("i", "a"):
                self._instance_attr(vid, v[1], attr, t)
            elif k == "c":
                self._class_attr(v[1], attr, t)
            elif k == "m":
                s.copy(self.gvar(v[1], attr), t)
            elif k == "x":
                if len(v) == 2 and v[1].count(".") < _MAX_EXTERNAL_DEPTH:
                    s.add1(t, s.value(("x", f"{v[1]}.{attr}", "loaded")))
            elif k == "xi":
                s.add1(t, s.value(("xt", f"{v[1]}.{attr}")))
            elif k == "u":
                self._super_attr(v[1], v[2], attr, t)
            elif k == "s":
                s.add1(t, s.value(("cm", v[1], attr)))
            elif k == "S":
                s.add1(t, s.value(("cS", v[1], attr)))
            elif k == "k" and isinstance(v[1], str):
                s.add1(t, s.value(("xt", f"<builtin>.str.{attr}")))

    def member(self, cid: int, name: str, after: int | None = None) -> int | None:
        """The symbol `name` names on class cid through its MRO (after class `after`, for super())."""
        key = (cid, name, after)
        if key in self._members:
            return self._members[key]
        self._members[key] = found = self._member(cid, name, after)
        return found

    def _member(self, cid: int, name: str, after: int | None) -> int | None:
        mro = self.py.mro(cid)
        if after is not None:
            mro = mro[mro.index(after) + 1:] if after in mro else []
        for c in mro:
            sid = self.py.members[c].get(name)
            if sid is not None:
                return sid
        return None

    def external_base(self, cid: int) -> str | None:
        """Dotted name of the first base outside the index along cid's MRO, if any."""
        for c in self.py.mro(cid):
            ext = self.ext_bases.get(c)
            if ext:
                return ext[0]
        return None

    def _bound(self, sid: int, recv: int, cid: int) -> int:
        sym = self.py.g.symbols[sid]
        s = self.s
        if sym.kind == "class":
            return s.value(("c", sid))
        if "staticmethod" in sym.flags:
            return s.value(("f", sid))
        if "classmethod" in sym.flags:
            return s.value(("b", sid, s.value(("c", cid))))
        return s.value(("b", sid, recv))

    def _instance_plan(self, cid: int, attr: str) -> tuple:
        """(member symbol | None, is a property, field variables to read, outside value | None)
        of `attr` on instances of cid: the same for every receiver, so computed once."""
        key = (cid, attr)
        plan = self._plans.get(key)
        if plan is None:
            sid = self.member(cid, attr)
            prop = sid is not None and "property" in self.py.g.symbols[sid].flags
            # Every class's field of that name along the MRO, stored yet or not: which ones a
            # store has made by now depends on the order constraints are built in.
            fields = [self.field(c, attr) for c in self.py.mro(cid)] if attr in self.stored_attrs else []
            ext = None
            if sid is None and attr not in self.stored_attrs:
                base = self.external_base(cid)
                ext = self.s.value(("xt", f"{base}.{attr}")) if base is not None else None
            plan = self._plans[key] = (sid, prop, fields, ext)
        return plan

    def _instance_attr(self, recv: int, cid: int, attr: str, t: int) -> None:
        s = self.s
        sid, prop, fields, ext = self._instance_plan(cid, attr)
        if sid is not None:
            if prop:
                s.copy(self.ret(sid), t)
            else:
                s.add1(t, self._bound(sid, recv, cid))
        for f in fields:
            s.copy(f, t)
        if ext is not None:
            s.add1(t, ext)

    def _class_attr(self, cid: int, attr: str, t: int) -> None:
        s = self.s
        sid = self.member(cid, attr)
        if sid is not None:
            sym = self.py.g.symbols[sid]
            if "classmethod" in sym.flags:
                s.add(t, (s.value(("b", sid, s.value(("c", cid)))),))
            elif "property" not in sym.flags:
                s.add1(t, s.value(("c" if sym.kind == "class" else "f", sid)))
        if attr in self.stored_attrs:
            for c in self.py.mro(cid):
                s.copy(self.field(c, attr), t)
        if sid is None and attr not in self.stored_attrs:
            ext = self.external_base(cid)
            if ext is not None:
                s.add1(t, s.value(("xt", f"{ext}.{attr}")))

    def _super_attr(self, cid: int, recv: int, attr: str, t: int) -> None:
        s = self.s
        rv = s.vals[recv]
        if rv[0] not in ("i", "a", "c"):
            return
        sid = self.member(rv[1], attr, after=cid)
        if sid is not None:
            b = self._bound(sid, recv, rv[1]) if rv[0] != "c" else s.value(("b", sid, recv))
            bv = s.vals[b]
            # The method super() names is the one called: no dispatch to overrides.
            s.add1(t, s.value(("bs",) + bv[1:]) if bv[0] == "b" else b)
        else:
            ext = self.external_base(cid)
            if ext is not None:
                s.add1(t, s.value(("xt", f"{ext}.{attr}")))

    def store(self, ov: int, attr: str, val: int) -> None:
        def on(vals: set[int]) -> None:
            for vid in vals:
                v = self.s.vals[vid]
                if v[0] in ("i", "a", "c"):
                    self.s.copy(val, self.field(v[1], attr))
        self.s.hook(ov, on)

    # ------------------------------------------------------------------ subscripts
    def subscript(self, ov: int, key: object, kv: int | None, t: int, call) -> None:
        """t ⊇ ov[key]: key is a constant, ('sl', start) a slice, or None with kv its variable."""
        if key is None and kv is not None:
            done: set = set()
            self.s.at_fixpoint(lambda: self._subscript_keys(ov, kv, t, call, done), kv, done)
            return
        self.s.hook(ov, lambda vals: self._on_subscript(vals, key, kv, t, call))

    def _subscript_keys(self, ov: int, kv: int, t: int, call, done: set) -> None:
        """`ov[kv]`, at a fixpoint: by each constant kv holds, or by every key once kv holds
        anything else; `done` holds the keys already hooked (ALL for all of them)."""
        for key in _keys_now(self.s, kv):
            if key not in done:
                done.add(key)
                self.s.hook(ov, lambda vals, c=key: self._on_subscript(vals, c, kv, t, call))

    def _on_subscript(self, vals: set[int], key: object, kv: int | None, t: int, call) -> None:
        s = self.s
        for vid in vals:
            if vid == TOP:
                s.add1(t, TOP)
                continue
            v = s.vals[vid]
            if v[0] == "s":
                if isinstance(key, tuple) and key and key[0] == "sl":
                    self._slice(v[1], key[1], t)
                else:
                    self.element_of(v[1], ALL if key is None else key, t)
            elif v[0] == "S":               # any key of any member; a slice is the class itself
                if isinstance(key, tuple) and key and key[0] == "sl":
                    s.add1(t, vid)
                else:
                    self.read_class(v[1], ALL if key is None else key, t)
            elif v[0] in ("i", "a") and call is not None:
                self.implicit(call, vid, v[1], "__getitem__", [kv] if kv is not None else [], t)

    def _slice(self, aid: int, start, t: int) -> None:
        """`xs[start:]`: a container of the elements from start on (from a known length), else of
        all of them. A slice of a slice is a slice of the original, so loops like `xs = xs[1:]`
        make at most one container per start, not a new one per iteration."""
        base, offset = self.slice_of.get(aid, (aid, 0))
        n = self.lengths.get(base)
        if isinstance(start, int) and start >= 0 and offset is not None and n is not None:
            start = min(start + offset, n)
        else:
            start = None
        key = ("slice", base, start)
        new = self._allocs.get(key)
        if new is None:
            before = self.s.shared()
            new = self.alloc(key)
            self.slice_of[new] = (base, start)
            if start is not None:
                for i in range(start, n):
                    self.s.copy(self.elem(base, i), self.elem(new, i - start))
                self.lengths[new] = n - start
                self.s.copy(self.elem(base, "*"), self.elem(new, "*"))
            else:
                self.s.copy(self.elem(base, ALL), self.elem(new, "*"))
            self.s.restore(before)
        self.s.add1(t, self.s.value(("s", new)))

    def store_subscript(self, ov: int, key: object, kv: int | None, val: int) -> None:
        def on(vals: set[int], keys: list) -> None:
            for vid in vals:
                v = self.s.vals[vid]
                if v[0] == "s":
                    for k in keys:
                        self.s.copy(val, self.elem(v[1], k))
                elif v[0] == "S":
                    self.s.copy(val, self.class_write(v[1]))

        if key is not None or kv is None:
            self.s.hook(ov, lambda vals: on(vals, ["*" if key is None else key]))
            return

        done: set = set()

        def decide() -> None:
            fresh = [k for k in _keys_now(self.s, kv, "*") if k not in done]
            if fresh:
                done.update(fresh)
                self.s.hook(ov, lambda vals: on(vals, fresh))
        self.s.at_fixpoint(decide, kv, done)


def _keys_now(s, kv: int, other: object = ALL) -> list:
    """The keys a subscript by variable kv takes at this fixpoint: each constant it holds, and
    `other` (every key) when it holds nothing known or anything that is not a constant."""
    if not s.values_of(kv):
        return [other]
    keys = []
    for x in s.values_of(kv):
        t = s.vals[x]
        if t[0] == "k":
            keys.append(t[1])
        elif other not in keys:
            keys.append(other)
    return keys
