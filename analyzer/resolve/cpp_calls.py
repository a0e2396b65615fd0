"""C++/CUDA call resolution: unqualified calls (implicit `this`, scopes, value aliases, macros
expanded with their arguments pasted), member calls through receiver types (cpp_eval), overloads
by argument types (cpp_overloads), virtual and CRTP dispatch, constructions, kernel launches
(`<<<>>>` and the engine's launch functions such as `cudaLaunchKernelEx(&cfg, kernel, ...)`)."""
from __future__ import annotations

from .cpp_eval import TV, Ctx
from .cpp_overloads import CppOverloads
from .cpp_special import CppSpecial
from .cpp_types import clean, parse_chain, strip_ref, strip_templates, wrapper
from .graph import COMMON_METHOD_NAMES, MAX_NAME_CANDIDATES, RESOLUTIONS

from .cpp_macros import MAX_MACRO_DEPTH as _MAX_MACRO_DEPTH
GUESS = RESOLUTIONS[-1]  # the name-only label (graph.py names it)
_NO_INFO = ("", ())


class CppCalls(CppOverloads, CppSpecial):
    """Mixin of CppResolver: the call-resolution half (needs its symbol tables and lookups)."""

    def resolve_calls(self) -> None:
        g = self.g
        for fi, f in enumerate(self.files):
            defs = f["defs"]
            for call in f["calls"]:
                di, line, callee, nargs, kind = call[:5]
                src = self.local_sym[fi][di]
                if src is None:
                    continue  # registration blocks: handled as op symbols
                if kind == "call" and self._cannot_resolve(callee, defs[di]):
                    g.unresolved += 1
                    continue
                info = call[5] if len(call) > 5 else _NO_INFO
                cls = self.sym_info[src][2] if src in self.sym_info else ""
                if kind == "macroref":
                    if callee not in self.macros:
                        continue
                    kind = "call"
                targets = self.resolve_call(callee, nargs, info, Ctx(defs[di], cls, fi, line), kind, 0)
                via = "launch" if kind == "launch" else "call"
                if not targets:
                    g.unresolved += 1
                    continue
                g.resolved_calls += 1
                for dst, res, v in targets:
                    if dst != src or res != GUESS:
                        g.edges.add((src, dst, line, res, v if v != "call" else via))

    def _cannot_resolve(self, callee: str, d: dict) -> bool:
        """A call whose last name nothing in the index answers to (std::, torch::, CUDA APIs):
        no receiver or overload needs evaluating. Macros, classes, aliases, callable locals and
        launch functions are names too, so they are never skipped."""
        last = callee.rsplit(".", 1)[-1].rsplit("::", 1)[-1].rstrip("()[]*&")
        return (last not in self.short and last not in self.by_last and last not in self.macros
                and last not in self.launch_functions and "." not in callee and last not in d["vars"]) or \
            ("." in callee and last not in self.short and last not in self.launch_functions)

    def resolve_call(self, callee: str, nargs: int, info: tuple, ctx: Ctx, kind: str, depth: int) -> list:
        """[(symbol, resolution, via)] a call in `ctx` may reach."""
        if depth > _MAX_MACRO_DEPTH:
            return []
        if kind == "ctor":
            return self._construction(info[0] or callee, nargs, info[1], ctx)
        if kind == "init":
            return self._initializer(callee, info[0] or callee, nargs, info[1], ctx)
        if kind == "operator":
            return self._operator(callee, info[1], ctx)
        segs = parse_chain(info[0] or callee)
        if segs is None:
            return []
        out = []
        if segs[-1].name.rsplit("::", 1)[-1] in self.launch_functions:
            out = self._launch_function(segs[-1].name.rsplit("::", 1)[-1], info[1], ctx)
        if len(segs) == 1:
            name, _raw, suffix = segs[0]
            if suffix:
                return out
            if name in self.macros and "::" not in name:
                return out + self._expand_macro(name, info[1], ctx, depth)
            return out + self._resolve_unqualified(name, nargs, info[1], ctx, segs[0].raw)
        return out + self._resolve_member(segs, nargs, info[1], ctx)

    def _resolve_member(self, segs, nargs: int, args: tuple, ctx: Ctx) -> list:
        tv, inferred = self.chain_type(segs[:-1], ctx)
        mname, _raw, msuffix = segs[-1]
        if msuffix:
            return []
        if tv is not None:
            classes = self._receiver_classes(tv)
            crtp = len(classes) > 1 or bool(classes) and self._is_crtp(tv)
            out = []
            for cname, _subst in classes:
                found, _owner = self.methods(cname, mname)
                if found:
                    out += self._member_targets(cname, mname, self.pick_overload(found, nargs, args, ctx),
                                                "dispatch" if crtp else ("type" if inferred else "exact"))
            if out or classes or self._is_std(tv):
                return out
        if mname in COMMON_METHOD_NAMES or tv is not None:
            return []
        cands = [s for s in self.short.get(mname, ()) if self.g.symbols[s].kind == "method"]
        if 0 < len(cands) <= MAX_NAME_CANDIDATES:
            return [(s, GUESS, "call") for s in cands]
        return []

    def _receiver_classes(self, tv: TV) -> list:
        tv = self.expand(tv)
        text = strip_ref(clean(tv.text))
        kind, _short, _args = wrapper(text)
        if kind in ("ptr", "pointer-like"):
            tv = self.deref(tv)
            if tv is None:
                return []
        return self.classes_of(tv)

    def _is_crtp(self, tv: TV) -> bool:
        base = strip_ref(clean(tv.text)).rstrip("*")
        return bool(tv.cls) and base in (self.tparams.get(tv.cls) or ()) and base not in dict(tv.subst)

    @staticmethod
    def _is_std(tv: TV) -> bool:
        """A receiver of a standard type: its members are never the index's."""
        text = strip_ref(clean(tv.text))
        return text.startswith("std::") and wrapper(text)[0] not in ("pointer-like", "ptr")

    def _resolve_unqualified(self, name: str, nargs: int, args: tuple, ctx: Ctx, raw: str = "") -> list:
        """Callable locals first, then members of the enclosing class (implicit this->), then
        scopes and value aliases, then rare names."""
        d, cls, fi, line = ctx
        texpr = self.var_at(d, name, line) if "::" not in name else None
        if texpr is not None:
            return self._call_object(texpr, ctx._replace(line=texpr[3] - 1))
        if cls and "::" not in name:
            found, _ = self.methods(cls, name)
            if found:
                return [(s, "exact", "call") for s in self.pick_overload(found, nargs, args, ctx)]
        canon = self.lookup(name, d["ns"], cls, fi, "func")
        if canon:
            if canon in self.classes:
                ctors = self.members.get(canon, {}).get(canon.rsplit("::", 1)[-1])
                sids = self.pick_overload(ctors, nargs, args, ctx) if ctors else self.classes[canon][:1]
                return [(s, "exact", "call") for s in sids]
            sids = self.specialized(self.visible(self.by_name.get(canon, []), fi), name, raw, ctx)
            return [(s, "exact", "call") for s in self.pick_overload(sids, nargs, args, ctx)
                    if self.g.symbols[s].kind not in ("class", "struct")]
        if "::" in name:
            found = self._qualified_member(name, nargs, args, ctx)
            if found is not None:
                return found
        elif self.lookup_class(name, d["ns"], cls, fi):   # `KTensor(...)`: an alias of a class
            return self._construction(name, nargs, args, ctx)
        short = name.rsplit("::", 1)[-1]
        if short in COMMON_METHOD_NAMES:
            return []
        cands = self.visible([s for s in self.short.get(short, ()) if self.g.symbols[s].kind != "method"], fi)
        if "::" in name:
            cands = [s for s in cands if self.g.symbols[s].name.endswith("::" + name)]
        if 0 < len(cands) <= MAX_NAME_CANDIDATES:
            return [(s, GUESS, "call") for s in cands]
        return []

    def _qualified_member(self, name: str, nargs: int, args: tuple, ctx: Ctx) -> list | None:
        """`AttentionLayer::SetWorkspaceBuffer(...)` where the class inherits the method: the
        base's (a qualified call is never dispatched)."""
        d, cls, fi, _line = ctx
        owner_text, _, mname = name.rpartition("::")
        owner = self.lookup_class(owner_text, d["ns"], cls, fi)
        if not owner:
            return None
        found, _ = self.methods(owner, mname)
        return [(s, "exact", "call") for s in self.pick_overload(found, nargs, args, ctx)] if found else None

    def _call_object(self, texpr: tuple, ctx: Ctx) -> list:
        """A call of a local or parameter: its class's operator(), if it has one."""
        if texpr[0] == "lambda":
            return []
        tv = self.texpr_type(texpr, ctx, 1)
        out = []
        for cname, _ in self.classes_of(tv) if tv is not None else ():
            found, _ = self.methods(cname, "operator()")
            out += [(s, "type", "call") for s in found]
        return out

    def _launch_function(self, fname: str, args: tuple, ctx: Ctx) -> list:
        """`cudaLaunchKernelEx(&config, kernel, ...)`: the kernel argument is launched."""
        k = self.launch_functions[fname]
        if k >= len(args) or args[k] is None or args[k][0] != "expr":
            return []
        text = args[k][1].rstrip("&")
        segs = parse_chain(text)
        if segs is None or len(segs) != 1 or segs[0].suffix:
            return []
        d, cls, fi, _line = ctx
        canon = self.lookup(segs[0].name, d["ns"], cls, fi, "func")
        return [(s, "exact", "launch") for s in self.by_name.get(canon, ())
                if self.g.symbols[s].kind in ("kernel", "function", "device")]

    def _member_targets(self, recv: str, mname: str, found: list[int], label: str) -> list:
        """The member methods found, plus overrides in subclasses when the method is virtual."""
        out = [(s, label, "call") for s in found]
        if self._is_virtual(found):
            for sub in self._all_subclasses(recv):
                for s in self.members.get(sub, {}).get(mname, ()):
                    if s not in found:
                        out.append((s, "dispatch", "call"))
        return out

    def _is_virtual(self, found: list[int]) -> bool:
        """Dispatch fans out only from methods C++ dispatches dynamically."""
        return any(f in self.g.symbols[s].flags for s in found for f in ("virtual", "pure", "override"))

    def _all_subclasses(self, cname: str) -> list[str]:
        return sorted(c for c, _ in self._descendants(cname))
