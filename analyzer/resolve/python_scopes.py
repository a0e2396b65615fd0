"""Python scopes and classes for the names-and-types resolver: which binding of a module name
wins (Python's last-binding rule, from the flow facts' statement order), what each function binds
locally (such names shadow module names), and C3 method resolution order."""
from __future__ import annotations


def _pattern_names(pat) -> list[str]:
    if pat is None:
        return []
    if pat[0] == "n":
        return [pat[1]]
    if pat[0] in ("t", "*"):
        return [x for p in (pat[1] if pat[0] == "t" else [pat[1]]) for x in _pattern_names(p)]
    return []


class PyScopes:
    """Mixin of PyResolver: needs `files`, `bases`, `stars`, `ns_pos`, `local_kinds`, `_mro`."""

    def _module_bindings(self, fi: int, f: dict, ids: list, binding: dict) -> None:
        """Top-level names in statement order, the last unconditional binding winning (Python's
        rule); a name bound only inside if/try/loop bodies keeps its first such binding. Also the
        names each function binds locally (they shadow module names) and how."""
        module = f["module"]
        attrs = f["defs"][0]["attrs"]
        conditional: dict[str, tuple] = {}
        for op in f["flow"]["ops"]:
            kind, scope = op[0], op[1]
            if kind == "glob" or kind in ("ann", "ret", "yld", "raise", "deco", "cfor"):
                continue
            if scope:
                self._local_binding(fi, op)
                continue
            pos, blk = op[2], op[3]
            if kind == "def":
                name, b = op[4], ("sym", ids[op[5]])
            elif kind == "imp":
                if op[6]:
                    self.stars.setdefault(module, []).append((pos, op[5]))
                    continue
                name, b = op[4], ("import", op[5])
            elif kind == "as" and op[4] is not None and op[4][0] == "n":
                name = op[4][1]
                b = ("var", attrs.get(name))
            else:
                continue
            if blk == -1:
                binding[name] = b
                self.ns_pos.setdefault(module, {})[name] = pos
                conditional.pop(name, None)
            elif name not in binding:
                conditional.setdefault(name, b)
        for name, b in conditional.items():
            binding.setdefault(name, b)
            self.ns_pos.setdefault(module, {}).setdefault(name, -1)

    def _local_binding(self, fi: int, op: tuple) -> None:
        table = self.local_kinds.setdefault((fi, op[1]), {})
        kind = op[0]
        if kind == "imp":
            table.setdefault(op[4], set()).add(("imp", op[5]))
        elif kind == "def":
            table.setdefault(op[4], set()).add(("def", op[5]))
        elif kind in ("as", "for", "with") and op[4] is not None:
            for name in _pattern_names(op[4]):
                table.setdefault(name, set()).add(("var", None))
        elif kind == "exc":
            table.setdefault(op[4], set()).add(("var", None))

    def mro(self, cid: int) -> list[int]:
        """C3 linearisation (Python's MRO); depth-first without repeats where C3 has no answer."""
        cached = self._mro.get(cid)
        if cached is not None:
            return cached
        self._mro[cid] = [cid]            # a cyclic hierarchy (broken code) stops here
        seqs = [list(self.mro(b)) for b in self.bases.get(cid, [])] + [list(self.bases.get(cid, []))]
        out = [cid]
        while True:
            seqs = [q for q in seqs if q]
            if not seqs:
                break
            for q in seqs:
                head = q[0]
                if not any(head in r[1:] for r in seqs):
                    break
            else:
                out = self._dfs_mro(cid)
                break
            out.append(head)
            for q in seqs:
                if q[0] == head:
                    del q[0]
        self._mro[cid] = out
        return out

    def _dfs_mro(self, cid: int) -> list[int]:
        out: list[int] = []
        stack, seen = [cid], set()
        while stack:
            c = stack.pop(0)
            if c in seen:
                continue
            seen.add(c)
            out.append(c)
            stack[0:0] = self.bases.get(c, [])
        return out
