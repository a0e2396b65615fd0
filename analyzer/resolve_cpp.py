"""C++/CUDA call resolution: namespaces and `using`, out-of-class definitions, member calls through
declared types (pointers, references, smart pointers), overloads by arity, virtual dispatch,
kernel launches, launch macros, and torch/pybind11 registrations.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .resolve import COMMON_METHOD_NAMES, MAX_NAME_CANDIDATES, Graph, Symbol

_SMART = re.compile(r"^(?:::)?(?:std::)?(?:shared_ptr|unique_ptr|weak_ptr|optional)<(.*)>$")
_QUALIFIERS = re.compile(r"\b(?:const|volatile|struct|class|typename|mutable|static|inline|constexpr|__restrict__|__restrict)\b")
_FUNC_KINDS = ("function", "method", "kernel", "device")
_MAX_DEPTH = 8
_MAX_MACRO_DEPTH = 6   # macros expanding macros (vLLM's paged attention goes four deep)
_CONTAINER = re.compile(r"^(?:std::)?(vector|deque|list|array|span|set|unordered_set|map|unordered_map|SmallVector)<(.*)>$")


def element_type(text: str | None) -> str:
    """Element type text of a container type: `std::vector<std::shared_ptr<T>>` -> `std::shared_ptr<T>`."""
    if not text:
        return ""
    t = _QUALIFIERS.sub("", text).replace(" ", "").replace("&", "").rstrip("*")
    m = _CONTAINER.match(t)
    if not m:
        return ""
    args, depth, cur = [], 0, []
    for ch in m.group(2):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            args.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    args.append("".join(cur))
    return args[1] if m.group(1).endswith("map") and len(args) > 1 else args[0]


def type_name(text: str | None) -> str:
    """`const std::shared_ptr<ns::Foo>&` -> `ns::Foo`; `Foo<T>*` -> `Foo`; '' if nothing class-like."""
    if not text:
        return ""
    t = _QUALIFIERS.sub("", text).replace(" ", "").replace("&", "").replace("*", "")
    for _ in range(3):
        m = _SMART.match(t)
        if not m:
            break
        t = m.group(1)
    out, depth = [], 0
    for ch in t:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    t = "".join(out).lstrip(":")
    return t if re.match(r"^[A-Za-z_][\w:]*$", t) else ""


_CPP_SEG = re.compile(r"^((?:::)?[A-Za-z_~][\w:~]*)((?:\(\)|\[\])*)$")


@lru_cache(maxsize=None)
def split_chain(callee: str) -> tuple[tuple[str, str], ...] | None:
    """`this.mgr_.Get().Alloc` -> (('this',''),('mgr_',''),('Get','()'),('Alloc','')). Memoized."""
    out = []
    for part in callee.split("."):
        m = _CPP_SEG.match(part)
        if m is None:
            return None
        out.append((m.group(1).lstrip(":"), m.group(2)))
    return tuple(out)


class CppResolver:
    def __init__(self, graph: Graph, files: list[dict[str, Any]], config: dict[str, Any]):
        self.g = graph
        self.files = files
        self.config = config
        self.local_sym: list[list[int | None]] = []
        self.by_name: dict[str, list[int]] = {}        # canonical -> symbols (overloads, decls)
        self.classes: dict[str, list[int]] = {}        # canonical -> class symbols
        self.members: dict[str, dict[str, list[int]]] = {}   # class canonical -> name -> methods
        self.attrs: dict[str, dict[str, tuple[str, str]]] = {}  # class -> field -> (type, ns)
        self.bases: dict[str, list[str]] = {}
        self.subclasses: dict[str, list[str]] = {}
        self.namespaces: set[str] = set()
        self.short: dict[str, list[int]] = {}          # short name -> function/method symbols
        self.macros: dict[str, list[tuple[str, bool]]] = {}
        self.aliases: dict[str, str] = {}              # canonical alias -> aliased type text
        self.file_usings: list[list[tuple[str, str]]] = []
        self.sym_info: dict[int, tuple[int, int, str]] = {}  # sym -> (file, def, owning class)
        self.op_symbols: dict[str, int] = {}
        self.pybind_symbols: dict[str, int] = {}
        self._lookup_cache: dict[tuple, Any] = {}

    # ---------------------------------------------------------------- symbols
    def build_symbols(self) -> None:
        g = self.g
        pending: list[tuple[int, int]] = []
        for fi, f in enumerate(self.files):
            self.local_sym.append([None] * len(f["defs"]))
            self.file_usings.append([(k, t) for _, k, t in f["usings"]])
            for name, line, calls in f["macros"]:
                self.macros.setdefault(name, calls)
            for scope, name, ttext in f["aliases"]:
                prefix = f["defs"][scope]["qual"] if scope >= 0 else ""
                self.aliases.setdefault(f"{prefix}::{name}" if prefix else name, ttext)
            for di, d in enumerate(f["defs"]):
                kind = d["kind"]
                if kind == "namespace":
                    parts = d["qual"].split("::")
                    for i in range(1, len(parts) + 1):
                        self.namespaces.add("::".join(parts[:i]))
                elif kind in ("class", "struct") and d["name"]:
                    sid = g.add(Symbol(0, d["qual"], d["name"].rsplit("::", 1)[-1], kind,
                                       f["lang"], f["path"], d["line"], d["end"], d["sig"], d["doc"]))
                    self.local_sym[fi][di] = sid
                    self.sym_info[sid] = (fi, di, "")
                    self.classes.setdefault(d["qual"], []).append(sid)
                    self.by_name.setdefault(d["qual"], []).append(sid)
                    self.members.setdefault(d["qual"], {})
                    attrs = self.attrs.setdefault(d["qual"], {})
                    for aname, texpr in d["attrs"].items():
                        attrs.setdefault(aname, (texpr[1], d["ns"]))
                    if d["bases"]:
                        self.bases.setdefault(d["qual"], [])
                elif kind in _FUNC_KINDS:
                    pending.append((fi, di))
        # Bases, resolved in each class's own namespace.
        for cname, sids in self.classes.items():
            fi, di, _ = self.sym_info[sids[0]]
            d = self.files[fi]["defs"][di]
            resolved = []
            for b in d["bases"]:
                target = self.lookup_class(b, d["ns"], d["qual"], fi)
                if target and target != cname:
                    resolved.append(target)
            self.bases[cname] = resolved
            for b in resolved:
                self.subclasses.setdefault(b, []).append(cname)
        # Functions: canonical names (out-of-class `Foo::Bar` belongs to the class `Foo` visible
        # from its namespace), then declarations merged into their definitions.
        entries = []
        for fi, di in pending:
            f = self.files[fi]
            d = f["defs"][di]
            cls = ""
            parent = d["parent"]
            pkind = f["defs"][parent]["kind"] if parent >= 0 else ""
            if pkind in ("class", "struct"):
                cls = f["defs"][parent]["qual"]
                canon = f"{cls}::{d['name']}"
            elif "::" in d["qual"]:
                written = d["qual"]
                scope_written = written.rsplit("::", 1)[0]
                # d['qual'] is namespace-prefixed; the part as written follows the namespace.
                ns = d["ns"]
                as_written = written[len(ns) + 2:] if ns and written.startswith(ns + "::") else written
                owner = as_written.rsplit("::", 1)[0] if "::" in as_written else ""
                cls = self.lookup_class(owner, ns, "", fi) if owner else ""
                if cls:
                    canon = f"{cls}::{d['name']}"
                else:
                    canon = scope_written + "::" + d["name"]
            else:
                canon = d["qual"]
            kind = d["kind"]
            if cls and kind == "function":
                kind = "method"
            entries.append((canon, kind, cls, fi, di))
        entries.sort(key=lambda e: ("decl" in self.files[e[3]]["defs"][e[4]]["flags"], self.files[e[3]]["path"], self.files[e[3]]["defs"][e[4]]["line"]))
        merged: dict[tuple[str, int], int] = {}
        for canon, kind, cls, fi, di in entries:
            f = self.files[fi]
            d = f["defs"][di]
            is_decl = "decl" in d["flags"]
            key = (canon, d["nparams"][1])
            if is_decl and key in merged:
                sid = merged[key]
                sym = g.symbols[sid]
                extra = [fl for fl in d["flags"] if fl != "decl" and fl not in sym.flags.split(",")]
                if extra:
                    sym.flags = ",".join(sorted(set(filter(None, sym.flags.split(",") + extra))))
                if not sym.decl_path:
                    sym.decl_path, sym.decl_line = f["path"], d["line"]
                if not sym.doc and d["doc"]:
                    sym.doc = d["doc"]
                self.local_sym[fi][di] = sid
                continue
            sid = g.add(Symbol(0, canon, d["name"], kind, f["lang"], f["path"], d["line"], d["end"],
                               d["sig"], d["doc"], ",".join(d["flags"]),
                               self.classes[cls][0] if cls in self.classes else None))
            self.local_sym[fi][di] = sid
            self.sym_info[sid] = (fi, di, cls)
            merged.setdefault(key, sid)
            self.by_name.setdefault(canon, []).append(sid)
            self.short.setdefault(d["name"], []).append(sid)
            if cls:
                self.members.setdefault(cls, {}).setdefault(d["name"], []).append(sid)
        # Overrides: nearest base defining a method of that name and arity.
        for cname, members in self.members.items():
            for mname, sids in members.items():
                for sid in sids:
                    arity = self._arity(sid)
                    found = self._find_in_bases(cname, mname, arity)
                    for other in found:
                        g.overrides.add((sid, other))
        self._build_registrations()

    def _arity(self, sid: int) -> tuple[int, int]:
        fi, di, _ = self.sym_info[sid]
        return tuple(self.files[fi]["defs"][di]["nparams"])

    def _find_in_bases(self, cname: str, mname: str, arity) -> list[int]:
        seen = {cname}
        frontier = list(self.bases.get(cname, ()))
        while frontier:
            nxt = []
            for b in frontier:
                if b in seen:
                    continue
                seen.add(b)
                cands = [s for s in self.members.get(b, {}).get(mname, ()) if self._arity(s) == arity]
                if cands:
                    return cands
                nxt.extend(self.bases.get(b, ()))
            frontier = nxt
        return []

    # ---------------------------------------------------------------- lookups
    def _scopes(self, ns: str) -> list[str]:
        parts = ns.split("::") if ns else []
        return ["::".join(parts[:i]) for i in range(len(parts), -1, -1)]

    def lookup(self, name: str, ns: str, cls: str, fi: int, want: str = "any") -> str:
        """Canonical name `name` denotes from namespace `ns` (inside class `cls`), or ''.

        want: 'class' for types, 'func' for callables, 'any' for either.
        """
        key = (name, ns, cls, fi, want)
        hit = self._lookup_cache.get(key)
        if hit is not None:
            return hit
        result = self._lookup(name, ns, cls, fi, want, 0)
        self._lookup_cache[key] = result
        return result

    def _exists(self, canon: str, want: str) -> bool:
        if want == "class":
            return canon in self.classes or canon in self.aliases
        if want == "func":
            return canon in self.by_name and canon not in self.classes or canon in self.classes
        return canon in self.by_name or canon in self.aliases

    def _lookup(self, name: str, ns: str, cls: str, fi: int, want: str, depth: int) -> str:
        if depth > _MAX_DEPTH or not name:
            return ""
        head = name.split("::", 1)[0]
        for kind, text in self.file_usings[fi]:
            if kind == "nsalias":
                alias, _, target = text.partition("=")
                if head == alias:
                    name = target + name[len(alias):]
                    break
        # Class scope (nested types, members) then enclosing class chain.
        c = cls
        while c:
            cand = f"{c}::{name}"
            if self._exists(cand, want):
                return self._dealias(cand, want, fi, depth)
            for base in self.bases.get(c, ()):
                cand = f"{base}::{name}"
                if self._exists(cand, want):
                    return self._dealias(cand, want, fi, depth)
            c = c.rsplit("::", 1)[0] if "::" in c else ""
        for scope in self._scopes(ns):
            cand = f"{scope}::{name}" if scope else name
            if self._exists(cand, want):
                return self._dealias(cand, want, fi, depth)
        for kind, text in self.file_usings[fi]:
            if kind == "namespace":
                for scope in self._scopes(text.lstrip(":")):
                    if not scope:
                        continue
                    cand = f"{scope}::{name}"
                    if self._exists(cand, want):
                        return self._dealias(cand, want, fi, depth)
            elif kind == "decl" and text.lstrip(":").rsplit("::", 1)[-1] == head:
                cand = text.lstrip(":") + name[len(head):]
                if self._exists(cand, want):
                    return self._dealias(cand, want, fi, depth)
        return ""

    def _dealias(self, canon: str, want: str, fi: int, depth: int) -> str:
        if canon in self.aliases and canon not in self.classes:
            target = type_name(self.aliases[canon])
            if not target:
                return ""
            scope = canon.rsplit("::", 1)[0] if "::" in canon else ""
            return self._lookup(target, scope, "", fi, want, depth + 1) or ""
        return canon

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

    def field_type(self, cname: str, fname: str, subscript: bool = False) -> str:
        """Class of field `fname` seen from class `cname` (or of its elements, for `field[i]`)."""
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
                    text = element_type(a[0]) if subscript else a[0]
                    return self.lookup_class(text, a[1], c, self._class_file(c))
                nxt.extend(self.bases.get(c, ()))
            frontier = nxt
        return ""

    def _class_file(self, cname: str) -> int:
        return self.sym_info[self.classes[cname][0]][0]

    def return_class(self, sid: int) -> str:
        fi, di, cls = self.sym_info[sid]
        d = self.files[fi]["defs"][di]
        if self.g.symbols[sid].kind == "class":
            return self.g.symbols[sid].name
        return self.lookup_class(d["ret"] or "", d["ns"], cls, fi)

    def pick_arity(self, sids: list[int], nargs: int) -> list[int]:
        fit = [s for s in sids if self._fits(s, nargs)]
        return fit or sids

    def _fits(self, sid: int, nargs: int) -> bool:
        if sid not in self.sym_info:
            return True
        lo, hi = self._arity(sid)
        return lo <= nargs and (hi == -1 or nargs <= hi) or lo == hi == 0 and nargs == 0

    # ---------------------------------------------------------------- calls
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
                if not targets:
                    g.unresolved += 1
                    continue
                g.resolved_calls += 1
                for dst, res, v in targets:
                    if dst != src or res != "name":
                        g.edges.add((src, dst, line, res, v if v != "call" else via))

    def resolve_call(self, callee: str, nargs: int, d: dict, cls: str, fi: int, depth: int) -> list:
        segs = split_chain(callee)
        if segs is None or depth > _MAX_MACRO_DEPTH:
            return []
        if len(segs) == 1:
            name, suffix = segs[0]
            if suffix:
                return []
            if name in self.macros and "::" not in name:
                out = []
                for mcallee, mkind in self.macros[name]:
                    if mkind == "ref" and mcallee not in self.macros:
                        continue
                    for dst, res, v in self.resolve_call(mcallee, -1, d, cls, fi, depth + 1):
                        out.append((dst, res, "launch" if mkind == "launch" or v == "launch" else "macro"))
                return out
            # Unqualified: members of the enclosing class first (implicit this->), then scopes.
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
                return [(s, "name", "call") for s in cands]
            return []
        # Receiver chain.
        head, hsuffix = segs[0]
        inferred = True
        if head == "this":
            recv = cls
            inferred = False
        else:
            recv = ""
            texpr = d["vars"].get(head)
            if hsuffix == "[]":
                if texpr is not None and texpr[0] == "ann":
                    recv = self.lookup_class(element_type(texpr[1]), d["ns"], cls, fi)
                elif cls:
                    recv = self.field_type(cls, head, subscript=True)
            elif hsuffix:
                recv = ""  # a call result in head position
            elif texpr is not None:
                recv = self._texpr_class(texpr, d, cls, fi)
            elif cls:
                recv = self.field_type(cls, head)
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
        mname, msuffix = segs[-1]
        if recv and not msuffix:
            found, owner = self.methods(recv, mname)
            if found:
                found = self._by_arity(found, nargs)
                label = "type" if inferred else "exact"
                out = [(s, label, "call") for s in found]
                if self._is_virtual(found):
                    for sub in self._all_subclasses(recv):
                        for s in self.members.get(sub, {}).get(mname, ()):
                            if s not in found:
                                out.append((s, "dispatch", "call"))
                return out
        if msuffix:
            return []
        if mname in COMMON_METHOD_NAMES:
            return []
        cands = [s for s in self.short.get(mname, ()) if self.g.symbols[s].kind == "method"]
        if 0 < len(cands) <= MAX_NAME_CANDIDATES and not recv:
            return [(s, "name", "call") for s in cands]
        return []

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

    # ---------------------------------------------------------------- registrations
    def _extension_name(self, path: str) -> str:
        names = self.config.get("torch_extension_names", {})
        best, best_len = names.get("", "_C"), -1
        for prefix, value in names.items():
            if prefix and path.startswith(prefix) and len(prefix) > best_len:
                best, best_len = value, len(prefix)
        return best

    def _namespace(self, expr: str, path: str) -> str:
        ext = self._extension_name(path)
        e = expr.replace(" ", "").replace("TORCH_EXTENSION_NAME", ext)
        while True:
            m = re.search(r"CONCAT\(([^(),]*),([^(),]*)\)", e)
            if not m:
                break
            e = e[: m.start()] + m.group(1) + m.group(2) + e[m.end():]
        return e if re.match(r"^\w+$", e) else ""

    def _reg_root(self, path: str) -> str:
        for root in self._reg_roots:
            if not root or path.startswith(root + "/"):
                return root
        return ""

    def _build_registrations(self) -> None:
        g = self.g
        regs = []
        for fi, f in enumerate(self.files):
            for kind, ns_expr, op, target, line, end, _owner in f["regs"]:
                ns = self._namespace(ns_expr, f["path"])
                if not ns:
                    continue
                regs.append((kind != "torch_def", f["path"], line, fi, kind, ns, op, target, end))
        # Definitions first, shallow files first: an op's symbol sits at its main schema.
        regs.sort(key=lambda r: (r[0], r[1].count("/"), r[1], r[2]))
        self._reg_roots = sorted({p.rsplit("/", 1)[0] if "/" in p else "" for _, p, *_ in regs}, key=len, reverse=True)
        self._op_targets: list[tuple[int, int, int, str]] = []
        for _, path, line, fi, kind, ns, op, target, end in regs:
            if kind == "pybind":
                name = f"{ns}.{op}"
                table, skind = self.pybind_symbols, "pybind"
            else:
                name = f"torch.ops.{ns}.{op}"
                table, skind = self.op_symbols, "torch_op"
            sid = table.get(name)
            if sid is None:
                # The symbol spans the whole registration statement (its schema string included).
                sid = g.add(Symbol(0, name, op, skind, self.files[fi]["lang"], path, line, end,
                                   f"{'pybind11' if kind == 'pybind' else 'torch op'} {ns}.{op}"))
                table[name] = sid
            if target:
                self._op_targets.append((sid, fi, line, target))
        for sid, fi, line, target in self._op_targets:
            canon = self.lookup(target, "", "", fi, "func")
            if canon and canon in self.by_name:
                dsts = [d for d in self.by_name[canon] if self.g.symbols[d].kind in _FUNC_KINDS]
                # Same-named CPU/CUDA twins: keep the ones built into this registration's extension
                # (the deepest directory holding a registration file that contains the definition).
                root = self._reg_root(self.files[fi]["path"])
                own = [d for d in dsts if self._reg_root(self.g.symbols[d].path) == root]
                for dst in own or dsts:
                    g.edges.add((sid, dst, line, "exact", "registration"))
            else:
                short = target.rsplit("::", 1)[-1]
                cands = [s for s in self.short.get(short, ()) if self.g.symbols[s].name.endswith(target)]
                for dst in cands[:MAX_NAME_CANDIDATES]:
                    g.edges.add((sid, dst, line, "name", "registration"))
