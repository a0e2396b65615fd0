"""C++/CUDA call resolution: unqualified calls (implicit `this`, scopes, macros expanded), member
calls through receiver types, overloads by arity, virtual dispatch to overrides, kernel launches."""
from __future__ import annotations

from .cpp_types import element_type, split_chain
from .graph import COMMON_METHOD_NAMES, MAX_NAME_CANDIDATES

_MAX_MACRO_DEPTH = 6   # macros expanding macros (vLLM's paged attention goes four deep)


class CppCalls:
    """Mixin of CppResolver: the call-resolution half (needs its symbol tables and lookups)."""

    def resolve_calls(self) -> None:
        g = self.g
        for fi, f in enumerate(self.files):
            defs = f["defs"]
            for di, line, callee, nargs, kind in f["calls"]:
                src = self.local_sym[fi][di]
                if src is None:
                    continue  # registration blocks: handled as op symbols
                d = defs[di]
                cls = self.sym_info[src][2] if src in self.sym_info else ""
                if kind == "macroref":
                    if callee not in self.macros:
                        continue
                    kind = "call"
                targets = self.resolve_call(callee, nargs, d, cls, fi, 0)
                via = "launch" if kind == "launch" else "call"
                if not targets or all(t[1] == "guess" for t in targets):
                    g.unresolved_sites.append((src, line, callee, "unknown", "", 0))   # Python's shape
                if not targets:
                    g.unresolved += 1
                    continue
                g.resolved_calls += 1
                for dst, res, v in targets:
                    if dst != src or res != "guess":
                        g.edges.add((src, dst, line, res, v if v != "call" else via))

    def resolve_call(self, callee: str, nargs: int, d: dict, cls: str, fi: int, depth: int) -> list:
        """[(symbol, resolution, via)] a call in def `d` (of class `cls`, file `fi`) may reach."""
        segs = split_chain(callee)
        if segs is None or depth > _MAX_MACRO_DEPTH:
            return []
        if len(segs) == 1:
            name, suffix = segs[0]
            if suffix:
                return []
            if name in self.macros and "::" not in name:
                return self._expand_macro(name, d, cls, fi, depth)
            return self._resolve_unqualified(name, nargs, d, cls, fi)
        recv, inferred = self._receiver(segs, d, cls, fi)
        mname, msuffix = segs[-1]
        if recv and not msuffix:
            found, _owner = self.methods(recv, mname)
            if found:
                return self._member_targets(recv, mname, self._by_arity(found, nargs), inferred)
        if msuffix or mname in COMMON_METHOD_NAMES:
            return []
        cands = [s for s in self.short.get(mname, ()) if self.g.symbols[s].kind == "method"]
        if 0 < len(cands) <= MAX_NAME_CANDIDATES and not recv:
            return [(s, "guess", "call") for s in cands]
        return []

    def _expand_macro(self, name: str, d: dict, cls: str, fi: int, depth: int) -> list:
        """The calls inside a function-like macro, as if written at the call site."""
        out = []
        for mcallee, mkind in self.macros[name]:
            if mkind == "ref" and mcallee not in self.macros:
                continue
            for dst, res, v in self.resolve_call(mcallee, -1, d, cls, fi, depth + 1):
                out.append((dst, res, "launch" if mkind == "launch" or v == "launch" else "macro"))
        return out

    def _resolve_unqualified(self, name: str, nargs: int, d: dict, cls: str, fi: int) -> list:
        """Members of the enclosing class first (implicit this->), then scopes, then rare names."""
        if cls and "::" not in name:
            found, _ = self.methods(cls, name)
            if found:
                return [(s, "exact", "call") for s in self._by_arity(found, nargs)]
        canon = self.lookup(name, d["ns"], cls, fi, "func")
        if canon:
            if canon in self.classes:
                ctor = self.members.get(canon, {}).get(canon.rsplit("::", 1)[-1])
                sids = ctor or self.classes[canon][:1]
            else:
                sids = self.by_name.get(canon, [])
            return [(s, "exact", "call") for s in self._by_arity(sids, nargs)]
        short = name.rsplit("::", 1)[-1]
        if short in COMMON_METHOD_NAMES:
            return []
        cands = [s for s in self.short.get(short, ()) if self.g.symbols[s].kind != "method"]
        if "::" in name:
            cands = [s for s in cands if self.g.symbols[s].name.endswith("::" + name)]
        if 0 < len(cands) <= MAX_NAME_CANDIDATES:
            return [(s, "guess", "call") for s in cands]
        return []

    def _receiver(self, segs: tuple, d: dict, cls: str, fi: int) -> tuple[str, bool]:
        """(class of the receiver `a.b().c` before the called member, whether types were inferred)."""
        head, hsuffix = segs[0]
        if head == "this":
            recv, inferred = cls, False
        else:
            recv, inferred = self._head_class(head, hsuffix, d, cls, fi), True
        for name, suffix in segs[1:-1]:
            if not recv:
                break
            if suffix == "()":
                found, _ = self.methods(recv, name)
                recv = self.return_class(found[0]) if found else ""
            elif not suffix:
                recv = self.field_type(recv, name)
            elif suffix == "[]":
                recv = self.field_type(recv, name, subscript=True)
            else:
                recv = ""
        return recv, inferred

    def _head_class(self, head: str, hsuffix: str, d: dict, cls: str, fi: int) -> str:
        """Class of a chain's first segment: a typed local or parameter, else a field of `cls`."""
        texpr = d["vars"].get(head)
        if hsuffix == "[]":
            if texpr is not None and texpr[0] == "ann":
                return self.lookup_class(element_type(texpr[1]), d["ns"], cls, fi)
            return self.field_type(cls, head, subscript=True) if cls else ""
        if hsuffix:
            return ""  # a call result in head position
        if texpr is not None:
            return self._texpr_class(texpr, d, cls, fi)
        return self.field_type(cls, head) if cls else ""

    def _member_targets(self, recv: str, mname: str, found: list[int], inferred: bool) -> list:
        """The member methods found, plus overrides in subclasses when the method is virtual."""
        label = "type" if inferred else "exact"
        out = [(s, label, "call") for s in found]
        if self._is_virtual(found):
            for sub in self._all_subclasses(recv):
                for s in self.members.get(sub, {}).get(mname, ()):
                    if s not in found:
                        out.append((s, "dispatch", "call"))
        return out

    def _by_arity(self, sids: list[int], nargs: int) -> list[int]:
        return sids if nargs < 0 else self.pick_arity(sids, nargs)

    def _texpr_class(self, texpr: tuple, d: dict, cls: str, fi: int) -> str:
        kind, text, _ = texpr
        if kind == "ann":
            return self.lookup_class(text, d["ns"], cls, fi)
        if kind == "call":
            segs = split_chain(text)
            if segs and len(segs) == 1:
                canon = self.lookup(segs[0][0], d["ns"], cls, fi, "func")
                if canon in self.classes:
                    return canon
                if canon:
                    sids = self.by_name.get(canon, [])
                    return self.return_class(sids[0]) if sids else ""
        return ""

    def _is_virtual(self, found: list[int]) -> bool:
        """Dispatch fans out only from methods C++ dispatches dynamically."""
        return any(f in self.g.symbols[s].flags for s in found for f in ("virtual", "pure", "override"))

    def _all_subclasses(self, cname: str) -> list[str]:
        out, stack, seen = [], list(self.subclasses.get(cname, ())), set()
        while stack:
            c = stack.pop()
            if c in seen:
                continue
            seen.add(c)
            out.append(c)
            stack.extend(self.subclasses.get(c, ()))
        return sorted(out)
