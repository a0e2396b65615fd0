"""Overloads ranked by argument types where they are known, by arity otherwise.

Each argument's type (a literal's, a typed variable's, a field's, a call's return) is put in a
category and compared with each parameter: same class or same kind of number 2, a derived class or
another number 1, unknown 0, a mismatch (a class for a number, an unrelated class, a string for a
class that is not a string, a pointer for a non-pointer) rules the overload out. The overloads with
the best total stay; if every overload is ruled out, the arity-fitting ones stay (no guessing)."""
from __future__ import annotations

from .cpp_eval import TV
from .cpp_types import clean, strip_ref, wrapper

_INTEGRAL = frozenset("""bool char short int long unsigned signed size_t ssize_t ptrdiff_t int8_t int16_t
int32_t int64_t uint8_t uint16_t uint32_t uint64_t uint longlong unsignedint unsignedlong
unsignedlonglong longint unsignedchar unsignedshort std::size_t std::int64_t std::int32_t std::uint64_t
std::uint32_t std::uint8_t std::int8_t intptr_t uintptr_t""".split())
_FLOATING = frozenset("float double longdouble half __half bfloat16 __nv_bfloat16 __nv_fp8_e4m3".split())
_STRINGS = frozenset("std::string string std::string_view string_view charconst* char* constchar*".split())


class CppOverloads:
    """Mixin of CppResolver: the overload a call's arguments select."""

    def pick_overload(self, sids: list[int], nargs: int, args: tuple, ctx) -> list[int]:
        if nargs < 0 or len(sids) <= 1:
            return sids if nargs < 0 else self.pick_arity(sids, nargs)
        fit = self.pick_arity(sids, nargs)
        if len(fit) <= 1 or not args or all(a is None for a in args):
            return fit
        arg_cats = [self._category(self.texpr_type((a[0], a[1], 0), ctx, 1)) if a is not None and a[0] != "lambda"
                    else None for a in args]
        if all(c is None for c in arg_cats):
            return fit
        scored = []
        for sid in fit:
            score = self._score(sid, arg_cats)
            if score is not None:
                scored.append((score, sid))
        if not scored:
            return fit
        best = max(s for s, _ in scored)
        return [sid for s, sid in scored if s == best]

    def pick_arity(self, sids: list[int], nargs: int) -> list[int]:
        fit = [s for s in sids if self._fits(s, nargs)]
        return fit or sids

    def _fits(self, sid: int, nargs: int) -> bool:
        if sid not in self.sym_info:
            return True
        lo, hi = self.arity(sid)
        return lo <= nargs and (hi == -1 or nargs <= hi) or lo == hi == 0 and nargs == 0

    def _score(self, sid: int, arg_cats: list) -> int | None:
        if sid not in self.sym_info:
            return 0
        fi, di, cls = self.sym_info[sid]
        d = self.files[fi]["defs"][di]
        tparams = set(d.get("tparams") or ()) | set(self.tparams.get(cls) or ())
        total = 0
        for cat, (_, ptext) in zip(arg_cats, d["params"]):
            if cat is None or not ptext or ptext.endswith("(*)"):
                continue
            base = strip_ref(clean(ptext)).rstrip("*")
            if base in tparams or "auto" in base:
                continue
            pcat = self._category(TV(ptext, d["ns"], cls, fi))
            s = self._compat(cat, pcat)
            if s < 0:
                return None
            total += s
        return total

    def _category(self, tv: TV | None):
        """('int' | 'float' | 'str' | 'null', '', depth) or ('class', canonical, depth); None unknown."""
        if tv is None:
            return None
        text = strip_ref(clean(tv.text))
        subst = dict(tv.subst)
        if text in subst:
            return self._category(subst[text])
        if text == "std::nullptr_t":
            return ("null", "", 1)
        if text in _STRINGS or text.replace("const", "") in ("char*",):
            return ("str", "", 0)
        depth = len(text) - len(text.rstrip("*"))
        base = text.rstrip("*")
        kind, short, args = wrapper(base)
        if kind == "pointer-like" and short in ("shared_ptr", "unique_ptr", "weak_ptr"):
            inner = self._category(tv._replace(text=args[0]))
            return (inner[0], inner[1], inner[2] + 1) if inner is not None else None
        if base in _INTEGRAL or base.replace("unsigned", "") in _INTEGRAL:
            return ("int", "", depth)
        if base in _FLOATING:
            return ("float", "", depth)
        if base == "char" and depth == 1:
            return ("str", "", 0)
        found = self.classes_of(tv._replace(text=base))
        if len(found) == 1:
            return ("class", found[0][0], depth)
        return None

    def _compat(self, a, p) -> int:
        if p is None:
            return 0
        ak, ac, ad = a
        pk, pc, pd = p
        if ak == "null":
            return 2 if pd >= 1 else -1 if pk == "class" else 0
        if ad != pd:
            if pk == "class" and pd == 0 and ak == "class" and ad == 1:
                return -1
            return 0 if pd and not pc else -1
        if ak == pk == "class":
            if ac == pc:
                return 2
            if pc in self._ancestors(ac):
                return 1
            return 0 if self._converts(pc) else -1
        if ak == pk:
            return 2
        if {ak, pk} <= {"int", "float"}:
            return 1
        if pk == "class":
            return 0 if self._converts(pc) else -1
        return -1

    def _converts(self, cname: str) -> bool:
        """Whether a class has a one-argument constructor (an implicit conversion may apply)."""
        ctors = self.members.get(cname, {}).get(cname.rsplit("::", 1)[-1], ())
        return any(self._fits(s, 1) for s in ctors)
