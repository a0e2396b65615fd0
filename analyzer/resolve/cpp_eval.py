"""C++ expression types: what class a receiver chain's value has.

A type is a TV: its text (cv-qualifiers dropped) and the context to read it in (namespace, class,
file) plus the template arguments in force (`Singleton<Env>` reads `GetInstance`'s
`std::shared_ptr<T>` with T = Env, in the caller's context). Values come from declared types,
`auto` initializers, function and method return types, fields (through bases), range-for and
structured-binding elements, subscripts and dereferences of containers, iterators, smart
pointers and optionals, casts, type and value aliases, simple traits (`Traits<X>::value_type`
picks the specialization for X, with the engine's `defines` substituted: ACTIVE_DEVICE_TYPE), and
CRTP (`static_cast<D*>(this)` in `Base<D>`: the classes deriving from `Base<themselves>`)."""
from __future__ import annotations

from typing import NamedTuple

from .cpp_types import clean, head_and_args, parse_chain, scope_args, strip_ref, wrapper

_MAX_EVAL = 12
_CASTS = frozenset({"static_cast", "dynamic_cast", "reinterpret_cast", "const_cast", "static_pointer_cast",
                    "dynamic_pointer_cast", "std::static_pointer_cast", "std::dynamic_pointer_cast",
                    "std::const_pointer_cast", "std::reinterpret_pointer_cast"})


class TV(NamedTuple):
    text: str
    ns: str
    cls: str
    fi: int
    subst: tuple = ()     # ((template parameter, TV), ...)


class Ctx(NamedTuple):
    d: dict      # the def whose body is read
    cls: str     # the class its `this` is
    fi: int
    line: int = 1 << 30   # where in the body (locals declared after it are not visible)


