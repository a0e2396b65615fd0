"""Operations on C++ value types: member access (`.`/`->`, smart pointers and iterators
opened), containers (`at`, `front`, `[]`, `begin`/`find` iterators, `data()`), pairs and structured
bindings, dereference, range-for elements, aliases expanded (`using BlockMap = std::map<...>`),
and user-written operators (`operator[]`, `operator*`, `operator()`)."""
from __future__ import annotations

from .cpp_eval import TV
from .cpp_types import ELEMENT_METHODS, ITERATOR_METHODS, clean, head_and_args, strip_ref, wrapper

_MAX_EVAL = 12
_SMART_OWN = frozenset({"reset", "use_count", "release", "swap", "owner_before", "has_value", "emplace"})


class CppValues:
    """Mixin of CppResolver: what an operation on a value of a known type yields."""

    # ------------------------------------------------------------------ operations on types
    def expand(self, tv: TV | None, depth: int = 0) -> TV | None:
        """A type alias or typedef replaced by what it names (`BlockMap` -> `std::map<int, Block*>`),
        read in the alias's own scope; pointer and reference suffixes kept. Memoized."""
        if tv is None:
            return None
        hit = self._expand_cache.get(tv)
        if hit is None:
            hit = self._expand_cache[tv] = self._expand(tv)
        return hit

    def _expand(self, tv: TV) -> TV | None:
        for _ in range(4):
            if tv is None:
                return None
            text = clean(tv.text)
            core = text.rstrip("&*")
            suffix = text[len(core):]
            head, args = head_and_args(core)
            if not head or head in dict(tv.subst) or "<" in head:
                return tv
            found = self.find_name(head, tv.ns, tv.cls, tv.fi, "class")
            if not found or found in self.classes or found not in self.aliases:
                return tv
            text, scope, _ = self.aliases[found][0]
            cls = scope if scope in self.classes else ""
            ns = self.class_def(cls)["ns"] if cls else scope
            tv = TV(clean(text) + suffix, ns, cls, self.class_file(cls) if cls else self._alias_file(found))
        return tv

    def member_type(self, tv: TV, seg, depth: int) -> TV | None:
        """Type of `tv.name` / `tv->name` / `tv.name()` with the segment's suffixes applied."""
        name, _raw, suffix = seg
        tv = self.expand(tv)
        call = suffix.startswith("()")
        rest = suffix[2:] if call else suffix
        text = strip_ref(clean(tv.text))
        kind, short, args = wrapper(text)
        out = None
        if kind == "pointer-like" and call and (name in _SMART_OWN or name in ("get", "value", "lock")):
            out = self._wrapper_method(tv, short, args, name)
        elif kind in ("seq", "map") and call:
            out = self._container_method(tv, kind, args, name)
        elif kind == "pair" and not call and name in ("first", "second"):
            out = self._tuple_part(tv, 0 if name == "first" else 1)
        else:
            if kind in ("ptr", "pointer-like"):
                tv = self.deref(tv)
                if tv is None:
                    return None
                inner = wrapper(strip_ref(clean(tv.text)))
                if inner[0] == "pair" and not call and name in ("first", "second"):
                    return self.apply_suffix(self._tuple_part(tv, 0 if name == "first" else 1), rest, depth)
            out = self._class_member(tv, name, call, depth)
        return self.apply_suffix(out, rest, depth)

    def _class_member(self, tv: TV, name: str, call: bool, depth: int) -> TV | None:
        for cname, subst in self.classes_of(tv, depth + 1):
            if call:
                found, _ = self.methods(cname, name)
                if found:
                    return self.return_type(found[0], subst)
            else:
                hit = self.field(cname, name)
                if hit is not None:
                    (text, ns), owner = hit
                    return TV(text, ns, owner, self.class_file(owner), subst)
        return None

    def _wrapper_method(self, tv: TV, short: str, args: list, name: str) -> TV | None:
        if name == "get" and short in ("shared_ptr", "unique_ptr"):
            return tv._replace(text=args[0] + "*")
        if name == "lock" and short == "weak_ptr":
            return tv._replace(text=f"std::shared_ptr<{args[0]}>")
        if name == "value" and short == "optional":
            return tv._replace(text=args[0])
        return None

    def _container_method(self, tv: TV, kind: str, args: list, name: str) -> TV | None:
        if name in ELEMENT_METHODS or name == "operator[]":
            return tv._replace(text=args[1] if kind == "map" and len(args) > 1 else args[0])
        if name == "data" and kind == "seq":
            return tv._replace(text=args[0] + "*")
        if name in ITERATOR_METHODS:
            elem = f"std::pair<{args[0]},{args[1]}>" if kind == "map" and len(args) > 1 else args[0]
            return tv._replace(text=f"__iter<{elem}>")
        return None

    def deref(self, tv: TV | None) -> TV | None:
        tv = self.expand(tv)
        if tv is None:
            return None
        text = strip_ref(clean(tv.text))
        kind, _short, args = wrapper(text)
        if kind in ("ptr", "pointer-like", "array"):
            return tv._replace(text=args[0])
        subst = dict(tv.subst)
        if text in subst:
            return self.deref(subst[text])
        return self._operator_type(tv, "operator*")

    def element_of(self, tv: TV | None, depth: int) -> TV | None:
        """Type of the elements a range-for over `tv` visits."""
        tv = self.expand(tv)
        if tv is None or depth > _MAX_EVAL:
            return None
        text = strip_ref(clean(tv.text))
        kind, _short, args = wrapper(text)
        if kind == "seq" or kind == "array":
            return tv._replace(text=args[0])
        if kind == "map" and len(args) > 1:
            return tv._replace(text=f"std::pair<{args[0]},{args[1]}>")
        if kind in ("ptr", "pointer-like"):
            return self.element_of(self.deref(tv), depth + 1)
        subst = dict(tv.subst)
        if text in subst:
            return self.element_of(subst[text], depth + 1)
        begin = self._operator_type(tv, "begin")
        return self.deref(begin) if begin is not None else self._alias_element(tv, depth)

    def _alias_element(self, tv: TV, depth: int) -> TV | None:
        head, _ = head_and_args(strip_ref(clean(tv.text)))
        found = self.find_name(head, tv.ns, tv.cls, tv.fi, "class")
        if found and found in self.aliases and found not in self.classes:
            text, scope, _ = self.aliases[found][0]
            cls = scope if scope in self.classes else ""
            return self.element_of(TV(text, self.class_def(cls)["ns"] if cls else scope, cls, tv.fi), depth + 1)
        return None

    def _tuple_part(self, tv: TV | None, i: int) -> TV | None:
        if tv is None:
            return None
        kind, _short, args = wrapper(strip_ref(clean(tv.text)))
        if kind == "pair" and i < len(args):
            return tv._replace(text=args[i])
        return None

    def apply_suffix(self, tv: TV | None, suffix: str, depth: int) -> TV | None:
        i = 0
        while tv is not None and i < len(suffix):
            if suffix.startswith("[]", i):
                tv = self._subscript(tv)
                i += 2
            elif suffix.startswith("()", i):
                tv = self._operator_type(tv, "operator()")
                i += 2
            elif suffix[i] == "*":
                tv = self.deref(tv)
                i += 1
            elif suffix[i] == "&":
                tv = tv._replace(text=tv.text + "*")
                i += 1
            else:
                return None
        return tv

    def _subscript(self, tv: TV) -> TV | None:
        tv = self.expand(tv)
        text = strip_ref(clean(tv.text))
        kind, _short, args = wrapper(text)
        if kind == "seq":
            return tv._replace(text=args[0])
        if kind == "map" and len(args) > 1:
            return tv._replace(text=args[1])
        if kind in ("ptr", "array"):
            return tv._replace(text=args[0])
        return self._operator_type(tv, "operator[]")

    def _operator_type(self, tv: TV, op: str) -> TV | None:
        for cname, subst in self.classes_of(tv):
            found, _ = self.methods(cname, op)
            if found:
                return self.return_type(found[0], subst)
        return None
