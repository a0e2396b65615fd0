"""C++ name lookup over the whole index: which canonical name a written name denotes from a
namespace and class, through class scopes and their bases, enclosing namespaces, `using`
directives and declarations, namespace aliases, type aliases and value aliases.

Lookup starts from the candidates that end with the written name (an index by last component),
never by enumerating the prefixes of the current scope: from inside 10,000 nested namespaces a
lookup costs the candidates, not 10,000 strings of growing length."""
from __future__ import annotations

from typing import Any

from .cpp_types import type_name

_MAX_DEPTH = 8
_NS_LEVEL = 1 << 30   # namespace scopes rank after every class scope


def _last(name: str) -> str:
    return name.rsplit("::", 1)[-1]


def _encloses(scope: str, inner: str) -> bool:
    """Whether `scope` is `inner` or one of its enclosing scopes ('' encloses everything)."""
    return not scope or inner == scope or inner.startswith(scope) and inner[len(scope):len(scope) + 2] == "::"


class CppLookup:
    """Mixin of CppResolver: name lookup and class member search (needs its symbol tables)."""

    def note_name(self, canon: str) -> None:
        """Make a canonical name findable by lookups (call whenever a table gains a key)."""
        self.by_last.setdefault(_last(canon), set()).add(canon)

    def _exists(self, canon: str, want: str) -> bool:
        if want == "class":
            return canon in self.classes or canon in self.aliases
        if want == "func":
            return canon in self.by_name or canon in self.value_aliases
        if want == "var":
            return canon in self.globals
        return canon in self.by_name or canon in self.aliases or canon in self.value_aliases

    def lookup(self, name: str, ns: str, cls: str, fi: int, want: str = "any") -> str:
        """Canonical name `name` denotes from namespace `ns` (inside class `cls`), or ''.

        want: 'class' for types, 'func' for callables, 'any' for either."""
        key = (name, ns, cls, fi, want)
        hit = self._lookup_cache.get(key)
        if hit is not None:
            return hit
        result = self._lookup(name, ns, cls, fi, want, 0)
        self._lookup_cache[key] = result
        return result

    def _lookup(self, name: str, ns: str, cls: str, fi: int, want: str, depth: int) -> str:
        if depth > _MAX_DEPTH or not name:
            return ""
        found = self.find_name(name, ns, cls, fi, want)
        return self._dealias(found, want, fi, depth) if found else ""

    def find_name(self, name: str, ns: str, cls: str, fi: int, want: str) -> str:
        """The canonical name `name` denotes, aliases not followed (see lookup)."""
        key = (name, ns, cls, fi, want)
        hit = self._find_cache.get(key)
        if hit is None:
            hit = self._find_cache[key] = self._find_name(name, ns, cls, fi, want)
        return hit

    def _find_name(self, name: str, ns: str, cls: str, fi: int, want: str) -> str:
        if name.startswith("::"):
            name = name[2:]
            return name if self._exists(name, want) else ""
        head = name.split("::", 1)[0]
        for kind, text in self.file_usings[fi]:
            if kind == "nsalias":
                alias, _, target = text.partition("=")
                if head == alias:
                    name = target.lstrip(":") + name[len(alias):]
                    break
        cands = [c for c in self.by_last.get(_last(name), ())
                 if (c == name or c.endswith("::" + name)) and self._exists(c, want)]
        best, best_key = "", None
        for c in cands:
            scope = c[: len(c) - len(name) - 2] if c != name else ""
            k = self._scope_rank(scope, ns, cls)
            if k is not None and (best_key is None or k < best_key or k == best_key and c < best):
                best, best_key = c, k
        return best or self._through_usings(name, head, cands, fi)

    def _scope_rank(self, scope: str, ns: str, cls: str):
        """Where a candidate's scope ranks from (ns, cls): nearer first; None if not visible."""
        if cls and _encloses(scope, cls):
            return (len(cls) - len(scope), 0)
        if cls and scope in self.classes:
            dist = self._base_distance(scope, cls)
            if dist is not None:
                return dist
        if _encloses(scope, ns):
            return (_NS_LEVEL + len(ns) - len(scope), 0)
        return None

    def _base_distance(self, base: str, cls: str):
        """Rank of `base` as a (transitive) base of `cls` or of a class enclosing it."""
        best = None
        for sub, dist in self._descendants(base):
            if _encloses(sub, cls):
                k = (len(cls) - len(sub), dist)
                if best is None or k < best:
                    best = k
        return best

    def _descendants(self, base: str) -> list[tuple[str, int]]:
        hit = self._desc_cache.get(base)
        if hit is not None:
            return hit
        out, seen, frontier, dist = [], {base}, list(self.subclasses.get(base, ())), 1
        while frontier:
            nxt = []
            for c in frontier:
                if c in seen:
                    continue
                seen.add(c)
                out.append((c, dist))
                nxt.extend(self.subclasses.get(c, ()))
            frontier, dist = nxt, dist + 1
        self._desc_cache[base] = out
        return out

    def _through_usings(self, name: str, head: str, cands: list[str], fi: int) -> str:
        for kind, text in self.file_usings[fi]:
            if kind == "namespace":
                target = text.lstrip(":")
                for c in sorted(cands, key=len, reverse=True):
                    scope = c[: len(c) - len(name) - 2] if c != name else ""
                    if scope and _encloses(scope, target):
                        return c
            elif kind == "decl" and _last(text.lstrip(":")) == head:
                cand = text.lstrip(":") + name[len(head):]
                if cand in cands:
                    return cand
        return ""

    def _dealias(self, canon: str, want: str, fi: int, depth: int) -> str:
        if canon in self.classes or canon in self.by_name:
            return canon
        entries = self.aliases.get(canon) or self.value_aliases.get(canon)
        if not entries:
            return canon
        text, scope, _spec = entries[0]
        target = type_name(text)
        if not target:
            return ""
        cls = scope if scope in self.classes else ""
        ns = self._class_ns(scope) if cls else scope
        return self._lookup(target, ns, cls, fi, want, depth + 1) or ""

    def _class_ns(self, cname: str) -> str:
        fi, di, _ = self.sym_info[self.classes[cname][0]]
        return self.files[fi]["defs"][di]["ns"]

    def lookup_class(self, name: str, ns: str, cls: str, fi: int) -> str:
        t = type_name(name)
        if not t:
            return ""
        found = self.lookup(t, ns, cls, fi, "class")
        return found if found in self.classes else ""

    def methods(self, cname: str, mname: str) -> tuple[list[int], str]:
        """Methods named `mname` visible in class `cname` (own, else nearest bases) and their class."""
        seen = set()
        frontier = [cname]
        while frontier:
            nxt = []
            for c in frontier:
                if c in seen:
                    continue
                seen.add(c)
                found = self.members.get(c, {}).get(mname)
                if found:
                    return found, c
                nxt.extend(self.bases.get(c, ()))
            frontier = nxt
        return [], ""

    def field(self, cname: str, fname: str) -> tuple[tuple[str, str], str] | None:
        """((type text, namespace), owning class) of field `fname` seen from class `cname`."""
        seen = set()
        frontier = [cname]
        while frontier:
            nxt = []
            for c in frontier:
                if c in seen:
                    continue
                seen.add(c)
                a = self.attrs.get(c, {}).get(fname)
                if a is not None:
                    return a, c
                nxt.extend(self.bases.get(c, ()))
            frontier = nxt
        return None

    def class_file(self, cname: str) -> int:
        return self.sym_info[self.classes[cname][0]][0]

    def class_def(self, cname: str) -> dict[str, Any]:
        fi, di, _ = self.sym_info[self.classes[cname][0]]
        return self.files[fi]["defs"][di]
