"""C++ calls that are not written as calls: constructions (`new Foo(...)`, `Foo f(...)`,
`make_shared<Foo>(...)`, a `Foo(...)` temporary of an aliased class), member-initializer lists
(`Derived(...) : Base(a), pool_(n)`), user-written operators (`x = y`, `os << v`, `a == b`), and
which free functions a file can see at all."""
from __future__ import annotations

from .cpp_eval import TV, Ctx
from .cpp_types import clean, head_and_args, wrapper

_SOURCE_SUFFIXES = (".cc", ".cpp", ".cxx", ".c", ".cu")


class CppSpecial:
    """Mixin of CppResolver: constructions, initializers, operators, file-local functions."""

    def _construction(self, text: str, nargs: int, args: tuple, ctx: Ctx) -> list:
        """Foo's written constructors (the class itself where it has none: a construction is
        still a use of the class)."""
        d, cls, fi, _line = ctx
        out = []
        for cname, _ in self.classes_of(TV(text, d["ns"], cls, fi)):
            ctors = self.members.get(cname, {}).get(cname.rsplit("::", 1)[-1])
            sids = self.pick_overload(ctors, nargs, args, ctx) if ctors else self.classes[cname][:1]
            out += [(s, "exact", "call") for s in sids]
        return out

    def _initializer(self, name: str, text: str, nargs: int, args: tuple, ctx: Ctx) -> list:
        """`pool_(n)` constructs the member's type; `Base(a)` calls the base's constructor."""
        d, cls, fi, _line = ctx
        if cls and "::" not in name:
            own = self.attrs.get(cls, {}).get(name)
            if own is not None:
                tv = TV(own[0], own[1], cls, self.class_file(cls))
                if not self.plain_class(tv):
                    return []   # a pointer, smart pointer, reference or container member: no constructor of ours
                return [(s, "exact", "call") for s in self._written_ctors(tv, nargs, args, ctx)]
        tv = TV(text, d["ns"], cls, fi)
        return [(s, "exact", "call") for s in self._written_ctors(tv, nargs, args, ctx)]

    def plain_class(self, tv: TV, through_reference: bool = False) -> bool:
        """Whether a type is a class by value (not a pointer, smart pointer, container; nor a
        reference, unless `through_reference`: an assignment to a reference assigns the object)."""
        text = clean(self.expand(tv).text)
        if through_reference:
            text = text.rstrip("&")
        return not text.endswith("&") and wrapper(text)[0] == ""

    def _written_ctors(self, tv: TV, nargs: int, args: tuple, ctx: Ctx) -> list[int]:
        out = []
        for cname, _ in self.classes_of(tv):
            ctors = self.members.get(cname, {}).get(cname.rsplit("::", 1)[-1])
            if ctors and not self._copies(cname, ctors, nargs, args, ctx):
                out += self.pick_overload(ctors, nargs, args, ctx)
        return out

    def _copies(self, cname: str, ctors: list[int], nargs: int, args: tuple, ctx: Ctx) -> bool:
        """`Status s(other_status)`: a copy or move, which no written constructor takes unless one
        has the class itself as its only parameter (the implicit one runs otherwise)."""
        if nargs != 1 or not args or args[0] is None or args[0][0] == "lambda":
            return False
        cat = self._category(self.texpr_type((args[0][0], args[0][1], 0), ctx, 1))
        if cat is None or cat[:3] != ("class", cname, 0):
            return False
        return not any(self._param_class(s, 0) == cname and self.arity(s)[1] == 1 for s in ctors)

    def _operator(self, op: str, args: tuple, ctx: Ctx) -> list:
        """A user-written operator on a class operand: the left operand's member `operatorX`, or
        a free (or friend) `operatorX(L, R)` whose parameter types the operands match."""
        if op not in self.short:
            return []   # no class or function in the index defines this operator
        left, right = args
        ltv = self.texpr_type(left, ctx, 1) if left is not None else None
        if ltv is not None and self.plain_class(ltv, through_reference=True):
            for cname, _ in self.classes_of(ltv):
                found, _ = self.methods(cname, op)
                unary = [s for s in found if self.arity(s)[1] == 1]
                if unary:
                    return [(s, "type", "call") for s in self.pick_overload(unary, 1, (right,), ctx)]
        if op == "operator<<" and not self._is_stream(ltv, left):
            return []   # `LOG << x` through a logging macro: the logger's own operator, not ours
        rtv = self.texpr_type(right, ctx, 1) if right is not None else None
        rcat = self._category(rtv)
        if rcat is None or rcat[0] != "class":
            return []
        cands = []
        for canon in self.by_last.get(op, ()):
            for s in self.by_name.get(canon, ()):
                if self.arity(s)[1] == 2 and self._param_category(s, 1) == rcat:
                    cands.append(s)
        return [(s, "type", "call") for s in self.visible(cands, ctx.fi)]

    @staticmethod
    def _is_stream(tv: TV | None, left) -> bool:
        """A standard output stream: `std::cerr`, or a value of an `...stream` type."""
        if left is not None and left[0] == "expr" and left[1] in ("std::cerr", "std::cout", "std::clog"):
            return True
        return tv is not None and clean(tv.text).rstrip("&").endswith("stream")

    def _param_category(self, sid: int, i: int):
        fi, di, cls = self.sym_info[sid]
        d = self.files[fi]["defs"][di]
        if i >= len(d["params"]):
            return None
        return self._category(TV(d["params"][i][1], d["ns"], cls, fi))

    def _param_class(self, sid: int, i: int) -> str:
        fi, di, cls = self.sym_info[sid]
        d = self.files[fi]["defs"][di]
        if i >= len(d["params"]):
            return ""
        found = self.classes_of(TV(d["params"][i][1], d["ns"], cls, fi))
        return found[0][0] if len(found) == 1 else ""

    def visible_from(self, sid: int, fi: int) -> bool:
        """Whether file `fi` can call free function `sid`: one defined in a source file (.cpp,
        .cu) and declared in no header is that file's own (a test's mock of `cudaStreamSynchronize`,
        a helper each .cpp defines for itself), unless the calling file declares it too."""
        sym = self.g.symbols[sid]
        if sym.kind not in ("function", "kernel", "device") or sym.parent is not None:
            return True
        if not sym.path.endswith(_SOURCE_SUFFIXES):
            return True
        files = self.decl_files.get(sid, ())
        path = self.files[fi]["path"]
        return path == sym.path or path in files or any(not f.endswith(_SOURCE_SUFFIXES) for f in files)

    def visible(self, sids: list[int], fi: int) -> list[int]:
        return [s for s in sids if self.visible_from(s, fi)]

    def specialized(self, sids: list[int], name: str, raw: str, ctx: Ctx) -> list[int]:
        """Explicit specializations the call's template arguments select: `Memcpy(...)` with
        `constexpr auto Memcpy = MemcpyT<ACTIVE_DEVICE_TYPE>` and the engine's define reaches
        `MemcpyT<DEVICE_TYPE_NVIDIA>`, not the other backends' specializations."""
        specs = {s: self.def_of(s).get("spec") for s in sids if s in self.sym_info}
        if not any(specs.values()):
            return sids
        if "<" not in raw:
            alias = self.find_name(name, ctx.d["ns"], ctx.cls, ctx.fi, "func")
            entries = self.value_aliases.get(alias) if alias else None
            raw = entries[0][0] if entries else raw
        _, args = head_and_args(raw)
        if not args:
            return sids
        key = self._spec_of(list(args), TV("", ctx.d["ns"], ctx.cls, ctx.fi), 0)
        exact = [s for s in sids if specs.get(s) == key]
        return exact or [s for s in sids if not specs.get(s)] or sids