class CppEval:
    """Mixin of CppResolver: types of chains, classes of types."""

    # ------------------------------------------------------------------ types -> classes
    def classes_of(self, tv: TV | None, depth: int = 0) -> list[tuple[str, tuple]]:
        """[(class canonical, template arguments as subst)] a type denotes; several for CRTP.
        Memoized (the tables are complete when calls are resolved)."""
        if tv is None or depth > _MAX_EVAL:
            return []
        hit = self._classes_cache.get(tv)
        if hit is None:
            hit = self._classes_cache[tv] = self._classes_of(tv, depth)
        return hit

    def _classes_of(self, tv: TV, depth: int) -> list[tuple[str, tuple]]:
        text = clean(tv.text)
        for _ in range(8):
            text = strip_ref(text).rstrip("*")
            kind, _short, args = wrapper(text)
            if kind != "pointer-like":
                break
            text = args[0]
        if not text:
            return []
        if text in dict(tv.subst):
            return self.classes_of(dict(tv.subst)[text], depth + 1)
        comps = scope_args(text)
        if len(comps) > 1 and any(a for _, a in comps[:-1]):
            return self._member_type(comps, tv, depth)
        head, args = head_and_args(text)
        found = self.find_name(head, tv.ns, tv.cls, tv.fi, "class")
        if not found:
            params = self.tparams.get(tv.cls) or []
            if head in params:
                return [(c, ()) for c in self.crtp_classes(tv.cls, head)]
            return []
        if found not in self.classes:
            return self._alias_classes(found, None, depth)
        return [(found, self._subst_for(found, args, tv))]

    def _subst_for(self, cname: str, args: list[str], tv: TV) -> tuple:
        params = self.tparams.get(cname) or []
        return tuple((p, TV(a, tv.ns, tv.cls, tv.fi, tv.subst)) for p, a in zip(params, args))

    def _alias_classes(self, canon: str, spec: str | None, depth: int) -> list[tuple[str, tuple]]:
        entries = self.aliases.get(canon) or []
        if not entries:
            return []
        chosen = [e for e in entries if spec is not None and e[2] == spec] or \
                 [e for e in entries if e[2] is None] or entries[:1]
        text, scope, _ = chosen[0]
        cls = scope if scope in self.classes else ""
        ns = self.class_def(cls)["ns"] if cls else scope
        return self.classes_of(TV(text, ns, cls, self.class_file(cls) if cls else self._alias_file(canon)), depth + 1)

    def _alias_file(self, canon: str) -> int:
        return self._alias_fi.get(canon, 0)

    def _member_type(self, comps: list, tv: TV, depth: int) -> list[tuple[str, tuple]]:
        """`Traits<X>::value_type`: the member type of the class (specialization) X selects."""
        owner_text = "::".join(c if not a else f"{c}<{','.join(a)}>" for c, a in comps[:-1])
        owners = self.classes_of(TV(owner_text, tv.ns, tv.cls, tv.fi, tv.subst), depth + 1)
        member = comps[-1][0]
        for cname, subst in owners:
            canon = f"{cname}::{member}"
            if canon in self.classes:
                return [(canon, ())]
            if canon in self.aliases:
                spec = self._spec_of(comps[-2][1], tv, depth)
                return self._alias_classes(canon, spec, depth)
        return []

    def _spec_of(self, args: list[str], tv: TV, depth: int) -> str:
        """Specialization key of template arguments: parameters and engine defines substituted."""
        subst = dict(tv.subst)
        out = []
        for a in args:
            for _ in range(4):
                if a in subst:
                    nxt = subst[a]
                    a, subst = nxt.text, dict(nxt.subst)
                elif a in self.defines:
                    a = self.defines[a]
                else:
                    break
            out.append(a)
        return ",".join(out)

    # ------------------------------------------------------------------ chains -> types
    def chain_type(self, segs, ctx: Ctx, depth: int = 0) -> tuple[TV | None, bool]:
        """(type of the value a chain denotes, whether it was inferred rather than `this`)."""
        if not segs or depth > _MAX_EVAL:
            return None, False
        first = segs[0]
        tv, inferred, rest = self._head_type(first, ctx, depth)
        tv = self.apply_suffix(tv, rest, depth)
        for seg in segs[1:]:
            if tv is None:
                return None, inferred
            tv = self.member_type(tv, seg, depth)
        # Only `this` itself is known without inference; `this->field_` has an inferred type.
        return tv, inferred or len(segs) > 1 or bool(rest)

    def _head_type(self, seg, ctx: Ctx, depth: int) -> tuple[TV | None, bool, str]:
        name, raw, suffix = seg
        d, cls, fi, _line = ctx
        if name == "this":
            return (TV(f"::{cls}*", "", "", fi) if cls else None), False, suffix
        if name in _CASTS or name.rsplit("::", 1)[-1] in _CASTS:
            _, args = head_and_args(raw)
            return (TV(args[0], d["ns"], cls, fi) if args else None), True, suffix[2:]
        if suffix.startswith("()"):
            return self._call_type(name, raw, ctx, depth), True, suffix[2:]
        texpr = self.var_at(d, name, ctx.line)
        if texpr is not None:
            return self.texpr_type(texpr, ctx._replace(line=texpr[3] - 1), depth + 1), True, suffix
        if cls and "::" not in name:
            hit = self.field(cls, name)
            if hit is not None:
                (text, ns), owner = hit
                return TV(text, ns, owner, self.class_file(owner)), True, suffix
        return self._global_type(name, ctx, depth), True, suffix

    def _global_type(self, name: str, ctx: Ctx, depth: int) -> TV | None:
        """Type of a namespace-scope variable (`static std::shared_ptr<Barrier> s_barrier;`,
        `constexpr auto kHalf = kFE5M10;`), read in its own scope."""
        canon = self.find_name(name, ctx.d["ns"], ctx.cls, ctx.fi, "var")
        entry = self.globals.get(canon) if canon else None
        if entry is None or depth > _MAX_EVAL:
            return None
        kind, text, ns, fi = entry
        if kind == "ann":
            return TV(text, ns, "", fi)
        segs = parse_chain(text)
        return self.chain_type(segs, Ctx({"vars": {}, "ns": ns}, "", fi), depth + 1)[0] if segs else None

    def var_at(self, d: dict, name: str, line: int):
        """The TypeExpr of local `name` as seen from `line`: its nearest declaration before it."""
        vars_ = d["vars"]
        first = vars_.get(name)
        if first is None:
            return None
        alts = self._var_alternatives(d).get(name)
        if not alts:
            return first if first[3] <= line else None
        best = None
        for texpr in alts:   # ascending by line
            if texpr[3] > line:
                break
            best = texpr
        return best

    def _var_alternatives(self, d: dict) -> dict[str, list]:
        """name -> its declarations by line, for the locals declared more than once."""
        key = id(d)
        hit = self._alt_cache.get(key)
        if hit is None or hit[0] is not d:
            alts: dict[str, list] = {}
            for k, texpr in d["vars"].items():
                if "@" in k:
                    alts.setdefault(k.split("@", 1)[0], []).append(texpr)
            for name, lst in alts.items():
                lst.append(d["vars"][name])
                lst.sort(key=lambda t: t[3])
            hit = self._alt_cache[key] = (d, alts)
        return hit[1]

    def _call_type(self, name: str, raw: str, ctx: Ctx, depth: int) -> TV | None:
        """Type of `f()`, `Cls::f()`, `Tmpl<X>::f()` or `Cls(...)` (a temporary)."""
        d, cls, fi, _line = ctx
        if cls and "::" not in name:
            found, _ = self.methods(cls, name)
            if found:
                return self.return_type(found[0], ())
        canon = self.lookup(name, d["ns"], cls, fi, "func")
        if not canon:
            aliased = self.lookup_class(raw, d["ns"], cls, fi)   # `PoolAlias(2)`: an aliased class
            return TV(raw, d["ns"], cls, fi) if aliased else None
        if canon in self.classes:
            return TV(f"::{canon}", "", "", fi)
        sids = self.by_name.get(canon, [])
        subst = ()
        comps = scope_args(raw)
        if len(comps) > 1 and comps[-2][1]:
            owner = self.symbols_class(sids[0]) if sids else ""
            if owner:
                subst = self._subst_for(owner, comps[-2][1], TV("", d["ns"], cls, fi))
        return self.return_type(sids[0], subst) if sids else None

    def symbols_class(self, sid: int) -> str:
        return self.sym_info[sid][2] if sid in self.sym_info else ""

    def return_type(self, sid: int, subst: tuple) -> TV | None:
        if sid not in self.sym_info:
            return None
        fi, di, cls = self.sym_info[sid]
        d = self.files[fi]["defs"][di]
        if self.g.symbols[sid].kind in ("class", "struct"):
            return TV(f"::{self.g.symbols[sid].name}", "", "", fi)
        ret = d["ret"]
        if not ret or "auto" in ret and "->" not in ret:
            ret = self._declared_return(sid) or ret
        if not ret or clean(ret) in ("auto", "decltype(auto)", "void"):
            return None
        return TV(ret, d["ns"], cls, fi, subst)

    def _declared_return(self, sid: int) -> str:
        """The declaration's return type where the definition's is `auto` (or missing)."""
        at = self.decl_info.get(sid)
        return (self.files[at[0]]["defs"][at[1]]["ret"] or "") if at else ""

    def texpr_type(self, texpr: tuple, ctx: Ctx, depth: int) -> TV | None:
        kind, text = texpr[0], texpr[1]
        d, cls, fi, _line = ctx
        if depth > _MAX_EVAL:
            return None
        if kind == "ann":
            return TV(text, d["ns"], cls, fi)
        if kind in ("expr", "call"):
            segs = parse_chain(text + "()" if kind == "call" else text)
            return self.chain_type(segs, ctx, depth + 1)[0] if segs else None
        if kind == "elem":
            segs = parse_chain(text)
            return self.element_of(self.chain_type(segs, ctx, depth + 1)[0], depth) if segs else None
        if kind == "bind":
            i, _, chain = text.partition(":")
            segs = parse_chain(chain)
            elem = self.element_of(self.chain_type(segs, ctx, depth + 1)[0], depth) if segs else None
            return self._tuple_part(elem, int(i))
        return None
