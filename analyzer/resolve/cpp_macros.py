"""Function-like macros expanded at their call sites.

A macro's body was parsed as statements by the extractor: its calls keep their receiver chains
(`Singleton<Profiler>::GetInstance()->ReportMetric(...)`), its locals their initializers
(`auto&& _status = (status);`), its calls of other macros their argument chains. Expanding reads
all of them in the caller's scope, with the macro's parameters replaced by the call's argument
texts: pasted (`Invoke##NAME##Kernel`), as names in a chain (`obj->Run()`), or handed on to the
next macro (`DISPATCH_ALL(func, ...)` -> `DISPATCH_ONE(func, ...)` -> `func<float>(...)`).
Where a project and its bundled kernels define the same macro name, a file expands the nearest
definition (its own, else the one in the folder it shares the longest prefix with)."""
from __future__ import annotations

import re

from .cpp_eval import Ctx
from .cpp_types import strip_templates

MAX_MACRO_DEPTH = 6   # macros expanding macros (vLLM's paged attention goes four deep)
_PASTE = re.compile(r"\s*##\s*")
_IDENT = re.compile(r"[A-Za-z_]\w*")


def _common_prefix(a: str, b: str) -> int:
    """Number of leading path components two paths share."""
    n = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y:
            break
        n += 1
    return n


class CppMacros:
    """Mixin of CppResolver: the calls a macro call stands for."""

    def macro(self, name: str, fi: int) -> tuple[list, list]:
        """(calls, parameters) of the definition of macro `name` a file sees."""
        defs = self.macros[name]
        if len(defs) == 1:
            return defs[0][1], defs[0][2]
        path = self.files[fi]["path"]
        best = max(defs, key=lambda m: (m[0] == path, _common_prefix(m[0], path), -len(m[0])))
        return best[1], best[2]

    def _expand_macro(self, name: str, args: tuple, ctx: Ctx, depth: int) -> list:
        out = []
        calls, params = self.macro(name, ctx.fi)
        values = {p: (a[1] if a is not None and a[0] == "expr" else "") for p, a in zip(params, args)}
        ctx = self._with_macro_locals(calls, values, params, ctx)
        for entry in calls:
            mcallee, mkind = entry[0], entry[1]
            if mkind == "local":
                continue
            text = self._substitute(mcallee, values, params) if params else mcallee
            if not text or mkind == "ref" and text not in self.macros:
                continue  # a bare name (a template argument, a value): only a macro's name expands
            kind = "ctor" if mkind == "ctor" else "call"
            stripped = strip_templates(text)
            inner = tuple(("expr", self._substitute(a, values, params) if params else a) if a else None
                          for a in (entry[2] if len(entry) > 2 else ()))
            info = (text if text != stripped else "", inner)
            for dst, res, v in self.resolve_call(stripped, -1, info, ctx, kind, depth + 1):
                out.append((dst, res, "launch" if mkind == "launch" or v == "launch" else "macro"))
        return out

    def _with_macro_locals(self, calls: list, values: dict, params: list, ctx: Ctx) -> Ctx:
        """The caller's context with the macro's own locals added (visible at the call line)."""
        locals_ = [e for e in calls if e[1] == "local"]
        if not locals_:
            return ctx
        vars_ = dict(ctx.d["vars"])
        for name, _, (kind, text) in locals_:
            text = self._substitute(text, values, params) if params and kind == "expr" else text
            if text:
                vars_[name] = (kind, text, -1, min(ctx.line, 1 << 29))
        return ctx._replace(d={**ctx.d, "vars": vars_})

    @staticmethod
    def _substitute(text: str, values: dict, params: list) -> str:
        """A macro's chain with its parameters replaced ('' when one has no usable value)."""
        if "##" not in text and not any(p in text for p in params):
            return text
        missing = False

        def sub(m):
            nonlocal missing
            word = m.group(0)
            if word in values:
                missing = missing or not values[word]
                return values[word]
            return word

        out = _IDENT.sub(sub, _PASTE.sub("##", text)).replace("##", "")
        if missing and "<" in text:   # a parameter in template arguments only: resolution drops them
            return CppMacros._substitute(strip_templates(text), values, params)
        return "" if missing else out
