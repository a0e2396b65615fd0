"""C++ bases and overrides through every kind of base.

- Bases are resolved in each class's own scope; a base that is the class template's own
  parameter (`template <class B> class Mixin : public B`) is instantiated from every use: a class
  deriving from `Mixin<Iface>` makes `Iface` a base of `Mixin` (and so of the class).
- An override is the nearest same-name, same-arity (same parameter types where several fit)
  method on every path up the base graph: a class deriving from an interface and a mixin
  overrides both; a diamond's apex is reached once.
- CRTP (`class X : public Base<X>`): `static_cast<D*>(this)` and a `D& derived()` in `Base<D>`
  denote the classes that pass themselves as D.
"""
from __future__ import annotations

from .cpp_types import head_and_args


class CppOverrides:
    """Mixin of CppResolver: bases, override pairs, CRTP instantiations."""

    def _resolve_bases(self) -> None:
        param_bases: dict[str, list[int]] = {}   # class template -> indexes of parameters it derives from
        for cname, sids in self.classes.items():
            resolved, with_args = [], []
            for sid in sids:
                fi, di, _ = self.sym_info[sid]
                d = self.files[fi]["defs"][di]
                params = d.get("tparams") or []
                for b, raw in zip(d["bases"], d.get("bases_t") or d["bases"]):
                    if b in params:
                        param_bases.setdefault(cname, []).append(params.index(b))
                        continue
                    target = self.lookup_class(b, d["ns"], d["qual"], fi)
                    if target and target != cname and target not in resolved:
                        resolved.append(target)
                        with_args.append((target, head_and_args(raw)[1], d["ns"], fi))
            self.bases[cname] = resolved
            self.base_args[cname] = [(t, a) for t, a, _, _ in with_args]
            self._base_ctx[cname] = [(ns, fi) for _, _, ns, fi in with_args]
        self._instantiate_mixins(param_bases)
        for cname, bases in self.bases.items():
            for b in bases:
                self.subclasses.setdefault(b, []).append(cname)

    def _instantiate_mixins(self, param_bases: dict[str, list[int]]) -> None:
        """`class Impl : public Mixin<Iface>` with `template <class B> class Mixin : public B`."""
        for cname, pairs in self.base_args.items():
            for (base, args), (ns, fi) in zip(pairs, self._base_ctx.get(cname, ())):
                for k in param_bases.get(base, ()):
                    if k >= len(args):
                        continue
                    arg = self.lookup_class(args[k], ns, cname, fi)
                    if arg and arg != base and arg not in self.bases[base] and base not in self._ancestors(arg):
                        self.bases[base].append(arg)

    def _ancestors(self, cname: str) -> set[str]:
        out, stack = set(), list(self.bases.get(cname, ()))
        while stack:
            c = stack.pop()
            if c not in out:
                out.add(c)
                stack.extend(self.bases.get(c, ()))
        return out

    def find_overrides(self) -> None:
        """Override pairs: per method, the nearest match on every path up the base graph."""
        for cname, members in self.members.items():
            if not self.bases.get(cname):
                continue
            for mname, sids in members.items():
                for sid in sids:
                    for other in self._overridden(cname, mname, sid):
                        self.g.overrides.add((sid, other))

    def _overridden(self, cname: str, mname: str, sid: int) -> list[int]:
        arity = self.arity(sid)[1]
        key = self._param_key(self.def_of(sid))
        out, seen = [], {cname}
        stack = list(reversed(self.bases.get(cname, ())))
        while stack:
            b = stack.pop()
            if b in seen:
                continue
            seen.add(b)
            cands = [s for s in self.members.get(b, {}).get(mname, ()) if self.arity(s)[1] == arity]
            if len(cands) > 1:
                cands = [s for s in cands if self._param_key(self.def_of(s)) == key] or cands
            if cands:
                out.extend(c for c in cands if c not in out)
                continue
            stack.extend(reversed(self.bases.get(b, ())))
        return out

    def crtp_classes(self, template: str, param: str) -> list[str]:
        """Classes X deriving from `template<..., X, ...>` at the position of `param` (CRTP)."""
        params = self.tparams.get(template) or []
        if param not in params:
            return []
        k = params.index(param)
        out = []
        for sub in self.subclasses.get(template, ()):
            for base, args in self.base_args.get(sub, ()):
                if base == template and k < len(args):
                    fi = self.class_file(sub)
                    ns = self.class_def(sub)["ns"]
                    if self.lookup_class(args[k], ns, sub, fi) == sub:
                        out.append(sub)
        return sorted(set(out))
